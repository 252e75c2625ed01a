"""The reproduction report (Markdown): our numbers beside Amer & Maul's Tables 2 and 5, the
figures, and which of the paper's claims held. Formats what :mod:`wmbench.paper` computed from the
files next to the report (the checkpoints' metadata and the suite's results JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wmbench._io import write_text_atomic
from wmbench.paper import Claim, ModelRow, sweep_values
from wmbench.results import ResultsDocument

_HEADER = [
    "| model | params | paper params | MACs | test error % (ours) | paper % | seeds × epochs |",
    "|---|---:|---:|---:|---:|---:|---|",
]


def _mean_std(row: ModelRow) -> str:
    if row.mean_error is None:
        return "—"
    if row.std_error is None:
        return f"{100 * row.mean_error:.2f} (1 seed)"
    return f"{100 * row.mean_error:.2f} ± {100 * row.std_error:.2f}"


def _paper_error(row: ModelRow) -> str:
    if row.paper_error is None:
        return "—"
    std = f" ± {row.paper_error_std:.2f}" if row.paper_error_std is not None else ""
    return f"{row.paper_error:.2f}{std}"


def _model_lines(rows: Sequence[ModelRow]) -> list[str]:
    return [
        f"| {row.model} | {row.params:,} | {row.paper_params or '—'} "
        f"| {row.macs:,} | {_mean_std(row)} | {_paper_error(row)} "
        f"| {len(row.test_errors)} × {'/'.join(map(str, row.epochs))} |"
        for row in rows
    ]


def _sweep_table(document: ResultsDocument, perturbation: str, parameter: str) -> list[str]:
    errors = sweep_values(document, perturbation)
    values = sorted({value for per_model in errors.values() for value in per_model})
    lines = [
        f"| model | {' | '.join(f'{parameter}={v:g}' for v in values)} |",
        "|---|" + "---:|" * len(values),
    ]
    for model, per_value in errors.items():
        cells = [f"{100 * per_value[v]:.1f}" if v in per_value else "—" for v in values]
        lines.append(f"| {model} | {' | '.join(cells)} |")
    return lines


def claim_line(claim: Claim) -> str:
    mark = "not measured" if claim.held is None else ("held" if claim.held else "did NOT hold")
    return f"- **{mark}** — {claim.text} ({claim.evidence})"


def write_report(
    path: Path,
    *,
    budget: Any,
    rows: Sequence[ModelRow],
    claims: Sequence[Claim],
    document: ResultsDocument,
    figures: list[Path],
    device: str,
    wall_seconds: float,
) -> Path:
    """Writes the Markdown report and returns its path.

    Args:
        path: the report file.
        budget: the reproduction's budget (its ``name`` and ``description`` are shown).
        rows: a row per trained model; those of family ``cnn`` make Table 2, the others Table 5.
        claims: the paper's claims with their verdicts.
        document: the suite's results, for the sweep tables and the versions.
        figures: the figures, relative to the report's folder.
        device: the device, in words.
        wall_seconds: how long the reproduction took.
    """
    table2 = [row for row in rows if row.family == "cnn"]
    table5 = [row for row in rows if row.family != "cnn"]
    lines = [
        f"# Reproduction of Amer & Maul on MNIST — budget `{budget.name}`",
        "",
        f"Budget: {budget.description}. Device: {device}. Wall time: {wall_seconds / 60:.1f} min. "
        f"wmbench {document.versions.get('wmbench', '?')}, torch "
        f"{document.versions.get('torch', '?')}.",
        "",
        "Training follows §4: 54,000/6,000 train/validation split (seed 0), Adam at its "
        "defaults, zero-pad-and-crop augmentation, best-validation weights; test error on the "
        "10,000 test images. The robustness numbers come from `results.json` (written by the "
        "suite in `suite.yaml`, seed-0 checkpoints); the training numbers from each "
        "checkpoint's metadata (`wmbench info checkpoints/NAME-sSEED.safetensors`).",
        "",
        "## Table 2 — small CNNs",
        "",
        *_HEADER,
        *_model_lines(table2),
    ]
    if table5:
        lines += [
            "",
            "## Table 5 — ResNet and DenseNet",
            "",
            *_HEADER,
            *_model_lines(table5),
        ]
    lines += ["", "## Claims of the paper", "", *map(claim_line, claims)]
    lines += [
        "",
        "## Test error (%) under uniform noise (Figure 2a)",
        "",
        *_sweep_table(document, "uniform", "upper"),
        "",
        "## Test error (%) under FGSM (Figure 3a)",
        "",
        *_sweep_table(document, "fgsm", "eps"),
        "",
        "## Figures",
        "",
    ]
    lines += [f"![{figure.stem}]({figure.as_posix()})" for figure in figures]
    lines.append("")
    return write_text_atomic(path, "\n".join(lines))
