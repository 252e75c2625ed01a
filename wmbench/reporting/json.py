"""The results file: one JSON document per suite run, versioned (see docs/results-json.md).

It holds the suite as run, the checkpoints' identities, the measured cells and the verdicts, so
that a later run can be compared with it (``wmbench.gates.load_baseline``). Adding keys does not
change :data:`VERSION`; renaming or removing one, or changing a meaning, does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wmbench._io import write_text_atomic

if TYPE_CHECKING:
    from wmbench.gates import Verdict
    from wmbench.results import Cell, Results

FORMAT = "wmbench.results"
VERSION = 1

_CELL_KEYS = ("model", "perturbation", "kind", "params", "error", "n", "wrong", "activation_mse")


def _json_safe(value: Any) -> Any:
    """Non-finite floats become ``null``: JSON has no NaN or infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def _cell(cell: Cell) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model": cell.model,
        "perturbation": cell.perturbation,
        "kind": cell.kind,
        "params": dict(cell.params),
    }
    # Flattened too, for jq and pandas; a parameter named like a fixed key stays in params only.
    row.update({key: value for key, value in cell.params.items() if key not in _CELL_KEYS})
    row.update(error=cell.error, n=cell.n, wrong=cell.wrong, activation_mse=cell.activation_mse)
    row["error_ci95"] = list(cell.ci95)
    return row


def results_document(results: Results, verdicts: list[Verdict]) -> dict[str, Any]:
    """The results file's content for one run and its verdicts (gates and regressions)."""
    suite = results.suite.model_dump(mode="json")
    suite["path"] = None if results.source is None else str(results.source)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "suite": suite,
        "checkpoints": {
            label: {
                "path": str(record.path),
                "sha256": record.sha256,
                "model": record.model,
                "family": record.family,
                "metrics": dict(record.metrics),
            }
            for label, record in results.checkpoints.items()
        },
        "versions": dict(results.versions),
        "device": results.device,
        "started": results.started,
        "duration_s": results.duration_s,
        "results": [_cell(cell) for cell in results.cells],
        "gates": [
            {
                "name": verdict.name,
                "kind": verdict.kind,
                "passed": verdict.passed,
                "detail": verdict.detail,
                "margin": verdict.margin,
            }
            for verdict in verdicts
        ],
        "warnings": [
            {
                "model": warning.model,
                "perturbation": warning.perturbation,
                "check": warning.check,
                "message": warning.message,
            }
            for warning in results.warnings
        ],
        "passed": all(verdict.passed for verdict in verdicts),
    }
    return _json_safe(document)


def results_json(document: dict[str, Any]) -> str:
    """The document as JSON text (indent 2, trailing newline), e.g. for ``--json -``."""
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_results(path: str | Path, document: dict[str, Any]) -> Path:
    """Writes the document to ``path`` atomically; an existing file is replaced only on success."""
    return write_text_atomic(path, results_json(document))
