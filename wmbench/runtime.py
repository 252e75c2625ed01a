"""Where code runs and what it runs with: device selection and library versions."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from importlib import metadata

import torch

from wmbench.errors import DeviceError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when there is one, else CPU; ``cuda`` without a GPU is an error."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} asked for, but no CUDA GPU is available")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise DeviceError(f"unknown device {name!r} (choose auto, cpu or cuda)")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def versions() -> dict[str, str]:
    """Versions of wmbench and of the libraries its numbers depend on."""
    found = {"python": platform.python_version()}
    for package in ("wmbench", "torch", "torchattacks", "safetensors", "numpy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "unknown"
    return found


def tune_allocator() -> bool:
    """Keeps glibc from returning freed memory to the OS after every large tensor is freed.

    By default glibc serves large allocations with fresh ``mmap``s and unmaps them on free, so a
    training step or an attack pass pays page faults for every activation it allocates (seen
    here as system time rivalling user time). Raising the mmap and trim thresholds keeps that
    memory in the heap for reuse. Process-wide, so only the command line calls it. Returns
    whether it took effect (False off glibc).
    """
    name = ctypes.util.find_library("c")
    if name is None or platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 1 << 30)) and bool(mallopt(m_trim_threshold, 1 << 31))
