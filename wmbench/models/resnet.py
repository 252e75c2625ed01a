"""The ResNet skeleton of Amer & Maul, Table 3 (arXiv:1905.00568, §4.2).

Four stages of 3, 4, 6, 4 ResBlocks with 8, 16, 32, 64 channels, global average pooling and one
fully connected layer. A ResBlock is two 3×3 layers (``layer1 → ReLU → layer2``), the shortcut
added to the second layer's output, and a ReLU (He et al., 2015). The first layer of the first
block of every stage that widens the network downsamples by 2 (28 → 14 → 7 → 4 on MNIST). Some
or all of the 3×3 body layers are conv or WM layers, as the spec's ``layers`` and ``pattern`` say.
The feature layer is the final ReLU of the last block.

Beyond the paper, off by default: the feature-map size of rcm (Xu et al., arXiv:2202.12435, code
github.com/MTandHJ/rcm) through ``upsample`` and ``strides``, and EWAS (Liu & Zhang,
github.com/ieslab-ynu/EWAS; :mod:`wmbench.layers.ewas`) through ``ewas``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from wmbench.models._blocks import (
    PooledClassifier,
    as_tuples,
    check_count,
    ewas_weight_of,
    layer_kind,
    make_ewas,
    make_layer,
    parse_strides,
)
from wmbench.models._registry import register_family


class ResBlock(nn.Module):
    """One residual block, ``relu(layer2(relu(layer1(x))) + shortcut(x))``.

    The shortcut is a 1×1 conv projection when the channels or the spatial size change, else the
    identity.

    Args:
        kinds: layer kinds of the first and second 3×3 layer.
        in_channels: input channels.
        out_channels: output channels of both layers.
        input_size: side of the square input map.
        kernel_size: odd kernel side of both layers.
        stride: downsampling factor of the first layer (and of the projection).
    """

    def __init__(
        self,
        kinds: tuple[str, str],
        in_channels: int,
        out_channels: int,
        input_size: int,
        kernel_size: int,
        stride: int,
    ) -> None:
        super().__init__()
        self.layer1, size = make_layer(
            kinds[0],
            in_channels,
            out_channels,
            input_size,
            kernel_size,
            keep_size=True,
            stride=stride,
        )
        self.act1 = nn.ReLU()
        self.layer2, size = make_layer(
            kinds[1], out_channels, out_channels, size, kernel_size, keep_size=True
        )
        if in_channels != out_channels or size != input_size:
            self.shortcut: nn.Module = nn.Conv2d(in_channels, out_channels, 1, stride=stride)
        else:
            self.shortcut = nn.Identity()
        self.act2 = nn.ReLU()
        self.output_size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(self.layer2(self.act1(self.layer1(x))) + self.shortcut(x))


class ResNet(PooledClassifier):
    """Stages of ResBlocks, global average pooling and a linear classifier.

    Args:
        in_channels: channels of the input image; the first block takes it directly (no stem).
        input_size: side of the square input image.
        num_classes: outputs of the classifier.
        layers: kind of the replaced 3×3 layers: ``conv``, ``wm-smooth`` or ``wm-unsharp``.
        pattern: ``all`` or ``alternating`` (see :func:`wmbench.models._blocks.layer_kind`).
        blocks: ResBlocks per stage.
        channels: width of each stage.
        kernel_size: odd side of the 3×3 layers' kernel (of ones, for WM layers).
        upsample: factor of the nearest-neighbour upsampling that comes first (module
            ``upsample``, none for 1); the body sees maps ``upsample`` times the image's size.
        strides: one stride (1 or 2) per stage, as a string of digits (rcm's ``"1122"``) or a
            list: the stride of the first block's first 3×3 layer and of its 1×1 shortcut.
            None: 2 for a stage wider than the one before, else 1 (``"1222"`` for the zoo).
        ewas: put EWAS (module ``body.ewas``) right before the body's last ResBlock — between
            the last stage's last two blocks, where the reference puts it in ResNet-18.
        ewas_weight: λ of EWAS's auxiliary loss (0.01 when not given); needs ``ewas``.
    """

    def __init__(
        self,
        in_channels: int,
        input_size: int,
        num_classes: int,
        layers: str = "conv",
        pattern: str = "all",
        blocks: tuple[int, ...] = (3, 4, 6, 4),
        channels: tuple[int, ...] = (8, 16, 32, 64),
        kernel_size: int = 3,
        upsample: int = 1,
        strides: str | tuple[int, ...] | None = None,
        ewas: bool = False,
        ewas_weight: float | None = None,
    ) -> None:
        if len(blocks) != len(channels) or not blocks:
            raise ValueError(f"blocks {list(blocks)} and channels {list(channels)} must pair up")
        if min(blocks) < 1:
            raise ValueError(f"blocks must list at least one block per stage, got {list(blocks)}")
        if strides is None:
            widens = [
                stage > 0 and channels[stage] > channels[stage - 1]
                for stage in range(len(channels))
            ]
            stage_strides = tuple(2 if wider else 1 for wider in widens)
        else:
            stage_strides = parse_strides(strides, len(blocks), "stage")
        aux_weight = ewas_weight_of(ewas, ewas_weight)
        if aux_weight is not None and sum(blocks) < 2:
            raise ValueError("ewas goes before the last ResBlock; it needs at least two")
        body: OrderedDict[str, nn.Module] = OrderedDict()
        size, width, index = input_size * check_count("upsample", upsample), in_channels, 0
        for stage, (repeat, out_channels) in enumerate(zip(blocks, channels, strict=True), start=1):
            for block in range(1, repeat + 1):
                if aux_weight is not None and stage == len(blocks) and block == repeat:
                    body["ewas"] = make_ewas(aux_weight, width, size, num_classes)
                kinds = (
                    layer_kind(layers, pattern, index),
                    layer_kind(layers, pattern, index + 1),
                )
                stride = stage_strides[stage - 1] if block == 1 else 1
                res_block = ResBlock(kinds, width, out_channels, size, kernel_size, stride=stride)
                body[f"stage{stage}_block{block}"] = res_block
                size, width, index = res_block.output_size, out_channels, index + 2
        super().__init__(body, "act2", width, in_channels, input_size, num_classes, upsample)


@register_family("resnet")
def build_resnet(in_channels: int, input_size: int, num_classes: int, **args: object) -> ResNet:
    """Builds the Table 3 ResNet; args: layers, pattern, blocks, channels, kernel_size, upsample,
    strides, ewas, ewas_weight.

    Choices the paper leaves open, made here:

    - WM layers keep the spatial size (``keep_size=True``: "same"-padded box filter), as the
      3×3 convs they replace do, so shortcuts add maps of equal size.
    - A downsampling position (first layer of the first block of a stage wider than the one
      before) gets ``stride=2`` whatever its kind: a WM layer there computes its full-resolution
      output and keeps every other pixel, exactly what a stride-2 "same" conv does
      (28 → 14 → 7 → 4). The weight maps have the size of the layer's input.
    - Shortcut projections (1×1, same stride) are always conv; only 3×3 body layers are replaced.
    - ``alternating`` numbers the 3×3 body layers 0, 1, 2, … in forward order and replaces the odd
      ones, so every block's second layer is WM and every first layer, downsampling ones
      included, stays conv.
    - No stem (the first block takes the image) and no batchnorm: Table 3 names neither.
    - ``strides`` follows rcm's ``cifar_resnet.py``: only the first block of a stage strides, on
      its first 3×3 layer and its 1×1 projection (stages at 28, 28, 14, 7 for "1122" on MNIST).
      A block whose channels or map size change gets the projection, every other the identity.
    """
    as_tuples(args, "blocks", "channels")
    return ResNet(in_channels, input_size, num_classes, **args)  # type: ignore[arg-type]
