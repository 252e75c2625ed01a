"""`--lr-schedule cosine`: the learning rate of each epoch is SGDR's closed form (Loshchilov &
Hutter 2017, no restarts, annealed to 0), Adam steps with it, a resumed run replays it to the
uninterrupted run's weights, and a run cannot be resumed with another schedule length."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from mnist_files import learnable_mnist, write_mnist_dir
from resume_states import same_tensors, snapshot

from wmbench.checkpoint import read_checkpoint_info
from wmbench.cli import run
from wmbench.errors import CheckpointError, ConfigError
from wmbench.models import get_spec
from wmbench.resume import load_resume_state, save_resume_state
from wmbench.train import ResumeState, TrainConfig, prepare_data, train_model

pytestmark = pytest.mark.usefixtures("one_thread")

LR = 2e-3


def _cosine(epoch: int, epochs: int) -> float:
    """SGDR's closed form, lr_min + (lr_max − lr_min)(1 + cos(π T_cur / T_max)) / 2, lr_min 0."""
    return LR * (1 + math.cos(math.pi * (epoch - 1) / epochs)) / 2


def test_cosine_lr_is_the_closed_form_and_a_resumed_run_ends_where_the_whole_run_does(
    tmp_path, synthetic_mnist
):
    spec = get_spec("wm-smooth-32")
    config = TrainConfig(device="cpu", epochs=4, batch_size=50, seed=2, lr=LR, lr_schedule="cosine")
    data = prepare_data(synthetic_mnist(200, 50), config, torch.device("cpu"))
    states: list[ResumeState] = []
    whole = train_model(spec, data, config, on_state=lambda state: states.append(snapshot(state)))
    lrs = [stats.lr for stats in whole.history]
    assert lrs == pytest.approx([_cosine(epoch, 4) for epoch in (1, 2, 3, 4)], rel=1e-12)
    assert lrs[2] == pytest.approx(LR / 2, rel=1e-12)

    # The first epoch runs at the full rate, so it is a constant run's first epoch; the rest is not.
    constant = train_model(spec, data, dataclasses.replace(config, lr_schedule="constant"))
    assert [s.lr for s in constant.history] == [LR] * 4
    assert whole.history[0].loss == constant.history[0].loss
    assert whole.history[1].loss != constant.history[1].loss
    assert not same_tensors(states[-1].model, constant.model.state_dict())

    # Killed after epoch 2: the saved state resumes to the whole run's weights and rates.
    path = tmp_path / "run.resume.safetensors"
    save_resume_state(path, states[1])
    resumed_states: list[ResumeState] = []
    resumed = train_model(
        spec,
        data,
        config,
        resume=load_resume_state(path),
        on_state=lambda state: resumed_states.append(snapshot(state)),
    )
    assert [stats.lr for stats in resumed.history] == lrs
    assert same_tensors(resumed_states[-1].model, states[-1].model)
    assert same_tensors(resumed.model.state_dict(), whole.model.state_dict())

    # The schedule's length is its epochs: resuming with more is refused, naming both.
    with pytest.raises(CheckpointError, match="over 4 epochs: resume with --epochs 4, not 6"):
        train_model(spec, data, dataclasses.replace(config, epochs=6), resume=states[1])
    # A constant run may still grow.
    constant_state = dataclasses.replace(states[1], config={**states[1].config, "epochs": 2})
    constant_state.config["lr_schedule"] = "constant"
    grown = dataclasses.replace(config, lr_schedule="constant", epochs=3)
    assert len(train_model(spec, data, grown, resume=constant_state).history) == 3


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ConfigError, match="unknown learning-rate schedule 'step'"):
        TrainConfig(lr_schedule="step")


def test_the_cli_records_the_schedule_and_each_epochs_rate(tmp_path, capsys, one_error_line):
    data = write_mnist_dir(tmp_path / "data", learnable_mnist(150, 30))
    out = tmp_path / "m.safetensors"
    args = ["train", "cnn-33", "--data-dir", str(data), "--out", str(out), "--batch-size", "50"]
    assert run([*args, "--epochs", "3", "--lr", str(LR), "--lr-schedule", "cosine"]) == 0
    meta = read_checkpoint_info(out).meta
    assert meta["train"]["lr_schedule"] == "cosine"
    rates = [epoch["lr"] for epoch in meta["metrics"]["history"]]
    assert rates == pytest.approx([_cosine(epoch, 3) for epoch in (1, 2, 3)], rel=1e-12)

    capsys.readouterr()
    before = out.read_bytes()
    assert run([*args, "--epochs", "1", "--force", "--lr-schedule", "linear"]) == 2
    assert "unknown learning-rate schedule 'linear'" in one_error_line()
    assert out.read_bytes() == before
