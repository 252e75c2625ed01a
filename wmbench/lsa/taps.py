"""Which layers Layer Sustainability Analysis watches, and the forward hooks that read them all in
one forward pass (Khalooei et al., arXiv:2202.02626, §3; reference code github.com/khalooei/LSA).

The reference hooks the activation modules (``ReLU``, ``ELU``, ``LeakyReLU``) it finds. wmbench
watches the layers that hold weights — every ``nn.Conv2d``, WM layer
(:class:`~wmbench.layers.WeightMap2d`) and ``nn.Linear`` — by their dotted module names, and
reads each one's output *after its nonlinearity*:

- when the next leaf module to run is an activation (``ACTIVATIONS``) that takes the layer's
  output, the activation's output is read;
- when it is a normalisation (``NORMALISATIONS``, e.g. BatchNorm) that takes the layer's output
  and is itself followed by an activation that takes the normalised output (conv → bn → relu),
  that activation's output is read;
- otherwise the layer's own output (the final ``Linear``: the logits).

"Takes the layer's output" is checked on the tensors themselves, so a ReLU applied to a residual
sum is not taken for the convolution before it. A functional nonlinearity (``F.relu`` in a
``forward``) is not a module and cannot be hooked: the layer's own, pre-activation output is read
then. Execution order comes from one forward pass of a small probe batch (two images, in eval
mode, without gradients; the modules' training flags are restored afterwards). A module called
more than once in a forward pass is read at its first call; a shared activation module is read at
the call that follows each layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from wmbench.errors import ModelError
from wmbench.layers import WeightMap2d

MONITORED = (nn.Conv2d, WeightMap2d, nn.Linear)
ACTIVATIONS = (
    nn.ReLU, nn.ReLU6, nn.ELU, nn.SELU, nn.CELU, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
    nn.Softplus, nn.Softsign, nn.LogSigmoid, nn.Tanhshrink,
)  # fmt: skip
NORMALISATIONS = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm,
    nn.LayerNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
)  # fmt: skip
PROBE_IMAGES = 2


@dataclass(frozen=True)
class TapPoint:
    """Where one monitored layer is read.

    Attributes:
        layer: the monitored layer's dotted name.
        reads: the dotted name of the module whose output is read (the layer or its activation).
        call: which call of ``reads`` in a forward pass (0: the first).
    """

    layer: str
    reads: str
    call: int


@dataclass
class _Event:
    name: str
    module: nn.Module
    call: int
    input: object
    output: object


def _probe_input(model: nn.Module, example: torch.Tensor | None) -> torch.Tensor:
    if example is not None:
        return example[:PROBE_IMAGES].detach()
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ModelError(
            f"{type(model).__name__} has no input_shape: give an example batch to find its layers"
        )
    device = next(iter(model.parameters()), torch.zeros(())).device
    generator = torch.Generator().manual_seed(0)
    return torch.rand(PROBE_IMAGES, *shape, generator=generator).to(device)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode for the probe (no BatchNorm statistics updated, no dropout); each module's
    training flag is restored afterwards."""
    flags = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, flag in flags.items():
            module.training = flag


def _execution(model: nn.Module, probe: torch.Tensor) -> list[_Event]:
    """Every leaf module and every monitored layer, in the order their forward passes end."""
    events: list[_Event] = []
    calls: dict[str, int] = {}

    def keep(name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            calls[name] = calls.get(name, -1) + 1
            first = inputs[0] if inputs else None
            events.append(_Event(name, module, calls[name], first, output))

        return hook

    handles = [
        module.register_forward_hook(keep(name))
        for name, module in model.named_modules()
        if name and (isinstance(module, MONITORED) or not any(True for _ in module.children()))
    ]
    try:
        with torch.no_grad(), _eval_mode(model):
            model(probe)
    finally:
        for handle in handles:
            handle.remove()
    return events


def _reads(events: list[_Event], index: int) -> tuple[str, int]:
    """Whose output stands for the monitored layer of ``events[index]`` (see the docstring)."""
    event = events[index]
    chain = events[index + 1 : index + 3]
    if chain and chain[0].input is event.output:
        follower = chain[0]
        if isinstance(follower.module, ACTIVATIONS):
            return follower.name, follower.call
        if isinstance(follower.module, NORMALISATIONS) and len(chain) == 2:
            after = chain[1]
            if isinstance(after.module, ACTIVATIONS) and after.input is follower.output:
                return after.name, after.call
    return event.name, event.call


def plan_taps(
    model: nn.Module, example: torch.Tensor | None = None, layers: Sequence[str] | None = None
) -> list[TapPoint]:
    """Where each monitored layer is read, in forward-execution order (one probe pass).

    Args:
        model: any ``nn.Module`` (a zoo model, a :class:`~wmbench.models.foreign.ForeignModel`,
            whose layers are named ``net.<name>``, or a user's own module).
        example: a batch of inputs; its first two images are the probe. None: random images of
            ``model.input_shape``.
        layers: the monitored layers to keep (None: all of :data:`MONITORED` that run).

    Raises:
        ModelError: a layer asked for is not a monitored layer that runs in the forward pass.
    """
    events = _execution(model, _probe_input(model, example))
    found: dict[str, TapPoint] = {}
    for index, event in enumerate(events):
        if isinstance(event.module, MONITORED) and event.call == 0:
            found[event.name] = TapPoint(event.name, *_reads(events, index))
    if layers is None:
        return list(found.values())
    missing = [name for name in layers if name not in found]
    if missing:
        known = ", ".join(found) or "none"
        raise ModelError(
            f"{', '.join(missing)}: not a Conv2d, WM or Linear layer that runs in "
            f"{type(model).__name__}'s forward pass (monitored layers: {known})"
        )
    return [found[name] for name in layers]


def monitored_layers(model: nn.Module, example: torch.Tensor | None = None) -> list[str]:
    """The dotted names of every Conv2d, WM layer and Linear of ``model``, in forward-execution
    order (see :func:`plan_taps`)."""
    return [point.layer for point in plan_taps(model, example)]


class LayerTap:
    """Forward hooks that keep every monitored layer's output in one forward pass.

    Args:
        model: the model.
        example: a batch whose first two images probe the execution order (see
            :func:`plan_taps`); None: random images of ``model.input_shape``.
        layers: the layers to read, or a plan from :func:`plan_taps` (no probe then; reuse one
            in a training loop); None: every monitored layer.

    Hooks are registered only inside :meth:`capture`, so forward passes outside it (an attack's)
    are not read.
    """

    def __init__(
        self,
        model: nn.Module,
        example: torch.Tensor | None = None,
        layers: Sequence[str] | Sequence[TapPoint] | None = None,
    ) -> None:
        self.model = model
        if layers and all(isinstance(point, TapPoint) for point in layers):
            self.points: list[TapPoint] = list(layers)  # type: ignore[arg-type]
        else:
            self.points = plan_taps(model, example, layers)  # type: ignore[arg-type]

    @property
    def layers(self) -> list[str]:
        return [point.layer for point in self.points]

    @contextlib.contextmanager
    def capture(self, detach: bool = True) -> Iterator[dict[str, torch.Tensor]]:
        """Yields a dict that the forward pass run inside fills with each layer's output
        (detached unless ``detach`` is False: a training loss needs the graph).

        Raises:
            ModelError: on leaving the block, a layer did not run in the forward pass.
        """
        captured: dict[str, torch.Tensor] = {}
        wanted: dict[tuple[str, int], list[str]] = {}
        for point in self.points:
            wanted.setdefault((point.reads, point.call), []).append(point.layer)
        calls: dict[str, int] = {}

        def keep(name: str):
            def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
                calls[name] = calls.get(name, -1) + 1
                for layer in wanted.get((name, calls[name]), ()):
                    captured[layer] = output.detach() if detach else output

            return hook

        modules = dict(self.model.named_modules())
        sources = dict.fromkeys(name for name, _ in wanted)  # one hook per module, in order
        handles = [modules[name].register_forward_hook(keep(name)) for name in sources]
        try:
            yield captured
        finally:
            for handle in handles:
                handle.remove()
        missing = [layer for layer in self.layers if layer not in captured]
        if missing:
            raise ModelError(f"{', '.join(missing)}: did not run in the forward pass")

    def run(self, x: torch.Tensor, detach: bool = True) -> tuple[torch.Tensor, dict]:
        """One forward pass: the model's output and every monitored layer's output."""
        with self.capture(detach) as captured:
            output = self.model(x)
        return output, captured
