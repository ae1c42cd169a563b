"""BLAS threading of the hot paths.

The matrix products of the hot paths are tall and skinny (a chunk of persons times items or
categories) or small (items x items), and memory-bound: a second BLAS thread gains little on
them. On a machine whose cores are also busy with other work, the threads of a multithreaded
BLAS wait for each other at every call, and the same product can take a hundred times longer
(seen with OpenBLAS 0.3.31 on two shared cores: 2 s instead of 6 ms for a 65,536 x 50 cross
product). The hot paths therefore run their products on one BLAS thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

__all__ = ["one_blas_thread", "single_threaded_blas"]

F = TypeVar("F", bound=Callable[..., Any])


def single_threaded_blas() -> AbstractContextManager:
    """Limit BLAS to one thread inside a ``with`` block (process-wide while it lasts)."""
    return threadpool_limits(limits=1, user_api="blas")


def one_blas_thread(func: F) -> F:
    """Decorator: run ``func`` with BLAS limited to one thread (see the module notes)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with single_threaded_blas():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
