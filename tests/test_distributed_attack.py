"""`wmbench attack` under torchrun (gloo, 2 CPU processes): the same cells as one process, one
error line and exit 2 on every rank for a bad suite, a killed or hung rank stops the other, and
--resume finishes the run with one process's numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from torchrun_job import BACKEND, free_port, rank_env, torchrun

from wmbench.distributed import ONE_PROCESS, World, gist

pytestmark = pytest.mark.heavy(seconds=110)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "checkpoints"
MODELS = {
    "cnn": str(SHIPPED / "cnn-33.safetensors"),
    "wm": str(SHIPPED / "wm-unsharp-32.safetensors"),
    "smooth": str(SHIPPED / "wm-smooth-32.safetensors"),
}
# The parts of a results file that are the measurement (not when, where or how long).
MEASURED = ("suite", "checkpoints", "results", "gates", "warnings", "passed")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), **extra)
    return env


def _one(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "wmbench", *args]
    return subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True)


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(torchrun(*args), cwd=cwd, env=_env(), capture_output=True, text=True)


def _ranks(args: list[str], cwd: Path, **env: str) -> list[subprocess.Popen]:
    """Two ranks started by hand, as torchrun starts them (so each one's exit code is seen)."""
    port = free_port()
    return [
        subprocess.Popen(
            [sys.executable, "-m", "wmbench", *args],
            cwd=cwd,
            env=rank_env(_env(**env), rank, port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]


def _measured(path: Path) -> str:
    document = json.loads(path.read_text())
    return json.dumps({key: document[key] for key in MEASURED})


def _suite(folder: Path, name: str, perturbations: list, **extra: object) -> Path:
    suite = {
        "name": name,
        "dataset": {"name": "mnist", "split": "test", "limit": 64},
        "batch_size": 24,  # 3 batches, the last one short: ranks get unequal shares
        "seed": 3,
        "device": "cpu",
        "models": MODELS,
        "perturbations": perturbations,
        **extra,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Each suite with its one-process results: the quick suite's perturbations, and uniform
    noise, FGSM and PGD with the per-layer errors."""
    folder = tmp_path_factory.mktemp("suites")
    quick = yaml.safe_load((ROOT / "suites" / "quick.yaml").read_text())["perturbations"]
    noise_fgsm_pgd = [
        {"kind": "clean"},
        {"kind": "uniform", "upper": [0.5, 2.0]},
        {"kind": "fgsm", "eps": [0.1, 0.3]},
        {"kind": "pgd", "eps": 0.1, "alpha": 0.02, "steps": 5},
    ]
    found = {}
    for path in (
        _suite(folder, "quick", quick),
        _suite(folder, "noise-fgsm-pgd", noise_fgsm_pgd, per_layer=True),
    ):
        result = _one(["attack", str(path), "--json", f"{path.stem}.one.json"], folder)
        assert result.returncode == 0, result.stderr
        found[path.stem] = (path, folder / f"{path.stem}.one.json")
    return found


@pytest.mark.parametrize(
    ("name", "shard"),
    [("quick", "batches"), ("noise-fgsm-pgd", "batches"), ("noise-fgsm-pgd", "models")],
)
def test_two_ranks_measure_what_one_process_does(suites, name: str, shard: str) -> None:
    suite, one = suites[name]
    out = suite.parent / f"{name}.{shard}.json"
    result = _torchrun(["attack", str(suite), "--shard", shard, "--json", str(out)], suite.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _measured(out) == _measured(one)
    document = json.loads(out.read_text())
    assert document["device"].endswith(f"2 ranks ({BACKEND})")
    assert result.stdout.count("results written") + result.stderr.count("results written") == 1


def test_a_bad_suite_is_one_line_and_exit_2_on_every_rank(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodels: {a: missing.safetensors}\nperturbations: [{kind: clean}]\n")
    ranks = _ranks(["attack", str(bad)], tmp_path)
    errors = [rank.communicate(timeout=120)[1] for rank in ranks]
    assert [rank.returncode for rank in ranks] == [2, 2]
    lines = [line for text in errors for line in text.splitlines()]
    assert len(lines) == 1 and lines[0].startswith("error: rank 0: ")
    assert "missing.safetensors: checkpoint of model 'a' not found" in lines[0]
    # The same under torchrun: one line of ours; torchrun reports a worker's exit code 2 (the
    # other one's too, unless it had not exited when torchrun stopped it).
    result = _torchrun(["attack", str(bad)], tmp_path)
    ours = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(ours) == 1 and "rank 0" in ours[0] and "missing.safetensors" in ours[0]
    assert result.returncode == 1 and "exitcode  : 2" in result.stderr
    assert "[rank0]: Traceback" not in result.stderr and "[rank1]: Traceback" not in result.stderr


def test_a_killed_rank_stops_the_other_and_resume_finishes(suites) -> None:
    suite, one = suites["noise-fgsm-pgd"]
    out = suite.parent / "killed.json"
    progress = Path(f"{out}.partial.jsonl")
    ranks = _ranks(["attack", str(suite), "--json", str(out)], suite.parent)
    deadline = time.monotonic() + 120
    while not (progress.exists() and len(progress.read_text().splitlines()) >= 2):
        assert time.monotonic() < deadline and ranks[0].poll() is None, ranks[0].stderr.read()
        time.sleep(0.02)
    ranks[1].send_signal(signal.SIGKILL)
    _, error = ranks[0].communicate(timeout=60)
    ranks[1].wait()
    assert ranks[0].returncode == 2
    assert error.startswith("error: rank 0: lost contact with another rank (")
    assert error.count("\n") == 1 and "rerun with --resume" in error
    assert not out.exists() and len(progress.read_text().splitlines()) >= 2

    result = _torchrun(["attack", str(suite), "--json", str(out), "--resume"], suite.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming: " in result.stderr
    assert _measured(out) == _measured(one)
    assert not progress.exists()


def test_a_hung_rank_times_out(suites) -> None:
    suite, _ = suites["noise-fgsm-pgd"]
    out = suite.parent / "hung.json"
    progress = Path(f"{out}.partial.jsonl")
    ranks = _ranks(
        ["attack", str(suite), "--json", str(out)], suite.parent, WMBENCH_DIST_TIMEOUT="4"
    )
    deadline = time.monotonic() + 120
    try:
        while not progress.exists():
            assert time.monotonic() < deadline and ranks[0].poll() is None
            time.sleep(0.02)
        ranks[1].send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        _, error = ranks[0].communicate(timeout=60)
        assert ranks[0].returncode == 2 and time.monotonic() - stopped < 30
        assert error.startswith("error: rank 0: lost contact with another rank (Timed out")
    finally:
        ranks[1].kill()
        ranks[1].wait()


def test_a_bad_timeout_is_one_line(tmp_path: Path) -> None:
    ranks = _ranks(["attack", "missing.yaml"], tmp_path, WMBENCH_DIST_TIMEOUT="soon")
    errors = [rank.communicate(timeout=60)[1] for rank in ranks]
    assert [rank.returncode for rank in ranks] == [2, 2]
    assert errors == [
        "error: WMBENCH_DIST_TIMEOUT must be a number of seconds > 0, got 'soon'\n",
        "",
    ]


def test_ownership_covers_every_unit_once() -> None:
    for size in (1, 2, 3, 5):
        worlds = [World(rank, size, rank, "gloo") for rank in range(size)]
        for count in (0, 1, 4, 7, 10):
            owners = [[w.rank for w in worlds if w.owns(i)] for i in range(count)]
            assert all(len(owner) == 1 for owner in owners)
            assert sum(w.share(count) for w in worlds) == count
            assert [w.share(count) for w in worlds] == [
                sum(1 for i in range(count) if w.owns(i)) for w in worlds
            ]
    assert ONE_PROCESS.gather_json({"a": [1.5]}) == [{"a": [1.5]}]
    assert not ONE_PROCESS.active and ONE_PROCESS.leader


def test_errors_of_gloo_are_cut_to_their_gist() -> None:
    error = RuntimeError(
        "[/__w/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:553] Connection closed by "
        "peer [127.0.0.1]:45736. This is typically caused by a remote worker crashing."
    )
    assert gist(error) == "Connection closed by peer [127.0.0.1]:45736"
