"""A user's own model as a self-describing wmbench checkpoint (``wmbench export``).

The checkpoint's spec has family ``factory``: its arguments name the factory (a ``.py`` file by
absolute path, or an importable module), the factory's own arguments, the normalisation and the
feature layer, so :func:`wmbench.load_checkpoint` rebuilds the model with the user's code and
loads the weights the checkpoint holds. Loading it runs that code, as a factory entry does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wmbench.models._registry import register_family
from wmbench.models.factory import (
    FactoryRecord,
    _build,
    _find_callable,
    _folder_on_path,
    _import_target,
)
from wmbench.models.foreign import ForeignModel, resolve_feature_layer
from wmbench.models.spec import InputSpec, ModelSpec
from wmbench.schema.models import FactoryModelEntry

FAMILY = "factory"


def exported_spec(label: str, entry: FactoryModelEntry, record: FactoryRecord) -> ModelSpec:
    """The spec of the checkpoint ``wmbench export`` writes for a suite's factory entry."""
    factory = entry.factory
    if record.source_file is not None and entry.target.endswith(".py"):
        factory = f"{record.source_file}:{entry.callable_name}"
    return ModelSpec(
        name=label,
        family=FAMILY,
        description=f"{entry.factory}, exported by wmbench export",
        input=InputSpec(channels=entry.input.channels, size=entry.input.size),
        num_classes=entry.num_classes,
        args={
            "factory": factory,
            "args": dict(entry.args),
            "normalize": record.normalize,
            "feature_layer": record.feature_layer,
        },
    )


@register_family(FAMILY)
def build_exported(
    in_channels: int,
    input_size: int,
    num_classes: int,
    factory: str,
    args: dict[str, Any] | None = None,
    normalize: dict[str, list[float]] | None = None,
    feature_layer: str | None = None,
) -> ForeignModel:
    """Builds the user's model an exported spec names (untrained: the checkpoint has weights)."""
    entry = FactoryModelEntry(
        factory=factory,
        args=args or {},
        input={"channels": in_channels, "size": input_size},
        num_classes=num_classes,
        normalize=normalize,
        feature_layer=feature_layer,
    )
    where = f"factory {factory!r}"
    module, source_file = _import_target(entry, Path.cwd(), where, None)
    builder = _find_callable(module, entry.callable_name, entry.target, where, None)
    with _folder_on_path(source_file if entry.target.endswith(".py") else None):
        net = _build(builder, entry.args, where, None)
    layer = resolve_feature_layer(net, feature_layer, where, None)
    mean = None if normalize is None else normalize["mean"]
    std = None if normalize is None else normalize["std"]
    shape = (in_channels, input_size, input_size)
    return ForeignModel(net, shape, num_classes, layer, mean=mean, std=std)
