"""The MNIST "model B" of Layer Sustainability Analysis (Khalooei, Homayounpour & Amirmazlaghani,
"Layer-wise Regularized Adversarial Training using Layers Sustainability Analysis (LSA)
framework", arXiv:2202.02626): three 5×5 convolutions without padding and two max-pools, then a
two-layer MLP.

Conv 16 – ReLU – Conv 32 – ReLU – MaxPool 2 – Conv 64 – ReLU – MaxPool 2 – FC 100 – ReLU – FC 10;
on MNIST the map goes 28 → 24 → 20 → 10 → 6 → 3, so the head takes 64·3·3 = 576 inputs. The
feature layer is the ReLU after the last convolution (``body.act3``, before its pooling). Every
layer is a named module, so the layers LSA measures are addressable by name (``body.act1``, ...,
``head.act4``).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from wmbench.models._blocks import LAYER_KINDS, check_count, make_layer
from wmbench.models._registry import register_family
from wmbench.models.base import ZooModel

POOLED_AFTER = (2, 3)  # a 2×2 max-pool follows the ReLUs of these convolutions


class LsaCNN(ZooModel):
    """LSA's model B: unpadded convolutions, max-pools after the second and third, an MLP head.

    Args:
        in_channels: channels of the input image.
        input_size: side of the square input image.
        num_classes: outputs of the classifier.
        layers: kind of the three body layers: ``conv`` (the paper's, unpadded), or a WM layer
            as the small CNNs build it (``wm-smooth`` shrinks the map by 2, ``wm-unsharp`` keeps
            it; the head's width follows).
        channels: widths of the three convolutions.
        kernel_size: side of their kernels.
        hidden: width of the head's hidden layer.
    """

    def __init__(
        self,
        in_channels: int,
        input_size: int,
        num_classes: int,
        layers: str = "conv",
        channels: tuple[int, ...] = (16, 32, 64),
        kernel_size: int = 5,
        hidden: int = 100,
    ) -> None:
        super().__init__(in_channels, input_size, num_classes, feature_layer="body.act3")
        if layers not in LAYER_KINDS:
            raise ValueError(f"unknown layer kind {layers!r} (known: {', '.join(LAYER_KINDS)})")
        if len(channels) != 3:
            raise ValueError(f"channels must list 3 widths, got {list(channels)}")
        check_count("kernel_size", kernel_size)
        check_count("hidden", hidden)
        body: OrderedDict[str, nn.Module] = OrderedDict()
        size, width = input_size, in_channels
        for index, out_channels in enumerate(channels, start=1):
            check_count("channels", out_channels)
            if layers == "conv":  # unpadded, unlike make_layer's (which shrinks by 2 only)
                size -= kernel_size - 1
                if size < 1:
                    raise ValueError(f"a {input_size}x{input_size} input is too small")
                body[f"conv{index}"] = nn.Conv2d(width, out_channels, kernel_size)
            else:
                body[f"conv{index}"], size = make_layer(
                    layers, width, out_channels, size, kernel_size
                )
            body[f"act{index}"] = nn.ReLU()
            if index in POOLED_AFTER:
                body[f"pool{index}"] = nn.MaxPool2d(2)
                size //= 2
            width = out_channels
        if size < 1:
            raise ValueError(f"a {input_size}x{input_size} input is too small for this model")
        self.body = nn.Sequential(body)
        self.head = nn.Sequential(
            OrderedDict(
                [
                    ("flatten", nn.Flatten()),
                    ("fc1", nn.Linear(width * size * size, hidden)),
                    ("act4", nn.ReLU()),
                    ("fc2", nn.Linear(hidden, num_classes)),
                ]
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@register_family("lsa")
def build_lsa(in_channels: int, input_size: int, num_classes: int, **args: object) -> LsaCNN:
    """Builds LSA's model B; args: layers, channels, kernel_size, hidden."""
    if "channels" in args:
        if not isinstance(args["channels"], (list, tuple)):
            raise ValueError(f"channels must list 3 widths, got {args['channels']!r}")
        args["channels"] = tuple(args["channels"])
    return LsaCNN(in_channels, input_size, num_classes, **args)  # type: ignore[arg-type]
