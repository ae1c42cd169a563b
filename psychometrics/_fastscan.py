"""One-pass compiled checks and recoding of large response matrices.

Checking a response matrix (numeric missing codes to NaN, then every value finite, an integer
and inside its item's declared range) and recoding it to category indices take about ten
numpy passes over the data each: for 10^6 persons x 50 items that was seconds, more than
scoring them. The kernels here do each in one pass and only answer the question "is all of it
valid?": where some value is not, they return ``None`` and the caller's numpy path, which
names every offending row, item and value, runs instead. So the messages stay those of
:mod:`psychometrics.data` and the fast path can only ever be faster, never different.

Small matrices (below :data:`FAST_FROM` values) keep the numpy path: it needs no compiled
kernel, whose first compilation would cost more than it saves there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

import psychometrics._compiled  # noqa: F401  (the numba cache folder, before the kernels)

__all__ = ["FAST_FROM", "SETUP_FAST_FROM", "category_counts", "category_indices", "code_summary", "distinct_values",
           "scan_codes"]

#: Values (persons x items) from which the compiled one-pass kernels are used.
FAST_FROM = 1 << 20

#: The same for a calibration's setup (distinct codes, recoding, category counts), which is a
#: small part of a calibration: below about 8 million values (10^5 x 50 is 5 million) the numpy
#: passes (0.2 s there) cost less than compiling three more kernels in a process without a
#: compiled cache (1.5 s).
SETUP_FAST_FROM = 1 << 23


@numba.njit(cache=True, nogil=True)
def _scan_kernel(cols, numeric_codes, coded, checked, lower, upper):  # pragma: no cover - compiled
    """``cols`` is (items, persons). Returns False at the first invalid value; else the
    per-item minimum, maximum, response count and each person's "answered something"."""
    n_items, n = cols.shape
    minimum = np.full(n_items, np.inf)
    maximum = np.full(n_items, -np.inf)
    counts = np.zeros(n_items, dtype=np.int64)
    answered = np.zeros(n, dtype=np.bool_)
    n_codes = numeric_codes.shape[0]
    for j in range(n_items):
        low = minimum[j]
        high = maximum[j]
        count = 0
        for i in range(n):
            v = cols[j, i]
            if coded[j]:
                for c in range(n_codes):
                    if v == numeric_codes[c]:
                        v = np.nan
                        cols[j, i] = v
                        break
            if np.isnan(v):
                continue
            if not np.isfinite(v) or np.floor(v) != v:
                return False, minimum, maximum, counts, answered
            if checked[j] and (v < lower[j] or v > upper[j]):
                return False, minimum, maximum, counts, answered
            if v < low:
                low = v
            if v > high:
                high = v
            count += 1
            answered[i] = True
        minimum[j] = low
        maximum[j] = high
        counts[j] = count
    return True, minimum, maximum, counts, answered


def _columns(values: np.ndarray) -> np.ndarray:
    # (items, persons) in memory order when the matrix is stored column by column (as a
    # DataFrame's block is); a row-major matrix is read with a stride
    return values.T


def scan_codes(values: np.ndarray, numeric_codes: np.ndarray, coded: np.ndarray, checked: np.ndarray,
               lower: np.ndarray, upper: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Numeric missing codes to NaN (in place, items flagged in ``coded``) and the per-item
    minimum, maximum and count of responses with the rows without any response, or ``None``
    when some value is not finite, not an integer or outside ``[lower, upper]`` of a
    ``checked`` item (the caller then reports them; the missing codes are NaN already)."""
    ok, minimum, maximum, counts, answered = _scan_kernel(
        _columns(values), np.ascontiguousarray(numeric_codes, dtype=np.float64), np.asarray(coded, dtype=np.bool_),
        np.asarray(checked, dtype=np.bool_), np.asarray(lower, dtype=np.float64),
        np.asarray(upper, dtype=np.float64))
    if not ok:
        return None
    return minimum, maximum, counts, np.flatnonzero(~answered)


@numba.njit(cache=True, nogil=True)
def _encode_kernel(cols, positions, low, lookup, out):  # pragma: no cover - compiled
    """Writes ``out[i, positions[j]]`` = the category index of ``cols[j, i]`` (-1 for NaN);
    False at the first value that is none of its item's codes."""
    n_items, n = cols.shape
    width = lookup.shape[1]
    for j in range(n_items):
        p = positions[j]
        base = low[j]
        for i in range(n):
            v = cols[j, i]
            if np.isnan(v):
                continue
            k = v - base
            if not (k >= 0.0 and k < width):
                return False
            r = int(k)
            if r != k or lookup[j, r] < 0:
                return False
            out[i, p] = lookup[j, r]
    return True


def category_indices(values: np.ndarray, codes: Sequence[Sequence[float]], positions: Sequence[int],
                     out: np.ndarray) -> bool:
    """Fill ``out[:, positions[j]]`` with each response's index in ``codes[j]`` (the order
    of ``codes[j]``, -1 stays for missing) for integer codes spanning at most 256 values.

    Returns False (``out`` partly written) when some value is not one of its item's codes or
    the codes are not small integers: the caller then recodes with
    :func:`psychometrics.data.category_index`, which names the value.
    """
    n_items = values.shape[1]
    tables = [np.asarray(c, dtype=np.float64) for c in codes]
    if any(t.size == 0 or not np.all(t == np.round(t)) for t in tables):
        return False
    lows = np.array([t.min() for t in tables])
    spans = np.array([t.max() for t in tables]) - lows
    if spans.max(initial=0.0) > 255 or max((t.size for t in tables), default=0) > np.iinfo(out.dtype).max:
        return False
    lookup = np.full((n_items, int(spans.max(initial=0.0)) + 1), -1, dtype=out.dtype)
    for j, t in enumerate(tables):
        lookup[j, (t - lows[j]).astype(np.int64)] = np.arange(t.size)
    return bool(_encode_kernel(_columns(values), np.asarray(positions, dtype=np.int64), lows, lookup, out))


@numba.njit(cache=True, nogil=True)
def _summary_kernel(codes, n_categories):  # pragma: no cover - compiled
    n, n_items = codes.shape
    n_answered = np.zeros(n, dtype=np.int64)
    lowest = np.zeros(n, dtype=np.bool_)
    highest = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        count = 0
        top = -1
        all_top = True
        for j in range(n_items):
            c = codes[i, j]
            if c < -1 or c >= n_categories[j]:
                return False, n_answered, lowest, highest
            if c >= 0:
                count += 1
                if c > top:
                    top = c
                if c != n_categories[j] - 1:
                    all_top = False
        n_answered[i] = count
        lowest[i] = top <= 0
        highest[i] = all_top
    return True, n_answered, lowest, highest


def code_summary(codes: np.ndarray, n_categories: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per person: answered items, "every answer in the lowest category" (also true without
    answers) and "every answer in the item's highest category"; ``None`` when some code is not
    a category index of its item (-1..K-1; the caller names it)."""
    ok, n_answered, lowest, highest = _summary_kernel(np.ascontiguousarray(codes),
                                                      np.asarray(n_categories, dtype=np.int64))
    return (n_answered, lowest, highest) if ok else None


@numba.njit(cache=True, nogil=True)
def _distinct_kernel(cols, max_span):  # pragma: no cover - compiled
    """Per column: smallest value, and which of the values low..low+max_span occur; False
    where a column holds a non-integer or spans more than that."""
    n_items, n = cols.shape
    low = np.full(n_items, np.inf)
    present = np.zeros((n_items, max_span + 1), dtype=np.bool_)
    ok = np.ones(n_items, dtype=np.bool_)
    for j in range(n_items):
        lo = np.inf
        hi = -np.inf
        for i in range(n):
            v = cols[j, i]
            if np.isnan(v):
                continue
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        if lo > hi:
            continue
        if not (hi - lo <= max_span) or np.floor(lo) != lo:
            ok[j] = False
            continue
        low[j] = lo
        for i in range(n):
            v = cols[j, i]
            if np.isnan(v):
                continue
            k = v - lo
            r = int(k)
            if r != k:
                ok[j] = False
                break
            present[j, r] = True
    return ok, low, present


def distinct_small_integers(column: np.ndarray) -> np.ndarray:
    """``np.unique`` of a column without its NaN, by counting when it holds integers spanning
    at most 256 values (no sort: a few numpy passes, no compiled kernel)."""
    observed = column[~np.isnan(column)]
    if observed.size:
        low = observed.min()
        shifted = observed - low
        if np.isfinite(low) and low == np.floor(low) and shifted.max() <= 255:
            k = shifted.astype(np.int64)
            if np.array_equal(k, shifted):
                return low + np.flatnonzero(np.bincount(k)).astype(np.float64)
    return np.unique(observed)


def distinct_values(values: np.ndarray) -> list[np.ndarray]:
    """The sorted distinct values of every column, NaN left out (``np.unique`` per column;
    columns of small integers in two compiled passes, the others by ``np.unique``)."""
    ok, low, present = _distinct_kernel(_columns(values), 255)
    out = []
    for j in range(values.shape[1]):
        if not ok[j]:
            column = values[:, j]
            out.append(np.unique(column[~np.isnan(column)]))
        elif not np.isfinite(low[j]):
            out.append(np.zeros(0))
        else:
            out.append(low[j] + np.flatnonzero(present[j]).astype(np.float64))
    return out


@numba.njit(cache=True, nogil=True)
def _count_kernel(codes, width, weights):  # pragma: no cover - compiled
    n, n_items = codes.shape
    counts = np.zeros((n_items, width))
    answered = np.zeros(n, dtype=np.bool_)
    weighted = weights.shape[0] > 0
    for i in range(n):
        w = weights[i] if weighted else 1.0
        for j in range(n_items):
            c = codes[i, j]
            if c >= 0:
                counts[j, c] += w
                answered[i] = True
    return counts, answered


def category_counts(codes: np.ndarray, width: int, weights: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Responses per item and category (weighted), (items, width), and whether each person
    answered any item; ``codes`` are checked category indices below ``width`` (-1 missing)."""
    w = np.empty(0) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    return _count_kernel(np.ascontiguousarray(codes), int(width), w)
