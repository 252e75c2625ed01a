"""`wmbench corruptions list` and `show`, and the MNIST-C suite's corruption cells through
`wmbench attack` against `corrupt` called by hand with the runner's seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from wmbench.checkpoint import load_checkpoint
from wmbench.cli import run
from wmbench.data import load_mnist, to_float
from wmbench.perturbations.corruptions import CORRUPTIONS, corrupt
from wmbench.suites.measure import point_seed

SHIPPED = Path(__file__).parents[1] / "models" / "checkpoints"


def test_list_names_every_corruption_with_its_five_values(capsys):
    assert run(["corruptions", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(CORRUPTIONS)
    assert "stripe         severity 1-5: 3 / 5 / 7 / 9 / 11" in lines


def test_show_draws_a_png_and_refuses_a_bad_index(tmp_path, capsys, one_error_line):
    pytest.importorskip("matplotlib")
    out = tmp_path / "grid.png"
    assert run(["corruptions", "show", "--out", str(out), "--index", "3"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert run(["corruptions", "show", "--out", str(tmp_path / "x.png"), "--index", "99999"]) == 2
    assert "--index 99999" in one_error_line()


@pytest.mark.integration
def test_suite_cells_equal_the_corruption_applied_by_hand(tmp_path):
    document = {
        "name": "c",
        "dataset": {"name": "mnist", "split": "test", "limit": 60},
        "batch_size": 30,
        "seed": 4,
        "device": "cpu",
        "models": {"cnn": str(SHIPPED / "cnn-33.safetensors")},
        "perturbations": [
            {"kind": "clean"},
            {"kind": "corruption", "corruption": ["fog", "stripe"], "severity": [2, 5]},
        ],
    }
    suite = tmp_path / "s.yaml"
    suite.write_text(yaml.safe_dump(document))
    assert run(["attack", str(suite), "--json", str(tmp_path / "r.json")]) == 0
    rows = [r for r in json.loads((tmp_path / "r.json").read_text())["results"]
            if r["kind"] == "corruption"]  # fmt: skip
    model, _ = load_checkpoint(SHIPPED / "cnn-33.safetensors")
    mnist = load_mnist()
    images, labels = to_float(mnist.test_images[:60]), mnist.test_labels[:60]
    for number, row in enumerate(rows):
        wrong = 0
        for batch in range(2):
            seed = point_seed(4, 1, number, batch)
            generator = torch.Generator().manual_seed(seed)
            x = images[30 * batch : 30 * batch + 30]
            corrupted = corrupt(row["corruption"], x, row["severity"], generator)
            with torch.no_grad():
                predictions = model(corrupted).argmax(1)
            wrong += int((predictions != labels[30 * batch : 30 * batch + 30]).sum())
        assert row["wrong"] == wrong, row
    assert [(r["corruption"], r["severity"]) for r in rows] == [
        ("fog", 2), ("fog", 5), ("stripe", 2), ("stripe", 5)
    ]  # fmt: skip
