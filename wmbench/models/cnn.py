"""The small CNNs of Amer & Maul, Table 1 (arXiv:1905.00568, §4.1).

Body: three layers (conv or WM) with ReLU, BatchNorm right before each nonlinearity when asked,
every layer shrinking the map by 2 (28 → 26 → 24 → 22 for k = 3 and k = 9; the unsharp WM layer
keeps 28). Head: FC 64, ReLU, FC 10. The ``input-scale`` variant multiplies the input by a learned
map of the input's size first. The feature layer is the ReLU after the last body layer.

Two additions beyond the paper, both off by default (the model is then exactly the paper's):
``upsample`` (rcm, Xu et al., arXiv:2202.12435: a larger input gives larger feature maps) and
``ewas`` (Element-Wise Activation Scaling, Liu & Zhang; :mod:`wmbench.layers.ewas`).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from wmbench.models._blocks import (
    check_count,
    ewas_weight_of,
    make_ewas,
    make_layer,
    make_upsample,
)
from wmbench.models._registry import register_family
from wmbench.models.base import ZooModel


class InputScale(nn.Module):
    """Element-wise multiplication of the input by a learned map (initialised to ones)."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels, size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class SmallCNN(ZooModel):
    """A three-layer body of conv or WM layers and a two-layer MLP head.

    Args:
        in_channels: channels of the input image.
        input_size: side of the square input image.
        num_classes: outputs of the classifier.
        layers: kind of the three body layers: ``conv``, ``wm-smooth`` or ``wm-unsharp``.
        channels: widths of the three body layers.
        kernel_size: odd kernel side (of ones, for WM layers).
        batchnorm: BatchNorm right before each ReLU of the body.
        input_scale: multiply the input by a learned map first.
        hidden: width of the head's hidden layer.
        upsample: the model's first operation upsamples the input by this factor (nearest
            neighbour, module ``upsample``; none for 1). Every map after it, the input-scale map
            and the WM layers' weight maps included, is ``upsample`` times larger; the spec's
            input stays the image's own size.
        ewas: put EWAS (module ``body.ewas``) on the output of the second body layer's ReLU, so
            the last body layer, and the feature layer after it, read the scaled map. This is
            the reference's place (between the last two blocks of ResNet-18: before the last
            body layer) in a three-layer body.
        ewas_weight: λ of EWAS's auxiliary loss (0.01 when not given); needs ``ewas``.
        wm_init: the WM layers' initialisation: ``he`` (the default) or ``glorot-map``
            (:meth:`wmbench.layers.WeightMap2d.reset_parameters`; docs/findings.md).
    """

    def __init__(
        self,
        in_channels: int,
        input_size: int,
        num_classes: int,
        layers: str = "conv",
        channels: tuple[int, ...] = (33, 33, 8),
        kernel_size: int = 3,
        batchnorm: bool = False,
        input_scale: bool = False,
        hidden: int = 64,
        upsample: int = 1,
        ewas: bool = False,
        ewas_weight: float | None = None,
        wm_init: str = "he",
    ) -> None:
        super().__init__(in_channels, input_size, num_classes, feature_layer="body.act3")
        if len(channels) != 3:
            raise ValueError(f"channels must list 3 widths, got {list(channels)}")
        check_count("hidden", hidden)
        for name, flag in [("batchnorm", batchnorm), ("input_scale", input_scale)]:
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be true or false, got {flag!r}")
        aux_weight = ewas_weight_of(ewas, ewas_weight)
        self.upsample = make_upsample(upsample)
        size, width = input_size * upsample, in_channels
        self.input_scale = InputScale(in_channels, size) if input_scale else None
        body: OrderedDict[str, nn.Module] = OrderedDict()
        for index, out_channels in enumerate(channels, start=1):
            if index == len(channels) and aux_weight is not None:
                body["ewas"] = make_ewas(aux_weight, width, size, num_classes)
            body[f"layer{index}"], size = make_layer(
                layers, width, out_channels, size, kernel_size, wm_init=wm_init
            )
            if batchnorm:
                body[f"bn{index}"] = nn.BatchNorm2d(out_channels)
            body[f"act{index}"] = nn.ReLU()
            width = out_channels
        self.body = nn.Sequential(body)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(width * size * size, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample is not None:
            x = self.upsample(x)
        if self.input_scale is not None:
            x = self.input_scale(x)
        return self.head(self.body(x))


@register_family("cnn")
def build_cnn(in_channels: int, input_size: int, num_classes: int, **args: object) -> SmallCNN:
    """Builds a Table 1 CNN; args: layers, channels, kernel_size, batchnorm, input_scale, hidden,
    upsample, ewas, ewas_weight, wm_init.

    ``layer``, the old name of ``layers``, is still taken, so the specs embedded in checkpoints
    written before the rename build the same model.
    """
    if "layer" in args:
        if "layers" in args:
            raise ValueError("layer is the old name of layers; give only layers")
        args["layers"] = args.pop("layer")
    if "channels" in args:
        if not isinstance(args["channels"], (list, tuple)):
            raise ValueError(f"channels must list 3 widths, got {args['channels']!r}")
        args["channels"] = tuple(args["channels"])
    return SmallCNN(in_channels, input_size, num_classes, **args)  # type: ignore[arg-type]
