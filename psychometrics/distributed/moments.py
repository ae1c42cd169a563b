"""Classical item statistics and Cronbach's alpha of a Dask DataFrame from per-partition sums.

Both in-memory functions are built from plain sums over persons (``ctt._person_sums``,
``_covariance._covariance_sums``); here every partition computes those sums on its worker
and the client adds them in partition order and finishes with the same code as in memory.
The responses are shifted and centred with the values the in-memory functions take from
the first rows of the data, so the two agree to rounding.

The upper-lower discrimination index needs the persons ranked by their mean response
(ties broken by row order). A first pass brings back, per partition, how many persons have
each distinct mean (a short table: means are ratios of small integers); the client finds the
two cut values and how many of the persons tied at a cut belong to the group, counting ties
from the first partition for the lower group and from the last for the upper one, which is
the order a stable sort of all persons would give. A second pass sums the items over the
two groups.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from psychometrics import _covariance, ctt, reliability
from psychometrics.distributed._partitions import head_responses, load_partition, map_partitions, ordered_sum
from psychometrics.errors import ResponseError

__all__ = ["item_analysis", "alpha"]


def _check_missing(missing: str) -> None:
    _covariance._check_missing(missing)


def _moment_pass(frame: pd.DataFrame, index: int, shift: float, centre: np.ndarray, missing: str,
                 with_items: bool) -> dict[str, Any] | None:
    resp = load_partition(frame, index)
    if resp is None:
        return None
    values = resp.values
    out: dict[str, Any] = {"n_rows": values.shape[0], "item_ids": resp.item_ids}
    cov_values = _covariance._complete_rows(values) if missing == "listwise" else values
    out["covariance"] = _covariance._covariance_sums(cov_values, centre)
    if with_items:
        sums, person_mean = ctt._person_sums(values, shift)
        out["sums"] = sums
        ranked = person_mean[~np.isnan(person_mean)]
        out["means"] = np.unique(ranked, return_counts=True)
        with np.errstate(all="ignore"):
            out["low"] = np.nanmin(np.where(np.isnan(values), np.inf, values), axis=0)
            out["high"] = np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=0)
    return out


def _group_pass(frame: pd.DataFrame, index: int, shift: float, cuts: tuple[float, float],
                take: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    resp = load_partition(frame, index)
    if resp is None:
        return None
    values = resp.values
    _, person_mean = ctt._person_sums(values, shift)
    low_cut, high_cut = cuts
    take_low, take_high = take
    groups = np.zeros((values.shape[0], 2))
    upper = person_mean > high_cut
    tied = np.flatnonzero(person_mean == high_cut)
    if take_high:
        upper[tied[tied.size - take_high:]] = True
    lower = person_mean < low_cut
    tied = np.flatnonzero(person_mean == low_cut)
    lower[tied[:take_low]] = True
    groups[upper, 0] = 1.0
    groups[lower, 1] = 1.0
    return ctt._group_sums(values, groups)


def _cuts(tables: list[tuple[np.ndarray, np.ndarray] | None]) -> tuple[int, float, float, list[int], list[int]]:
    """Group size, lower and upper cut values, and how many persons tied at each cut every
    partition contributes to the lower / upper group."""
    present = [t for t in tables if t is not None]
    values = np.concatenate([t[0] for t in present]) if present else np.empty(0)
    counts = np.concatenate([t[1] for t in present]) if present else np.empty(0, dtype=np.int64)
    distinct, inverse = np.unique(values, return_inverse=True)
    total = np.bincount(inverse.reshape(-1), weights=counts, minlength=distinct.size).astype(np.int64)
    n_ranked = int(total.sum())
    size = int(round(ctt._GROUP_FRACTION * n_ranked))
    if size < 1 or 2 * size > n_ranked:
        return size, np.nan, np.nan, [0] * len(tables), [0] * len(tables)
    below = np.cumsum(total)
    i_low = int(np.searchsorted(below, size))
    low_cut = float(distinct[i_low])
    need_low = size - (int(below[i_low - 1]) if i_low else 0)
    above = np.cumsum(total[::-1])
    i_high = int(np.searchsorted(above, size))
    high_cut = float(distinct[distinct.size - 1 - i_high])
    need_high = size - (int(above[i_high - 1]) if i_high else 0)

    def tied(table: tuple[np.ndarray, np.ndarray] | None, cut: float) -> int:
        if table is None:
            return 0
        where = np.flatnonzero(table[0] == cut)
        return int(table[1][where[0]]) if where.size else 0

    take_low = []
    for table in tables:
        n = min(tied(table, low_cut), need_low)
        take_low.append(n)
        need_low -= n
    take_high = [0] * len(tables)
    for i in range(len(tables) - 1, -1, -1):
        n = min(tied(tables[i], high_cut), need_high)
        take_high[i] = n
        need_high -= n
    return size, low_cut, high_cut, take_low, take_high


def _item_ids(ddf: Any, parts: list[dict[str, Any] | None]) -> list[str]:
    present = [p for p in parts if p is not None]
    if not present:
        raise ResponseError(f"the response data are empty (0 rows in {ddf.npartitions} partition(s))")
    return present[0]["item_ids"]


def item_analysis(ddf: Any, *, missing: str = "pairwise") -> pd.DataFrame:
    """:func:`psychometrics.ctt.item_analysis` of a Dask DataFrame, from per-partition sums.

    Two passes over the data (three reads of the first partition): the sums and the table
    of person means, then the upper and lower groups' item sums. Same columns and values as
    in memory (to rounding, about 1e-12).

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> frame = pd.DataFrame({"q1": [1, 0, 1, 1, 0, 1], "q2": [1, 0, 0, 1, 0, 1]})
    >>> table = item_analysis(dd.from_pandas(frame, npartitions=2))
    >>> table["mean"].round(3).tolist()
    [0.667, 0.5]
    """
    _check_missing(missing)
    head = head_responses(ddf, _covariance._CHUNK_ROWS)
    shift = float(np.nanmean(head)) if np.isfinite(head).any() else 0.0
    cov_head = head_responses(ddf, _covariance._CHUNK_ROWS, complete=True) if missing == "listwise" else head
    centre = _covariance._centre(cov_head)
    parts = map_partitions(ddf, _moment_pass, shift, centre, missing, True)
    item_ids = _item_ids(ddf, parts)
    present = [p for p in parts if p is not None]
    n_rows = sum(p["n_rows"] for p in present)
    sums = ordered_sum([p["sums"] for p in present])
    cross, pair_sums, counts, n_persons = _add_covariance(present)
    cov = _covariance._moments_from_sums(cross, pair_sums, counts, n_persons).cov
    low = np.min([p["low"] for p in present], axis=0)
    high = np.max([p["high"] for p in present], axis=0)
    low = np.where(np.isfinite(low), low, np.nan)
    high = np.where(np.isfinite(high), high, np.nan)

    size, low_cut, high_cut, take_low, take_high = _cuts([None if p is None else p["means"] for p in parts])
    if np.isnan(low_cut):
        upper_lower = np.full(len(item_ids), np.nan)
    else:
        parts_sums = map_partitions(ddf, _group_pass_by_index, shift, (low_cut, high_cut),
                                    list(zip(take_low, take_high)))
        group_sums = ordered_sum([s[0] for s in parts_sums if s is not None])
        group_counts = ordered_sum([s[1] for s in parts_sums if s is not None])
        means = _covariance._safe_divide(group_sums, group_counts)
        upper_lower = means[0] - means[1]
    return ctt._item_table(item_ids, sums, n_rows, shift, low, high, cov, upper_lower)


def _group_pass_by_index(frame: pd.DataFrame, index: int, shift: float, cuts: tuple[float, float],
                         takes: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray] | None:
    return _group_pass(frame, index, shift, cuts, takes[index])


def _add_covariance(present: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    cross = ordered_sum([p["covariance"][0] for p in present])
    sums = ordered_sum([p["covariance"][1] for p in present])
    counts = ordered_sum([p["covariance"][2] for p in present])
    n_persons = sum(int(p["covariance"][3]) for p in present)
    return cross, sums, counts, n_persons


def alpha(ddf: Any, *, confidence_level: float = 0.95, missing: str = "pairwise",
          n_replications: int = 0) -> reliability.AlphaResult:
    """:func:`psychometrics.reliability.alpha` of a Dask DataFrame, from per-partition sums
    (one pass); the same checks and the same result as in memory (to rounding).

    Raises
    ------
    NotImplementedError
        For ``n_replications > 0``: a bootstrap interval would read the data once per resample.
    """
    if n_replications:
        raise NotImplementedError("alpha of a Dask DataFrame has no bootstrap interval (it would read the "
                                  "data once per resample); use n_replications=0 for the Feldt interval")
    _check_missing(missing)
    head = head_responses(ddf, _covariance._CHUNK_ROWS, complete=missing == "listwise")
    parts = map_partitions(ddf, _moment_pass, 0.0, _covariance._centre(head), missing, False)
    item_ids = _item_ids(ddf, parts)
    if len(item_ids) < 2:
        raise ResponseError(f"alpha needs at least 2 items, got {len(item_ids)} ({item_ids})")
    moments = _covariance._moments_from_sums(*_add_covariance([p for p in parts if p is not None]))
    moments = _covariance._check_moments(moments, item_ids, missing, "alpha")
    return reliability._alpha_from_moments(moments, confidence_level, missing)
