"""Benchmark row of `wmbench attack` under torchrun (issue 16).

11. One suite (the three shipped checkpoints; clean, uniform noise, FGSM, PGD-10 on N MNIST test
    images) run side by side, each configuration in turn, ``--repeats`` times:
    - on CPU: one process with 2 threads (``OMP_NUM_THREADS=2``) against 2 torchrun ranks with
      1 thread each, sharing batches (``--shard batches``) and sharing whole models
      (``--shard models``); target: the ranks at least 0.9× the one process's speed (no loss
      from the split). The time is the suite's own (``duration_s`` of the results file: loading
      the data and checkpoints and measuring), and the command's wall time with the start of
      the processes is printed beside it.
    - on CUDA: images/s of one GPU and, where there are several, of N GPUs (one rank each).
    The cells of every configuration are compared with the first one's (identical where the
    thread count is the same; on CPU one process with 2 threads may differ in the last bits of
    the MSE from ranks with 1, as the kernels split their sums by thread).

    And ``wmbench train cnn-33`` for 2 epochs on 6,400 images, one process against 2 ranks (the
    same global batch of 128), as training images/s (reported, no target).

Usage: python benchmarks/distributed.py [--images N] [--train-images N] [--repeats R]
       [--device auto|cpu|cuda]

Used by ``benchmarks/run.py --distributed``; nothing here is a test: targets are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from safetensors import safe_open

from wmbench.runtime import resolve_device

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.9
MEASURED = ("results", "warnings")
MODELS = ("cnn-33", "wm-smooth-32", "wm-unsharp-32")
PERTURBATIONS = [
    {"kind": "clean"},
    {"kind": "uniform", "upper": [0.5, 1.0, 2.0]},
    {"kind": "fgsm", "eps": [0.05, 0.1, 0.2, 0.3]},
    {"kind": "pgd", "eps": 0.1, "alpha": 0.01, "steps": 10},
]
CELLS = len(MODELS) * sum(
    len(p["upper"]) if "upper" in p else len(p["eps"]) if isinstance(p.get("eps"), list) else 1
    for p in PERTURBATIONS
)


def _suite(folder: Path, images: int, device: str) -> Path:
    shipped = ROOT / "models" / "checkpoints"
    suite = {
        "name": "distributed-benchmark",
        "dataset": {"name": "mnist", "split": "test", "limit": images},
        "batch_size": 250,
        "seed": 0,
        "device": device,
        "models": {name: str(shipped / f"{name}.safetensors") for name in MODELS},
        "perturbations": PERTURBATIONS,
    }
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def _env(threads: int) -> dict[str, str]:
    """This environment for a command of its own (no rank of a job) with ``threads`` threads."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "OMP_NUM_THREADS": str(threads)}


def _run(command: list[str], threads: int, out: Path) -> tuple[float, float, str]:
    """(suite seconds, wall seconds, measured cells as text) of one command."""
    env = _env(threads)
    start = time.perf_counter()
    result = subprocess.run(command + ["--json", str(out)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    document = json.loads(out.read_text())
    cells = json.dumps({key: document[key] for key in MEASURED})
    return document["duration_s"], wall, cells


def distributed_rows(device: torch.device, images: int, repeats: int = 3) -> list[dict]:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        suite = _suite(folder, images, device.type)
        attack = ["-m", "wmbench", "attack", str(suite)]

        def torchrun(ranks: int, *extra: str) -> list[str]:
            return [
                python,
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc-per-node={ranks}",
                *attack,
                *extra,
            ]

        if device.type == "cuda":
            gpus = torch.cuda.device_count()
            runs = {"1 GPU": ([python, *attack], 1)}
            if gpus > 1:
                runs[f"{gpus} GPUs"] = (torchrun(gpus), 1)
        else:
            runs = {
                "1 process × 2 threads": ([python, *attack], 2),
                "2 ranks × 1 thread, --shard batches": (torchrun(2), 1),
                "2 ranks × 1 thread, --shard models": (torchrun(2, "--shard", "models"), 1),
            }
        timings: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        cells: dict[str, str] = {}
        for _ in range(repeats):  # side by side: each configuration in turn
            for name, (command, threads) in runs.items():
                suite_s, wall_s, measured = _run(command, threads, folder / "out.json")
                timings[name].append((suite_s, wall_s))
                cells.setdefault(name, measured)
                print(f"  {name}: suite {suite_s:.1f} s, command {wall_s:.1f} s", file=sys.stderr)
    first = next(iter(runs))
    base = statistics.median(t[0] for t in timings[first])
    rows = []
    for name in runs:
        suite_s = statistics.median(t[0] for t in timings[name])
        wall_s = statistics.median(t[1] for t in timings[name])
        same = "identical cells" if cells[name] == cells[first] else "cells differ in the last bits"
        rows.append(
            {
                "row": f"11. suite under torchrun: {name}",
                "measured": f"{suite_s:.1f} s ({images * CELLS / suite_s:,.0f} image-cells/s), "
                f"command {wall_s:.1f} s; {same}",
                "ratio": base / suite_s,
                "target": "reference" if name == first else f">= {TARGET}x of the first",
                "met": name == first or base / suite_s >= TARGET,
                "suite_s": suite_s,
                "wall_s": wall_s,
                "runs": timings[name],
            }
        )
    return rows


def _train(command: list[str], threads: int, out: Path) -> float:
    """Training images/s (the optimisation steps' own time) of one ``wmbench train`` command."""
    env = _env(threads)
    out.unlink(missing_ok=True)
    result = subprocess.run(command + ["--out", str(out)], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    with safe_open(str(out), "pt") as handle:
        return json.loads(handle.metadata()["wmbench.metrics"])["images_per_second"]


def ranks_training_rows(device: torch.device, images: int, repeats: int = 3) -> list[dict]:
    """``wmbench train cnn-33`` for 2 epochs on ``images`` images: one process against 2 ranks
    (CPU: 2 threads against 2 × 1; CUDA: 1 GPU and N GPUs), the same global batch of 128."""
    python = sys.executable
    train = ["-m", "wmbench", "train", "cnn-33", "--epochs", "2", "--limit-train", str(images)]
    train += ["--device", device.type]
    launch = [python, "-m", "torch.distributed.run", "--standalone"]
    if device.type == "cuda":
        gpus = torch.cuda.device_count()
        runs = {"1 GPU": ([python, *train], 1)}
        if gpus > 1:
            runs[f"{gpus} GPUs"] = ([*launch, f"--nproc-per-node={gpus}", *train], 1)
    else:
        runs = {
            "1 process × 2 threads": ([python, *train], 2),
            "2 ranks × 1 thread": ([*launch, "--nproc-per-node=2", *train], 1),
        }
    speeds: dict[str, list[float]] = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for name, (command, threads) in runs.items():
                speeds[name].append(_train(command, threads, Path(tmp) / "model.safetensors"))
                print(f"  train {name}: {speeds[name][-1]:.0f} images/s", file=sys.stderr)
    first = next(iter(runs))
    base = statistics.median(speeds[first])
    return [
        {
            "row": f"11. training under torchrun: {name}",
            "measured": f"{statistics.median(speeds[name]):.0f} images/s (cnn-33, batch 128)",
            "ratio": statistics.median(speeds[name]) / base,
            "target": "reference" if name == first else "reported",
            "met": True,
            "images_per_second": speeds[name],
        }
        for name in runs
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=6400)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = distributed_rows(device, args.images, args.repeats)
    rows += ranks_training_rows(device, args.train_images, args.repeats)
    for row in rows:
        print(f"{row['row']}: {row['measured']}  ratio {row['ratio']:.2f}x  ({row['target']})")


if __name__ == "__main__":
    main()
