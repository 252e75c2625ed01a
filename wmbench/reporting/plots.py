"""Figures drawn with matplotlib (imported lazily, Agg backend): sweep curves and Grad-CAM maps.

Sweep curves follow Amer & Maul, Figures 2 and 3: test error, and feature-layer activation MSE,
against the swept parameter (uniform-noise upper bound, FGSM ε), one panel per model family.
They are drawn from a results document (``wmbench attack --json``), so any suite with a
one-parameter sweep gets the same curves. Formats results; never computes them. matplotlib is an
optional dependency (the ``plots`` extra); without it, drawing raises :class:`PlotsUnavailable`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from wmbench._io import atomic_path
from wmbench.errors import WmbenchError
from wmbench.results import CellRow, ResultsDocument

FAMILY_ORDER = ("cnn", "resnet", "densenet")
_TITLES = {"uniform": "uniform noise upper bound", "fgsm": "FGSM ε"}


class PlotsUnavailable(WmbenchError):
    """matplotlib, which draws the figures, cannot be imported (the ``plots`` extra is missing)."""


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        missing = (error.name or "matplotlib").split(".")[0]
        what = "matplotlib is not installed"
        if missing != "matplotlib":  # installed, but something it needs is not
            what = f"matplotlib cannot be imported ({error})"
        raise PlotsUnavailable(
            f'cannot draw figures: {what}; install it with: pip install "wmbench[plots]"'
        ) from None
    return plt


def require_matplotlib() -> None:
    """Raises :class:`PlotsUnavailable` now, before a command does the work its figures need."""
    _pyplot()


def _save(figure: Any, path: Path) -> Path:
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=120, bbox_inches="tight")
    return path


def sweep_series(document: ResultsDocument) -> dict[str, dict[str, Any]]:
    """Per perturbation label with one varying parameter: its name, and for each family and
    model, the (value, error, mse) points in sweep order."""
    by_label: dict[str, list[CellRow]] = defaultdict(list)
    for row in document.results:
        by_label[row.perturbation].append(row)
    series: dict[str, dict[str, Any]] = {}
    for label, rows in by_label.items():
        varying = [
            key
            for key in rows[0].params
            if len({str(row.params.get(key)) for row in rows}) > 1
            and all(isinstance(row.params.get(key), (int, float)) for row in rows)
        ]
        if len(varying) != 1:
            continue
        (parameter,) = varying
        families: dict[str, dict[str, list[tuple[float, float, float]]]] = defaultdict(dict)
        for row in rows:
            family = document.family_of(row.model)
            family = "other" if family is None else family
            points = families[family].setdefault(row.model, [])
            points.append((row.params[parameter], row.error, row.activation_mse))
        for models in families.values():
            for points in models.values():
                points.sort()
        series[label] = {"parameter": parameter, "kind": rows[0].kind, "families": families}
    return series


def plot_sweeps(document: ResultsDocument, out_dir: str | Path) -> list[Path]:
    """Draws ``<label>-error.png`` and ``<label>-mse.png`` for every one-parameter sweep."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    written = []
    for label, sweep in sweep_series(document).items():
        families = sorted(
            sweep["families"],
            key=lambda f: FAMILY_ORDER.index(f) if f in FAMILY_ORDER else len(FAMILY_ORDER),
        )
        for metric, index, ylabel in (("error", 1, "test error (%)"), ("mse", 2, "activation MSE")):
            figure, axes = plt.subplots(
                1, len(families), figsize=(4.2 * len(families), 3.4), squeeze=False
            )
            for axis, family in zip(axes[0], families, strict=True):
                for model, points in sweep["families"][family].items():
                    xs = [point[0] for point in points]
                    ys = [point[index] * (100 if metric == "error" else 1) for point in points]
                    axis.plot(xs, ys, marker="o", label=model)
                axis.set_title(family)
                axis.set_xlabel(_TITLES.get(sweep["kind"], sweep["parameter"]))
                axis.set_ylabel(ylabel)
                axis.grid(alpha=0.3)
                axis.legend(fontsize=7)
            figure.suptitle(f"{label}: {ylabel}", y=1.03)
            written.append(_save(figure, out_dir / f"{label}-{metric}.png"))
            plt.close(figure)
    return written


def plot_grad_cams(
    rows: list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]], path: str | Path
) -> Path:
    """One row per model: each image with its Grad-CAM map overlaid and the predicted class.

    Args:
        rows: ``(label, images (N, 1, H, W), maps (N, H, W), predictions (N,))`` per model.
        path: the PNG to write.
    """
    plt = _pyplot()
    count = rows[0][1].shape[0]
    figure, axes = plt.subplots(
        len(rows) + 1, count, figsize=(1.6 * count, 1.7 * (len(rows) + 1)), squeeze=False
    )
    images = rows[0][1]
    for column in range(count):
        axes[0][column].imshow(images[column, 0].cpu().numpy(), cmap="gray")
        axes[0][column].set_title("input", fontsize=8)
    for row_index, (label, row_images, maps, predictions) in enumerate(rows, start=1):
        for column in range(count):
            axis = axes[row_index][column]
            axis.imshow(row_images[column, 0].cpu().numpy(), cmap="gray")
            axis.imshow(maps[column].cpu().numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
            axis.set_title(f"{label}: {int(predictions[column])}", fontsize=7)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Grad-CAM on the feature layer (predicted class)")
    written = _save(figure, Path(path))
    plt.close(figure)
    return written


def plot_corruption_grid(
    clean: torch.Tensor, rows: list[tuple[str, list[torch.Tensor]]], path: str | Path
) -> Path:
    """One row per corruption: the clean image, then the corrupted one at each severity.

    Args:
        clean: ``(C, H, W)`` in [0, 1].
        rows: ``(name, [image at severity 1, 2, ...])`` per corruption, each ``(C, H, W)``.
        path: the PNG to write.
    """
    plt = _pyplot()
    columns = 1 + max(len(images) for _, images in rows)
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(1.3 * columns, 1.3 * len(rows)), squeeze=False
    )

    def show(axis: Any, image: torch.Tensor) -> None:
        picture = image.detach().cpu().clamp(0, 1)
        if picture.shape[0] == 1:
            axis.imshow(picture[0].numpy(), cmap="gray", vmin=0, vmax=1)
        else:
            axis.imshow(picture.permute(1, 2, 0).numpy())

    for row, (name, images) in enumerate(rows):
        show(axes[row][0], clean)
        axes[row][0].set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
        for column, image in enumerate(images, start=1):
            show(axes[row][column], image)
            if row == 0:
                axes[row][column].set_title(f"severity {column}", fontsize=7)
    axes[0][0].set_title("clean", fontsize=7)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    written = _save(figure, Path(path))
    plt.close(figure)
    return written
