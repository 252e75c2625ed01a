"""The command line: exit codes, one-line errors on stderr, data on stdout."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest
from mnist_files import learnable_mnist, write_mnist_dir

from wmbench.cli import run


def test_models_json_lists_the_zoo_with_counts(capsys):
    assert run(["models", "--json", "cnn-*"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {
        "cnn-33", "cnn-33-bn", "cnn-33-ewas", "cnn-33-input-scale", "cnn-33-k9", "cnn-33-up2",
        "cnn-wide",
    }  # fmt: skip
    assert rows["cnn-33"]["params"] == 261_070
    assert rows["cnn-wide"]["params"] == 1_187_030
    assert rows["cnn-wide"]["macs"] > 50 * rows["cnn-33"]["macs"]


def test_models_table(capsys):
    assert run(["models", "wm-unsharp-32"]) == 0
    out = capsys.readouterr().out
    assert "wm-unsharp-32" in out and "1,487,178" in out


def test_unknown_model_exit_2_with_suggestion(capsys, tmp_path, one_error_line):
    assert run(["train", "wm-unsharp32", "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "unknown model 'wm-unsharp32'; did you mean wm-unsharp-32" in one_error_line()


def test_malformed_spec_file_names_file_and_key(capsys, tmp_path, one_error_line):
    spec = tmp_path / "mine.yaml"
    spec.write_text("name: mine\nfamily: cnn\nargs: {kernel_size: 3}\nnum_classes: [1]\n")
    assert run(["train", str(spec)]) == 2
    line = one_error_line()
    assert str(spec) in line and "num_classes" in line


def test_usage_error_is_one_line(capsys, one_error_line):
    assert run(["train", "cnn-33", "--epochs", "zero"]) == 2
    assert "epochs" in one_error_line()


def test_cuda_without_gpu(capsys, tmp_path, one_error_line):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert run(["train", "cnn-33", "--device", "cuda", "--out", str(tmp_path / "c")]) == 2
    assert "no CUDA GPU" in one_error_line()


def test_missing_data_files(capsys, tmp_path, one_error_line):
    (tmp_path / "empty").mkdir()
    args = ["train", "cnn-33", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "c")]
    assert run(args) == 2
    line = one_error_line()
    assert "empty" in line and "train-images-idx3-ubyte" in line


def test_info_refuses_a_pickle(capsys, tmp_path, one_error_line):
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"state": 1}))
    assert run(["info", str(path)]) == 2
    assert "model.pt" in one_error_line()


def test_train_writes_checkpoint_info_reads_it_and_nothing_is_overwritten(
    capsys, tmp_path, one_error_line
):
    data = write_mnist_dir(tmp_path / "data", learnable_mnist(500, 200))
    out = tmp_path / "ckpt.safetensors"
    args = [
        "train",
        "wm-smooth-32",
        "--data-dir",
        str(data),
        "--out",
        str(out),
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--seed",
        "3",
    ]
    assert run(args) == 0
    captured = capsys.readouterr()
    assert "wm-smooth-32" in captured.out and "ckpt.safetensors" in captured.out
    assert run(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["spec"]["name"] == "wm-smooth-32"
    assert info["train"]["seed"] == 3 and info["train"]["epochs"] == 2
    assert info["dataset"]["train"] == 450 and info["dataset"]["test"] == 200
    assert info["metrics"]["test_error"] < 0.3
    assert set(info["versions"]) >= {"torch", "wmbench", "torchattacks"}
    before = out.read_bytes()
    assert run(args) == 2
    assert "already exists; pass --force" in one_error_line()
    assert out.read_bytes() == before
    assert run([*args, "--skip-existing"]) == 0
    assert "skipped" in capsys.readouterr().err and out.read_bytes() == before
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"half a file")
    assert (
        run(["train", "cnn-33", "--data-dir", str(data), "--out", str(broken), "--skip-existing"])
        == 2
    )
    assert "broken.safetensors" in one_error_line()
    assert broken.read_bytes() == b"half a file"


def test_notes_into_a_log_stay_one_line_however_long_the_path(capsys, tmp_path):
    data = write_mnist_dir(tmp_path / "data", learnable_mnist(100, 50))
    out = tmp_path / ("a-folder-with-a-long-name-" * 4) / "checkpoint.safetensors"
    out.parent.mkdir()
    args = ["train", "cnn-33", "--data-dir", str(data), "--out", str(out), "--epochs", "1"]
    assert run([*args, "--batch-size", "50"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(f"saved {out}") > 120  # rich's 80 columns would have split it
    assert f"saved {out}" in lines
    assert any("train / " in line and f"images from idx:{data}," in line for line in lines)


def test_trials_write_one_checkpoint_per_seed(capsys, tmp_path):
    data = write_mnist_dir(tmp_path / "data", learnable_mnist(200, 100))
    out = tmp_path / "m.safetensors"
    args = [
        "train",
        "cnn-33",
        "--data-dir",
        str(data),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--trials",
        "2",
        "--seed",
        "5",
    ]
    assert run(args) == 0
    assert "mean ± std" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.glob("m-s*.safetensors")) == [
        "m-s5.safetensors",
        "m-s6.safetensors",
    ]


def test_console_script_exit_code_and_stderr(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "wmbench", "info", str(tmp_path / "missing.safetensors")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing.safetensors'}: no such file"
    ]
