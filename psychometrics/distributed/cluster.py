"""Where the Dask work runs: a scheduler's address, a local cluster, or Dask's local scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["connect", "read_responses"]


@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A ``dask.distributed.Client`` for the duration of the block (it becomes the default
    scheduler of every Dask computation inside), or None.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    workers : int, optional
        Start a ``LocalCluster`` of that many worker processes (one thread each) on
        127.0.0.1, closed at the end of the block.

    With neither, nothing is started and Dask's local threaded scheduler runs the work.
    """
    if scheduler is not None and workers is not None:
        raise ValueError("give either a scheduler address or a number of local workers, not both")
    if scheduler is None and workers is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def read_responses(pattern: str) -> Any:
    """A Dask DataFrame of the Parquet files matching ``pattern`` (a glob, a folder or one file)."""
    import dask.dataframe as dd

    return dd.read_parquet(pattern)
