"""Training a model over several seeds (wmbench.training): which trials run, and how each one's
checkpoint and resume file are written."""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch

from wmbench.checkpoint import read_checkpoint_info
from wmbench.errors import CheckpointError
from wmbench.models import get_spec
from wmbench.resume import load_resume_state, resume_path, save_resume_state
from wmbench.train import TrainConfig, prepare_data, train_model
from wmbench.training import (
    Trial,
    TrialCallbacks,
    plan_trials,
    resumed_epochs,
    run_trials,
    trial_path,
)
from wmbench.training import run as run_module

SPEC = get_spec("wm-smooth-32")  # the cheapest model of the zoo per image
BASE = TrainConfig(epochs=1, batch_size=50, lr=2e-3, limit_train=100, device="cpu")


@pytest.fixture(scope="module")
def data(synthetic_mnist):
    return prepare_data(synthetic_mnist(200, 40), BASE, torch.device("cpu"))


def _trained(path: Path, data, seed: int = 0) -> Path:
    (trial,) = plan_trials(SPEC, BASE, {seed: path})
    run_trials(SPEC, [trial], data, "synthetic")
    return path


def test_trial_paths():
    assert trial_path(None, "cnn-33", 2, 1) == Path("runs/cnn-33-s2.safetensors")
    assert trial_path(Path("o/m.safetensors"), "cnn-33", 2, 1) == Path("o/m.safetensors")
    assert trial_path(Path("o/m.safetensors"), "cnn-33", 5, 2) == Path("o/m-s5.safetensors")
    assert trial_path(Path("o/m"), "cnn-33", 5, 3) == Path("o/m-s5.safetensors")


def test_each_trial_has_its_seed_and_the_shared_settings(tmp_path):
    paths = {3: tmp_path / "a.safetensors", 4: tmp_path / "b.safetensors"}
    trials = plan_trials(SPEC, BASE, paths)
    assert [trial.config for trial in trials] == [
        dataclasses.replace(BASE, seed=3),
        dataclasses.replace(BASE, seed=4),
    ]
    assert [trial.path for trial in trials] == list(paths.values())
    assert all(trial.resume is None for trial in trials)
    assert trials[0].resume_path == tmp_path / "a.resume.safetensors"


def test_an_existing_checkpoint_is_refused_kept_or_replaced(tmp_path, data):
    done = _trained(tmp_path / "m-s0.safetensors", data)
    fresh = tmp_path / "m-s1.safetensors"
    paths = {0: done, 1: fresh}
    with pytest.raises(CheckpointError, match="already exists; pass --force") as error:
        plan_trials(SPEC, BASE, paths)
    assert error.value.path == str(done)

    skipped: list[Path] = []
    kept = plan_trials(SPEC, BASE, paths, skip_existing=True, on_skip=skipped.append)
    assert [trial.path for trial in kept] == [fresh] and skipped == [done]

    replaced = plan_trials(SPEC, BASE, paths, force=True, skip_existing=True)
    assert [trial.path for trial in replaced] == [done, fresh]

    done.write_bytes(b"half a file")  # a corrupt checkpoint is an error, not a reason to skip
    with pytest.raises(CheckpointError):
        plan_trials(SPEC, BASE, paths, skip_existing=True)


def test_resume_files_are_continued_refused_or_discarded(tmp_path, data):
    path = tmp_path / "m.safetensors"
    with pytest.raises(CheckpointError, match="no resume file: nothing to continue"):
        plan_trials(SPEC, BASE, {0: path}, resume=True)
    two = dataclasses.replace(BASE, epochs=2)
    train_model(
        SPEC, data, BASE, on_state=lambda state: save_resume_state(resume_path(path), state)
    )
    assert resumed_epochs([tmp_path / "other.safetensors", path]) == 1

    with pytest.raises(CheckpointError, match="pass --resume to continue it") as error:
        plan_trials(SPEC, two, {0: path})
    assert error.value.path == str(resume_path(path))
    (trial,) = plan_trials(SPEC, two, {0: path}, resume=True)
    assert trial.resume is not None and trial.resume.epoch == 1
    with pytest.raises(CheckpointError, match="training set-up differs: seed"):
        plan_trials(SPEC, two, {1: path}, resume=True)

    (stale,) = plan_trials(SPEC, two, {0: path}, force=True)
    assert stale.resume is None
    run_trials(SPEC, [stale], data, "synthetic")
    assert not resume_path(path).exists()
    history = read_checkpoint_info(path).meta["metrics"]["history"]
    assert [epoch["epoch"] for epoch in history] == [1, 2]


def test_checkpoint_carries_its_documents_and_the_resume_file_lives_until_it_is_written(
    tmp_path, data
):
    path = tmp_path / "m.safetensors"
    trials = plan_trials(SPEC, dataclasses.replace(BASE, epochs=2), {7: path})
    seen: list[tuple[bool, bool]] = []

    def watch(trial: Trial):
        def on_epoch(stats) -> None:
            seen.append((trial.resume_path.exists(), trial.path.exists()))

        return nullcontext(TrialCallbacks(on_epoch=on_epoch))

    saved = []
    (done,) = run_trials(SPEC, trials, data, "synthetic", watch=watch, on_saved=saved.append)
    # Each epoch's resume file is written before the epoch is reported; the checkpoint at the end.
    assert seen == [(True, False), (True, False)]
    assert saved == [done] and not resume_path(path).exists()
    meta = read_checkpoint_info(path).meta
    assert meta["train"] == dataclasses.asdict(trials[0].config) and meta["train"]["seed"] == 7
    assert meta["metrics"]["test_error"] == done.result.test_error
    assert meta["dataset"] == {
        "name": "mnist",
        "source": "synthetic",
        "train": 100,
        "val": 20,
        "test": 40,
        "split_seed": 0,
        "val_fraction": 0.1,
        "input_shape": [1, 28, 28],
        "num_classes": 10,
    }
    assert set(meta["versions"]) >= {"torch", "wmbench"}


def test_a_failed_save_keeps_the_resume_file(tmp_path, data, monkeypatch):
    path = tmp_path / "m.safetensors"
    trials = plan_trials(SPEC, BASE, {0: path})

    def disk_full(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(run_module, "save_checkpoint", disk_full)
    with pytest.raises(OSError, match="no space"):
        run_trials(SPEC, trials, data, "synthetic")
    assert not path.exists()
    assert load_resume_state(resume_path(path)).epoch == 1


def test_without_resume_files(tmp_path, data):
    path = tmp_path / "m.safetensors"
    seen: list[bool] = []
    trials = plan_trials(SPEC, BASE, {0: path})

    def watch(trial: Trial):
        return nullcontext(
            TrialCallbacks(on_epoch=lambda s: seen.append(resume_path(path).exists()))
        )

    run_trials(SPEC, trials, data, "synthetic", resumable=False, watch=watch)
    assert seen == [False] and path.exists()
