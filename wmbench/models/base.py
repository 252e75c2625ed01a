"""The model contract: what the benchmark reads off a model, and the base class of the zoo.

Besides its forward pass (logits from a ``(B, C, H, W)`` batch) a benchmarked model says four
things, the way timm's models all say their ``default_cfg`` and ``num_features``: its spec, the
dotted name of its feature layer — the submodule whose output the activation-MSE metric (Amer &
Maul §4.3) and Grad-CAM read —, the shape ``(C, H, W)`` of one input image and the number of
classes. :class:`BenchmarkModel` states this as a Protocol that any ``nn.Module`` can satisfy (a
user's own model, ``spec`` None); :class:`ZooModel` is the base every zoo family subclasses, and
sets all four at construction.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import torch
from torch import nn

from wmbench.errors import ModelError
from wmbench.models.spec import ModelSpec

CONTRACT = ("spec", "feature_layer", "input_shape", "num_classes")


@runtime_checkable
class BenchmarkModel(Protocol):
    """What any model the benchmark measures provides (in practice an ``nn.Module``).

    Attributes:
        spec: the zoo spec it was built from; None for a model that is not from the zoo.
        feature_layer: dotted name of the feature-layer submodule, as ``get_submodule`` takes it
            (e.g. ``"body.act3"``); its output must be ``(B, C', H', W')``.
        input_shape: ``(C, H, W)`` of one input image.
        num_classes: outputs of the classifier.
    """

    @property
    def spec(self) -> ModelSpec | None: ...

    @property
    def feature_layer(self) -> str: ...

    @property
    def input_shape(self) -> tuple[int, int, int]: ...

    @property
    def num_classes(self) -> int: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def named_modules(self) -> Iterator[tuple[str, nn.Module]]: ...


class ZooModel(nn.Module):
    """Base of every zoo family: the contract's attributes, set once by the constructor.

    Args:
        in_channels: channels of the input image.
        input_size: side of the square input image.
        num_classes: outputs of the classifier.
        feature_layer: dotted name of the feature-layer submodule (registered by the subclass).

    ``spec`` stays None until :func:`wmbench.models.build_model` records the spec it built the
    model from (a family's builder takes the spec's arguments, not the spec).
    """

    def __init__(
        self, in_channels: int, input_size: int, num_classes: int, feature_layer: str
    ) -> None:
        super().__init__()
        self.spec: ModelSpec | None = None
        self.feature_layer = feature_layer
        self.input_shape = (in_channels, input_size, input_size)
        self.num_classes = num_classes


def feature_module(model: BenchmarkModel, source: str | Path | None = None) -> nn.Module:
    """The submodule ``model.feature_layer`` names.

    Raises:
        ModelError: (naming ``source``) the model names no feature layer, or one it does not
            have; the message gives the closest submodule names.
    """
    name = getattr(model, "feature_layer", None)  # the one place that checks it is there
    kind = type(model).__name__
    if not isinstance(name, str) or not name:
        raise ModelError(
            f"{kind} names no feature layer (feature_layer: the dotted name of a submodule)",
            source,
        )
    modules = dict(model.named_modules())
    if name in modules:
        return modules[name]
    names = [other for other in modules if other]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.0)
    hint = f"closest: {', '.join(close)}" if close else "it has no submodules"
    raise ModelError(f"feature layer {name!r} is not a submodule of {kind}; {hint}", source)


def check_model(model: object, source: str | Path | None = None) -> BenchmarkModel:
    """``model`` itself when it is an ``nn.Module`` that keeps the contract, else a ModelError
    (naming ``source``) that says what is missing or wrong."""
    if not isinstance(model, nn.Module):
        raise ModelError(f"expected a torch.nn.Module, got {type(model).__name__}", source)
    kind = type(model).__name__
    missing = [name for name in CONTRACT if not hasattr(model, name)]
    if missing:
        raise ModelError(
            f"{kind} lacks {', '.join(missing)} (see wmbench.models.BenchmarkModel)", source
        )
    checked = cast(BenchmarkModel, model)  # every member is there, as checked above
    if checked.spec is not None and not isinstance(checked.spec, ModelSpec):
        raise ModelError(f"{kind}.spec must be a ModelSpec or None", source)
    shape, classes = checked.input_shape, checked.num_classes
    if not isinstance(shape, tuple) or len(shape) != 3 or not all(map(_is_count, shape)):
        raise ModelError(f"{kind}.input_shape must be (C, H, W), got {shape!r}", source)
    if not _is_count(classes) or classes < 2:
        raise ModelError(
            f"{kind}.num_classes must be an integer of at least 2, got {classes!r}", source
        )
    feature_module(checked, source)
    return checked


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
