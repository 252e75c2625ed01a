"""Results × gates × baseline → verdicts: did the robustness claims of a suite hold?

Two kinds of gate come from the suite file (``max_error``: one cell's error is at most a bound;
``relative``: one model is not worse than another at every parameter value of a perturbation);
a third compares a run with an earlier one (``regression``: no cell's error rose by more than a
tolerance). Errors are fractions in [0, 1]; margins are headroom in the same unit, >= 0 when the
verdict holds. Nothing here measures or prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wmbench.errors import ConfigError
from wmbench.reporting.json import FORMAT, VERSION
from wmbench.results import Results
from wmbench.stats import difference_interval, wilson_interval
from wmbench.suites.schema import MaxErrorGate, NoWarningsGate, RelativeGate, Scalar

# Errors are differences of fractions wrong/n; float noise in them is far below 1/n for any test
# set, so comparisons allow this much and "exactly at the bound" holds.
_EPS = 1e-9
# The margin of a verdict that failed for want of a measurement: the worst any error can be.
_UNMEASURED = -1.0


@dataclass
class Verdict:
    """The outcome of one gate.

    Attributes:
        name: what was checked, e.g. ``"wm fgsm eps=0.1: error <= 0.3"``.
        kind: ``"max_error"``, ``"relative"`` or ``"regression"``.
        passed: whether it held.
        detail: one line for humans, e.g. ``"error 31.2% > 30.0% (over by 1.2 points)"``.
        margin: headroom as a fraction of the test set: >= 0 held, < 0 failed by that much.
    """

    name: str
    kind: str
    passed: bool
    detail: str
    margin: float


def describe_point(params: dict[str, Scalar]) -> str:
    """``{"eps": 0.1, "steps": 20}`` → ``"eps=0.1 steps=20"`` (empty for no parameters)."""
    return " ".join(f"{key}={value}" for key, value in params.items())


def _percent(error: float) -> str:
    return f"{100 * error:.1f}%"


def _points(amount: float) -> str:
    return f"{100 * abs(amount):.1f} points"


def _verdict(name: str, kind: str, margin: float, detail: str) -> Verdict:
    margin = 0.0 if abs(margin) < _EPS else margin
    return Verdict(name=name, kind=kind, passed=margin >= 0, detail=detail, margin=margin)


def evaluate_gates(results: Results) -> list[Verdict]:
    """One verdict per gate of ``results.suite``, in the suite's order."""
    verdicts = []
    for gate in results.suite.gates:
        if isinstance(gate, MaxErrorGate):
            verdicts.append(_max_error(results, gate))
        elif isinstance(gate, RelativeGate):
            verdicts.append(_relative(results, gate))
        else:
            verdicts.append(_no_warnings(results, gate))
    return verdicts


def _no_warnings(results: Results, gate: NoWarningsGate) -> Verdict:
    fired = [w for w in results.warnings if gate.model is None or w.model == gate.model]
    if not fired:
        return Verdict(gate.describe(), "no_warnings", True, "no sanity check fired", 0.0)
    detail = f"{len(fired)} fired; first: {fired[0].model}: {fired[0].message}"
    return Verdict(gate.describe(), "no_warnings", False, detail, -float(len(fired)))


def _max_error(results: Results, gate: MaxErrorGate) -> Verdict:
    name = gate.describe()
    cells = results.find(gate.model, gate.perturbation, gate.params)
    if not cells:
        return Verdict(name, "max_error", False, "no measurement", _UNMEASURED)
    # The loader makes a gate name exactly one cell; should several match, judge the worst.
    cell = max(cells, key=lambda c: c.error)
    error = cell.error
    bound = _percent(gate.max_error)
    if gate.confidence is not None:
        # Fails only when the whole confidence interval lies above the bound.
        low, high = wilson_interval(cell.wrong, cell.n, gate.confidence)
        margin = gate.max_error - low
        interval = (
            f"{_percent(error)}, {100 * gate.confidence:g}% CI {_percent(low)}–{_percent(high)}"
        )
        if margin >= -_EPS:
            detail = f"error {interval}: not significantly above {bound}"
        else:
            detail = f"error {interval}: significantly above {bound}"
        return _verdict(name + f" (confidence {gate.confidence:g})", "max_error", margin, detail)
    margin = gate.max_error - error
    if margin >= -_EPS:
        detail = f"error {_percent(error)} <= {bound} ({_points(margin)} to spare)"
    else:
        detail = f"error {_percent(error)} > {bound} (over by {_points(margin)})"
    return _verdict(name, "max_error", margin, detail)


def _relative(results: Results, gate: RelativeGate) -> Verdict:
    name = gate.describe()
    entry = results.suite.perturbation(gate.perturbation)
    points = (
        entry.points()
        if entry is not None
        else [c.params for c in results.of_perturbation(gate.perturbation)]
    )
    worst: tuple[float, str] | None = None
    failing = 0
    for point in points:
        better = results.find(gate.better, gate.perturbation, point)
        than = results.find(gate.than, gate.perturbation, point)
        where = describe_point(point) or gate.perturbation
        if not better or not than:
            missing = gate.better if not better else gate.than
            return Verdict(
                name, "relative", False, f"no measurement of {missing} at {where}", _UNMEASURED
            )
        mine, theirs = better[0].error, than[0].error
        headroom = theirs - mine
        if gate.confidence is not None:  # worse only when significantly worse
            low, _ = difference_interval(
                better[0].wrong, better[0].n, than[0].wrong, than[0].n, gate.confidence
            )
            headroom = -low
        relation = "<=" if headroom >= -_EPS else ">"
        failing += relation == ">"
        text = f"{gate.better} {_percent(mine)} {relation} {gate.than} {_percent(theirs)}"
        if gate.confidence is not None:
            text += " (significantly)" if relation == ">" else ""
        if worst is None or headroom < worst[0]:
            worst = (headroom, f"{text} at {where}")
    if worst is None:
        return Verdict(name, "relative", False, "no measurement", _UNMEASURED)
    margin, detail = worst
    if margin >= -_EPS:
        detail = f"holds at all {len(points)} points; closest: {detail}"
    elif failing > 1:
        detail = f"{detail} (worst of {failing} failing points)"
    if gate.confidence is not None:
        name += f" (confidence {gate.confidence:g})"
    return _verdict(name, "relative", margin, detail)


def load_baseline(path: str | Path) -> dict[str, Any]:
    """Reads a results file written by :mod:`wmbench.reporting.json`, to compare a run against.

    Raises:
        ConfigError: the file is missing, not JSON, not a wmbench results file of a version
            this wmbench reads, or has no well-formed ``results`` list.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("no such baseline file", path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read baseline: {error}", path) from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"not JSON ({error.msg} at line {error.lineno})", path) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f'not a wmbench results file (no "format": {FORMAT!r})', path)
    if document.get("version") != VERSION:
        raise ConfigError(
            f"results format version {document.get('version')!r} is not supported "
            f"(this wmbench reads version {VERSION})",
            path,
        )
    rows = document.get("results")
    if not isinstance(rows, list):
        raise ConfigError('missing "results" list', path)
    for index, row in enumerate(rows):
        if not (
            isinstance(row, dict)
            and isinstance(row.get("model"), str)
            and isinstance(row.get("perturbation"), str)
            and isinstance(row.get("params"), dict)
            and isinstance(row.get("error"), (int, float))
        ):
            raise ConfigError(
                f"results[{index}]: expected model, perturbation, params and error", path
            )
    return document


def _baseline_error(row: dict[str, Any]) -> float:
    """The exact fraction when the counts are there, else the stored error."""
    n, wrong = row.get("n"), row.get("wrong")
    if isinstance(n, int) and isinstance(wrong, int) and n > 0:
        return wrong / n
    return float(row["error"])


def check_same_checkpoints(results: Results, baseline: dict[str, Any], path: str | Path) -> None:
    """Refuses a baseline whose cells came from other checkpoints than this run's.

    Comparing error rates of different weights says nothing about a regression of the code or
    the suite; ``--allow-different-checkpoints`` skips this check when that is what is wanted.
    """
    old = baseline.get("checkpoints")
    if not isinstance(old, dict):
        raise ConfigError("has no checkpoint identities to compare with", path)
    for label, record in results.checkpoints.items():
        before = old.get(label)
        before_hash = before.get("sha256") if isinstance(before, dict) else None
        if before_hash is not None and before_hash != record.sha256:
            raise ConfigError(
                f"model {label!r} ran on another checkpoint in the baseline (sha256 "
                f"{before_hash[:12]}…, now {record.sha256[:12]}…); pass "
                "--allow-different-checkpoints to compare anyway",
                path,
            )


def compare_to_baseline(
    results: Results,
    baseline: dict[str, Any],
    tolerance: float = 0.01,
    confidence: float | None = None,
) -> list[Verdict]:
    """One ``regression`` verdict per cell measured both now and in ``baseline``.

    Cells are matched by model label, perturbation label and parameter values; a cell fails when
    its error rose by more than ``tolerance`` (a fraction: 0.01 is one percentage point) — with
    ``confidence``, only when the lower end of the confidence interval of the rise (Newcombe) is
    above the tolerance. Cells on one side only are ignored, but a baseline that shares no cell
    with this run gives one failed verdict, so that a wrong baseline file cannot pass silently.
    """
    rows = {_row_key(row): row for row in baseline.get("results", [])}
    verdicts = []
    for cell in results.cells:
        row = rows.get(cell.key())
        if row is None:
            continue
        before = _baseline_error(row)
        name = f"regression: {cell.model} {cell.perturbation}"
        if cell.params:
            name += f" {describe_point(cell.params)}"
        increase = cell.error - before
        margin = tolerance - increase
        old_n, old_wrong = row.get("n"), row.get("wrong")
        if confidence is not None and isinstance(old_n, int) and isinstance(old_wrong, int):
            low, _ = difference_interval(cell.wrong, cell.n, old_wrong, old_n, confidence)
            margin = tolerance - low
        change = f"error {_percent(before)} -> {_percent(cell.error)}"
        sign = "+" if increase >= 0 else "-"
        if margin >= -_EPS:
            detail = f"{change} ({sign}{_points(increase)}, tolerance {_points(tolerance)})"
        else:
            detail = f"{change} ({sign}{_points(increase)} > tolerance {_points(tolerance)})"
        verdicts.append(_verdict(name, "regression", margin, detail))
    if not verdicts:
        suite = baseline.get("suite")
        name = suite.get("name") if isinstance(suite, dict) else None
        where = f" (baseline suite {name!r}, this run {results.suite.name!r})" if name else ""
        detail = f"the baseline shares no cell with this run{where}"
        return [Verdict("regression: baseline", "regression", False, detail, _UNMEASURED)]
    return verdicts


def _row_key(row: dict[str, Any]) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
    """The same identity as :meth:`Cell.key`, for a row of a results document."""
    return (row["model"], row["perturbation"], tuple(sorted(row["params"].items())))
