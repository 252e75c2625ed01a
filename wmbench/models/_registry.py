"""The model zoo: YAML specs (data) in top-level ``models/``, builders (code) registered here.

After timm's ``register_model`` / ``create_model`` / ``list_models``: a variant is one spec file
naming a family and its arguments; a family is one registered builder function returning a
:class:`~wmbench.models.base.ZooModel`. Every built model keeps that contract: its ``spec``, its
``feature_layer`` (the submodule whose output is the feature-layer activation — the last
convolutional or WM layer, after its nonlinearity — that the activation-MSE metric reads), its
``input_shape`` and ``num_classes``. Installed from a wheel, the specs are the package's copy
(:mod:`wmbench.models.shipped`).
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from wmbench._yaml import one_line, read_yaml, validation_message
from wmbench.errors import ConfigError, ModelError
from wmbench.models.base import ZooModel
from wmbench.models.foreign import ForeignModel
from wmbench.models.shipped import shipped_dir
from wmbench.models.spec import ModelSpec

Builder = Callable[..., ZooModel]
_FAMILIES: dict[str, Builder] = {}

ZOO_ENV = "WMBENCH_ZOO"
MAX_PARAMETERS = 2**33  # 32 GiB of float32: far beyond any model of this benchmark


def register_family(name: str) -> Callable[[Builder], Builder]:
    """Registers ``builder(in_channels, input_size, num_classes, **args) -> ZooModel``."""

    def decorate(builder: Builder) -> Builder:
        _FAMILIES[name] = builder
        return builder

    return decorate


def list_families() -> list[str]:
    return sorted(_FAMILIES)


def zoo_dir() -> Path:
    """The folder of zoo specs: ``$WMBENCH_ZOO``, else the repository's ``models/`` when wmbench
    runs from a checkout (an editable install), else the copy installed with the package."""
    env = os.environ.get(ZOO_ENV)
    if env:
        return Path(env)
    return shipped_dir("models")


def parse_spec(data: Any, source: str | Path) -> ModelSpec:
    """Validates a decoded spec document; errors name ``source`` and the key path.

    The model is built once on the meta device (shapes without memory), so that arguments its
    builder refuses are reported now, naming the file, and not when training starts.

    Raises:
        ConfigError: the document does not match the spec schema.
        ModelError: the family's builder refuses the arguments.
    """
    if data is None:
        raise ConfigError("the file is empty (expected keys name, family, args)", source)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with keys name, family, args", source)
    try:
        spec = ModelSpec.model_validate(data)
    except ValidationError as error:
        raise ConfigError(validation_message(error), source) from None
    if spec.family not in _FAMILIES:
        raise ConfigError(
            f"family: unknown family {spec.family!r} (known: {', '.join(list_families())})",
            source,
        )
    try:
        shapes = state_shapes(spec)
    except ModelError as error:
        raise ModelError(error.message, source) from None
    size = sum(math.prod(shape) for shape in shapes.values())
    if size > MAX_PARAMETERS:
        raise ModelError(f"model {spec.name!r} would have {size:,} parameters; too many", source)
    return spec


def load_spec(path: str | Path) -> ModelSpec:
    """Reads and validates one YAML spec file."""
    return parse_spec(read_yaml(path), path)


def _zoo_files() -> dict[str, Path]:
    folder = zoo_dir()
    if not folder.is_dir():
        raise ModelError(f"model zoo folder not found (set {ZOO_ENV})", folder)
    files = {file.stem: file for file in folder.glob("*.yaml")}
    return dict(sorted(files.items()))


def list_models(pattern: str = "*") -> list[str]:
    """Names of the zoo's models matching a shell-style wildcard, sorted."""
    return [name for name in _zoo_files() if fnmatch.fnmatch(name, pattern)]


def get_spec(name_or_path: str | Path) -> ModelSpec:
    """The spec of a zoo name, or of a spec file when given a path to one."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return load_spec(candidate)
    files = _zoo_files()
    name = str(name_or_path)
    if name not in files:
        close = difflib.get_close_matches(name, list(files), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `wmbench models`"
        raise ModelError(f"unknown model {name!r}{hint}")
    spec = load_spec(files[name])
    if spec.name != name:
        raise ConfigError(f"name: {spec.name!r} does not match the file name", files[name])
    return spec


def build_model(spec: ModelSpec) -> ZooModel:
    """Builds the untrained model a spec describes; its ``spec`` is ``spec``."""
    builder = _FAMILIES[spec.family]
    try:
        model = builder(
            in_channels=spec.input.channels,
            input_size=spec.input.size,
            num_classes=spec.num_classes,
            **spec.args,
        )
    except (TypeError, ValueError) as error:
        raise ModelError(f"model {spec.name!r}: args: {one_line(str(error))}") from None
    except RuntimeError as error:  # torch refusing a tensor this size, e.g. out of memory
        raise ModelError(f"model {spec.name!r}: cannot be built: {one_line(str(error))}") from None
    if not isinstance(model, (ZooModel, ForeignModel)):  # a family registered outside the zoo
        raise TypeError(
            f"the builder of family {spec.family!r} returned a {type(model).__name__}, "
            "not a wmbench.models.ZooModel or ForeignModel"
        )
    model.spec = spec
    return model


def state_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor in the state dict of the model ``spec`` describes.

    Built on the meta device, where tensors have shapes but no memory, so this is cheap even for
    a spec that asks for an absurdly large model.
    """
    with torch.device("meta"):
        model = build_model(spec)
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def create_model(name_or_spec: str | Path | ModelSpec) -> ZooModel:
    """Builds a zoo model by name, spec file or spec object (untrained)."""
    spec = name_or_spec if isinstance(name_or_spec, ModelSpec) else get_spec(name_or_spec)
    return build_model(spec)
