"""The benchmark's two sides do the same work: benchmarks/run.py's bare passes (row 3, the suite
overhead) count the same wrong images as the suite they are timed against, on clean and FGSM
cells (deterministic on both sides; PGD's random start and uniform noise draw differently)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
import yaml
from test_autoattack import in_memory_suite

from wmbench.models import create_model
from wmbench.suites import run_suite

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("run")


def test_the_bare_passes_count_what_the_suite_counts(bench):
    document = yaml.safe_load((BENCHMARKS.parent / "suites" / "quick.yaml").read_text())
    torch.manual_seed(0)
    model = create_model("cnn-33").eval().requires_grad_(False)
    images = torch.rand(24, 1, 28, 28)
    labels = torch.randint(0, 10, (24,))
    loaded = in_memory_suite(
        model, {"batch_size": 16, "perturbations": document["perturbations"], "gates": []}
    )
    cells = run_suite(loaded, images=images, labels=labels).cells
    (bare,) = bench.bare_passes(loaded.suite, [model], images, labels, torch.device("cpu"))

    assert len(bare) == len(cells)
    compared = [i for i, cell in enumerate(cells) if cell.kind in ("clean", "fgsm")]
    assert len(compared) == 5
    assert [bare[i] for i in compared] == [cells[i].wrong for i in compared]
    assert len({bare[i] for i in compared}) > 1  # the FGSM radii change the count
    assert all(0 <= count <= len(images) for count in bare)
