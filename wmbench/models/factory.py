"""A user's own PyTorch classifier from a suite's ``models:`` entry: imported, built, loaded,
wrapped and checked, with a record of what exactly was measured.

The entry (:class:`wmbench.schema.FactoryModelEntry`) names a factory — ``file.py:callable``,
the file relative to the suite file, or ``package.module:callable`` — its keyword arguments,
optional weights (:mod:`wmbench.models.weights`), the input shape, the classes, a normalization
and a feature layer. This runs the user's code, by design, as ``torch.hub.load`` runs a
repository's ``hubconf.py``; weights are never unpickled beyond ``weights_only=True``.

The factory is called with torch's CPU generator seeded 0 (and the caller's random state put
back afterwards), so a model without weights is the same model every time it is loaded.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from wmbench._yaml import one_line
from wmbench.errors import ModelError
from wmbench.models.base import check_model
from wmbench.models.foreign import ForeignModel, check_foreign_model, resolve_feature_layer
from wmbench.models.weights import load_state, read_state_dict
from wmbench.schema.models import FactoryModelEntry

FACTORY_SEED = 0


@dataclass(frozen=True)
class FactoryRecord:
    """What a factory model is, for results files and ``wmbench info``.

    Attributes:
        factory: the entry's ``factory`` string, as written.
        source_file: the ``.py`` file the callable was read from (the module's ``__file__`` for
            ``package.module:callable``; None for a module without one).
        source_sha256: hex digest of ``source_file``; None without one.
        args: the factory's keyword arguments.
        weights: the weights file, resolved; None when the factory's own init is used.
        weights_sha256: hex digest of ``weights``; None without weights.
        input_shape: ``(C, H, W)`` of one input image.
        num_classes: outputs of the classifier.
        normalize: ``{"mean": [...], "std": [...]}``, or None.
        feature_layer: dotted name of the feature layer inside the user's module (the default
            resolved: the last Conv2d or WM layer).
    """

    factory: str
    source_file: Path | None
    source_sha256: str | None
    args: dict[str, Any]
    weights: Path | None
    weights_sha256: str | None
    input_shape: tuple[int, int, int]
    num_classes: int
    normalize: dict[str, list[float]] | None
    feature_layer: str

    @property
    def identity(self) -> str:
        """A sha256 over everything that decides the model's outputs (file contents, not
        paths), so the same model in another folder or on another machine compares equal."""
        document = {k: v for k, v in self.to_json().items() if k not in ("source_file", "weights")}
        text = json.dumps(document, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["source_file"] = None if self.source_file is None else str(self.source_file)
        document["weights"] = None if self.weights is None else str(self.weights)
        document["input_shape"] = list(self.input_shape)
        return document


def load_factory_model(
    entry: FactoryModelEntry,
    base_dir: Path,
    source: str | Path,
    device: torch.device | str | None = None,
) -> tuple[ForeignModel, FactoryRecord]:
    """Builds, loads and checks a user's model; returns it (in eval mode, on ``device``, the
    CPU by default) and its record.

    Args:
        entry: the suite's entry.
        base_dir: the folder relative paths start from (the suite file's).
        source: the suite file, named by every error.
        device: where the model runs (and is checked).

    Raises:
        ModelError: one line starting ``factory '<factory>':`` or ``weights '<weights>':``.
    """
    where = f"factory {entry.factory!r}"
    module, source_file = _import_target(entry, Path(base_dir), where, source)
    builder = _find_callable(module, entry.callable_name, entry.target, where, source)
    with _folder_on_path(source_file if entry.target.endswith(".py") else None):
        net = _build(builder, entry.args, where, source)
    weights = None
    if entry.weights is not None:
        weights = _resolve(Path(base_dir), entry.weights)
        state_where = f"weights {entry.weights!r}"
        load_state(net, read_state_dict(weights, state_where, source), state_where, source)
    feature_layer = resolve_feature_layer(net, entry.feature_layer, where, source)
    norm = entry.normalize
    model = ForeignModel(
        net,
        entry.input_shape,
        entry.num_classes,
        feature_layer,
        mean=None if norm is None else norm.mean,
        std=None if norm is None else norm.std,
    )
    device = torch.device("cpu" if device is None else device)
    model.to(device).eval()
    check_foreign_model(model, device, where, source, entry.randomised)
    check_model(model, source)
    record = FactoryRecord(
        factory=entry.factory,
        source_file=source_file,
        source_sha256=None if source_file is None else _sha256(source_file),
        args=dict(entry.args),
        weights=weights,
        weights_sha256=None if weights is None else _sha256(weights),
        input_shape=entry.input_shape,
        num_classes=entry.num_classes,
        normalize=None if norm is None else norm.model_dump(),
        feature_layer=feature_layer,
    )
    return model, record


def _resolve(base_dir: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return (path if path.is_absolute() else base_dir / path).resolve()


def _import_target(
    entry: FactoryModelEntry, base_dir: Path, where: str, source: str | Path
) -> tuple[ModuleType, Path | None]:
    """The module the factory lives in, and its file."""
    target = entry.target
    if target.endswith(".py"):
        path = _resolve(base_dir, target)
        if not path.is_file():
            raise ModelError(f"{where}: file not found: {path}", source)
        name = f"wmbench_factory_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ModelError(f"{where}: cannot import {path}", source)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as `import` does: dataclasses and pickle look it up there
        with _folder_on_path(path):
            try:
                spec.loader.exec_module(module)
            except Exception as error:  # the user's code: any exception is theirs, in one line
                sys.modules.pop(name, None)
                raise ModelError(f"{where}: cannot import {path}: {_said(error)}", source) from None
        return module, path
    try:
        module = importlib.import_module(target)
    except Exception as error:  # the user's code: any exception is theirs, in one line
        raise ModelError(f"{where}: cannot import {target}: {_said(error)}", source) from None
    file = getattr(module, "__file__", None)
    return module, None if file is None else Path(file).resolve()


def _find_callable(
    module: ModuleType, name: str, target: str, where: str, source: str | Path
) -> Callable[..., Any]:
    if not hasattr(module, name):
        public = [other for other in vars(module) if not other.startswith("_")]
        close = difflib.get_close_matches(name, public, n=3, cutoff=0.5)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise ModelError(f"{where}: {target} has no {name!r}{hint}", source)
    builder = getattr(module, name)
    if not callable(builder):
        raise ModelError(
            f"{where}: {name!r} in {target} is a {type(builder).__name__}, not a callable", source
        )
    return builder


def _build(
    builder: Callable[..., Any], args: dict[str, Any], where: str, source: str | Path
) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(FACTORY_SEED)
        try:
            net = builder(**args)
        except Exception as error:  # the user's code: any exception is theirs, in one line
            raise ModelError(f"{where} raised {_said(error)}", source) from None
    if not isinstance(net, nn.Module):
        raise ModelError(f"{where} returned a {type(net).__name__}, not a torch.nn.Module", source)
    return net


@contextlib.contextmanager
def _folder_on_path(file: Path | None) -> Iterator[None]:
    """``file``'s folder first on ``sys.path`` (so it can import its siblings), then
    ``sys.path`` as it was."""
    if file is None:
        yield
        return
    saved = list(sys.path)
    sys.path.insert(0, str(file.parent))
    try:
        yield
    finally:
        sys.path[:] = saved


def _said(error: BaseException) -> str:
    text = one_line(str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
