"""Gates: max_error and relative gates from the suite, regressions against a baseline file."""

from __future__ import annotations

import json

import pytest
from results_factory import make_results

from wmbench.errors import ConfigError
from wmbench.gates import compare_to_baseline, evaluate_gates
from wmbench.results import ResultsDocument


def verdict_named(verdicts, prefix):
    (verdict,) = [v for v in verdicts if v.name.startswith(prefix)]
    return verdict


def test_one_verdict_per_gate_in_suite_order():
    verdicts = evaluate_gates(make_results())
    assert [(v.kind, v.name) for v in verdicts] == [
        ("max_error", "wm fgsm eps=0.1: error <= 0.3"),
        ("relative", "wm not worse than cnn under uniform"),
    ]


def test_max_error_holds_at_equality():
    verdict = evaluate_gates(make_results())[0]  # wm fgsm eps=0.1: 300/1000 against 0.3
    assert verdict.passed and verdict.margin == 0.0
    assert verdict.detail == "error 30.0% <= 30.0% (0.0 points to spare)"


def test_max_error_fails_just_above_with_its_margin():
    verdict = evaluate_gates(make_results({("wm", "fgsm", 0.1): 312}))[0]
    assert not verdict.passed
    assert verdict.margin == pytest.approx(-0.012)
    assert verdict.detail == "error 31.2% > 30.0% (over by 1.2 points)"


def test_max_error_judges_the_named_cell_only():
    # eps=0.2 is far above the bound, but the gate names eps=0.1.
    verdict = evaluate_gates(make_results({("wm", "fgsm", 0.1): 250}))[0]
    assert verdict.passed and verdict.margin == pytest.approx(0.05)


def test_max_error_without_a_measurement_fails():
    verdict = evaluate_gates(make_results({("wm", "fgsm", 0.1): -1}))[0]
    assert not verdict.passed and verdict.detail == "no measurement" and verdict.margin < 0


def test_relative_fails_at_one_point_and_names_it():
    verdict = evaluate_gates(make_results())[1]  # wm better at upper=0.5, worse at upper=1.0
    assert not verdict.passed
    assert verdict.detail == "wm 12.0% > cnn 10.5% at upper=1.0"
    assert verdict.margin == pytest.approx(-0.015)


def test_relative_reports_the_worst_of_several_failing_points():
    verdict = evaluate_gates(make_results({("wm", "uniform", 0.5): 90}))[1]
    assert verdict.detail == "wm 9.0% > cnn 5.0% at upper=0.5 (worst of 2 failing points)"
    assert verdict.margin == pytest.approx(-0.04)


def test_relative_holds_with_ties_and_margin_is_the_closest_point():
    verdict = evaluate_gates(make_results({("wm", "uniform", 1.0): 105}))[1]
    assert verdict.passed and verdict.margin == 0.0
    assert verdict.detail == "holds at all 2 points; closest: wm 10.5% <= cnn 10.5% at upper=1.0"


def test_relative_with_a_missing_cell_fails():
    verdict = evaluate_gates(make_results({("cnn", "uniform", 0.5): -1}))[1]
    assert not verdict.passed and verdict.detail == "no measurement of cnn at upper=0.5"


def baseline_of(results):
    """The baseline a run's results file gives back (written to JSON text and read again)."""
    text = ResultsDocument.of_run(results, evaluate_gates(results)).to_json()
    return ResultsDocument.parse(json.loads(text), "baseline.json")


def test_regression_at_exactly_the_tolerance_holds_and_above_fails():
    # 0.08 - 0.07 is 0.010000000000000009 in floating point: still "exactly" one point.
    baseline = baseline_of(make_results({("cnn", "fgsm", 0.1): 70}))
    at = compare_to_baseline(make_results({("cnn", "fgsm", 0.1): 80}), baseline, tolerance=0.01)
    verdict = verdict_named(at, "regression: cnn fgsm eps=0.1")
    assert verdict.passed and verdict.margin == 0.0 and verdict.kind == "regression"
    assert verdict.detail == "error 7.0% -> 8.0% (+1.0 points, tolerance 1.0 points)"

    above = compare_to_baseline(make_results({("cnn", "fgsm", 0.1): 81}), baseline, 0.01)
    verdict = verdict_named(above, "regression: cnn fgsm eps=0.1")
    assert not verdict.passed and verdict.margin == pytest.approx(-0.001)
    assert verdict.detail == "error 7.0% -> 8.1% (+1.1 points > tolerance 1.0 points)"
    assert sum(not v.passed for v in above) == 1


def test_regression_one_verdict_per_common_cell_and_improvements_pass():
    baseline = baseline_of(make_results({("wm", "uniform", 1.0): -1}))
    results = make_results({("wm", "clean", None): 2, ("cnn", "uniform", 0.5): 1000})
    verdicts = compare_to_baseline(results, baseline, tolerance=0.0)
    assert len(verdicts) == 9  # the cell missing from the baseline is ignored
    assert "regression: wm clean" in [v.name for v in verdicts]
    assert [v.name for v in verdicts if not v.passed] == ["regression: cnn uniform upper=0.5"]
    assert verdict_named(verdicts, "regression: wm clean").margin == pytest.approx(0.01)


def test_baseline_sharing_no_cell_fails():
    baseline = baseline_of(make_results())
    for row in baseline.results:
        row.model = "other"
    (verdict,) = compare_to_baseline(make_results(), baseline)
    assert not verdict.passed and verdict.kind == "regression"
    assert "shares no cell" in verdict.detail and verdict.margin < 0


def test_baseline_round_trips_through_a_file(tmp_path):
    results = make_results()
    path = ResultsDocument.of_run(results, []).write(tmp_path / "base.json")
    verdicts = compare_to_baseline(results, ResultsDocument.read(path), tolerance=0.02)
    assert len(verdicts) == 10 and all(v.passed for v in verdicts)
    assert {v.margin for v in verdicts} == {0.02}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ('{"format": "something.else", "version": 1, "results": []}', "not a wmbench results"),
        ("[1, 2]", "not a wmbench results"),
        ('{"format": "wmbench.results", "version": 99, "results": []}', "version 99"),
        ('{"format": "wmbench.results", "version": 1}', 'missing "results"'),
        ('{"format": "wmbench.results", "version": 1, "results": [{"model": 1}]}', "results[0]"),
    ],
)
def test_reading_results_rejects_bad_files_naming_them(tmp_path, text, message):
    path = tmp_path / "old-run.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        ResultsDocument.read(path)
    assert "old-run.json" in str(caught.value) and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_reading_a_missing_results_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.json: no such results file"):
        ResultsDocument.read(tmp_path / "nope.json")
