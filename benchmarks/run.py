"""wmbench's performance, measured side by side in one run and printed as ratios.

Usage: python benchmarks/run.py [--device cpu|cuda] [--json OUT] [--quick] [--distributed]

Rows (each a ratio of medians, timed by torch.utils.benchmark.Timer: a warm-up, then repeated
calls for at least a given number of seconds, with the accelerator synchronised):
1. WM layer vs Conv2d: forward+backward of SmoothingWeightMap2d / UnsharpWeightMap2d (32→32,
   28×28, batch 128) against Conv2d 33→33 3×3 at the same size (the paper's FLOP-matched
   baseline), and against the literal per-(c_in, c_out) form of eqs. 1–4.
2. FGSM sweep: 10 values of ε on 2,000 MNIST test images through the suite runner, against
   torchattacks.FGSM called once per ε and its output evaluated. Error rates must be identical.
3. Suite overhead: suites/quick.yaml end to end against the bare passes it needs (the same
   models, batches, attacks and forwards in plain PyTorch).
4. Training throughput: wmbench's training loop against a minimal plain-PyTorch loop over the
   same in-memory tensors; and the epoch time of the WM models against cnn-33's.
5. Peak memory of a suite run at two test-set sizes (2,000 and 10,000 images), in subprocesses.
6–7. AutoAttack against torchattacks.MultiAttack, and FGSM with the margin loss against the
   cross-entropy, on the shipped trained cnn-33 (benchmarks/attacks.py).
8. Layer Sustainability Analysis of 1,000 images (one forward pass per input, hooks) against a
   naive loop of one forward pass per layer (benchmarks/lsa.py).
9. Adversarial training epochs of lsa-b: PGD-AT against a plain loop calling torchattacks.PGD,
   and fast AT against a standard epoch (benchmarks/adversarial.py).
10. MNIST-C's fifteen corruptions on the test images, vectorised in torch, against a per-image
   numpy loop written the way the reference does it (benchmarks/corruptions.py).
11. Only with --distributed: one suite as one process against 2 torchrun ranks (CPU: 1 × 2
   threads against 2 × 1 thread; CUDA: 1 GPU and N GPUs), benchmarks/distributed.py.

Rows 1–5 use random-initialised copies of the zoo models (timing does not depend on the
weights); MNIST comes from the usual cache. Nothing here is a test: targets are printed, not
asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import torchattacks
import yaml
from adversarial import adversarial_rows
from attacks import autoattack_row, fgsm_margin_row
from corruptions import corruption_rows
from distributed import distributed_rows, ranks_training_rows
from lsa import layers_row
from rich.console import Console
from rich.table import Table
from torch.utils.benchmark import Timer

from wmbench.checkpoint import load_model, save_checkpoint
from wmbench.data import load_mnist, random_crop, to_float
from wmbench.layers import SmoothingWeightMap2d, UnsharpWeightMap2d
from wmbench.layers.reference import literal_weight_map
from wmbench.models import create_model, get_spec
from wmbench.perturbations import CwAttack, PgdAttack
from wmbench.runtime import describe_device, resolve_device, tune_allocator
from wmbench.suites import load_suite, run_suite
from wmbench.train import TrainConfig, prepare_data, train_model

ROOT = Path(__file__).resolve().parents[1]
console = Console(stderr=True)


def median_time(work: Callable[[], object], min_run_time: float) -> float:
    """Median seconds per call of ``work``, timed for at least ``min_run_time`` after a warm-up.

    A call slower than ``min_run_time`` is timed once after its warm-up call. The Timer gets
    torch's current thread count (its default is 1) so that the figures match a real run.
    """
    timer = Timer(stmt="work()", globals={"work": work}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def layer_row(device: torch.device, min_run_time: float) -> list[dict]:
    torch.manual_seed(0)
    x32 = torch.rand(128, 32, 28, 28, device=device)
    x33 = torch.rand(128, 33, 28, 28, device=device)
    conv = torch.nn.Conv2d(33, 33, 3).to(device)

    def step(layer, x, forward=None):
        forward = forward or layer
        inp = x.requires_grad_(True)
        return lambda: forward(inp).sum().backward()

    conv_time = median_time(step(conv, x33), min_run_time)
    rows = []
    for cls in (SmoothingWeightMap2d, UnsharpWeightMap2d):
        layer = cls(32, 32, 28).to(device)
        fast = median_time(step(layer, x32), min_run_time)
        literal = median_time(
            step(layer, x32, lambda inp, layer=layer: literal_weight_map(layer, inp)), min_run_time
        )
        rows.append(
            {
                "row": f"1. {cls.__name__} fwd+bwd vs Conv2d 33→33",
                "measured": f"{1e3 * fast:.1f} ms vs {1e3 * conv_time:.1f} ms",
                "ratio": fast / conv_time,
                "target": "<= 0.9x",
                "met": fast / conv_time <= 0.9,
            }
        )
        rows.append(
            {
                "row": f"1. {cls.__name__} speed-up over the literal eqs. 1–4",
                "measured": f"{1e3 * fast:.1f} ms vs {1e3 * literal:.0f} ms",
                "ratio": literal / fast,
                "target": ">= 15x",
                "met": literal / fast >= 15,
            }
        )
    return rows


def _checkpoints(folder: Path, names: list[str]) -> dict[str, Path]:
    paths = {}
    for seed, name in enumerate(names):
        torch.manual_seed(seed)
        paths[name] = save_checkpoint(folder / f"{name}.safetensors", create_model(name))
    return paths


def _suite(folder: Path, document: dict) -> Path:
    path = folder / f"{document['name']}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def fgsm_row(device: torch.device, folder: Path, min_run_time: float) -> list[dict]:
    checkpoints = _checkpoints(folder, ["cnn-33"])
    eps_values = [round(0.03 * i, 2) for i in range(1, 11)]
    suite = _suite(
        folder,
        {
            "name": "fgsm-sweep",
            "dataset": {"name": "mnist", "split": "test", "limit": 2000},
            "batch_size": 500,
            "device": device.type,
            "models": {"cnn": str(checkpoints["cnn-33"])},
            "perturbations": [{"kind": "fgsm", "eps": eps_values}],
        },
    )
    loaded = load_suite(suite)
    mnist = load_mnist()
    images, labels = to_float(mnist.test_images[:2000]), mnist.test_labels[:2000]
    model = load_model(checkpoints["cnn-33"], device)
    ours: dict[float, int] = {}
    theirs: dict[float, int] = {}

    def runner() -> None:
        results = run_suite(loaded, images=images, labels=labels, device=device.type)
        ours.update({cell.params["eps"]: cell.wrong for cell in results.cells})

    def by_hand() -> None:
        for eps in eps_values:
            attack = torchattacks.FGSM(model, eps=eps)
            wrong = 0
            for start in range(0, 2000, 500):
                x = images[start : start + 500].to(device)
                y = labels[start : start + 500].to(device)
                adversarial = attack(x, y)
                with torch.no_grad():
                    wrong += (model(adversarial).argmax(1) != y).sum().item()
            theirs[eps] = wrong

    t_ours = median_time(runner, min_run_time)
    t_theirs = median_time(by_hand, min_run_time)
    same = ours == theirs
    return [
        {
            "row": "2. FGSM sweep (10 ε, 2,000 images) vs torchattacks.FGSM per ε",
            "measured": f"{t_ours:.2f} s vs {t_theirs:.2f} s; errors identical: {same}",
            "ratio": t_theirs / t_ours,
            "target": ">= 2.5x faster, identical",
            "met": same and t_theirs / t_ours >= 2.5,
        }
    ]


def bare_passes(
    suite, models: list[torch.nn.Module], images: torch.Tensor, labels: torch.Tensor, device
) -> list[list[int]]:
    """The passes a suite of clean, uniform, FGSM, PGD and C&W cells needs, without the suite.

    Returns each model's wrong counts, one per perturbation point in the suite's order (clean
    first as the suite lists it), so the benchmark's two sides can be checked to do the same work.
    """
    generator = torch.Generator(device=device).manual_seed(0)
    counts = []
    for model in models:
        wrong: list[int] = []
        for start in range(0, len(images), suite.batch_size):
            x = images[start : start + suite.batch_size].to(device)
            y = labels[start : start + suite.batch_size].to(device)
            x_grad = x.clone().requires_grad_(True)
            logits = model(x_grad)  # one clean pass serves the gradient and the clean cell
            gradient = torch.autograd.grad(F.cross_entropy(logits, y), x_grad)[0]
            clean_wrong = int((logits.detach().argmax(1) != y).sum())
            perturbed: list[torch.Tensor | None] = []
            for entry in suite.perturbations:
                for point in entry.points():
                    if entry.kind == "clean":
                        perturbed.append(None)
                    elif entry.kind == "uniform":
                        noisy = x + point["upper"] * torch.rand(
                            x.shape, generator=generator, device=device
                        )
                        low = noisy.amin((1, 2, 3), keepdim=True)
                        high = noisy.amax((1, 2, 3), keepdim=True)
                        perturbed.append((noisy - low) / (high - low))
                    elif entry.kind == "fgsm":
                        perturbed.append((x + point["eps"] * gradient.sign()).clamp(0, 1))
                    elif entry.kind == "pgd":
                        perturbed.append(PgdAttack(**point)(model, x, y))
                    elif entry.kind == "cw":
                        perturbed.append(CwAttack(**point)(model, x, y))
            with torch.no_grad():
                batch_wrong = [
                    clean_wrong if b is None else int((model(b).argmax(1) != y).sum())
                    for b in perturbed
                ]
            wrong = (
                [a + b for a, b in zip(wrong, batch_wrong, strict=True)] if wrong else batch_wrong
            )
        counts.append(wrong)
    return counts


def overhead_row(device: torch.device, folder: Path, min_run_time: float) -> list[dict]:
    names = ["cnn-33", "wm-unsharp-32"]
    checkpoints = _checkpoints(folder, names)
    document = yaml.safe_load((ROOT / "suites" / "quick.yaml").read_text())
    document.update(
        device=device.type,
        models={"cnn": str(checkpoints["cnn-33"]), "wm": str(checkpoints["wm-unsharp-32"])},
    )
    loaded = load_suite(_suite(folder, document))
    suite = loaded.suite
    mnist = load_mnist()
    limit = suite.dataset.limit or len(mnist.test_images)
    images, labels = to_float(mnist.test_images[:limit]), mnist.test_labels[:limit]
    models = [load_model(path, device) for path in checkpoints.values()]
    for model in models:
        model.requires_grad_(False)

    def bare() -> None:
        bare_passes(suite, models, images, labels, device)

    t_suite = median_time(lambda: run_suite(loaded, images=images, labels=labels), min_run_time)
    t_bare = median_time(bare, min_run_time)
    return [
        {
            "row": "3. suites/quick.yaml end to end vs its bare passes",
            "measured": f"{t_suite:.2f} s vs {t_bare:.2f} s",
            "ratio": t_suite / t_bare,
            "target": "overhead < 10% (<= 1.10x)",
            "met": t_suite / t_bare <= 1.10,
        }
    ]


def _plain_loop(name: str, data, config: TrainConfig, device: torch.device) -> float:
    """A minimal training loop over the same tensors: returns images per second."""
    torch.manual_seed(config.seed)
    model = create_model(name).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    count = len(data.train_x)
    start = time.perf_counter()
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(count, generator=generator, device=device)
        for index in range(0, count, config.batch_size):
            batch = order[index : index + config.batch_size]
            x = random_crop(data.train_x[batch], config.crop_padding, generator)
            loss = F.cross_entropy(model(x), data.train_y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return count * config.epochs / (time.perf_counter() - start)


def training_rows(device: torch.device, images: int) -> list[dict]:
    mnist = load_mnist()
    config = TrainConfig(epochs=1, limit_train=images, device=device.type)
    data = prepare_data(mnist, config, device)
    speed: dict[str, float] = {}
    rows = []
    for name in ("cnn-33", "wm-smooth-32", "wm-unsharp-32"):
        train_model(get_spec(name), data, TrainConfig(**{**config.__dict__, "limit_train": 512}))
        ours = statistics.median(
            train_model(get_spec(name), data, config).images_per_second for _ in range(2)
        )
        speed[name] = ours
        if name == "wm-smooth-32":
            continue
        plain = statistics.median(_plain_loop(name, data, config, device) for _ in range(2))
        rows.append(
            {
                "row": f"4. training throughput {name} vs a plain PyTorch loop",
                "measured": f"{ours:.0f} vs {plain:.0f} images/s",
                "ratio": ours / plain,
                "target": ">= 0.95x",
                "met": ours / plain >= 0.95,
            }
        )
    for name in ("wm-smooth-32", "wm-unsharp-32"):
        ratio = speed["cnn-33"] / speed[name]  # epoch time ratio
        rows.append(
            {
                "row": f"4. epoch time {name} vs cnn-33",
                "measured": f"{images / speed[name]:.1f} s vs {images / speed['cnn-33']:.1f} s "
                f"per {images} images",
                "ratio": ratio,
                "target": "<= 1.0x (aim 0.7x)",
                "met": ratio <= 1.0,
            }
        )
    return rows


_PEAK_SCRIPT = """
import resource, sys
from wmbench.cli import run
code = run(["attack", sys.argv[1], "--device", sys.argv[2]])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def memory_row(device: torch.device, folder: Path) -> list[dict]:
    checkpoints = _checkpoints(folder, ["wm-unsharp-32"])
    peaks = {}
    for limit in (2000, 10000):
        suite = _suite(
            folder,
            {
                "name": f"memory-{limit}",
                "dataset": {"name": "mnist", "split": "test", "limit": limit},
                "batch_size": 500,
                "models": {"wm": str(checkpoints["wm-unsharp-32"])},
                "perturbations": [{"kind": "clean"}, {"kind": "fgsm", "eps": [0.1, 0.2]}],
            },
        )
        result = subprocess.run(
            [sys.executable, "-c", _PEAK_SCRIPT, str(suite), device.type],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks[limit] = int(result.stderr.strip().splitlines()[-1]) / 1024  # KiB -> MiB
    ratio = peaks[10000] / peaks[2000]
    return [
        {
            "row": "5. peak memory, suite on 10,000 vs 2,000 test images",
            "measured": f"{peaks[10000]:.0f} MiB vs {peaks[2000]:.0f} MiB (batch 500)",
            "ratio": ratio,
            "target": "bounded by batch size (~1.0x)",
            "met": ratio <= 1.10,
        }
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller runs")
    parser.add_argument("--only", type=int, nargs="*", help="row numbers to measure (1-11)")
    parser.add_argument(
        "--distributed", action="store_true", help="add row 11: the suite under torchrun"
    )
    args = parser.parse_args()
    tune_allocator()  # as the wmbench command line does
    device = resolve_device(args.device)
    seconds = 1.0 if args.quick else 3.0  # of timed calls per measurement, after a warm-up
    aa_images = (20, 10) if args.quick else (100, 20)  # images, batch size
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for number, (name, measure) in enumerate(
            (
                ("WM layer vs Conv2d", lambda: layer_row(device, seconds)),
                ("FGSM sweep", lambda: fgsm_row(device, folder, 10 * seconds)),
                ("suite overhead", lambda: overhead_row(device, folder, 30.0)),
                ("training", lambda: training_rows(device, 3200 if args.quick else 6400)),
                ("peak memory", lambda: memory_row(device, folder)),
                ("AutoAttack", lambda: autoattack_row(device, folder, *aa_images)),
                (
                    "FGSM margin vs ce",
                    lambda: fgsm_margin_row(
                        device, folder, lambda work: median_time(work, 2 * seconds)
                    ),
                ),
                ("layer sustainability analysis", lambda: layers_row(device)),
                (
                    "adversarial training",
                    lambda: adversarial_rows(device, 1600 if args.quick else 6400),
                ),
                (
                    "MNIST-C corruptions",
                    lambda: corruption_rows(device, 1000 if args.quick else 10000),
                ),
                (
                    "suite under torchrun",
                    lambda: (
                        distributed_rows(device, 500 if args.quick else 2000)
                        + ranks_training_rows(device, 1600 if args.quick else 6400)
                    ),
                ),
            ),
            start=1,
        ):
            if args.only and number not in args.only:
                continue
            if number == 11 and not (args.distributed or args.only):
                continue
            console.print(f"measuring {name} ...")
            rows += measure()
    table = Table(title=f"wmbench benchmarks on {describe_device(device)}")
    for column in ("benchmark", "measured", "ratio", "target", "met"):
        table.add_column(column, justify="right" if column == "ratio" else "left")
    for row in rows:
        table.add_row(
            row["row"],
            row["measured"],
            f"{row['ratio']:.2f}x",
            row["target"],
            "yes" if row["met"] else "NO",
        )
    Console(width=160).print(table)
    if args.json:
        document = {"device": describe_device(device), "torch": torch.__version__, "rows": rows}
        args.json.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
