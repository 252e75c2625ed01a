"""Adversarial training objectives: the loss of one training batch under fast adversarial training
(FGSM from a random start, Wong, Rice & Kolter 2020, "Fast is better than free",
arXiv:2001.03994), PGD adversarial training (Madry et al. 2018, arXiv:1706.06083) or TRADES
(Zhang et al. 2019, arXiv:1901.08573), and the plain cross-entropy when none is asked for.

All three work in the L∞ ball of radius ε around images in [0, 1]:

- ``fgsm-rs``: δ ~ U(−ε, ε), x + δ clipped to [0, 1], one signed-gradient step of α (default
  1.25·ε, Wong et al.) on the cross-entropy, δ clipped to [−ε, ε] and x + δ to [0, 1]; the model
  trains on x + δ. It is one step of ``pgd`` with another α.
- ``pgd``: the same random start, then ``steps`` steps of α (defaults 10 and 2.5·ε/steps, the
  common rule of thumb that lets the steps cross the ball from any start; Madry et al.'s MNIST
  setting was 40 steps of 0.01 at ε = 0.3), each projected; trains on x_adv only.
- ``trades``: x_adv starts at x + 0.001·N(0, 1) and takes ``steps`` steps of α up the
  KL(f(x) ‖ f(x_adv)), each projected to the ε-ball and [0, 1] (as the reference code,
  github.com/yaodongyu/TRADES); the loss is CE(f(x), y) + β·KL(f(x) ‖ f(x_adv)), KL averaged
  over the batch, β = 6 by default (the paper's CIFAR-10 setting).

The rule of modes: every inner maximisation runs with the model in eval mode (BatchNorm uses its
running statistics and leaves them alone, dropout is off) and each module gets its own mode back
afterwards, so the update runs in train mode; generating in train mode would move BatchNorm's
statistics towards adversarial batches that are never trained on. Every random number comes from
the training generator: a seed fixes the weights, and a resumed run (which restores the
generator) ends with the weights of an uninterrupted one.

AT-LR, the layer-wise regularised adversarial training of Layer Sustainability Analysis
(Khalooei et al., arXiv:2202.02626, Algorithm 3), adds γ·Σ_{l ∈ MVL} CM_l(x, x̂) to any of the
three losses when ``lr_gamma`` > 0: CM_l is the relative error ‖φ_l(x) − φ_l(x̂)‖_F / ‖φ_l(x)‖_F
of layer l's output after its nonlinearity over the batch tensor (:mod:`wmbench.lsa`), read by
hooks in the training forward passes (a clean one is added for ``fgsm-rs`` and ``pgd``), with
gradients through both. The inner maximisations live in :mod:`wmbench.train.inner`.

Under ``torchrun`` (:mod:`wmbench.train.ranks`) each rank gets its rows of the global batch
(:class:`~wmbench.train.inner.Rows`) and a ``DistributedDataParallel`` model: the inner
maximisation asks the module inside it (its passes make no update, and DDP's would wait for a
gradient all-reduce that never comes), and draws the random starts of the whole global batch, so
every row starts as one process would start it. The losses are means over rows, so the rank's share
of the global mean is exact, except AT-LR's term: its relative error is taken over the rank's
rows, one norm ratio per rank (weighted by rows) instead of one over the global batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wmbench.errors import ConfigError
from wmbench.layers import auxiliary_loss, supervised
from wmbench.lsa import LayerTap, layer_relative_error
from wmbench.train.inner import Rows, pgd_examples, trades_examples
from wmbench.train.ranks import unwrapped

ADVERSARIAL_METHODS = ("fgsm-rs", "pgd", "trades")
DEFAULT_EPS = 0.3  # MNIST's usual L∞ radius (Madry et al., Wong et al., Zhang et al.)
DEFAULT_STEPS = 10
DEFAULT_BETA = 6.0
FGSM_RS_STEP = 1.25  # α = 1.25·ε (Wong et al.)
PGD_STEP = 2.5  # α = 2.5·ε / steps


@dataclass
class AdversarialConfig:
    """How the training batches are made adversarial; part of ``TrainConfig``, so stored in the
    checkpoint (``wmbench.train.adversarial``) with every default filled in.

    Attributes:
        method: ``fgsm-rs``, ``pgd`` or ``trades``.
        eps: L∞ radius, on images in [0, 1].
        steps: inner steps (``fgsm-rs``: 1; otherwise default 10).
        alpha: step size (``fgsm-rs``: 1.25·ε; otherwise 2.5·ε/steps).
        beta: TRADES' weight of the KL term (default 6.0); None for the other methods.
        lr_gamma: AT-LR's weight γ of the layer-wise term (0: off).
        lr_layers: AT-LR's layers (the MVL, e.g. from ``wmbench layers``): dotted names of
            Conv2d, WM or Linear layers, each read after its nonlinearity.

    Raises:
        ConfigError: an unknown method, a value out of range, or a setting of another method.
    """

    method: str
    eps: float = DEFAULT_EPS
    steps: int | None = None
    alpha: float | None = None
    beta: float | None = None
    lr_gamma: float = 0.0
    lr_layers: list[str] | None = None

    def __post_init__(self) -> None:
        if self.method not in ADVERSARIAL_METHODS:
            known = ", ".join(ADVERSARIAL_METHODS)
            raise ConfigError(f"unknown adversarial method {self.method!r} (one of {known})")
        if not self.eps > 0:
            raise ConfigError(f"adversarial eps must be > 0, got {self.eps}")
        if self.method == "fgsm-rs":
            if self.steps not in (None, 1):
                raise ConfigError(f"fgsm-rs takes one step; steps {self.steps} is for pgd/trades")
            self.steps = 1
        elif self.steps is None:
            self.steps = DEFAULT_STEPS
        elif isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError(f"adversarial steps must be an integer >= 1, got {self.steps!r}")
        if self.alpha is None:
            step = FGSM_RS_STEP if self.method == "fgsm-rs" else PGD_STEP / self.steps
            self.alpha = step * self.eps
        elif not self.alpha > 0:
            raise ConfigError(f"adversarial step size alpha must be > 0, got {self.alpha}")
        if self.method != "trades":
            if self.beta is not None:
                raise ConfigError(f"beta is TRADES' weight; {self.method} has none")
        elif self.beta is None:
            self.beta = DEFAULT_BETA
        elif not self.beta >= 0:
            raise ConfigError(f"TRADES beta must be >= 0, got {self.beta}")
        if not self.lr_gamma >= 0:
            raise ConfigError(f"AT-LR lr_gamma must be >= 0, got {self.lr_gamma}")
        if self.lr_gamma > 0 and not self.lr_layers:
            raise ConfigError("AT-LR (lr_gamma > 0) needs lr_layers, the layers to regularise")
        if self.lr_gamma == 0 and self.lr_layers:
            raise ConfigError("lr_layers are AT-LR's; they go with lr_gamma > 0")


@dataclass
class BatchLoss:
    """The loss of one batch, and the logits whose errors count as the epoch's training error
    (the adversarial examples' for ``fgsm-rs`` and ``pgd``, the clean images' otherwise)."""

    loss: torch.Tensor
    logits: torch.Tensor


class LayerwiseTerm:
    """AT-LR's term γ·Σ_l CM_l(x, x̂) over the layers ``layers`` of ``model``.

    Args:
        model: the model being trained; its layers are located once, by a probe pass (in eval
            mode, without gradients) on ``example``.
        gamma: the weight γ.
        layers: the monitored layers to regularise.
        example: a batch of inputs; None: random images of the model's ``input_shape`` drawn
            from a generator of their own (the training's random streams are left alone).

    Raises:
        ModelError: a layer is not a Conv2d, WM or Linear layer of ``model`` that runs.
    """

    def __init__(
        self,
        model: nn.Module,
        gamma: float,
        layers: list[str],
        example: torch.Tensor | None = None,
    ) -> None:
        self.gamma = gamma
        self.tap = LayerTap(model, example, layers)

    def capture(self) -> contextlib.AbstractContextManager[dict[str, torch.Tensor]]:
        """Keeps the layers' outputs of the forward pass inside, with their graphs."""
        return self.tap.capture(detach=False)

    def __call__(
        self, clean: Mapping[str, torch.Tensor], adversarial: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        errors = [layer_relative_error(clean[name], adversarial[name]) for name in self.tap.layers]
        return self.gamma * torch.stack(errors).sum()


def layerwise_term(config: AdversarialConfig, model: nn.Module) -> LayerwiseTerm | None:
    """AT-LR's term for ``config`` on ``model``; None when ``lr_gamma`` is 0."""
    if config.lr_gamma == 0 or not config.lr_layers:
        return None
    return LayerwiseTerm(model, config.lr_gamma, list(config.lr_layers))


@contextlib.contextmanager
def _layers(term: LayerwiseTerm | None) -> Iterator[dict[str, torch.Tensor]]:
    if term is None:
        yield {}
    else:
        with term.capture() as captured:
            yield captured


def batch_loss(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: AdversarialConfig | None,
    generator: torch.Generator,
    layerwise: LayerwiseTerm | None = None,
    rows: Rows | None = None,
) -> BatchLoss:
    """The training loss of one batch: the cross-entropy on the images as they are (``config``
    None), or ``config``'s adversarial objective.

    Args:
        model: the classifier, in train mode (the update's mode).
        images: ``(N, C, H, W)`` in [0, 1], augmented.
        labels: ``(N,)`` class indices.
        config: the adversarial method and its settings, or None for plain training.
        generator: the training generator, the source of every random start.
        layerwise: AT-LR's term (from :func:`layerwise_term`), added to the loss.
        rows: under ``torchrun``, which rows of the global batch ``images`` are (the random
            starts are drawn for the whole batch); None: ``images`` is the whole batch.

    Every pass runs under :func:`wmbench.layers.supervised`: a layer with an auxiliary loss
    (EWAS) sees the true labels, in the inner maximisation too, as EWAS's reference code does,
    and its loss after the last pass (on the examples trained on) is added.
    """
    with supervised(model, labels):
        objective = _objective(model, images, labels, config, generator, layerwise, rows)
        extra = auxiliary_loss(model)  # of the last pass: the one trained on
    if extra is not None:
        objective.loss = objective.loss + extra
    return objective


def _objective(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: AdversarialConfig | None,
    generator: torch.Generator,
    layerwise: LayerwiseTerm | None,
    rows: Rows | None,
) -> BatchLoss:
    if config is None:
        logits = model(images)
        return BatchLoss(F.cross_entropy(logits, labels), logits)
    assert config.steps is not None and config.alpha is not None  # filled in by __post_init__
    trades = config.method == "trades"
    inner = unwrapped(model)
    if trades:
        adversarial = trades_examples(
            inner, images, config.eps, config.alpha, config.steps, generator, rows
        )
    else:
        adversarial = pgd_examples(
            inner, images, labels, config.eps, config.alpha, config.steps, generator, rows
        )
    clean_logits = None
    with _layers(layerwise) as clean_layers:
        if trades or layerwise is not None:  # AT-LR compares the clean pass's layers
            clean_logits = model(images)
    with _layers(layerwise) as adversarial_layers:
        adversarial_logits = model(adversarial)
    if trades:
        assert clean_logits is not None and config.beta is not None
        robust = F.kl_div(
            F.log_softmax(adversarial_logits, dim=1),
            F.softmax(clean_logits, dim=1),
            reduction="batchmean",
        )
        logits, loss = clean_logits, F.cross_entropy(clean_logits, labels) + config.beta * robust
    else:
        logits, loss = adversarial_logits, F.cross_entropy(adversarial_logits, labels)
    if layerwise is not None:
        loss = loss + layerwise(clean_layers, adversarial_layers)
    return BatchLoss(loss, logits)
