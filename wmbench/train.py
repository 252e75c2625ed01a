"""The training protocol of Amer & Maul §4 on MNIST.

The 60,000 training images are cut 90%/10% into train and validation with a fixed seed; the
standard 10,000 test images are held out. Adam with its default parameters; the only augmentation
is a zero-pad and a random crop back to 28×28, done on whole batches. The weights that score best
on validation are kept, and their test error is measured at the end. Batches are drawn from
tensors held in memory on the training device. The same seed gives the same weights on CPU.

A run can be continued: after every epoch ``train_model`` can hand a :class:`ResumeState` (weights,
best weights so far, Adam's moments, both RNG states, history) to a callback, and a later call
given that state carries on from the next epoch, ending with the very weights an uninterrupted run
ends with (on CPU). :mod:`wmbench.resume` stores the state as a safetensors file.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wmbench.data import Mnist, random_crop, to_float, train_val_split
from wmbench.errors import CheckpointError
from wmbench.metrics import error_rate
from wmbench.models import ModelSpec, build_model
from wmbench.runtime import resolve_device


@dataclass
class TrainConfig:
    """How a model is trained; stored in the checkpoint as ``wmbench.train``."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    limit_train: int | None = None
    crop_padding: int = 2
    val_fraction: float = 0.1
    split_seed: int = 0
    device: str = "auto"


@dataclass
class EpochStats:
    epoch: int
    loss: float
    train_error: float
    val_error: float
    seconds: float
    train_seconds: float


@dataclass
class TrainResult:
    """A trained model (best validation weights, eval mode) and how it got there."""

    model: nn.Module
    best_epoch: int
    val_error: float
    test_error: float
    seconds: float
    images_per_second: float  # training images per second of optimisation (validation excluded)
    history: list[EpochStats] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "val_error": self.val_error,
            "test_error": self.test_error,
            "seconds": round(self.seconds, 2),
            "images_per_second": round(self.images_per_second, 1),  # optimisation steps only
            "history": [asdict(stats) for stats in self.history],
        }


@dataclass
class ResumeState:
    """Everything a run needs to carry on after its ``epoch``-th epoch, as tensors and JSON.

    Attributes:
        epoch: epochs completed.
        spec: the model spec (``ModelSpec.model_dump()``), to refuse resuming another model.
        config: the :class:`TrainConfig` as a dict, to refuse resuming another set-up.
        history: the statistics of the completed epochs.
        best_epoch: the epoch of the best validation error so far.
        best_val: that error.
        seconds: wall time spent so far, in every session together.
        model: the model's ``state_dict`` after ``epoch`` epochs.
        best_model: the ``state_dict`` of ``best_epoch``.
        optimizer: Adam's per-parameter state by parameter index (``step``, ``exp_avg``,
            ``exp_avg_sq``), all tensors.
        rng: ``torch.get_rng_state()``.
        generator: the state of the generator that draws the batch order and crop offsets.
        cuda_rng: ``torch.cuda.get_rng_state()`` of the training GPU, None on CPU.
        source: the file the state was read from, for error messages.
    """

    epoch: int
    spec: dict[str, Any]
    config: dict[str, Any]
    history: list[EpochStats]
    best_epoch: int
    best_val: float
    seconds: float
    model: dict[str, torch.Tensor]
    best_model: dict[str, torch.Tensor]
    optimizer: dict[int, dict[str, torch.Tensor]]
    rng: torch.Tensor
    generator: torch.Tensor
    cuda_rng: torch.Tensor | None = None
    source: Path | None = None


BatchCallback = Callable[[int, int, int, float], None]  # epoch, batch, batches, loss
EpochCallback = Callable[[EpochStats], None]
StateCallback = Callable[[ResumeState], None]  # must use the tensors at once: they live on


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two JSON documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    return [] if old == new else [f"{prefix[:-1]} (was {old!r}, now {new!r})"]


def resume_mismatch(state: ResumeState, spec: ModelSpec, config: TrainConfig) -> str | None:
    """Why ``state`` cannot continue a run of ``spec`` with ``config``; None when it can.

    Every setting must match except ``epochs``, which may grow (or stay) but not fall below the
    epochs already done.
    """
    old_spec, new_spec = state.spec, _as_json(spec.model_dump())
    if old_spec.get("name") != new_spec.get("name"):
        return f"resume file is for model {old_spec.get('name')!r}, not {new_spec.get('name')!r}"
    changed = _differences(old_spec, new_spec)
    if changed:
        return f"resume file's spec of {spec.name!r} differs: {', '.join(changed[:3])}"
    changed = _differences(
        {**state.config, "epochs": None}, {**_as_json(asdict(config)), "epochs": None}
    )
    if changed:
        return f"resume file's training set-up differs: {', '.join(changed[:3])}"
    if state.epoch > config.epochs:
        return f"resume file has {state.epoch} epochs done, more than the {config.epochs} asked for"
    return None


@dataclass
class PreparedData:
    """The split MNIST tensors on the training device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def describe(self, source: str, config: TrainConfig) -> dict[str, Any]:
        return {
            "name": "mnist",
            "source": source,
            "train": len(self.train_x),
            "val": len(self.val_x),
            "test": len(self.test_x),
            "split_seed": config.split_seed,
            "val_fraction": config.val_fraction,
        }


def prepare_data(mnist: Mnist, config: TrainConfig, device: torch.device) -> PreparedData:
    """Splits the training images into train/validation and moves everything to ``device``."""
    train_idx, val_idx = train_val_split(
        len(mnist.train_images), config.val_fraction, config.split_seed
    )
    if config.limit_train is not None:
        train_idx = train_idx[: config.limit_train]
    images = to_float(mnist.train_images)
    return PreparedData(
        train_x=images[train_idx].to(device),
        train_y=mnist.train_labels[train_idx].to(device),
        val_x=images[val_idx].to(device),
        val_y=mnist.train_labels[val_idx].to(device),
        test_x=to_float(mnist.test_images).to(device),
        test_y=mnist.test_labels.to(device),
    )


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
    """
    device = resolve_device(config.device)
    if resume is not None:
        problem = resume_mismatch(resume, spec, config)
        if problem is not None:
            raise CheckpointError(problem, resume.source)
    torch.manual_seed(config.seed)
    model = build_model(spec).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
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
    started = time.perf_counter()
    for epoch in range(done + 1, config.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        order = torch.randperm(count, generator=generator, device=device)
        loss_sum = torch.zeros((), device=device)
        wrong = torch.zeros((), device=device, dtype=torch.long)
        step_start = time.perf_counter()
        for index in range(batches):
            batch = order[index * config.batch_size : (index + 1) * config.batch_size]
            images = random_crop(data.train_x[batch], config.crop_padding, generator)
            labels = data.train_y[batch]
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(batch)
            wrong += (logits.detach().argmax(1) != labels).sum()
            if on_batch is not None:
                on_batch(epoch, index + 1, batches, loss.item())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds = time.perf_counter() - step_start
        val_error = error_rate(model, data.val_x, data.val_y)
        stats = EpochStats(
            epoch=epoch,
            loss=loss_sum.item() / count,
            train_error=wrong.item() / count,
            val_error=val_error,
            seconds=time.perf_counter() - epoch_start,
            train_seconds=train_seconds,
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
    test_error = error_rate(model, data.test_x, data.test_y)
    return TrainResult(
        model=model,
        best_epoch=best_epoch,
        val_error=best_val,
        test_error=test_error,
        seconds=seconds,
        images_per_second=count * config.epochs / max(sum(s.train_seconds for s in history), 1e-9),
        history=history,
    )


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
