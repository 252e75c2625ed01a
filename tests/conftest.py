"""Set-up the test modules share: small learnable MNIST tensors, and reading the one error line
a failed command must print."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import torch
from mnist_files import learnable_mnist

from wmbench.data import Mnist

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist each worker takes one core: one intra-op thread each, here and in the
    # commands the tests start (two workers of two threads on two cores wait on each other).
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files marked ``heavy(seconds=...)`` first, the longest first; the rest after, in their
    order. pytest-xdist hands out whole files in this order (``--dist loadfile
    --no-loadscope-reorder``, scripts/test), so the long files start at once and the workers end
    together, instead of one worker starting the longest file last (xdist's default order, most
    tests first, cost CI about 90 s on 2 cores)."""

    def cost(item: pytest.Item) -> float:
        heavy = item.get_closest_marker("heavy")
        return -heavy.kwargs["seconds"] if heavy else 0

    items.sort(key=cost)


@pytest.fixture(scope="session")
def synthetic_mnist() -> Callable[..., Mnist]:
    """``make(n_train, n_test)``: a learnable MNIST-shaped task as tensors (no files)."""

    def make(n_train: int = 600, n_test: int = 200, source: str = "synthetic") -> Mnist:
        arrays = learnable_mnist(n_train, n_test)
        return Mnist(
            **{key: torch.from_numpy(value) for key, value in arrays.items()}, source=source
        )

    return make


@pytest.fixture
def one_error_line(capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """``read()``: the single ``error: ...`` line on stderr, after checking there is exactly one
    and no traceback."""

    def read() -> str:
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert "Traceback" not in err, err
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        return lines[0]

    return read


@pytest.fixture(scope="module")
def one_thread():
    """For modules of tiny models (``pytestmark = pytest.mark.usefixtures("one_thread")``): one
    intra-op thread is the fastest, and it does not slow down a hundredfold when another process
    holds one of the cores (OpenMP threads waiting on each other), as two threads do."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
