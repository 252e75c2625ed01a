"""Confidence-aware gates, checkpoint identity against a baseline, and the sanity checks
against false robustness."""

from __future__ import annotations

import pytest
import torch
from results_factory import SUITE, make_results

from wmbench.errors import ConfigError
from wmbench.gates import (
    check_same_checkpoints,
    checkpoint_changes,
    compare_to_baseline,
    evaluate_gates,
)
from wmbench.results import Cell, CheckpointChange, ResultsDocument
from wmbench.sanity import GradientStats, monotonic_warnings, output_warning


def gate_suite(*gates):
    return {**SUITE, "gates": list(gates)}


def test_max_error_with_confidence_fails_only_when_significant():
    gate = {"model": "wm", "perturbation": "fgsm", "eps": 0.1, "max_error": 0.30}
    noisy = make_results({("wm", "fgsm", 0.1): 31}, gate_suite(gate), n=100)
    assert not evaluate_gates(noisy)[0].passed  # 31% > 30% on 100 images
    significant = {**gate, "confidence": 0.95}
    (verdict,) = evaluate_gates(
        make_results({("wm", "fgsm", 0.1): 31}, gate_suite(significant), n=100)
    )
    assert verdict.passed and "not significantly above" in verdict.detail  # CI 22.8%–40.9%
    (verdict,) = evaluate_gates(
        make_results({("wm", "fgsm", 0.1): 45}, gate_suite(significant), n=100)
    )
    assert not verdict.passed and "significantly above" in verdict.detail  # CI 35.6%–54.8%
    assert verdict.margin == pytest.approx(0.30 - 0.3560, abs=1e-3)


def test_relative_gate_with_confidence():
    gate = {"better": "wm", "than": "cnn", "perturbation": "uniform", "confidence": 0.95}
    close = make_results(
        {("wm", "uniform", 1.0): 12, ("cnn", "uniform", 1.0): 10}, gate_suite(gate), n=100
    )
    assert evaluate_gates(close)[0].passed  # 12% vs 10% on 100 images: not significant
    far = make_results(
        {("wm", "uniform", 1.0): 30, ("cnn", "uniform", 1.0): 10}, gate_suite(gate), n=100
    )
    (verdict,) = evaluate_gates(far)
    assert not verdict.passed and "significantly" in verdict.detail


def test_regression_with_confidence(tmp_path):
    old = ResultsDocument.of_run(make_results({("wm", "fgsm", 0.1): 300}), [])
    now = make_results({("wm", "fgsm", 0.1): 330})  # +3 points on 1,000 images: noise
    assert not all(v.passed for v in compare_to_baseline(now, old, tolerance=0.01))
    assert all(v.passed for v in compare_to_baseline(now, old, 0.01, confidence=0.95))
    worse = make_results({("wm", "fgsm", 0.1): 400})  # +10 points: significant
    assert not all(v.passed for v in compare_to_baseline(worse, old, 0.01, confidence=0.95))


def test_baseline_from_other_checkpoints_is_listed_and_refused_only_on_request(tmp_path):
    results = make_results()
    baseline = ResultsDocument.of_run(results, [])
    assert checkpoint_changes(results, baseline) == []
    check_same_checkpoints(results, baseline, tmp_path / "old.json")  # same hashes: fine
    baseline.checkpoints["wm"].sha256 = "f" * 64
    assert checkpoint_changes(results, baseline) == [CheckpointChange("wm", "f" * 64, "1" * 64)]
    with pytest.raises(ConfigError, match="model 'wm' ran on another checkpoint") as error:
        check_same_checkpoints(results, baseline, tmp_path / "old.json")
    message = str(error.value)
    assert "old.json" in message and "--same-checkpoints" in message
    assert "--allow-different-checkpoints" not in message


def test_cells_carry_wilson_intervals():
    cell = Cell("wm", "fgsm", "fgsm", {"eps": 0.1}, n=263, wrong=81, activation_mse=0.0)
    assert cell.ci95 == pytest.approx((0.2553, 0.3662), abs=1e-4)
    row = ResultsDocument.of_run(make_results(), []).results[0]
    assert row.error_ci95[0] <= row.error <= row.error_ci95[1]


def test_output_that_is_not_logits_is_flagged():
    logits = torch.randn(8, 10)
    assert output_warning("m", logits) is None
    assert output_warning("m", logits.softmax(1)).check == "not_logits"
    assert "log-probabilities" in output_warning("m", logits.log_softmax(1)).message


def test_gradient_stats():
    stats = GradientStats()
    gradient = torch.randn(4, 1, 3, 3)
    gradient[:2] = 0
    stats.add(gradient)
    (warning,) = stats.warnings("m")
    assert warning.check == "zero_gradient" and "50%" in warning.message
    gradient[3, 0, 0, 0] = float("nan")
    stats.add(gradient)
    assert {w.check for w in stats.warnings("m")} == {"zero_gradient", "nan_gradient"}


def test_non_monotonic_eps_sweep_is_flagged():
    results = make_results({("wm", "fgsm", 0.2): 250})  # wm: 30.0% at 0.1, 25.0% at 0.2
    (warning,) = monotonic_warnings(results)
    assert (warning.model, warning.perturbation, warning.check) == ("wm", "fgsm", "non_monotonic")
    assert "eps=0.2 (25.0%)" in warning.message


def test_no_warnings_gate(tmp_path):
    suite = gate_suite({"no_warnings": True, "model": "wm"})
    results = make_results(suite=suite)
    assert evaluate_gates(results)[0].passed
    results.warnings = monotonic_warnings(make_results({("wm", "fgsm", 0.2): 250}))
    (verdict,) = evaluate_gates(results)
    assert not verdict.passed and "non" not in verdict.name and "eps=0.2" in verdict.detail
