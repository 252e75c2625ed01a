"""A first look at the ANVA hypothesis of Amer & Maul §5 ("the weight magnitude at a given input
pixel will be proportional to the importance of this pixel in explaining the output") on the
shipped checkpoints, for docs/findings.md, with the measures of :mod:`wmbench.anva`.

Per input pixel of MNIST (784): the first WM layer's mean |weight| over its channels, and its
change from the initial weights (the model built again with the training seed, as
`wmbench train` builds it); the pixel's importance, the mean |∂CE/∂x| over the first 500 test
images; the pixel's standard deviation over 5,000 training images (where the data varies).
Spearman's ρ between them, and partial ρ with the pixel's standard deviation held fixed. And the
first body layer's (``body.layer1``) activation variance under the paper's uniform noise
(upper 1.0, 8 draws, 200 test images) against the clean activations' variance over images, and
where that noise variance sits (ρ with importance, plain and partial).

Usage: python scripts/anva_first_look.py [CHECKPOINT ...]  (default: models/checkpoints/*)
"""

from __future__ import annotations

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

ROOT = Path(__file__).resolve().parents[1]


def look(path: Path, images: torch.Tensor, labels: torch.Tensor, spread: torch.Tensor) -> str:
    model = load_model(path).eval()
    importance = pixel_importance(model, images, labels)
    noise, clean = noise_variance(model, model.body.layer1, images[:200])
    at_map, spread_at_map = at_size(importance, noise.shape), at_size(spread, noise.shape)
    line = (
        f"{path.stem}: rho(importance, pixel std) {rank_correlation(importance, spread):.3f}"
        f"; layer-1 noise/clean variance {float(noise.mean() / clean.mean()):.3f}"
        f"; rho(noise variance, importance) {rank_correlation(noise, at_map):.3f}"
        f"; partial rho(noise variance, importance | pixel std) "
        f"{partial_rank_correlation(noise, at_map, spread_at_map):.3f}"
    )
    layer = first_weight_map(model)
    if layer is None:
        return line
    info = read_checkpoint_info(path)
    torch.manual_seed(info.meta["train"]["seed"])
    initial = first_weight_map(build_model(info.spec))
    magnitude, change = weight_map_magnitude(layer), weight_map_magnitude(layer, initial)
    return line + (
        f"; rho(|W|, importance) {rank_correlation(magnitude, importance):.3f}"
        f"; rho(|W - W0|, importance) {rank_correlation(change, importance):.3f}"
        f"; rho(|W - W0|, pixel std) {rank_correlation(change, spread):.3f}"
        f"; partial rho(|W - W0|, importance | pixel std) "
        f"{partial_rank_correlation(change, importance, spread):.3f}"
    )


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    paths = paths or sorted((ROOT / "models/checkpoints").glob("*.safetensors"))
    mnist = load_mnist()
    images, labels = to_float(mnist.test_images[:500]), mnist.test_labels[:500]
    spread = to_float(mnist.train_images[:5000]).std(0)[0].double()
    for path in paths:
        print(look(path, images, labels, spread))


if __name__ == "__main__":
    main()
