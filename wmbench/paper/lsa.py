"""What Layer Sustainability Analysis (Khalooei et al., arXiv:2202.02626) states about MNIST model
B, set against our measurements: its FGSM accuracy table (normal training, AT with APGD, AT-LR
with the first layer as the MVL), the "R&G" score (the sum of the accuracies over ε), and the
claims a reproduction can check.

Our numbers come from a suite's results document: FGSM error at each ε of :data:`LSA_EPS` (ε = 0
being the clean cell) per job label, and the per-layer relative errors (``per_layer``) of the
strongest FGSM cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from wmbench.paper.claims import Claim
from wmbench.results import ResultsDocument

LSA_EPS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
LSA_JOBS = ("normal", "at", "at-lr")
"""The job labels of a reproduction, in the table's order."""
LSA_TABLE = {
    "normal": (98.82, 82.1, 47.2, 17.87, 6.96, 4.25),
    "at": (99.36, 98.54, 97.67, 96.97, 71.72, 33.73),
    "at-lr": (98.97, 98.11, 97.36, 97.17, 94.6, 55.52),
}
"""FGSM accuracy (%) of model B at each ε of :data:`LSA_EPS`, as LSA reports it."""
LSA_RG = {"normal": 257.2, "at": 497.99, "at-lr": 541.73}
"""LSA's R&G scores as printed (their sums of the rows above, to rounding)."""
LSA_ROWS = {
    "normal": "normal training",
    "at": "adversarial training (LSA: AT-APGD)",
    "at-lr": "AT-LR, first layer as MVL (LSA: AT-APGD-LR)",
}


@dataclass(frozen=True)
class AccuracyRow:
    """One row of the table: a job's FGSM accuracy (%) at each ε, ours and LSA's.

    Attributes:
        job: ``normal``, ``at`` or ``at-lr``.
        ours: accuracy in percent at each ε of :data:`LSA_EPS`; None where not measured.
        paper: LSA's accuracy at each ε.
        rg: the sum of ``ours`` (None unless every ε was measured).
        paper_rg: LSA's R&G score.
    """

    job: str
    ours: tuple[float | None, ...]
    paper: tuple[float, ...]
    rg: float | None
    paper_rg: float


def fgsm_accuracies(document: ResultsDocument) -> dict[str, dict[float, float]]:
    """Per model label, FGSM accuracy (%) by ε, with the clean accuracy at ε = 0."""
    table: dict[str, dict[float, float]] = {}
    for row in document.rows_of("clean"):
        table.setdefault(row.model, {})[0.0] = 100 * (1 - row.error)
    for row in document.rows_of("fgsm"):
        if row.params.get("loss", "ce") == "ce":
            table.setdefault(row.model, {})[row.params["eps"]] = 100 * (1 - row.error)
    return table


def accuracy_rows(document: ResultsDocument) -> list[AccuracyRow]:
    """A row per job of :data:`LSA_JOBS` that the document measured."""
    measured = fgsm_accuracies(document)
    rows = []
    for job in LSA_JOBS:
        if job not in measured:
            continue
        ours = tuple(_at(measured[job], eps) for eps in LSA_EPS)
        rg = None if None in ours else sum(value for value in ours if value is not None)
        rows.append(AccuracyRow(job, ours, LSA_TABLE[job], rg, LSA_RG[job]))
    return rows


def _at(row: dict[float, float], eps: float) -> float | None:
    for value, accuracy in row.items():
        if abs(value - eps) < 1e-9:
            return accuracy
    return None


def lsa_claims(rows: list[AccuracyRow]) -> list[Claim]:
    """LSA's MNIST claims, each judged on our rows (None where a number is missing)."""
    by_job = {row.job: row for row in rows}
    at_03 = LSA_EPS.index(0.3)
    claims = [
        _threshold(
            by_job.get("normal"),
            at_03,
            "Normal training leaves model B below 30% FGSM accuracy at ε = 0.3 (LSA: 17.87%)",
            below=30.0,
        ),
        _threshold(
            by_job.get("at"),
            at_03,
            "Adversarial training keeps model B above 90% FGSM accuracy at ε = 0.3 (LSA: 96.97%)",
            above=90.0,
        ),
    ]
    at, at_lr = by_job.get("at"), by_job.get("at-lr")
    for eps in (0.4, 0.5):
        index = LSA_EPS.index(eps)
        paper_gain = LSA_TABLE["at-lr"][index] - LSA_TABLE["at"][index]
        claims.append(
            _compare(
                at_lr.ours[index] if at_lr else None,
                at.ours[index] if at else None,
                f"AT-LR beats AT at ε = {eps:g}, beyond the training ε "
                f"(LSA: {LSA_TABLE['at-lr'][index]:.2f}% vs {LSA_TABLE['at'][index]:.2f}%, "
                f"+{paper_gain:.2f} points)",
            )
        )
    claims.append(
        _compare(
            at_lr.rg if at_lr else None,
            at.rg if at else None,
            f"AT-LR's R&G score exceeds AT's (LSA: {LSA_RG['at-lr']} vs {LSA_RG['at']})",
        )
    )
    return claims


def _threshold(
    row: AccuracyRow | None,
    index: int,
    text: str,
    *,
    below: float | None = None,
    above: float | None = None,
) -> Claim:
    value = row.ours[index] if row is not None else None
    if value is None:
        return Claim(text, None, {}, "not measured")
    held = value < below if below is not None else value > (above or 0.0)
    return Claim(text, held, {"accuracy": value}, f"ours: {value:.2f}%")


def _compare(ours_lr: float | None, ours_at: float | None, text: str) -> Claim:
    if ours_lr is None or ours_at is None:
        return Claim(text, None, {}, "not measured")
    evidence = f"ours: {ours_lr:.2f} vs {ours_at:.2f} ({ours_lr - ours_at:+.2f})"
    return Claim(text, ours_lr > ours_at, {"at_lr": ours_lr, "at": ours_at}, evidence)
