"""scripts/verdict_report.py on the committed findings: the training table comes from the
checkpoints' metadata files (docs/findings/checkpoints/, as `wmbench info --json` writes them)
when the checkpoint itself is not here, a metadata file of another checkpoint is refused, and
with neither, the row is what the results file recorded of the checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEL = "cnn-33-s0"
RESULTS = ROOT / "docs/findings/verdict" / f"{LABEL}.json"
METADATA = ROOT / "docs/findings/checkpoints" / f"{LABEL}.json"


def report(*paths: Path) -> subprocess.CompletedProcess:
    script = ROOT / "scripts/verdict_report.py"
    command = [sys.executable, str(script), *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)


def training_row(result: subprocess.CompletedProcess) -> list[str]:
    """The cells after the label of LABEL's row in the report's training table."""
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith(f"| {LABEL} | "))
    return [cell.strip() for cell in row.strip("|").split("|")][1:]


def results_without_checkpoint(tmp_path: Path) -> tuple[Path, dict]:
    """The results file, copied, naming a checkpoint that is not there."""
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    results["checkpoints"][LABEL]["path"] = str(tmp_path / "gone.safetensors")
    moved = tmp_path / "results" / f"{LABEL}.json"
    moved.parent.mkdir()
    moved.write_text(json.dumps(results), encoding="utf-8")
    return moved, results


def test_the_training_row_is_the_metadata_files(tmp_path: Path) -> None:
    meta = json.loads(METADATA.read_text(encoding="utf-8"))
    metrics = meta["metrics"]
    minutes = sum(epoch["seconds"] for epoch in metrics["history"]) / 60
    assert training_row(report(results_without_checkpoint(tmp_path)[0], METADATA)) == [
        str(meta["train"]["seed"]),
        f"{len(metrics['history'])} / {meta['train']['epochs']}",
        str(meta["train"]["patience"]),
        str(metrics["best_epoch"]),
        f"{100 * metrics['val_error']:.2f}",
        f"{100 * metrics['test_error']:.2f}",
        f"{minutes:.0f}",
    ]


def test_metadata_of_another_checkpoint_is_refused(tmp_path: Path) -> None:
    meta = json.loads(METADATA.read_text(encoding="utf-8"))
    meta["sha256"] = "0" * 64
    other = tmp_path / f"{LABEL}.json"
    other.write_text(json.dumps(meta), encoding="utf-8")
    result = report(RESULTS, other)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"{LABEL}: the metadata file is of another checkpoint than the results"
    )


def test_with_neither_metadata_nor_checkpoint_the_row_is_what_the_results_recorded(
    tmp_path: Path,
) -> None:
    moved, results = results_without_checkpoint(tmp_path)
    metrics = results["checkpoints"][LABEL]["metrics"]
    assert training_row(report(moved)) == [
        "0",
        "–",
        "–",
        str(metrics["best_epoch"]),
        f"{100 * metrics['val_error']:.2f}",
        f"{100 * metrics['test_error']:.2f}",
        f"{metrics['seconds'] / 60:.0f}",
    ]
