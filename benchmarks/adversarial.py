"""Benchmark rows of adversarial training (``wmbench train --adversarial``), on MNIST training
images through randomly initialised copies of a zoo model (the time of an epoch does not depend
on the weights):

9. PGD-AT: one epoch through wmbench's training loop with ``--adversarial pgd`` (ε = 0.3, 10 steps
   of 2.5·ε/10) against a plain PyTorch loop over the same tensors that calls
   ``torchattacks.PGD`` with the same settings on every batch (which, like wmbench, attacks in
   eval mode and trains in train mode). Target: no slower (<= 1.0x).
9. Fast AT: one epoch with ``--adversarial fgsm-rs`` (ε = 0.3, α = 1.25·ε) against a standard
   epoch, both through wmbench's loop: two forward and backward passes a batch instead of one.
   Target: <= 2.2x.

Epochs are timed without their validation pass (``EpochStats.train_seconds``), alternating the two
sides so that a change in the machine's load falls on both alike; each figure is the median of
``repeats`` epochs. Used by ``benchmarks/run.py``; ``python benchmarks/adversarial.py`` prints the
rows as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch
import torch.nn.functional as F
import torchattacks

from wmbench.data import load_mnist, random_crop
from wmbench.models import create_model, get_spec
from wmbench.runtime import resolve_device
from wmbench.train import AdversarialConfig, PreparedData, TrainConfig, prepare_data, train_model

MODEL = "lsa-b"
EPS = 0.3
PGD = AdversarialConfig("pgd", eps=EPS)  # 10 steps of 0.075
FAST = AdversarialConfig("fgsm-rs", eps=EPS)  # one step of 0.375 from a uniform start


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _wmbench_epoch(data: PreparedData, config: TrainConfig) -> float:
    """Seconds of one epoch's optimisation through wmbench's loop."""
    return train_model(get_spec(MODEL), data, config).history[0].train_seconds


def _torchattacks_pgd_epoch(data: PreparedData, config: TrainConfig, device: torch.device) -> float:
    """Seconds of one PGD-AT epoch of a plain loop that calls torchattacks.PGD per batch."""
    torch.manual_seed(config.seed)
    model = create_model(MODEL).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    attack = torchattacks.PGD(model, eps=PGD.eps, alpha=PGD.alpha, steps=PGD.steps)
    count = len(data.train_x)
    _synchronise(device)
    start = time.perf_counter()
    model.train()
    order = torch.randperm(count, generator=generator, device=device)
    for index in range(0, count, config.batch_size):
        batch = order[index : index + config.batch_size]
        images = random_crop(data.train_x[batch], config.crop_padding, generator)
        labels = data.train_y[batch]
        adversarial = attack(images, labels)  # eval mode inside, train mode given back
        loss = F.cross_entropy(model(adversarial), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _synchronise(device)
    return time.perf_counter() - start


def _alternating(first, second, repeats: int) -> tuple[float, float]:
    """Medians of ``repeats`` calls of each, called in turn (the first side first, then not)."""
    times: tuple[list[float], list[float]] = ([], [])
    for repeat in range(repeats):
        order = [(0, first), (1, second)]
        for side, work in order if repeat % 2 == 0 else order[::-1]:
            times[side].append(work())
    return statistics.median(times[0]), statistics.median(times[1])


def adversarial_rows(device: torch.device, images: int = 6400, repeats: int = 2) -> list[dict]:
    """Row 8: PGD-AT against torchattacks.PGD in a plain loop; fast AT against a plain epoch."""
    config = TrainConfig(epochs=1, limit_train=images, device=device.type)
    data = prepare_data(load_mnist(), config, device)
    pgd, fast = (dataclasses.replace(config, adversarial=attack) for attack in (PGD, FAST))
    warm = dataclasses.replace(data, train_x=data.train_x[:256], train_y=data.train_y[:256])
    for warm_config in (config, pgd, fast):
        _wmbench_epoch(warm, warm_config)
    _torchattacks_pgd_epoch(warm, config, device)

    ours, theirs = _alternating(
        lambda: _wmbench_epoch(data, pgd),
        lambda: _torchattacks_pgd_epoch(data, config, device),
        repeats,
    )
    fast_seconds, plain_seconds = _alternating(
        lambda: _wmbench_epoch(data, fast), lambda: _wmbench_epoch(data, config), repeats
    )
    return [
        {
            "row": f"9. PGD-AT epoch {MODEL} (ε 0.3, 10 steps) vs a loop calling torchattacks.PGD",
            "measured": f"{ours:.1f} s vs {theirs:.1f} s per {images} images",
            "ratio": ours / theirs,
            "target": "<= 1.0x",
            "met": ours / theirs <= 1.0,
        },
        {
            "row": f"9. fast AT (fgsm-rs) epoch {MODEL} vs a standard epoch",
            "measured": f"{fast_seconds:.1f} s vs {plain_seconds:.1f} s per {images} images",
            "ratio": fast_seconds / plain_seconds,
            "target": "<= 2.2x",
            "met": fast_seconds / plain_seconds <= 2.2,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", type=int, default=6400)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows = adversarial_rows(resolve_device(args.device), args.images, args.repeats)
    print(json.dumps(rows, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
