"""The tables of docs/findings.md as GitHub Markdown: the training runs (from the checkpoints'
metadata), the clean errors beside the paper's, every measured cell over seeds with its
difference from the CNN, the corruptions, the sanity warnings and the verdict on each claim
(computed by :mod:`wmbench.paper.verdict`)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from wmbench.paper.comparison import BASELINE, Cells, Verdict, compare, mse_values, point_label
from wmbench.paper.verdict import clean_rows, corruption_means


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _spread(values: Sequence[float]) -> str:
    """``mean ± std`` in percent (no ± with one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return _pct(mean)
    return f"{_pct(mean)} ± {_pct(statistics.stdev(values))}"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def training_table(runs: dict[str, dict[str, Any]]) -> str:
    """One row per checkpoint: ``runs`` maps a label to its checkpoint's metadata (with no epoch
    history, the epochs are a dash and the minutes the recorded ``metrics.seconds``)."""
    rows = []
    for label, meta in runs.items():
        metrics, train = meta["metrics"], meta["train"]
        history = metrics.get("history", [])
        seconds = sum(epoch.get("seconds", 0.0) for epoch in history) or metrics.get("seconds", 0)
        rows.append(
            [
                label,
                train["seed"],
                f"{len(history)} / {train['epochs']}" if history else "–",
                train.get("patience") or "–",
                metrics["best_epoch"],
                _pct(metrics["val_error"]),
                _pct(metrics["test_error"]),
                f"{seconds / 60:.0f}",
            ]
        )
    header = ["checkpoint", "seed", "epochs run / max", "patience", "best epoch", "val %"]
    return _table([*header, "test %", "minutes"], rows)


def clean_table(cells: Cells, architectures: Mapping[str, str] | None = None) -> str:
    rows = []
    for row in clean_rows(cells, architectures):
        low, high = row.cell.interval()
        paper = "–" if row.paper_error is None else f"{row.paper_error:.2f} ± {row.paper_std:.2f}"
        within = row.within_two_sigma
        inside = "–" if within is None else "yes" if within else f"no (by {row.off_by:.2f} points)"
        rows.append(
            [
                row.model,
                len(row.cell.errors),
                _spread(list(row.cell.errors.values())),
                f"{_pct(low)}–{_pct(high)}",
                paper,
                inside,
            ]
        )
    header = ["model", "seeds", "test error % (mean ± std)", "pooled Wilson 95%", "paper %"]
    return _table([*header, "within the paper's ±2σ"], rows)


def sweep_table(cells: Cells, perturbation: str) -> str:
    """Per point (in the order measured; only the swept parameters shown) and model: mean ± std
    over seeds, the pooled Wilson interval, and (WM rows) the difference from the CNN with
    Newcombe's interval; the activation MSE's mean ± std."""
    found = {model: [c for c in cells[model] if c.perturbation == perturbation] for model in cells}
    points: dict[str, dict[str, object]] = {}
    for model_cells in found.values():
        for cell in model_cells:
            points.setdefault(point_label(cell.params), cell.params)
    swept = {
        key
        for params in points.values()
        for key in params
        if len({repr(p.get(key)) for p in points.values()}) > 1
    }
    differences = {
        model: {c.point: c for c in compare(cells, model, perturbation, BASELINE)}
        for model in found
    }
    rows = []
    for label, params in points.items():
        shown = point_label({k: v for k, v in params.items() if k in swept}) if swept else label
        for model, model_cells in found.items():
            cell = next((c for c in model_cells if point_label(c.params) == label), None)
            if cell is None:
                continue
            difference = differences[model].get(label)
            low, high = cell.interval()
            mse = mse_values(cell)
            rows.append(
                [
                    shown,
                    model,
                    _spread(list(cell.errors.values())),
                    f"{_pct(low)}–{_pct(high)}",
                    "–"
                    if difference is None or model == BASELINE
                    else f"{100 * difference.difference:+.2f} ({100 * difference.low:+.2f}, "
                    f"{100 * difference.high:+.2f}) {difference.outcome}",
                    "–" if not mse else _mse(mse),
                ]
            )
    header = ["point", "model", "error % (mean ± std)", "pooled Wilson 95%"]
    difference = f"− {BASELINE}: pooled (Newcombe 95%), outcome (needs the seeds apart too)"
    return _table([*header, difference, "activation MSE"], rows)


def _mse(values: Sequence[float]) -> str:
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else math.nan
    return f"{mean:.4g}" if math.isnan(spread) else f"{mean:.4g} ± {spread:.2g}"


def corruption_table(cells: Cells) -> str:
    rows = [
        [model, len(per_seed), _spread(list(per_seed.values()))]
        for model, per_seed in corruption_means(cells).items()
    ]
    return _table(["model", "seeds", "mean error % over the corruptions (mean ± std)"], rows)


def warnings_table(counts: dict[str, dict[str, int]], models: Sequence[str]) -> str:
    rows = [
        [model, ", ".join(f"{check} ×{n}" for check, n in counts.get(model, {}).items()) or "none"]
        for model in models
    ]
    return _table(["model", "sanity and gradient-masking warnings (all seeds)"], rows)


def timing_table(durations: dict[str, dict[str, float]]) -> str:
    """Per checkpoint label, the wall seconds of each suite's run (``durations[label][suite]``)."""
    suites = sorted({suite for per_label in durations.values() for suite in per_label})
    rows = [
        [label, *(f"{durations[label][s]:.0f}" if s in durations[label] else "–" for s in suites)]
        for label in sorted(durations)
    ]
    return _table(["checkpoint", *suites], rows)


def verdict_table(verdicts: Sequence[Verdict]) -> str:
    return _table(
        ["claim", "verdict", "evidence"], [[v.claim, v.verdict, v.evidence] for v in verdicts]
    )
