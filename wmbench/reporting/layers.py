"""A Layer Sustainability Analysis (Khalooei et al., arXiv:2202.02626) for people: a rich table
with one row per monitored layer, the line naming the most vulnerable layers, and a bar chart of
the comparison measures (matplotlib, imported lazily). Formats a
:class:`~wmbench.lsa.LayersDocument`; never computes one.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.table import Table
from rich.text import Text

from wmbench.lsa import LayersDocument
from wmbench.reporting.plots import _pyplot, _save

MVL_MARK = "◆ MVL"


def _number(value: float | None, digits: int = 4) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _interval(row_interval: list[float | None] | None) -> str:
    if not row_interval or any(value is None for value in row_interval):
        return "—"
    low, high = row_interval
    return f"{low:.4f}–{high:.4f}"


def _what(document: LayersDocument) -> str:
    """``fgsm eps=0.1``: the perturbation's kind and parameters."""
    params = {key: value for key, value in document.perturbation.items() if key != "kind"}
    return " ".join(
        [str(document.perturbation.get("kind", "")), *(f"{k}={v}" for k, v in params.items())]
    )


def layers_table(document: LayersDocument) -> Table:
    """One row per monitored layer, in forward-execution order; the MVL marked."""
    title = f"Layer sustainability: {document.checkpoint.get('model', '')} under {_what(document)}"
    caption = (
        f"CM = ‖φ(x) − φ(x̂)‖_F / ‖φ(x)‖_F over {document.n} images. Per image: mean, 95% "
        f"interval ({document.interval}), sd. LSA batch: over the whole batch tensor."
    )
    table = Table(title=title, caption=caption)
    table.add_column("layer")
    table.add_column("reads", style="dim")
    table.add_column("CM per image", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_column("sd", justify="right")
    table.add_column("CM (LSA batch)", justify="right")
    table.add_column("MVL")
    for row in document.layers:
        style = "bold red" if row.mvl else ""
        table.add_row(
            Text(row.layer, style=style),
            row.reads,
            _number(row.cm_image_mean),
            _interval(row.cm_image_ci95),
            _number(row.cm_image_std),
            Text(_number(row.cm), style=style),
            Text(MVL_MARK if row.mvl else "", style=style),
        )
    return table


def mvl_line(document: LayersDocument) -> str:
    """``MVL (η = 1.0: CM − μ > η·σ, μ = 0.1, σ = 0.05): body.layer1``."""
    names = ", ".join(document.mvl) if document.mvl else "none"
    return (
        f"MVL (η = {document.eta:g}: CM − μ > η·σ over the layers, μ = "
        f"{_number(document.cm_mean)}, σ = {_number(document.cm_std)}): {names}"
    )


def plot_layers(document: LayersDocument, path: str | Path) -> Path:
    """A bar per layer (LSA's batch CM; the MVL in red), the per-image means with their 95%
    intervals as points, and the MVL threshold μ + η·σ as a line."""
    plt = _pyplot()
    names = [row.layer for row in document.layers]
    positions = list(range(len(names)))
    figure, axis = plt.subplots(figsize=(max(4.0, 0.9 * len(names) + 2), 3.6))
    colours = ["tab:red" if row.mvl else "tab:blue" for row in document.layers]
    heights = [math.nan if row.cm is None else row.cm for row in document.layers]
    axis.bar(positions, heights, color=colours, alpha=0.75, label="CM (LSA batch form)")
    means, below, above = [], [], []
    for row in document.layers:
        mean = math.nan if row.cm_image_mean is None else row.cm_image_mean
        low, high = row.cm_image_ci95 or (None, None)
        known = low is not None and high is not None and math.isfinite(mean)
        means.append(mean)
        below.append(mean - low if known else 0.0)
        above.append(high - mean if known else 0.0)
    axis.errorbar(
        positions, means, yerr=[below, above], fmt="o", color="black", label="per-image mean, 95%"
    )
    if document.cm_mean is not None and document.cm_std is not None:
        threshold = document.cm_mean + document.eta * document.cm_std
        axis.axhline(threshold, color="tab:red", linestyle="--", label=f"μ + {document.eta:g}σ")
    axis.set_xticks(positions)
    axis.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    axis.set_ylabel("relative error")
    axis.set_title(f"{document.checkpoint.get('model', '')}: {_what(document)}", fontsize=9)
    axis.grid(alpha=0.3, axis="y")
    axis.legend(fontsize=7)
    written = _save(figure, Path(path))
    plt.close(figure)
    return written
