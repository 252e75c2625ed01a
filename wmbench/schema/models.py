"""The ``models:`` entries of a suite file: a wmbench checkpoint (a path) or a user's own model.

A user's own model is any PyTorch classifier: a ``factory`` (a callable in a ``.py`` file or an
importable module) that builds the ``nn.Module``, optional ``weights`` (a state dict), the input
it takes, its classes, an optional normalization applied inside the model (so attacks work on
``[0, 1]`` images, as RobustBench wraps its models) and an optional feature layer.
:func:`wmbench.models.load_factory_model` builds and checks it. See README.md, "Suite format".
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from wmbench.schema.types import Count, Positive, StrictModel

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")


class ImageInput(StrictModel):
    """Shape of one input image: ``channels`` × ``size`` × ``size``."""

    channels: Count
    size: Count


class Normalization(StrictModel):
    """Per-channel ``(x - mean) / std``, applied inside the model to ``[0, 1]`` images."""

    mean: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(min_length=1)
    std: list[Positive] = Field(min_length=1)


class FactoryModelEntry(StrictModel):
    """A user's own model in a suite's ``models:`` mapping."""

    factory: str = Field(
        description="'file.py:callable' (relative to the suite file) or 'package.module:callable'"
    )
    args: dict[str, Any] = Field(default_factory=dict)
    weights: str | None = Field(None, min_length=1)
    input: ImageInput
    num_classes: Annotated[int, Field(ge=2, strict=True)]
    normalize: Normalization | None = None
    feature_layer: str | None = Field(None, min_length=1)
    randomised: bool = Field(
        False,
        description="A randomised defence: its outputs may differ between identical calls "
        "(evaluate it with autoattack version: rand).",
    )

    @field_validator("factory")
    @classmethod
    def _factory_form(cls, value: str) -> str:
        target, colon, name = value.rpartition(":")  # rpartition: a Windows path has a colon
        if not colon or not target or not name.strip():
            raise ValueError(
                f"expected 'file.py:callable' or 'package.module:callable', got {value!r}"
            )
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not a Python name (after the ':' in {value!r})")
        if not target.endswith(".py") and not all(p.isidentifier() for p in target.split(".")):
            raise ValueError(f"{target!r} is neither a .py file nor a module name like pkg.mod")
        return value

    @field_validator("weights")
    @classmethod
    def _weights_format(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().endswith(WEIGHT_SUFFIXES):
            raise ValueError(f"expected a .safetensors, .pt or .pth state dict, got {value!r}")
        return value

    @model_validator(mode="after")
    def _normalization_per_channel(self) -> FactoryModelEntry:
        norm, channels = self.normalize, self.input.channels
        if norm is not None and not len(norm.mean) == len(norm.std) == channels:
            raise ValueError(
                f"normalize: mean and std need one value per input channel ({channels}); "
                f"got {len(norm.mean)} and {len(norm.std)}"
            )
        return self

    @property
    def target(self) -> str:
        """The part before the ``:`` — a ``.py`` file or a module name."""
        return self.factory.rpartition(":")[0]

    @property
    def callable_name(self) -> str:
        """The part after the ``:`` — the callable that builds the model."""
        return self.factory.rpartition(":")[2]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.input.channels, self.input.size, self.input.size)


def _entry_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "<checkpoint>"
    if isinstance(value, (dict, FactoryModelEntry)):
        return "<factory>"
    return None


# A checkpoint path, or a user's own model. The tags are in angle brackets, which error messages
# leave out of the key path (wmbench._yaml.validation_message): the user never wrote them.
ModelEntry = Annotated[
    Annotated[str, Tag("<checkpoint>")] | Annotated[FactoryModelEntry, Tag("<factory>")],
    Discriminator(
        _entry_kind,
        custom_error_type="model_entry",
        custom_error_message=(
            "expected a checkpoint path, or a mapping with factory, input and num_classes"
        ),
    ),
]
