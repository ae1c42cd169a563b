r"""Calibration of a Dask DataFrame: the in-memory EM with its E-step mapped over partitions.

:func:`calibrate` reads the data once and never brings them to the client:

1. **Discovery**: every partition is checked as in memory
   (:func:`psychometrics.data.load_responses`), kept on its worker as small integer codes
   (persons who answered nothing left out, as in memory), and summarized: per item (and group,
   in a multi-group calibration) its distinct values with their counts, the number of persons,
   the group labels. The client unites the summaries and derives the categories with the
   checks of the in-memory calibration (empty, constant, non-integer items; unused categories
   collapsed with a warning; the model's category limits) and the category counts that start
   the item parameters.
2. **Encoding**: on the workers, every partition's codes become an ``int8`` matrix of
   category indices, kept in memory (``persist``): a twentieth of the float64 frame. Should a
   worker be lost, Dask recomputes its partitions from the source.

Each EM iteration then sends the item log-probabilities (items x nodes x categories) to the
workers, runs :func:`psychometrics.estep.estep` on every partition and brings back only its
plain sums (expected counts, log-likelihood, node masses); the client adds them in partition
order and runs the same M-step and SQUAREM as in memory (``_fit`` of
:mod:`psychometrics.irt.estimation`, with this E-step injected). From the same start the path
and the estimates are those of the in-memory calibration, whatever the partitioning, up to the
rounding of sums taken in another order.

Notes
-----
The E-step's sums over persons split over partitions :math:`P_1, \dots, P_m`:

.. math:: \bar r_{jqk} = \sum_{p=1}^{m} \sum_{i \in P_p} \pi_{iq} [x_{ij} = k], \qquad
          \log L = \sum_{p=1}^{m} \sum_{i \in P_p} \log \sum_q w_q e^{\ell_{iq}}

References
----------
.. [1] Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item
       parameters: Application of an EM algorithm. *Psychometrika*, 46, 443-459.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dask
import numpy as np
import pandas as pd

from psychometrics import groups
from psychometrics.distributed._partitions import load_partition
from psychometrics.errors import DataWarning, ResponseError
from psychometrics.estep import EStep, combine, estep
from psychometrics.irt import estimation
from psychometrics.irt.em import _GroupData
from psychometrics.irt.prepare import MIN_GROUP_SIZE, _discover_categories, _model_mapping
from psychometrics.irt.result import Calibration

__all__ = ["calibrate"]


# ------------------------------------------------------------------------------------------------
# pass 1: every partition checked once, kept compact on its worker, summarized
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Compact:
    """A checked partition as its workers keep it until it is encoded: the integer codes of
    the persons who answered something (``missing`` where they did not answer an item; float64
    with NaN when the codes are not small integers) and their group labels."""

    item_ids: list[str]
    values: np.ndarray
    missing: int | None
    labels: np.ndarray | None
    n_empty: int
    empty_ids: list[Any]
    label_counts: dict[Any, int]


def _split_group(frame: pd.DataFrame, group: str | None) -> tuple[pd.DataFrame, np.ndarray | None]:
    if group is None:
        return frame, None
    if group not in frame.columns:
        raise ResponseError(f"group {group!r} is not a column of the responses (columns: "
                            f"{', '.join(map(str, frame.columns[:20]))})")
    return frame.drop(columns=group), frame[group].to_numpy(dtype=object)


def _compact(frame: pd.DataFrame, index: int, group: str | None) -> _Compact | None:
    frame, labels = _split_group(frame, group)
    resp = load_partition(frame, index)
    if resp is None:
        return None
    values = resp.values
    observed = ~np.isnan(values)
    has_answer = observed.any(axis=1)
    empty_ids = list(resp.person_ids[~has_answer][:5])
    if labels is not None:
        missing = pd.isna(labels)
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise ResponseError(f"partition {index}: respondent {resp.person_ids[row]!r} (row {row}) has no group "
                                f"label ({int(missing.sum())} missing label(s) in this partition); drop those "
                                "persons or label them")
        label_counts = dict(pd.Series(labels).value_counts(sort=False).items())
        labels = labels[has_answer]
    else:
        label_counts = {}
    values = values[has_answer]
    observed = observed[has_answer]
    given = values[observed]
    for dtype in (np.int8, np.int16):
        limit = np.iinfo(dtype).max
        if given.size == 0 or (np.all(given == np.round(given)) and given.min() >= -limit and given.max() <= limit):
            sentinel = int(np.iinfo(dtype).min)
            codes = np.full(values.shape, sentinel, dtype=dtype)
            codes[observed] = given.astype(dtype)
            return _Compact(resp.item_ids, codes, sentinel, labels, int((~has_answer).sum()), empty_ids,
                            label_counts)
    return _Compact(resp.item_ids, values, None, labels, int((~has_answer).sum()), empty_ids, label_counts)


def _value_counts(column: np.ndarray, missing: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of one item's column and how often each occurs (missing left out)."""
    if missing is None:
        return np.unique(column[~np.isnan(column)], return_counts=True)
    given = column[column != missing].astype(np.int64)
    if given.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    low = int(given.min())
    counts = np.bincount(given - low)
    present = np.flatnonzero(counts)
    return (present + low).astype(np.float64), counts[present]


def _summarize(compact: _Compact | None) -> dict[str, Any] | None:
    """Per group label: the number of persons and, per item, the distinct values and their counts."""
    if compact is None:
        return None
    values = compact.values
    if compact.labels is None:
        keys, rows_of = [None], {None: slice(None)}
    else:
        keys = list(pd.unique(compact.labels))
        rows_of = {key: compact.labels == key for key in keys}
    tables = {key: [_value_counts(col, compact.missing) for col in values[rows_of[key]].T] for key in keys}
    sizes = {key: int(values[rows_of[key]].shape[0]) for key in keys}
    return {"item_ids": compact.item_ids, "n_empty": compact.n_empty, "empty_ids": compact.empty_ids,
            "sizes": sizes, "tables": tables, "label_counts": compact.label_counts}


def _levels(label_counts: dict[Any, int], dtype: Any, reference: Any) -> list[Any]:
    """Group levels, reference first, as :func:`psychometrics.groups.resolve_groups` orders
    them in memory: a categorical's categories that occur, else the sorted labels; the default
    reference is the largest group (every labelled person counted), a tie going to the first."""
    found = list(label_counts)
    if isinstance(dtype, pd.CategoricalDtype):
        levels = [c for c in dtype.categories if c in label_counts]
    else:
        levels, _ = groups._levels(np.asarray(found, dtype=object))
    if len(levels) < 2:
        raise ResponseError(f"group has one level ({levels[0]!r}); a multi-group calibration needs at least two")
    if reference is None:
        sizes = [label_counts.get(level, 0) for level in levels]
        reference = levels[int(np.argmax(sizes))]
    elif reference not in levels:
        raise ResponseError(f"reference group {reference!r} is not among the groups {levels}")
    return [reference] + [g for g in levels if g != reference]


# ------------------------------------------------------------------------------------------------
# pass 2: category indices kept on the workers; the E-step on them
# ------------------------------------------------------------------------------------------------

def _encode(compact: _Compact | None, categories: list[tuple[int, ...]],
            levels: list[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """Category indices (persons x items, -1 missing) and group indices of a partition."""
    if compact is None:
        return None
    values = compact.values
    dtype = np.int8 if max(map(len, categories)) < 127 else np.int32
    codes = np.full(values.shape, -1, dtype=dtype)
    for j, item_codes in enumerate(categories):
        column = values[:, j]
        observed = ~np.isnan(column) if compact.missing is None else column != compact.missing
        # every value was seen by the discovery pass, so each one is one of the item's codes
        codes[observed, j] = np.searchsorted(np.asarray(item_codes), column[observed])
    group_codes = np.zeros(codes.shape[0], dtype=np.int16)
    if compact.labels is not None:
        for g, label in enumerate(levels):
            group_codes[compact.labels == label] = g
    return codes, group_codes


def _partition_estep(encoded: tuple[np.ndarray, np.ndarray] | None, group: int | None,
                     items: np.ndarray | None, log_probs: np.ndarray, log_prior: np.ndarray) -> EStep | None:
    if encoded is None:
        return None
    codes, group_codes = encoded
    if group is not None:
        codes = codes[group_codes == group]
    if items is not None:
        codes = codes[:, items]
    if codes.shape[0] == 0:
        return None
    return estep(codes, log_probs, log_prior)


@dataclass(frozen=True)
class _Partitions:
    """The persisted category indices of every partition, as one group's E-step input:
    the persons of group ``group`` (None: all) and the items ``items`` (None: all)."""

    parts: tuple[Any, ...]
    group: int | None
    items: np.ndarray | None


def _distributed_estep(data: _Partitions, log_probs: np.ndarray, log_prior: np.ndarray,
                       weights: np.ndarray | None = None) -> EStep:
    """One E-step: :func:`psychometrics.estep.estep` on every partition (on the workers), the
    sums added on the client in partition order."""
    shared_probs = dask.delayed(np.ascontiguousarray(log_probs), pure=True)
    shared_prior = dask.delayed(np.ascontiguousarray(log_prior), pure=True)
    run = dask.delayed(_partition_estep, pure=True)
    tasks = [run(part, data.group, data.items, shared_probs, shared_prior) for part in data.parts]
    results = [r for r in dask.compute(*tasks) if r is not None]
    return combine(results)


# ------------------------------------------------------------------------------------------------
# the verb
# ------------------------------------------------------------------------------------------------

def calibrate(ddf: Any, model: str | Mapping[str, str] = "2pl", *, group: str | None = None,
              reference: Any = None, weights: Any = None, min_group_size: int = MIN_GROUP_SIZE,
              check_dimensionality: bool = False, **settings: Any) -> Calibration:
    """:func:`psychometrics.irt.calibrate` of a Dask DataFrame (persons x items, partitioned).

    Same arguments and result as in memory; the E-step runs on the workers. ``group`` names
    the column of group labels of a multi-group calibration (a column of ``ddf``, left out
    of the items).

    Raises
    ------
    NotImplementedError
        For ``weights`` and ``check_dimensionality=True``, which need the data in memory.
    ResponseError, ValueError
        As in memory; errors found in a partition name it besides respondent, row (within the
        partition), item and column.

    Examples
    --------
    >>> import dask.dataframe as dd, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> theta = rng.normal(size=(400, 1))
    >>> frame = pd.DataFrame((rng.random((400, 4)) < 1 / (1 + np.exp(-theta))).astype(int),
    ...                      columns=["q1", "q2", "q3", "q4"])
    >>> calibration = calibrate(dd.from_pandas(frame, npartitions=3), "2pl")
    >>> calibration.converged, calibration.n_persons
    (True, 400.0)
    """
    if weights is not None:
        raise NotImplementedError("weights are not supported on a Dask DataFrame; repeat the rows instead, or "
                                  "calibrate the collapsed patterns in memory")
    if check_dimensionality:
        raise NotImplementedError("check_dimensionality needs the polychoric correlations of the data in memory; "
                                  "check a sample with psychometrics.factor.check_unidimensionality first")
    if group is not None and not isinstance(group, str):
        raise TypeError(f"on a Dask DataFrame group= names the column of group labels, got "
                        f"{type(group).__name__}")
    estimation._check_settings(**settings)
    if group is None:
        estimation._check_no_group_settings(reference=reference, **settings)

    compact = dask.persist(*[dask.delayed(_compact, pure=True)(part, i, group)
                             for i, part in enumerate(ddf.to_delayed())])
    summarize = dask.delayed(_summarize, pure=True)
    summaries = dask.compute(*[summarize(c) for c in compact])
    present = [s for s in summaries if s is not None]
    if not present:
        raise ResponseError(f"the response data are empty (0 rows in {ddf.npartitions} partition(s))")
    item_ids = present[0]["item_ids"]
    models = _model_mapping(model, item_ids)
    if group is None:
        levels: list[Any] = [None]
    else:
        label_counts: dict[Any, int] = {}
        for s in present:
            for key, n in s["label_counts"].items():
                label_counts[key] = label_counts.get(key, 0) + int(n)
        levels = _levels(label_counts, ddf._meta[group].dtype, reference)
    position = {label: g for g, label in enumerate(levels)}

    if not any(n for s in present for n in s["sizes"].values()):
        raise ResponseError("no respondent answered any item")
    distinct = [np.unique(np.concatenate([table[j][0] for s in present for table in s["tables"].values()]))
                for j in range(len(item_ids))]
    admissible = {item: tuple(range(int(d.min()), int(d.max()) + 1))
                  for item, d in zip(item_ids, distinct) if d.size and np.all(d == np.round(d))}
    categories = _discover_categories(item_ids, distinct, admissible, models)

    n_empty = sum(s["n_empty"] for s in present)
    if n_empty:
        shown = ", ".join(repr(p) for s in present for p in s["empty_ids"][:5])
        warnings.warn(f"{n_empty} respondent(s) answered no item and are left out of the calibration: "
                      f"{shown}{' ...' if n_empty > 5 else ''}", DataWarning, stacklevel=3)
    sizes = np.zeros(len(levels), dtype=np.int64)
    max_k = max(len(c) for c in categories.values())
    counts = np.zeros((len(levels), len(item_ids), max_k))
    for s in present:
        for key, n in s["sizes"].items():
            g = position[key]
            sizes[g] += n
            for j, (values, n_values) in enumerate(s["tables"][key]):
                where = np.searchsorted(np.asarray(categories[item_ids[j]]), values)
                np.add.at(counts[g, j], where, n_values)

    encode = dask.delayed(_encode, pure=True)
    ordered = [categories[item] for item in item_ids]
    parts = tuple(dask.persist(*[encode(c, ordered, levels) for c in compact]))
    del compact   # the workers keep only the category indices (and how to recompute them)

    def group_data(g: int, cols: np.ndarray, col_items: np.ndarray, col_cat: np.ndarray) -> _GroupData:
        if len(levels) == 1:
            return _GroupData(_Partitions(parts, None, None), None, None, float(sizes.sum()))
        return _GroupData(_Partitions(parts, g, col_items[cols]), None, cols, float(sizes[g]))

    data = estimation._CalibrationData(list(item_ids), categories, levels, float(sizes.sum()), sizes, counts,
                                       group_data)
    return estimation._fit(data, models, min_group_size=min_group_size, estep_function=_distributed_estep,
                           **settings)
