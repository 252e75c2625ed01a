"""Tests of the data-set readers behind ``load_dataset``: each format is written here, small, in
the layout the real files have (IDX, CIFAR's pickles and binary records, SVHN's MATLAB files,
``.npz``, folders of PNG/JPEG), and read back byte for byte; then every way a file can be wrong."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mnist_files import (
    NAMES,
    cifar_binary,
    cifar_pickle,
    fake_images,
    fake_mnist,
    svhn_mat,
    write_cifar,
    write_idx,
    write_mnist_dir,
    write_png_folder,
)
from PIL import Image

from wmbench.data import (
    DATASETS,
    IMAGE_SHAPES,
    ImageDataset,
    images_to_float,
    load_dataset,
    random_horizontal_flip,
    train_val_split,
)
from wmbench.errors import DataError


def error_text(error: pytest.ExceptionInfo[DataError], path: Path | str, *words: str) -> str:
    """The error's one line, checked to name ``path`` and to contain ``words``."""
    text = str(error.value)
    assert "\n" not in text
    assert str(path) in text
    for word in words:
        assert word in text, text
    return text


def check_split(dataset: ImageDataset, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """``dataset``'s split equals uint8 NCHW ``images`` / 255 and ``labels``."""
    got_images, got_labels = dataset.split(split)
    assert got_images.dtype == torch.float32 and got_labels.dtype == torch.int64
    np.testing.assert_array_equal(got_images.numpy(), images.astype(np.float32) / 255)
    np.testing.assert_array_equal(got_labels.numpy(), labels)


def check_train_val(dataset: ImageDataset, images: np.ndarray, labels: np.ndarray) -> None:
    """The seeded 10% of the training set is "val", the rest "train": train_val_split(n, 0.1, 0)."""
    train, val = (index.numpy() for index in train_val_split(len(images), 0.1, 0))
    assert len(val) == round(0.1 * len(images)) and len(set(train) | set(val)) == len(images)
    check_split(dataset, "val", images[val], labels[val])
    check_split(dataset, "train", images[train], labels[train])


# --- MNIST, Fashion-MNIST, KMNIST: IDX files ---------------------------------------------------

TORCHVISION_DIRS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}


@pytest.mark.parametrize("name", list(TORCHVISION_DIRS))
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("torchvision", [False, True])
def test_idx_data_sets(tmp_path: Path, name: str, gz: bool, torchvision: bool) -> None:
    arrays = fake_mnist(n_train=20, n_test=6, seed=3)
    write_mnist_dir(
        tmp_path / (f"{TORCHVISION_DIRS[name]}/raw" if torchvision else ""), arrays, gz=gz
    )
    dataset = load_dataset(name, tmp_path)
    assert (dataset.name, dataset.num_classes, dataset.source) == (name, 10, f"idx:{tmp_path}")
    assert dataset.image_shape == (1, 28, 28) == IMAGE_SHAPES[name]
    assert dataset.train_images.dtype == torch.uint8
    assert dataset.train_images.shape == (20, 1, 28, 28)
    for split in ("train", "test"):
        np.testing.assert_array_equal(
            getattr(dataset, f"{split}_images")[:, 0].numpy(), arrays[f"{split}_images"]
        )
        np.testing.assert_array_equal(
            getattr(dataset, f"{split}_labels").numpy(), arrays[f"{split}_labels"]
        )
    check_split(dataset, "test", arrays["test_images"][:, None], arrays["test_labels"])
    check_train_val(dataset, arrays["train_images"][:, None], arrays["train_labels"])


def test_mnist_without_path_reads_the_env_folder(tmp_path: Path, monkeypatch) -> None:
    arrays = fake_mnist(n_train=4, n_test=3)
    monkeypatch.setenv("WMBENCH_DATA", str(write_mnist_dir(tmp_path, arrays)))
    dataset = load_dataset("mnist")
    assert dataset.source == f"idx:{tmp_path}"
    np.testing.assert_array_equal(dataset.test_labels.numpy(), arrays["test_labels"])


@pytest.mark.parametrize("name", ["fashion-mnist", "kmnist", "cifar10", "svhn", "npz", "folder"])
def test_other_data_sets_need_a_path(name: str) -> None:
    with pytest.raises(DataError) as error:
        load_dataset(name)
    assert f"{name} is read from local files" in str(error.value)
    assert DATASETS[name].files in str(error.value)


def test_idx_missing_file_lists_the_expected_names(tmp_path: Path) -> None:
    write_mnist_dir(tmp_path, fake_mnist())
    (tmp_path / NAMES["test_images"]).unlink()
    with pytest.raises(DataError) as error:
        load_dataset("fashion-mnist", tmp_path)
    error_text(
        error, tmp_path, f"missing {NAMES['test_images']}", "FashionMNIST/raw", *NAMES.values()
    )


@pytest.mark.parametrize("tail, words", [(b"", "truncated"), (b"\0" * 7, "7 trailing bytes")])
def test_idx_wrong_size(tmp_path: Path, tail: bytes, words: str) -> None:
    arrays = fake_mnist()
    write_mnist_dir(tmp_path, arrays)
    path = tmp_path / NAMES["train_images"]
    if tail:
        write_idx(path, arrays["train_images"], tail=tail)
    else:
        path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError) as error:
        load_dataset("kmnist", tmp_path)
    error_text(error, path, words)


# --- CIFAR-10 and CIFAR-100 ----------------------------------------------------------------


def cifar_sets(classes: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    train = fake_images(10, classes=classes, seed=1)
    test = fake_images(4, classes=classes, seed=2)
    train[1][0], test[1][-1] = classes - 1, 0  # the extreme labels occur
    return train, test


CIFAR_FOLDERS = {
    ("cifar10", False): "cifar-10-batches-py",
    ("cifar10", True): "cifar-10-batches-bin",
    ("cifar100", False): "cifar-100-python",
    ("cifar100", True): "cifar-100-binary",
}


@pytest.mark.parametrize("name, binary, py2", [
    ("cifar10", False, False),
    ("cifar10", False, True),
    ("cifar10", True, False),
    ("cifar100", False, False),
    ("cifar100", False, True),
    ("cifar100", True, False),
])  # fmt: skip
@pytest.mark.parametrize("parent", [False, True])
def test_cifar(tmp_path: Path, name: str, binary: bool, py2: bool, parent: bool) -> None:
    classes = 10 if name == "cifar10" else 100
    train, test = cifar_sets(classes)
    folder = write_cifar(
        tmp_path / CIFAR_FOLDERS[name, binary], name, train, test, binary=binary, py2=py2
    )
    calls = []
    dataset = load_dataset(
        name, tmp_path if parent else folder, progress=lambda *c: calls.append(c)
    )
    version = "binary" if binary else "python"
    assert (dataset.name, dataset.num_classes) == (name, classes)
    assert dataset.source == f"{name}-{version}:{folder}"
    assert dataset.image_shape == (3, 32, 32) == IMAGE_SHAPES[name]
    assert dataset.test_images.dtype == torch.uint8
    for split, (images, labels) in (("train", train), ("test", test)):
        np.testing.assert_array_equal(getattr(dataset, f"{split}_images").numpy(), images)
        np.testing.assert_array_equal(getattr(dataset, f"{split}_labels").numpy(), labels)
    check_train_val(dataset, *train)
    files = 6 if name == "cifar10" else 2
    assert calls[-1] == ("read", files, files)


@pytest.mark.parametrize("binary", [False, True])
def test_cifar_row_is_red_green_blue_planes_row_major(tmp_path: Path, binary: bool) -> None:
    """Byte k of a 3072-byte row is channel k // 1024, row (k % 1024) // 32, column k % 32."""
    row = (np.arange(3072) * 7 % 251).astype(np.uint8)
    folder = tmp_path / ("cifar-10-batches-bin" if binary else "cifar-10-batches-py")
    folder.mkdir()
    for file in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        if binary:
            (folder / f"{file}.bin").write_bytes(bytes([3]) + row.tobytes())
        else:
            batch = {b"data": row[None], b"labels": [3], b"batch_label": b"x", b"filenames": [b""]}
            (folder / file).write_bytes(pickle.dumps(batch, protocol=2))
    image = load_dataset("cifar10", tmp_path).test_images[0].numpy()
    for k in (0, 1, 31, 32, 1023, 1024, 1024 + 33, 2047, 2048, 2048 + 32 * 17 + 5, 3071):
        assert image[k // 1024, (k % 1024) // 32, k % 32] == row[k]


def test_cifar100_binary_uses_the_fine_label(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    record = bytes([4, 97]) + bytes(3072)  # coarse 4, fine 97
    (folder / "train.bin").write_bytes(record * 2)
    (folder / "test.bin").write_bytes(record)
    assert load_dataset("cifar100", folder).test_labels.tolist() == [97]


def test_cifar_missing_file_lists_the_expected_names(tmp_path: Path) -> None:
    folder = write_cifar(tmp_path / "cifar-10-batches-py", "cifar10", *cifar_sets(10))
    (folder / "test_batch").unlink()
    with pytest.raises(DataError) as error:
        load_dataset("cifar10", tmp_path)
    error_text(error, folder, "missing test_batch", "data_batch_1..data_batch_5, test_batch")
    with pytest.raises(DataError) as error:
        load_dataset("cifar100", tmp_path)
    error_text(
        error, tmp_path, "cifar-100-python/", "train, test", "cifar-100-binary/", "train.bin"
    )


@pytest.mark.parametrize("change", [-100, +5, -3072])
def test_cifar_binary_not_whole_records(tmp_path: Path, change: int) -> None:
    folder = write_cifar(tmp_path / "cifar-10-batches-bin", "cifar10", *cifar_sets(10), binary=True)
    path = folder / "data_batch_2.bin"
    raw = path.read_bytes()
    path.write_bytes(raw[:change] if change < 0 else raw + bytes(change))
    with pytest.raises(DataError) as error:
        load_dataset("cifar10", folder)
    error_text(error, path, f"{len(raw) + change} bytes", "whole number of 3073-byte records")


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
@pytest.mark.parametrize("binary", [False, True])
def test_cifar_label_out_of_range(tmp_path: Path, name: str, binary: bool) -> None:
    classes = 10 if name == "cifar10" else 100
    folder = write_cifar(tmp_path / "f", name, *cifar_sets(classes), binary=binary)
    test = fake_images(3, seed=5)[0], np.array([1, classes, 2])
    test_file = folder / (
        ("test_batch" if name == "cifar10" else "test") + (".bin" if binary else "")
    )
    if binary:
        test_file.write_bytes(cifar_binary(*test, coarse=name == "cifar100"))
    else:
        key = b"labels" if name == "cifar10" else b"fine_labels"
        test_file.write_bytes(cifar_pickle(*test, label_key=key))
    with pytest.raises(DataError) as error:
        load_dataset(name, folder)
    error_text(error, test_file, f"label {classes} out of range 0..{classes - 1} at index 1")


def test_cifar_label_index_counts_across_batches(tmp_path: Path) -> None:
    train, test = cifar_sets(10)
    train[1][5] = 12  # the second of data_batch_3's two images
    folder = write_cifar(tmp_path / "cifar-10-batches-py", "cifar10", train, test)
    with pytest.raises(DataError) as error:
        load_dataset("cifar10", folder)
    error_text(error, folder / "data_batch_3", "label 12 out of range 0..9 at index 1")


class Shell:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class HugeBytes:
    def __reduce__(self):
        return (bytes, (10**12,))


def test_cifar_pickle_with_a_forbidden_global_is_refused_unrun(tmp_path: Path) -> None:
    folder = write_cifar(tmp_path / "cifar-10-batches-py", "cifar10", *cifar_sets(10))
    marker = tmp_path / "hacked"
    images, labels = fake_images(2)
    batch = {b"data": Shell(f"echo hacked > {marker}"), b"labels": list(labels)}
    (folder / "data_batch_4").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DataError) as error:
        load_dataset("cifar10", folder)
    assert not marker.exists()
    error_text(
        error,
        folder / "data_batch_4",
        f"forbidden global {os.system.__module__}.system",
        "(only numpy arrays and bytes allowed)",
    )


def test_cifar_pickle_may_call_bytes_only_as_empty_bytes(tmp_path: Path) -> None:
    folder = write_cifar(tmp_path / "cifar-10-batches-py", "cifar10", *cifar_sets(10))
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": HugeBytes()}, protocol=2))
    with pytest.raises(DataError) as error:
        load_dataset("cifar10", folder)
    error_text(error, folder / "test_batch", "bytes() is allowed only without arguments")


def batch(**fields: object) -> bytes:
    return pickle.dumps({key.encode(): value for key, value in fields.items()}, protocol=2)


ROWS = np.zeros((2, 3072), np.uint8)


@pytest.mark.parametrize("damage, words", [
    (lambda raw: raw[: len(raw) // 2], "not a CIFAR pickle"),
    (lambda raw: pickle.dumps([1, 2], protocol=2), "a pickle of list, expected a dict"),
    (lambda raw: batch(data=ROWS[:, :3000], labels=[0, 1]), "(N, 3072)"),
    (lambda raw: batch(data=ROWS), "no 'labels'"),
    (lambda raw: batch(data=ROWS, labels=[0]), "1 test labels for 2 images"),
    (lambda raw: batch(data=ROWS, labels=[0, 1.5]), "expected integers (N,)"),
    (lambda raw: batch(data=ROWS.astype(np.int64), labels=[0, 1]), "not a uint8"),
])  # fmt: skip
def test_cifar_malformed_pickles(tmp_path: Path, damage, words: str) -> None:
    folder = write_cifar(tmp_path / "cifar-10-batches-py", "cifar10", *cifar_sets(10))
    path = folder / "test_batch"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError) as error:
        load_dataset("cifar10", folder)
    error_text(error, path, words)


def test_cifar_archive_not_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"\x1f\x8b")
    with pytest.raises(DataError) as error:
        load_dataset("cifar10", archive)
    error_text(error, archive, "extract it first", "cifar-10-batches-py/")


# --- SVHN ----------------------------------------------------------------------------------


def svhn_sets() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    train, test = fake_images(9, seed=7), fake_images(5, seed=8)
    train[1][:2] = [0, 9]
    return train, test


def test_svhn(tmp_path: Path) -> None:
    train, test = svhn_sets()
    svhn_mat(tmp_path / "train_32x32.mat", *train)
    svhn_mat(tmp_path / "test_32x32.mat", *test)
    dataset = load_dataset("svhn", tmp_path)
    assert (dataset.name, dataset.num_classes, dataset.source) == (
        "svhn",
        10,
        f"svhn-mat:{tmp_path}",
    )
    assert dataset.image_shape == (3, 32, 32) == IMAGE_SHAPES["svhn"]
    for split, (images, labels) in (("train", train), ("test", test)):
        np.testing.assert_array_equal(getattr(dataset, f"{split}_images").numpy(), images)
        np.testing.assert_array_equal(getattr(dataset, f"{split}_labels").numpy(), labels)
    assert dataset.train_labels[:2].tolist() == [0, 9]  # stored as 10 and 9
    check_train_val(dataset, *train)


def test_svhn_x_is_height_width_channel_image(tmp_path: Path) -> None:
    import scipy.io

    x = np.zeros((32, 32, 3, 2), np.uint8)
    x[3, 5, 1, 1] = 200  # row 3, column 5, green, image 1
    x[31, 0, 2, 0] = 17
    for name in ("train_32x32.mat", "test_32x32.mat"):
        scipy.io.savemat(tmp_path / name, {"X": x, "y": np.array([[10.0], [4.0]])})
    dataset = load_dataset("svhn", tmp_path)
    assert dataset.test_images[1, 1, 3, 5] == 200 and dataset.test_images[0, 2, 31, 0] == 17
    assert int(dataset.test_images.sum()) == 217
    assert dataset.test_labels.tolist() == [0, 4]


def test_svhn_errors(tmp_path: Path) -> None:
    train, test = svhn_sets()
    svhn_mat(tmp_path / "test_32x32.mat", *test)
    with pytest.raises(DataError) as error:
        load_dataset("svhn", tmp_path)
    error_text(error, tmp_path, "missing train_32x32.mat", "train_32x32.mat, test_32x32.mat")

    path = svhn_mat(tmp_path / "train_32x32.mat", *train)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 200])
    with pytest.raises(DataError) as error:
        load_dataset("svhn", tmp_path)
    error_text(error, path, "MATLAB v5")

    path.write_bytes(b"not a mat file at all" * 20)
    with pytest.raises(DataError) as error:
        load_dataset("svhn", tmp_path)
    error_text(error, path, "not a valid MATLAB v5 file")


X2 = np.zeros((32, 32, 3, 2), np.uint8)


@pytest.mark.parametrize("x, y, words", [
    (X2, np.array([[1], [11]]), "label 11 out of range 1..10 at index 1"),
    (X2, np.array([[0], [1]]), "label 0 out of range 1..10 at index 0"),
    (X2, np.array([[1.5], [1]]), "not whole numbers"),
    (X2, np.array([[1], [2], [3]]), "3 test labels for 2 images"),
    (X2.reshape(3, 32, 32, 2), np.array([[1], [2]]), "expected uint8 (32, 32, 3, N)"),
    (X2.astype(np.float64), np.array([[1], [2]]), "expected uint8 (32, 32, 3, N)"),
])  # fmt: skip
def test_svhn_bad_arrays(tmp_path: Path, x: np.ndarray, y: np.ndarray, words: str) -> None:
    import scipy.io

    svhn_mat(tmp_path / "train_32x32.mat", *svhn_sets()[0])
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": x, "y": y})
    with pytest.raises(DataError) as error:
        load_dataset("svhn", tmp_path)
    error_text(error, tmp_path / "test_32x32.mat", words)


# --- .npz ----------------------------------------------------------------------------------


def test_npz_one_split_of_uint8_nhwc(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    nhwc = rng.integers(0, 256, (6, 5, 7, 3), dtype=np.uint8)
    labels = np.array([0, 4, 2, 2, 1, 0])
    path = tmp_path / "mine.npz"
    np.savez(path, images=nhwc, labels=labels)
    dataset = load_dataset("npz", path)
    assert (dataset.name, dataset.num_classes, dataset.source) == ("npz", 5, f"npz:{path}")
    assert dataset.train_images is None and dataset.image_shape == (3, 5, 7)
    for n, c, h, w in [(0, 0, 0, 0), (1, 2, 4, 6), (5, 1, 3, 2)]:
        assert dataset.test_images[n, c, h, w] == nhwc[n, h, w, c]
    np.testing.assert_array_equal(dataset.test_labels.numpy(), labels)
    with pytest.raises(DataError) as error:
        dataset.split("val")
    error_text(error, f"npz:{path}", "no training split")


def test_npz_train_and_test_grey_and_num_classes(tmp_path: Path) -> None:
    train, test = fake_images(20, (1, 6, 6), 3, seed=1), fake_images(4, (1, 6, 6), 3, seed=2)
    path = tmp_path / "grey.npz"
    np.savez(
        path,
        train_images=train[0][:, 0],
        train_labels=train[1],
        test_images=test[0][:, 0],
        test_labels=test[1],
        num_classes=np.int64(7),
    )
    dataset = load_dataset("npz", path)
    assert dataset.num_classes == 7 and dataset.image_shape == (1, 6, 6)
    check_split(dataset, "test", *test)
    check_train_val(dataset, *train)


def test_npz_float_nchw(tmp_path: Path) -> None:
    images = np.random.default_rng(0).random((10, 3, 4, 4)).astype(np.float64)
    images[0, 0, 0, 0], images[1, 1, 1, 1] = 0.0, 1.0
    labels = np.arange(10) % 2
    path = tmp_path / "float.npz"
    np.savez(
        path,
        train_images=images,
        train_labels=labels,
        test_images=images[:3],
        test_labels=labels[:3],
    )
    dataset = load_dataset("npz", path)
    assert dataset.test_images.dtype == torch.float32 and dataset.num_classes == 2
    np.testing.assert_array_equal(dataset.test_images.numpy(), images[:3].astype(np.float32))
    got, got_labels = dataset.split("val")
    val = train_val_split(10, 0.1, 0)[1].numpy()
    np.testing.assert_array_equal(got.numpy(), images[val].astype(np.float32))
    np.testing.assert_array_equal(got_labels.numpy(), labels[val])


GREY, TWO = np.zeros((2, 8, 8), np.uint8), np.zeros(2, int)
OBJECTS = np.array([{"a": 1}, None], dtype=object)


@pytest.mark.parametrize("arrays, words", [
    ({"images": OBJECTS, "labels": TWO}, "array 'images' holds Python objects (a pickle), refused"),
    ({"images": np.full((2, 3, 4, 4), 1.5), "labels": TWO}, "from 1.5 to 1.5, expected all in"),
    ({"images": np.full((2, 3, 4, 4), np.nan), "labels": TWO}, "expected all in [0, 1]"),
    ({"images": np.zeros((2, 3, 8, 8), np.uint8), "labels": TWO}, "(N, H, W, C) has 8 channels"),
    ({"images": np.zeros((2, 8, 8, 3), np.float32), "labels": TWO}, "(N, C, H, W) has 8 channels"),
    ({"images": GREY.astype(np.int32), "labels": TWO}, "expected uint8"),
    ({"images": GREY, "labels": np.array([0, -1])}, "label -1 is negative at index 1"),
    ({"images": GREY, "labels": np.array([0.0, 1.0])}, "expected integers (N,)"),
    ({"images": GREY, "labels": np.array([0, 1, 1])}, "3 test labels for 2 images"),
    ({"images": GREY, "labels": np.array([0, 3]), "num_classes": np.int64(3)}, "range 0..2"),
    ({"images": GREY, "labels": TWO, "num_classes": np.array([3])}, "num_classes: int64 (1,)"),
    ({"images": GREY}, "missing array 'labels'"),
    ({"images": GREY, "labels": TWO, "extra": TWO}, "unexpected array 'extra'"),
    ({"train_images": GREY, "train_labels": TWO}, "train_images but no test_images"),
    ({"train_images": GREY, "train_labels": TWO, "test_images": GREY[:, :7], "test_labels": TWO},
     "must match"),
    ({"images": GREY[:0], "labels": TWO[:0]}, "the test set is empty"),
])  # fmt: skip
def test_npz_errors(tmp_path: Path, arrays: dict, words: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as error:
        load_dataset("npz", path)
    error_text(error, path, words)


@pytest.mark.parametrize("content, words", [
    (None, "no such file"),
    (b"PK\x03\x04 broken zip", "not a valid .npz file"),
    (b"\x93NUMPY a .npy", "not an .npz file"),
])  # fmt: skip
def test_npz_not_an_archive(tmp_path: Path, content: bytes | None, words: str) -> None:
    path = tmp_path / "x.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as error:
        load_dataset("npz", path)
    error_text(error, path, words)


# --- folders of images -------------------------------------------------------------------


def test_folder_of_grey_pngs_sorted_classes(tmp_path: Path) -> None:
    images, labels = fake_images(7, (1, 5, 6), 3, seed=4)
    classes = [
        "zebra",
        "apple",
        "mango",
    ]  # labels follow the sorted names: apple 0, mango 1, zebra 2
    paths = write_png_folder(tmp_path, images, labels, classes)
    (tmp_path / "apple" / ".DS_Store").write_bytes(b"junk")  # hidden: skipped
    (tmp_path / "README.txt").write_text("notes")  # a file beside the class folders: ignored
    dataset = load_dataset("folder", tmp_path)
    assert dataset.class_names == ("apple", "mango", "zebra") and dataset.num_classes == 3
    assert dataset.train_images is None and dataset.image_shape == (1, 5, 6)
    order = sorted(range(len(paths)), key=lambda i: (paths[i].parent.name, paths[i].name))
    sorted_label = {"apple": 0, "mango": 1, "zebra": 2}
    np.testing.assert_array_equal(dataset.test_images.numpy(), images[order])
    assert dataset.test_labels.tolist() == [sorted_label[classes[labels[i]]] for i in order]


def test_folder_train_test_rgb_png_jpeg_and_grey_mixed(tmp_path: Path) -> None:
    train, test = fake_images(12, (3, 8, 8), 2, seed=5), fake_images(3, (3, 8, 8), 2, seed=6)
    train_paths = write_png_folder(tmp_path / "train", *train, ["a", "b"])
    write_png_folder(tmp_path / "test", *test, ["a", "b"])
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    Image.fromarray(grey).save(tmp_path / "test" / "b" / "grey.png")
    jpeg = tmp_path / "test" / "a" / "photo.JPG"
    Image.fromarray(train[0][0].transpose(1, 2, 0)).save(jpeg, quality=95)
    dataset = load_dataset("folder", tmp_path)
    assert dataset.class_names == ("a", "b") and dataset.image_shape == (3, 8, 8)
    order = sorted(range(12), key=lambda i: (train_paths[i].parent.name, train_paths[i].name))
    np.testing.assert_array_equal(dataset.train_images.numpy(), train[0][order])
    check_train_val(dataset, train[0][order], train[1][order])
    # test/a: 0000.png.. then photo.JPG; test/b: ..., grey.png last
    test_a = [i for i in range(3) if test[1][i] == 0]
    test_b = [i for i in range(3) if test[1][i] == 1]
    expected_jpeg = np.asarray(Image.open(jpeg).convert("RGB")).transpose(2, 0, 1)
    expected = [*test[0][test_a], expected_jpeg, *test[0][test_b], np.stack([grey] * 3)]
    np.testing.assert_array_equal(dataset.test_images.numpy(), np.stack(expected))
    assert dataset.test_labels.tolist() == [0] * (len(test_a) + 1) + [1] * (len(test_b) + 1)


def test_folder_images_of_another_size(tmp_path: Path) -> None:
    write_png_folder(tmp_path, *fake_images(4, (1, 8, 8), 2), ["a", "b"])
    odd = tmp_path / "b" / "odd.png"
    Image.fromarray(np.zeros((8, 9), np.uint8)).save(odd)
    with pytest.raises(DataError) as error:
        load_dataset("folder", tmp_path)
    first = sorted((tmp_path / "a").iterdir())[0]
    error_text(error, odd, "9x8 pixels", f"the first image {first} is 8x8")


@pytest.mark.parametrize("make, words", [
    (lambda root: (root / "a" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n junk"), "cannot read"),
    (lambda root: (root / "a" / "notes.txt").write_text("x"), "not a PNG or JPEG file"),
    (lambda root: (root / "a" / "sub").mkdir(), "a folder inside class folder 'a'"),
])  # fmt: skip
def test_folder_bad_files(tmp_path: Path, make, words: str) -> None:
    write_png_folder(tmp_path, *fake_images(4, (1, 8, 8), 2), ["a", "b"])
    make(tmp_path)
    bad = next(
        path
        for path in (tmp_path / "a").iterdir()
        if path.suffix != ".png" or path.name == "bad.png"
    )
    with pytest.raises(DataError) as error:
        load_dataset("folder", tmp_path)
    error_text(error, bad, words)


def test_folder_layout_errors(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "loose.png")
    with pytest.raises(DataError) as error:
        load_dataset("folder", tmp_path)
    error_text(error, tmp_path, "no class sub-folders", "one sub-folder per class")

    images = fake_images(4, (1, 4, 4))[0]
    write_png_folder(tmp_path / "data" / "train", images, np.array([0, 1, 0, 1]), ["cat", "dog"])
    write_png_folder(tmp_path / "data" / "test", images[:2], np.array([0, 0]), ["cow"])
    with pytest.raises(DataError) as error:
        load_dataset("folder", tmp_path / "data")
    error_text(error, tmp_path / "data", "only in train/: ['cat', 'dog']; only in test/: ['cow']")


# --- the registry, splits and float conversion ----------------------------------------------


def test_registry_table() -> None:
    assert list(DATASETS) == [
        "mnist", "fashion-mnist", "kmnist", "cifar10", "cifar100", "svhn", "npz", "folder"
    ]  # fmt: skip
    for name, info in DATASETS.items():
        assert info.name == name and info.image_shape == IMAGE_SHAPES.get(name)
    assert (DATASETS["cifar10"].crop_padding, DATASETS["cifar10"].horizontal_flip) == (4, True)
    assert (DATASETS["svhn"].num_classes, DATASETS["cifar100"].num_classes) == (10, 100)
    assert DATASETS["kmnist"].horizontal_flip is False and DATASETS["npz"].num_classes is None
    with pytest.raises(DataError, match="unknown data set 'imagenet'.*cifar10"):
        load_dataset("imagenet", "/nowhere")


def test_unknown_split_name(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", images=np.zeros((2, 4, 4), np.uint8), labels=np.zeros(2, int))
    with pytest.raises(ValueError, match="split must be one of test, val, train"):
        load_dataset("npz", tmp_path / "x.npz").split("validation")


def test_images_to_float() -> None:
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).reshape(1, 3, 1, 1)
    expected = torch.tensor([0.0, 0.2, 1.0], dtype=torch.float32).reshape(1, 3, 1, 1)
    assert torch.equal(images_to_float(images), expected)
    floats = torch.rand(2, 1, 3, 3)
    assert images_to_float(floats) is floats
    with pytest.raises(ValueError, match="expected uint8 or float32"):
        images_to_float(images[0])


def test_random_horizontal_flip() -> None:
    images = torch.arange(2 * 40 * 3 * 4, dtype=torch.float32).reshape(40, 2, 3, 4)
    flipped = random_horizontal_flip(images, torch.Generator().manual_seed(0))
    mirrored = images[..., [3, 2, 1, 0]]
    same = (flipped == images).flatten(1).all(1)
    turned = (flipped == mirrored).flatten(1).all(1)
    assert bool((same ^ turned).all()) and 5 < int(turned.sum()) < 35
    assert torch.equal(random_horizontal_flip(images, p=1.0), mirrored)
    assert torch.equal(random_horizontal_flip(images, p=0.0), images)


def test_the_suite_schema_names_every_data_set_there_is():
    from wmbench.schema.suite import DATASET_NAMES

    assert tuple(DATASET_NAMES) == tuple(DATASETS)
