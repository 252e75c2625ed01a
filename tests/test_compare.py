"""`wmbench compare OLD.json NEW.json`: the regression check of two results files made from
hand-built results, without running anything: exit codes 0/1/2, the cells named, the changed
checkpoints in the tables and the JSON, and the JUnit and Markdown outputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from results_factory import make_results

from wmbench.cli import run
from wmbench.results import ResultsDocument


def write(tmp_path, name, wrong=None, wm_sha=None):
    """The results file of the factory's run, with some counts (and wm's checkpoint) changed."""
    results = make_results(wrong)
    if wm_sha is not None:
        results.checkpoints["wm"].sha256 = wm_sha
    return ResultsDocument.of_run(results, []).write(tmp_path / name)


def compare(capsys, *args):
    code = run(["compare", *map(str, args)])
    return code, capsys.readouterr()


def error_lines(err):
    return [line for line in err.splitlines() if line.strip()]


def test_identical_files_hold_exit_0(tmp_path, capsys):
    old, new = write(tmp_path, "old.json"), write(tmp_path, "new.json")
    code, out = compare(capsys, old, new)
    assert code == 0, out.err
    assert out.out.count("PASS") == 10 and "FAIL" not in out.out
    assert "regression: wm fgsm eps=0.1" in out.out
    assert "10 gates: 10 passed, 0 failed" in out.err and "FAILED" not in out.err
    assert "checkpoints changed" not in out.out


def test_a_regressed_cell_exits_1_and_is_named(tmp_path, capsys):
    old = write(tmp_path, "old.json", {("wm", "fgsm", 0.1): 250, ("cnn", "clean", None): 5})
    new = write(tmp_path, "new.json")
    code, out = compare(capsys, old, new)
    assert code == 1
    failed = [line for line in out.err.splitlines() if line.startswith("FAILED")]
    assert failed == [
        "FAILED regression: wm fgsm eps=0.1: error 25.0% -> 30.0% (+5.0 points > tolerance 1.0 "
        "points)"
    ]  # cnn clean rose by 0.5 points: within the tolerance
    assert "10 gates: 9 passed, 1 failed" in out.err
    assert compare(capsys, old, new, "--tolerance", "0.05")[0] == 0


def test_confidence_forgives_a_rise_within_the_noise(tmp_path, capsys):
    old = write(tmp_path, "old.json", {("wm", "fgsm", 0.1): 280})
    new = write(tmp_path, "new.json")  # 28% -> 30% on 1,000 images: not significant
    assert compare(capsys, old, new)[0] == 1
    assert compare(capsys, old, new, "--confidence", "0.95")[0] == 0


def test_changed_checkpoints_are_listed_and_recorded(tmp_path, capsys):
    old = write(tmp_path, "old.json", wm_sha="a" * 64)
    new = write(tmp_path, "new.json")
    code, out = compare(capsys, old, new, "--json", "-")
    assert code == 0, out.err
    document = json.loads(out.out)  # stdout holds only the JSON; the tables went to stderr
    assert document["baseline"] == {
        "path": str(old),
        "checkpoints_changed": [{"model": "wm", "old_sha256": "a" * 64, "new_sha256": "1" * 64}],
    }
    assert [v["kind"] for v in document["gates"]] == ["regression"] * 10
    assert document["passed"] is True and document["suite"]["name"] == "quick"
    assert len(document["results"]) == 10
    assert "checkpoints changed since the baseline" in out.err
    assert "aaaaaaaaaaaa…" in out.err and "111111111111…" in out.err


def test_same_checkpoints_refuses_a_changed_sha256_exit_2(tmp_path, capsys):
    old = write(tmp_path, "old.json", wm_sha="a" * 64)
    new = write(tmp_path, "new.json")
    code, out = compare(capsys, old, new, "--same-checkpoints")
    (line,) = error_lines(out.err)
    assert code == 2 and out.out == ""
    assert line == (
        f"error: {old}: model 'wm' ran on another checkpoint in the baseline (sha256 "
        "aaaaaaaaaaaa…, now 111111111111…); drop --same-checkpoints to compare anyway"
    )
    assert compare(capsys, write(tmp_path, "same.json"), new, "--same-checkpoints")[0] == 0


def test_same_checkpoints_needs_identities_on_both_sides(tmp_path, capsys):
    old, new = write(tmp_path, "old.json"), tmp_path / "anonymous.json"
    document = json.loads(write(tmp_path, "n.json").read_text())
    del document["checkpoints"]
    new.write_text(json.dumps(document))
    assert compare(capsys, old, new)[0] == 0
    code, out = compare(capsys, old, new, "--same-checkpoints")
    (line,) = error_lines(out.err)
    assert code == 2 and line == f"error: {new}: has no checkpoint identities to compare with"


@pytest.mark.parametrize(
    ("spoil", "phrase"),
    [
        (lambda path: path.unlink(), "no such results file"),
        (lambda path: path.write_text("{not json"), "not JSON"),
        (lambda path: path.write_text('{"format": "wmbench.results", "version": 9}'), "version 9"),
    ],
)
@pytest.mark.parametrize("side", ["old", "new"])
def test_bad_files_exit_2_naming_them(tmp_path, capsys, spoil, phrase, side):
    paths = {"old": write(tmp_path, "old.json"), "new": write(tmp_path, "new.json")}
    spoil(paths[side])
    code, out = compare(capsys, paths["old"], paths["new"], "--json", tmp_path / "out.json")
    (line,) = error_lines(out.err)
    assert code == 2 and line.startswith(f"error: {paths[side]}: ") and phrase in line
    assert not (tmp_path / "out.json").exists()


def test_a_baseline_sharing_no_cell_fails(tmp_path, capsys):
    old = tmp_path / "other.json"
    document = json.loads(write(tmp_path, "o.json").read_text())
    for row in document["results"]:
        row["model"] = "other"
    old.write_text(json.dumps(document))
    code, out = compare(capsys, old, write(tmp_path, "new.json"))
    assert code == 1 and "FAILED regression: baseline: the baseline shares no cell" in out.err


def test_junit_and_markdown_outputs(tmp_path, capsys):
    old = write(tmp_path, "old.json", {("wm", "fgsm", 0.1): 250}, wm_sha="a" * 64)
    new = write(tmp_path, "new.json")
    junit, markdown = tmp_path / "compare.xml", tmp_path / "summary.md"
    code, out = compare(capsys, old, new, "--junit", junit, "--markdown", markdown)
    assert code == 1
    suite = ET.fromstring(junit.read_text())
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("quick", "10", "1")
    (failure,) = suite.findall("testcase/failure")
    assert failure.get("message") == "error 25.0% -> 30.0% (+5.0 points > tolerance 1.0 points)"
    text = markdown.read_text(encoding="utf-8")
    assert text.startswith("## wmbench: quick\n\n❌ 10 gates: 9 passed, 1 failed\n")
    assert "| wm | 30.00% ★ (27.2–32.9) | 50.00% ★ (46.9–53.1) |" in text  # NEW's numbers
    assert (
        "| ❌ | regression: wm fgsm eps=0.1 | error 25.0% -> 30.0% (+5.0 points > tolerance 1.0 "
        "points) |"
    ) in text
    assert text.endswith(
        "### Checkpoints changed since the baseline\n\n"
        f"`{old}`: 1 checkpoint changed.\n\n"
        "| model | old sha256 | new sha256 |\n| --- | --- | --- |\n"
        "| wm | `aaaaaaaaaaaa` | `111111111111` |\n"
    )
    code, out = compare(capsys, old, new, "--markdown", "-")
    assert code == 1 and out.out == text and "PASS" in out.err  # the table moved to stderr


def test_outputs_that_cannot_be_written_exit_2_before_reading(tmp_path, capsys):
    old, new = write(tmp_path, "old.json"), write(tmp_path, "new.json")
    code, out = compare(capsys, old, new, "--markdown", tmp_path)
    assert code == 2 and error_lines(out.err) == [
        f"error: {tmp_path}: is a folder; give a file path"
    ]
    code, out = compare(capsys, old, new, "--json", "-", "--markdown", "-")
    assert code == 2 and "cannot both write to stdout" in out.err and out.out == ""
    code, out = compare(capsys, old, new, "--tolerance", "2")
    assert code == 2 and len(error_lines(out.err)) == 1
