"""The tables of docs/findings.md from the verdict suites' results (issue 17): the training runs
(each checkpoint's metadata: seed, epochs, best epoch, errors, minutes), the clean errors beside
the paper's, the verdict on each claim, every cell over seeds with its difference from cnn-33
(Newcombe), the MNIST-C means and the sanity and gradient-masking warnings.

Usage: python scripts/verdict_report.py docs/findings/*/*.json > docs/findings/tables.md
(the results of `wmbench attack suites/verdict.yaml` and suites/verdict-strong.yaml, whole or
per seed with `--model '*-s1'`, and the checkpoints' metadata as `wmbench info --json` writes it,
docs/findings/checkpoints/LABEL.json; a checkpoint with no metadata file is read from where the
results name it, and one that is not there either gets what the results recorded of it: the
training table then has no epoch count, and its minutes are the run's recorded seconds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wmbench.checkpoint import CheckpointError, read_checkpoint_info
from wmbench.paper.seeds import model_and_seed
from wmbench.paper.verdict import claim_verdicts, summarise, warning_counts
from wmbench.reporting.verdict import (
    clean_table,
    corruption_table,
    sweep_table,
    timing_table,
    training_table,
    verdict_table,
    warnings_table,
)
from wmbench.results import ResultsDocument
from wmbench.results.document import CheckpointEntry

SECTIONS = [
    ("uniform", "Uniform noise (Figure 2)"),
    ("fgsm", "FGSM (Figure 3)"),
    ("pgd", "PGD-40, α 0.01"),
    ("autoattack", "AutoAttack (standard: APGD-CE, APGD-T, FAB-T, Square)"),
]


def durations(documents: list[ResultsDocument]) -> dict[str, dict[str, float]]:
    """Per checkpoint, the wall time of each suite's run (one run per checkpoint and suite)."""
    times: dict[str, dict[str, float]] = {}
    for d in documents:
        for label in d.checkpoints or {}:
            times.setdefault(label, {})[d.suite.name if d.suite else "?"] = d.duration_s or 0.0
    return times


def checkpoint_metadata(path: Path) -> dict | None:
    """The metadata in a `wmbench info --json` file (it has a spec and a sha256), else None."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) and {"spec", "sha256"} <= data.keys() else None


def run_metadata(label: str, entry: CheckpointEntry, metadata: dict[str, dict]) -> dict:
    """A checkpoint's metadata: its metadata file, else the checkpoint, else what the results
    file recorded of it (errors, best epoch, seconds; no epoch history)."""
    if label in metadata:
        meta = metadata[label]
        if entry.sha256 and meta.get("sha256", entry.sha256) != entry.sha256:
            sys.exit(f"error: {label}: the metadata file is of another checkpoint than the results")
        return meta
    try:
        return read_checkpoint_info(entry.path).meta
    except CheckpointError:
        return {"metrics": entry.metrics, "train": {"seed": model_and_seed(label)[1]}}


def main() -> None:
    paths = [Path(arg) for arg in sys.argv[1:]]
    if not paths:
        sys.exit(__doc__)
    found = {path: checkpoint_metadata(path) for path in paths}
    metadata = {path.stem: meta for path, meta in found.items() if meta is not None}
    documents = [ResultsDocument.read(path) for path, meta in found.items() if meta is None]
    document, cells = summarise(documents)
    runs = {
        label: run_metadata(label, entry, metadata)
        for label, entry in sorted((document.checkpoints or {}).items())
    }
    # The architecture of each model (a recipe arm's label names its zoo model only in the spec).
    architectures = {
        model_and_seed(label)[0]: entry.model
        for label, entry in (document.checkpoints or {}).items()
        if entry.model
    }
    sources = ", ".join(f"`{path}`" for path in paths)
    out = [
        f"<!-- written by `python scripts/verdict_report.py` from {sources} -->",
        "## Training runs (checkpoint metadata)",
        training_table(runs),
        "## Measuring time (wall seconds, one thread, beside another job)",
        timing_table(durations(documents)),
        "## Clean test error (Table 2)",
        clean_table(cells, architectures),
        "## The verdict on each claim",
        verdict_table(claim_verdicts(cells)),
    ]
    for perturbation, title in SECTIONS:
        if any(c.perturbation == perturbation for model in cells.values() for c in model):
            out += [f"## {title}", sweep_table(cells, perturbation)]
    if any(c.perturbation == "mnist-c" for model in cells.values() for c in model):
        out += [
            "## MNIST-C (severity 3, fifteen corruptions)",
            corruption_table(cells),
            sweep_table(cells, "mnist-c"),
        ]
    out += [
        "## Sanity and gradient-masking warnings",
        warnings_table(warning_counts(document), list(cells)),
    ]
    print("\n\n".join(out))


if __name__ == "__main__":
    main()
