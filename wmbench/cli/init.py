"""``wmbench init [DIR]``: a starter suite for your own checkpoints and a CI workflow that runs it.

Writes ``DIR/robustness.yaml`` (a commented suite: one checkpoint, a factory entry to uncomment,
clean / uniform / FGSM / PGD, a ``max_error`` gate) and ``DIR/.github/workflows/robustness.yml``
(GitHub Actions: install torch's CPU build pinned, then wmbench; run the suite against the
committed baseline; upload the results). Refuses to overwrite either file without ``--force``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import typer

from wmbench import __version__
from wmbench._io import write_text_atomic
from wmbench.cli._console import note
from wmbench.errors import ConfigError

SUITE_FILE = "robustness.yaml"
WORKFLOW_FILE = Path(".github", "workflows", "robustness.yml")
TESTED_TORCH = "2.13.0"  # scripts/setup's default, used when torch's version cannot be read

SUITE_TEMPLATE = """\
# Robustness of your own model, written by `wmbench init`.
#   wmbench attack robustness.yaml --json robustness.json --junit robustness.xml
# Accept a run as the baseline that later runs must not fall behind (commit the file):
#   wmbench attack robustness.yaml --json robustness-baseline.json
# The format: the README of wmbench, "Suite format"; examples: `wmbench suites`.
name: robustness
dataset: {name: mnist, split: test, limit: 2000}   # the first 2,000 test images
batch_size: 500
seed: 0
device: auto
models:
  # label: a wmbench checkpoint (`wmbench train`, `wmbench export`), relative to this file
  mine: checkpoints/model.safetensors
  # Any PyTorch classifier, built by a factory (a callable in a .py file or an importable module):
  # theirs:
  #   factory: my_models.py:build_net      # or my_package.models:build_net
  #   args: {width: 64}                    # keyword arguments of the factory
  #   weights: checkpoints/net.pt          # a state dict: .safetensors, .pt or .pth
  #   input: {channels: 1, size: 28}
  #   num_classes: 10
perturbations:
  - kind: clean
  - kind: uniform            # x + U(0, upper), then each image min-max renormalised to [0, 1]
    upper: [0.5, 1.0]
  - kind: fgsm
    eps: [0.1, 0.2]
  - kind: pgd
    eps: 0.1
    alpha: 0.01
    steps: 10
gates:                       # `wmbench attack` exits 1 when one fails
  - {model: mine, perturbation: clean, max_error: 0.05}
  - {model: mine, perturbation: fgsm, eps: 0.1, max_error: 0.60}
"""

WORKFLOW_TEMPLATE = """\
# Robustness gate, written by `wmbench init`: runs robustness.yaml on every push and pull request;
# fails when a gate of the suite fails or, against robustness-baseline.json (the results of an
# accepted run, committed beside the suite), an error rose by more than the tolerance.
name: robustness
on:
  push:
    branches: [main]
  pull_request:
jobs:
  robustness:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install torch (CPU build, pinned first) and wmbench
        # Left to itself, pip would resolve torchattacks' dependencies to a CUDA torch of GBs.
        run: |
          python -m pip install "torch=={torch}" --index-url https://download.pytorch.org/whl/cpu
          echo "torch=={torch}" > "$RUNNER_TEMP/torch-constraint.txt"
          python -m pip install -c "$RUNNER_TEMP/torch-constraint.txt" "wmbench=={wmbench}"
      - name: Cache the data sets
        uses: actions/cache@v4
        with:
          path: ~/.cache/wmbench
          key: wmbench-data-v1
      - name: Run the suite
        run: |
          baseline=()
          if [ -f robustness-baseline.json ]; then
            baseline=(--baseline robustness-baseline.json)
          fi
          wmbench attack robustness.yaml --json robustness.json --junit robustness.xml \\
            "${{baseline[@]}}"
      - name: Upload the results
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: robustness
          path: |
            robustness.json
            robustness.xml
          if-no-files-found: ignore
"""


def _torch_version() -> str:
    try:
        return version("torch").split("+")[0]
    except PackageNotFoundError:
        return TESTED_TORCH


def workflow_text() -> str:
    """The workflow, pinning the torch this wmbench runs with and this wmbench."""
    return WORKFLOW_TEMPLATE.format(torch=_torch_version(), wmbench=__version__)


def init(
    folder: Path = typer.Argument(Path("."), help="Where to write (the repository's root)."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist."),
) -> None:
    """Write a starter suite (robustness.yaml) and a GitHub Actions workflow that runs it."""
    files = {folder / SUITE_FILE: SUITE_TEMPLATE, folder / WORKFLOW_FILE: workflow_text()}
    if not force:
        for path in files:
            if path.exists():
                raise ConfigError("exists; give --force to overwrite it", path)
    for path, text in files.items():
        if path.is_dir():
            raise ConfigError("is a folder; remove it or choose another DIR", path)
        note(f"wrote {write_text_atomic(path, text)}")
    note(
        f"next: point models.mine in {folder / SUITE_FILE} at your checkpoint, run "
        f"`wmbench attack {folder / SUITE_FILE}`, commit both files"
    )
