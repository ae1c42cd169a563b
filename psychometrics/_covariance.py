"""Item covariance of a response matrix under missing data, and the classical quantities built
from it, for :mod:`psychometrics.reliability` and :mod:`psychometrics.ctt` (which sit beside each
other above this module).

The covariance matrix is built by :func:`_item_covariance` in a single chunked pass of BLAS
products over the persons; with ``missing="pairwise"`` each covariance uses the persons who
answered both items (psych's default ``use = "pairwise"``), with ``missing="listwise"`` only the
persons who answered every item.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from psychometrics._blas import single_threaded_blas
from psychometrics.data import Responses
from psychometrics.errors import ModelWarning, ResponseError

Missing = Literal["pairwise", "listwise"]
_MISSING = ("pairwise", "listwise")
# Rows per chunk: bounds the temporaries at a few tens of MB whatever the sample size.
_CHUNK_ROWS = 1 << 15


@dataclass(frozen=True)
class _Moments:
    """Item means, covariances and pair counts of a response matrix."""

    cov: np.ndarray  # (J, J), NaN where a pair has fewer than 2 joint responses
    pair_counts: np.ndarray  # (J, J) number (or weight) of persons answering both items
    n_persons: int  # persons entering the computation (at least one response / complete)


def _safe_divide(numerator: np.ndarray | float, denominator: np.ndarray | float) -> np.ndarray:
    """Elementwise ratio, NaN wherever the denominator is not positive or not finite."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    numerator, denominator = np.broadcast_arrays(numerator, denominator)
    ok = np.isfinite(denominator) & (denominator > 0)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=ok)
    return out


def _safe_sqrt(x: np.ndarray | float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    np.sqrt(x, out=out, where=np.isfinite(x) & (x >= 0))
    return out


def _check_missing(missing: str) -> None:
    if missing not in _MISSING:
        raise ValueError(f"missing must be one of {_MISSING}, got {missing!r}")


def _complete_rows(values: np.ndarray) -> np.ndarray:
    """Rows with every item answered (a copy)."""
    keep = np.ones(values.shape[0], dtype=bool)
    for start in range(0, values.shape[0], _CHUNK_ROWS):
        block = values[start:start + _CHUNK_ROWS]
        keep[start:start + _CHUNK_ROWS] = ~np.isnan(block).any(axis=1)
    return values[keep]


def _item_covariance(values: np.ndarray, missing: str = "pairwise",
                     weights: np.ndarray | None = None) -> _Moments:
    """Covariance matrix of the item columns of ``values`` (persons x items, NaN missing).

    Pairwise: with the responses shifted by a provisional centre and zero-filled where
    missing, and ``M`` the 0/1 answered mask, the sums over persons answering both j and k
    are ``S = X'X`` (cross products), ``T = X'M`` (sums of x_j) and ``N = M'M`` (counts),
    so ``cov_jk = (S_jk - T_jk T_kj / N_jk) / (N_jk - 1)``. The products are accumulated
    over row chunks; chunks without missing cells need only ``X'X``. ``weights`` are
    frequency weights per person (the bootstrap passes resampling counts).
    """
    if missing == "listwise":
        values = _complete_rows(values)
    sums = _covariance_sums(values, _centre(values), weights)
    return _moments_from_sums(*sums)


def _centre(values: np.ndarray) -> np.ndarray:
    """Item means of the first rows: shifting by a rough centre keeps one-pass sums well
    conditioned (any centre gives the same covariances up to rounding)."""
    head = values[:_CHUNK_ROWS]
    head_answered = (~np.isnan(head)).sum(axis=0)
    centre = _safe_divide(np.nansum(head, axis=0), head_answered)
    return np.where(np.isnan(centre), 0.0, centre)


def _covariance_sums(values: np.ndarray, centre: np.ndarray, weights: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Cross products, sums and pair counts of ``values - centre`` and the persons with a
    response: plain sums over rows, so blocks of persons (Dask partitions) add up."""
    n_rows, n_items = values.shape
    cross = np.zeros((n_items, n_items))
    sums = np.zeros((n_items, n_items))
    counts = np.zeros((n_items, n_items))
    n_persons = 0
    with single_threaded_blas():
        for start in range(0, n_rows, _CHUNK_ROWS):
            n_persons += _accumulate(values[start:start + _CHUNK_ROWS] - centre,
                                     None if weights is None else weights[start:start + _CHUNK_ROWS],
                                     cross, sums, counts)
    return cross, sums, counts, n_persons


def _moments_from_sums(cross: np.ndarray, sums: np.ndarray, counts: np.ndarray, n_persons: int) -> _Moments:
    cov = _safe_divide(cross - sums * sums.T / np.where(counts > 0, counts, 1.0), counts - 1.0)
    return _Moments(cov=cov, pair_counts=counts, n_persons=int(n_persons))


def _accumulate(block: np.ndarray, w: np.ndarray | None, cross: np.ndarray, sums: np.ndarray,
                counts: np.ndarray) -> int:
    """Add one chunk's cross products, sums and pair counts in place; return its persons."""
    answered = ~np.isnan(block)
    any_answered = answered.any(axis=1)
    n_persons = int(any_answered.sum()) if w is None else int(w[any_answered].sum())
    if answered.all():
        weighted = block if w is None else block * w[:, None]
        cross += weighted.T @ block
        sums += weighted.sum(axis=0)[:, None]
        counts += block.shape[0] if w is None else w.sum()
        return n_persons
    block[~answered] = 0.0
    mask = answered.astype(np.float64)
    weighted = block if w is None else block * w[:, None]
    weighted_mask = mask if w is None else mask * w[:, None]
    cross += weighted.T @ block
    sums += weighted.T @ mask
    counts += weighted_mask.T @ mask
    return n_persons


def _cov_to_cor(cov: np.ndarray) -> np.ndarray:
    """psych's ``cov2cor``: scale by the diagonal (item variances from all their responses)."""
    scale = _safe_sqrt(np.diag(cov))
    return _safe_divide(cov, np.outer(scale, scale))


def _alpha_from_cov(cov: np.ndarray) -> float:
    n_items = cov.shape[0]
    return float(n_items / (n_items - 1) * (1.0 - _safe_divide(np.trace(cov), cov.sum())))


def _alpha_if_deleted(cov: np.ndarray) -> np.ndarray:
    """Alpha of the J scales that each leave one item out, from one covariance matrix.

    Dropping item j removes row and column j, so the total variance becomes
    ``V - 2 s_j + c_jj`` (``s_j`` the j-th row sum) and the trace ``tr - c_jj``.
    """
    n_items = cov.shape[0]
    diag = np.diag(cov)
    rest_variance = cov.sum() - 2.0 * cov.sum(axis=1) + diag
    if n_items < 3:
        return np.full(n_items, np.nan)
    return (n_items - 1) / (n_items - 2) * (1.0 - _safe_divide(np.trace(cov) - diag, rest_variance))


def _r_drop(cov: np.ndarray) -> np.ndarray:
    """Corrected item-total correlation from the covariance matrix (psych's ``r.drop``)."""
    diag = np.diag(cov)
    rest_variance = cov.sum() - 2.0 * cov.sum(axis=1) + diag
    return _safe_divide(cov.sum(axis=1) - diag, _safe_sqrt(diag * rest_variance))


def _smc(cor: np.ndarray) -> np.ndarray:
    """Squared multiple correlation of each item with all others, ``1 - 1 / diag(R^-1)``."""
    try:
        inverse = np.linalg.inv(cor)
        if not np.all(np.isfinite(inverse)) or np.any(np.diag(inverse) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        warnings.warn("the item correlation matrix is singular; squared multiple correlations "
                      "use its pseudo-inverse", ModelWarning, stacklevel=3)
        inverse = np.linalg.pinv(cor)
    return np.clip(1.0 - _safe_divide(1.0, np.diag(inverse)), 0.0, 1.0)


def _scale_moments(data: Responses, missing: str, who: str) -> _Moments:
    """Covariance matrix for a reliability statistic, refusing data it cannot use."""
    _check_missing(missing)
    items = data.item_ids
    if data.n_items < 2:
        raise ResponseError(f"{who} needs at least 2 items, got {data.n_items} ({items})")
    return _check_moments(_item_covariance(data.values, missing), items, missing, who,
                          [data.column_of(item) for item in items])


def _check_moments(moments: _Moments, items: list[str], missing: str, who: str,
                   columns: list[int] | None = None) -> _Moments:
    """Refuse a covariance matrix that a reliability statistic cannot use, naming the item(s)
    and their ``columns`` in the file (default: their positions)."""
    if missing == "listwise" and moments.n_persons < 2:
        raise ResponseError(f"{who} with missing='listwise': only {moments.n_persons} respondent(s) "
                            "answered every item; use missing='pairwise' or fewer items")
    variances = np.diag(moments.cov)
    for j, item in enumerate(items):
        column = j if columns is None else columns[j]
        if not np.isfinite(variances[j]):
            raise ResponseError(f"{who}: item {item!r} (column {column}) has fewer than 2 responses")
        if variances[j] <= 0:
            raise ResponseError(f"{who}: item {item!r} (column {column}) has no variance "
                                "(every respondent gave the same answer); drop it first")
    bad = np.argwhere(~np.isfinite(moments.cov))
    if bad.size:
        j, k = bad[0]
        raise ResponseError(f"{who}: items {items[j]!r} and {items[k]!r} were answered together by "
                            f"{int(moments.pair_counts[j, k])} respondent(s); a pairwise covariance "
                            "needs at least 2")
    return moments
