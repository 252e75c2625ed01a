"""A user's own classifier wrapped to keep the model contract, and the checks it must pass.

:class:`ForeignModel` holds the user's ``nn.Module`` as ``net``, normalizes ``[0, 1]`` images
inside the forward pass (as RobustBench wraps its models, so that an attack's ε is measured on
the images and not on normalized values) and says its feature layer, input shape and classes
(:class:`~wmbench.models.base.BenchmarkModel`, ``spec`` None).

:func:`check_foreign_model` runs it once on a probe batch, after AutoAttack's ``checks.py``: the
output must be ``(B, num_classes)`` finite logits, the feature layer must run and give
``(B, C', H', W')``, and two identical calls in eval mode must agree — randomness at test time
makes attacks and errors unrepeatable and gradient attacks look stronger or weaker than they are.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from wmbench._yaml import one_line
from wmbench.errors import ModelError
from wmbench.layers import WeightMap2d
from wmbench.models.spec import ModelSpec

NET = "net"  # the attribute of the user's module inside the wrapper
PROBE_BATCH = 2
_FEATURE_KINDS = (nn.Conv2d, WeightMap2d)


class ForeignModel(nn.Module):
    """A user's classifier with the contract's attributes and its input normalization.

    Args:
        net: the user's module; it is put in eval mode.
        input_shape: ``(C, H, W)`` of one input image.
        num_classes: outputs of the classifier.
        feature_layer: dotted name of the feature layer inside ``net`` (e.g. ``"layer4"``);
            the wrapper's own :attr:`feature_layer` is ``"net.layer4"``.
        mean, std: per-channel normalization ``(x - mean) / std``; None for none.
    """

    def __init__(
        self,
        net: nn.Module,
        input_shape: tuple[int, int, int],
        num_classes: int,
        feature_layer: str,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        net.eval()
        self.net = net
        self.spec: ModelSpec | None = None
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.feature_layer = f"{NET}.{feature_layer}"
        self.register_buffer("mean", _per_channel(mean))
        self.register_buffer("std", _per_channel(std))
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return self.net(x)


def _per_channel(values: Sequence[float] | None) -> torch.Tensor | None:
    return None if values is None else torch.tensor(list(values)).view(1, -1, 1, 1)


def default_feature_layer(net: nn.Module) -> str | None:
    """The dotted name of the last ``nn.Conv2d`` or WM layer in ``named_modules`` order."""
    found = [name for name, module in net.named_modules() if isinstance(module, _FEATURE_KINDS)]
    return found[-1] if found else None


def resolve_feature_layer(
    net: nn.Module, name: str | None, where: str, source: str | Path | None
) -> str:
    """``name`` when ``net`` has that submodule, the default when ``name`` is None.

    Raises:
        ModelError: no such submodule (the message gives the closest names), or no default.
    """
    kind = type(net).__name__
    if name is None:
        found = default_feature_layer(net)
        if found is None:
            raise ModelError(
                f"{where}: {kind} has no nn.Conv2d or WeightMap2d layer to read features from; "
                "name one with feature_layer",
                source,
            )
        return found
    names = [other for other, _ in net.named_modules() if other]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.0)
        hint = f"closest: {', '.join(close)}" if close else "it has no submodules"
        raise ModelError(
            f"{where}: feature_layer {name!r} is not a submodule of {kind}; {hint}", source
        )
    return name


def check_foreign_model(
    model: ForeignModel,
    device: torch.device,
    where: str,
    source: str | Path | None,
    randomised: bool = False,
) -> None:
    """Runs ``model`` (on ``device``) on a probe batch of its input shape and refuses what the
    benchmark cannot measure (see the module docstring). Two calls must agree exactly, as in
    AutoAttack's ``check_randomized``, unless the model is declared ``randomised`` (a randomised
    defence, to be evaluated with EOT). ``where`` starts every message; it names the factory."""
    generator = torch.Generator().manual_seed(0)
    probe = torch.rand(PROBE_BATCH, *model.input_shape, generator=generator).to(device)
    shape = tuple(probe.shape)
    feature = model.get_submodule(model.feature_layer)
    seen: list[object] = []
    handle = feature.register_forward_hook(lambda _module, _inputs, out: seen.append(out))
    model.eval()
    try:
        with torch.no_grad(), _own_rng(device):
            first, second = _call(model, probe, where, source), _call(model, probe, where, source)
    finally:
        handle.remove()
    if not isinstance(first, torch.Tensor):
        raise ModelError(
            f"{where}: the model returns a {type(first).__name__} for a {shape} batch, "
            f"not a tensor of logits",
            source,
        )
    if tuple(first.shape) != (PROBE_BATCH, model.num_classes):
        raise ModelError(
            f"{where}: the model's output for a {shape} batch has shape {tuple(first.shape)}, "
            f"expected {(PROBE_BATCH, model.num_classes)} logits (num_classes: "
            f"{model.num_classes})",
            source,
        )
    if not torch.isfinite(first).all():
        raise ModelError(f"{where}: the model gives non-finite logits for a {shape} batch", source)
    name = model.feature_layer.removeprefix(f"{NET}.")
    if not seen:
        raise ModelError(
            f"{where}: feature layer {name!r} does not run in the model's forward pass; "
            "name one that does with feature_layer",
            source,
        )
    out = seen[0]
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(
            f"{where}: feature_layer {name!r} outputs {got}; a feature layer's output must be "
            "(B, C, H, W)",
            source,
        )
    if not randomised and not torch.equal(first, second):
        raise ModelError(
            f"{where}: the model's output changes between two identical calls (dropout or "
            "other randomness in eval mode?); attacks and errors would not be repeatable "
            "(a randomised defence: declare it randomised and use autoattack version: rand)",
            source,
        )


def _call(model: nn.Module, x: torch.Tensor, where: str, source: str | Path | None) -> object:
    try:
        return model(x)
    except Exception as error:  # the user's code: any exception is theirs, reported in one line
        raise ModelError(
            f"{where}: the model fails on a {tuple(x.shape)} batch: "
            f"{type(error).__name__}: {one_line(str(error))}",
            source,
        ) from None


@contextlib.contextmanager
def _own_rng(device: torch.device) -> Iterator[None]:
    """The probe's random draws (a dropout's, say) leave the caller's random streams as they
    were, so loading a model does not change what a seeded run draws afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


def as_benchmark_model(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    feature_layer: str | None = None,
    source: str | Path | None = None,
    randomised: bool = False,
) -> nn.Module:
    """``model`` itself when it keeps the model contract (a zoo model), else ``model`` wrapped
    in a :class:`ForeignModel` that does: the feature layer is ``feature_layer`` or the last
    ``Conv2d``/WM layer, the number of classes is read off one forward pass. The wrapper is
    checked like a factory model (logits of the right shape, repeatable outputs unless
    ``randomised``).

    Raises:
        ModelError: naming ``source`` (default: the model's class) when it cannot be measured.
    """
    if not isinstance(model, nn.Module):
        raise ModelError(f"expected a torch.nn.Module, got a {type(model).__name__}", source)
    keeps = all(hasattr(model, name) for name in ("feature_layer", "input_shape", "num_classes"))
    if keeps and feature_layer in (None, model.feature_layer):
        return model
    where = f"model {type(model).__name__}"
    shape = tuple(int(size) for size in input_shape)
    if len(shape) != 3:
        raise ModelError(f"{where}: images must be (C, H, W), got {shape}", source)
    device = next(iter(model.parameters()), torch.zeros(())).device
    model.eval()
    with torch.no_grad(), _own_rng(device):
        output = _call(model, torch.zeros(1, *shape, device=device), where, source)
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ModelError(f"{where}: the output for one image is {got}, not (1, classes)", source)
    layer = resolve_feature_layer(model, feature_layer, where, source)
    wrapped = ForeignModel(model, shape, int(output.shape[1]), layer)
    check_foreign_model(wrapped, device, where, source, randomised)
    return wrapped
