"""Training on several ranks at once, under ``torchrun`` (:mod:`wmbench.distributed`), with
PyTorch's ``DistributedDataParallel`` (Li et al. 2020, "PyTorch Distributed", arXiv:2006.15704).

The rule: the same global batch and learning rate as one process. ``batch_size`` is the global
batch; every rank draws the same batch order and augmentation for the whole of it from the shared
generator (so the generators stay in step) and keeps its :class:`~wmbench.train.inner.Rows`, an
even split in rank order. Its local loss is a mean over its rows; scaled by
``rows · ranks / batch`` (:func:`loss_scale`), DDP's average of the ranks' gradients is the
gradient of the global batch's mean loss, also when a batch does not split evenly. The weights
then stay identical on every rank, and training matches one process up to the order of floating
point sums.

BatchNorm: on CUDA it becomes ``SyncBatchNorm`` (the batch statistics of the global batch). On
CPU, where ``SyncBatchNorm`` does not run, each rank normalises with its own rows' statistics,
and the running statistics are rank 0's (DDP sends them before every forward pass, and
:func:`same_buffers` before every evaluation): such a model trains differently from one
process, as with a smaller batch for BatchNorm.

Validation and test errors: each rank classifies an even share of the images and the counts of
errors are added (:func:`shared_error_rate`), so every rank holds the same number and picks the
same best epoch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from wmbench.distributed import World
from wmbench.metrics import error_rate
from wmbench.models import ModelSpec, build_model
from wmbench.train.inner import Rows

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def distribute(model: nn.Module, device: torch.device, world: World) -> nn.Module:
    """``model`` wrapped for training on every rank of ``world`` (itself for one process).

    On CUDA its BatchNorm layers first become ``SyncBatchNorm`` (the same parameters, in place:
    ``model`` is the wrapper's ``module``).
    """
    if not world.active:
        return model
    if device.type == "cuda":
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        assert converted is model  # a model is never a BatchNorm layer itself
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


def unwrapped(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper (``model`` itself otherwise)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def batch_rows(total: int, world: World) -> Rows | None:
    """This rank's rows of a global batch of ``total``; None for one process (all of them)."""
    return Rows.share(total, world.rank, world.size) if world.active else None


def loss_scale(rows: Rows | None, world: World) -> float:
    """The factor of a rank's mean loss that makes DDP's average gradient the global mean's."""
    return 1.0 if rows is None else len(rows) * world.size / rows.total


def shared_error_rate(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, world: World
) -> float:
    """``error_rate`` of ``model`` on ``images``, each rank classifying its share (eval mode)."""
    if not world.active:
        return error_rate(model, images, labels)
    part = Rows.share(len(images), world.rank, world.size)
    share = slice(part.start, part.stop)
    rate = error_rate(model, images[share], labels[share])
    wrong = torch.tensor([round(rate * len(part))], dtype=torch.long)
    return int(world.sum_(wrong)) / max(len(images), 1)


def same_buffers(model: nn.Module, world: World) -> None:
    """Gives every rank rank 0's buffers (BatchNorm's running statistics), as DDP does before
    each forward pass, so that evaluations agree."""
    if not world.active:
        return
    for buffer in model.buffers():
        copied = buffer.detach().cpu() if world.leader else torch.zeros_like(buffer, device="cpu")
        buffer.copy_(world.sum_(copied))


def batch_norm_per_rank(spec: ModelSpec, device: torch.device, world: World) -> bool:
    """Whether ``spec`` trained on ``world`` keeps per-rank BatchNorm statistics (CPU ranks)."""
    if not world.active or device.type == "cuda":
        return False
    return any(isinstance(module, _BATCH_NORMS) for module in build_model(spec).modules())
