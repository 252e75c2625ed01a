"""Pieces the families share: layer kinds made into modules, and the pooled-classifier skeleton.

:func:`make_layer` is the one place where a layer kind (``conv``, ``wm-smooth``, ``wm-unsharp``)
becomes a module. Builders of every family describe their layers by kind and call it; it also
returns the spatial size the layer produces, so builders can size the weight maps that follow.
:class:`PooledClassifier` is the body → global average pooling → linear head that ResNet and
DenseNet both end with.

The spec arguments several families take are checked here, once: ``upsample`` and ``strides``
(the feature-map size of Xu et al., "Towards Robust Neural Networks via Close-loop Control" —
rcm, arXiv:2202.12435, code github.com/MTandHJ/rcm) and ``ewas``/``ewas_weight`` (Element-Wise
Activation Scaling, :mod:`wmbench.layers.ewas`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from wmbench.layers import (
    ElementWiseActivationScaling,
    SmoothingWeightMap2d,
    UnsharpWeightMap2d,
)
from wmbench.layers.ewas import DEFAULT_AUX_WEIGHT
from wmbench.models.base import ZooModel

LAYER_KINDS = ("conv", "wm-smooth", "wm-unsharp")
PATTERNS = ("all", "alternating")


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """``value`` if it is an integer (not a bool) of at least ``minimum``, else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def layer_kind(layers: str, pattern: str, index: int) -> str:
    """The kind of the ``index``-th 3×3 body layer (forward order, from 0).

    ``all`` gives every layer the kind ``layers``; ``alternating`` ("skip one layer and replace
    the next", Amer & Maul §4.2) gives it to the odd-numbered layers and keeps the even ones conv.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}")
    if pattern == "alternating" and index % 2 == 0:
        return "conv"
    return layers


def make_layer(
    kind: str,
    in_channels: int,
    out_channels: int,
    input_size: int,
    kernel_size: int = 3,
    *,
    keep_size: bool = False,
    stride: int = 1,
    wm_init: str = "he",
) -> tuple[nn.Module, int]:
    """Builds one body layer and returns it with its output size (square maps).

    Args:
        kind: ``conv``, ``wm-smooth`` or ``wm-unsharp``.
        in_channels: input channels.
        out_channels: output channels.
        input_size: side of the square input map.
        kernel_size: odd kernel side.
        keep_size: False: every layer shrinks the map by 2 whatever k is (padding (k − 3)/2, the
            paper's small CNNs; the unsharp WM layer always keeps its size). True: "same" padding
            (k − 1)/2, as ResNet and DenseNet need.
        stride: downsampling factor, as a strided convolution.
        wm_init: a WM layer's initialisation (``he`` or ``glorot-map``, see
            :meth:`wmbench.layers.WeightMap2d.reset_parameters`); conv layers ignore it.
    """
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown layer kind {kind!r} (known: {', '.join(LAYER_KINDS)})")
    check_count("in_channels", in_channels)
    check_count("channels", out_channels)
    check_count("input size", input_size)
    check_count("stride", stride)
    odd = isinstance(kernel_size, int) and not isinstance(kernel_size, bool) and kernel_size % 2
    if not odd or kernel_size < 1:
        raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size!r}")
    if kind == "conv":
        padding = (kernel_size - 1) // 2 if keep_size else (kernel_size - 3) // 2
        if padding < 0:
            raise ValueError("kernel_size must be at least 3")
        out_size = (input_size + 2 * padding - kernel_size) // stride + 1
        if out_size < 1:
            raise ValueError(
                f"a {input_size}x{input_size} map is too small for kernel_size {kernel_size}"
            )
        layer = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        return layer, out_size
    if kind == "wm-smooth":
        layer = SmoothingWeightMap2d(
            in_channels,
            out_channels,
            input_size,
            kernel_size,
            padding="same" if keep_size else "valid",
            stride=stride,
            init=wm_init,
        )
    else:
        layer = UnsharpWeightMap2d(
            in_channels, out_channels, input_size, kernel_size, stride=stride, init=wm_init
        )
    return layer, layer.output_size[0]


def make_upsample(factor: int) -> nn.Module | None:
    """The model's first operation for the spec's ``upsample``: nearest-neighbour upsampling by
    ``factor`` (rcm's ``F.interpolate(scale_factor, mode="nearest")``), None for 1 — then no
    module is added, so models and checkpoints without the argument are unchanged."""
    check_count("upsample", factor)
    return nn.Upsample(scale_factor=factor, mode="nearest") if factor > 1 else None


def parse_strides(strides: object, count: int, per: str) -> tuple[int, ...]:
    """The strides a spec gives as a string of digits (``"1122"``, rcm's form) or a list.

    Args:
        strides: the spec's value.
        count: how many strides the model takes.
        per: what each stride belongs to, for the error message (``stage``, ``pooling``).
    """
    if isinstance(strides, (str, list, tuple)):
        digits = list(strides)
    else:
        raise ValueError(
            f'strides must be a string of digits such as "1122" (quoted in YAML), got {strides!r}'
        )
    if len(digits) != count or any(str(digit) not in ("1", "2") for digit in digits):
        raise ValueError(
            f"strides must give one stride, 1 or 2, per {per} ({count} here), got {strides!r}"
        )
    return tuple(int(digit) for digit in digits)


def ewas_weight_of(ewas: object, ewas_weight: object) -> float | None:
    """λ of the EWAS module the spec asks for (``ewas: true``), None when it asks for none."""
    if not isinstance(ewas, bool):
        raise ValueError(f"ewas must be true or false, got {ewas!r}")
    if not ewas:
        if ewas_weight is not None:
            raise ValueError(
                "ewas_weight is the weight of EWAS's auxiliary loss; it needs ewas: true"
            )
        return None
    if ewas_weight is None:
        return DEFAULT_AUX_WEIGHT
    if isinstance(ewas_weight, bool) or not isinstance(ewas_weight, (int, float)):
        raise ValueError(f"ewas_weight must be a number, got {ewas_weight!r}")
    if not ewas_weight >= 0:
        raise ValueError(f"ewas_weight must be at least 0, got {ewas_weight}")
    return float(ewas_weight)


def make_ewas(
    aux_weight: float, channels: int, size: int, num_classes: int
) -> ElementWiseActivationScaling:
    """EWAS on a ``(channels, size, size)`` map, with auxiliary loss weight ``aux_weight``."""
    return ElementWiseActivationScaling(channels, size, size, num_classes, aux_weight)


def as_tuples(args: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``args`` with the lists a YAML spec gives under ``keys`` made tuples (in place)."""
    for key in keys:
        if key in args:
            args[key] = tuple(args[key])
    return args


class PooledClassifier(ZooModel):
    """``fc(flatten(pool(body(x))))``: a body, global average pooling and one linear layer.

    State-dict keys are ``body.*``, ``fc.weight`` and ``fc.bias`` (checkpoints depend on them).
    With ``upsample`` > 1 the input is first upsampled by the module ``upsample`` (no parameters;
    absent for 1).

    Args:
        body: the named modules of the body, in forward order.
        activation: name, inside the body's last module, of the ReLU that is the feature layer.
        width: channels the body produces.
        in_channels: channels of the input image.
        input_size: side of the square input image.
        num_classes: outputs of the classifier.
        upsample: factor of the nearest-neighbour upsampling of the input (see
            :func:`make_upsample`); the body must be built for maps of ``upsample·input_size``.
    """

    def __init__(
        self,
        body: OrderedDict[str, nn.Module],
        activation: str,
        width: int,
        in_channels: int,
        input_size: int,
        num_classes: int,
        upsample: int = 1,
    ) -> None:
        feature_layer = f"body.{next(reversed(body))}.{activation}"
        super().__init__(in_channels, input_size, num_classes, feature_layer=feature_layer)
        self.upsample = make_upsample(upsample)
        self.body = nn.Sequential(body)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample is not None:
            x = self.upsample(x)
        return self.fc(torch.flatten(self.pool(self.body(x)), 1))
