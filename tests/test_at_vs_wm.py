"""The README's WM-against-adversarial-training suite: cnn-33 and wm-unsharp-32, plain and PGD-AT,
trained by `wmbench train` (briefly) and compared in one `wmbench attack` run whose results say
how each checkpoint was trained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torchattacks
import yaml
from mnist_files import write_mnist_head

from wmbench.checkpoint import load_checkpoint
from wmbench.cli import run
from wmbench.data import load_mnist, to_float

pytestmark = pytest.mark.integration

README = Path(__file__).parents[1] / "README.md"
IMAGES = 40


def _readme_block(pattern: str) -> str:
    return re.search(pattern, README.read_text(), re.S).group(1)


def _train_commands() -> list[list[str]]:
    block = _readme_block(r"```bash\n(wmbench train cnn-33 --epochs 3 -o runs/at/.*?)```")
    lines = [line.split()[1:] for line in block.splitlines() if line.startswith("wmbench train")]
    assert len(lines) == 4
    return lines


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """The README's commands in a fresh folder, each training cut to 1 epoch of 1 PGD step on 64
    images (of a 640-image copy of MNIST's training set), and its suite cut to 40 images and 5 PGD
    steps."""
    folder = tmp_path_factory.mktemp("at-vs-wm")
    # Real MNIST cut to 640 training and 100 test images, so that each run's validation and test
    # errors are measured on 64 and 100 images, not 6,000 and 10,000.
    data = write_mnist_head(folder / "mnist", 640, 100)
    for argv in _train_commands():
        argv = [str(folder / a) if a.startswith("runs/") else a for a in argv]
        argv = [
            "1" if previous in ("--epochs", "--adv-steps") else a
            for previous, a in zip(["", *argv[:-1]], argv, strict=True)
        ]
        assert run([*argv, "--limit-train", "64", "--data-dir", str(data), "--device", "cpu"]) == 0
    suite = yaml.safe_load(_readme_block(r"```yaml\n(name: at-vs-wm\n.*?)```"))
    suite["dataset"]["limit"] = IMAGES
    suite["perturbations"][-1]["steps"] = 5
    path = folder / "at-vs-wm.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert run(["attack", str(path), "--json", str(folder / "out.json"), "--device", "cpu"]) == 0
    return folder, json.loads((folder / "out.json").read_text())


def test_results_say_how_each_checkpoint_was_trained(compared):
    _, document = compared
    checkpoints = document["checkpoints"]
    assert set(checkpoints) == {"cnn-33", "wm-unsharp-32", "cnn-33-pgd-at", "wm-unsharp-32-pgd-at"}
    for label in ("cnn-33", "wm-unsharp-32"):
        assert "adversarial" not in checkpoints[label]
        assert checkpoints[f"{label}-pgd-at"]["model"] == label
        adversarial = checkpoints[f"{label}-pgd-at"]["adversarial"]
        assert adversarial["method"] == "pgd" and adversarial["eps"] == 0.3
        assert adversarial["steps"] == 1 and adversarial["alpha"] == pytest.approx(0.75)


def test_every_model_is_measured_on_every_cell(compared):
    _, document = compared
    cells = {}
    for row in document["results"]:
        cells.setdefault(row["model"], []).append((row["perturbation"], row.get("eps")))
    assert len(cells) == 4 and len({tuple(v) for v in cells.values()}) == 1
    assert len(next(iter(cells.values()))) == 1 + 3 + 3 + 3


def test_fgsm_cells_equal_torchattacks_on_the_trained_checkpoints(compared):
    folder, document = compared
    mnist = load_mnist()
    images = to_float(mnist.test_images[:IMAGES])
    labels = mnist.test_labels[:IMAGES].long()
    for row in document["results"]:
        if row["perturbation"] != "fgsm":
            continue
        model, _ = load_checkpoint(folder / "runs" / "at" / f"{row['model']}.safetensors")
        adversarial = torchattacks.FGSM(model, eps=row["eps"])(images, labels)
        with torch.no_grad():
            wrong = (model(adversarial).argmax(1) != labels).sum().item()
        assert row["wrong"] == wrong, (row["model"], row["eps"])
