"""`wmbench reproduce --budget quick`, `plot` and `explain`: the whole pipeline on real MNIST
digits (the head of the data set, trained briefly), then the figures and report it leaves
behind."""

from __future__ import annotations

import json
import re

import pytest
from mnist_files import write_mnist_head

from wmbench.cli import run
from wmbench.reporting.plots import sweep_series
from wmbench.results import ResultsDocument

pytestmark = [pytest.mark.integration, pytest.mark.heavy(seconds=50)]


@pytest.fixture(scope="module")
def mnist_head(tmp_path_factory):
    """MNIST's first 3,000 training and 300 test images: the quick budget trains on 2,000 and
    measures 300 either way, and validation and the checkpoints' test errors take 300 images
    here, not 16,000."""
    return write_mnist_head(tmp_path_factory.mktemp("mnist"), 3000, 300)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, mnist_head):
    out = tmp_path_factory.mktemp("reproduce")
    argv = ["reproduce", "--budget", "quick", "--out", str(out), "--data-dir", str(mnist_head)]
    assert run([*argv, "--device", "cpu"]) == 0
    return out


def test_quick_budget_leaves_report_results_and_figures(quick_run):
    report = (quick_run / "report.md").read_text()
    document = json.loads((quick_run / "results.json").read_text())
    assert "## Table 2" in report and "## Table 5" in report and "## Claims of the paper" in report
    # Every headline model is in the table with its parameter count and the paper's error.
    assert re.search(r"\| wm-unsharp-32 \| 1,487,178 \| 1.49M \|", report)
    assert "0.73 ± 0.03" in report
    # The report's sweep numbers are the results file's numbers.
    row = next(r for r in document["results"] if r["model"] == "cnn-33" and r.get("eps") == 0.1)
    assert f"{100 * row['error']:.1f}" in report
    for name in ("uniform-error", "uniform-mse", "fgsm-error", "fgsm-mse", "grad-cam"):
        png = quick_run / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"figures/{name}.png" in report
    errors = {r["model"]: r["error"] for r in document["results"] if r["kind"] == "clean"}
    assert errors["wm-unsharp-32"] < 0.5  # trained, if briefly: far below chance


def test_a_second_run_reuses_the_checkpoints(quick_run, mnist_head, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in (quick_run / "checkpoints").iterdir()}
    argv = ["reproduce", "--budget", "quick", "--out", str(quick_run)]
    assert run([*argv, "--data-dir", str(mnist_head), "--device", "cpu"]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (quick_run / "checkpoints").iterdir()}
    assert before == after
    assert "training" not in capsys.readouterr().err


def test_plot_command_draws_every_sweep(quick_run, tmp_path):
    assert run(["plot", str(quick_run / "results.json"), "--out", str(tmp_path / "f")]) == 0
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [
        "fgsm-error.png",
        "fgsm-mse.png",
        "uniform-error.png",
        "uniform-mse.png",
    ]
    series = sweep_series(ResultsDocument.read(quick_run / "results.json"))
    assert series["fgsm"]["parameter"] == "eps"
    assert set(series["fgsm"]["families"]) == {"cnn", "resnet", "densenet"}


def test_explain_command(quick_run, tmp_path):
    ckpt = quick_run / "checkpoints" / "wm-unsharp-32-s0.safetensors"
    out = tmp_path / "cam.png"
    assert run(["explain", str(ckpt), "--images", "4", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_unknown_budget_is_bad_input(capsys, tmp_path):
    assert run(["reproduce", "--budget", "huge", "--out", str(tmp_path)]) == 2
    assert "unknown budget 'huge'" in capsys.readouterr().err
