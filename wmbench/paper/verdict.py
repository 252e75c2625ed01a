"""The verdict on the paper's claims over seeds (issue 17, docs/findings.md): every claim judged on
the pooled counts of each model's seeds, with Newcombe's interval of each difference, as the
regression gates judge a rise.

A comparison of a WM variant with the CNN at one cell is *lower* (or *higher*) when two things
agree: the 95% Newcombe interval of the difference of pooled errors lies wholly below (above)
zero — the test images' sampling — and every seed of the one is below (above) every seed of the
other — the training's randomness, which the pooled counts do not see (with three seeds each,
that separation alone has a one-sided Mann–Whitney p of 1/20). Otherwise it is a *tie*. A
sweep claim ("lower error across the sweep") *held* when the WM variant is lower at every point,
*held in part* when it is lower at some points and higher at none, and *did not hold* otherwise.
The strong attacks (PGD, AutoAttack) ask whether what FGSM showed survives: *held only under the
paper's weak attack* when it does not. Activation MSE has no counts; there the seeds' spread
decides: a model's MSE is above another's at a point when its lowest seed is above the other's
highest.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wmbench.models import get_spec
from wmbench.paper.seeds import SeedCell, merge, model_and_seed, over_seeds, seed_difference
from wmbench.results import ResultsDocument

BASELINE = "cnn-33"
WM_MODELS = ("wm-unsharp-32", "wm-smooth-32")
HELD, PART, NOT_HELD = "held", "held in part", "did not hold"
WEAK_ONLY = "held only under the paper's weak attack (FGSM)"
NOT_MEASURED = "not measured"

Cells = dict[str, list[SeedCell]]


@dataclass(frozen=True)
class Comparison:
    """A model against the baseline at one cell: the difference of pooled errors and its 95%
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


def _pairs(
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


def compare(
    cells: Cells, model: str, perturbation: str, baseline: str = BASELINE
) -> list[Comparison]:
    """``model`` against ``baseline`` at every cell of ``perturbation`` both were measured at."""
    found = []
    for cell, base in _pairs(cells, model, perturbation, baseline):
        difference, (low, high) = seed_difference(cell, base)
        separated = _separation(list(cell.errors.values()), list(base.errors.values()))
        found.append(Comparison(perturbation, cell.params, model, difference, low, high, separated))
    return found


def _separation(values: Sequence[float], baseline: Sequence[float]) -> int:
    """-1 when every value is below every baseline value, +1 when every one is above, else 0."""
    if max(values) < min(baseline):
        return -1
    return 1 if min(values) > max(baseline) else 0


def _sweep_verdict(comparisons: Sequence[Comparison]) -> str:
    outcomes = [c.outcome for c in comparisons]
    if not outcomes:
        return NOT_MEASURED
    if all(o == "lower" for o in outcomes):
        return HELD
    return PART if "lower" in outcomes and "higher" not in outcomes else NOT_HELD


def _evidence(comparisons: Sequence[Comparison]) -> str:
    counts = {o: sum(c.outcome == o for c in comparisons) for o in ("lower", "tie", "higher")}
    lower, tie, higher = counts["lower"], counts["tie"], counts["higher"]
    return f"{lower} lower, {tie} tie, {higher} higher of {len(comparisons)}"


def _pp(value: float) -> str:
    return f"{100 * value:+.2f}"


def _clean_verdicts(cells: Cells) -> list[Verdict]:
    """Table 2: each WM variant below the CNN, and unsharp below smoothing."""
    found = []
    pairs = [(model, BASELINE) for model in WM_MODELS] + [WM_MODELS]
    for model, baseline in pairs:
        (comparison,) = compare(cells, model, "clean", baseline) or (None,)
        if comparison is None:
            continue
        found.append(
            Verdict(
                f"{model} has a lower clean test error than {baseline} (Table 2)",
                HELD if comparison.outcome == "lower" else NOT_HELD,
                f"difference {_pp(comparison.difference)} points "
                f"({_pp(comparison.low)} to {_pp(comparison.high)})",
            )
        )
    return found


def _sweep_verdicts(cells: Cells, perturbations: Sequence[str]) -> list[Verdict]:
    """Figures 2a and 3a (uniform, fgsm), and the strong attacks against what FGSM showed."""
    names = {
        "uniform": "uniform noise (Figure 2a)",
        "fgsm": "FGSM (Figure 3a)",
        "pgd": "PGD-40 (not in the paper)",
        "autoattack": "AutoAttack (not in the paper)",
        "mnist-c": "the MNIST-C corruptions (not in the paper)",
    }
    found = []
    for model in WM_MODELS:
        fgsm = _sweep_verdict(compare(cells, model, "fgsm"))
        for perturbation in perturbations:
            comparisons = compare(cells, model, perturbation)
            verdict = _sweep_verdict(comparisons)
            if verdict == NOT_MEASURED:
                continue
            strong = perturbation in ("pgd", "autoattack")
            if strong and verdict == NOT_HELD and fgsm in (HELD, PART):
                verdict = WEAK_ONLY
            found.append(
                Verdict(
                    f"{model} keeps a lower error than {BASELINE} under "
                    f"{names.get(perturbation, perturbation)}",
                    verdict,
                    _evidence(comparisons),
                )
            )
    return found


def mse_values(cell: SeedCell) -> list[float]:
    """The seeds' activation MSEs, where finite."""
    return [v for v in cell.activation_mse.values() if v is not None]


def _activation_verdicts(cells: Cells) -> list[Verdict]:
    """Figures 2b and 3b: the WM variants' feature-layer activations move more than the CNN's."""
    found = []
    for perturbation, figure in (("uniform", "2b"), ("fgsm", "3b")):
        for model in WM_MODELS:
            pairs = _pairs(cells, model, perturbation, BASELINE)
            if not pairs:
                continue
            sides = [_separation(mse_values(cell), mse_values(base)) for cell, base in pairs]
            above, below, total = sides.count(1), sides.count(-1), len(sides)
            verdict = HELD if above == total else PART if above and not below else NOT_HELD
            found.append(
                Verdict(
                    f"{model}'s feature-layer activations change more than {BASELINE}'s under "
                    f"{perturbation} (Figure {figure})",
                    verdict,
                    f"above at {above}, below at {below} of {total} points (every seed)",
                )
            )
    return found


def claim_verdicts(cells: Cells) -> list[Verdict]:
    """Every claim the cells can judge, in the order of docs/findings.md."""
    perturbations = ["uniform", "fgsm", "pgd", "autoattack", "mnist-c"]
    return [
        *_clean_verdicts(cells),
        *_sweep_verdicts(cells, perturbations),
        *_activation_verdicts(cells),
    ]


@dataclass(frozen=True)
class CleanRow:
    """A model's clean test error over its seeds beside the paper's mean ± std (percent)."""

    model: str
    cell: SeedCell
    paper_error: float | None
    paper_std: float | None

    @property
    def within_two_sigma(self) -> bool | None:
        if self.paper_error is None or self.paper_std is None:
            return None
        return abs(100 * self.cell.mean - self.paper_error) <= 2 * self.paper_std

    @property
    def off_by(self) -> float | None:
        """Points beyond the paper's ±2σ band (0 inside it)."""
        if self.paper_error is None or self.paper_std is None:
            return None
        return max(abs(100 * self.cell.mean - self.paper_error) - 2 * self.paper_std, 0.0)


def clean_rows(cells: Cells) -> list[CleanRow]:
    rows = []
    for model in cells:
        (cell,) = cells_of(cells, model, "clean") or (None,)
        if cell is None:
            continue
        paper = get_spec(model).paper
        rows.append(
            CleanRow(
                model,
                cell,
                paper.test_error if paper else None,
                paper.test_error_std if paper else None,
            )
        )
    return rows


def warning_counts(document: ResultsDocument) -> dict[str, dict[str, int]]:
    """Per model (seeds pooled), how often each sanity or gradient-masking check fired."""
    counts: dict[str, dict[str, int]] = {}
    for warning in document.warnings:
        model, _ = model_and_seed(warning.model)
        per_model = counts.setdefault(model, {})
        per_model[warning.check] = per_model.get(warning.check, 0) + 1
    return counts


def summarise(documents: Iterable[ResultsDocument]) -> tuple[ResultsDocument, Cells]:
    """The merged document and its cells over seeds."""
    merged = merge(documents)
    return merged, over_seeds(merged)


def corruption_means(cells: Cells, perturbation: str = "mnist-c") -> dict[str, dict[int, float]]:
    """Per model, each seed's mean error over the corruptions (the paper's mean CE)."""
    means: dict[str, dict[int, float]] = {}
    for model in cells:
        per_seed: dict[int, list[float]] = {}
        for cell in cells_of(cells, model, perturbation):
            for seed, error in cell.errors.items():
                per_seed.setdefault(seed, []).append(error)
        if per_seed:
            means[model] = {seed: statistics.fmean(v) for seed, v in per_seed.items()}
    return means
