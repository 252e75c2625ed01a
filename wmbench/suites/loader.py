"""YAML suite file → validated :class:`LoadedSuite`, or one :class:`ConfigError` naming the key.

Beyond the schema, the loader checks what needs the suite as a whole: torchattacks class names
and arguments are real, gates name models, perturbations and parameter values that the suite
actually runs, and every model takes the data set's images: a checkpoint (paths are relative to
the suite file) is a wmbench checkpoint whose weights fit its spec, and a factory entry (a user's
own model) builds, loads its weights and gives logits. Checkpoint headers are read and factory
models built here, so that a bad one stops the run before any model is measured.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wmbench._yaml import key_name, read_yaml, validation_message
from wmbench.checkpoint import read_checkpoint_info
from wmbench.data import IMAGE_SHAPES
from wmbench.errors import CheckpointError, ConfigError, ModelError
from wmbench.models import check_input_shape, load_factory_model
from wmbench.models.shipped import find_packaged_suite
from wmbench.perturbations import torchattacks_class
from wmbench.schema import (
    GATE_KINDS,
    PERTURBATION_KINDS,
    Corruption,
    CorruptionGate,
    FactoryModelEntry,
    MaxErrorGate,
    NoWarningsGate,
    RelativeGate,
    Suite,
    TorchattacksEntry,
    Transfer,
)
from wmbench.suites.sources import CheckpointSource, FactorySource, ModelSource

_TAGS = (*PERTURBATION_KINDS, *GATE_KINDS)


@dataclass
class LoadedSuite:
    """A validated suite, its models (checked and identified once) and where its data is."""

    suite: Suite
    source: Path | None  # None for a suite built in code
    models: dict[str, ModelSource] = field(default_factory=dict)

    @property
    def data_path(self) -> Path | None:
        """The data set's ``path``, resolved against the suite file's folder (or the current
        folder for a suite built in code)."""
        path = self.suite.dataset.path
        if path is None:
            return None
        return Path(path) if self.source is None else _resolve(self.source, path)


def parse_suite(data: Any, source: str | Path) -> Suite:
    """Validates a decoded suite document (schema and cross-references, not files)."""
    if data is None:
        raise ConfigError("the file is empty (expected keys name, models, perturbations)", source)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with keys name, models, perturbations", source)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as error:
        raise ConfigError(validation_message(error, _TAGS), source) from None
    for index, entry in enumerate(suite.perturbations):
        if isinstance(entry, TorchattacksEntry):
            _check_torchattacks(entry, f"perturbations[{index}]", source)
        if isinstance(entry, Corruption) and entry.baseline not in (None, *suite.models):
            raise ConfigError(
                f"perturbations[{index}].baseline: {entry.baseline!r} is not a model of the "
                f"suite (models: {', '.join(suite.models)})",
                source,
            )
    for index, gate in enumerate(suite.gates):
        _check_gate(suite, gate, f"gates[{index}]", source)
    return suite


def resolve_suite_path(path: str | Path) -> Path:
    """``path``, or the example suite shipped with wmbench that a bare name means
    (``paper-mnist``) when no such file exists (``wmbench suites`` lists them)."""
    path = Path(path)
    if path.exists():
        return path
    packaged = find_packaged_suite(path)
    return path if packaged is None else packaged


def load_suite(path: str | Path, only: Sequence[str] = ()) -> LoadedSuite:
    """Reads a suite file and checks every model it names: a checkpoint's header (not its
    weights), or a factory entry's model, built once on the CPU and checked. A bare name that
    is no file is an example suite's (:func:`resolve_suite_path`). With ``only`` (labels or
    shell-style patterns, ``cnn-*``), the whole suite is validated and then only the models
    matching one of them are kept (:func:`select_models`)."""
    path = resolve_suite_path(path)
    suite = parse_suite(read_yaml(path), path)
    if only:
        suite = select_models(suite, only, path)
    shape = IMAGE_SHAPES.get(suite.dataset.name)
    models: dict[str, ModelSource] = {}
    for label, entry in suite.models.items():
        where = f"models.{key_name(label)} in {path}"
        if isinstance(entry, FactoryModelEntry):
            models[label] = _factory_source(label, entry, path, shape, where)
            continue
        checkpoint = _resolve(path, entry)
        if checkpoint.is_dir():
            raise CheckpointError(f"is a folder, not a checkpoint file ({where})", checkpoint)
        if not checkpoint.is_file():
            raise CheckpointError(
                f"checkpoint of model {label!r} not found ({where}); train it with `wmbench train`",
                checkpoint,
            )
        info = read_checkpoint_info(checkpoint)
        if shape is not None:
            check_input_shape(info.spec, shape, checkpoint)
        models[label] = CheckpointSource(label, checkpoint, info)
    for index, entry in enumerate(suite.perturbations):
        if isinstance(entry, Transfer):
            _check_transfer_source(entry, path, f"perturbations[{index}].source in {path}")
    return LoadedSuite(suite=suite, source=path, models=models)


def select_models(suite: Suite, only: Sequence[str], source: str | Path) -> Suite:
    """The suite with only the models whose label matches one of ``only`` (``--model``).

    Raises:
        ConfigError: a pattern that matches no model, or a corruption baseline or gate that
            names a model left out (the subset could not compute it).
    """
    for pattern in only:
        if not any(fnmatchcase(label, pattern) for label in suite.models):
            raise ConfigError(
                f"--model {pattern!r} matches no model of the suite "
                f"(models: {_listing(suite.models)})",
                source,
            )
    kept = {
        label: entry
        for label, entry in suite.models.items()
        if any(fnmatchcase(label, pattern) for pattern in only)
    }
    named = [
        (f"perturbations[{index}].baseline", entry.baseline)
        for index, entry in enumerate(suite.perturbations)
        if isinstance(entry, Corruption) and entry.baseline is not None
    ]
    for index, gate in enumerate(suite.gates):
        if isinstance(gate, RelativeGate):
            named += [(f"gates[{index}]", gate.better), (f"gates[{index}]", gate.than)]
        elif gate.model is not None:
            named.append((f"gates[{index}]", gate.model))
    for where, label in named:
        if label not in kept:
            raise ConfigError(
                f"{where} needs model {label!r}, which --model leaves out; select it too",
                source,
            )
    return suite.model_copy(update={"models": kept})


def _check_transfer_source(entry: Transfer, path: Path, where: str) -> None:
    """Resolves a transfer attack's source checkpoint against the suite file and reads its
    header, so a missing or broken surrogate stops the run before any model is measured."""
    checkpoint = _resolve(path, entry.source)
    if not checkpoint.is_file():
        raise CheckpointError(
            f"source checkpoint of a transfer attack not found ({where})", checkpoint
        )
    read_checkpoint_info(checkpoint)
    entry.resolve(checkpoint)


def _resolve(suite_path: Path, name: str) -> Path:
    return Path(name) if Path(name).is_absolute() else suite_path.parent / name


def _factory_source(
    label: str,
    entry: FactoryModelEntry,
    path: Path,
    shape: tuple[int, int, int] | None,
    where: str,
) -> FactorySource:
    declared = (entry.input.channels, entry.input.size, entry.input.size)
    if shape is not None and declared != shape:
        raise ModelError(
            f"{where}: model {label!r} takes {declared} inputs, the data set has {shape}", path
        )
    model, record = load_factory_model(entry, path.parent, path)
    return FactorySource(label, entry, path.parent, path, record, checked=model)


def _check_torchattacks(entry: TorchattacksEntry, where: str, source: str | Path) -> None:
    cls = torchattacks_class(entry.attack)
    if cls is None:
        raise ConfigError(
            f"{where}.attack: {entry.attack!r} is not an attack of torchattacks", source
        )
    parameters = inspect.signature(cls.__init__).parameters
    accepted = [name for name in parameters if name not in ("self", "model")]
    for key in entry.args:
        if key not in accepted:
            raise ConfigError(
                f"{where}.args.{key_name(key)}: {entry.attack} takes no argument {key!r} "
                f"(it takes {', '.join(accepted) or 'none'})",
                source,
            )


def _check_gate(
    suite: Suite,
    gate: MaxErrorGate | RelativeGate | NoWarningsGate | CorruptionGate,
    where: str,
    source: str | Path,
) -> None:
    if isinstance(gate, CorruptionGate):
        entry = suite.perturbation(gate.perturbation)
        if gate.model not in suite.models or not isinstance(entry, Corruption):
            raise ConfigError(
                f"{where}: a corruption gate names a model of the suite and a corruption entry "
                f"(got {gate.model!r}, {gate.perturbation!r})",
                source,
            )
        if gate.bound[0] != "mean_ce" and entry.baseline is None:
            raise ConfigError(
                f"{where}: {gate.bound[0]} needs the entry's baseline (perturbations: "
                f"{gate.perturbation}: baseline: MODEL)",
                source,
            )
        return
    if isinstance(gate, NoWarningsGate):
        if gate.model is not None and gate.model not in suite.models:
            raise ConfigError(
                f"{where}: unknown model {gate.model!r} (the suite has {_listing(suite.models)})",
                source,
            )
        return
    models = [gate.model] if isinstance(gate, MaxErrorGate) else [gate.better, gate.than]
    for label in models:
        if label not in suite.models:
            raise ConfigError(
                f"{where}: unknown model {label!r} (the suite has {_listing(suite.models)})",
                source,
            )
    entry = suite.perturbation(gate.perturbation)
    if entry is None:
        labels = _listing(p.label for p in suite.perturbations)
        raise ConfigError(
            f"{where}: unknown perturbation {gate.perturbation!r} (the suite has {labels})",
            source,
        )
    if not isinstance(gate, MaxErrorGate):
        return
    points = entry.points()
    for key, value in gate.params.items():
        values = [point[key] for point in points if key in point]
        if not values:
            raise ConfigError(
                f"{where}.{key_name(key)}: {key_name(gate.perturbation)} has no parameter {key!r}",
                source,
            )
        if value not in values:
            raise ConfigError(
                f"{where}.{key_name(key)}: the suite does not run {key_name(gate.perturbation)} "
                f"at {key_name(key)}={value!r} "
                f"(it runs {sorted(set(values), key=str)})",
                source,
            )
    matching = [p for p in points if all(p.get(k) == v for k, v in gate.params.items())]
    if len(matching) != 1:
        swept = [key for key in entry.sweep_params() if key not in gate.params]
        raise ConfigError(
            f"{where}: name one cell of the {key_name(gate.perturbation)} sweep "
            f"(give {_listing(swept)})",
            source,
        )


def _listing(names: Iterable[str]) -> str:
    return ", ".join(key_name(name) for name in names)
