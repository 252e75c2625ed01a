"""The report of an LSA reproduction (Markdown): how each model B was trained, its FGSM accuracy
beside LSA's table with the R&G scores, the PGD check, the relative error of every layer, and
which of LSA's claims held. Formats what :mod:`wmbench.paper.lsa` computed from the files next
to the report (the checkpoints' metadata and the suite's results JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wmbench._io import write_text_atomic
from wmbench.paper import Claim, Training
from wmbench.paper.lsa import LSA_EPS, LSA_ROWS, AccuracyRow
from wmbench.reporting.reproduction import claim_line
from wmbench.results import ResultsDocument, describe_adversarial


def _training_lines(training: Training) -> list[str]:
    lines = [
        "| model | training | epochs (best) | clean test error % | training time |",
        "|---|---|---:|---:|---:|",
    ]
    for job, runs in training.items():
        for run in runs:
            settings = run.get("train", {})
            lines.append(
                f"| {job} | {describe_adversarial(settings.get('adversarial'))} "
                f"| {settings.get('epochs', '?')} ({run.get('best_epoch', '?')}) "
                f"| {100 * run['test_error']:.2f} | {run.get('seconds', 0) / 60:.1f} min |"
            )
    return lines


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _accuracy_lines(rows: Sequence[AccuracyRow]) -> list[str]:
    header = " | ".join(f"ε={eps:g}" for eps in LSA_EPS)
    lines = [f"| model | | {header} | R&G |", "|---|---|" + "---:|" * (len(LSA_EPS) + 1)]
    for row in rows:
        ours = " | ".join(map(_number, row.ours))
        theirs = " | ".join(map(_number, row.paper))
        lines.append(f"| {LSA_ROWS[row.job]} | ours | {ours} | {_number(row.rg)} |")
        lines.append(f"| | LSA | {theirs} | {row.paper_rg:.2f} |")
    return lines


def _pgd_lines(document: ResultsDocument) -> list[str]:
    lines = ["| model | ε | steps × step | accuracy % |", "|---|---:|---:|---:|"]
    for row in document.rows_of("pgd"):
        params = row.params
        lines.append(
            f"| {row.model} | {params['eps']:g} | {params['steps']} × {params['alpha']:g} "
            f"| {100 * (1 - row.error):.2f} |"
        )
    return lines


def _layer_lines(document: ResultsDocument, eps: float) -> list[str]:
    cells = [
        row
        for row in document.rows_of("fgsm")
        if abs(row.params["eps"] - eps) < 1e-9 and row.per_layer
    ]
    if not cells:
        return ["(not measured)"]
    layers = list(cells[0].per_layer or {})
    lines = [f"| model | {' | '.join(layers)} |", "|---|" + "---:|" * len(layers)]
    for row in cells:
        values = [(row.per_layer or {}).get(layer, {}).get("cm") for layer in layers]
        lines.append(f"| {row.model} | {' | '.join(_cm(value) for value in values)} |")
    return lines


def _cm(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def write_lsa_report(
    path: Path,
    *,
    budget: Any,
    training: Training,
    rows: Sequence[AccuracyRow],
    claims: Sequence[Claim],
    document: ResultsDocument,
    device: str,
    wall_seconds: float,
) -> Path:
    """Writes the Markdown report and returns its path.

    Args:
        path: the report file.
        budget: the reproduction's budget (its ``name`` and ``description`` are shown).
        training: per job, its checkpoints' metrics and training settings.
        rows: the FGSM accuracy table, ours beside LSA's.
        claims: LSA's claims with their verdicts.
        document: the suite's results, for the PGD check, the layers and the versions.
        device: the device, in words.
        wall_seconds: how long the reproduction took.
    """
    n = document.results[0].n if document.results else 0
    lines = [
        f"# Reproduction of LSA's MNIST table (model B) — budget `{budget.name}`",
        "",
        f"Budget: {budget.description}. Device: {device}. Wall time: {wall_seconds / 60:.1f} min. "
        f"wmbench {document.versions.get('wmbench', '?')}, torch "
        f"{document.versions.get('torch', '?')}. Attacks on {n:,} MNIST test images.",
        "",
        "Training: 90/10 train/validation split of MNIST's training images, Adam (lr 1e-3), "
        "pad-and-crop augmentation, the weights of the epoch with the best clean validation "
        "error. The "
        "numbers below are read back from `results.json` (the suite in `suite.yaml`) and the "
        "checkpoints' metadata (`wmbench info checkpoints/NAME-s0.safetensors`).",
        "",
        "## How each model was trained",
        "",
        *_training_lines(training),
        "",
        "## FGSM accuracy (%) — LSA's table",
        "",
        "R&G is the sum of a row's accuracies over the six ε (LSA's score).",
        "",
        *_accuracy_lines(rows),
        "",
        "## Claims of LSA",
        "",
        *map(claim_line, claims),
        "",
        "## A stronger attack: PGD at ε = 0.3",
        "",
        "FGSM alone overstates the robustness of a model trained on FGSM examples when training "
        "masks its gradient; LSA's table reports FGSM only. Accuracy under PGD (random start):",
        "",
        *_pgd_lines(document),
        "",
        "## Relative error of each layer under FGSM at ε = 0.3",
        "",
        "CM = ‖φ(x) − φ(x̂)‖_F / ‖φ(x)‖_F over the whole batch tensor (LSA's form), each layer "
        "read after its nonlinearity. AT-LR adds γ·CM of its layers to the training loss.",
        "",
        *_layer_lines(document, 0.3),
        "",
    ]
    return write_text_atomic(path, "\n".join(lines))
