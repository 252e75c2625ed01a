"""The DenseNet skeleton of Amer & Maul, Table 4 (arXiv:1905.00568, §4.2).

A 16-channel 3×3 layer with ReLU, then dense blocks of 2, 4, 8, 16 dense layers (growth rate 8)
separated by 2×2 max pooling (28 → 14 → 7 → 3 on MNIST), global average pooling over the
16 + 8·30 = 256 channels and one fully connected layer. A dense layer is one "same"-padded 3×3
layer producing ``growth`` channels and a ReLU, its output concatenated to its input (Huang et
al., 2016). Some or all of the 3×3 layers are conv or WM layers, as the spec's ``layers`` and
``pattern`` say. The feature layer is the ReLU of the last dense layer.

Beyond the paper, off by default: the feature-map size of rcm (Xu et al., arXiv:2202.12435, code
github.com/MTandHJ/rcm) through ``upsample`` and ``strides``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from wmbench.models._blocks import (
    PooledClassifier,
    as_tuples,
    check_count,
    layer_kind,
    make_layer,
    parse_strides,
)
from wmbench.models._registry import register_family


class DenseLayer(nn.Module):
    """``cat([x, relu(layer(x))])``: one 3×3 layer adding ``growth`` channels to its input.

    Args:
        kind: ``conv``, ``wm-smooth`` or ``wm-unsharp``.
        in_channels: input channels.
        growth: channels the layer adds.
        input_size: side of the square input map (kept).
        kernel_size: odd kernel side.
    """

    def __init__(
        self, kind: str, in_channels: int, growth: int, input_size: int, kernel_size: int
    ) -> None:
        super().__init__()
        self.layer, _ = make_layer(
            kind, in_channels, growth, input_size, kernel_size, keep_size=True
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.act(self.layer(x))], dim=1)


class DenseNet(PooledClassifier):
    """First layer, dense blocks with max pooling between them, pooling and a classifier.

    Args:
        in_channels: channels of the input image.
        input_size: side of the square input image.
        num_classes: outputs of the classifier.
        layers: kind of the replaced 3×3 layers: ``conv``, ``wm-smooth`` or ``wm-unsharp``.
        pattern: ``all`` replaces every 3×3 layer, the first 16-channel one included;
            ``alternating`` numbers them 0 (the first layer), 1, 2, … in forward order and
            replaces the odd ones.
        growth: channels each dense layer adds.
        init_channels: channels of the first layer.
        blocks: dense layers per dense block.
        kernel_size: odd side of the 3×3 layers' kernel (of ones, for WM layers).
        upsample: factor of the nearest-neighbour upsampling that comes first (module
            ``upsample``, none for 1); the body sees maps ``upsample`` times the image's size.
        strides: one stride (1 or 2) per max pooling between dense blocks (``len(blocks) − 1``
            of them), as a string of digits (``"122"``) or a list. 2 is the 2×2 pooling
            ``pool<n>``; 1 drops that pooling, so the map keeps its size (rcm's VGG, whose
            stride-1 max pools are removed). None: all 2, the paper's model.
    """

    def __init__(
        self,
        in_channels: int,
        input_size: int,
        num_classes: int,
        layers: str = "conv",
        pattern: str = "all",
        growth: int = 8,
        init_channels: int = 16,
        blocks: tuple[int, ...] = (2, 4, 8, 16),
        kernel_size: int = 3,
        upsample: int = 1,
        strides: str | tuple[int, ...] | None = None,
    ) -> None:
        if not blocks or min(blocks) < 1:
            raise ValueError(f"blocks must list at least one layer per block, got {list(blocks)}")
        pool_strides = (
            (2,) * (len(blocks) - 1)
            if strides is None
            else parse_strides(strides, len(blocks) - 1, "pooling between dense blocks")
        )
        body: OrderedDict[str, nn.Module] = OrderedDict()
        body["layer0"], size = make_layer(
            layer_kind(layers, pattern, 0),
            in_channels,
            init_channels,
            input_size * check_count("upsample", upsample),
            kernel_size,
            keep_size=True,
        )
        body["act0"] = nn.ReLU()
        width, index = init_channels, 1
        for number, repeat in enumerate(blocks, start=1):
            if number > 1 and pool_strides[number - 2] == 2:
                if size < 2:
                    raise ValueError(
                        f"input_size {input_size} is too small for {len(blocks)} blocks"
                    )
                body[f"pool{number - 1}"] = nn.MaxPool2d(2, 2)
                size //= 2
            for position in range(1, repeat + 1):
                kind = layer_kind(layers, pattern, index)
                body[f"block{number}_layer{position}"] = DenseLayer(
                    kind, width, growth, size, kernel_size
                )
                width, index = width + growth, index + 1
        super().__init__(body, "act", width, in_channels, input_size, num_classes, upsample)


@register_family("densenet")
def build_densenet(in_channels: int, input_size: int, num_classes: int, **args: object) -> DenseNet:
    """Builds the Table 4 DenseNet.

    Args (from the spec): layers, pattern, growth, init_channels, blocks, kernel_size, upsample,
    strides.

    Choices the paper leaves open, made here: WM layers keep the spatial size (``keep_size=True``,
    "same"-padded box filter) as the "same" convs they replace, so concatenations line up and the
    max pools alone downsample (floor: 7 → 3); the weight maps have the size of the layer's input.
    Dense layers have no batchnorm and no 1×1 bottleneck, and blocks no transition convs: Table 4
    names none of them.
    """
    as_tuples(args, "blocks")
    return DenseNet(in_channels, input_size, num_classes, **args)  # type: ignore[arg-type]
