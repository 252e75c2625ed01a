"""Reporting: the results JSON, JUnit XML and rich tables format what was measured, exactly."""

from __future__ import annotations

import builtins
import io
import json
import math
import pathlib
import sys
import xml.etree.ElementTree as ET

import pytest
from pydantic_core import PydanticSerializationError
from results_factory import SUITE, make_results
from rich.console import Console

from wmbench.gates import evaluate_gates
from wmbench.reporting.junit import junit_xml, write_junit
from wmbench.reporting.markdown import markdown_report
from wmbench.reporting.plots import PlotsUnavailable, plot_sweeps
from wmbench.reporting.table import (
    BEST,
    format_cell,
    perturbation_tables,
    summary_line,
    verdict_table,
)
from wmbench.results import (
    FORMAT,
    VERSION,
    BaselineRecord,
    Cell,
    CheckpointChange,
    ResultsDocument,
    SanityWarning,
    Verdict,
)


def render(table) -> str:
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(table)
    return console.export_text()


def row_lines(text: str, model: str) -> list[str]:
    """The first line of a model's row (model name and errors; MSEs are on the next line)."""
    return [line for line in text.splitlines() if line.strip("│┃ ").startswith(model + " ")]


# --- JSON ------------------------------------------------------------------------------------


def test_document_round_trips_with_every_key():
    results = make_results()
    verdicts = evaluate_gates(results)
    document = json.loads(ResultsDocument.of_run(results, verdicts).to_json())
    assert set(document) == {
        "format", "version", "suite", "checkpoints", "versions", "device", "started",
        "duration_s", "results", "gates", "warnings", "passed",
    }  # fmt: skip
    assert (document["format"], document["version"]) == (FORMAT, VERSION) == ("wmbench.results", 1)
    assert document["suite"]["name"] == "quick" and document["suite"]["path"] == "suites/quick.yaml"
    assert document["suite"]["models"] == SUITE["models"]
    assert document["suite"]["gates"][0] == {
        "model": "wm", "perturbation": "fgsm", "max_error": 0.3, "confidence": None, "eps": 0.1,
    }  # fmt: skip
    assert document["checkpoints"]["wm"] == {
        "path": "b.safetensors", "sha256": "1" * 64, "model": "wm-unsharp-32", "family": "",
        "metrics": {},
    }  # fmt: skip
    assert document["versions"]["torch"] == "2.13.0"
    assert (document["device"], document["duration_s"]) == ("cpu", 12.5)
    assert len(document["results"]) == 10
    (row,) = [r for r in document["results"] if r["model"] == "cnn" and r.get("upper") == 1.0]
    assert row == {
        "model": "cnn", "perturbation": "uniform", "kind": "uniform", "params": {"upper": 1.0},
        "upper": 1.0, "error": 0.105, "n": 1000, "wrong": 105, "activation_mse": 105 / 8192,
        "error_ci95": pytest.approx([0.0875, 0.1255], abs=1e-4),
    }  # fmt: skip
    clean = [r for r in document["results"] if r["perturbation"] == "clean"]
    assert [r["params"] for r in clean] == [{}, {}] and clean[1]["error"] == 0.012
    assert document["gates"][1] == {
        "name": "wm not worse than cnn under uniform",
        "kind": "relative",
        "passed": False,
        "detail": "wm 12.0% > cnn 10.5% at upper=1.0",
        "margin": pytest.approx(-0.015),
    }
    assert document["passed"] is False


def test_document_passed_when_every_verdict_passed():
    results = make_results({("wm", "uniform", 1.0): 100})
    assert ResultsDocument.of_run(results, evaluate_gates(results)).passed is True
    assert ResultsDocument.of_run(results, []).passed is True


def test_non_finite_numbers_become_null():
    results = make_results()
    results.cells[0].activation_mse = math.nan
    text = ResultsDocument.of_run(results, []).to_json()
    assert "NaN" not in text and json.loads(text)["results"][0]["activation_mse"] is None


# --- JUnit -----------------------------------------------------------------------------------


def test_junit_counts_and_failure_messages():
    results = make_results()
    verdicts = evaluate_gates(results)
    xml = junit_xml(results, verdicts)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    suite = ET.fromstring(xml.encode())
    assert suite.tag == "testsuite" and suite.get("name") == "quick"
    assert (suite.get("tests"), suite.get("failures"), suite.get("time")) == ("2", "1", "12.500")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [v.name for v in verdicts]
    assert {c.get("classname") for c in cases} == {"wmbench.quick"}
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure.get("message") == "wm 12.0% > cnn 10.5% at upper=1.0"
    assert failure.get("type") == "relative"


def test_junit_escapes_and_handles_no_verdicts():
    results = make_results()
    odd = Verdict('a <b> & "c"', "max_error", False, "error 1% > 0% & <worse>", -0.01)
    suite = ET.fromstring(junit_xml(results, [odd]).encode())
    assert suite.find("testcase").get("name") == 'a <b> & "c"'
    assert suite.find("testcase/failure").get("message") == "error 1% > 0% & <worse>"
    empty = ET.fromstring(junit_xml(results, []).encode())
    assert (empty.get("tests"), empty.get("failures")) == ("0", "0")
    assert empty.findall("testcase") == []


# --- tables ----------------------------------------------------------------------------------


def test_one_table_per_perturbation_in_suite_order():
    tables = perturbation_tables(make_results())
    assert [t.title for t in tables] == ["clean", "uniform", "fgsm"]
    assert [[c.header for c in t.columns] for t in tables] == [
        ["model", "clean"],
        ["model", "upper=0.5", "upper=1.0"],
        ["model", "eps=0.1", "eps=0.2"],
    ]


def test_best_model_is_marked_in_each_column():
    tables = perturbation_tables(make_results({("wm", "clean", None): 10}))
    clean, uniform, fgsm = (render(t) for t in tables)
    # uniform: wm best at upper=0.5 (4.00%), cnn best at upper=1.0 (10.50%)
    (cnn,), (wm,) = row_lines(uniform, "cnn"), row_lines(uniform, "wm")
    assert f"10.50% {BEST}" in cnn and f"5.00% {BEST}" not in cnn and cnn.count(BEST) == 1
    assert f"4.00% {BEST}" in wm and f"12.00% {BEST}" not in wm and wm.count(BEST) == 1
    # fgsm: wm best in both columns
    assert row_lines(fgsm, "cnn")[0].count(BEST) == 0 and row_lines(fgsm, "wm")[0].count(BEST) == 2
    # clean: a tie, both marked
    assert all(f"1.00% {BEST}" in row_lines(clean, model)[0] for model in ("cnn", "wm"))
    assert "MSE 1.28e-02" in uniform  # 105 / 8192
    assert "MSE 0" in clean


def test_best_cell_is_bold_green():
    cell = Cell("wm", "fgsm", "fgsm", {"eps": 0.1}, n=3, wrong=1, activation_mse=0.001234)
    # 1 of 3 wrong: Wilson 95% interval 6.1% to 79.2%.
    assert format_cell(cell).plain == "33.33%\n6.1–79.2\nMSE 1.23e-03"
    best = format_cell(cell, best=True)
    assert best.plain == f"33.33% {BEST}\n6.1–79.2\nMSE 1.23e-03"
    assert "bold green" in {str(span.style) for span in best.spans} | {str(best.style)}


def test_missing_cells_show_a_dash_and_are_not_marked():
    (_, uniform, _) = perturbation_tables(make_results({("wm", "uniform", 1.0): -1}))
    text = render(uniform)
    assert "—" in row_lines(text, "wm")[0]
    assert f"10.50% {BEST}" not in text  # only one model measured at upper=1.0


def test_multi_parameter_points_vary_in_headers_and_constants_go_to_the_caption():
    suite = {**SUITE, "gates": [], "perturbations": [{"kind": "pgd", "eps": [0.1, 0.2]}]}
    results = make_results(suite=suite)
    results.cells = [
        Cell(model, "pgd", "pgd", {"eps": eps, "alpha": 0.01, "steps": 10}, 100, wrong, 0.0)
        for model, eps, wrong in [("cnn", 0.1, 5), ("cnn", 0.2, 9), ("wm", 0.1, 4), ("wm", 0.2, 9)]
    ]
    (table,) = perturbation_tables(results)
    assert [c.header for c in table.columns] == ["model", "eps=0.1", "eps=0.2"]
    assert table.caption == "alpha=0.01 steps=10"
    results.cells = [c for c in results.cells if c.params["eps"] == 0.1]
    (table,) = perturbation_tables(results)
    assert [c.header for c in table.columns] == ["model", "eps=0.1 alpha=0.01 steps=10"]


def test_verdict_table_and_summary():
    results = make_results()
    verdicts = evaluate_gates(results)
    text = render(verdict_table(verdicts))
    assert "PASS" in text and "FAIL" in text and "wm 12.0% > cnn 10.5% at upper=1.0" in text
    assert summary_line(verdicts) == "2 gates: 1 passed, 1 failed"
    assert summary_line(verdicts[:1]) == "1 gate: 1 passed, 0 failed"
    assert summary_line([]) == "no gates"


def test_tables_of_a_results_file_equal_those_of_the_run():
    results = make_results({("wm", "uniform", 1.0): -1})
    document = ResultsDocument.parse(json.loads(ResultsDocument.of_run(results, []).to_json()), "r")
    from_run, from_file = perturbation_tables(results), perturbation_tables(document)
    assert [render(t) for t in from_file] == [render(t) for t in from_run]


# --- Markdown --------------------------------------------------------------------------------

TINY = {
    "name": "tiny",
    "models": {"cnn": "a.safetensors", "wm": "b.safetensors"},
    "perturbations": [{"kind": "clean"}, {"kind": "fgsm", "eps": [0.1, 0.2]}],
    "gates": [
        {"model": "wm", "perturbation": "fgsm", "eps": 0.1, "max_error": 0.3},
        {"better": "wm", "than": "cnn", "perturbation": "fgsm"},
    ],
}
# Wilson 95% intervals on 100 images, from the closed formula: 1 → 0.2–5.4, 2 → 0.6–7.0,
# 25 → 17.5–34.3, 40 → 30.9–49.8, 70 → 60.4–78.1.
TINY_MARKDOWN = """\
## wmbench: tiny

❌ 2 gates: 1 passed, 1 failed

### clean

| model | clean |
| --- | ---: |
| cnn | 2.00% (0.6–7.0) |
| wm | 1.00% ★ (0.2–5.4) |

### fgsm

| model | eps=0.1 | eps=0.2 |
| --- | ---: | ---: |
| cnn | 40.00% (30.9–49.8) | 70.00% (60.4–78.1) |
| wm | 25.00% ★ (17.5–34.3) | — |

### Sanity warnings (numbers that may overstate robustness)

| model | perturbation | check | detail |
| --- | --- | --- | --- |
| wm | fgsm | non_monotonic | error \\| falls |

### Gates

|  | gate | detail |
| --- | --- | --- |
| ✅ | wm fgsm eps=0.1: error <= 0.3 | error 25.0% <= 30.0% (5.0 points to spare) |
| ❌ | wm not worse than cnn under fgsm | no measurement of wm at eps=0.2 |

### Checkpoints changed since the baseline

`old.json`: 1 checkpoint changed.

| model | old sha256 | new sha256 |
| --- | --- | --- |
| wm | `aaaaaaaaaaaa` | `111111111111` |
"""


def tiny_document() -> ResultsDocument:
    uniform = {(model, "uniform", upper): -1 for model in ("cnn", "wm") for upper in (0.5, 1.0)}
    counts = {
        ("cnn", "clean", None): 2, ("wm", "clean", None): 1, ("cnn", "fgsm", 0.1): 40,
        ("wm", "fgsm", 0.1): 25, ("cnn", "fgsm", 0.2): 70, ("wm", "fgsm", 0.2): -1,
    }  # fmt: skip
    results = make_results({**uniform, **counts}, TINY, n=100)
    results.warnings = [SanityWarning("wm", "fgsm", "non_monotonic", "error | falls")]
    change = CheckpointChange("wm", "a" * 64, "1" * 64)
    baseline = BaselineRecord(path="old.json", checkpoints_changed=[change])
    return ResultsDocument.of_run(results, evaluate_gates(results), baseline)


def test_markdown_report_exact_text():
    document = tiny_document()
    assert markdown_report(document) == TINY_MARKDOWN
    again = ResultsDocument.parse(json.loads(document.to_json()), "tiny.json")
    assert markdown_report(again) == TINY_MARKDOWN  # the same from the file


def test_markdown_without_gates_warnings_or_changes():
    document = tiny_document().model_copy(
        update={"gates": [], "warnings": [], "passed": True,
                "baseline": BaselineRecord(path="old.json")}
    )  # fmt: skip
    text = markdown_report(document)
    assert text.startswith("## wmbench: tiny\n\nno gates\n\n### clean\n")
    assert "### Gates" not in text and "Sanity warnings" not in text
    assert text.endswith("### Baseline\n\n`old.json`, on the same checkpoints.\n")


# --- figures without matplotlib --------------------------------------------------------------


def test_drawing_without_matplotlib_raises_one_typed_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    with pytest.raises(PlotsUnavailable) as caught:
        plot_sweeps(ResultsDocument.of_run(make_results(), []), tmp_path)
    assert str(caught.value) == (
        "cannot draw figures: matplotlib is not installed; "
        'install it with: pip install "wmbench[plots]"'
    )
    assert list(tmp_path.iterdir()) == []


def test_a_broken_matplotlib_install_is_told_apart(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ModuleNotFoundError("No module named 'kiwisolver'", name="kiwisolver")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(PlotsUnavailable, match=r"matplotlib cannot be imported \(No module named"):
        plot_sweeps(ResultsDocument.of_run(make_results(), []), tmp_path)


# --- atomic writes ---------------------------------------------------------------------------


def failing_write_text(self, data, *args, **kwargs):
    with open(self, "w", encoding="utf-8") as handle:
        handle.write(data[:10])  # half a file, then the disk fills up
    raise OSError("No space left on device")


@pytest.mark.parametrize("kind", ["json", "junit"])
def test_writes_are_atomic(tmp_path, monkeypatch, kind):
    results = make_results()
    document = ResultsDocument.of_run(results, [])
    path = tmp_path / f"out.{kind}"
    write = {"json": lambda: document.write(path),
             "junit": lambda: write_junit(path, junit_xml(results, []))}[kind]  # fmt: skip
    assert write() == path
    good = path.read_text(encoding="utf-8")
    assert json.loads(good) if kind == "json" else ET.fromstring(good.encode()) is not None
    monkeypatch.setattr(pathlib.Path, "write_text", failing_write_text)
    with pytest.raises(OSError, match="No space left"):
        write()
    assert path.read_text(encoding="utf-8") == good
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_unserialisable_document_leaves_the_old_file(tmp_path):
    path = ResultsDocument(results=[]).write(tmp_path / "out.json")
    good = path.read_text(encoding="utf-8")
    broken = ResultsDocument.model_construct(results=[], versions={"bad": object()})
    with pytest.raises(PydanticSerializationError):
        broken.write(path)
    assert path.read_text(encoding="utf-8") == good
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_results_file_of_the_first_release_is_read_whole():
    """docs/reproduction/results.json was written before the typed document existed (format
    version 1, without warnings or intervals): every key it has reads back to the same value."""
    path = pathlib.Path(__file__).resolve().parents[1] / "docs" / "reproduction" / "results.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    document = ResultsDocument.read(path)
    assert document.suite.name == raw["suite"]["name"] == "paper-mnist-cpu"
    assert document.family_of("wm-unsharp-32") == raw["checkpoints"]["wm-unsharp-32"]["family"]
    assert [row.key() for row in document.results] == [
        (row["model"], row["perturbation"], tuple(sorted(row["params"].items())))
        for row in raw["results"]
    ]
    again = json.loads(document.to_json())
    for key in ("format", "version", "suite", "checkpoints", "versions", "device", "gates"):
        assert again[key] == raw[key], key
    for old, new in zip(raw["results"], again["results"], strict=True):
        assert {key: new[key] for key in old} == old
        assert [key for key in new if key in old] == list(old)  # the same key order
