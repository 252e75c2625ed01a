"""Running as one of several processes started by ``torchrun`` (torch.distributed).

``torchrun`` starts every process with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous in its environment; :func:`start` joins the process group (gloo on CPUs, NCCL on
GPUs, each rank on the GPU of its ``LOCAL_RANK``) and :func:`current` is the :class:`World` the
rest of wmbench asks: which rank this is, which share of the work it owns, and the collectives
that put the shares together. Without ``torchrun`` the world is one process and every collective
is the identity, so the same code runs either way.

Errors. Ranks meet at *agreements*: one all-reduce of ``[exit code, failing rank]`` (maximum)
that every rank calls at the same places (after each unit of work, and in the command line's
error handler). A rank that failed brings its exit code to the agreement, so every rank learns
of the failure at the next meeting, the lowest failing rank alone prints its line, and every
rank exits with the code. Work between agreements holds no collective, so a failure anywhere
meets the others at an agreement. A rank that dies (killed, out of memory) is noticed by the
others' next collective: gloo fails at once when the connection drops, and the process group's
timeout (``WMBENCH_DIST_TIMEOUT`` seconds, default 1800) ends any other wait; that becomes a
:class:`LostRankError`. Collectives move tensors and JSON text (as bytes): nothing is pickled.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from wmbench.errors import ConfigError, WmbenchError
from wmbench.runtime import resolve_device

TIMEOUT_VARIABLE = "WMBENCH_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800


class LostRankError(WmbenchError):
    """Another rank stopped answering (it died, or the process group timed out)."""


class PeerFailedError(WmbenchError):
    """Another rank failed and reported it; this rank stops with its exit code, silently."""

    def __init__(self, rank: int, code: int) -> None:
        super().__init__(f"rank {rank} failed")
        self.rank = rank
        self.code = code


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a ``torchrun`` job (one rank without one)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def leader(self) -> bool:
        """Rank 0: the one that prints and writes files."""
        return self.rank == 0

    def owns(self, index: int) -> bool:
        """Whether the unit of work ``index`` (a global batch, a model) is this rank's."""
        return index % self.size == self.rank

    def share(self, count: int) -> int:
        """How many of ``count`` units (0 … count−1) this rank owns."""
        return len(range(self.rank, count, self.size))

    def describe(self) -> str:
        return f"{self.size} ranks ({self.backend})" if self.active else "1 process"

    def place(self, device: str | torch.device) -> torch.device:
        """The device this rank computes on: ``cuda`` → the GPU of its ``LOCAL_RANK``.

        Raises:
            DeviceError: the device asked for is not here.
        """
        resolved = resolve_device(device)
        if resolved.type == "cuda" and self.active:
            return torch.device("cuda", self.local_rank % torch.cuda.device_count())
        return resolved

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Adds ``tensor`` over the ranks, in place (and returns it)."""
        if self.active:
            moved = tensor.cpu()
            _collective(dist.all_reduce, moved, op=dist.ReduceOp.SUM)
            tensor.copy_(moved)
        return tensor

    def gather_json(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (anything ``json`` writes), in rank order, on every rank."""
        if not self.active:
            return [value]
        data = torch.tensor(list(json.dumps(value).encode()), dtype=torch.uint8)
        size = torch.tensor([len(data)], dtype=torch.long)
        sizes = [torch.zeros_like(size) for _ in range(self.size)]
        _collective(dist.all_gather, sizes, size)
        longest = int(max(int(s) for s in sizes))
        padded = torch.zeros(longest, dtype=torch.uint8)
        padded[: len(data)] = data
        parts = [torch.zeros_like(padded) for _ in range(self.size)]
        _collective(dist.all_gather, parts, padded)
        return [
            json.loads(bytes(part[: int(n)].tolist()).decode())
            for part, n in zip(parts, sizes, strict=True)
        ]

    def from_leader(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        return self.gather_json(value if self.leader else None)[0]

    def agree(self, code: int = 0) -> None:
        """Meets every other rank with this rank's exit code (0: fine so far).

        Raises:
            PeerFailedError: another rank came with a non-zero code (and this one did not fail
                first): stop with that code without printing.
        """
        if not self.active:
            return
        mine = torch.tensor([code, self.size - self.rank if code else 0])
        _collective(dist.all_reduce, mine, op=dist.ReduceOp.MAX)
        worst, first = int(mine[0]), self.size - int(mine[1])
        if worst and (code == 0 or first != self.rank):
            raise PeerFailedError(first, worst)

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Work that may fail on some ranks: every rank meets at its end, and if any failed,
        every rank stops (the first failing one with its own error)."""
        try:
            yield
        except (PeerFailedError, LostRankError):
            raise
        except Exception as error:
            if self.active:
                self.agree(2)
                mark_agreed(error)
            raise
        self.agree(0)


ONE_PROCESS = World()
_current = ONE_PROCESS


def mark_agreed(error: BaseException) -> None:
    """Notes that ``error`` already met the other ranks (the command line must not again)."""
    with contextlib.suppress(AttributeError):
        error.wmbench_agreed = True  # type: ignore[attr-defined]


def agreed(error: BaseException) -> bool:
    return bool(getattr(error, "wmbench_agreed", False))


def current() -> World:
    """The world this process runs in (one process until :func:`start` joined a job)."""
    return _current


def launched() -> bool:
    """Whether this process was started by ``torchrun`` for a job of more than one rank."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def timeout() -> timedelta:
    raw = os.environ.get(TIMEOUT_VARIABLE, str(DEFAULT_TIMEOUT_S))
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"{TIMEOUT_VARIABLE} must be a number of seconds > 0, got {raw!r}")
    return timedelta(seconds=seconds)


def start() -> World:
    """Joins the ``torchrun`` job this process belongs to, if any (before anything that can
    fail, so that failures meet at agreements), and returns the world.

    Small collectives go through gloo on the CPU; where CUDA is, the group also has NCCL for
    tensors on GPUs (training's gradients).

    Raises:
        ConfigError: a bad ``WMBENCH_DIST_TIMEOUT``.
        LostRankError: the job's rendezvous failed.
    """
    global _current
    if not launched() or dist.is_initialized():
        return _current
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "gloo"
    if torch.cuda.is_available() and dist.is_nccl_available():
        backend = "cpu:gloo,cuda:nccl"
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    try:
        dist.init_process_group(backend, timeout=timeout())
    except (RuntimeError, ValueError) as error:
        raise LostRankError(f"could not join the torchrun job: {gist(error)}") from None
    _current = World(dist.get_rank(), dist.get_world_size(), local_rank, backend)
    return _current


def stop() -> None:
    """Leaves the process group (each rank, at its end).

    Garbage is collected first: a ``DistributedDataParallel`` wrapper caught in a reference
    cycle would otherwise keep its reducer, and with it gloo's worker threads, alive until the
    interpreter is torn down, where destroying them can abort the process. That is our best
    explanation of an abort after a finished run ("terminate called without an active
    exception") seen twice in this project's CI runs of the two-rank training test.
    """
    global _current
    if dist.is_initialized():
        gc.collect()
        with contextlib.suppress(RuntimeError):
            dist.destroy_process_group()
    _current = ONE_PROCESS


def _collective(operation: Any, *args: Any, **kwargs: Any) -> None:
    try:
        operation(*args, **kwargs)
    except (RuntimeError, ValueError) as error:  # DistBackendError is a RuntimeError
        raise LostRankError(
            f"lost contact with another rank ({gist(error)}); what was finished is kept, "
            "rerun with --resume"
        ) from None


def gist(error: BaseException) -> str:
    """The gist of a torch.distributed error: its first sentence, without gloo's source
    location."""
    text = re.sub(r"^\[[^\]]*\.(cc|cpp|h):\d+\]\s*", "", str(error).strip())
    first = text.splitlines()[0] if text else type(error).__name__
    return first.split(". ")[0].rstrip(".")[:160]
