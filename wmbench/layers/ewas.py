"""Element-Wise Activation Scaling (EWAS; Liu & Zhang, the seed paper 003, code
github.com/ieslab-ynu/EWAS, ``models/mask.py``), and the protocol by which a layer adds an
auxiliary loss to training.

EWAS sits at one point of a network. An auxiliary linear classifier ``Linear(C·H·W → K)`` (bias
on) reads the flattened feature map; the map is multiplied element-wise by one row of that
classifier's weight, reshaped to ``(C, H, W)`` and used as it is (no normalisation, nothing
detached). Which row: the **true label**'s while training, the auxiliary classifier's own
**argmax** otherwise. Training adds ``λ·CE(auxiliary logits, y)`` to the loss (λ = 0.01, the
reference's ``--lam``).

The argmax is piecewise constant, so a gradient attack never sees the mask switch. That is why
``mask`` has two more settings for adaptive attacks (Tramèr et al. 2020): ``soft``, the rows
weighted by ``softmax(auxiliary logits / temperature)`` (a differentiable surrogate of the
choice, BPDA-style), and ``fixed``, the rows of given classes (``fixed_rows``).

**Auxiliary losses.** A module with an ``auxiliary_loss()`` method and a ``targets`` attribute
takes part: :func:`supervised` sets every such module's ``targets`` to the batch's labels for the
duration of a forward pass, and :func:`auxiliary_loss` sums their losses after it. The training
loop uses only these two, for any model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

MASKS = ("argmax", "soft", "fixed")
DEFAULT_AUX_WEIGHT = 0.01  # λ of the reference code (every script's --lam)


class ElementWiseActivationScaling(nn.Module):
    """EWAS on a ``(B, C, H, W)`` feature map.

    Args:
        channels, height, width: the shape of the feature map it scales.
        num_classes: outputs of the auxiliary classifier.
        aux_weight: λ, the weight of the auxiliary cross-entropy in training.

    Attributes:
        aux: the auxiliary classifier ``Linear(C·H·W, num_classes)``.
        targets: the labels of the current batch while :func:`supervised` is active (then the
            true label's row scales the map), else None.
        mask: how the row is chosen without targets: ``argmax`` (the defence as published),
            ``soft`` or ``fixed`` (adaptive attacks; see the module's docstring).
        temperature: of the ``soft`` mask.
        fixed_rows: the class of each image's row for the ``fixed`` mask, ``(B,)``.
        last_aux_logits: the auxiliary logits of the last forward pass.
    """

    def __init__(
        self,
        channels: int,
        height: int,
        width: int,
        num_classes: int,
        aux_weight: float = DEFAULT_AUX_WEIGHT,
    ) -> None:
        super().__init__()
        if not aux_weight >= 0:
            raise ValueError(f"aux_weight must be >= 0, got {aux_weight}")
        self.shape = (channels, height, width)
        self.aux = nn.Linear(channels * height * width, num_classes)
        self.aux_weight = aux_weight
        self.targets: torch.Tensor | None = None
        self.mask = "argmax"
        self.temperature = 1.0
        self.fixed_rows: torch.Tensor | None = None
        self.last_aux_logits: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return f"shape={self.shape}, classes={self.aux.out_features}, aux_weight={self.aux_weight}"

    def rows(self, aux_logits: torch.Tensor) -> torch.Tensor:
        """The ``(B, C·H·W)`` scaling rows for a batch with these auxiliary logits."""
        weight = self.aux.weight
        if self.targets is not None:
            return weight[self.targets]
        if self.mask == "argmax":
            return weight[aux_logits.argmax(dim=1)]
        if self.mask == "soft":
            return F.softmax(aux_logits / self.temperature, dim=1) @ weight
        if self.mask == "fixed":
            if self.fixed_rows is None or len(self.fixed_rows) != len(aux_logits):
                raise ValueError("the fixed mask needs fixed_rows, one class per image")
            return weight[self.fixed_rows]
        raise ValueError(f"unknown mask {self.mask!r} (one of {', '.join(MASKS)})")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        aux_logits = self.aux(x.flatten(1))
        self.last_aux_logits = aux_logits
        return x * self.rows(aux_logits).view(-1, *self.shape)

    def auxiliary_loss(self) -> torch.Tensor:
        """λ·CE(auxiliary logits, targets) of the last forward pass (0 without targets)."""
        if self.targets is None or self.last_aux_logits is None:
            return torch.zeros((), device=self.aux.weight.device)
        return self.aux_weight * F.cross_entropy(self.last_aux_logits, self.targets)


def _participants(model: nn.Module) -> list[nn.Module]:
    return [
        module
        for module in model.modules()
        if callable(getattr(module, "auxiliary_loss", None)) and hasattr(module, "targets")
    ]


@contextlib.contextmanager
def supervised(model: nn.Module, labels: torch.Tensor) -> Iterator[None]:
    """Within it, every module of ``model`` with an auxiliary loss sees ``labels`` as its
    targets (EWAS: the true label's row); afterwards they see none again."""
    modules = _participants(model)
    for module in modules:
        module.targets = labels
    try:
        yield
    finally:
        for module in modules:
            module.targets = None


def auxiliary_loss(model: nn.Module) -> torch.Tensor | None:
    """The sum of the auxiliary losses of ``model``'s modules after a forward pass made under
    :func:`supervised`; None when the model has no such module."""
    losses = [module.auxiliary_loss() for module in _participants(model)]
    if not losses:
        return None
    return torch.stack(losses).sum()


@contextlib.contextmanager
def ewas_mask(
    model: nn.Module,
    mask: str,
    *,
    temperature: float = 1.0,
    fixed_rows: torch.Tensor | None = None,
) -> Iterator[int]:
    """Within it, every EWAS module of ``model`` chooses its rows by ``mask`` (for an adaptive
    attack); yields how many modules that is. Each gets its setting back afterwards."""
    if mask not in MASKS:
        raise ValueError(f"unknown mask {mask!r} (one of {', '.join(MASKS)})")
    modules = [m for m in model.modules() if isinstance(m, ElementWiseActivationScaling)]
    saved = [(m.mask, m.temperature, m.fixed_rows) for m in modules]
    for module in modules:
        module.mask, module.temperature, module.fixed_rows = mask, temperature, fixed_rows
    try:
        yield len(modules)
    finally:
        for module, (old_mask, old_temperature, old_rows) in zip(modules, saved, strict=True):
            module.mask, module.temperature, module.fixed_rows = old_mask, old_temperature, old_rows
