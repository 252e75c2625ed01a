"""The paper's claims and tables (wmbench.paper) on hand-made measurements, and how the
reproduction report shows them."""

from __future__ import annotations

import statistics
from types import SimpleNamespace

import pytest

from wmbench.paper import Claim, model_rows, paper_claims
from wmbench.reporting.reproduction import write_report
from wmbench.results import ResultsDocument


def document(
    errors: dict[str, dict[float, float]],
    mse: dict[str, dict[float, float]] | None = None,
    perturbation: str = "uniform",
) -> ResultsDocument:
    """A results document with one sweep: per model, error and activation MSE (a tenth of the
    error unless given) by value."""
    parameter = {"uniform": "upper", "fgsm": "eps"}[perturbation]
    rows = [
        {
            "model": model,
            "perturbation": perturbation,
            "kind": perturbation,
            "params": {parameter: value},
            "error": error,
            "activation_mse": (mse or {}).get(model, {}).get(value, error / 10),
        }
        for model, by_value in errors.items()
        for value, error in by_value.items()
    ]
    return ResultsDocument.model_validate({"results": rows})


def trained(**errors: list[float]) -> dict[str, list[dict]]:
    return {
        model.replace("_", "-"): [{"test_error": e, "history": [{}]} for e in seeds]
        for model, seeds in errors.items()
    }


NO_SWEEP = document({})


def by_text(claims: list[Claim], start: str) -> Claim:
    (claim,) = [claim for claim in claims if claim.text.startswith(start)]
    return claim


def test_clean_error_claims_of_table_2():
    training = trained(cnn_33=[0.02], wm_smooth_32=[0.010, 0.012], wm_unsharp_32=[0.009])
    claims = paper_claims(training, NO_SWEEP)
    beat = by_text(claims, "WM variants beat the FLOP-matched CNN")
    assert beat.held is True
    assert beat.values == {"cnn-33": 0.02, "wm-smooth-32": 0.011, "wm-unsharp-32": 0.009}
    assert beat.evidence == "cnn-33 2.00%, wm-smooth-32 1.10%, wm-unsharp-32 0.90%"
    assert by_text(claims, "unsharp WM beats smoothing WM").held is True

    training["wm-unsharp-32"] = [{"test_error": 0.015}]
    claims = paper_claims(training, NO_SWEEP)
    unsharp = by_text(claims, "unsharp WM beats smoothing WM")
    assert unsharp.held is False and unsharp.evidence == "1.50% vs 1.10%"
    assert by_text(claims, "WM variants beat").held is True


def test_a_claim_about_models_not_trained_is_not_made():
    assert paper_claims(trained(cnn_33=[0.02], wm_smooth_32=[0.01]), NO_SWEEP) == []


def test_sweep_claim_counts_the_points_where_the_wm_variant_is_worse():
    sweep = {"cnn-33": {0.5: 0.2, 1.0: 0.4}, "wm-smooth-32": {0.5: 0.1, 1.0: 0.5}}
    claims = paper_claims({}, document(sweep))
    claim = by_text(claims, "cnn: wm-smooth-32 keep lower error")
    assert claim.text == (
        "cnn: wm-smooth-32 keep lower error than cnn-33 under uniform noise across the sweep "
        "(Figure 2a)"
    )
    assert claim.held is False
    assert claim.values == pytest.approx({"cnn-33": 0.3, "wm-smooth-32": 0.3, "points worse": 1})
    assert claim.evidence.endswith("; worse at 1 of 2 points")

    sweep["wm-smooth-32"][1.0] = 0.3
    claim = by_text(paper_claims({}, document(sweep)), "cnn: wm-smooth-32 keep lower error")
    assert claim.held is True and "worse" not in claim.evidence


def test_activation_claim_needs_every_value():
    errors = {"cnn-33": {0.1: 0.5, 0.2: 0.7}, "wm-unsharp-32": {0.1: 0.4, 0.2: 0.6}}
    mse = {"cnn-33": {0.1: 0.01, 0.2: 0.02}, "wm-unsharp-32": {0.1: 0.05, 0.2: 0.03}}
    claims = paper_claims({}, document(errors, mse, "fgsm"))
    moved = by_text(claims, "the WM variants' feature-layer activations")
    assert moved.held is True and "under fgsm" in moved.text
    assert moved.values == pytest.approx({"cnn-33": 0.015, "wm-unsharp-32": 0.04})
    mse["wm-unsharp-32"][0.2] = 0.02  # equal is not more
    claims = paper_claims({}, document(errors, mse, "fgsm"))
    assert by_text(claims, "the WM variants' feature-layer activations").held is False


def test_the_convolutional_variant_of_table_5():
    training = trained(resnet_conv=[0.01], resnet_wm_smooth=[0.02], densenet_conv=[0.03])
    (claim,) = paper_claims(training, NO_SWEEP)  # one DenseNet variant: nothing to compare
    assert claim.held is True and claim.evidence == "resnet-conv 1.00%, resnet-wm-smooth 2.00%"
    training["resnet-wm-smooth"] = [{"test_error": 0.005}]
    (claim,) = paper_claims(training, NO_SWEEP)
    assert claim.held is False and claim.evidence.startswith("resnet-wm-smooth 0.50%")


def test_model_rows_and_the_report_that_formats_them_and_the_claims(tmp_path):
    training = {
        "cnn-33": [
            {"test_error": 0.01, "history": [{}, {}]},
            {"test_error": 0.03, "history": [{}]},
        ],
        "resnet-conv": [{"test_error": 0.02, "history": [{}]}],
    }
    cnn, resnet = model_rows(training)
    assert (cnn.model, cnn.family, cnn.params, cnn.paper_params) == (
        "cnn-33",
        "cnn",
        261_070,
        "261K",
    )
    assert cnn.mean_error == pytest.approx(0.02)
    assert cnn.std_error == pytest.approx(statistics.stdev([0.01, 0.03]))
    assert cnn.epochs == (1, 2)
    assert (resnet.family, resnet.std_error, resnet.paper_params) == ("resnet", None, None)

    claims = [
        Claim("a claim", True, {}, "1 vs 2"),
        Claim("another", False, {}, "3"),
        Claim("a third", None, {}, "—"),
    ]
    budget = SimpleNamespace(name="hand", description="made by hand")
    path = write_report(
        tmp_path / "report.md",
        budget=budget,
        rows=[cnn, resnet],
        claims=claims,
        document=NO_SWEEP,
        figures=[],
        device="cpu",
        wall_seconds=60,
    )
    report = path.read_text()
    assert f"| cnn-33 | 261,070 | 261K | {cnn.macs:,} | 2.00 ± 1.41 | 0.85 ± 0.11 | 2 × 1/2 |" in (
        report
    )
    assert "| resnet-conv | 407,234 | — |" in report and "| 2.00 (1 seed) |" in report
    assert report.index("## Table 2") < report.index("| cnn-33 |") < report.index("## Table 5")
    assert (
        "- **held** — a claim (1 vs 2)\n- **did NOT hold** — another (3)\n"
        "- **not measured** — a third (—)\n"
    ) in report
