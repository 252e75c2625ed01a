"""A user's own images as a folder of class folders, like torchvision's ``ImageFolder``.

Either ``path`` holds one sub-folder per class (one split, used as the test split), or it holds
``train/`` and ``test/``, each with the same class sub-folders. The classes, sorted by name, are
the labels 0..K-1; in each class folder the PNG and JPEG files (``.png``, ``.jpg``, ``.jpeg``),
sorted by name, are its images, read with Pillow (imported on first use) and nothing else of it
(Pillow's decoders are restricted to PNG and JPEG). Hidden files (``.name``) are skipped.

Every image must have the size of the first. The images are greyscale, one channel, when all
are (Pillow's modes ``L``, ``1``, ``LA``, whose alpha is dropped); otherwise every image is
converted to RGB (alpha dropped, palettes expanded). 16-bit and float images are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wmbench.data.dataset import ImageDataset, images_tensor, labels_tensor
from wmbench.data.feedback import Progress, one_line, report
from wmbench.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FOLDER_EXPECTED = (
    "one sub-folder per class of PNG/JPEG images, or train/ and test/ each holding them"
)
_GREY_MODES = ("L", "1", "LA")


def _visible(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))


def _split_roots(path: Path) -> dict[str, Path]:
    folders = {entry.name: entry for entry in _visible(path) if entry.is_dir()}
    if set(folders) == {"train", "test"} and all(
        any(entry.is_dir() for entry in _visible(folders[split])) for split in folders
    ):
        return {"train": folders["train"], "test": folders["test"]}
    return {"test": path}


def _list_split(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    classes = [entry for entry in _visible(root) if entry.is_dir()]
    if not classes:
        raise DataError(f"no class sub-folders; expected {FOLDER_EXPECTED}", root)
    files = []
    for label, folder in enumerate(classes):
        for entry in _visible(folder):
            if entry.is_dir():
                raise DataError(
                    f"a folder inside class folder {folder.name!r}; expected images only", entry
                )
            if entry.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(
                    f"not a PNG or JPEG file (expected {', '.join(IMAGE_SUFFIXES)})", entry
                )
            files.append((entry, label))
    if not files:
        raise DataError(f"no images in any class folder; expected {FOLDER_EXPECTED}", root)
    return [folder.name for folder in classes], files


def _read_image(path: Path) -> tuple[np.ndarray, bool]:
    """One image as uint8 ``(H, W)`` (grey) or ``(H, W, 3)``, and whether it is grey."""
    from PIL import Image

    try:
        with Image.open(path, formats=["PNG", "JPEG"]) as image:
            image.load()
            if image.mode.startswith(("I", "F")):
                raise DataError(f"a {image.mode} image (16-bit or float), expected 8-bit", path)
            grey = image.mode in _GREY_MODES
            if image.mode not in ("L", "RGB"):
                image = image.convert("L" if grey else "RGB")
            return np.asarray(image, dtype=np.uint8), grey
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        # Pillow reports broken PNG chunks as SyntaxError, unknown formats as OSError.
        raise DataError(f"cannot read the image: {one_line(error)}", path) from None


def _read_images(
    files: list[tuple[Path, int]], progress: Progress | None
) -> tuple[list[np.ndarray], bool]:
    arrays: list[np.ndarray] = []
    all_grey = True
    first: Path | None = None
    for done, (path, _) in enumerate(files):
        report(progress, "read", done, len(files))
        array, grey = _read_image(path)
        if first is None:
            first = path
        elif array.shape[:2] != arrays[0].shape[:2]:
            (height, width), (first_h, first_w) = array.shape[:2], arrays[0].shape[:2]
            raise DataError(
                f"{width}x{height} pixels, but the first image {first} is {first_w}x{first_h}: "
                "all images must be one size",
                path,
            )
        arrays.append(array)
        all_grey &= grey
    report(progress, "read", len(files), len(files))
    return arrays, all_grey


def _to_nchw(arrays: list[np.ndarray], grey: bool) -> np.ndarray:
    if grey:
        return np.stack(arrays)[:, None]
    rgb = [
        np.repeat(array[:, :, None], 3, axis=2) if array.ndim == 2 else array for array in arrays
    ]
    return np.stack(rgb).transpose(0, 3, 1, 2)


def read_image_folder(path: Path, progress: Progress | None = None) -> ImageDataset:
    """Reads a folder of class folders of images (see the module's docstring for its layout).

    Args:
        path: the folder of class folders, or of ``train/`` and ``test/``.
        progress: called as ``progress("read", done, images)`` before each image and after the
            last.

    Raises:
        DataError: naming the folder when it has no class folders or images, or the file that
            is not a PNG/JPEG image, cannot be read, or has another size than the first.
    """
    if not path.is_dir():
        what = "is a file, not a folder" if path.is_file() else "no such folder"
        raise DataError(f"{what}; expected {FOLDER_EXPECTED}", path)
    listed = {split: _list_split(root) for split, root in _split_roots(path).items()}
    classes = listed["test"][0]
    if "train" in listed and listed["train"][0] != classes:
        train_only = sorted(set(listed["train"][0]) - set(classes))
        test_only = sorted(set(classes) - set(listed["train"][0]))
        raise DataError(
            f"train/ and test/ have different classes (only in train/: {train_only}; "
            f"only in test/: {test_only})",
            path,
        )
    files = [item for split in listed for item in listed[split][1]]
    arrays, grey = _read_images(files, progress)
    images = _to_nchw(arrays, grey)
    labels = np.array([label for _, label in files], dtype=np.int64)
    n_train = len(listed["train"][1]) if "train" in listed else 0
    return ImageDataset(
        name="folder",
        train_images=images_tensor(images[:n_train]) if n_train else None,
        train_labels=labels_tensor(labels[:n_train]) if n_train else None,
        test_images=images_tensor(images[n_train:]),
        test_labels=labels_tensor(labels[n_train:]),
        num_classes=len(classes),
        source=f"folder:{path}",
        class_names=tuple(classes),
    )
