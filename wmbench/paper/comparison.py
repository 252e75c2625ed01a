"""The rules by which docs/findings.md (issue 17) judges one model against another over seeds:
every comparison made on the pooled counts of each model's seeds, with Newcombe's interval of
the difference, as the regression gates judge a rise.

A comparison of a model with a baseline at one cell is *lower* (or *higher*) when two things
agree: the 95% Newcombe interval of the difference of pooled errors lies wholly below (above)
zero — the test images' sampling — and every seed of the one is below (above) every seed of the
other — the training's randomness, which the pooled counts do not see (with three seeds each,
that separation alone has a one-sided Mann–Whitney p of 1/20). Otherwise it is a *tie*. A
sweep claim ("lower error across the sweep") *held* when the model is lower at every point,
*held in part* when it is lower at some points and higher at none, and *did not hold* otherwise.
Activation MSE has no counts; there the seeds' spread decides: a model's MSE is above another's
at a point when its lowest seed is above the other's highest.

The claims themselves are in :mod:`wmbench.paper.verdict` (the WM variants against the CNN) and
:mod:`wmbench.paper.variants` (batchnorm and kernel 9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wmbench.paper.seeds import SeedCell, seed_difference

BASELINE = "cnn-33"  # the paper's FLOP-matched CNN, which the WM variants are compared with
WM_SMOOTH = "wm-smooth-32"
WM_MODELS = ("wm-unsharp-32", WM_SMOOTH)
HELD, PART, NOT_HELD = "held", "held in part", "did not hold"
WEAK_ONLY = "held only under the paper's weak attack (FGSM)"
NOT_MEASURED = "not measured"

Cells = dict[str, list[SeedCell]]


@dataclass(frozen=True)
class Comparison:
    """A model against a baseline at one cell: the difference of pooled errors and its 95%
    Newcombe interval."""

    perturbation: str
    params: dict[str, object]
    model: str
    difference: float
    low: float
    high: float
    separated: int = 0  # -1: every seed below every baseline seed; +1: every one above

    @property
    def outcome(self) -> str:
        if self.high < 0 and self.separated < 0:
            return "lower"
        return "higher" if self.low > 0 and self.separated > 0 else "tie"

    @property
    def point(self) -> str:
        return point_label(self.params)


@dataclass(frozen=True)
class Verdict:
    """One claim: what it says, the verdict, and the evidence as one line."""

    claim: str
    verdict: str
    evidence: str


def point_label(params: dict[str, object]) -> str:
    """``eps=0.1``, or ``–`` for a cell without parameters."""
    return " ".join(f"{k}={v}" for k, v in params.items()) or "–"


def cells_of(cells: Cells, model: str, perturbation: str) -> list[SeedCell]:
    return [cell for cell in cells.get(model, []) if cell.perturbation == perturbation]


def cell_pairs(
    cells: Cells, model: str, perturbation: str, baseline: str
) -> list[tuple[SeedCell, SeedCell]]:
    """``model``'s cells of ``perturbation`` beside ``baseline``'s at the same point, where both
    were measured."""
    reference = {cell.key: cell for cell in cells_of(cells, baseline, perturbation)}
    return [
        (cell, reference[cell.key])
        for cell in cells_of(cells, model, perturbation)
        if cell.key in reference
    ]


def compare(cells: Cells, model: str, perturbation: str, baseline: str) -> list[Comparison]:
    """``model`` against ``baseline`` at every cell of ``perturbation`` both were measured at."""
    found = []
    for cell, base in cell_pairs(cells, model, perturbation, baseline):
        difference, (low, high) = seed_difference(cell, base)
        separated = separation(list(cell.errors.values()), list(base.errors.values()))
        found.append(Comparison(perturbation, cell.params, model, difference, low, high, separated))
    return found


def separation(values: Sequence[float], baseline: Sequence[float]) -> int:
    """-1 when every value is below every baseline value, +1 when every one is above, else 0."""
    if max(values) < min(baseline):
        return -1
    return 1 if min(values) > max(baseline) else 0


def sweep_verdict(comparisons: Sequence[Comparison]) -> str:
    """HELD when lower at every point, PART when lower somewhere and higher nowhere."""
    outcomes = [c.outcome for c in comparisons]
    if not outcomes:
        return NOT_MEASURED
    if all(o == "lower" for o in outcomes):
        return HELD
    return PART if "lower" in outcomes and "higher" not in outcomes else NOT_HELD


def sweep_evidence(comparisons: Sequence[Comparison]) -> str:
    counts = {o: sum(c.outcome == o for c in comparisons) for o in ("lower", "tie", "higher")}
    lower, tie, higher = counts["lower"], counts["tie"], counts["higher"]
    return f"{lower} lower, {tie} tie, {higher} higher of {len(comparisons)}"


def unmeasured(cells: Cells, perturbation: str, *models: str) -> str:
    """The evidence of a claim that cannot be judged: the models without ``perturbation`` cells,
    named (or, where each has some, that they share no point)."""
    missing = [model for model in models if not cells_of(cells, model, perturbation)]
    if missing:
        return f"no results of {' and '.join(missing)}"
    return f"no {perturbation} cells at a point both measured"


def clean_verdict(cells: Cells, model: str, baseline: str, expected: str, claim: str) -> Verdict:
    """Whether ``model``'s clean error is ``expected`` ("lower" or "higher") than ``baseline``'s;
    NOT_MEASURED when either has no clean cell."""
    (comparison,) = compare(cells, model, "clean", baseline) or (None,)
    if comparison is None:
        return Verdict(claim, NOT_MEASURED, unmeasured(cells, "clean", model, baseline))
    return Verdict(
        claim,
        HELD if comparison.outcome == expected else NOT_HELD,
        f"difference {_pp(comparison.difference)} points "
        f"({_pp(comparison.low)} to {_pp(comparison.high)}), {comparison.outcome}",
    )


def _pp(value: float) -> str:
    return f"{100 * value:+.2f}"


def mse_values(cell: SeedCell) -> list[float]:
    """The seeds' activation MSEs, where finite."""
    return [v for v in cell.activation_mse.values() if v is not None]
