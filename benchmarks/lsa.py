"""Benchmark row of Layer Sustainability Analysis (issue 13; Khalooei et al., arXiv:2202.02626),
measured on the shipped trained cnn-33.

8. ``wmbench layers``' analysis (``wmbench.lsa.analyse_layers``: FGSM ε = 0.1 on 1,000 MNIST test
   images in batches of 500, every layer's CM per image and in LSA's batch form) against the
   naive loop LSA's reference code suggests when one layer is watched at a time: per batch, FGSM
   (a forward and a backward pass), then for each monitored layer a hook on it and one forward
   pass of the clean and one of the perturbed images. The same layers, images and perturbation
   on both sides; the CMs must agree. Timed in alternation (median of 5 runs each), forward
   passes counted with a pre-hook on the model.

Used by ``benchmarks/run.py``; nothing here is a test: targets are printed, not asserted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from wmbench.checkpoint import load_model
from wmbench.data import load_mnist, to_float
from wmbench.lsa import analyse_layers, plan_taps
from wmbench.models.shipped import shipped_dir
from wmbench.perturbations import FgsmAttack

IMAGES = 1000
BATCH = 500
EPS = 0.1
RUNS = 5


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def naive_layer_errors(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, reads: dict[str, str]
) -> dict[str, float]:
    """LSA's batch-form CM of each layer, one hooked layer and two forward passes at a time."""
    device = next(model.parameters()).device
    difference = dict.fromkeys(reads, 0.0)
    reference = dict.fromkeys(reads, 0.0)
    attack = FgsmAttack(eps=EPS)
    for start in range(0, len(images), BATCH):
        x = images[start : start + BATCH].to(device)
        y = labels[start : start + BATCH].to(device)
        perturbed = attack(model, x, y)
        for layer, name in reads.items():
            seen: list[torch.Tensor] = []
            handle = model.get_submodule(name).register_forward_hook(
                lambda module, inputs, output, seen=seen: seen.append(output.detach())
            )
            with torch.no_grad():
                model(x)
                model(perturbed)
            handle.remove()
            clean, moved = (tensor.double() for tensor in seen)
            difference[layer] += float((clean - moved).pow(2).sum())
            reference[layer] += float(clean.pow(2).sum())
    return {layer: (difference[layer] / reference[layer]) ** 0.5 for layer in reads}


def layers_row(device: torch.device) -> list[dict]:
    model = load_model(shipped_dir("models") / "checkpoints" / "cnn-33.safetensors", device)
    model.requires_grad_(False)  # as `wmbench layers` does: attacks need input gradients only
    mnist = load_mnist()
    images, labels = to_float(mnist.test_images[:IMAGES]), mnist.test_labels[:IMAGES]
    reads = {point.layer: point.reads for point in plan_taps(model, images[:2].to(device))}
    found: dict[str, dict[str, float]] = {}

    def ours() -> None:
        analysis = analyse_layers(model, images, labels, FgsmAttack(eps=EPS), batch_size=BATCH)
        found["ours"] = analysis.cm

    def naive() -> None:
        found["naive"] = naive_layer_errors(model, images, labels, reads)

    passes: dict[str, int] = {}
    for side, work in (("ours", ours), ("naive", naive)):  # forward passes, counted once
        calls: list[int] = []
        handle = model.register_forward_pre_hook(
            lambda module, inputs, calls=calls: calls.append(1)
        )
        work()
        handle.remove()
        passes[side] = len(calls)
    seconds: dict[str, list[float]] = {"ours": [], "naive": []}
    sides: list[tuple[str, Callable[[], None]]] = [("ours", ours), ("naive", naive)]
    for run in range(RUNS):  # alternating, so a change in the machine's load hits both alike
        for side, work in sides if run % 2 == 0 else sides[::-1]:
            _synchronise(device)
            start = time.perf_counter()
            work()
            _synchronise(device)
            seconds[side].append(time.perf_counter() - start)
    t_ours, t_naive = (statistics.median(seconds[side]) for side in ("ours", "naive"))
    worst = max(
        abs(found["ours"][layer] - found["naive"][layer]) / found["naive"][layer] for layer in reads
    )
    ratio = t_ours / t_naive
    batches = -(-IMAGES // BATCH)
    return [
        {
            "row": f"8. wmbench layers (LSA, FGSM ε={EPS}, {IMAGES:,} images, {len(reads)} "
            "layers, trained cnn-33) vs one hooked layer per forward pass",
            "measured": f"{t_ours:.2f} s vs {t_naive:.2f} s; forward passes {passes['ours']} vs "
            f"{passes['naive']} ({batches} batches); largest CM difference {worst:.1e}",
            "ratio": ratio,
            "target": "<= 0.5x, same CMs (1e-5)",
            "met": ratio <= 0.5 and worst <= 1e-5,
            "forward_passes": passes,
            "seconds": seconds,
            "cm": found["ours"],
        }
    ]


if __name__ == "__main__":
    import json
    import sys

    from wmbench.runtime import resolve_device

    name = sys.argv[1] if len(sys.argv) > 1 else "auto"
    print(json.dumps(layers_row(resolve_device(name)), indent=2))
