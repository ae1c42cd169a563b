"""Partitions of a Dask DataFrame as checked response matrices, and map-then-sum over them.

Every statistic that runs on Dask here has the same shape: a function turns one partition
into plain sums (numbers, arrays, small tables), the sums travel to the client, and the
client adds them in partition order. Adding in a fixed order makes the result the same
whichever worker finishes first; the response data never leave the workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import dask
import numpy as np
import pandas as pd

from psychometrics.data import Responses, load_responses
from psychometrics.errors import ResponseError

__all__ = ["load_partition", "map_partitions", "head_responses", "ordered_sum"]


def load_partition(frame: pd.DataFrame, index: int) -> Responses | None:
    """Check one partition with :func:`psychometrics.data.load_responses` (no data warnings).

    Returns None for an empty partition. Dask restarts a partition's row labels at its own
    offset; they are renumbered from 0 before the check so that an id column
    (``respondent_id``, ``id``...) is found exactly as in memory, and put back when there is
    none. Errors name the partition besides the respondent, row (within the partition), item
    and column.
    """
    if frame.shape[0] == 0:
        return None
    original = frame.index
    renumbered = isinstance(original, pd.RangeIndex) and original.step == 1 and original.start != 0
    if renumbered:
        frame = frame.reset_index(drop=True)
    try:
        resp = load_responses(frame, warn=False)
    except ResponseError as exc:
        raise ResponseError(f"partition {index}: {exc}") from None
    if renumbered and isinstance(resp.frame.index, pd.RangeIndex):
        resp = Responses(resp.frame.set_axis(original, axis=0), resp.categories,
                         None if resp.metadata is None else resp.metadata.set_axis(original, axis=0))
    return resp


def map_partitions(ddf: Any, func: Callable[..., Any], *args: Any) -> list[Any]:
    """``func(partition_frame, partition_number, *args)`` for every partition, computed on the
    active scheduler (the ``dask.distributed`` client if there is one); results in partition
    order. ``args`` may hold Dask delayed objects (shared by every task)."""
    parts = ddf.to_delayed()
    call = dask.delayed(func, pure=True)
    tasks = [call(part, i, *args) for i, part in enumerate(parts)]
    return list(dask.compute(*tasks))


def _head(frame: pd.DataFrame, index: int, n_rows: int, complete: bool) -> pd.DataFrame | None:
    resp = load_partition(frame, index)
    if resp is None:
        return None
    checked = resp.frame
    if complete:
        checked = checked[~checked.isna().any(axis=1)]
    return checked.iloc[:n_rows]


def head_responses(ddf: Any, n_rows: int, *, complete: bool = False) -> np.ndarray:
    """The first ``n_rows`` rows of the checked data (persons x items, float64, NaN missing),
    as the in-memory functions see ``values[:n_rows]``; with ``complete`` only rows without a
    missing response count. Partitions are read from the first until there are enough rows,
    and only those rows come to the client."""
    frames: list[pd.DataFrame] = []
    have = 0
    parts = ddf.to_delayed()
    for i, part in enumerate(parts):
        frame = dask.delayed(_head, pure=True)(part, i, n_rows - have, complete).compute()
        if frame is None or frame.shape[0] == 0:
            continue
        frames.append(frame)
        have += frame.shape[0]
        if have >= n_rows:
            break
    if not frames:
        return np.empty((0, len(ddf.columns)))
    joined = pd.concat(frames) if len(frames) > 1 else frames[0]
    return joined.to_numpy(dtype=np.float64)[:n_rows]


def ordered_sum(values: Sequence[Any]) -> Any:
    """Sum in the given order, skipping None (empty partitions)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    total = present[0]
    for v in present[1:]:
        total = total + v
    return total
