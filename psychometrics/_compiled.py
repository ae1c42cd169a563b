"""Compiled kernels: where numba caches them and how their work is spread over the cores.

Cache. Numba compiles each kernel on first use, which costs seconds, and keeps the machine
code in a cache: next to the source when the package folder is writable, else in the user's
cache folder (``~/.cache/numba``). Where neither can be written (an installed package in a
container with a read-only home), every process would compile again; the cache then goes to a
private folder in the temporary directory. ``NUMBA_CACHE_DIR``, when set, always wins. Import
this module before defining a kernel with ``cache=True``.

Threads. The kernels are compiled *serial* (``nogil=True``) and run on a pool of threads, one
block of persons per task, instead of compiling a ``parallel=True`` version: a parallel kernel
took three times as long to compile as its serial twin (13 s against 4 s on a loaded two-core
machine), and the serial one is needed anyway for small chunks, where starting threads costs
more than it saves.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numba

__all__ = ["block_bounds", "cache_dir", "n_threads", "run_blocks"]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def _choose_cache_dir() -> str | None:
    """The folder numba should cache in, or None where its own choice works."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    if _writable(Path(__file__).resolve().parent / "__pycache__"):
        return None
    from numba.misc.appdirs import user_cache_dir

    if _writable(Path(user_cache_dir(appname="numba"))):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    fallback = Path(tempfile.gettempdir()) / f"psychometrics-numba-cache-{uid}"
    return str(fallback) if _writable(fallback) else None


_FALLBACK = _choose_cache_dir()
if _FALLBACK is not None:
    # read by numba when a kernel with cache=True is defined, so before any of ours are
    numba.config.CACHE_DIR = _FALLBACK


def cache_dir() -> str:
    """Where the compiled kernels are cached (``"next to the source"`` in the usual case)."""
    if numba.config.CACHE_DIR:
        return str(numba.config.CACHE_DIR)
    return "next to the source (or ~/.cache/numba)"


def n_threads() -> int:
    """Threads for compiled work: ``NUMBA_NUM_THREADS`` (default: the cores)."""
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _forget_pool() -> None:
    # a forked child inherits the pool object but not its threads: it must start its own
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=n_threads(), thread_name_prefix="psychometrics")
        return _POOL


def run_blocks(kernel: Callable[..., Any], blocks: Sequence[tuple]) -> list[Any]:
    """``[kernel(*args) for args in blocks]``, on the thread pool when there is more than one
    block; the kernels release the GIL (``nogil=True``), so the blocks run side by side."""
    if len(blocks) <= 1 or n_threads() == 1:
        return [kernel(*args) for args in blocks]
    return list(_pool().map(lambda args: kernel(*args), blocks))


def block_bounds(n: int, n_blocks: int) -> list[tuple[int, int]]:
    """``n_blocks`` contiguous ranges covering ``range(n)`` (fewer when ``n`` is small)."""
    n_blocks = max(1, min(n_blocks, n))
    size = -(-n // n_blocks)
    return [(start, min(n, start + size)) for start in range(0, n, size)]
