"""The ResNet skeleton of Amer & Maul, Table 3 (arXiv:1905.00568, §4.2).

Four stages of 3, 4, 6, 4 ResBlocks with 8, 16, 32, 64 channels, global average pooling and one
fully connected layer. A ResBlock is two 3×3 layers (``layer1 → ReLU → layer2``), the shortcut
added to the second layer's output, and a ReLU (He et al., 2015). The first layer of the first
block of every stage that widens the network downsamples by 2 (28 → 14 → 7 → 4 on MNIST). Some
or all of the 3×3 body layers are conv or WM layers, as the spec's ``layers`` and ``pattern`` say.
The feature layer is the final ReLU of the last block.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from wmbench.models._blocks import PooledClassifier, as_tuples, layer_kind, make_layer
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
    ) -> None:
        if len(blocks) != len(channels) or not blocks:
            raise ValueError(f"blocks {list(blocks)} and channels {list(channels)} must pair up")
        if min(blocks) < 1:
            raise ValueError(f"blocks must list at least one block per stage, got {list(blocks)}")
        body: OrderedDict[str, nn.Module] = OrderedDict()
        size, width, index = input_size, in_channels, 0
        for stage, (repeat, out_channels) in enumerate(zip(blocks, channels, strict=True), start=1):
            for block in range(1, repeat + 1):
                widens = stage > 1 and block == 1 and out_channels > channels[stage - 2]
                kinds = (
                    layer_kind(layers, pattern, index),
                    layer_kind(layers, pattern, index + 1),
                )
                res_block = ResBlock(
                    kinds, width, out_channels, size, kernel_size, stride=2 if widens else 1
                )
                body[f"stage{stage}_block{block}"] = res_block
                size, width, index = res_block.output_size, out_channels, index + 2
        super().__init__(body, "act2", width, in_channels, input_size, num_classes)


@register_family("resnet")
def build_resnet(in_channels: int, input_size: int, num_classes: int, **args: object) -> ResNet:
    """Builds the Table 3 ResNet; args: layers, pattern, blocks, channels, kernel_size.

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
    """
    as_tuples(args, "blocks", "channels")
    return ResNet(in_channels, input_size, num_classes, **args)  # type: ignore[arg-type]
