"""The ANVA measures (wmbench.anva) against closed forms: the input gradient of a linear softmax
classifier, a WM layer's weights set by hand, the variance of a convolution of uniform noise,
and partial correlations of constructed data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from wmbench.anva import (
    first_weight_map,
    noise_variance,
    partial_rank_correlation,
    pixel_importance,
    rank_correlation,
    weight_map_magnitude,
)
from wmbench.layers import SmoothingWeightMap2d, UnsharpWeightMap2d
from wmbench.models import build_model, get_spec, load_spec
from wmbench.perturbations.noise import renormalise

ROOT = Path(__file__).resolve().parents[1]


def test_importance_of_a_linear_classifier_is_its_closed_form_gradient() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(2 * 5 * 6, 4).double()
    model = nn.Sequential(nn.Flatten(), linear)
    images = torch.rand(7, 2, 5, 6, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    # ∂CE/∂x = Wᵀ(softmax(Wx + b) − onehot(y)), per image
    probabilities = torch.softmax(images.flatten(1) @ linear.weight.T + linear.bias, 1)
    residual = probabilities - nn.functional.one_hot(labels, 4).double()
    gradient = (residual @ linear.weight).reshape(7, 2, 5, 6)
    expected = gradient.abs().mean(1).mean(0)
    found = pixel_importance(model, images, labels, batch_size=3)  # batches of 3, 3, 1
    assert found.shape == (5, 6)
    assert torch.allclose(found, expected, atol=1e-12)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("layer_type", [SmoothingWeightMap2d, UnsharpWeightMap2d])
def test_weight_map_magnitude_is_the_mean_absolute_weight_per_pixel(layer_type) -> None:
    layer = layer_type(2, 3, 4)
    with torch.no_grad():
        for c_in in range(2):
            for c_out in range(3):
                layer.weight[c_in, c_out] = (c_in - c_out) * torch.arange(16.0).reshape(4, 4)
    start = layer_type(2, 3, 4)
    with torch.no_grad():
        start.weight.fill_(1.0)
    pixel = torch.arange(16.0).reshape(4, 4).double()
    # |c_in − c_out| over (0,0) (0,1) (0,2) (1,0) (1,1) (1,2): 0 1 2 1 0 1 → mean 5/6
    assert torch.allclose(weight_map_magnitude(layer), pixel * 5 / 6)
    by_hand = sum(((c_in - c_out) * pixel - 1).abs() for c_in in range(2) for c_out in range(3)) / 6
    assert torch.allclose(weight_map_magnitude(layer, start), by_hand)


def test_the_first_weight_map_of_the_zoo_models() -> None:
    assert isinstance(first_weight_map(build_model(get_spec("wm-smooth-32"))), SmoothingWeightMap2d)
    assert isinstance(first_weight_map(build_model(get_spec("wm-unsharp-32"))), UnsharpWeightMap2d)
    assert first_weight_map(build_model(get_spec("cnn-33"))) is None


def test_noise_variance_of_a_convolution_is_the_closed_form() -> None:
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[0.5, -1.0, 0.25], [2.0, 1.0, 0.0], [-0.5, 0.75, 1.5]]]]))
    model = nn.Sequential(conv, nn.ReLU())
    images = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    upper = 0.6
    noise, clean = noise_variance(model, conv, images, upper=upper, draws=4000, renormalised=False)
    # interior positions: Var(Σ k·upper·U) = upper² / 12 · Σ k²
    expected = upper**2 / 12 * float(conv.weight.detach().square().sum())
    assert noise[1:-1, 1:-1].mean() == pytest.approx(expected, rel=0.03)
    assert noise.shape == clean.shape == (8, 8)
    with torch.no_grad():
        outputs = conv(images)[:, 0]
    assert torch.allclose(clean, outputs.var(0))


def test_renormalised_noise_is_the_papers_uniform_noise() -> None:
    # A layer that returns its input: the draws' variance is that of renormalise(x + U).
    identity = nn.Identity()
    images = torch.rand(3, 1, 4, 4)
    noise, _ = noise_variance(identity, identity, images, upper=1.0, draws=3, seed=5)
    generator = torch.Generator().manual_seed(5)
    draws = torch.stack(
        [renormalise(images + torch.rand(images.shape, generator=generator)) for _ in range(3)]
    )
    assert torch.allclose(noise, draws.double().var(0).mean((0, 1)))


def test_partial_correlation_removes_a_shared_cause() -> None:
    rng = np.random.default_rng(0)
    cause = rng.normal(size=2000)
    a = cause + 0.3 * rng.normal(size=2000)
    b = cause + 0.3 * rng.normal(size=2000)
    assert rank_correlation(a, b) > 0.8
    assert abs(partial_rank_correlation(a, b, cause)) < 0.06
    shared = rng.normal(size=2000)
    c, d = cause + shared, -cause + shared  # correlated only through `shared`
    assert partial_rank_correlation(c, d, cause) > 0.6
    assert rank_correlation(np.arange(10), np.arange(10) ** 3) == pytest.approx(1.0)


@pytest.mark.parametrize("layer_type", [SmoothingWeightMap2d, UnsharpWeightMap2d])
def test_glorot_map_init_is_keras_glorot_uniform_of_the_map_shape(layer_type) -> None:
    torch.manual_seed(3)
    he = layer_type(1, 32, 28)
    torch.manual_seed(3)
    glorot = layer_type(1, 32, 28, init="glorot-map")
    # Keras: fan_in = H·W·C_in, fan_out = H·W·C_out for a (H, W, C_in, C_out) kernel
    keras_limit = (6 / (28 * 28 * 1 + 28 * 28 * 32)) ** 0.5
    he_limit = (6 / (1 * 3 * 3)) ** 0.5
    assert keras_limit == pytest.approx(0.0152286, abs=1e-7)
    # the same random numbers, scaled: U(−b, b) = b · U(−1, 1)
    assert torch.allclose(glorot.weight / keras_limit, he.weight / he_limit, atol=1e-5)
    assert (
        glorot.weight.abs().max() <= keras_limit and glorot.weight.abs().max() > 0.99 * keras_limit
    )
    assert torch.equal(glorot.bias, torch.zeros_like(glorot.bias))
    with pytest.raises(ValueError, match="init must be one of he, glorot-map"):
        layer_type(1, 2, 5, init="ones")


def test_the_glorot_map_spec_builds_the_zoo_model_with_its_other_start() -> None:
    spec = load_spec(ROOT / "experiments" / "wm-smooth-32-glorot-map.yaml")
    torch.manual_seed(0)
    model = build_model(spec)
    torch.manual_seed(0)
    zoo = build_model(get_spec("wm-smooth-32"))
    assert model.state_dict().keys() == zoo.state_dict().keys()
    layers = {name: module for name, module in model.named_modules() if hasattr(module, "init")}
    assert sorted(layers) == ["body.layer1", "body.layer2", "body.layer3"]
    for name, tensor in zoo.state_dict().items():
        other = model.state_dict()[name]
        layer = layers.get(name.rsplit(".", 1)[0])
        if layer is not None and name.endswith("weight"):  # the same draws, scaled per layer
            height, width = layer.input_size
            glorot = (6 / (height * width * (layer.in_channels + layer.out_channels))) ** 0.5
            he = (6 / (layer.in_channels * layer.kernel_size**2)) ** 0.5
            assert torch.allclose(other / glorot, tensor / he, atol=1e-5), name
        else:
            assert torch.equal(other, tensor), name
