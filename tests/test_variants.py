"""The batchnorm and kernel-9 claims (wmbench.paper.variants) on counts whose outcome is known by
hand (10 points on 3,000 pooled images is far outside any 95% interval; equal counts tie), and a
claim whose model was not measured says which."""

from __future__ import annotations

from seed_rows import cell_row

from wmbench.paper.comparison import HELD, NOT_HELD, NOT_MEASURED, PART
from wmbench.paper.seeds import over_seeds
from wmbench.paper.variants import variant_verdicts
from wmbench.paper.verdict import claim_verdicts
from wmbench.results import ResultsDocument

# Per cell, each model's wrong count (of 1,000) for every seed; the seeds differ by ±1 image.
CELLS = {
    ("clean", ()): {
        "cnn-33": 20, "cnn-33-bn": 10, "wm-unsharp-32": 20, "wm-smooth-32": 20,
        "wm-smooth-32-k9": 40,
    },
    ("uniform", (("upper", 1.0),)): {
        "cnn-33": 500, "cnn-33-bn": 400, "wm-unsharp-32": 300, "wm-smooth-32": 400,
    },
    ("uniform", (("upper", 2.0),)): {
        "cnn-33": 600, "cnn-33-bn": 500, "wm-unsharp-32": 400, "wm-smooth-32": 600,
    },
    ("fgsm", (("eps", 0.1),)): {
        "cnn-33": 300, "cnn-33-bn": 300, "wm-unsharp-32": 200, "wm-smooth-32": 300,
    },
    ("fgsm", (("eps", 0.2),)): {
        "cnn-33": 600, "cnn-33-bn": 600, "wm-unsharp-32": 500, "wm-smooth-32": 500,
    },
}  # fmt: skip


def _rows(bn_fgsm_02: int = 600, bn_seeds: int = 3) -> list:
    rows = []
    for (perturbation, params), counts in CELLS.items():
        for model, wrong in counts.items():
            if model == "cnn-33-bn" and params == (("eps", 0.2),):
                wrong = bn_fgsm_02
            for seed in range(bn_seeds if model == "cnn-33-bn" else 3):
                label = f"{model}-s{seed}"
                rows.append(cell_row(label, perturbation, dict(params), wrong + seed - 1))
    return rows


def _cells(bn_fgsm_02: int = 600, bn_seeds: int = 3):
    return over_seeds(ResultsDocument(results=_rows(bn_fgsm_02, bn_seeds)))


def _verdicts(cells) -> dict[str, tuple[str, str]]:
    return {v.claim: (v.verdict, v.evidence) for v in variant_verdicts(cells)}


def _find(verdicts: dict[str, tuple[str, str]], start: str) -> tuple[str, str]:
    (found,) = [v for claim, v in verdicts.items() if claim.startswith(start)]
    return found


def test_batchnorm_and_kernel9_claims_follow_the_rules() -> None:
    verdicts = _verdicts(_cells())
    bn_clean = _find(verdicts, "cnn-33-bn has a lower clean test error than cnn-33 ")
    assert bn_clean[0] == HELD and bn_clean[1].endswith(", lower")
    assert _find(verdicts, "cnn-33-bn keeps a lower error than cnn-33 under uniform")[0] == HELD
    # unsharp below batchnorm at both noise points; smoothing ties at 1.0 and is above at 2.0
    unsharp = _find(verdicts, "wm-unsharp-32 keeps a lower error than cnn-33-bn under uniform")
    assert unsharp == (HELD, "2 lower, 0 tie, 0 higher of 2")
    smooth = _find(verdicts, "wm-smooth-32 keeps a lower error than cnn-33-bn under uniform")
    assert smooth == (NOT_HELD, "0 lower, 1 tie, 1 higher of 2")
    assert _find(verdicts, "wm-unsharp-32 keeps a lower error than cnn-33-bn under FGSM")[0] == HELD
    assert _find(verdicts, "wm-smooth-32 keeps a lower error than cnn-33-bn under FGSM")[0] == PART
    # batchnorm ties the CNN at both FGSM points: it does not help
    assert _find(verdicts, "cnn-33-bn is lower than cnn-33 at no point under FGSM")[0] == HELD
    k9 = _find(verdicts, "wm-smooth-32-k9 has a higher clean test error than wm-smooth-32")
    assert k9[0] == HELD and k9[1].startswith("difference +2.00 points")


def test_batchnorm_lowering_fgsm_error_somewhere_breaks_the_no_help_claim() -> None:
    verdicts = _verdicts(_cells(bn_fgsm_02=500))
    no_help = _find(verdicts, "cnn-33-bn is lower than cnn-33 at no point under FGSM")
    assert no_help == (NOT_HELD, "1 lower, 1 tie, 0 higher of 2")


def test_a_claim_whose_models_were_not_measured_names_them() -> None:
    verdicts = _verdicts(_cells())
    assert _find(verdicts, "cnn-33-k9 has a lower clean") == (
        NOT_MEASURED,
        "no results of cnn-33-k9",
    )
    assert _find(verdicts, "wm-smooth-32-bn has a lower clean") == (
        NOT_MEASURED,
        "no results of wm-smooth-32-bn",
    )
    only_main = {m: c for m, c in _cells().items() if m in ("cnn-33", "wm-smooth-32")}
    missing = _find(_verdicts(only_main), "cnn-33-bn keeps a lower error than cnn-33 under uniform")
    assert missing == (NOT_MEASURED, "no results of cnn-33-bn")
    # the verdict of every claim includes these, after the WM-against-CNN claims
    every = [v.claim for v in claim_verdicts(_cells())]
    assert every[-len(verdicts) :] == list(verdicts)
    assert not any("activations" in claim for claim in every)  # no MSE measured: no such claim


def test_a_verdict_on_fewer_seeds_than_its_baseline_says_so() -> None:
    verdicts = _verdicts(_cells(bn_seeds=1))
    clean = _find(verdicts, "cnn-33-bn has a lower clean test error than cnn-33 ")
    assert clean[0] == HELD and clean[1].endswith(", lower; seeds: cnn-33-bn 1, cnn-33 3")
    noise = _find(verdicts, "wm-unsharp-32 keeps a lower error than cnn-33-bn under uniform")
    assert noise == (HELD, "2 lower, 0 tie, 0 higher of 2; seeds: wm-unsharp-32 3, cnn-33-bn 1")
    # equal counts: no note
    k9 = _find(verdicts, "wm-smooth-32-k9 has a higher clean test error")
    assert "seeds" not in k9[1]


def _with_recipe(cosine: dict[str, dict[str, int]]):
    """The main cells plus recipe-arm rows: per model (without ``-cosine``), per cell key of
    CELLS (``"clean"``, ``"upper=1.0"``...), a wrong count."""
    rows = _rows()
    keys = {
        p if not params else f"{params[0][0]}={params[0][1]}": (p, params) for p, params in CELLS
    }
    for model, counts in cosine.items():
        for key, wrong in counts.items():
            perturbation, params = keys[key]
            rows += [
                cell_row(f"{model}-cosine-s{s}", perturbation, dict(params), wrong + s - 1)
                for s in range(3)
            ]
    return over_seeds(ResultsDocument(results=rows))


def test_the_recipe_arm_is_judged_against_its_own_protocol_and_recipe_against_recipe() -> None:
    verdicts = _verdicts(
        _with_recipe(
            {
                "cnn-33": {"clean": 20, "upper=1.0": 700, "upper=2.0": 700, "eps=0.1": 300},
                "wm-unsharp-32": {"clean": 10, "upper=1.0": 400, "upper=2.0": 700},
                "wm-smooth-32": {"clean": 30},
            }
        )
    )
    # against the paper-protocol run of the same model (cnn-33 20, wm-unsharp-32 20, smooth 20)
    assert _find(verdicts, "cnn-33-cosine has a lower clean test error than cnn-33 ")[0] == NOT_HELD
    lowered = _find(
        verdicts, "wm-unsharp-32-cosine has a lower clean test error than wm-unsharp-32"
    )
    assert lowered[0] == HELD and lowered[1].startswith("difference -1.00 points")
    raised = _find(verdicts, "wm-smooth-32-cosine has a lower clean test error than wm-smooth-32")
    assert raised[0] == NOT_HELD and raised[1].endswith(", higher")
    # recipe against recipe: the WM runs against cnn-33-cosine, not against cnn-33
    table2 = _find(verdicts, "wm-unsharp-32-cosine has a lower clean test error than cnn-33-cosine")
    assert table2[0] == HELD
    noise = _find(
        verdicts, "wm-unsharp-32-cosine keeps a lower error than cnn-33-cosine under unif"
    )
    assert noise == (PART, "1 lower, 1 tie, 0 higher of 2")
    # a cell a recipe run was not measured on names the model
    fgsm = _find(verdicts, "wm-unsharp-32-cosine keeps a lower error than cnn-33-cosine under FGSM")
    assert fgsm[0] == NOT_MEASURED
    # no recipe run measured: no recipe claims at all
    assert not [claim for claim in _verdicts(_cells()) if "cosine" in claim]
