r"""What every DIF method shares: group checks, the matching score, p-value adjustment.

The IRT-based DIF tests import :func:`adjust_pvalues` and :func:`resolve_groups` from here so
that all DIF tables flag items the same way.

Matching score and missing responses
------------------------------------
The matching score of a person for a studied item is the sum of the codes of the *matching
items* the person answered, prorated to the number of matching items:

.. math:: S = \frac{M}{m} \sum_{h \in \text{answered}} x_h

where :math:`M` is the number of matching items and :math:`m` the number answered. With
``matching="total"`` the matching items are the anchor items plus the studied item (the
standard for Mantel-Haenszel, Holland & Thayer 1988); with ``matching="rest"`` the studied
item is left out. Persons who did not answer the studied item, or answered none of its
matching items, are left out of that item's analysis only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from psychometrics.data import Responses, align_labels, as_responses, format_label
from psychometrics.data import category_index as _recode
from psychometrics.errors import ResponseError
from psychometrics.groups import GroupSpec
from psychometrics.groups import resolve_groups as _resolve_groups

__all__ = [
    "MIN_GROUP_SIZE",
    "GroupSpec",
    "adjust_pvalues",
    "matching_scores",
    "prepare",
    "resolve_groups",
]

#: Default smallest number of persons a compared group may have. Below it the score strata
#: of Mantel-Haenszel are mostly empty and the logistic fits unstable.
MIN_GROUP_SIZE = 30

Adjust = Literal["holm", "bh", "none"]
Matching = Literal["total", "rest"]


def prepare(responses: Any, group: Any) -> tuple[Responses, np.ndarray]:
    """The checked responses and the raw group labels (one per person, in row order).

    ``group`` may be the name of a column: of the DataFrame passed (the column is then not
    an item) or of the metadata of a :class:`Responses`.
    """
    if isinstance(group, str):
        if isinstance(responses, pd.DataFrame) and group in responses.columns:
            labels = responses[group].to_numpy(dtype=object)
            return as_responses(responses.drop(columns=group)), labels
        if isinstance(responses, Responses):
            if responses.metadata is not None and group in responses.metadata.columns:
                return responses, responses.metadata[group].to_numpy(dtype=object)
            if group in responses.frame.columns:
                raise ResponseError(f"group column '{group}' is an item of the responses; pass the "
                                    "group labels separately or load it as metadata")
        raise ResponseError(f"group column '{group}' is not among the columns of the responses")
    data = as_responses(responses)
    labels = align_labels(group, data).to_numpy(dtype=object)
    return data, labels


def resolve_groups(labels: Any, person_ids: Sequence[Any] | pd.Index, *, focal: Any = None,
                   reference: Any = None, min_group_size: int = MIN_GROUP_SIZE) -> GroupSpec:
    """Group labels checked for DIF: :func:`psychometrics.groups.resolve_groups` (default
    reference: the largest group) with DIF's smallest group size."""
    return _resolve_groups(labels, person_ids, focal=focal, reference=reference,
                           min_group_size=min_group_size, what="DIF")


def matching_scores(values: np.ndarray, anchors: np.ndarray, *, matching: Matching = "total") -> np.ndarray:
    """Prorated matching score of every person for every studied item.

    Parameters
    ----------
    values : ndarray (n_persons, n_items)
        Item scores, NaN for missing.
    anchors : bool ndarray (n_items,)
        Items that make up the matching score (besides the studied item under "total").
    matching : {"total", "rest"}
        Whether the studied item belongs to its own matching score.

    Returns
    -------
    ndarray (n_persons, n_items)
        Column j: the score used when item j is studied; NaN where the person answered none
        of the matching items.
    """
    observed = ~np.isnan(values)
    filled = np.where(observed, values, 0.0)
    anchor_f = anchors.astype(np.float64)
    base_sum = filled @ anchor_f
    base_count = observed.astype(np.float64) @ anchor_f
    # Column j differs from the anchor sum only by item j itself: added under "total" when
    # it is not an anchor, removed under "rest" when it is.
    if matching == "total":
        sign = np.where(anchors, 0.0, 1.0)
    elif matching == "rest":
        sign = np.where(anchors, -1.0, 0.0)
    else:
        raise ValueError(f"matching must be 'total' or 'rest', got {matching!r}")
    sums = base_sum[:, None] + filled * sign
    counts = base_count[:, None] + observed * sign
    n_matching = anchor_f.sum() + sign
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(counts > 0, sums * (n_matching / np.where(counts > 0, counts, 1.0)), np.nan)
    return scores


def adjust_pvalues(p: Any, method: Adjust = "holm") -> np.ndarray:
    r"""Adjust p-values for multiple testing.

    Parameters
    ----------
    p : array-like
        p-values; NaN entries are left out of the family and stay NaN.
    method : {"holm", "bh", "none"}
        Holm's step-down family-wise correction, Benjamini-Hochberg false discovery rate,
        or no adjustment.

    Notes
    -----
    With the :math:`m` finite p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`:

    .. math::

        \text{Holm: } \tilde p_{(i)} = \max_{j \le i} \min\{1, (m - j + 1) p_{(j)}\}

        \text{BH: } \tilde p_{(i)} = \min_{j \ge i} \min\{1, m p_{(j)} / j\}

    Both agree with R's ``p.adjust``.

    References
    ----------
    .. [1] Holm, S. (1979). A simple sequentially rejective multiple test procedure.
           Scandinavian Journal of Statistics, 6, 65-70.
    .. [2] Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate.
           Journal of the Royal Statistical Society B, 57, 289-300.
    """
    p = np.asarray(p, dtype=np.float64)
    if method in (None, "none"):
        return p.copy()
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    values = p[finite]
    m = values.size
    if m == 0:
        return out
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * ranked))
    elif method in ("bh", "fdr_bh", "BH"):
        adjusted = np.minimum.accumulate((m * ranked / np.arange(1, m + 1))[::-1])[::-1]
        adjusted = np.minimum(adjusted, 1.0)
    else:
        raise ValueError(f"p-value adjustment must be 'holm', 'bh' or 'none', got {method!r}")
    result = np.empty(m)
    result[order] = adjusted
    out[finite] = result
    return out


def check_common(alpha: float, adjust: str, matching: str, min_group_size: int) -> None:
    """Checks of the settings every DIF method shares."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if adjust not in ("holm", "bh", "none", None):
        raise ValueError(f"adjust must be 'holm', 'bh' or 'none', got {adjust!r}")
    if matching not in ("total", "rest"):
        raise ValueError(f"matching must be 'total' or 'rest', got {matching!r}")
    if int(min_group_size) != min_group_size or min_group_size < 2:
        raise ValueError(f"min_group_size must be an integer of at least 2, got {min_group_size!r}")


def setup_comparisons(responses: Any, group: Any, *, focal: Any, reference: Any, alpha: float, adjust: str,
                      matching: str, min_group_size: int
                      ) -> tuple[Responses, GroupSpec, np.ndarray, list[np.ndarray]]:
    """What every observed-score DIF method starts from, checked once.

    Returns the validated responses, the resolved groups, and the items' codes as category
    positions with each item's codes (:func:`category_index`).
    """
    check_common(alpha, adjust, matching, min_group_size)
    data, labels = prepare(responses, group)
    groups = resolve_groups(labels, data.person_ids, focal=focal, reference=reference,
                            min_group_size=min_group_size)
    positions, codes = category_index(data.values, data)
    return data, groups, positions, codes


def run_comparisons(data: Responses, groups: GroupSpec, compute: Any, *, matching: Matching, adjust: Adjust,
                    alpha: float, purify_items: bool, max_iter: int,
                    column_order: Sequence[str]) -> pd.DataFrame:
    """Run one DIF method for every focal group against the reference, with purification.

    ``compute(values, scores, in_group, anchors, rows)`` gets the item scores and matching scores
    (persons x items) of the persons in the two compared groups, a code per person
    (0 reference, 1 focal; the methods also accept -1 for persons to leave out), the anchor
    mask and the boolean mask of those persons among all rows, and returns a dict of
    per-item columns that holds at least ``chi2``, ``df``, ``p``.
    Items are flagged when their adjusted p-value is below ``alpha``; the adjustment runs
    over the items of one comparison. The result has the columns of ``column_order``, in that order.
    """
    from psychometrics.dif.purification import purify

    values = data.values
    items = data.item_ids
    frames = []
    for g in groups.focal:
        # Only the two compared groups enter; matching scores are per person, so computing
        # them on these rows alone changes nothing.
        rows = (groups.codes == groups.reference) | (groups.codes == g)
        sub_values = values[rows]
        in_group = (groups.codes[rows] == g).astype(np.intp)

        def evaluate(anchors: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
            scores = matching_scores(sub_values, anchors, matching=matching)
            columns = compute(sub_values, scores, in_group, anchors, rows)
            columns["p_adjusted"] = adjust_pvalues(columns["p"], adjust)
            flagged = np.nan_to_num(columns["p_adjusted"], nan=1.0) < alpha
            columns["flag"] = flagged
            return columns, flagged

        label = f" of focal group {format_label(groups.labels[g])}"
        outcome = purify(evaluate, len(items), enabled=purify_items, max_iter=max_iter, label=label)
        columns = outcome.result
        head = {
            "reference": [groups.labels[groups.reference]] * len(items),
            "focal": [groups.labels[g]] * len(items),
        }
        frame = pd.DataFrame({**head, **columns}, index=pd.Index(items, name="item"))
        frame["anchor"] = outcome.anchors
        frame.attrs["iterations"] = outcome.iterations
        frames.append(frame)
    if len(frames) == 1:
        result = frames[0]
    else:
        result = pd.concat(frames, keys=[groups.labels[g] for g in groups.focal], names=["focal_group", "item"])
        result.attrs["iterations"] = {groups.labels[g]: f.attrs["iterations"] for g, f in zip(groups.focal, frames)}
    result.attrs["reference"] = groups.labels[groups.reference]
    result.attrs["matching"] = matching
    result.attrs["adjust"] = adjust
    return result[list(column_order)]


def category_index(values: np.ndarray, data: Responses) -> tuple[np.ndarray, list[np.ndarray]]:
    """Item codes as 0-based category positions (-1 for missing) and each item's codes."""
    positions = np.full(values.shape, -1, dtype=np.intp)
    codes_per_item = []
    for j, item in enumerate(data.item_ids):
        positions[:, j], codes = _recode(values[:, j], data.categories.get(item), item=item, position=j,
                                         person_ids=data.person_ids)
        codes_per_item.append(codes)
    return positions, codes_per_item
