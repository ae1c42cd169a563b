"""Classical item analysis, distractor analysis and scale scores.

Item statistics follow psych's conventions (``psych::alpha``'s ``item.stats`` and
``alpha.drop``): covariance-based statistics (``r_drop``, ``alpha_if_deleted``) use one
item covariance matrix, pairwise by default, built by the same helper as
:func:`psychometrics.reliability.alpha`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from psychometrics import _dispatch
from psychometrics._blas import single_threaded_blas
from psychometrics.data import Responses, as_responses
from psychometrics.errors import ResponseError
from psychometrics._covariance import (
    _CHUNK_ROWS,
    Missing,
    _alpha_if_deleted,
    _check_missing,
    _item_covariance,
    _r_drop,
    _safe_divide,
    _safe_sqrt,
)

__all__ = ["category_frequencies", "distractor_analysis", "item_analysis", "scale_scores"]

_GROUP_FRACTION = 0.27


def _code_range(data: Responses, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest admissible code per item (observed range if none declared)."""
    low = np.full(data.n_items, np.nan)
    high = np.full(data.n_items, np.nan)
    for j, item in enumerate(data.item_ids):
        codes = data.categories.get(item)
        if codes:
            low[j], high[j] = min(codes), max(codes)
    undeclared = np.isnan(low)
    if undeclared.any():
        with np.errstate(all="ignore"):
            observed_low = np.nanmin(np.where(np.isnan(values), np.inf, values), axis=0)
            observed_high = np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=0)
        low[undeclared] = np.where(np.isfinite(observed_low), observed_low, np.nan)[undeclared]
        high[undeclared] = np.where(np.isfinite(observed_high), observed_high, np.nan)[undeclared]
    return low, high


def _correlation(n: np.ndarray, sx: np.ndarray, sy: np.ndarray, sxx: np.ndarray, syy: np.ndarray,
                 sxy: np.ndarray) -> np.ndarray:
    """Pearson correlation from sums over n paired observations (NaN if undefined)."""
    cxy = sxy - _safe_divide(sx * sy, n)
    cxx = sxx - _safe_divide(sx * sx, n)
    cyy = syy - _safe_divide(sy * sy, n)
    # Round-off can leave a tiny negative variance for a constant column.
    cxx = np.where(cxx > 1e-12 * np.maximum(sxx, 1.0), cxx, 0.0)
    cyy = np.where(cyy > 1e-12 * np.maximum(syy, 1.0), cyy, 0.0)
    return np.clip(_safe_divide(cxy, _safe_sqrt(cxx * cyy)), -1.0, 1.0)


def item_analysis(responses: Any, *, missing: Missing = "pairwise") -> pd.DataFrame:
    r"""Classical item statistics, one row per item.

    Parameters
    ----------
    responses : DataFrame, ndarray, Responses or Dask DataFrame
        Persons x items, NaN for missing. A Dask DataFrame is summarized partition by
        partition (:func:`psychometrics.distributed.item_analysis`), with the same result.
    missing : {"pairwise", "listwise"}
        Rule for the covariance matrix behind ``r_drop`` and ``alpha_if_deleted``;
        the other columns always use every available response.

    Returns
    -------
    DataFrame
        Indexed by item id, columns:

        ``n``, ``missing_rate``
            Responses given; share of persons without one.
        ``mean``, ``sd``
            Over the responses given (sd with n - 1).
        ``difficulty``
            ``mean / max code`` (highest admissible code): the proportion correct for
            0/1 items.
        ``r_total``
            Correlation of the item with the person's mean over all answered items
            (psych's ``raw.r``; the sum score without missing data).
        ``r_drop``
            Corrected item-total correlation from the covariance matrix: the item
            against the sum of the other items (psych's ``r.drop``).
        ``item_rest``
            Correlation, over persons who answered the item and at least one other,
            between the item and the mean of the person's other answered items. Equal
            to ``r_drop`` without missing data; with missing data it is the
            person-level analogue, whereas ``r_drop`` uses pairwise covariances.
        ``alpha_if_deleted``
            Cronbach's alpha of the remaining items (psych's ``alpha.drop$raw_alpha``);
            NaN with fewer than 3 items.
        ``discrimination``
            Upper-lower index: mean item score in the top 27% minus the bottom 27% of
            persons ranked by their mean score, divided by the code range (max - min
            code); for 0/1 items the difference in proportions correct. Ties at the
            group boundaries are broken by row order.

    Notes
    -----
    With item covariance matrix :math:`C`, row sums :math:`s_j` and :math:`V = \mathbf 1'C\mathbf 1`:

    .. math::

        r_{drop,j} = \frac{s_j - c_{jj}}{\sqrt{c_{jj}\,(V - 2 s_j + c_{jj})}},\qquad
        \alpha_{-j} = \frac{J-1}{J-2}\Bigl(1 - \frac{\operatorname{tr}C - c_{jj}}
                                              {V - 2 s_j + c_{jj}}\Bigr),

        D_j = \frac{\bar x_{j,upper} - \bar x_{j,lower}}{\max_j - \min_j}.

    References
    ----------
    .. [1] Crocker, L., & Algina, J. (1986). Introduction to Classical and Modern Test
           Theory, ch. 14. Holt, Rinehart & Winston.
    .. [2] Kelley, T. L. (1939). The selection of upper and lower groups for the
           validation of test items. Journal of Educational Psychology, 30, 17-24.
    .. [3] Revelle, W. psych, function ``alpha`` (``item.stats``, ``alpha.drop``).
    """
    _check_missing(missing)
    if _dispatch.is_dask(responses):
        return _dispatch.backend().item_analysis(responses, missing=missing)
    data = as_responses(responses)
    answered = np.count_nonzero(~np.isnan(data.values), axis=0)
    empty = [item for item, count in zip(data.item_ids, answered) if count == 0]
    if empty and len(empty) < data.n_items:
        # an item nobody answered has no statistics; it must not take the others' with it
        import warnings

        from psychometrics.errors import DataWarning

        warnings.warn(f"item(s) {', '.join(repr(i) for i in empty)} have no responses: their statistics are NaN "
                      "and the other items' r_drop and alpha_if_deleted leave them out", DataWarning, stacklevel=2)
        with single_threaded_blas():
            table = _item_analysis(data.subset([i for i in data.item_ids if i not in empty]), missing)
        table = table.reindex(data.item_ids)
        table.loc[empty, "n"] = 0
        table.loc[empty, "missing_rate"] = 1.0
        return table.astype({"n": int}) if "n" in table.columns else table
    with single_threaded_blas():
        return _item_analysis(data, missing)


def _item_analysis(data: Responses, missing: Missing) -> pd.DataFrame:
    values = data.values
    low, high = _code_range(data, values)
    # Responses are shifted by one common constant first: person and rest means shift by the
    # same constant, which leaves every correlation unchanged.
    head = values[:_CHUNK_ROWS]
    shift = float(np.nanmean(head)) if np.isfinite(head).any() else 0.0
    sums, person_mean = _person_sums(values, shift)
    moments = _item_covariance(values, missing)
    discrimination = _upper_lower(values, person_mean)
    return _item_table(data.item_ids, sums, values.shape[0], shift, low, high, moments.cov, discrimination)


def _person_sums(values: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """The (9, 3J) sums behind every item statistic, and each person's mean response.

    One pass over persons. Every per-item sum is a product of a per-person weight vector with
    the zero-filled responses X, their squares X*X or the answered mask M, so each chunk
    costs one matrix product (weights' @ [X, X*X, M]) and no n x J temporaries beyond those
    three. With k_i answered items, row sum s_i and w_i = 1 / (k_i - 1) (0 when k_i < 2), the
    rest mean of item j is (s_i - x_ij) w_i. Plain sums over persons: blocks of persons (Dask
    partitions) add up.
    """
    n_rows, n_items = values.shape
    sums = np.zeros((9, 3 * n_items))
    person_mean = np.full(n_rows, np.nan)
    for start in range(0, n_rows, _CHUNK_ROWS):
        block = values[start:start + _CHUNK_ROWS] - shift
        answered = ~np.isnan(block)
        block[~answered] = 0.0
        mask = answered.astype(np.float64)
        k = mask.sum(axis=1)
        row_sum = block.sum(axis=1)
        t = _safe_divide(row_sum, k)
        person_mean[start:start + _CHUNK_ROWS] = t + shift
        t0 = np.where(k > 0, t, 0.0)
        w = _safe_divide(1.0, k - 1.0)
        w = np.where(k >= 2, w, 0.0)
        weights = np.column_stack([np.ones_like(k), t0, t0 * t0, (k >= 2).astype(np.float64),
                                   row_sum * w, w, (row_sum * w) ** 2, row_sum * w * w, w * w])
        sums += weights.T @ np.hstack([block, block * block, mask])
    return sums, person_mean


def _item_table(item_ids: list[str], sums: np.ndarray, n_rows: int, shift: float, low: np.ndarray,
                high: np.ndarray, cov: np.ndarray, upper_lower: np.ndarray) -> pd.DataFrame:
    """The item statistics from the sums of :func:`_person_sums`, the item covariance matrix
    and the upper-lower differences."""
    n_items = len(item_ids)
    X, XX, M = slice(0, n_items), slice(n_items, 2 * n_items), slice(2 * n_items, 3 * n_items)
    ONE, T, TT, G, SW, W, SSWW, SWW, WW = range(9)
    n, sx, sxx = sums[ONE, M], sums[ONE, X], sums[ONE, XX]
    mean = _safe_divide(sx, n) + shift
    sd = _safe_sqrt(np.maximum(_safe_divide(sxx - sx * _safe_divide(sx, n), n - 1.0), 0.0))
    r_total = _correlation(n, sx, sums[T, M], sxx, sums[TT, M], sums[T, X])
    item_rest = _correlation(
        sums[G, M], sums[G, X], sums[SW, M] - sums[W, X], sums[G, XX],
        sums[SSWW, M] - 2.0 * sums[SWW, X] + sums[WW, XX], sums[SW, X] - sums[W, XX])
    if n_items >= 2:
        r_drop = _r_drop(cov)
        alpha_deleted = _alpha_if_deleted(cov)
    else:
        r_drop = alpha_deleted = np.full(n_items, np.nan)

    discrimination = upper_lower / np.where(high > low, high - low, np.nan)
    difficulty = _safe_divide(mean, high)
    return pd.DataFrame(
        {
            "n": n.astype(np.int64),
            "missing_rate": 1.0 - n / n_rows,
            "mean": mean,
            "sd": sd,
            "difficulty": difficulty,
            "r_total": r_total,
            "r_drop": r_drop,
            "item_rest": item_rest,
            "alpha_if_deleted": alpha_deleted,
            "discrimination": discrimination,
        },
        index=pd.Index(item_ids, name="item"),
    )


def _upper_lower(values: np.ndarray, person_mean: np.ndarray) -> np.ndarray:
    """Mean item score of the top 27% minus that of the bottom 27% (by person mean)."""
    n_items = values.shape[1]
    ranked = np.flatnonzero(~np.isnan(person_mean))
    size = int(round(_GROUP_FRACTION * ranked.size))
    if size < 1 or 2 * size > ranked.size:
        return np.full(n_items, np.nan)
    order = ranked[np.argsort(person_mean[ranked], kind="stable")]
    groups = np.zeros((values.shape[0], 2))
    groups[order[-size:], 0] = 1.0
    groups[order[:size], 1] = 1.0
    sums, counts = _group_sums(values, groups)
    means = _safe_divide(sums, counts)
    return means[0] - means[1]


def _group_sums(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Item sums and response counts (2, J) of the persons in the upper and lower group
    (``groups``: persons x 2 indicators); plain sums over persons."""
    n_items = values.shape[1]
    sums = np.zeros((2, n_items))
    counts = np.zeros((2, n_items))
    for start in range(0, values.shape[0], _CHUNK_ROWS):
        block = values[start:start + _CHUNK_ROWS]
        answered = ~np.isnan(block)
        g = groups[start:start + _CHUNK_ROWS]
        sums += g.T @ np.where(answered, block, 0.0)
        counts += g.T @ answered.astype(np.float64)
    return sums, counts


def category_frequencies(responses: Any, *, proportions: bool = False) -> pd.DataFrame:
    """Counts (or proportions of the responses given) of each category code per item.

    Returns
    -------
    DataFrame
        Indexed by item id, one column per code (the union of all items' admissible
        codes, ascending). A code that is not admissible for an item is NaN there, so
        that "never chosen" (0) and "not offered" (NaN) stay apart.
    """
    data = as_responses(responses)
    values = data.values
    observed_codes = np.unique(values[~np.isnan(values)])
    declared = {c for codes in data.categories.values() for c in codes}
    codes = sorted(declared | {int(c) for c in observed_codes})
    table = np.zeros((data.n_items, len(codes)))
    for k, code in enumerate(codes):
        table[:, k] = (values == code).sum(axis=0)
    if proportions:
        table = _safe_divide(table, (~np.isnan(values)).sum(axis=0)[:, None])
    for j, item in enumerate(data.item_ids):
        admissible = data.categories.get(item)
        if admissible:
            table[j, [k for k, c in enumerate(codes) if c not in admissible]] = np.nan
    return pd.DataFrame(table, index=pd.Index(data.item_ids, name="item"),
                        columns=pd.Index(codes, name="category"))


def distractor_analysis(raw_choices: pd.DataFrame | Responses, key: Mapping[str, Any] | pd.Series
                        ) -> pd.DataFrame:
    r"""Option analysis of keyed multiple-choice items.

    Parameters
    ----------
    raw_choices : DataFrame
        Persons x items holding the option chosen (any labels: "A".."D", 1..4), missing
        (NaN / None) for no answer.
    key : mapping or Series
        Item id -> the correct option, for every item in ``raw_choices``.

    Returns
    -------
    DataFrame
        MultiIndex (item, option), one row for every option chosen at least once and for
        the key; columns ``is_key``, ``n`` (persons choosing it), ``proportion`` (of those
        who answered the item), ``mean_total`` (mean number-correct score of those
        choosing it), ``r_rest`` (point-biserial correlation, over persons who answered
        the item, of choosing the option with the rest score: number correct on the other
        items). A working key has positive ``r_rest``; a working distractor negative.

    Notes
    -----
    Unanswered items count as incorrect in the number-correct score.

    .. math:: r_{pb} = \frac{\bar y_1 - \bar y_0}{s_y}\sqrt{p(1-p)}

    References
    ----------
    .. [1] Haladyna, T. M., & Rodriguez, M. C. (2013). Developing and Validating Test
           Items, ch. 17 (option analysis). Routledge.
    """
    frame = raw_choices.frame if isinstance(raw_choices, Responses) else raw_choices
    if isinstance(frame, np.ndarray):
        frame = pd.DataFrame(frame, columns=[f"item{j + 1}" for j in range(frame.shape[1])])
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"raw_choices must be a DataFrame of chosen options, got {type(frame).__name__}")
    if frame.size == 0:
        raise ResponseError("distractor_analysis: the choice data are empty (no rows or no items)")
    key = dict(key.items())
    items = [str(c) for c in frame.columns]
    frame = frame.set_axis(items, axis=1)
    for j, item in enumerate(items):
        if item not in key:
            raise ResponseError(f"distractor_analysis: item {item!r} (column {j}) has no key")
    extra = [k for k in key if k not in items]
    if extra:
        raise ResponseError(f"distractor_analysis: keyed item {extra[0]!r} is not in the data")

    answered = frame.notna().to_numpy()
    choices = frame.to_numpy(dtype=object)
    correct = np.zeros(choices.shape)
    for j, item in enumerate(items):
        correct[:, j] = answered[:, j] & (choices[:, j] == key[item])
    total = correct.sum(axis=1)

    rows = []
    for j, item in enumerate(items):
        given = answered[:, j]
        options = pd.unique(pd.Series(choices[given, j]))
        if not any(o == key[item] for o in options):
            options = np.append(options, np.array([key[item]], dtype=object))
        try:
            options = sorted(options)
        except TypeError:
            pass
        rest = total[given] - correct[given, j]
        chosen = choices[given, j]
        n_answered = int(given.sum())
        for option in options:
            picks = (chosen == option).astype(np.float64)
            count = picks.sum()
            r = _correlation(np.array(float(n_answered)), np.array(count), np.array(rest.sum()),
                             np.array(count), np.array((rest * rest).sum()), np.array(picks @ rest))
            rows.append({
                "item": item,
                "option": option,
                "is_key": bool(option == key[item]),
                "n": int(count),
                "proportion": float(_safe_divide(count, n_answered)),
                "mean_total": float(_safe_divide(picks @ total[given], count)),
                "r_rest": float(r),
            })
    return pd.DataFrame(rows).set_index(["item", "option"])


def scale_scores(responses: Any, scales: Mapping[str, Sequence[str]], *,
                 method: Literal["sum", "mean"] = "mean", min_answered: int | float = 0.5,
                 prorate: bool = True) -> pd.DataFrame:
    r"""Scale scores per person: the mean or (prorated) sum of each scale's items.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items, already reverse-keyed where the instrument says so.
    scales : mapping
        Scale id -> item ids.
    method : {"sum", "mean"}
    min_answered : int or float
        Fewest answered items for a score; below it the score is NaN. An int is a
        count (``1`` means one item); a float in (0, 1] is a share of the scale's items
        (``1.0`` means all of them), rounded up. At least one answered item is always
        required.
    prorate : bool
        With ``method="sum"``: True gives ``mean * n_items`` (the sum expected had every
        item been answered), False the plain sum of the answered items.

    Returns
    -------
    DataFrame
        Persons x scales, same index as ``responses``, columns in the order of ``scales``.

    Notes
    -----
    .. math:: \text{mean}_s = \frac{1}{m_i}\sum_{j \in s,\ answered} x_{ij},\qquad
              \text{prorated sum}_s = |s|\cdot\text{mean}_s
    """
    if method not in ("sum", "mean"):
        raise ValueError(f"method must be 'sum' or 'mean', got {method!r}")
    if isinstance(min_answered, bool) or not isinstance(min_answered, (int, float, np.integer, np.floating)):
        raise ValueError("min_answered must be an int count or a float share in (0, 1], "
                         f"got {min_answered!r}")
    if isinstance(min_answered, (float, np.floating)) and not 0.0 < min_answered <= 1.0:
        raise ValueError(f"min_answered as a share must be in (0, 1], got {min_answered!r}")
    if isinstance(min_answered, (int, np.integer)) and min_answered < 0:
        raise ValueError(f"min_answered as a count must be >= 0, got {min_answered!r}")
    data = as_responses(responses)
    if not isinstance(scales, Mapping) or not scales:
        raise ValueError("scales must be a non-empty mapping of scale id -> item ids")
    position = {item: j for j, item in enumerate(data.item_ids)}
    values = data.values
    out = {}
    for scale, items in scales.items():
        if isinstance(items, str):
            raise ValueError(f"scale {scale!r}: items must be a sequence of item ids, "
                             f"got the string {items!r}")
        items = [str(i) for i in items]
        if not items:
            raise ValueError(f"scale {scale!r} has no items")
        seen = set()
        for item in items:
            if item not in position:
                raise ResponseError(f"scale {scale!r}: item {item!r} is not in the responses")
            if item in seen:
                raise ValueError(f"scale {scale!r}: item {item!r} is listed twice")
            seen.add(item)
        if isinstance(min_answered, (int, np.integer)):
            if min_answered > len(items):
                raise ValueError(f"scale {scale!r}: min_answered={min_answered} exceeds its "
                                 f"{len(items)} items")
            needed = max(int(min_answered), 1)
        else:
            needed = max(math.ceil(min_answered * len(items) - 1e-9), 1)
        block = values[:, [position[i] for i in items]]
        answered = (~np.isnan(block)).sum(axis=1)
        total = np.where(np.isnan(block), 0.0, block).sum(axis=1)
        score = _safe_divide(total, answered)
        if method == "sum":
            score = score * len(items) if prorate else np.where(answered > 0, total, np.nan)
        out[str(scale)] = np.where(answered >= needed, score, np.nan)
    return pd.DataFrame(out, index=data.person_ids)
