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
from wmbench.results import (
    BaselineRecord,
    CheckpointChange,
    Results,
    ResultsDocument,
    Verdict,
    describe_point,
    suite_summaries,
)
from wmbench.schema import CorruptionGate, MaxErrorGate, NoWarningsGate, RelativeGate
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
        elif isinstance(gate, CorruptionGate):
            verdicts.append(_corruption(results, gate))
        else:
            verdicts.append(_no_warnings(results, gate))
    return verdicts


def _corruption(results: Results, gate: CorruptionGate) -> Verdict:
    name = gate.describe()
    metric, bound = gate.bound
    summary = next(
        (
            s
            for s in suite_summaries(results.cells, results.suite)
            if s.model == gate.model and s.perturbation == gate.perturbation
        ),
        None,
    )
    value = None if summary is None else getattr(summary, metric)
    if value is None:
        return Verdict(name, "corruption", False, "no measurement", _UNMEASURED)
    margin = bound - value
    shown = f"{metric.replace('_', ' ')} {100 * value:.1f}%"
    if margin >= -_EPS:
        detail = f"{shown} <= {100 * bound:.1f}% ({100 * margin:.1f} points to spare)"
    else:
        detail = f"{shown} > {100 * bound:.1f}% (over by {-100 * margin:.1f} points)"
    return _verdict(name, "corruption", margin, detail)


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


def _document(run: Results | ResultsDocument) -> ResultsDocument:
    return run if isinstance(run, ResultsDocument) else ResultsDocument.of_run(run, [])


def checkpoint_changes(
    current: Results | ResultsDocument, baseline: ResultsDocument
) -> list[CheckpointChange]:
    """The model labels that ran on another checkpoint file in ``baseline`` than now, in this
    run's order. A label on one side only, or without a recorded sha256, is no change."""
    before = baseline.checkpoints or {}
    changes = []
    for label, entry in (_document(current).checkpoints or {}).items():
        old = before[label].sha256 if label in before else None
        if old is not None and entry.sha256 is not None and old != entry.sha256:
            changes.append(CheckpointChange(label, old, entry.sha256))
    return changes


def check_same_checkpoints(
    current: Results | ResultsDocument,
    baseline: ResultsDocument,
    path: str | Path,
    current_path: str | Path | None = None,
) -> None:
    """Refuses a baseline whose cells came from other checkpoints than ``current``'s, for those
    who gate changes of code on fixed weights (``--same-checkpoints``).

    Args:
        current: this run, or the results file of one (read from ``current_path``).
        baseline: the baseline's results file, read from ``path``.

    Raises:
        ConfigError: naming the file without checkpoint identities, or ``path`` and the first
            model whose checkpoint changed.
    """
    for document, where in ((baseline, path), (_document(current), current_path or path)):
        if document.checkpoints is None:
            raise ConfigError("has no checkpoint identities to compare with", where)
    for change in checkpoint_changes(current, baseline):
        raise ConfigError(
            f"model {change.model!r} ran on another checkpoint in the baseline (sha256 "
            f"{change.old_sha256[:12]}…, now {change.new_sha256[:12]}…); drop "
            "--same-checkpoints to compare anyway",
            path,
        )


def compare_to_baseline(
    current: Results | ResultsDocument,
    baseline: ResultsDocument,
    tolerance: float = 0.01,
    confidence: float | None = None,
) -> list[Verdict]:
    """One ``regression`` verdict per cell measured both in ``current`` (a run, or the results
    file of one) and in ``baseline``.

    Cells are matched by model label, perturbation label and parameter values; a cell fails when
    its error rose by more than ``tolerance`` (a fraction: 0.01 is one percentage point) — with
    ``confidence``, only when the lower end of the confidence interval of the rise (Newcombe) is
    above the tolerance. Cells on one side only are ignored, but a baseline that shares no cell
    with this run gives one failed verdict, so that a wrong baseline file cannot pass silently.
    """
    document = _document(current)
    rows = {row.key(): row for row in baseline.results}
    verdicts = []
    for cell in document.results:
        row = rows.get(cell.key())
        if row is None:
            continue
        before, after = row.exact_error, cell.exact_error
        name = f"regression: {cell.model} {cell.perturbation}"
        if cell.params:
            name += f" {describe_point(cell.params)}"
        increase = after - before
        margin = tolerance - increase
        if confidence is not None and cell.has_counts and row.has_counts:
            low, _ = difference_interval(cell.wrong, cell.n, row.wrong, row.n, confidence)
            margin = tolerance - low
        change = f"error {_percent(before)} -> {_percent(after)}"
        sign = "+" if increase >= 0 else "-"
        if margin >= -_EPS:
            detail = f"{change} ({sign}{_points(increase)}, tolerance {_points(tolerance)})"
        else:
            detail = f"{change} ({sign}{_points(increase)} > tolerance {_points(tolerance)})"
        verdicts.append(_verdict(name, "regression", margin, detail))
    if not verdicts:
        old, new = baseline.suite, document.suite
        old_name, new_name = old.name if old else None, new.name if new else None
        where = f" (baseline suite {old_name!r}, this run {new_name!r})" if old_name else ""
        detail = f"the baseline shares no cell with this run{where}"
        return [Verdict("regression: baseline", "regression", False, detail, _UNMEASURED)]
    return verdicts


def judge_against_baseline(
    current: Results | ResultsDocument,
    baseline: ResultsDocument,
    path: str | Path,
    tolerance: float = 0.01,
    confidence: float | None = None,
    same_checkpoints: bool = False,
    current_path: str | Path | None = None,
) -> tuple[list[Verdict], BaselineRecord]:
    """The regression verdicts of ``current`` against ``baseline`` (read from ``path``), and the
    record of that baseline for the results file: its path and the checkpoints that changed.
    With ``same_checkpoints``, a changed checkpoint is refused (:func:`check_same_checkpoints`).
    """
    if same_checkpoints:
        check_same_checkpoints(current, baseline, path, current_path)
    record = BaselineRecord(
        path=str(path), checkpoints_changed=checkpoint_changes(current, baseline)
    )
    return compare_to_baseline(current, baseline, tolerance, confidence), record
