"""`wmbench train` under torchrun: two CPU ranks with DistributedDataParallel train as one process
with the same global batch does (history, weights), rank 0 alone writes, --resume continues on
the ranks, and a failure is one line and exit 2 on every rank.

Each test starts the ranks as subprocesses (one intra-op thread each, on the two cores).
Measured on CPU (torch 2.13, two ranks against one process): losses agree to 2.5e-7, errors
exactly, weights to 1.4e-5 (lsa-b, 2 epochs, 8 Adam steps on MNIST; cnn-33 plain 5e-6, PGD
9e-7); the tolerances leave a margin of 40 on the loss and 7 on the weights.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from mnist_files import learnable_mnist, write_mnist_dir
from safetensors.torch import load_file
from torchrun_job import BACKEND, free_port, rank_env, torchrun

from wmbench.checkpoint import read_checkpoint_info
from wmbench.models import build_model, get_spec
from wmbench.resume import load_resume_state, resume_path
from wmbench.train import Rows, pgd_examples, trades_examples

pytestmark = pytest.mark.heavy(seconds=120)

LOSS_TOLERANCE = 1e-5
WEIGHT_TOLERANCE = 1e-4
TIMEOUT_S = 300


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


def _check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _one_process(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "wmbench", "train", *args]
    return _check(
        subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    )


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    command = torchrun("train", *args)
    return _check(
        subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    )


@pytest.fixture
def ranks() -> Iterator[Callable[..., list[subprocess.Popen]]]:
    """``start(*args, log=PATH)``: the two ranks of a job started by hand, as torchrun starts
    them, each with its own exit code and its output in ``PATH.rankN``; any still running at the
    end of the test are killed."""
    started: list[subprocess.Popen] = []

    def start(*args: str, log: Path) -> list[subprocess.Popen]:
        port = free_port()
        processes = []
        for rank in range(2):
            env = rank_env(_env(), rank, port)
            with log.with_suffix(f".rank{rank}").open("w") as handle:
                command = [sys.executable, "-m", "wmbench", "train", *args]
                processes.append(subprocess.Popen(command, env=env, stdout=handle, stderr=handle))
        started.extend(processes)
        return processes

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _trained(path: Path) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """A checkpoint's tensors, its ``metrics`` and its ``train`` documents."""
    meta = read_checkpoint_info(path).meta
    return load_file(str(path)), meta["metrics"], meta["train"]


def _curve(metrics: dict) -> list[tuple]:
    """What each epoch computed, without its timings."""
    return [(h["epoch"], h["loss"], h["train_error"], h["val_error"]) for h in metrics["history"]]


def _assert_same_run(one: Path, two: Path) -> float:
    """Same history (loss to LOSS_TOLERANCE, errors exactly), best epoch and test error, and
    weights within WEIGHT_TOLERANCE; returns the largest weight difference."""
    first, first_metrics, _ = _trained(one)
    second, second_metrics, _ = _trained(two)
    assert len(first_metrics["history"]) == len(second_metrics["history"])
    for a, b in zip(first_metrics["history"], second_metrics["history"], strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=LOSS_TOLERANCE), (a, b)
        assert (a["epoch"], a["train_error"], a["val_error"]) == (
            b["epoch"],
            b["train_error"],
            b["val_error"],
        )
    assert first_metrics["best_epoch"] == second_metrics["best_epoch"]
    assert first_metrics["test_error"] == second_metrics["test_error"]
    assert first.keys() == second.keys()  # the module's own names: no "module." of DDP
    largest = max((first[name] - second[name]).abs().max().item() for name in first)
    assert largest <= WEIGHT_TOLERANCE
    return largest


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_mnist_dir(tmp_path_factory.mktemp("data"), learnable_mnist(400, 100))


@pytest.mark.integration
def test_two_ranks_train_as_one_process_on_mnist(tmp_path):
    """One epoch on 512 MNIST images, global batch 128: the ranks' run is one process's."""
    args = ["lsa-b", "--epochs", "1", "--batch-size", "128", "--limit-train", "512"]
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    _one_process(*args, "--device", "cpu", "--out", str(one))
    result = _torchrun(*args, "--device", "cpu", "--out", str(two))
    assert _assert_same_run(one, two) > 0  # two processes really trained: not a copy
    assert _trained(two)[2]["ranks"] == 2 and "ranks" not in _trained(one)[2]
    assert result.stdout.count("test error of the best-validation weights") == 1  # rank 0's
    assert result.stderr.count("saved ") == 1
    assert f"2 ranks ({BACKEND}), global batch 128" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.safetensors", "two.safetensors"]


@pytest.mark.parametrize(
    ("batch", "limit"),
    [
        ("100", "251"),  # 100, 100, 51: the last batch splits 26 / 25
        ("2", "7"),  # 2, 2, 2, 1: the last batch leaves rank 1 without a row
    ],
)
def test_batches_that_do_not_split_evenly(tmp_path, data, batch, limit):
    args = ["cnn-33", "--data-dir", str(data), "--epochs", "2", "--device", "cpu"]
    args += ["--batch-size", batch, "--limit-train", limit]
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    _one_process(*args, "--out", str(one))
    _torchrun(*args, "--out", str(two))
    _assert_same_run(one, two)


def test_pgd_training_on_two_ranks_is_one_process(tmp_path, data):
    args = ["cnn-33", "--data-dir", str(data), "--epochs", "1", "--batch-size", "64"]
    args += ["--limit-train", "200", "--adversarial", "pgd", "--adv-steps", "2", "--device", "cpu"]
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    _one_process(*args, "--out", str(one))
    _torchrun(*args, "--out", str(two))
    assert _assert_same_run(one, two) > 0


@pytest.mark.parametrize(("total", "count"), [(7, 2), (5, 3), (2, 4), (128, 8)])
def test_rows_are_shared_as_tensor_split_shares(total, count):
    expected = [part.tolist() for part in torch.tensor_split(torch.arange(total), count)]
    shares = [Rows.share(total, rank, count) for rank in range(count)]
    assert [list(range(rows.start, rows.stop)) for rows in shares] == expected
    assert [len(rows) for rows in shares] == [len(part) for part in expected]


@pytest.mark.parametrize("method", ["pgd", "trades"])
def test_each_rank_starts_its_rows_where_one_process_does(method):
    """The random starts are drawn for the global batch: the ranks' starts, put together, are
    one process's (a draw for the rows alone would start them elsewhere).

    Zero steps: the starts alone. The steps are equal too, up to rounding, which a sign can
    turn into a whole step: TRADES' first gradient, at 0.001·N(0, 1) from the clean image, is
    tiny, and with 4 and 3 rows instead of 7 a few of its signs flip."""
    torch.manual_seed(0)
    model = build_model(get_spec("lsa-b")).eval()
    images, labels = torch.rand(7, 1, 28, 28), torch.randint(0, 10, (7,))

    def starts(share: slice, rows: Rows | None) -> torch.Tensor:
        generator = torch.Generator().manual_seed(3)
        if method == "pgd":
            return pgd_examples(model, images[share], labels[share], 0.3, 0.1, 0, generator, rows)
        return trades_examples(model, images[share], 0.3, 0.1, 0, generator, rows)

    whole = starts(slice(None), None)
    shares = [Rows.share(7, rank, 2) for rank in range(2)]
    assert [(rows.start, rows.stop, len(rows)) for rows in shares] == [(0, 4, 4), (4, 7, 3)]
    parts = [starts(slice(rows.start, rows.stop), rows) for rows in shares]
    assert torch.equal(torch.cat(parts), whole)
    assert not torch.equal(starts(slice(4, 7), None), whole[4:])
    assert not torch.equal(whole, images)


def test_resume_on_the_ranks_ends_as_the_uninterrupted_run(tmp_path, data, ranks):
    args = ["cnn-33", "--data-dir", str(data), "--batch-size", "50", "--lr", "1e-4"]
    args += ["--device", "cpu"]
    reference = tmp_path / "reference.safetensors"
    _torchrun(*args, "--epochs", "2", "--out", str(reference))

    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    out = run_dir / "x.safetensors"
    state_path = resume_path(out)
    killed = ranks(*args, "--epochs", "2", "--out", str(out), log=tmp_path / "killed")
    deadline = time.monotonic() + TIMEOUT_S
    while not state_path.exists() and killed[0].poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    for process in killed:
        process.kill()  # SIGKILL: no handler, no cleanup
    codes = [process.wait() for process in killed]
    assert codes == [-9, -9], (tmp_path / "killed.rank0").read_text()
    assert not out.exists()
    state = load_resume_state(state_path)
    assert state.epoch == 1 and all(not name.startswith("module.") for name in state.model)

    # The ranks' resume file continues in one process too (close to the ranks' run).
    alone = tmp_path / "alone.safetensors"
    resume_path(alone).write_bytes(state_path.read_bytes())
    _one_process(*args, "--resume", "--out", str(alone))

    result = _torchrun(*args, "--resume", "--out", str(out))
    said = "".join(result.stderr.split())  # rich wraps long paths anywhere
    assert "".join(f"resuming {out} after epoch {state.epoch}/2".split()) in said
    assert not state_path.exists()
    expected, expected_metrics, _ = _trained(reference)
    resumed, resumed_metrics, _ = _trained(out)
    assert expected_metrics["best_epoch"] == 2  # the weights compared are a resumed epoch's
    assert resumed.keys() == expected.keys()
    assert all(torch.equal(resumed[name], expected[name]) for name in expected)
    assert _curve(resumed_metrics) == _curve(expected_metrics)
    _assert_same_run(alone, reference)


def test_a_failure_is_one_line_and_exit_2_on_every_rank(tmp_path, ranks):
    failing = ranks("cnn-33-no-such-model", "--out", str(tmp_path / "x"), log=tmp_path / "bad")
    codes = [process.wait(timeout=TIMEOUT_S) for process in failing]
    logs = [(tmp_path / f"bad.rank{rank}").read_text() for rank in range(2)]
    assert codes == [2, 2], logs
    lines = [line for log in logs for line in log.splitlines() if line.strip()]
    assert "Traceback" not in "".join(logs)
    assert len(lines) == 1 and lines[0].startswith("error: rank 0: "), logs
    assert "cnn-33-no-such-model" in lines[0]
