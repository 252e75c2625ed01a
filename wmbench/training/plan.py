"""Which trials of ``wmbench train MODEL --trials N`` run, where their checkpoints go, and what
each continues from: the decisions of ``--force``, ``--skip-existing`` and ``--resume``.

A trial is one seed of one model. Its checkpoint is refused, kept or replaced when it exists; its
resume file (:func:`wmbench.resume.resume_path`) is continued with ``resume``, refused without it
(a fresh run would overwrite a killed one's state) unless ``force`` discards it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from wmbench.checkpoint import read_checkpoint_info
from wmbench.errors import CheckpointError, ModelError
from wmbench.models import InputSpec, ModelSpec, check_input_shape, get_spec
from wmbench.resume import load_resume_state, read_resume_info, resume_path
from wmbench.train import ResumeState, TrainConfig, resume_mismatch


@dataclass(frozen=True)
class Trial:
    """One seed to train: its configuration, its checkpoint, and the state it continues from."""

    config: TrainConfig
    path: Path
    resume: ResumeState | None = None

    @property
    def resume_path(self) -> Path:
        """Where this trial's resume file lives (written after every epoch)."""
        return resume_path(self.path)


def training_spec(
    model: str, dataset: str, shape: tuple[int, int, int], num_classes: int
) -> ModelSpec:
    """The spec to train for a data set of ``shape`` images and ``num_classes`` classes.

    A zoo model is built for the data set: its input and classifier follow the images (so
    ``resnet-conv`` on CIFAR-10 takes 3×32×32 images), and the checkpoint records the spec as
    trained. A spec file says what it takes, and must take the data set's images.

    Raises:
        ModelError: a spec file for other images, or images that are not square.
    """
    spec = get_spec(model)
    title = "MNIST" if dataset == "mnist" else dataset
    if Path(model).suffix in (".yaml", ".yml") or Path(model).exists():
        check_input_shape(spec, shape, model, data=title)
        if spec.num_classes != num_classes:
            raise ModelError(
                f"model {spec.name!r} has {spec.num_classes} classes, {title} has {num_classes}",
                model,
            )
        return spec
    channels, height, width = shape
    if height != width:
        raise ModelError(f"{title} images are {height}×{width}; zoo models take square images")
    if (spec.input_shape, spec.num_classes) == (shape, num_classes):
        return spec
    update = {"input": InputSpec(channels=channels, size=height), "num_classes": num_classes}
    return spec.model_copy(update=update)


def default_checkpoint_path(model: str, seed: int) -> Path:
    return Path("runs") / f"{model}-s{seed}.safetensors"


def trial_path(out: Path | None, model: str, seed: int, trials: int) -> Path:
    """The checkpoint of seed ``seed``: ``out`` itself for one trial, ``OUT-sSEED`` for several."""
    if out is None:
        return default_checkpoint_path(model, seed)
    if trials == 1:
        return out
    return out.with_name(f"{out.stem}-s{seed}{out.suffix or '.safetensors'}")


def checkpoint_complete(path: Path) -> bool:
    """True when ``path`` is a checkpoint that finished training (it carries its test error)."""
    if not path.exists():
        return False
    try:
        return "test_error" in read_checkpoint_info(path).meta.get("metrics", {})
    except CheckpointError:
        return False  # a torn or foreign file: train again (the write is atomic, so it is rare)


def resumed_epochs(paths: list[Path]) -> int:
    """The epochs asked of the killed run: from the first resume file there is (default if none)."""
    for path in paths:
        state_path = resume_path(path)
        if state_path.exists():
            epochs = read_resume_info(state_path)["train"].get("epochs")
            if isinstance(epochs, int) and epochs >= 1:
                return epochs
    return TrainConfig.epochs


def plan_trials(
    spec: ModelSpec,
    base: TrainConfig,
    paths: Mapping[int, Path],
    *,
    force: bool = False,
    skip_existing: bool = False,
    resume: bool = False,
    on_skip: Callable[[Path], None] | None = None,
) -> list[Trial]:
    """The trials to train, one per seed of ``paths`` (seed → checkpoint) whose checkpoint is not
    kept, each with ``base``'s settings, its seed, and the state it resumes from.

    Args:
        spec: the model, to check resume files against.
        base: the settings every trial shares (its ``seed`` is replaced).
        paths: the checkpoint of each seed, in the order to train them.
        force: replace existing checkpoints and discard resume files.
        skip_existing: keep a trial whose checkpoint exists (and is a valid checkpoint).
        resume: continue each trial from its resume file, where it has one.
        on_skip: told of each checkpoint kept.

    Raises:
        CheckpointError: a checkpoint exists and neither ``force`` nor ``skip_existing`` is
            given; a kept checkpoint is corrupt; a resume file is in the way, unreadable or of
            another run; ``resume`` is given and no trial has a resume file.
    """
    trials = []
    for seed, path in paths.items():
        if path.exists() and skip_existing and not force:
            read_checkpoint_info(path)  # a corrupt file is an error, not a reason to skip
            if on_skip is not None:
                on_skip(path)
            continue
        if path.exists() and not force:
            raise CheckpointError(
                "already exists; pass --force to replace it (or --skip-existing)", path
            )
        config = dataclasses.replace(base, seed=seed)
        state = _resume_state(path, spec, config, resume=resume, force=force)
        trials.append(Trial(config, path, state))
    if trials and resume and all(trial.resume is None for trial in trials):
        raise CheckpointError(
            "no resume file: nothing to continue (train without --resume to start afresh)",
            trials[0].resume_path,
        )
    return trials


def _resume_state(
    path: Path, spec: ModelSpec, config: TrainConfig, *, resume: bool, force: bool
) -> ResumeState | None:
    """The state a trial continues from, checked against its spec and config, or None."""
    state_path = resume_path(path)
    if not resume:
        if state_path.exists() and not force:
            raise CheckpointError(
                "resume file of an unfinished run; pass --resume to continue it "
                "(or --force to discard it and start afresh)",
                state_path,
            )
        return None
    if not state_path.exists():
        return None
    state = load_resume_state(state_path)
    problem = resume_mismatch(state, spec, config)
    if problem is not None:
        raise CheckpointError(
            f"{problem}; train without --resume (and with --force) to start afresh", state_path
        )
    return state
