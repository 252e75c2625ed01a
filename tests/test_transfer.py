"""`kind: transfer`: an attack crafted on a surrogate checkpoint and judged on each model of the
suite, checked against torchattacks run on the surrogate by hand; and its bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchattacks
import yaml

from wmbench.checkpoint import load_checkpoint
from wmbench.cli import run
from wmbench.data import load_mnist, to_float

SHIPPED = Path(__file__).parents[1] / "models" / "checkpoints"
IMAGES = 60


def _suite(tmp_path: Path, perturbations: list[dict]) -> Path:
    document = {
        "name": "transfer",
        "dataset": {"name": "mnist", "split": "test", "limit": IMAGES},
        "batch_size": 30,
        "device": "cpu",
        "models": {"cnn": str(SHIPPED / "cnn-33.safetensors")},
        "perturbations": perturbations,
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_transfer_cells_equal_torchattacks_on_the_surrogate(tmp_path, capsys):
    surrogate = tmp_path / "surrogate.safetensors"
    surrogate.write_bytes((SHIPPED / "wm-unsharp-32.safetensors").read_bytes())
    suite = _suite(
        tmp_path,
        [
            {"kind": "fgsm", "eps": 0.2},
            {"kind": "transfer", "source": "surrogate.safetensors",
             "attack": {"kind": "fgsm", "eps": [0.1, 0.2]}},
            {"kind": "transfer", "name": "self", "source": str(SHIPPED / "cnn-33.safetensors"),
             "attack": {"kind": "fgsm", "eps": 0.2}},
        ],
    )  # fmt: skip
    out = tmp_path / "out.json"
    assert run(["attack", str(suite), "--json", str(out)]) == 0, capsys.readouterr().err
    rows = json.loads(out.read_text())["results"]
    mnist = load_mnist()
    images = to_float(mnist.test_images[:IMAGES])
    labels = mnist.test_labels[:IMAGES].long()
    source, _ = load_checkpoint(surrogate)
    target, _ = load_checkpoint(SHIPPED / "cnn-33.safetensors")
    transfer = [row for row in rows if row["perturbation"] == "transfer"]
    assert [row["params"] for row in transfer] == [
        {"eps": 0.1, "source": "surrogate.safetensors"},
        {"eps": 0.2, "source": "surrogate.safetensors"},
    ]
    for row in transfer:
        adversarial = torchattacks.FGSM(source, eps=row["eps"])(images, labels)
        with torch.no_grad():
            wrong = int((target(adversarial).argmax(1) != labels).sum())
        assert row["wrong"] == wrong
    # Crafted on the model itself, a transfer attack is the attack.
    direct = next(row for row in rows if row["perturbation"] == "fgsm")
    itself = next(row for row in rows if row["perturbation"] == "self")
    assert itself["wrong"] == direct["wrong"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing.safetensors", "source checkpoint of a transfer attack not found"),
        ("garbage.safetensors", "garbage.safetensors"),
    ],
)
def test_a_bad_source_is_one_line_and_exit_2(tmp_path, source, message, one_error_line):
    (tmp_path / "garbage.safetensors").write_bytes(b"not a checkpoint")
    attack = {"kind": "fgsm", "eps": 0.1}
    suite = _suite(tmp_path, [{"kind": "transfer", "source": source, "attack": attack}])
    assert run(["attack", str(suite)]) == 2
    line = one_error_line()
    assert message in line


def test_transfer_takes_only_gradient_attacks(tmp_path, one_error_line):
    attack = {"kind": "uniform", "upper": 0.5}
    suite = _suite(tmp_path, [{"kind": "transfer", "source": "x.safetensors", "attack": attack}])
    assert run(["attack", str(suite)]) == 2
    assert "transfer" in one_error_line()
