"""Benchmark rows of the MNIST-C corruptions (issue 15; Mu & Gilmer 2019, arXiv:1906.02337).

10. Each of the fifteen corruptions at MNIST-C's severity (3) on N MNIST test images (default
    10,000): wmbench's batched torch versions (``wmbench.perturbations.corruptions.corrupt``, the
    whole batch in one call) against a per-image NumPy/scipy loop written the way the reference
    repository (google-research/mnist-c ``corruptions.py``) runs (``...corruptions.reference``:
    one Python call per image, NumPy's global random state, scipy.ndimage for skimage's filters,
    array code for ImageMagick's motion blur). One row per corruption and one for the total.
    The torch side is timed as the median of 3 runs after a warm-up, the loop once (it takes
    minutes at 10,000 images). The deterministic corruptions (scale, brightness, stripe,
    canny_edges) must give the loop's images: checked with the torch versions run in float64
    (largest difference, target 1e-12; canny's edges identical) and in float32 as timed. For the
    random ones the mean pixel of both sides is printed, as a check of their distributions.

Usage: python benchmarks/corruptions.py [--images N] [--device auto|cpu|cuda] [--json OUT]

Used by ``benchmarks/run.py``; nothing here is a test: targets are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from wmbench.data import load_mnist, to_float
from wmbench.perturbations.corruptions import CORRUPTIONS, DEFAULT_SEVERITY, DETERMINISTIC, corrupt
from wmbench.perturbations.corruptions.reference import corrupt_each
from wmbench.runtime import describe_device, resolve_device

IMAGES = 10_000
RUNS = 3
TARGET = 10.0  # times faster than the loop
EXACT = 1e-12  # largest difference allowed for the deterministic ones in float64


def _duration(seconds: float) -> str:
    return f"{1e3 * seconds:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_batched(name: str, images: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Median seconds of ``corrupt`` on the whole batch, and its last output."""
    device = images.device
    corrupt(name, images[:64], DEFAULT_SEVERITY, torch.Generator(device=device).manual_seed(0))
    seconds = []
    for run in range(RUNS):
        generator = torch.Generator(device=device).manual_seed(run)
        _synchronise(device)
        start = time.perf_counter()
        out = corrupt(name, images, DEFAULT_SEVERITY, generator)
        _synchronise(device)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), out


def _time_loop(name: str, images: np.ndarray) -> tuple[float, np.ndarray]:
    np.random.seed(0)
    start = time.perf_counter()
    out = corrupt_each(name, images, DEFAULT_SEVERITY)
    return time.perf_counter() - start, out


def _agreement(name: str, images: torch.Tensor, loop: np.ndarray, single: torch.Tensor) -> dict:
    """How far the torch versions of a deterministic corruption are from the loop's images."""
    generator = torch.Generator(device=images.device)
    exact = corrupt(name, images.double(), DEFAULT_SEVERITY, generator).cpu().numpy()
    found = {
        "float64": float(np.abs(exact - loop).max()),
        "float32": float(np.abs(single.cpu().double().numpy() - loop).max()),
    }
    if name == "canny_edges":  # edges are 0 or 1: count the pixels that differ
        found["pixels_differing_float64"] = int((exact != loop).sum())
        found["pixels_differing_float32"] = int((single.cpu().double().numpy() != loop).sum())
    return found


def corruption_rows(device: torch.device, count: int = IMAGES) -> list[dict]:
    """One row per corruption and a total row: batched torch vs the per-image NumPy loop."""
    test_images = load_mnist().test_images[:count]
    images = to_float(test_images).to(device)
    grey = to_float(test_images).double().numpy()
    rows: list[dict] = []
    total_ours = total_loop = 0.0
    all_same = True
    for name in CORRUPTIONS:
        t_ours, ours = _time_batched(name, images)
        t_loop, loop = _time_loop(name, grey)
        total_ours += t_ours
        total_loop += t_loop
        ratio = t_loop / t_ours
        measured = f"{_duration(t_ours)} vs {_duration(t_loop)}"
        row: dict = {"corruption": name, "seconds": {"torch": t_ours, "loop": t_loop}}
        same = True
        if name in DETERMINISTIC:
            agreement = _agreement(name, images, loop, ours)
            same = agreement["float64"] <= EXACT
            measured += f"; max |Δ| {agreement['float64']:.0e} (float64), "
            measured += f"{agreement['float32']:.0e} (float32)"
            row["agreement"] = agreement
        else:
            mean_ours, mean_loop = float(ours.mean()), float(loop.mean())
            measured += f"; mean pixel {mean_ours:.4f} vs {mean_loop:.4f}"
            row["mean_pixel"] = {"torch": mean_ours, "loop": mean_loop}
        all_same = all_same and same
        row.update(
            row=f"10. MNIST-C {name} ({count:,} images) vs a per-image NumPy loop",
            measured=measured,
            ratio=ratio,
            target=f">= {TARGET:.0f}x" + (", same images" if name in DETERMINISTIC else ""),
            met=ratio >= TARGET and same,
        )
        rows.append(row)
    ratio = total_loop / total_ours
    rows.append(
        {
            "row": f"10. MNIST-C all 15 corruptions ({count:,} images) vs per-image NumPy loops",
            "measured": f"{_duration(total_ours)} vs {_duration(total_loop)}",
            "ratio": ratio,
            "target": f">= {TARGET:.0f}x, deterministic ones the same",
            "met": ratio >= TARGET and all_same,
            "seconds": {"torch": total_ours, "loop": total_loop},
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=IMAGES, help="MNIST test images")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (torch side)")
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    device = resolve_device(args.device)
    Console(stderr=True).print(f"timing {len(CORRUPTIONS)} corruptions on {args.images:,} images")
    rows = corruption_rows(device, args.images)
    table = Table(title=f"MNIST-C corruptions on {describe_device(device)} (torch side)")
    for column in ("benchmark", "measured", "ratio", "target", "met"):
        table.add_column(column, justify="right" if column == "ratio" else "left")
    for row in rows:
        table.add_row(
            row["row"], row["measured"], f"{row['ratio']:.1f}x", row["target"],
            "yes" if row["met"] else "NO",
        )  # fmt: skip
    Console(width=180).print(table)
    if args.json:
        document = {"device": describe_device(device), "torch": torch.__version__, "rows": rows}
        args.json.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
