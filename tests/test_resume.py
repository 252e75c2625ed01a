"""Resuming a killed training run: the resumed run ends with an uninterrupted run's weights."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import pytest
import torch
from mnist_files import learnable_mnist, write_mnist_dir
from resume_states import snapshot
from safetensors.torch import load_file

from wmbench.cli import run
from wmbench.models import get_spec
from wmbench.resume import load_resume_state, resume_path, save_resume_state
from wmbench.train import ResumeState, TrainConfig, prepare_data, train_model


def _curve(history) -> list[tuple]:
    """What an epoch computed, without its timings."""
    return [(s.epoch, s.loss, s.train_error, s.val_error) for s in history]


def _assert_same_tensors(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), name


def test_library_resume_equals_uninterrupted_run(tmp_path, synthetic_mnist):
    spec = get_spec("wm-smooth-32")  # the cheapest model of the zoo per image
    config = TrainConfig(device="cpu", epochs=3, batch_size=50, seed=4)
    data = prepare_data(synthetic_mnist(200, 50), config, torch.device("cpu"))
    states: list[ResumeState] = []
    full = train_model(spec, data, config, on_state=lambda state: states.append(snapshot(state)))
    assert [state.epoch for state in states] == [1, 2, 3]

    path = tmp_path / "run.resume.safetensors"
    one = dataclasses.replace(config, epochs=1)
    train_model(spec, data, one, on_state=lambda state: save_resume_state(path, state))
    saved = load_resume_state(path)
    assert saved.epoch == 1 and saved.source == path
    assert _curve(saved.history) == _curve(full.history[:1])
    batches = 4  # 180 training images
    assert all(
        torch.equal(m["step"], torch.tensor(float(batches))) for m in saved.optimizer.values()
    )
    assert saved.rng.dtype == torch.uint8 and saved.generator.dtype == torch.uint8

    resumed_states: list[ResumeState] = []
    resumed = train_model(
        spec, data, config, resume=saved, on_state=lambda s: resumed_states.append(snapshot(s))
    )
    assert [state.epoch for state in resumed_states] == [2, 3]
    _assert_same_tensors(resumed.model.state_dict(), full.model.state_dict())  # best weights
    _assert_same_tensors(resumed_states[-1].model, states[-1].model)  # last epoch's weights
    for index, moments in states[-1].optimizer.items():
        _assert_same_tensors(resumed_states[-1].optimizer[index], moments)
    assert _curve(resumed.history) == _curve(full.history)
    assert (resumed.best_epoch, resumed.val_error, resumed.test_error) == (
        full.best_epoch,
        full.val_error,
        full.test_error,
    )

    # The comparison can fail: the same state with another batch order ends elsewhere.
    other = torch.Generator().manual_seed(99).get_state()
    shuffled = train_model(
        spec, data, config, resume=dataclasses.replace(load_resume_state(path), generator=other)
    )
    assert _curve(shuffled.history)[1:] != _curve(full.history)[1:]


def _train_args(data, out, *extra: str) -> list[str]:
    return [
        "train",
        "wm-smooth-32",
        "--data-dir",
        str(data),
        "--out",
        str(out),
        "--batch-size",
        "50",
        "--lr",
        "1e-4",  # slow enough that validation improves every epoch: best weights = last epoch's
        "--device",
        "cpu",
        *extra,
    ]


def test_killed_run_resumes_to_the_uninterrupted_weights(capsys, tmp_path):
    data = write_mnist_dir(tmp_path / "data", learnable_mnist(400, 100))
    reference = tmp_path / "reference.safetensors"
    assert run(_train_args(data, reference, "--epochs", "3")) == 0
    expected = load_file(str(reference))

    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    out, state_path = run_dir / "x.safetensors", run_dir / "x.resume.safetensors"
    assert resume_path(out) == state_path
    log = (tmp_path / "killed.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "wmbench", *_train_args(data, out, "--epochs", "3")],
        stdout=log,
        stderr=log,
    )
    deadline = time.monotonic() + 60
    while not state_path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.kill()  # SIGKILL: no handler, no cleanup
    assert process.wait() == -9, (tmp_path / "killed.log").read_text()
    log.close()

    assert not out.exists()  # no checkpoint, whole or half-written
    leftovers = {p.name for p in run_dir.iterdir()} - {state_path.name}
    assert all(name.startswith(".x.") and name.endswith(".tmp") for name in leftovers), leftovers
    state = load_resume_state(state_path)
    assert state.epoch in (1, 2)
    assert state.spec["name"] == "wm-smooth-32" and state.config["epochs"] == 3

    capsys.readouterr()
    assert run(_train_args(data, out, "--resume")) == 0  # --epochs comes from the resume file
    said = "".join(capsys.readouterr().err.split())  # rich wraps long paths anywhere
    assert "".join(f"resuming {out} after epoch {state.epoch}/3".split()) in said
    assert not state_path.exists()
    resumed = load_file(str(out))
    _assert_same_tensors(resumed, expected)
    assert run(["info", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["metrics"]
    assert run(["info", str(reference), "--json"]) == 0
    want = json.loads(capsys.readouterr().out)["metrics"]
    assert want["best_epoch"] == 3  # so the weights compared are those of a resumed epoch
    assert _curves(got) == _curves(want)
    assert got["test_error"] == want["test_error"]


def _curves(metrics: dict) -> list[tuple]:
    return [(h["epoch"], h["loss"], h["train_error"], h["val_error"]) for h in metrics["history"]]


@pytest.fixture
def resume_file(tmp_path, synthetic_mnist):
    """A resume file as `wmbench train cnn-33 --epochs 2 --batch-size 50` leaves after epoch 1."""
    data = write_mnist_dir(tmp_path / "data", learnable_mnist(100, 20))
    out = tmp_path / "m.safetensors"
    config = TrainConfig(epochs=1, batch_size=50, device="cpu")
    prepared = prepare_data(synthetic_mnist(100, 20), config, torch.device("cpu"))
    train_model(
        get_spec("cnn-33"),
        prepared,
        config,
        on_state=lambda state: save_resume_state(
            resume_path(out), dataclasses.replace(state, config={**state.config, "epochs": 2})
        ),
    )
    return data, out, resume_path(out)


@pytest.mark.parametrize(
    ("model", "extra", "said"),
    [
        ("wm-smooth-32", [], "resume file is for model 'cnn-33', not 'wm-smooth-32'"),
        ("cnn-33", ["--lr", "0.01"], "training set-up differs: lr (was 0.001, now 0.01)"),
        ("cnn-33", ["--seed", "1"], "training set-up differs: seed (was 0, now 1)"),
    ],
)
def test_resume_that_does_not_match_is_refused(
    capsys, resume_file, model, extra, said, one_error_line
):
    data, out, state_path = resume_file
    before = state_path.read_bytes()
    args = ["train", model, "--data-dir", str(data), "--out", str(out), "--batch-size", "50"]
    args += ["--device", "cpu"]
    assert run([*args, *extra, "--resume"]) == 2
    line = one_error_line()
    assert said in line and line.startswith(f"error: {state_path}: ")
    assert state_path.read_bytes() == before and not out.exists()


def test_resume_refuses_fewer_epochs_than_done(capsys, resume_file, one_error_line):
    data, out, state_path = resume_file
    save_resume_state(
        state_path, dataclasses.replace(load_resume_state(state_path), epoch=2, history=[])
    )
    args = ["train", "cnn-33", "--data-dir", str(data), "--out", str(out), "--batch-size", "50"]
    assert run([*args, "--device", "cpu", "--epochs", "1", "--resume"]) == 2
    assert "2 epochs done, more than the 1 asked for" in one_error_line()


def test_resume_without_a_resume_file_and_a_resume_file_without_resume(
    capsys, resume_file, one_error_line
):
    data, out, state_path = resume_file
    args = ["train", "cnn-33", "--data-dir", str(data), "--batch-size", "50", "--device", "cpu"]
    missing = out.with_name("other.safetensors")
    assert run([*args, "--out", str(missing), "--resume"]) == 2
    line = one_error_line()
    assert str(resume_path(missing)) in line and "no resume file" in line

    before = state_path.read_bytes()
    assert run([*args, "--out", str(out)]) == 2  # a fresh run would overwrite the killed one's
    line = one_error_line()
    assert str(state_path) in line and "--resume" in line
    assert state_path.read_bytes() == before and not out.exists()


def test_a_corrupt_resume_file_is_one_line(capsys, tmp_path, one_error_line):
    data = write_mnist_dir(tmp_path / "data", learnable_mnist(100, 20))
    out = tmp_path / "m.safetensors"
    resume_path(out).write_bytes(b"\x80\x04half a pickle")
    args = ["train", "cnn-33", "--data-dir", str(data), "--out", str(out), "--resume"]
    assert run(args) == 2
    assert str(resume_path(out)) in one_error_line()
