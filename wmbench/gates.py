"""Results × gates × baseline → verdicts: did the robustness claims of a suite hold?

Two kinds of gate come from the suite file (``max_error``: one cell's error is at most a bound;
``relative``: one model is not worse than another at every parameter value of a perturbation);
a third compares a run with an earlier one (``regression``: no cell's error rose by more than a
tolerance). Errors are fractions in [0, 1]; margins are headroom in the same unit, >= 0 when the
verdict holds. Nothing here measures or prints.
"""

from __future__ import annotations

from pathlib import Path

from wmbench.errors import ConfigError
from wmbench.results import Results, ResultsDocument, Verdict, describe_point
from wmbench.schema import MaxErrorGate, NoWarningsGate, RelativeGate
from wmbench.stats import difference_interval, wilson_interval

# Errors are differences of fractions wrong/n; float noise in them is far below 1/n for any test
# set, so comparisons allow this much and "exactly at the bound" holds.
_EPS = 1e-9
# The margin of a verdict that failed for want of a measurement: the worst any error can be.
_UNMEASURED = -1.0


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


def check_same_checkpoints(results: Results, baseline: ResultsDocument, path: str | Path) -> None:
    """Refuses a baseline whose cells came from other checkpoints than this run's.

    Comparing error rates of different weights says nothing about a regression of the code or
    the suite; ``--allow-different-checkpoints`` skips this check when that is what is wanted.
    """
    if baseline.checkpoints is None:
        raise ConfigError("has no checkpoint identities to compare with", path)
    for label, record in results.checkpoints.items():
        before = baseline.checkpoints.get(label)
        before_hash = before.sha256 if before is not None else None
        if before_hash is not None and before_hash != record.sha256:
            raise ConfigError(
                f"model {label!r} ran on another checkpoint in the baseline (sha256 "
                f"{before_hash[:12]}…, now {record.sha256[:12]}…); pass "
                "--allow-different-checkpoints to compare anyway",
                path,
            )


def compare_to_baseline(
    results: Results,
    baseline: ResultsDocument,
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
    rows = {row.key(): row for row in baseline.results}
    verdicts = []
    for cell in results.cells:
        row = rows.get(cell.key())
        if row is None:
            continue
        before = row.exact_error
        name = f"regression: {cell.model} {cell.perturbation}"
        if cell.params:
            name += f" {describe_point(cell.params)}"
        increase = cell.error - before
        margin = tolerance - increase
        if confidence is not None and row.n is not None and row.wrong is not None:
            low, _ = difference_interval(cell.wrong, cell.n, row.wrong, row.n, confidence)
            margin = tolerance - low
        change = f"error {_percent(before)} -> {_percent(cell.error)}"
        sign = "+" if increase >= 0 else "-"
        if margin >= -_EPS:
            detail = f"{change} ({sign}{_points(increase)}, tolerance {_points(tolerance)})"
        else:
            detail = f"{change} ({sign}{_points(increase)} > tolerance {_points(tolerance)})"
        verdicts.append(_verdict(name, "regression", margin, detail))
    if not verdicts:
        name = baseline.suite.name if baseline.suite is not None else None
        where = f" (baseline suite {name!r}, this run {results.suite.name!r})" if name else ""
        detail = f"the baseline shares no cell with this run{where}"
        return [Verdict("regression: baseline", "regression", False, detail, _UNMEASURED)]
    return verdicts
