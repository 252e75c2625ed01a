"""A first look at the ANVA hypothesis of Amer & Maul §5 ("the weight magnitude at a given input
pixel will be proportional to the importance of this pixel in explaining the output") on the
shipped checkpoints, for docs/findings.md; issue 17 replaces it with a measurement on the
converged models.

Per input pixel of MNIST (784): the first WM layer's mean |weight| over its output channels, and
its change from the initial weights (rebuilt from the training seed, as `wmbench train` builds
them); the pixel's importance, the mean |∂CE/∂x| over the first 500 test images; and the pixel's
standard deviation over 5,000 training images (where the data varies). Spearman's ρ between them,
and the partial ρ of weight change and importance with the pixel's standard deviation held fixed
(Pearson's correlation of the rank residuals).

And the activation variance of the first body layer (``body.layer1``'s output, every model):
under the paper's uniform noise (``renormalise(x + U(0, 1))``, 8 draws per image, 200 test
images), the variance over the draws per unit, averaged over images and channels, against the
variance of the clean activations over the images; their ratio overall, and Spearman's ρ between
each pixel position's noise variance and its importance (ANVA: noise amplified where pixels
matter), also with the pixel's standard deviation held fixed.

Usage: python scripts/anva_first_look.py [CHECKPOINT ...]  (default: models/checkpoints/*)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata, spearmanr

from wmbench.checkpoint import load_model, read_checkpoint_info
from wmbench.data import load_mnist, to_float
from wmbench.layers import SmoothingWeightMap2d, UnsharpWeightMap2d
from wmbench.models import build_model
from wmbench.perturbations.noise import renormalise

ROOT = Path(__file__).resolve().parents[1]
WM = (SmoothingWeightMap2d, UnsharpWeightMap2d)


def _pooled(grid: np.ndarray, shape: tuple) -> np.ndarray:
    """The importance map at the activation map's size (the same 28×28 here, else averaged)."""
    if tuple(shape) == grid.shape:
        return grid.flatten()
    tensor = torch.as_tensor(grid)[None, None]
    return F.adaptive_avg_pool2d(tensor, tuple(shape))[0, 0].flatten().numpy()


def partial_rho(a: np.ndarray, b: np.ndarray, control: np.ndarray) -> float:
    ranks = [rankdata(v) for v in (a, b, control)]
    design = np.column_stack([np.ones(len(a)), ranks[2]])
    residuals = [r - design @ np.linalg.lstsq(design, r, rcond=None)[0] for r in ranks[:2]]
    return float(np.corrcoef(*residuals)[0, 1])


def activation_variance(model: torch.nn.Module, images: torch.Tensor, draws: int = 8) -> tuple:
    """(noise variance, clean variance) maps (H, W) of ``body.layer1``'s output."""
    kept: list[torch.Tensor] = []
    handle = model.body.layer1.register_forward_hook(lambda m, i, o: kept.append(o.detach()))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model(images)
        clean = kept.pop()
        for _ in range(draws):
            model(renormalise(images + torch.rand(images.shape, generator=generator)))
    handle.remove()
    noisy = torch.stack(kept)  # draws, N, C, H, W
    return noisy.var(0).mean((0, 1)), clean.var(0).mean(0)


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or sorted(
        (ROOT / "models/checkpoints").glob("*.safetensors")
    )
    mnist = load_mnist()
    images, labels = to_float(mnist.test_images[:500]), mnist.test_labels[:500]
    spread = to_float(mnist.train_images[:5000]).std(0)[0].flatten().numpy()
    for path in paths:
        model = load_model(path).eval()
        info = read_checkpoint_info(path)
        x = images.clone().requires_grad_(True)
        F.cross_entropy(model(x), labels, reduction="sum").backward()
        importance = x.grad.abs().mean(0)[0].flatten().numpy()
        line = f"{path.stem}: rho(importance, pixel std) {spearmanr(importance, spread)[0]:.3f}"
        noise_var, clean_var = activation_variance(model, images[:200])
        grid = importance.reshape(28, 28)
        at_map = _pooled(grid, noise_var.shape)
        spread_at_map = _pooled(spread.reshape(28, 28), noise_var.shape)
        line += (
            f"; layer-1 noise/clean variance {float(noise_var.mean() / clean_var.mean()):.3f}"
            f"; rho(noise variance, importance) "
            f"{spearmanr(noise_var.flatten().numpy(), at_map)[0]:.3f}"
            f"; partial rho(noise variance, importance | pixel std) "
            f"{partial_rho(noise_var.flatten().numpy(), at_map, spread_at_map):.3f}"
        )
        layer = next((m for m in model.modules() if isinstance(m, WM)), None)
        if layer is not None:
            torch.manual_seed(info.meta["train"]["seed"])
            initial = next(m for m in build_model(info.spec).modules() if isinstance(m, WM))
            weight = layer.weight.detach()
            magnitude = weight.abs().mean((0, 1)).flatten().numpy()
            change = (weight - initial.weight.detach()).abs().mean((0, 1)).flatten().numpy()
            line += (
                f"; rho(|W|, importance) {spearmanr(magnitude, importance)[0]:.3f}"
                f"; rho(|W - W0|, importance) {spearmanr(change, importance)[0]:.3f}"
                f"; rho(|W - W0|, pixel std) {spearmanr(change, spread)[0]:.3f}"
                f"; partial rho(|W - W0|, importance | pixel std) "
                f"{partial_rho(change, importance, spread):.3f}"
            )
        print(line)


if __name__ == "__main__":
    main()
