"""The training loop of Amer & Maul §4: Adam with its default parameters, the zero-pad-and-crop
augmentation done on whole batches, and the weights that score best on validation kept; their test
error is measured at the end. Batches are drawn from tensors held in memory on the training
device. The same seed gives the same weights on CPU. The learning rate is Adam's default throughout
unless ``config.lr_schedule`` anneals it (cosine, per epoch: an option beside the paper's
protocol). Each batch's loss is :func:`wmbench.train.adversarial.batch_loss`'s: the
cross-entropy, or the adversarial objective of ``config.adversarial`` (whose random starts come
from the same generator as the batch order).
Validation and test errors are on the clean images either way.

A run can be continued: after every epoch ``train_model`` can hand a :class:`ResumeState` (weights,
best weights so far, Adam's moments, both RNG states, history) to a callback, and a later call
given that state carries on from the next epoch, ending with the very weights an uninterrupted run
ends with (on CPU).

Under ``torchrun`` every rank calls ``train_model`` alike and trains its share of every batch
with ``DistributedDataParallel`` (:mod:`wmbench.train.ranks`: the same global batch and learning
rate as one process, BatchNorm per rank on CPU). The epoch's loss and training error are summed
over the ranks, the validation and test errors shared out, so every rank returns the same result
and one process's numbers (up to the order of floating point sums). Resume states hold the
module's own ``state_dict``, without DDP's prefixes, so they continue on any number of ranks.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from wmbench import distributed
from wmbench.data import random_crop, random_horizontal_flip
from wmbench.errors import CheckpointError
from wmbench.models import ModelSpec, build_model
from wmbench.train import ranks
from wmbench.train.adversarial import batch_loss, layerwise_term
from wmbench.train.prepared import PreparedData
from wmbench.train.records import EpochStats, TrainConfig, TrainResult
from wmbench.train.resume_state import ResumeState, _as_json, resume_mismatch

BatchCallback = Callable[[int, int, int, float], None]  # epoch, batch, batches, loss
EpochCallback = Callable[[EpochStats], None]
StateCallback = Callable[[ResumeState], None]  # must use the tensors at once: they live on


def train_model(
    spec: ModelSpec,
    data: PreparedData,
    config: TrainConfig,
    *,
    on_batch: BatchCallback | None = None,
    on_epoch: EpochCallback | None = None,
    on_state: StateCallback | None = None,
    resume: ResumeState | None = None,
) -> TrainResult:
    """Trains one model with one seed and returns its best-validation weights.

    Args:
        spec: the model to build.
        data: the split data, on the training device.
        config: how to train.
        on_batch: called after every optimisation step.
        on_epoch: called with each epoch's statistics.
        on_state: called after every epoch with the state that continues the run (to save it).
        resume: a state from ``on_state`` (or :func:`wmbench.resume.load_resume_state`) to
            continue from instead of starting afresh; it must match ``spec`` and ``config``.

    Raises:
        CheckpointError: ``resume`` belongs to another model or set-up.
        ModelError: ``config.adversarial`` names AT-LR layers the model does not have.
    """
    world = distributed.current()
    device = world.place(config.device)
    if resume is not None:
        problem = resume_mismatch(resume, spec, config)
        if problem is not None:
            raise CheckpointError(problem, resume.source)
    adversarial = config.adversarial
    torch.manual_seed(config.seed)
    trainee = ranks.distribute(build_model(spec).to(device), device, world)
    model = ranks.unwrapped(trainee)  # the module itself: its state, its evaluations
    layerwise = None if adversarial is None else layerwise_term(adversarial, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = _lr_schedule(optimizer, config)
    generator = torch.Generator(device=device)
    generator.manual_seed(config.seed)

    count = len(data.train_x)
    batches = (count + config.batch_size - 1) // config.batch_size
    best_val, best_epoch, best_state = float("inf"), 0, None
    history: list[EpochStats] = []
    done, seconds_before = 0, 0.0
    if resume is not None:
        done, seconds_before = resume.epoch, resume.seconds
        history = list(resume.history)
        best_val, best_epoch = resume.best_val, resume.best_epoch
        best_state = {name: tensor.to(device) for name, tensor in resume.best_model.items()}
        _restore(resume, model, optimizer, generator, device)
        _replay(schedule, done)
    started = time.perf_counter()
    for epoch in range(done + 1, config.epochs + 1):
        if config.patience is not None and epoch - 1 - best_epoch >= config.patience:
            break  # early stopping: no better validation error for `patience` epochs
        epoch_start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        trainee.train()
        order = torch.randperm(count, generator=generator, device=device)
        loss_sum = torch.zeros((), device=device)
        wrong = torch.zeros((), device=device, dtype=torch.long)
        step_start = time.perf_counter()
        for index in range(batches):
            batch = order[index * config.batch_size : (index + 1) * config.batch_size]
            images = random_crop(data.train_x[batch], config.crop_padding, generator)
            if config.horizontal_flip:  # drawn only when asked: MNIST's random stream is as it was
                images = random_horizontal_flip(images, generator)
            labels = data.train_y[batch]
            rows = ranks.batch_rows(len(batch), world)
            if rows is not None:  # this rank's share of the global batch, drawn whole above
                images, labels = images[rows.start : rows.stop], labels[rows.start : rows.stop]
            objective = batch_loss(trainee, images, labels, adversarial, generator, layerwise, rows)
            loss, logits = objective.loss, objective.logits
            optimizer.zero_grad(set_to_none=True)
            if rows is None:
                loss.backward()
            else:
                (loss * ranks.loss_scale(rows, world)).backward()
            optimizer.step()
            if len(labels):  # a rank without rows has a mean of nothing (NaN), its gradient 0
                loss_sum += loss.detach() * len(labels)
            wrong += (logits.detach().argmax(1) != labels).sum()
            if on_batch is not None:
                on_batch(epoch, index + 1, batches, loss.item())
        if schedule is not None:
            schedule.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds = time.perf_counter() - step_start
        if world.active:
            loss_sum, wrong = _summed(loss_sum, wrong, world)
            ranks.same_buffers(model, world)
        val_error = ranks.shared_error_rate(model, data.val_x, data.val_y, world)
        stats = EpochStats(
            epoch=epoch,
            loss=loss_sum.item() / count,
            train_error=wrong.item() / count,
            val_error=val_error,
            seconds=time.perf_counter() - epoch_start,
            train_seconds=train_seconds,
            lr=lr,
        )
        history.append(stats)
        if val_error < best_val:
            best_val, best_epoch = val_error, epoch
            best_state = copy.deepcopy(model.state_dict())
        if on_state is not None:
            on_state(
                ResumeState(
                    epoch=epoch,
                    spec=_as_json(spec.model_dump()),
                    config=_as_json(asdict(config)),
                    history=list(history),
                    best_epoch=best_epoch,
                    best_val=best_val,
                    seconds=seconds_before + time.perf_counter() - started,
                    model=model.state_dict(),
                    best_model=dict(best_state or {}),
                    **_random_and_optimizer_state(optimizer, generator, device),
                )
            )
        if on_epoch is not None:
            on_epoch(stats)
    seconds = seconds_before + time.perf_counter() - started
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    test_error = ranks.shared_error_rate(model, data.test_x, data.test_y, world)
    return TrainResult(
        model=model,
        best_epoch=best_epoch,
        val_error=best_val,
        test_error=test_error,
        seconds=seconds,
        images_per_second=count * len(history) / max(sum(s.train_seconds for s in history), 1e-9),
        history=history,
    )


def _lr_schedule(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """torch's scheduler for ``config.lr_schedule``, stepped once per epoch; None for constant."""
    if config.lr_schedule == "constant":
        return None
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)


def _replay(schedule: torch.optim.lr_scheduler.LRScheduler | None, epochs: int) -> None:
    """Brings a fresh schedule to where it was after ``epochs`` epochs (its state is its step
    count; torch's cosine computes each rate from the last, so the steps are taken again)."""
    if schedule is None:
        return
    with warnings.catch_warnings():  # stepping before any optimiser step is the point here
        warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler\.step\(\)`", UserWarning)
        for _ in range(epochs):
            schedule.step()


def _summed(
    loss_sum: torch.Tensor, wrong: torch.Tensor, world: distributed.World
) -> tuple[torch.Tensor, torch.Tensor]:
    """The epoch's loss sum and training errors of every rank together (in float64)."""
    totals = torch.stack([loss_sum.detach().double().cpu(), wrong.double().cpu()])
    world.sum_(totals)
    return totals[0], totals[1]


def _random_and_optimizer_state(
    optimizer: torch.optim.Optimizer, generator: torch.Generator, device: torch.device
) -> dict[str, Any]:
    """Adam's per-parameter tensors and every RNG state, as :class:`ResumeState` fields.

    The tensors are the live ones, not copies: whoever receives them must use them at once.
    """
    return {
        "optimizer": {
            index: {key: torch.as_tensor(value) for key, value in moments.items()}
            for index, moments in optimizer.state_dict()["state"].items()
        },
        "rng": torch.get_rng_state(),
        "generator": generator.get_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def _restore(
    state: ResumeState,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: torch.device,
) -> None:
    """Puts a freshly built model, optimiser and generator into ``state``."""
    model.load_state_dict(state.model)
    # The parameter groups (lr, betas, ...) follow from the config, which matched: keep the
    # fresh optimiser's and load only the per-parameter moments and step counts.
    optimizer.load_state_dict(
        {
            # Cloned: the optimiser updates its moments in place, and they are the caller's.
            "state": {
                index: {key: value.clone() for key, value in moments.items()}
                for index, moments in state.optimizer.items()
            },
            "param_groups": optimizer.state_dict()["param_groups"],
        }
    )
    torch.set_rng_state(state.rng)
    generator.set_state(state.generator)
    if device.type == "cuda" and state.cuda_rng is not None:
        torch.cuda.set_rng_state(state.cuda_rng, device)
