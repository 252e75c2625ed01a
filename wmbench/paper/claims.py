"""The claims of Amer & Maul (Tables 2 and 5, Figures 2 and 3) that a reproduction can check, each
judged against our measurements: the checkpoints' test errors and the suite's results document.

A claim is checked only when the models it speaks of were trained and measured; its verdict
carries the numbers it rests on, both by name and as the line a report shows.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from wmbench.paper.tables import Training, sweep_values
from wmbench.results import ResultsDocument

_WM = ("wm-smooth-32", "wm-unsharp-32")
# Per family, the convolutional baseline and the WM variants the paper sets against it.
_FAMILIES = {
    "cnn": ("cnn-33", _WM),
    "resnet": ("resnet-conv", ("resnet-alt-smooth",)),
    "densenet": ("densenet-conv", ("densenet-alt-unsharp",)),
}


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and whether our numbers bear it out.

    Attributes:
        text: the claim, citing the table or figure that makes it.
        held: True when it held, False when it did not, None when it was not measured.
        values: the numbers behind the verdict, by name (error rates as fractions, mean
            activation MSEs, counts of sweep points).
        evidence: the same numbers as one line for humans, e.g. ``"0.71% vs 0.80%"``.
    """

    text: str
    held: bool | None
    values: dict[str, float]
    evidence: str


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def mean_test_errors(training: Training) -> dict[str, float]:
    """Per model, the mean test error of its seeds."""
    return {m: statistics.mean(r["test_error"] for r in runs) for m, runs in training.items()}


def paper_claims(training: Training, document: ResultsDocument) -> list[Claim]:
    """Each claim of the paper we can check, in the order the report lists them."""
    test = mean_test_errors(training)
    return [
        *_clean_claims(test),
        *_sweep_claims(document),
        *_activation_claims(document),
        *_batchnorm_claim(test, sweep_values(document, "fgsm")),
        *_kernel_claim(test),
        *_convolutional_claims(test),
    ]


def _clean_claims(test: dict[str, float]) -> list[Claim]:
    """Table 2: both WM variants beat cnn-33, and unsharp beats smoothing."""
    if not {"cnn-33", *_WM} <= set(test):
        return []
    cnn, smooth, unsharp = test["cnn-33"], test["wm-smooth-32"], test["wm-unsharp-32"]
    values = {"cnn-33": cnn, "wm-smooth-32": smooth, "wm-unsharp-32": unsharp}
    return [
        Claim(
            "WM variants beat the FLOP-matched CNN on clean test error (Table 2)",
            smooth < cnn and unsharp < cnn,
            values,
            ", ".join(f"{m} {_pct(e)}" for m, e in values.items()),
        ),
        Claim(
            "unsharp WM beats smoothing WM on clean error (Table 2)",
            unsharp < smooth,
            {"wm-unsharp-32": unsharp, "wm-smooth-32": smooth},
            f"{_pct(unsharp)} vs {_pct(smooth)}",
        ),
    ]


def _sweep_claims(document: ResultsDocument) -> list[Claim]:
    """Figures 2a and 3a: per family, the WM variants' error stays below the baseline's."""
    claims = []
    for name, perturbation, figure in (("uniform noise", "uniform", "2a"), ("FGSM", "fgsm", "3a")):
        sweep = sweep_values(document, perturbation)
        for family, (base, wms) in _FAMILIES.items():
            present = [w for w in wms if w in sweep]
            if base not in sweep or not present:
                continue
            worse = [
                (w, v)
                for w in present
                for v in sweep[base]
                if sweep[w].get(v, 1.0) > sweep[base][v]
            ]
            mean = {m: statistics.mean(sweep[m].values()) for m in (base, *present)}
            evidence = ", ".join(f"{m} mean {_pct(e)}" for m, e in mean.items())
            if worse:
                evidence += f"; worse at {len(worse)} of {len(present) * len(sweep[base])} points"
            claims.append(
                Claim(
                    f"{family}: {', '.join(present)} keep lower error than {base} "
                    f"under {name} across the sweep (Figure {figure})",
                    not worse,
                    {**mean, "points worse": len(worse)},
                    evidence,
                )
            )
    return claims


def _activation_claims(document: ResultsDocument) -> list[Claim]:
    """Figures 2b and 3b: the WM variants' feature-layer activations move more than cnn-33's."""
    claims = []
    for name, figure in (("uniform", "2b"), ("fgsm", "3b")):
        mse = sweep_values(document, name, "activation_mse")
        present = [m for m in _WM if m in mse]
        if "cnn-33" not in mse or not present:
            continue
        mean = {m: statistics.mean(mse[m].values()) for m in ("cnn-33", *present)}
        claims.append(
            Claim(
                f"the WM variants' feature-layer activations change more than "
                f"cnn-33's under {name} at every value (Figure {figure})",
                all(mse[m][v] > mse["cnn-33"][v] for m in present for v in mse["cnn-33"]),
                mean,
                ", ".join(f"{m} mean {value:.3g}" for m, value in mean.items()),
            )
        )
    return claims


def _batchnorm_claim(test: dict[str, float], fgsm: dict[str, dict[float, float]]) -> list[Claim]:
    """Batch normalisation lowers cnn-33's clean error but not to the WM layers' FGSM error."""
    if not ({"cnn-33", "cnn-33-bn"} <= set(test) and {"cnn-33-bn", "wm-unsharp-32"} <= set(fgsm)):
        return []
    bn, cnn = test["cnn-33-bn"], test["cnn-33"]
    bn_fgsm = statistics.mean(fgsm["cnn-33-bn"].values())
    wm_fgsm = statistics.mean(fgsm["wm-unsharp-32"].values())
    return [
        Claim(
            "batchnorm helps clean error but does not give the WM layers' FGSM robustness",
            bn < cnn and bn_fgsm > wm_fgsm,
            {
                "cnn-33-bn": bn,
                "cnn-33": cnn,
                "cnn-33-bn fgsm mean": bn_fgsm,
                "wm-unsharp-32 fgsm mean": wm_fgsm,
            },
            f"clean {_pct(bn)} vs {_pct(cnn)}; mean FGSM error "
            f"cnn-33-bn {_pct(bn_fgsm)} vs wm-unsharp-32 {_pct(wm_fgsm)}",
        )
    ]


def _kernel_claim(test: dict[str, float]) -> list[Claim]:
    """Table 2: a 9×9 kernel helps the CNN and hurts the smoothing WM network."""
    models = ("cnn-33", "cnn-33-k9", "wm-smooth-32", "wm-smooth-32-k9")
    if not set(models) <= set(test):
        return []
    cnn, cnn9, smooth, smooth9 = (test[m] for m in models)
    return [
        Claim(
            "a 9×9 kernel helps the CNN and hurts the smoothing WM network (Table 2)",
            cnn9 < cnn and smooth9 > smooth,
            {m: test[m] for m in models},
            f"cnn {_pct(cnn)} → {_pct(cnn9)}, wm-smooth {_pct(smooth)} → {_pct(smooth9)}",
        )
    ]


def _convolutional_claims(test: dict[str, float]) -> list[Claim]:
    """Table 5: in each deep family, the all-convolutional variant has the lowest clean error."""
    claims = []
    for family in ("resnet", "densenet"):
        members = sorted((m for m in test if m.startswith(f"{family}-")), key=test.__getitem__)
        if f"{family}-conv" not in members or len(members) < 2:
            continue
        claims.append(
            Claim(
                f"{family}: the all-convolutional variant has the lowest clean error (Table 5)",
                members[0] == f"{family}-conv",
                {m: test[m] for m in members},
                ", ".join(f"{m} {_pct(test[m])}" for m in members),
            )
        )
    return claims
