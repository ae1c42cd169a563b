"""Agreement among raters: intraclass correlations, kappas, Krippendorff's alpha, rwg.

These statistics answer "do raters agree?" for 360-degree feedback and interview ratings.
The layout follows the package convention, with the *rated thing* in the rows:

* :func:`icc`, :func:`fleiss_kappa` and :func:`krippendorff_alpha` take a matrix of
  targets (ratees, candidates, units) x raters, NaN where a rater gave no rating;
  :func:`icc` also takes a long frame (one row per rating).
* :func:`cohen_kappa` takes the two raters' codes as two vectors (or a two-column frame).
* :func:`rwg`, :func:`rwg_j` and :func:`icc_aggregation` take individual ratings in long
  form with a column naming the group (team, target) each rating belongs to.

Ratings need not be integer category codes (averaged or continuous ratings are common in
360 data), so input is checked here for being numeric and finite rather than against a
category set; a :class:`psychometrics.data.Responses` is accepted wherever a wide matrix is.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse, stats

from psychometrics._deprecation import keyword_only_after, renamed_arguments
from psychometrics._results import scalar_frame
from psychometrics.data import Responses
from psychometrics.errors import DataWarning, EstimationError, ResponseError

__all__ = [
    "icc",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "rwg",
    "rwg_j",
    "icc_aggregation",
    "KappaResult",
    "FleissKappaResult",
    "KrippendorffResult",
    "AggregationResult",
]

# Nominal/ordinal/ratio statistics build a codes x codes matrix; beyond this many distinct
# codes the data are continuous rather than categorical and the matrix would not fit.
_MAX_CODES = 5000

_ICC_DESCRIPTIONS = {
    "ICC1": "single rater, absolute agreement, one-way random",
    "ICC2": "single rater, absolute agreement, two-way random",
    "ICC3": "single rater, consistency, two-way mixed",
    "ICC1k": "mean of k raters, absolute agreement, one-way random",
    "ICC2k": "mean of k raters, absolute agreement, two-way random",
    "ICC3k": "mean of k raters, consistency, two-way mixed",
}


# --------------------------------------------------------------------------------------
# input checking
# --------------------------------------------------------------------------------------

def _warn(message: str, stacklevel: int = 3) -> None:
    warnings.warn(message, DataWarning, stacklevel=stacklevel)


def _show(value: Any) -> str:
    """repr of a label or cell value as the user wrote it (numpy scalars as plain numbers)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _numeric_frame(data: Any, what: str, prefix: str = "rater") -> pd.DataFrame:
    """A float64 copy of ``data`` (2-D) with every non-missing cell checked to be a number."""
    if isinstance(data, Responses):
        frame = data.frame
    elif isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, (np.ndarray, list, tuple)):
        array = _array(data, 2, what, "a 2-D table")
        frame = pd.DataFrame(array, columns=[f"{prefix}{j + 1}" for j in range(array.shape[1])])
    else:
        raise TypeError(f"{what}: expected a DataFrame, 2-D array or Responses, got {type(data).__name__}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ResponseError(f"{what}: the table is empty ({frame.shape[0]} rows x {frame.shape[1]} columns)")
    return _coerce(frame, what)


def _array(data: Any, ndim: int, what: str, expected: str) -> np.ndarray:
    """``data`` as an array of ``ndim`` dimensions; non-numbers stay objects for :func:`_coerce`."""
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        array = array.astype(object)
    if array.ndim != ndim:
        raise ResponseError(f"{what}: expected {expected}, got an array with {array.ndim} dimension(s)")
    return array


def _coerce(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    if all(pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes):
        values = frame.to_numpy(dtype=np.float64)
        bad = np.isinf(values)
    else:
        # Text cells that do not parse as numbers become NaN here and are caught below.
        values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        bad = (np.isnan(values) & frame.notna().to_numpy()) | np.isinf(values)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise ResponseError(
            f"{what}: row {_show(frame.index[row])} (row {row}), column {_show(frame.columns[col])} "
            f"(column {col}): value {_show(frame.iat[row, col])} is not a finite number"
        )
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)


def _numeric_vector(data: Any, what: str) -> pd.Series:
    if isinstance(data, pd.DataFrame):
        if data.shape[1] != 1:
            raise ResponseError(f"{what}: expected one column of ratings, got {data.shape[1]} columns")
        data = data.iloc[:, 0]
    if isinstance(data, pd.Series):
        series = data
    else:
        series = pd.Series(_array(data, 1, what, "a 1-D sequence of ratings"))
    return _coerce(series.to_frame(name=what), what).iloc[:, 0]


def _require_columns(frame: pd.DataFrame, names: dict[str, Any]) -> None:
    for argument, name in names.items():
        if name not in frame.columns:
            raise ResponseError(
                f"column {name!r} given as {argument}= is not in the frame (columns: {list(frame.columns)})"
            )


def _confidence(confidence_level: float) -> float:
    if not 0.0 < confidence_level < 1.0:
        raise ValueError("confidence_level (as ci must be, its former name) is a confidence level strictly "
                         f"between 0 and 1, got {confidence_level!r}")
    return float(confidence_level)


# --------------------------------------------------------------------------------------
# intraclass correlations (Shrout & Fleiss 1979)
# --------------------------------------------------------------------------------------

@keyword_only_after(1)
@renamed_arguments(ci="confidence_level")
def icc(ratings: pd.DataFrame | np.ndarray | Responses, *, confidence_level: float = 0.95,
        target: str | None = None, rater: str | None = None, rating: str | None = None) -> pd.DataFrame:
    r"""The six Shrout-Fleiss intraclass correlations with F tests and confidence intervals.

    Parameters
    ----------
    ratings : DataFrame, ndarray or Responses
        Wide: targets (ratees) in rows, raters in columns, NaN for a missing rating.
        Long: one row per rating, when ``target``, ``rater`` and ``rating`` name its columns.
    confidence_level : float
        Confidence level of the intervals.
    target, rater, rating : str, optional
        Column names of a long-format frame; give all three or none.

    Returns
    -------
    DataFrame
        Indexed by ``type`` (ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k) with columns
        ``description``, ``estimate``, ``f``, ``df1``, ``df2``, ``p``, ``ci_low``,
        ``ci_high``, as in ``psych::ICC``. ``frame.attrs`` holds ``n_targets``,
        ``n_raters``, ``n_dropped`` and the mean squares ``ms_targets``, ``ms_raters``,
        ``ms_within``, ``ms_error``.

    Notes
    -----
    Missing ratings: a target with any missing rating is dropped (with a
    :class:`~psychometrics.errors.DataWarning`) because the mean squares below need a
    complete targets x raters table; the result equals ``psych::ICC(na.omit(x),
    lmer = FALSE)``. (psych's default ``lmer = TRUE`` instead estimates variance
    components from every rating with a mixed model, which is not done here.)

    With :math:`n` targets, :math:`k` raters and the two-way ANOVA mean squares for
    targets (:math:`MS_R`), raters (:math:`MS_C`), error (:math:`MS_E`) and within
    targets (:math:`MS_W`, raters and error pooled):

    .. math::

        ICC1 &= \frac{MS_R - MS_W}{MS_R + (k-1) MS_W}, \qquad
        ICC1k = \frac{MS_R - MS_W}{MS_R} \\
        ICC2 &= \frac{MS_R - MS_E}{MS_R + (k-1) MS_E + k (MS_C - MS_E)/n}, \qquad
        ICC2k = \frac{MS_R - MS_E}{MS_R + (MS_C - MS_E)/n} \\
        ICC3 &= \frac{MS_R - MS_E}{MS_R + (k-1) MS_E}, \qquad
        ICC3k = \frac{MS_R - MS_E}{MS_R}

    F tests: :math:`F = MS_R/MS_W` on :math:`(n-1, n(k-1))` df for ICC1/ICC1k and
    :math:`F = MS_R/MS_E` on :math:`(n-1, (n-1)(k-1))` df otherwise. Intervals for ICC1
    and ICC3 invert these F ratios; the ICC2 interval uses Satterthwaite's approximate
    df [2]_ (the same formulas as ``psych::ICC``).

    References
    ----------
    .. [1] Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: Uses in
           assessing rater reliability. Psychological Bulletin, 86(2), 420-428.
    .. [2] McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass
           correlation coefficients. Psychological Methods, 1(1), 30-46.

    Examples
    --------
    >>> import numpy as np
    >>> table = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
    ...                   [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    >>> icc(table)["estimate"].round(2).tolist()
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    """
    level = _confidence(confidence_level)
    long_keys = {"target": target, "rater": rater, "rating": rating}
    if any(v is not None for v in long_keys.values()):
        missing = [k for k, v in long_keys.items() if v is None]
        if missing:
            raise ValueError(f"long-format ICC needs target=, rater= and rating=; missing {missing}")
        wide = _long_to_wide(ratings, target, rater, rating)  # type: ignore[arg-type]
    else:
        wide = _numeric_frame(ratings, "ratings")

    values = wide.to_numpy()
    complete = ~np.isnan(values).any(axis=1)
    n_dropped = int((~complete).sum())
    if values.shape[1] < 2:
        raise ResponseError(f"ICC needs at least 2 raters (columns), got {values.shape[1]}")
    if n_dropped:
        dropped = ", ".join(_show(t) for t in wide.index[~complete][:5])
        more = ", ..." if n_dropped > 5 else ""
        _warn(f"ICC: dropped {n_dropped} of {len(wide)} targets with a missing rating "
              f"(targets {dropped}{more})")
    values = values[complete]
    n, k = values.shape
    if n < 2:
        raise ResponseError(f"ICC needs at least 2 targets rated by every rater, got {n}")

    grand = values.mean()
    row_means = values.mean(axis=1)
    col_means = values.mean(axis=0)
    ss_total = float(((values - grand) ** 2).sum())
    if ss_total == 0.0:
        raise EstimationError("ICC is undefined: every rating is identical (no variance)")
    ss_rows = k * float(((row_means - grand) ** 2).sum())
    ss_cols = n * float(((col_means - grand) ** 2).sum())
    ss_error = max(ss_total - ss_rows - ss_cols, 0.0)
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    msw = (ss_cols + ss_error) / (n * (k - 1))

    alpha = 1.0 - level
    df1, df_w, df_e = n - 1, n * (k - 1), (n - 1) * (k - 1)
    # Perfectly consistent raters give MS_E = 0: F is infinite and ICC3 is 1; inf and
    # nan are the honest values there, so the arithmetic is left to IEEE rules.
    with np.errstate(divide="ignore", invalid="ignore"):
        msr_a, msc_a, mse_a, msw_a = (np.float64(v) for v in (msr, msc, mse, msw))
        icc1 = (msr_a - msw_a) / (msr_a + (k - 1) * msw_a)
        icc2 = (msr_a - mse_a) / (msr_a + (k - 1) * mse_a + k * (msc_a - mse_a) / n)
        icc3 = (msr_a - mse_a) / (msr_a + (k - 1) * mse_a)
        icc1k = (msr_a - msw_a) / msr_a
        icc2k = (msr_a - mse_a) / (msr_a + (msc_a - mse_a) / n)
        icc3k = (msr_a - mse_a) / msr_a
        f1 = msr_a / msw_a
        f3 = msr_a / mse_a
        p1 = stats.f.sf(f1, df1, df_w)
        p3 = stats.f.sf(f3, df1, df_e)

        f1_low = f1 / stats.f.ppf(1 - alpha / 2, df1, df_w)
        f1_high = f1 * stats.f.ppf(1 - alpha / 2, df_w, df1)
        f3_low = f3 / stats.f.ppf(1 - alpha / 2, df1, df_e)
        f3_high = f3 * stats.f.ppf(1 - alpha / 2, df_e, df1)
        ci1 = ((f1_low - 1) / (f1_low + k - 1), (f1_high - 1) / (f1_high + k - 1))
        ci3 = ((f3_low - 1) / (f3_low + k - 1), (f3_high - 1) / (f3_high + k - 1))
        ci1k = (1 - 1 / f1_low, 1 - 1 / f1_high)
        ci3k = (1 - 1 / f3_low, 1 - 1 / f3_high)

        # Satterthwaite df for the ICC2 interval (McGraw & Wong 1996, case 2A).
        fj = msc_a / mse_a
        a_term = k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2
        v_num = (k - 1) * (n - 1) * a_term ** 2
        v_den = (n - 1) * k ** 2 * icc2 ** 2 * fj ** 2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        v = v_num / v_den
        f_star_high = stats.f.ppf(1 - alpha / 2, n - 1, v)
        f_star_low = stats.f.ppf(1 - alpha / 2, v, n - 1)
        common = k * msc_a + (k * n - k - n) * mse_a
        low2 = n * (msr_a - f_star_high * mse_a) / (f_star_high * common + n * msr_a)
        high2 = n * (f_star_low * msr_a - mse_a) / (common + n * f_star_low * msr_a)
        ci2 = (low2, high2)
        ci2k = (low2 * k / (1 + low2 * (k - 1)), high2 * k / (1 + high2 * (k - 1)))

    rows = [
        ("ICC1", icc1, f1, df1, df_w, p1, ci1),
        ("ICC2", icc2, f3, df1, df_e, p3, ci2),
        ("ICC3", icc3, f3, df1, df_e, p3, ci3),
        ("ICC1k", icc1k, f1, df1, df_w, p1, ci1k),
        ("ICC2k", icc2k, f3, df1, df_e, p3, ci2k),
        ("ICC3k", icc3k, f3, df1, df_e, p3, ci3k),
    ]
    result = pd.DataFrame(
        {
            "description": [_ICC_DESCRIPTIONS[r[0]] for r in rows],
            "estimate": [float(r[1]) for r in rows],
            "f": [float(r[2]) for r in rows],
            "df1": [float(r[3]) for r in rows],
            "df2": [float(r[4]) for r in rows],
            "p": [float(r[5]) for r in rows],
            "ci_low": [float(r[6][0]) for r in rows],
            "ci_high": [float(r[6][1]) for r in rows],
        },
        index=pd.Index([r[0] for r in rows], name="type"),
    )
    result.attrs.update(n_targets=n, n_raters=k, n_dropped=n_dropped, ci=level,
                        ms_targets=msr, ms_raters=msc, ms_error=mse, ms_within=msw)
    return result


def _long_to_wide(frame: Any, target: str, rater: str, rating: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"long-format ratings must be a DataFrame, got {type(frame).__name__}")
    _require_columns(frame, {"target": target, "rater": rater, "rating": rating})
    values = _coerce(frame[[rating]], "ratings")[rating]
    keys = frame[[target, rater]]
    if keys.isna().any().any():
        row = int(np.flatnonzero(keys.isna().any(axis=1).to_numpy())[0])
        raise ResponseError(f"ratings: row {_show(frame.index[row])} (row {row}) has no {target!r} or {rater!r} label")
    duplicated = keys.duplicated(keep=False).to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise ResponseError(
            f"ratings: target {_show(keys.iat[row, 0])} is rated more than once by rater {_show(keys.iat[row, 1])} "
            f"(row {row} and others); the ICC needs one rating per target and rater"
        )
    long = pd.DataFrame({"target": keys[target].to_numpy(), "rater": keys[rater].to_numpy(),
                         "rating": values.to_numpy()})
    wide = long.pivot(index="target", columns="rater", values="rating")
    wide.index.name = target
    wide.columns.name = rater
    return wide.astype(np.float64)


# --------------------------------------------------------------------------------------
# Cohen's kappa
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KappaResult:
    """Cohen's (weighted) kappa for two raters.

    Attributes
    ----------
    kappa : float
        The (weighted) kappa.
    se : float
        Large-sample standard error (Fleiss, Cohen & Everitt 1969), not assuming kappa = 0.
    ci_low, ci_high : float
        Normal-theory interval ``kappa -/+ z * se``, clipped to [-1, 1].
    observed : float
        (Weighted) proportion of agreement.
    expected : float
        (Weighted) proportion of agreement expected by chance from the margins.
    n : int
        Number of targets rated by both raters.
    weights : str
        "none", "linear", "quadratic" or "custom".
    categories : tuple
        The category codes, in the order of the agreement table.
    table : ndarray
        Counts, rater 1 in rows, rater 2 in columns.
    """

    kappa: float
    se: float
    ci_low: float
    ci_high: float
    observed: float
    expected: float
    n: int
    weights: str
    categories: tuple[float, ...]
    table: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """The scalar results as one row (for code; :meth:`summary` is for people)."""
        return scalar_frame(self)

    def summary(self) -> str:
        label = "kappa" if self.weights == "none" else f"{self.weights}-weighted kappa"
        return (f"Cohen's {label} = {self.kappa:.3f} (SE {self.se:.3f}, "
                f"CI {self.ci_low:.3f} to {self.ci_high:.3f}), n = {self.n}, "
                f"{len(self.categories)} categories")


@renamed_arguments(ci="confidence_level")
def cohen_kappa(rater1: Any, rater2: Any = None, *,
                weights: Literal["linear", "quadratic"] | np.ndarray | None = None,
                categories: Any = None, confidence_level: float = 0.95) -> KappaResult:
    r"""Cohen's kappa, unweighted or weighted, with a standard error and confidence interval.

    Parameters
    ----------
    rater1, rater2 : array-like
        The codes the two raters gave to the same targets (aligned by position), NaN for
        a missing rating. ``rater2`` may be omitted when ``rater1`` is a two-column frame.
    weights : None, "linear", "quadratic" or ndarray
        Agreement weights. Linear and quadratic weights use the numeric distance between
        codes, :math:`w_{ij} = 1 - |x_i - x_j| / (x_{max} - x_{min})` and its square
        version (``psych::cohen.kappa`` uses category positions instead; the two agree for
        consecutive integer codes); a square array gives agreement weights (1 on the
        diagonal) directly, rows and columns in the order of the sorted categories.
    categories : sequence of numbers, optional
        All admissible codes (include codes nobody used, they change the weights);
        default: the codes observed. A rating outside them raises a ResponseError.
    confidence_level : float
        Confidence level.

    Notes
    -----
    Targets missing either rating are dropped. With the agreement proportions
    :math:`p_{ij}` (rater 1 gave :math:`i`, rater 2 :math:`j`), margins :math:`p_{i.}`,
    :math:`p_{.j}` and weights :math:`w_{ij}` (identity when unweighted):

    .. math::

        p_o = \sum_{ij} w_{ij} p_{ij}, \quad p_e = \sum_{ij} w_{ij} p_{i.} p_{.j}, \quad
        \kappa = \frac{p_o - p_e}{1 - p_e}

    and the large-sample variance [2]_, with
    :math:`\bar w_{i.} = \sum_j p_{.j} w_{ij}`, :math:`\bar w_{.j} = \sum_i p_{i.} w_{ij}`:

    .. math::

        \operatorname{var}(\kappa) = \frac{\sum_{ij} p_{ij} [w_{ij}(1-p_e) -
        (\bar w_{i.} + \bar w_{.j})(1-p_o)]^2 - (p_o p_e - 2p_e + p_o)^2}{n (1-p_e)^4}

    Unweighted estimates, variances and intervals agree with ``psych::cohen.kappa``;
    so do weighted estimates, but psych's weighted variance differs from this formula,
    which is checked against an independent computation instead.

    References
    ----------
    .. [1] Cohen, J. (1968). Weighted kappa. Psychological Bulletin, 70(4), 213-220.
    .. [2] Fleiss, J. L., Cohen, J., & Everitt, B. S. (1969). Large sample standard errors
           of kappa and weighted kappa. Psychological Bulletin, 72(5), 323-327.
    """
    level = _confidence(confidence_level)
    if rater2 is None:
        both = _numeric_frame(rater1, "ratings")
        if both.shape[1] != 2:
            raise ResponseError(f"Cohen's kappa compares 2 raters; the table has {both.shape[1]} columns")
        x, y = both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()
    else:
        x = _numeric_vector(rater1, "rater1").to_numpy()
        y = _numeric_vector(rater2, "rater2").to_numpy()
        if len(x) != len(y):
            raise ResponseError(f"rater1 has {len(x)} ratings but rater2 has {len(y)}; "
                                f"they must rate the same targets")
    if categories is not None:
        codes = np.unique(np.asarray(categories, dtype=np.float64))
        for name, r in (("rater1", x), ("rater2", y)):
            outside = ~np.isnan(r) & ~np.isin(r, codes)
            if outside.any():
                at = int(np.flatnonzero(outside)[0])
                raise ResponseError(f"{name}: rating {_show(r[at])} at position {at} is not among "
                                    f"categories {codes.tolist()}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 2:
        raise ResponseError(f"Cohen's kappa needs at least 2 targets rated by both raters, got {n}")
    if categories is None:
        codes = np.unique(np.concatenate([x, y]))
    q = len(codes)
    if q < 2:
        raise EstimationError(f"Cohen's kappa is undefined: both raters used only code {codes[0]:g}")

    cell = np.searchsorted(codes, x) * q + np.searchsorted(codes, y)
    table = np.bincount(cell, minlength=q * q).reshape(q, q).astype(np.float64)
    w, label = _kappa_weights(weights, codes)
    kappa, se = _kappa_from_table(table, w)
    z = stats.norm.ppf(0.5 + level / 2)
    low, high = max(kappa - float(z) * se, -1.0), min(kappa + float(z) * se, 1.0)
    p = table / n
    observed = float((w * p).sum())
    expected = float((w * np.outer(p.sum(1), p.sum(0))).sum())
    return KappaResult(kappa=kappa, se=se, ci_low=low, ci_high=high, observed=observed,
                       expected=expected, n=n, weights=label, categories=tuple(codes.tolist()),
                       table=table)


def _kappa_weights(weights: Any, codes: np.ndarray) -> tuple[np.ndarray, str]:
    q = len(codes)
    if weights is None:
        return np.eye(q), "none"
    if isinstance(weights, str):
        distance = np.abs(codes[:, None] - codes[None, :]) / (codes[-1] - codes[0])
        if weights == "linear":
            return 1.0 - distance, "linear"
        if weights == "quadratic":
            return 1.0 - distance ** 2, "quadratic"
        raise ValueError(f"weights must be None, 'linear', 'quadratic' or a {q}x{q} array, got {weights!r}")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (q, q):
        raise ValueError(f"a weight matrix must be {q}x{q} for categories {codes.tolist()}, got shape {w.shape}")
    return w, "custom"


def _kappa_from_table(table: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    n = table.sum()
    p = table / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    po = float((w * p).sum())
    pe = float((w * np.outer(rows, cols)).sum())
    if pe >= 1.0:
        raise EstimationError("kappa is undefined: chance agreement is 1 (each rater used a single, "
                              "identical code)")
    kappa = (po - pe) / (1.0 - pe)
    w_row = w @ cols          # \bar w_{i.}
    w_col = rows @ w          # \bar w_{.j}
    inner = w * (1.0 - pe) - (w_row[:, None] + w_col[None, :]) * (1.0 - po)
    var = ((p * inner ** 2).sum() - (po * pe - 2.0 * pe + po) ** 2) / (n * (1.0 - pe) ** 4)
    # Perfect agreement makes the variance 0 up to rounding, which can fall just below 0.
    return float(kappa), float(np.sqrt(max(var, 0.0)))


# --------------------------------------------------------------------------------------
# Fleiss' kappa
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FleissKappaResult:
    """Fleiss' kappa for many raters.

    Attributes
    ----------
    kappa : float
    observed : float
        Mean proportion of agreeing rater pairs per subject, :math:`\\bar P`.
    expected : float
        Chance agreement :math:`\\bar P_e = \\sum_j p_j^2`.
    se0, z, p : float
        Standard error under kappa = 0 (Fleiss, Nee & Landis 1979), z = kappa / se0 and
        its two-sided p-value; NaN when subjects have different numbers of ratings.
    n_subjects : int
        Subjects with at least two ratings.
    n_raters : float
        Ratings per subject (mean when it varies).
    category_proportions : Series
        :math:`p_j`, indexed by category code.
    """

    kappa: float
    observed: float
    expected: float
    se0: float
    z: float
    p: float
    n_subjects: int
    n_raters: float
    category_proportions: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """The scalar results as one row (for code; :meth:`summary` is for people)."""
        return scalar_frame(self)

    def summary(self) -> str:
        return (f"Fleiss' kappa = {self.kappa:.3f} (z = {self.z:.2f}, p = {self.p:.3g}), "
                f"{self.n_subjects} subjects, {self.n_raters:g} ratings per subject")


def fleiss_kappa(ratings: pd.DataFrame | np.ndarray | Responses, *, counts: bool = False,
                 categories: Any = None) -> FleissKappaResult:
    r"""Fleiss' kappa: chance-corrected agreement of many raters on nominal codes.

    Parameters
    ----------
    ratings : DataFrame, ndarray or Responses
        Subjects x raters of category codes (NaN = not rated), or with ``counts=True``
        subjects x categories of counts (how many raters put the subject in each category;
        the column labels are the categories).
    counts : bool
        Whether ``ratings`` is a count table.
    categories : sequence of numbers, optional
        Admissible codes (subjects x raters input only); a code outside raises a ResponseError.

    Notes
    -----
    With :math:`n_{ij}` raters putting subject :math:`i` into category :math:`j` and
    :math:`r_i = \sum_j n_{ij}` ratings of subject :math:`i`:

    .. math::

        P_i = \frac{\sum_j n_{ij}(n_{ij}-1)}{r_i (r_i - 1)}, \quad
        \bar P = \operatorname{mean}_{i: r_i \ge 2} P_i, \quad
        p_j = \operatorname{mean}_i \frac{n_{ij}}{r_i}, \quad
        \kappa = \frac{\bar P - \sum_j p_j^2}{1 - \sum_j p_j^2}

    With the same number of raters for every subject this is Fleiss' (1971) kappa; with
    missing ratings it is Gwet's (2014) generalisation (subjects with one rating count
    towards :math:`p_j` only). The null standard error, for a constant number of raters
    :math:`r` and :math:`N` subjects, with :math:`q_j = 1 - p_j`, is

    .. math::

        se_0 = \frac{\sqrt{2}}{\sum_j p_j q_j \sqrt{N r (r-1)}}
        \sqrt{\Bigl(\sum_j p_j q_j\Bigr)^2 - \sum_j p_j q_j (q_j - p_j)}

    References
    ----------
    .. [1] Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters.
           Psychological Bulletin, 76(5), 378-382.
    .. [2] Fleiss, J. L., Nee, J. C. M., & Landis, J. R. (1979). Large sample variance of
           kappa in the case of different sets of raters. Psychological Bulletin, 86(5), 974-977.
    .. [3] Gwet, K. L. (2014). Handbook of Inter-Rater Reliability (4th ed.), ch. 2.
    """
    table = _numeric_frame(ratings, "counts" if counts else "ratings", "category" if counts else "rater")
    if counts:
        if categories is not None:
            raise ValueError("categories= applies to subjects x raters codes; the columns of a count "
                             "table are its categories")
        n_ij = table.to_numpy()
        bad = np.isnan(n_ij) | (n_ij < 0) | (n_ij != np.round(n_ij))
        if bad.any():
            row, col = (int(v) for v in np.argwhere(bad)[0])
            raise ResponseError(f"counts: row {_show(table.index[row])} (row {row}), category "
                                f"{_show(table.columns[col])}: value {_show(table.iat[row, col])} is not a "
                                f"non-negative whole count")
        labels = list(table.columns)
    else:
        values = table.to_numpy()
        if values.shape[1] < 2:
            raise ResponseError(f"Fleiss' kappa needs at least 2 raters (columns), got {values.shape[1]}")
        observed = values[~np.isnan(values)]
        if observed.size == 0:
            raise ResponseError("ratings: every rating is missing")
        if categories is None:
            codes = np.unique(observed)
        else:
            codes = np.unique(np.asarray(categories, dtype=np.float64))
            outside = ~np.isnan(values) & ~np.isin(values, codes)
            if outside.any():
                row, col = (int(v) for v in np.argwhere(outside)[0])
                raise ResponseError(f"ratings: subject {_show(table.index[row])} (row {row}), rater "
                                    f"{_show(table.columns[col])}: code {values[row, col]:g} is not among "
                                    f"categories {codes.tolist()}")
        if len(codes) > _MAX_CODES:
            raise ResponseError(f"ratings: {len(codes)} distinct codes; Fleiss' kappa is for nominal "
                                f"categories (at most {_MAX_CODES})")
        n_ij = _category_counts(values, codes)
        labels = codes.tolist()

    r_i = n_ij.sum(axis=1)
    rated = r_i > 0
    n_ij, r_i = n_ij[rated], r_i[rated]
    pairable = r_i >= 2
    if pairable.sum() < 2:
        raise ResponseError(f"Fleiss' kappa needs at least 2 subjects with 2 or more ratings, "
                            f"got {int(pairable.sum())}")
    if n_ij.shape[1] < 2:
        raise EstimationError(f"Fleiss' kappa is undefined with a single category ({_show(labels[0])})")
    p_i = (n_ij[pairable] * (n_ij[pairable] - 1)).sum(axis=1) / (r_i[pairable] * (r_i[pairable] - 1))
    p_bar = float(p_i.mean())
    p_j = (n_ij / r_i[:, None]).mean(axis=0)
    pe = float((p_j ** 2).sum())
    if pe >= 1.0:
        raise EstimationError("Fleiss' kappa is undefined: every rating falls in one category")
    kappa = (p_bar - pe) / (1.0 - pe)

    constant = bool(np.all(r_i == r_i[0]))
    if constant:
        big_n, r = float(len(r_i)), float(r_i[0])
        pq = p_j * (1.0 - p_j)
        s = pq.sum()
        var0 = 2.0 * (s ** 2 - (pq * ((1.0 - p_j) - p_j)).sum()) / (big_n * r * (r - 1.0) * s ** 2)
        se0 = float(np.sqrt(var0))
        z = kappa / se0
        p = float(2.0 * stats.norm.sf(abs(z)))
    else:
        se0 = z = p = float("nan")
    return FleissKappaResult(kappa=float(kappa), observed=p_bar, expected=pe, se0=se0, z=float(z), p=p,
                             n_subjects=int(pairable.sum()), n_raters=float(r_i[pairable].mean()),
                             category_proportions=pd.Series(p_j, index=pd.Index(labels, name="category"),
                                                            name="proportion"))


def _category_counts(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Units x codes counts of ``values`` (NaN ignored) by one bincount, no per-unit loop."""
    n_units = values.shape[0]
    observed = ~np.isnan(values)
    unit = np.broadcast_to(np.arange(n_units)[:, None], values.shape)[observed]
    code = np.searchsorted(codes, values[observed])
    flat = np.bincount(unit * len(codes) + code, minlength=n_units * len(codes))
    return flat.reshape(n_units, len(codes)).astype(np.float64)


# --------------------------------------------------------------------------------------
# Krippendorff's alpha
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KrippendorffResult:
    """Krippendorff's alpha.

    Attributes
    ----------
    alpha : float
    level : str
        Metric: "nominal", "ordinal", "interval" or "ratio".
    observed_disagreement, expected_disagreement : float
        :math:`D_o` and :math:`D_e`; alpha = 1 - D_o / D_e.
    n_units : int
        Units with at least two values (pairable units).
    n_values : int
        Pairable values, :math:`n_{..}`.
    """

    alpha: float
    level: str
    observed_disagreement: float
    expected_disagreement: float
    n_units: int
    n_values: int

    def to_frame(self) -> pd.DataFrame:
        """The scalar results as one row (for code; :meth:`summary` is for people)."""
        return scalar_frame(self)

    def summary(self) -> str:
        return (f"Krippendorff's alpha ({self.level}) = {self.alpha:.3f}, "
                f"{self.n_units} units, {self.n_values} pairable values")


def krippendorff_alpha(data: pd.DataFrame | np.ndarray | Responses,
                       level: Literal["nominal", "ordinal", "interval", "ratio"] = "nominal", *,
                       orientation: Literal["units_by_coders", "coders_by_units"] = "units_by_coders",
                       ) -> KrippendorffResult:
    r"""Krippendorff's alpha reliability for any number of coders, with missing values.

    Parameters
    ----------
    data : DataFrame, ndarray or Responses
        By default units (the rated things) in rows and coders in columns, NaN where a
        coder gave no value. Pass ``orientation="coders_by_units"`` for the transposed
        layout of Krippendorff's papers (coders in rows).
    level : {"nominal", "ordinal", "interval", "ratio"}
        Metric of the values.
    orientation : {"units_by_coders", "coders_by_units"}
        Layout of ``data``.

    Notes
    -----
    Only pairable values count: units with fewer than two values are dropped. With
    :math:`n_{uc}` the number of coders giving value :math:`c` to unit :math:`u` and
    :math:`m_u` the values in unit :math:`u`, the coincidence matrix is

    .. math::

        o_{ck} = \sum_u \frac{n_{uc} (n_{uk} - [c = k])}{m_u - 1}, \quad
        n_c = \sum_k o_{ck}, \quad n = \sum_c n_c

    and

    .. math::

        \alpha = 1 - (n - 1) \frac{\sum_{c,k} o_{ck}\, \delta^2_{ck}}
        {\sum_{c,k} n_c n_k\, \delta^2_{ck}}

    with :math:`\delta^2_{ck}` = :math:`[c \ne k]` (nominal),
    :math:`(\sum_{g=c}^{k} n_g - (n_c + n_k)/2)^2` (ordinal), :math:`(c-k)^2` (interval)
    and :math:`((c-k)/(c+k))^2` (ratio). The interval case is computed from per-unit sums
    of values and squares, which equals the coincidence form exactly and needs no
    values x values matrix.

    References
    ----------
    .. [1] Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
           Annenberg School for Communication, University of Pennsylvania.
    .. [2] Hayes, A. F., & Krippendorff, K. (2007). Answering the call for a standard
           reliability measure for coding data. Communication Methods and Measures, 1(1), 77-89.
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"level must be 'nominal', 'ordinal', 'interval' or 'ratio', got {level!r}")
    if orientation not in ("units_by_coders", "coders_by_units"):
        raise ValueError(f"orientation must be 'units_by_coders' or 'coders_by_units', got {orientation!r}")
    frame = _numeric_frame(data, "data")
    values = frame.to_numpy()
    if orientation == "coders_by_units":
        values = values.T
    if values.shape[1] < 2:
        raise ResponseError(f"Krippendorff's alpha needs at least 2 coders, got {values.shape[1]} "
                            f"(is orientation={orientation!r} right?)")
    if np.isnan(values).all():
        raise ResponseError("data: every value is missing")
    if level == "ratio" and (values[~np.isnan(values)] < 0).any():
        raise ResponseError("data: ratio-level alpha needs non-negative values; found "
                            f"{values[~np.isnan(values) & (values < 0)][0]:g}")

    m_u = (~np.isnan(values)).sum(axis=1)
    values = values[m_u >= 2]
    m_u = m_u[m_u >= 2]
    if len(m_u) == 0:
        raise ResponseError("Krippendorff's alpha needs at least one unit with 2 or more values; "
                            "every unit has at most one")
    n_total = float(m_u.sum())

    if level == "interval":
        # Over the ordered pairs of m values, sum (x_i - x_j)^2 = 2 m sum (x_i - mean)^2;
        # deviations from means avoid the cancellation of raw sums of squares.
        observed = ~np.isnan(values)
        filled = np.where(observed, values, 0.0)
        unit_mean = filled.sum(axis=1) / m_u
        unit_ss = (np.where(observed, values - unit_mean[:, None], 0.0) ** 2).sum(axis=1)
        d_o = float((2.0 * m_u * unit_ss / (m_u - 1)).sum()) / n_total
        pooled = values[observed]
        pooled_ss = float(((pooled - pooled.mean()) ** 2).sum())
        d_e = 2.0 * n_total * pooled_ss / (n_total * (n_total - 1.0))
    else:
        codes = np.unique(values[~np.isnan(values)])
        if len(codes) > _MAX_CODES:
            raise ResponseError(f"data: {len(codes)} distinct values; {level}-level alpha needs a values x "
                                f"values matrix and allows at most {_MAX_CODES} (round the values, or use "
                                f"level='interval', which has no such limit)")
        coincidence = _coincidence_matrix(values, codes, m_u)
        n_c = coincidence.sum(axis=1)
        delta2 = _krippendorff_distance(level, codes, n_c)
        d_o = float((coincidence * delta2).sum()) / n_total
        d_e = float((np.outer(n_c, n_c) * delta2).sum()) / (n_total * (n_total - 1.0))
    if d_e <= 0.0:
        raise EstimationError("Krippendorff's alpha is undefined: all pairable values are identical "
                              "(no expected disagreement)")
    return KrippendorffResult(alpha=1.0 - d_o / d_e, level=level, observed_disagreement=d_o,
                              expected_disagreement=d_e, n_units=int(len(m_u)), n_values=int(n_total))


def _coincidence_matrix(values: np.ndarray, codes: np.ndarray, m_u: np.ndarray) -> np.ndarray:
    """Values x values coincidences; the units x values counts are kept sparse so that many
    units with many distinct values never form a dense units x values array."""
    observed = ~np.isnan(values)
    unit = np.broadcast_to(np.arange(values.shape[0])[:, None], values.shape)[observed]
    code = np.searchsorted(codes, values[observed])
    shape = (values.shape[0], len(codes))
    counts = sparse.csr_matrix((np.ones(unit.size), (unit, code)), shape=shape)  # duplicates add up
    weighted = sparse.diags(1.0 / (m_u - 1.0)) @ counts
    coincidence = (weighted.T @ counts).toarray()
    coincidence -= np.diag(np.asarray(weighted.sum(axis=0)).ravel())
    return coincidence


def _krippendorff_distance(level: str, codes: np.ndarray, n_c: np.ndarray) -> np.ndarray:
    if level == "nominal":
        return 1.0 - np.eye(len(codes))
    if level == "ordinal":
        cumulative = np.cumsum(n_c) - n_c / 2.0   # sum_{g<=c} n_g - n_c/2
        return (cumulative[:, None] - cumulative[None, :]) ** 2
    total = codes[:, None] + codes[None, :]
    diff = codes[:, None] - codes[None, :]
    safe = np.where(total == 0.0, 1.0, total)
    return np.where(total == 0.0, 0.0, (diff / safe) ** 2)


# --------------------------------------------------------------------------------------
# within-group agreement and aggregation
# --------------------------------------------------------------------------------------

def _null_variance(n_options: int, null: Any) -> float:
    if isinstance(null, str):
        if null != "uniform":
            raise ValueError(f"null must be 'uniform' or a positive expected error variance, got {null!r}")
        if not isinstance(n_options, (int, np.integer)) or n_options < 2:
            raise ValueError(f"n_options must be an integer >= 2 (response options), got {n_options!r}")
        return (float(n_options) ** 2 - 1.0) / 12.0
    variance = float(null)
    if not variance > 0.0:
        raise ValueError(f"an expected error variance given as null= must be positive, got {null!r}")
    return variance


def _grouped(ratings: Any, group: str | None, columns: list[str] | None, what: str) -> tuple[pd.DataFrame, pd.Series]:
    """Numeric rating columns and group labels (one group 'all' when ``group`` is None)."""
    if isinstance(ratings, (pd.Series, list, tuple)) or (isinstance(ratings, np.ndarray) and ratings.ndim == 1):
        if group is not None:
            raise ValueError("group= needs a DataFrame holding the group column")
        values = _numeric_vector(ratings, what).to_frame(name="rating")
        labels = pd.Series("all", index=values.index)
        return values, labels
    frame = ratings.frame if isinstance(ratings, Responses) else ratings
    if not isinstance(frame, (pd.DataFrame, np.ndarray)):
        raise TypeError(f"{what}: expected a DataFrame, array or Series, got {type(ratings).__name__}")
    if isinstance(frame, np.ndarray):
        frame = pd.DataFrame(frame, columns=[f"item{j + 1}" for j in range(frame.shape[1])])
    if frame.shape[0] == 0:
        raise ResponseError(f"{what}: the table has no rows")
    if group is not None:
        _require_columns(frame, {"group": group})
        labels = frame[group]
        if labels.isna().any():
            row = int(np.flatnonzero(labels.isna().to_numpy())[0])
            raise ResponseError(f"{what}: row {_show(frame.index[row])} (row {row}) has no {group!r} label")
    else:
        labels = pd.Series("all", index=frame.index)
    if columns is None:
        columns = [c for c in frame.columns if c != group]
    else:
        for column in columns:
            _require_columns(frame, {"items": column})
    if not columns:
        raise ResponseError(f"{what}: no rating columns besides the group column {group!r}")
    values = _coerce(frame[columns], what)
    return values, labels


def rwg(ratings: Any, n_options: int, *, group: str | None = None, value: str | None = None,
        null: Literal["uniform"] | float = "uniform") -> pd.DataFrame:
    r"""Within-group agreement :math:`r_{wg}` on a single item (James, Demaree & Wolf 1984).

    Parameters
    ----------
    ratings : DataFrame, Series or 1-D array
        Individual ratings. A DataFrame in long form holds one row per rater, the group
        (team, target) in column ``group`` and the rating in column ``value``. A 1-D
        input is one group.
    n_options : int
        Number of response options :math:`A` of the rating scale.
    group, value : str, optional
        Column names. ``value`` may be omitted when the frame has one column besides ``group``.
    null : "uniform" or float
        Null (no-agreement) distribution: "uniform" gives :math:`\sigma^2_{EU} = (A^2-1)/12`;
        a number is used as the expected error variance directly (e.g. a skewed null).

    Returns
    -------
    DataFrame
        Indexed by group with columns ``n`` (non-missing ratings), ``mean``, ``variance``
        (sample variance, ddof 1) and ``rwg``.

    Notes
    -----
    .. math:: r_{wg} = 1 - s^2 / \sigma^2_E

    Values below 0 (more variance than the null) are truncated to 0, as is conventional
    [2]_. Missing ratings are ignored; a group with fewer than two ratings gets NaN and a
    :class:`~psychometrics.errors.DataWarning`.

    References
    ----------
    .. [1] James, L. R., Demaree, R. G., & Wolf, G. (1984). Estimating within-group
           interrater reliability with and without response bias. Journal of Applied
           Psychology, 69(1), 85-98.
    .. [2] LeBreton, J. M., & Senter, J. L. (2008). Answers to 20 questions about interrater
           reliability and interrater agreement. Organizational Research Methods, 11(4), 815-852.
    """
    sigma2 = _null_variance(n_options, null)
    values, labels = _grouped(ratings, group, [value] if value is not None else None, "ratings")
    if values.shape[1] != 1:
        raise ValueError(f"rwg is for one item; name the rating column with value= "
                         f"(candidates: {list(values.columns)}) or use rwg_j for a multi-item scale")
    column = values.iloc[:, 0]
    if column.isna().all():
        raise ResponseError("ratings: every rating is missing")
    grouped = column.groupby(labels.to_numpy(), sort=True)
    out = pd.DataFrame({"n": grouped.count(), "mean": grouped.mean(), "variance": grouped.var(ddof=1)})
    out.index.name = group if group is not None else "group"
    _warn_small_groups(out["n"])
    out["rwg"] = np.clip(1.0 - out["variance"].to_numpy() / sigma2, 0.0, None)
    out["n"] = out["n"].astype(int)
    return out


def rwg_j(ratings: Any, n_options: int, *, group: str | None = None, items: list[str] | None = None,
          null: Literal["uniform"] | float = "uniform") -> pd.DataFrame:
    r"""Within-group agreement :math:`r_{wg(J)}` on a scale of :math:`J` parallel items.

    Parameters
    ----------
    ratings : DataFrame or 2-D array
        One row per rater, the items in columns, and (optionally) the group in column
        ``group``; without ``group`` all rows are one group.
    n_options : int
        Number of response options :math:`A` of every item.
    group : str, optional
        Column with the group (team, target) label.
    items : list of str, optional
        Item columns; default every column except ``group``.
    null : "uniform" or float
        As in :func:`rwg`.

    Returns
    -------
    DataFrame
        Indexed by group with columns ``n`` (raters with at least one rating),
        ``n_items``, ``mean_variance`` and ``rwg_j``.

    Notes
    -----
    With :math:`\bar s^2` the mean over items of the within-group item variances:

    .. math::

        r_{wg(J)} = \frac{J (1 - \bar s^2/\sigma^2_E)}{J (1 - \bar s^2/\sigma^2_E) + \bar s^2/\sigma^2_E}

    When :math:`\bar s^2 \ge \sigma^2_E` the formula leaves [0, 1] and the value is set
    to 0, the conventional truncation [2]_. Item variances use the ratings available on
    each item (missing ratings ignored); an item with fewer than two ratings in a group
    is left out of that group's mean, and a group with no such item gets NaN.

    References
    ----------
    .. [1] James, L. R., Demaree, R. G., & Wolf, G. (1984). Estimating within-group
           interrater reliability with and without response bias. Journal of Applied
           Psychology, 69(1), 85-98.
    .. [2] LeBreton, J. M., & Senter, J. L. (2008). Answers to 20 questions about interrater
           reliability and interrater agreement. Organizational Research Methods, 11(4), 815-852.
    """
    sigma2 = _null_variance(n_options, null)
    if isinstance(ratings, (pd.Series, list, tuple)) or (isinstance(ratings, np.ndarray) and ratings.ndim == 1):
        raise ValueError("rwg_j needs a 2-D table of raters x items; use rwg for a single item")
    values, labels = _grouped(ratings, group, items, "ratings")
    if values.shape[1] < 2:
        raise ValueError(f"rwg_j needs at least 2 items, got {values.shape[1]}; use rwg for a single item")
    if values.isna().all().all():
        raise ResponseError("ratings: every rating is missing")
    key = labels.to_numpy()
    variances = values.groupby(key, sort=True).var(ddof=1)
    n_raters = values.notna().any(axis=1).groupby(key, sort=True).sum()
    mean_var = variances.mean(axis=1, skipna=True)
    n_items = variances.notna().sum(axis=1)
    out = pd.DataFrame({"n": n_raters.astype(int), "n_items": n_items.astype(int), "mean_variance": mean_var})
    out.index.name = group if group is not None else "group"
    _warn_small_groups(out["n"])
    ratio = out["mean_variance"].to_numpy() / sigma2
    j = out["n_items"].to_numpy().astype(np.float64)
    with np.errstate(invalid="ignore"):
        agreement = j * (1.0 - ratio)
        value = agreement / (agreement + ratio)
    value = np.where(ratio >= 1.0, 0.0, value)
    value = np.where(np.isnan(ratio), np.nan, value)
    out["rwg_j"] = value
    return out


def _warn_small_groups(n: pd.Series) -> None:
    small = n.index[n.to_numpy() < 2]
    if len(small):
        shown = ", ".join(_show(g) for g in small[:5])
        _warn(f"{len(small)} group(s) have fewer than 2 ratings, agreement is NaN there "
              f"(groups {shown}{', ...' if len(small) > 5 else ''})", stacklevel=4)


@dataclass(frozen=True)
class AggregationResult:
    """ICC(1) and ICC(2) from a one-way ANOVA of individual ratings on groups (Bliese 2000).

    Attributes
    ----------
    icc1 : float
        Share of rating variance due to group membership (reliability of one rating).
    icc2 : float
        Reliability of the group means.
    f, df1, df2, p : float
        One-way ANOVA F test of group differences.
    ms_between, ms_within : float
    n_groups, n_obs : int
    group_size : float
        The :math:`k` used in ICC(1): mean group size, or :math:`n_0` for "adjusted".
    """

    icc1: float
    icc2: float
    f: float
    df1: float
    df2: float
    p: float
    ms_between: float
    ms_within: float
    n_groups: int
    n_obs: int
    group_size: float

    def summary(self) -> str:
        return (f"ICC(1) = {self.icc1:.3f}, ICC(2) = {self.icc2:.3f}; F({self.df1:g}, {self.df2:g}) = "
                f"{self.f:.2f}, p = {self.p:.3g}; {self.n_groups} groups, {self.n_obs} ratings")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])


def icc_aggregation(frame: pd.DataFrame, *, group: str, value: str,
                    group_size: Literal["mean", "adjusted"] = "mean") -> AggregationResult:
    r"""ICC(1) and ICC(2) for aggregating individual ratings to groups or targets.

    Parameters
    ----------
    frame : DataFrame
        Long form: one row per individual rating.
    group, value : str
        Column names of the group (team, ratee) label and of the rating.
    group_size : {"mean", "adjusted"}
        :math:`k` in ICC(1): the mean group size :math:`N/G` (as in Bliese's ``multilevel``
        package) or the ANOVA-adjusted size
        :math:`n_0 = (N - \sum_g n_g^2 / N) / (G - 1)` for unequal groups.

    Notes
    -----
    Rows with a missing rating are dropped. From the one-way ANOVA mean squares between
    (:math:`MS_B`, df :math:`G-1`) and within groups (:math:`MS_W`, df :math:`N-G`):

    .. math::

        ICC(1) = \frac{MS_B - MS_W}{MS_B + (k - 1) MS_W}, \qquad
        ICC(2) = \frac{MS_B - MS_W}{MS_B}

    References
    ----------
    .. [1] Bliese, P. D. (2000). Within-group agreement, non-independence, and reliability:
           Implications for data aggregation and analysis. In K. J. Klein & S. W. J. Kozlowski
           (Eds.), Multilevel theory, research, and methods in organizations (pp. 349-381).
    .. [2] McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass
           correlation coefficients. Psychological Methods, 1(1), 30-46.
    """
    if group_size not in ("mean", "adjusted"):
        raise ValueError(f"group_size must be 'mean' or 'adjusted', got {group_size!r}")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"icc_aggregation needs a long DataFrame, got {type(frame).__name__}")
    values, labels = _grouped(frame, group, [value], "frame")
    y = values.iloc[:, 0]
    keep = y.notna().to_numpy()
    y, key = y.to_numpy()[keep], labels.to_numpy()[keep]
    if y.size == 0:
        raise ResponseError(f"frame: every value in {value!r} is missing")
    codes, index = np.unique(key, return_inverse=True)
    n_groups, n_obs = len(codes), len(y)
    if n_groups < 2:
        raise ResponseError(f"icc_aggregation needs at least 2 groups with ratings, got {n_groups}")
    if n_obs <= n_groups:
        raise ResponseError(f"icc_aggregation needs some group with 2 or more ratings "
                            f"({n_obs} ratings in {n_groups} groups)")
    sizes = np.bincount(index).astype(np.float64)
    means = np.bincount(index, weights=y) / sizes
    grand = y.mean()
    ss_between = float((sizes * (means - grand) ** 2).sum())
    ss_within = float(((y - means[index]) ** 2).sum())
    df1, df2 = n_groups - 1.0, float(n_obs - n_groups)
    msb, msw = ss_between / df1, ss_within / df2
    if msb == 0.0 and msw == 0.0:
        raise EstimationError("ICC(1)/ICC(2) are undefined: every rating is identical")
    if group_size == "mean":
        k = n_obs / n_groups
    else:
        k = (n_obs - (sizes ** 2).sum() / n_obs) / df1
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.float64(msb) / np.float64(msw)
        icc2 = (np.float64(msb) - msw) / np.float64(msb)
    icc1 = (msb - msw) / (msb + (k - 1.0) * msw)
    return AggregationResult(icc1=float(icc1), icc2=float(icc2), f=float(f), df1=df1, df2=df2,
                             p=float(stats.f.sf(f, df1, df2)), ms_between=msb, ms_within=msw,
                             n_groups=n_groups, n_obs=n_obs, group_size=float(k))
