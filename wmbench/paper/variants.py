"""The paper's batchnorm and kernel-9 claims (Amer & Maul §4.3-5, Table 2, Figures 2a and 3a) as
verdicts over seeds, by the rules of :mod:`wmbench.paper.comparison`.

Batchnorm, "inserted in all the convolutional layers just before the nonlinearity": it "boosted
the performance of both variants [CNN and WM] to nearly the same level" (Table 2: cnn-33 0.85 →
cnn-33-bn 0.73, wm-smooth-32 0.79 → wm-smooth-32-bn 0.70); it "introduces some noise robustness
relative to the vanilla CNN, however, it is not as powerful as the weight map variants"
(Figure 2a); and under FGSM it "seems not to help much" (Figure 3a), while the WM variants keep
their place below the CNN. Kernel size 9 "boosted the CNN performance, whilst degrading the weight
map network performance" (Table 2: cnn-33 0.85 → cnn-33-k9 0.70; wm-smooth-32 0.79 →
wm-smooth-32-k9 0.88).

The recipe arm (docs/findings.md: Adam's rate annealed to 0 by a cosine over 30 epochs, models
labelled ``MODEL-cosine``) asks whether the schedule closes the WM networks' clean-error gap, and
judges Table 2 and Figures 2a/3a (and MNIST-C) recipe against recipe; its claims are listed only
once a recipe run was measured.

Every claim is listed; one whose models were not measured says so (*not measured*, naming them).
"""

from __future__ import annotations

from collections.abc import Callable

from wmbench.paper.comparison import (
    BASELINE,
    HELD,
    NOT_HELD,
    NOT_MEASURED,
    WM_MODELS,
    WM_SMOOTH,
    Cells,
    Comparison,
    Verdict,
    clean_verdict,
    compare,
    sweep_evidence,
    sweep_verdict,
    unmeasured,
)

CNN, CNN_BN, CNN_K9 = BASELINE, "cnn-33-bn", "cnn-33-k9"
WM_SMOOTH_BN, WM_SMOOTH_K9 = "wm-smooth-32-bn", "wm-smooth-32-k9"
FIGURES = {
    "uniform": "uniform noise (Figure 2a)",
    "fgsm": "FGSM (Figure 3a)",
    "mnist-c": "the MNIST-C corruptions (not in the paper)",
}
RECIPE = "-cosine"  # the recipe arm's models: scripts/recipe-train's labels


def _seeds_note(cells: Cells, verdict: Verdict, *models: str) -> Verdict:
    """``verdict`` with the seed counts added to its evidence where the models' counts differ
    (a verdict on fewer seeds than the baseline's is a first look)."""
    counts = {model: len(cells[model][0].errors) for model in models if cells.get(model)}
    if verdict.verdict == NOT_MEASURED or len(set(counts.values())) < 2:
        return verdict
    seeds = ", ".join(f"{model} {n}" for model, n in counts.items())
    return Verdict(verdict.claim, verdict.verdict, f"{verdict.evidence}; seeds: {seeds}")


def _clean(cells: Cells, model: str, baseline: str, expected: str, claim: str) -> Verdict:
    verdict = clean_verdict(cells, model, baseline, expected, claim)
    return _seeds_note(cells, verdict, model, baseline)


def _judged(
    cells: Cells,
    model: str,
    baseline: str,
    perturbation: str,
    claim: str,
    judge: Callable[[list[Comparison]], str],
) -> Verdict:
    """``judge``'s verdict on ``model`` against ``baseline`` over the points of ``perturbation``,
    with the outcomes counted as evidence."""
    comparisons = compare(cells, model, perturbation, baseline)
    if not comparisons:
        return Verdict(claim, NOT_MEASURED, unmeasured(cells, perturbation, model, baseline))
    verdict = Verdict(claim, judge(comparisons), sweep_evidence(comparisons))
    return _seeds_note(cells, verdict, model, baseline)


def _sweep(cells: Cells, model: str, baseline: str, perturbation: str, claim: str) -> Verdict:
    """``model`` lower than ``baseline`` across the sweep of ``perturbation``."""
    return _judged(cells, model, baseline, perturbation, claim, sweep_verdict)


def _no_help(cells: Cells, perturbation: str, claim: str) -> Verdict:
    """Batchnorm lowers the CNN's error at no point of ``perturbation``."""

    def judge(comparisons: list[Comparison]) -> str:
        return NOT_HELD if any(c.outcome == "lower" for c in comparisons) else HELD

    return _judged(cells, CNN_BN, CNN, perturbation, claim, judge)


def batchnorm_verdicts(cells: Cells) -> list[Verdict]:
    found = [
        _clean(
            cells,
            model,
            plain,
            "lower",
            f"{model} has a lower clean test error than {plain} (Table 2: batchnorm helps)",
        )
        for model, plain in ((CNN_BN, CNN), (WM_SMOOTH_BN, WM_SMOOTH))
    ]
    found.append(
        _sweep(
            cells,
            CNN_BN,
            CNN,
            "uniform",
            f"{CNN_BN} keeps a lower error than {CNN} under {FIGURES['uniform']}: batchnorm adds "
            "some noise robustness",
        )
    )
    for perturbation in ("uniform", "fgsm"):
        for model in WM_MODELS:
            found.append(
                _sweep(
                    cells,
                    model,
                    CNN_BN,
                    perturbation,
                    f"{model} keeps a lower error than {CNN_BN} under {FIGURES[perturbation]}: "
                    "batchnorm's robustness is not as strong as WM's",
                )
            )
    found.append(
        _no_help(
            cells,
            "fgsm",
            f"{CNN_BN} is lower than {CNN} at no point under {FIGURES['fgsm']}: batchnorm does "
            "not help much against the attack",
        )
    )
    return found


def kernel9_verdicts(cells: Cells) -> list[Verdict]:
    return [
        _clean(
            cells,
            CNN_K9,
            CNN,
            "lower",
            f"{CNN_K9} has a lower clean test error than {CNN} (Table 2: kernel 9 helps the CNN)",
        ),
        _clean(
            cells,
            WM_SMOOTH_K9,
            WM_SMOOTH,
            "higher",
            f"{WM_SMOOTH_K9} has a higher clean test error than {WM_SMOOTH} (Table 2: kernel 9 "
            "hurts WM)",
        ),
    ]


def recipe_verdicts(cells: Cells) -> list[Verdict]:
    """Each model's recipe run against its paper-protocol run (clean), then the WM variants'
    recipe runs against cnn-33's (clean, uniform, FGSM, MNIST-C); empty when no recipe run was
    measured."""
    cnn = CNN + RECIPE
    pairs = [(model + RECIPE, model) for model in (CNN, *WM_MODELS)]
    if not any(cells.get(arm) for arm, _ in pairs):
        return []
    found = [
        _clean(
            cells,
            arm,
            plain,
            "lower",
            f"{arm} has a lower clean test error than {plain} (the recipe arm: the schedule "
            "lowers it)",
        )
        for arm, plain in pairs
    ]
    arms = [model + RECIPE for model in WM_MODELS]
    found += [
        _clean(
            cells,
            arm,
            cnn,
            "lower",
            f"{arm} has a lower clean test error than {cnn} (Table 2, recipe against recipe)",
        )
        for arm in arms
    ]
    for perturbation, name in FIGURES.items():
        found += [
            _sweep(
                cells,
                arm,
                cnn,
                perturbation,
                f"{arm} keeps a lower error than {cnn} under {name}, recipe against recipe",
            )
            for arm in arms
        ]
    return found


def variant_verdicts(cells: Cells) -> list[Verdict]:
    """The batchnorm claims, the kernel-9 claims, then the recipe arm's."""
    return [*batchnorm_verdicts(cells), *kernel9_verdicts(cells), *recipe_verdicts(cells)]
