"""The common-corruption summaries (mean CE, mCE and relative mCE, Hendrycks & Dietterich 2019)
against hand computations, in the results file, the terminal table and the Markdown report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from wmbench.errors import ConfigError
from wmbench.gates import evaluate_gates
from wmbench.reporting.markdown import markdown_report
from wmbench.reporting.table import corruption_table
from wmbench.results import Cell, CheckpointRecord, Results, ResultsDocument, corruption_summaries
from wmbench.schema import Suite
from wmbench.suites.loader import parse_suite

N = 100
# Wrong images out of N: (model, corruption or None for clean, severity) → count.
WRONG = {
    ("base", None, None): 2,
    ("wm", None, None): 4,
    ("base", "fog", 1): 10,
    ("base", "fog", 3): 30,
    ("wm", "fog", 1): 8,
    ("wm", "fog", 3): 16,
    ("base", "stripe", 1): 20,
    ("base", "stripe", 3): 40,
    ("wm", "stripe", 1): 30,
    ("wm", "stripe", 3): 60,
}


def _cells(wrong: dict = WRONG) -> list[Cell]:
    return [
        Cell(
            model,
            "mnist-c" if name else "clean",
            "corruption" if name else "clean",
            {"corruption": name, "severity": severity} if name else {},
            N,
            count,
            0.0,
        )
        for (model, name, severity), count in wrong.items()
    ]


def test_summaries_equal_hendrycks_definitions_by_hand():
    summaries = {s.model: s for s in corruption_summaries(_cells(), {"mnist-c": "base"})}
    wm, base = summaries["wm"], summaries["base"]
    assert wm.mean_ce == pytest.approx((0.08 + 0.16 + 0.30 + 0.60) / 4)
    # CE_fog = (0.08 + 0.16) / (0.10 + 0.30) = 0.6, CE_stripe = 0.9 / 0.6 = 1.5
    assert wm.mce == pytest.approx((0.6 + 1.5) / 2)
    # relative: fog (0.24 − 2·0.04) / (0.40 − 2·0.02) = 0.16 / 0.36; stripe (0.90 − 0.08) / 0.56
    assert wm.relative_mce == pytest.approx((0.16 / 0.36 + 0.82 / 0.56) / 2)
    assert base.mce == pytest.approx(1.0) and base.relative_mce == pytest.approx(1.0)
    assert wm.corruptions == 2 and wm.baseline == "base"


def test_without_a_baseline_only_the_mean_and_without_clean_no_relative():
    wm = {s.model: s for s in corruption_summaries(_cells(), {"mnist-c": None})}["wm"]
    assert wm.mce is None and wm.relative_mce is None and wm.mean_ce > 0
    no_clean = {key: value for key, value in WRONG.items() if key[1] is not None}
    summaries = {s.model: s for s in corruption_summaries(_cells(no_clean), {"mnist-c": "base"})}
    assert summaries["wm"].relative_mce is None and summaries["wm"].mce == pytest.approx(1.05)


def test_a_corruption_the_baseline_never_failed_is_left_out():
    wrong = {**WRONG, ("base", "fog", 1): 0, ("base", "fog", 3): 0}
    summaries = {s.model: s for s in corruption_summaries(_cells(wrong), {"mnist-c": "base"})}
    assert summaries["wm"].corruptions == 1 and summaries["wm"].mce == pytest.approx(1.5)


def _results() -> Results:
    suite = Suite.model_validate(
        {
            "name": "c",
            "models": {"base": "a.safetensors", "wm": "b.safetensors"},
            "perturbations": [
                {"kind": "clean"},
                {"kind": "corruption", "name": "mnist-c", "corruption": ["fog", "stripe"],
                 "severity": [1, 3], "baseline": "base"},
            ],
        }
    )  # fmt: skip
    return Results(
        suite=suite,
        source=Path("c.yaml"),
        cells=_cells(),
        checkpoints={
            "base": CheckpointRecord("base", Path("a.safetensors"), "0" * 64, "cnn-33"),
            "wm": CheckpointRecord("wm", Path("b.safetensors"), "1" * 64, "wm-unsharp-32"),
        },
        device="cpu",
        versions={},
        started="2025-01-01T00:00:00+00:00",
        duration_s=1.0,
    )


def test_results_file_table_and_markdown_carry_the_summary(tmp_path):
    document = ResultsDocument.of_run(_results(), [])
    data = json.loads(document.to_json())
    wm = next(row for row in data["corruption"] if row["model"] == "wm")
    assert wm["mce"] == pytest.approx(1.05) and wm["baseline"] == "base"
    document.write(tmp_path / "r.json")
    assert ResultsDocument.read(tmp_path / "r.json").corruption == document.corruption
    console = Console(record=True, width=120)
    console.print(corruption_table(_results()))
    text = console.export_text()
    assert "105.0%" in text and "mnist-c" in text
    assert "### Common corruptions" in markdown_report(document)


def test_a_suite_without_corruptions_writes_no_corruption_key():
    results = _results()
    results.cells = [cell for cell in results.cells if cell.kind == "clean"]
    results.suite = Suite.model_validate(
        {"name": "c", "models": {"base": "a"}, "perturbations": [{"kind": "clean"}]}
    )
    assert "corruption" not in json.loads(ResultsDocument.of_run(results, []).to_json())
    assert corruption_table(results) is None


def test_corruption_gates_judge_the_summaries():
    results = _results()
    results.suite = Suite.model_validate(
        {
            **results.suite.model_dump(exclude_none=True),
            "gates": [
                {"model": "wm", "perturbation": "mnist-c", "max_mce": 1.0},
                {"model": "wm", "perturbation": "mnist-c", "max_mean_ce": 0.3},
                {"model": "base", "perturbation": "mnist-c", "max_relative_mce": 1.0},
            ],
        }
    )
    verdicts = evaluate_gates(results)
    assert [v.passed for v in verdicts] == [False, True, True]
    assert verdicts[0].detail == "mce 105.0% > 100.0% (over by 5.0 points)"
    assert verdicts[0].kind == "corruption"


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"model": "wm", "perturbation": "clean", "max_mce": 1.0}, "a corruption gate names"),
        ({"model": "nobody", "perturbation": "mnist-c", "max_mce": 1.0}, "'nobody'"),
        ({"model": "wm", "perturbation": "plain", "max_mce": 1.0}, "needs the entry's baseline"),
        ({"model": "wm", "perturbation": "mnist-c", "max_mce": 1, "max_mean_ce": 0}, "exactly"),
    ],
)
def test_bad_corruption_gates_are_refused(gate, message):
    document = {
        "name": "c",
        "models": {"base": "a", "wm": "b"},
        "perturbations": [
            {"kind": "clean"},
            {"kind": "corruption", "name": "mnist-c", "corruption": "fog", "baseline": "base"},
            {"kind": "corruption", "name": "plain", "corruption": "fog"},
        ],
        "gates": [gate],
    }
    with pytest.raises(ConfigError, match=message):
        parse_suite(document, "s.yaml")


def test_an_unknown_baseline_model_is_refused():
    document = {
        "name": "c",
        "models": {"base": "a"},
        "perturbations": [{"kind": "corruption", "baseline": "cnn"}],
    }
    with pytest.raises(ConfigError, match="'cnn' is not a model of the suite"):
        parse_suite(document, "s.yaml")
