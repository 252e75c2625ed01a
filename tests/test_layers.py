"""The WM layers against the literal, per-(c_in, c_out) implementation of Amer & Maul eqs. 1–4
(:mod:`wmbench.layers.reference`, plain PyTorch convolutions with a kernel of ones)."""

from __future__ import annotations

import pytest
import torch

from wmbench.layers import SmoothingWeightMap2d, UnsharpWeightMap2d, WeightMap2d
from wmbench.layers.functional import weight_map
from wmbench.layers.reference import literal_weight_map

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


CASES = [
    (SmoothingWeightMap2d, {}, False, (7, 9)),
    (SmoothingWeightMap2d, {"kernel_size": 9}, False, (12, 10)),
    (SmoothingWeightMap2d, {"kernel_size": 5, "padding": "same"}, False, (8, 8)),
    (SmoothingWeightMap2d, {"padding": "same", "stride": 2}, False, (7, 8)),
    (UnsharpWeightMap2d, {}, True, (7, 9)),
    (UnsharpWeightMap2d, {"kernel_size": 5}, True, (8, 6)),
    (UnsharpWeightMap2d, {"stride": 2}, True, (7, 7)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("cls", "kwargs", "unsharp", "size"), CASES)
def test_exact_form_matches_literal_equations(cls, kwargs, unsharp, size, device):
    torch.manual_seed(0)
    layer = cls(3, 4, size, **kwargs).double().to(device)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(5, 3, *size, dtype=torch.float64, device=device)
    fast = layer(x)
    slow = literal_weight_map(layer, x)
    assert fast.shape == slow.shape
    assert torch.allclose(fast, slow, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("cls", "kwargs", "unsharp", "size"), CASES)
def test_gradients_match_literal_equations(cls, kwargs, unsharp, size):
    torch.manual_seed(1)
    layer = cls(2, 3, size, **kwargs).double()
    x = torch.randn(2, 2, *size, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn_like(layer(x))
    grads_fast = torch.autograd.grad((layer(x) * upstream).sum(), [x, layer.weight, layer.bias])
    grads_slow = torch.autograd.grad(
        (literal_weight_map(layer, x) * upstream).sum(), [x, layer.weight, layer.bias]
    )
    for fast, slow in zip(grads_fast, grads_slow, strict=True):
        assert torch.allclose(fast, slow, rtol=0, atol=1e-9)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("cls", "kwargs", "unsharp", "size"), CASES[:1] + CASES[3:5] + CASES[6:])
def test_gradcheck(cls, kwargs, unsharp, size, device):
    torch.manual_seed(2)
    layer = cls(2, 2, size, **kwargs).double().to(device)
    x = torch.randn(2, 2, *size, dtype=torch.float64, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda inp, w, b: torch.func.functional_call(layer, {"weight": w, "bias": b}, (inp,)),
        (
            x,
            layer.weight.detach().clone().requires_grad_(),
            layer.bias.detach().clone().requires_grad_(),
        ),
    )


def test_parameter_shapes_follow_the_paper():
    smooth = SmoothingWeightMap2d(32, 8, 24)
    assert smooth.weight.shape == (32, 8, 24, 24)  # eq. 1: one map per (c_in, c_out)
    assert smooth.bias.shape == (8, 22, 22)  # a bias map of the output size
    k9 = SmoothingWeightMap2d(1, 32, 28, kernel_size=9)
    assert k9.bias.shape == (32, 26, 26)  # padding 3: still shrinks by 2
    unsharp = UnsharpWeightMap2d(32, 32, 28)
    assert unsharp.weight.shape == (32, 32, 28, 28)
    assert unsharp.bias.shape == (32, 28, 28)
    assert UnsharpWeightMap2d(8, 16, 7, stride=2).output_size == (4, 4)


def test_initialisation_is_he_uniform_with_zero_bias():
    torch.manual_seed(3)
    layer = SmoothingWeightMap2d(32, 32, 26)
    bound = (6 / (32 * 9)) ** 0.5
    assert layer.weight.abs().max() <= bound
    assert layer.weight.abs().max() > 0.95 * bound
    assert torch.all(layer.bias == 0)


def test_stack_of_layers_trains_a_step():
    torch.manual_seed(4)
    model = torch.nn.Sequential(
        UnsharpWeightMap2d(1, 4, 10), torch.nn.ReLU(), SmoothingWeightMap2d(4, 2, 10)
    )
    x = torch.rand(3, 1, 10, 10)
    loss = model(x).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    # The weight keeps its pixel-major storage and its gradient lands in the same layout.
    weight = model[0].weight
    assert weight.grad.stride() == weight.stride()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SmoothingWeightMap2d(1, 2, 8, kernel_size=4), "odd"),
        (lambda: SmoothingWeightMap2d(1, 2, 8, padding="full"), "padding"),
        (lambda: UnsharpWeightMap2d(1, 2, 8, stride=0), "stride"),
        (lambda: SmoothingWeightMap2d(1, 2, 2), "too small"),
    ],
)
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_wrong_input_shape_names_the_expected_shape():
    layer = SmoothingWeightMap2d(1, 2, 28)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        layer(torch.rand(2, 1, 32, 32))


def test_tiny_example_by_hand():
    """1→1 channel, weights all 1, zero bias, on a 3×3 input: numbers worked out on paper."""
    x = torch.arange(1.0, 10.0).view(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]
    smooth = SmoothingWeightMap2d(1, 1, 3)
    unsharp = UnsharpWeightMap2d(1, 1, 3)
    for layer in (smooth, unsharp):
        with torch.no_grad():
            layer.weight.fill_(1.0)
            layer.bias.zero_()
    assert smooth(x).flatten().tolist() == [45.0]  # sum of the one 3×3 window
    # Unsharp: 2·x − (3×3 sum with zero padding). Corner (0,0): 2·1 − (1+2+4+5) = −10.
    expected = [[2 - 12, 4 - 21, 6 - 16], [8 - 27, 10 - 45, 12 - 33], [14 - 24, 16 - 39, 18 - 28]]
    assert unsharp(x)[0, 0].tolist() == expected


def test_both_variants_share_the_public_base():
    smooth, unsharp = SmoothingWeightMap2d(2, 3, 8), UnsharpWeightMap2d(2, 3, 8)
    assert isinstance(smooth, WeightMap2d) and isinstance(unsharp, WeightMap2d)
    assert (smooth.unsharp, unsharp.unsharp) == (False, True)
    assert (smooth.padding, unsharp.padding) == (0, 1)  # "valid" and "same" for k = 3


def test_padding_modes_each_variant_takes():
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same', got 'full'"):
        SmoothingWeightMap2d(1, 2, 8, padding="full")
    with pytest.raises(ValueError, match="padding must be 'same', got 'valid'"):
        UnsharpWeightMap2d(1, 2, 8, padding="valid")
    with pytest.raises(ValueError, match="padding='valid' needs kernel_size >= 3"):
        SmoothingWeightMap2d(1, 2, 8, kernel_size=1)
    assert UnsharpWeightMap2d(1, 2, 8, padding="same").output_size == (8, 8)
    assert SmoothingWeightMap2d(1, 2, 8, 5, padding="same").padding == 2


@pytest.mark.parametrize(("cls", "kwargs", "unsharp", "size"), CASES)
def test_functional_form_is_the_layer(cls, kwargs, unsharp, size):
    torch.manual_seed(5)
    layer = cls(3, 2, size, **kwargs).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    out = weight_map(
        x, layer.weight, layer.bias, layer.kernel_size, layer.padding, layer.stride, unsharp
    )
    assert torch.equal(out, layer(x))
    assert torch.allclose(out, literal_weight_map(layer, x), rtol=0, atol=1e-9)
