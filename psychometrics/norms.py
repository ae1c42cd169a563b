"""Norm-referenced scores: z, T, percentile rank and stanine from a norm sample.

A norm sample (or its mean and SD) turns raw scale scores into standard scores. Percentile
ranks use the mid-rank definition, so a score shared by many norm persons sits in the
middle of their block rather than at its top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["NormTable", "norm_scores"]

# Cumulative percentages that separate stanines 1|2, 2|3, ..., 8|9 (4-7-12-17-20-17-12-7-4 %).
_STANINE_BOUNDS = np.array([4.0, 11.0, 23.0, 40.0, 60.0, 77.0, 89.0, 96.0])
_COLUMNS = ["z", "t", "percentile", "stanine"]


def _as_float_array(values: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(pd.to_numeric(pd.Series(np.ravel(np.asarray(values, dtype=object))),
                                         errors="raise"), dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} must be numeric: {exc}") from None
    return array


def _stanine(percentile: np.ndarray) -> np.ndarray:
    out = 1.0 + np.searchsorted(_STANINE_BOUNDS, percentile, side="right").astype(np.float64)
    return np.where(np.isnan(percentile), np.nan, out)


@dataclass(frozen=True, eq=False)
class NormTable:
    """A norm sample reduced to what score conversion needs.

    Build it with :meth:`from_sample`; :meth:`transform` converts raw scores and
    :meth:`to_frame` prints a conversion table for every distinct score in the sample.
    """

    scores: np.ndarray  # the norm sample, sorted, without missing values
    mean: float
    sd: float
    name: str | None = None

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        return f"NormTable({name}n={self.n}, mean={self.mean:.4g}, sd={self.sd:.4g})"

    @property
    def n(self) -> int:
        return int(self.scores.size)

    def summary(self) -> str:
        """One line: the norm sample's size, mean, SD and score range."""
        name = f" for {self.name!r}" if self.name else ""
        return (f"norm sample{name}: n = {self.n}, mean = {self.mean:.4g}, SD = {self.sd:.4g}, "
                f"scores {self.scores[0]:g} to {self.scores[-1]:g}")

    @classmethod
    def from_sample(cls, sample: Any, *, name: str | None = None) -> "NormTable":
        """Norms from a sample of raw scores (Series or array; NaN ignored).

        The SD uses n - 1. At least two distinct scores are needed.
        """
        if name is None and isinstance(sample, pd.Series) and sample.name is not None:
            name = str(sample.name)
        values = _as_float_array(sample, "the norm sample")
        values = np.sort(values[np.isfinite(values)])
        if values.size < 2:
            raise ValueError(f"the norm sample{f' for {name!r}' if name else ''} needs at least 2 "
                             f"non-missing scores, got {values.size}")
        sd = float(values.std(ddof=1))
        if not sd > 0:
            raise ValueError(f"the norm sample{f' for {name!r}' if name else ''} has no variance "
                             f"(every score is {values[0]:g})")
        return cls(scores=values, mean=float(values.mean()), sd=sd, name=name)

    def percentile_rank(self, raw: Any) -> np.ndarray:
        r"""Mid-rank percentile rank of each raw score in the norm sample.

        .. math:: PR(x) = 100\,\frac{\#\{y < x\} + \tfrac12\#\{y = x\}}{n}
        """
        x = _as_float_array(raw, "raw scores")
        below = np.searchsorted(self.scores, x, side="left")
        at_or_below = np.searchsorted(self.scores, x, side="right")
        out = 100.0 * (below + 0.5 * (at_or_below - below)) / self.scores.size
        return np.where(np.isnan(x), np.nan, out)

    def transform(self, raw: Any) -> pd.DataFrame:
        """z, T, percentile rank (in the sample) and stanine of raw scores."""
        return norm_scores(raw, sample=self)

    def to_frame(self) -> pd.DataFrame:
        """Conversion table: one row per distinct score in the norm sample."""
        distinct = np.unique(self.scores)
        table = norm_scores(pd.Series(distinct, index=pd.Index(distinct, name="raw")), sample=self)
        table.insert(0, "frequency", np.searchsorted(self.scores, distinct, side="right")
                     - np.searchsorted(self.scores, distinct, side="left"))
        return table


def _convert(raw: np.ndarray, mean: float, sd: float, table: NormTable | None) -> np.ndarray:
    z = (raw - mean) / sd
    percentile = table.percentile_rank(raw) if table is not None else 100.0 * stats.norm.cdf(z)
    return np.column_stack([z, 50.0 + 10.0 * z, percentile, _stanine(percentile)])


def _norms_for(raw: np.ndarray, mean: float | None, sd: float | None, sample: Any,
               label: str) -> tuple[float, float, NormTable | None]:
    table = None
    if sample is not None:
        table = sample if isinstance(sample, NormTable) else NormTable.from_sample(sample, name=label)
    if (mean is None) != (sd is None) and table is None:
        raise ValueError(f"{label}: give both mean and sd, or a norm sample")
    if table is None and mean is None:
        # No norms given: the scores are their own norm sample.
        table = NormTable.from_sample(raw, name=label)
    mean = table.mean if mean is None else float(mean)
    sd = table.sd if sd is None else float(sd)
    if not np.isfinite(mean):
        raise ValueError(f"{label}: the norm mean must be a finite number, got {mean!r}")
    if not (np.isfinite(sd) and sd > 0):
        raise ValueError(f"{label}: the norm sd must be a positive number, got {sd!r}")
    return mean, sd, table


def _pick(setting: Any, column: str, what: str) -> Any:
    """The per-column value of a setting given once, per column (mapping/Series/DataFrame)."""
    if setting is None or isinstance(setting, NormTable):
        return setting
    if isinstance(setting, pd.DataFrame):
        if column not in setting.columns:
            raise ValueError(f"the {what} has no column {column!r}")
        return setting[column]
    if isinstance(setting, Mapping) or (isinstance(setting, pd.Series) and what != "norm sample"):
        if column not in setting:
            raise ValueError(f"the {what} gives no value for column {column!r}")
        return setting[column]
    return setting


def norm_scores(raw: Any, *, mean: Any = None, sd: Any = None, sample: Any = None) -> pd.DataFrame:
    r"""Convert raw scores to z, T, percentile rank and stanine.

    Parameters
    ----------
    raw : Series, array or DataFrame
        Raw scores (NaN stays NaN). A DataFrame is converted column by column.
    mean, sd : float, optional
        Norm mean and SD (give both). For a DataFrame, a mapping or Series of
        column -> value, or one value for all columns. They override the norm
        sample's mean and SD for z and T.
    sample : Series, array, NormTable or DataFrame, optional
        Norm sample. Percentile ranks are mid-ranks in it; without a sample they are
        :math:`100\,\Phi(z)`. For a DataFrame of raw scores: a DataFrame (matched by
        column name), a mapping column -> sample or NormTable, or one sample for all
        columns. With neither ``sample`` nor ``mean``/``sd`` the raw scores are their own
        norm sample.

    Returns
    -------
    DataFrame
        Columns ``z``, ``t``, ``percentile``, ``stanine``, indexed like ``raw``; for a
        DataFrame the columns are a MultiIndex (raw column, statistic).

    Notes
    -----
    .. math::

        z = \frac{x - \bar x_{norm}}{s_{norm}},\qquad T = 50 + 10 z,\qquad
        PR = 100\,\frac{\#\{y < x\} + \tfrac12 \#\{y = x\}}{n}

    Stanines come from the percentile rank: 1 below 4, 2 from 4 to below 11, then
    23, 40, 60, 77, 89 and 96 (the 4-7-12-17-20-17-12-7-4 % bands).

    References
    ----------
    .. [1] Crocker, L., & Algina, J. (1986). Introduction to Classical and Modern Test
           Theory, ch. 19 (norms and standard scores). Holt, Rinehart & Winston.
    .. [2] Canfield, A. A. (1951). The "sten" scale - a modified C-scale. Educational and
           Psychological Measurement, 11, 295-297 (stanine band percentages).

    Examples
    --------
    >>> norm_scores(pd.Series([40.0, 50.0, 65.0]), mean=50.0, sd=10.0)["t"].tolist()
    [40.0, 50.0, 65.0]
    """
    if isinstance(raw, pd.DataFrame):
        parts = {}
        for column in raw.columns:
            label = str(column)
            values = _as_float_array(raw[column], f"raw scores of column {label!r}")
            m, s, table = _norms_for(values, _pick(mean, column, "mean"), _pick(sd, column, "sd"),
                                     _pick(sample, column, "norm sample"), label)
            parts[column] = pd.DataFrame(_convert(values, m, s, table), index=raw.index, columns=_COLUMNS)
        return pd.concat(parts, axis=1, names=[raw.columns.name or "scale", "statistic"])
    index = raw.index if isinstance(raw, pd.Series) else None
    label = str(raw.name) if isinstance(raw, pd.Series) and raw.name is not None else "raw scores"
    values = _as_float_array(raw, "raw scores")
    if isinstance(mean, Mapping) or isinstance(sd, Mapping):
        raise ValueError("mean and sd must be numbers when raw is a single score column")
    m, s, table = _norms_for(values, mean, sd, sample, label)
    return pd.DataFrame(_convert(values, m, s, table), index=index, columns=_COLUMNS)
