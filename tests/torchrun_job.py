"""Starting the processes of a 2-rank torch.distributed job in tests: by torchrun, or by hand
with the environment torchrun gives each rank (so each rank's exit code can be seen)."""

from __future__ import annotations

import socket
import sys

import torch

# The process group a torchrun job of wmbench opens (README: gloo between CPU processes, NCCL
# beside it for tensors on GPUs where CUDA is), as `World.describe()` names it.
BACKEND = (
    "cpu:gloo,cuda:nccl"
    if torch.cuda.is_available() and torch.distributed.is_nccl_available()
    else "gloo"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun(*args: str, ranks: int = 2) -> list[str]:
    """The command line of ``torchrun --standalone --nproc-per-node RANKS -m wmbench ARGS``."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return [*launcher, f"--nproc-per-node={ranks}", "-m", "wmbench", *args]


def rank_env(base: dict[str, str], rank: int, port: int, ranks: int = 2) -> dict[str, str]:
    """``base`` with the variables torchrun sets for rank ``rank`` of a one-machine job."""
    return {
        **base,
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(ranks),
        "LOCAL_WORLD_SIZE": str(ranks),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }
