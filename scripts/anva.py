"""The ANVA hypothesis of Amer & Maul §5 ("the weight magnitude at a given input pixel will be
proportional to the importance of this pixel in explaining the output"), measured on checkpoints
with :mod:`wmbench.anva`, for docs/findings.md.

Per input pixel of MNIST (784): the first WM layer's mean |weight| over its channels, and its
change from the initial weights (the model built again with the training seed, as
`wmbench train` builds it); the pixel's importance, the mean |∂CE/∂x| over the first 500 test
images; the pixel's standard deviation over 5,000 training images (where the data varies).
Spearman's ρ between them, and partial ρ with the pixel's standard deviation held fixed. And the
first body layer's (``body.layer1``) activation variance under the paper's uniform noise
(upper 1.0, 8 draws, 200 test images) against the clean activations' variance over images, and
where that noise variance sits (ρ with importance, plain and partial).

One line per checkpoint, then mean ± std over the seeds of each model (labels MODEL-sSEED).
Usage: python scripts/anva.py [--json OUT.json] CHECKPOINT ...  (default: models/checkpoints/*)
With --json, an OUT.json that exists is updated: the checkpoints measured now replace their rows,
the others' rows are kept, and the means cover every row (checkpoints measured in earlier runs).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import torch

from wmbench.anva import (
    at_size,
    first_weight_map,
    noise_variance,
    partial_rank_correlation,
    pixel_importance,
    rank_correlation,
    weight_map_magnitude,
)
from wmbench.checkpoint import load_model, read_checkpoint_info
from wmbench.data import load_mnist, to_float
from wmbench.models import build_model
from wmbench.paper.seeds import model_and_seed

ROOT = Path(__file__).resolve().parents[1]


def measure(path: Path, images: torch.Tensor, labels: torch.Tensor, spread: torch.Tensor) -> dict:
    model = load_model(path).eval()
    importance = pixel_importance(model, images, labels)
    noise, clean = noise_variance(model, model.body.layer1, images[:200])
    at_map, spread_at_map = at_size(importance, noise.shape), at_size(spread, noise.shape)
    found = {
        "rho(importance, pixel std)": rank_correlation(importance, spread),
        "layer-1 noise/clean variance": float(noise.mean() / clean.mean()),
        "rho(noise variance, importance)": rank_correlation(noise, at_map),
        "partial rho(noise variance, importance | pixel std)": partial_rank_correlation(
            noise, at_map, spread_at_map
        ),
    }
    layer = first_weight_map(model)
    if layer is None:
        return found
    info = read_checkpoint_info(path)
    torch.manual_seed(info.meta["train"]["seed"])
    initial = first_weight_map(build_model(info.spec))
    magnitude, change = weight_map_magnitude(layer), weight_map_magnitude(layer, initial)
    return found | {
        "rho(|W|, importance)": rank_correlation(magnitude, importance),
        "rho(|W - W0|, importance)": rank_correlation(change, importance),
        "rho(|W - W0|, pixel std)": rank_correlation(change, spread),
        "partial rho(|W - W0|, importance | pixel std)": partial_rank_correlation(
            change, importance, spread
        ),
    }


def main(arguments: list[str]) -> None:
    out = None
    if arguments[:1] == ["--json"]:
        out, arguments = Path(arguments[1]), arguments[2:]
    paths = [Path(p) for p in arguments]
    paths = paths or sorted((ROOT / "models/checkpoints").glob("*.safetensors"))
    mnist = load_mnist()
    images, labels = to_float(mnist.test_images[:500]), mnist.test_labels[:500]
    spread = to_float(mnist.train_images[:5000]).std(0)[0].double()
    measured = {}
    if out is not None and out.exists():
        measured = json.loads(out.read_text(encoding="utf-8"))
        kept = sorted(set(measured) - {path.stem for path in paths})
        print(f"kept from {out}: {', '.join(kept) or 'none'}")
    for path in paths:
        measured[path.stem] = measure(path, images, labels, spread)
        print(f"{path.stem}: " + "; ".join(f"{k} {v:.3f}" for k, v in measured[path.stem].items()))
    by_model: dict[str, list[dict]] = {}
    for label, values in sorted(measured.items()):
        by_model.setdefault(model_and_seed(label)[0], []).append(values)
    for model, runs in by_model.items():
        print(f"{model} ({len(runs)} seeds):")
        for key in runs[0]:
            values = [run[key] for run in runs]
            spread_text = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
            print(f"  {key}: {statistics.fmean(values):.3f}{spread_text}")
    if out is not None:
        rows = dict(sorted(measured.items()))
        out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
