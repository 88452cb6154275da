"""One thread for the native numerical libraries while a result is computed.

OpenBLAS (and OpenMP, MKL) split a matrix product or factorisation between threads and add the
partial sums in an order that depends on how many threads there are, so the same fit gives
results that differ in the last digits with 1 and with 2 threads (the MMRM's log-likelihood
7.1511337251868454 against 7.1511337251910447). The thread count in turn depends on the entry
point: the command line sets ``OPENBLAS_NUM_THREADS=1`` before numpy is imported, a notebook
kernel or a plain ``import`` does not. Computations whose results reach the ARD therefore run
inside :func:`one_native_thread`, which limits the pools through threadpoolctl for the duration
of the call and restores them afterwards, whatever the entry point.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from threadpoolctl import ThreadpoolController

__all__ = ["one_native_thread", "single_threaded"]

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def _controller() -> ThreadpoolController:
    """The thread pools of the libraries loaded in this process (inspected once: numpy and
    scipy are imported before any statistics function runs)."""
    return ThreadpoolController()


@contextmanager
def one_native_thread() -> Iterator[None]:
    """Run the block with every native thread pool (BLAS, OpenMP) limited to one thread."""
    with _controller().limit(limits=1):
        yield


def single_threaded(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``func`` to run inside :func:`one_native_thread`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_native_thread():
            return func(*args, **kwargs)

    return wrapper
