"""The inner maximisations of adversarial training: L∞ PGD on the cross-entropy from a uniform
random start (Madry et al. 2018, arXiv:1706.06083; one step of α = 1.25·ε is the FGSM of fast
adversarial training, Wong, Rice & Kolter 2020, arXiv:2001.03994), and TRADES' ascent of
KL(f(x) ‖ f(x_adv)) from x + 0.001·N(0, 1) (Zhang et al. 2019, arXiv:1901.08573, as its reference
code github.com/yaodongyu/TRADES writes it).

Both run with the model in eval mode (:func:`eval_mode`: BatchNorm uses its running statistics
and leaves them alone, dropout is off) and give every module back its own mode; both draw their
random start from the generator they are given, and take gradients with respect to the images
only (the parameters' ``.grad`` is left alone).

Under ``torchrun`` a rank holds only its :class:`Rows` of the global batch: it still draws the
random start of the whole global batch and keeps its rows, so the generator stays in step on
every rank and each row starts where one process would start it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

TRADES_START_STD = 0.001  # x_adv = x + 0.001·N(0, 1) (the reference code)


@dataclass(frozen=True)
class Rows:
    """The rows ``start`` … ``stop − 1`` of a global batch of ``total`` rows: one rank's share."""

    start: int
    stop: int
    total: int

    @classmethod
    def share(cls, total: int, rank: int, ranks: int) -> Rows:
        """Rank ``rank``'s part of ``total`` rows split as evenly as can be among ``ranks``
        (``torch.tensor_split``: the first ``total % ranks`` ranks get one row more)."""
        size, extra = divmod(total, ranks)
        start = rank * size + min(rank, extra)
        return cls(start, start + size + (rank < extra), total)

    def __len__(self) -> int:
        return self.stop - self.start


def _draw_shape(like: torch.Tensor, rows: Rows | None) -> tuple[int, ...]:
    """The shape to draw random numbers in: the whole global batch's when ``like`` is a share."""
    return tuple(like.shape) if rows is None else (rows.total, *like.shape[1:])


def _mine(drawn: torch.Tensor, rows: Rows | None) -> torch.Tensor:
    return drawn if rows is None else drawn[rows.start : rows.stop]


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode inside; every submodule gets back the mode it had."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _uniform(
    like: torch.Tensor, eps: float, generator: torch.Generator, rows: Rows | None = None
) -> torch.Tensor:
    noise = torch.empty(_draw_shape(like, rows), device=generator.device, dtype=like.dtype)
    return _mine(noise.uniform_(-eps, eps, generator=generator), rows).to(like.device)


def pgd_examples(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    alpha: float,
    steps: int,
    generator: torch.Generator,
    rows: Rows | None = None,
) -> torch.Tensor:
    """L∞ PGD on the cross-entropy from a uniform random start (Madry et al.), in eval mode.

    One step with α = 1.25·ε is fast adversarial training's FGSM (Wong et al.).

    Args:
        model: the classifier; its modes are restored afterwards.
        images: ``(N, C, H, W)`` in [0, 1].
        labels: ``(N,)`` class indices.
        eps: L∞ radius.
        alpha: step size.
        steps: signed-gradient steps.
        generator: the source of the random start.
        rows: which rows of a global batch ``images`` are (under ``torchrun``); None: all.

    Returns:
        ``(N, C, H, W)`` within ``eps`` of ``images`` and in [0, 1], detached.
    """
    images = images.detach()
    adversarial = (images + _uniform(images, eps, generator, rows)).clamp(0, 1)
    with eval_mode(model), torch.enable_grad():
        for _ in range(steps):
            adversarial.requires_grad_(True)
            loss = F.cross_entropy(model(adversarial), labels)
            (grad,) = torch.autograd.grad(loss, adversarial)
            adversarial = adversarial.detach() + alpha * grad.sign()
            delta = (adversarial - images).clamp(-eps, eps)
            adversarial = (images + delta).clamp(0, 1)
    return adversarial.detach()


def trades_examples(
    model: nn.Module,
    images: torch.Tensor,
    eps: float,
    alpha: float,
    steps: int,
    generator: torch.Generator,
    rows: Rows | None = None,
) -> torch.Tensor:
    """TRADES' inner maximisation of KL(f(x) ‖ f(x_adv)) from x + 0.001·N(0, 1), in eval mode.

    Args:
        model: the classifier; its modes are restored afterwards.
        images: ``(N, C, H, W)`` in [0, 1].
        eps: L∞ radius.
        alpha: step size.
        steps: signed-gradient steps, each projected to the ε-ball and [0, 1].
        generator: the source of the start's noise.
        rows: which rows of a global batch ``images`` are (under ``torchrun``); None: all.

    Returns:
        ``(N, C, H, W)`` within ``eps`` of ``images`` and in [0, 1], detached.
    """
    images = images.detach()
    noise = torch.randn(_draw_shape(images, rows), generator=generator, device=generator.device)
    noise = _mine(noise, rows).to(images.device, images.dtype)
    adversarial = images + TRADES_START_STD * noise
    with eval_mode(model), torch.enable_grad():
        with torch.no_grad():
            clean = F.softmax(model(images), dim=1)
        for _ in range(steps):
            adversarial.requires_grad_(True)
            log_probs = F.log_softmax(model(adversarial), dim=1)
            loss = F.kl_div(log_probs, clean, reduction="sum")
            (grad,) = torch.autograd.grad(loss, adversarial)
            adversarial = adversarial.detach() + alpha * grad.sign()
            adversarial = torch.min(torch.max(adversarial, images - eps), images + eps)
            adversarial = adversarial.clamp(0, 1)
    return adversarial.detach()
