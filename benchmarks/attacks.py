"""Benchmark rows of the attack protocols of issue 12, measured on the shipped trained cnn-33
(the attacks' work depends on the weights, so no random initialisation here).

6. AutoAttack: ``kind: autoattack`` (standard, L∞, ε = 0.1) through the suite runner against
   torchattacks' ``MultiAttack`` over APGD-CE, APGD-T, FAB-T and Square with the reference's
   settings (Croce & Hein, arXiv:2003.01690; github.com/fra31/auto-attack) and a forward pass,
   on the same MNIST test images in the same batches, timed batch by batch in alternation
   (each batch once: a batch takes seconds to minutes on a CPU). Per-image outcomes must be
   identical.
7. FGSM with the margin loss: a 10-ε sweep through the runner with ``loss: margin`` against the
   same sweep with the cross-entropy, on 2,000 MNIST test images, timed in alternation.

Used by ``benchmarks/run.py`` (``--only 6 7``); the timing policy of row 7 comes from there.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchattacks
import yaml

from wmbench.checkpoint import load_model
from wmbench.data import load_mnist, to_float
from wmbench.models.shipped import shipped_dir
from wmbench.perturbations import AutoAttackProtocol, SharedWork
from wmbench.suites import load_suite, run_suite

# Seconds per call of a piece of work (run.py's median_time at the harness's run time).
TimeCall = Callable[[Callable[[], object]], float]

AUTOATTACK_EPS = 0.1
FGSM_IMAGES = 2000


def shipped_checkpoint(name: str) -> Path:
    return shipped_dir("models") / "checkpoints" / f"{name}.safetensors"


def _write_suite(folder: Path, document: dict) -> Path:
    path = folder / f"{document['name']}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def multi_attack(model: torch.nn.Module, eps: float) -> torchattacks.MultiAttack:
    """AutoAttack standard (L∞) as a torchattacks user writes it, settings spelled out."""
    common = {"norm": "Linf", "eps": eps, "seed": 0}
    return torchattacks.MultiAttack(
        [
            torchattacks.APGD(
                model, **common, steps=100, n_restarts=1, loss="ce", eot_iter=1, rho=0.75
            ),
            torchattacks.APGDT(
                model, **common, steps=100, n_restarts=1, eot_iter=1, rho=0.75, n_classes=10
            ),
            torchattacks.FAB(
                model, **common, steps=100, n_restarts=1, multi_targeted=True, n_classes=10
            ),
            torchattacks.Square(
                model,
                **common,
                n_queries=5000,
                n_restarts=1,
                p_init=0.8,
                loss="margin",
                resc_schedule=False,
            ),
        ]
    )


def autoattack_row(device: torch.device, folder: Path, images: int, batch_size: int) -> list[dict]:
    checkpoint = shipped_checkpoint("cnn-33")
    suite = _write_suite(
        folder,
        {
            "name": "autoattack-row",
            "dataset": {"name": "mnist", "split": "test", "limit": images},
            "batch_size": batch_size,
            "seed": 0,
            "device": device.type,
            "models": {"cnn": str(checkpoint)},
            "perturbations": [
                {
                    "kind": "autoattack",
                    "eps": [AUTOATTACK_EPS],
                    "norm": "Linf",
                    "version": "standard",
                }
            ],
        },
    )
    loaded = load_suite(suite)
    mnist = load_mnist()
    x_all, y_all = to_float(mnist.test_images[:images]), mnist.test_labels[:images]
    batches = [
        (x_all[start : start + batch_size], y_all[start : start + batch_size])
        for start in range(0, images, batch_size)
    ]
    model = load_model(checkpoint, device)
    model.requires_grad_(False)  # as the runner does; FAB's backward would fill weight grads
    attack = multi_attack(model, AUTOATTACK_EPS)
    protocol = AutoAttackProtocol(eps=AUTOATTACK_EPS, norm="Linf", version="standard")
    seconds = {"ours": 0.0, "theirs": 0.0}
    runner_wrong, ours, theirs = [], [], []

    def timed(side: str, work: Callable[[], object]) -> None:
        _synchronise(device)
        start = time.perf_counter()
        work()
        _synchronise(device)
        seconds[side] += time.perf_counter() - start

    def run_ours(x: torch.Tensor, y: torch.Tensor) -> None:
        results = run_suite(loaded, images=x, labels=y, device=device.type)
        runner_wrong.append(results.cells[0].wrong)

    def run_theirs(x: torch.Tensor, y: torch.Tensor) -> None:
        x, y = x.to(device), y.to(device)
        adversarial = attack(x, y)
        with torch.no_grad():
            theirs.append(model(adversarial).argmax(1) != y)

    # Batch by batch, alternating which side goes first, so that a change in the machine's
    # load (this runs for minutes) falls on both sides alike. One batch per runner call gives
    # the batches of a whole run; its extra cost per call (model load, first-batch checks) is
    # milliseconds against seconds of attacks.
    for number, (x, y) in enumerate(batches):
        sides = [("ours", run_ours), ("theirs", run_theirs)]
        for side, run in sides if number % 2 == 0 else sides[::-1]:
            timed(side, lambda run=run, x=x, y=y: run(x, y))
        # The runner reports counts; the per-image verdicts come from the protocol it runs.
        x, y = x.to(device), y.to(device)
        ours.append(protocol.worst_case(model, x, y, SharedWork()).wrong)

    ours_wrong, theirs_wrong = torch.cat(ours), torch.cat(theirs)
    differ = int((ours_wrong != theirs_wrong).sum())
    counts_agree = [int(wrong.sum()) for wrong in ours] == runner_wrong
    t_ours, t_theirs = seconds["ours"], seconds["theirs"]
    ratio = t_ours / t_theirs
    return [
        {
            "row": f"6. AutoAttack standard L∞ ε={AUTOATTACK_EPS} ({images} images, trained "
            "cnn-33) vs torchattacks.MultiAttack",
            "measured": f"{t_ours:.1f} s vs {t_theirs:.1f} s; robust error {sum(runner_wrong)} vs "
            f"{int(theirs_wrong.sum())} of {images}; images differing: {differ}"
            + ("" if counts_agree else "; runner counts differ from the protocol's per image"),
            "ratio": ratio,
            "target": "<= 1.0x, identical per image",
            "met": ratio <= 1.0 and differ == 0 and counts_agree,
            "images_differing": differ,
        }
    ]


def fgsm_margin_row(device: torch.device, folder: Path, time_call: TimeCall) -> list[dict]:
    """Runner FGSM sweeps with the margin and the cross-entropy loss, timed in alternation."""
    checkpoint = shipped_checkpoint("cnn-33")
    eps_values = [round(0.03 * i, 2) for i in range(1, 11)]
    mnist = load_mnist()
    images, labels = to_float(mnist.test_images[:FGSM_IMAGES]), mnist.test_labels[:FGSM_IMAGES]
    errors: dict[str, dict[float, float]] = {}
    runs = {}
    for loss in ("ce", "margin"):
        entry = {"kind": "fgsm", "eps": eps_values, **({} if loss == "ce" else {"loss": loss})}
        loaded = load_suite(
            _write_suite(
                folder,
                {
                    "name": f"fgsm-{loss}",
                    "dataset": {"name": "mnist", "split": "test", "limit": FGSM_IMAGES},
                    "batch_size": 500,
                    "device": device.type,
                    "models": {"cnn": str(checkpoint)},
                    "perturbations": [entry],
                },
            )
        )

        def run(loaded=loaded, loss=loss) -> None:
            results = run_suite(loaded, images=images, labels=labels, device=device.type)
            errors[loss] = {cell.params["eps"]: cell.error for cell in results.cells}

        runs[loss] = run
    times: dict[str, list[float]] = {"ce": [], "margin": []}
    for _ in range(5):  # alternating, so that a change in the machine's load hits both alike
        for loss, run in runs.items():
            times[loss].append(time_call(run))
    t_ce, t_margin = (statistics.median(times[loss]) for loss in ("ce", "margin"))
    ce, margin = errors["ce"], errors["margin"]
    at_least = sum(margin[eps] >= ce[eps] for eps in eps_values)
    ratio = t_margin / t_ce
    return [
        {
            "row": "7. FGSM sweep (10 ε, 2,000 images, trained cnn-33) loss margin vs ce",
            "measured": f"{t_margin:.2f} s vs {t_ce:.2f} s; error at ε=0.3 "
            f"{100 * margin[0.3]:.1f}% vs {100 * ce[0.3]:.1f}%; margin >= ce at "
            f"{at_least}/{len(eps_values)} ε",
            "ratio": ratio,
            "target": "<= 1.05x",
            "met": ratio <= 1.05,
            "errors": {"eps": eps_values, "ce": list(ce.values()), "margin": list(margin.values())},
        }
    ]
