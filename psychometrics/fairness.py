r"""Group comparisons of scores for fairness reporting: distributions, standardized mean
differences and adverse impact at a cut score.

Both functions take one score per person (a Series, array or one-column DataFrame; NaN scores
are left out) and a group label per person (missing labels are an error), and return a
DataFrame indexed by group. The reference group is stated or chosen as documented per
function; ``attrs`` records it.

References
----------
.. [1] Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences (2nd ed.).
.. [2] Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and
       related estimators. Journal of Educational Statistics, 6, 107-128.
.. [3] Equal Employment Opportunity Commission et al. (1978). Uniform Guidelines on Employee
       Selection Procedures, 29 CFR 1607.4(D) (the four-fifths rule).
.. [4] Morris, S. B., & Lobsenz, R. E. (2000). Significance tests and confidence intervals
       for the adverse impact ratio. Personnel Psychology, 53, 89-111.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from psychometrics.data import format_label
from psychometrics.errors import ResponseError
from psychometrics.groups import resolve_groups

__all__ = ["adverse_impact", "group_summary"]


def _scores_and_groups(scores: Any, group: Any, reference: Any = None) -> tuple[np.ndarray, np.ndarray, list[Any], int]:
    """Scores as float64, group codes, the levels and the reference group
    (:func:`psychometrics.groups.resolve_groups`: by default the largest group)."""
    if isinstance(scores, pd.DataFrame):
        if scores.shape[1] != 1:
            raise ResponseError(f"scores must be one column, got a DataFrame with {scores.shape[1]} columns "
                                f"({', '.join(map(str, scores.columns[:5]))})")
        scores = scores.iloc[:, 0]
    if isinstance(scores, pd.Series):
        index = scores.index
        try:
            values = scores.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ResponseError("scores must be numeric") from None
    else:
        values = np.asarray(scores)
        if values.ndim != 1:
            raise ResponseError(f"scores must be one-dimensional, got shape {values.shape}")
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            raise ResponseError("scores must be numeric") from None
        index = pd.RangeIndex(values.size)
    if np.isinf(values).any():
        row = int(np.flatnonzero(np.isinf(values))[0])
        raise ResponseError(f"score of respondent {format_label(index[row])} (row {row}) is infinite")
    if isinstance(group, pd.Series) and isinstance(scores, pd.Series) and group.index.is_unique \
            and index.isin(group.index).all():
        labels = group.reindex(index).to_numpy(dtype=object)
    else:
        labels = np.asarray(group, dtype=object)
        if labels.ndim != 1 or labels.shape[0] != values.shape[0]:
            raise ResponseError(f"group has {labels.shape[0] if labels.ndim == 1 else labels.shape} entries "
                                f"but there are {values.shape[0]} scores")
    spec = resolve_groups(labels, index, reference=reference)
    return values, spec.codes, spec.labels, spec.reference


def _hedges_correction(df: np.ndarray) -> np.ndarray:
    """Exact small-sample factor J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))."""
    df = np.asarray(df, dtype=np.float64)
    out = np.full(df.shape, np.nan)
    ok = df > 1
    half = df[ok] / 2.0
    out[ok] = np.exp(special.gammaln(half) - special.gammaln(half - 0.5)) / np.sqrt(half)
    return out


def group_summary(scores: Any, group: Any, *, reference: Any = None,
                  quantiles: Sequence[float] = (0.10, 0.25, 0.50, 0.75, 0.90)) -> pd.DataFrame:
    r"""Score distribution per group and standardized mean differences against a reference.

    Parameters
    ----------
    scores : Series, array or one-column DataFrame
        One score per person; NaN scores are left out of every statistic.
    group : array-like or Series
        Group label per person (a Series is aligned on the scores' index when it holds it).
    reference : label, optional
        Group the others are compared with (default: the largest group).
    quantiles : sequence of float
        Quantiles reported per group (linear interpolation, as numpy's default).

    Returns
    -------
    DataFrame
        Indexed by group: ``n``, ``n_missing``, ``mean``, ``sd``, ``min``, one column per
        quantile (``q10``, ``q25``, ...), ``max``, ``d`` (Cohen's d against the reference,
        pooled SD), ``g`` (Hedges' g), ``is_reference``.

    Notes
    -----
    With groups :math:`g` and reference :math:`r`,

    .. math::

        d = \frac{\bar x_g - \bar x_r}{s_p}, \qquad
        s_p^2 = \frac{(n_g - 1)s_g^2 + (n_r - 1)s_r^2}{n_g + n_r - 2}, \qquad
        g = J(n_g + n_r - 2)\,d, \quad J(m) = \frac{\Gamma(m/2)}{\sqrt{m/2}\,\Gamma((m-1)/2)}

    (:math:`J(m) \approx 1 - 3/(4m - 1)`). Positive values mean the group scores higher than
    the reference. SDs use :math:`n - 1`.

    References
    ----------
    .. [1] Cohen (1988); Hedges (1981); see the module references.

    Examples
    --------
    >>> table = group_summary([1.0, 2.0, 3.0, 2.0, 3.0, 4.0], ["a", "a", "a", "b", "b", "b"])
    >>> round(float(table.loc["b", "d"]), 3)
    1.0
    """
    values, codes, names, ref = _scores_and_groups(scores, group, reference)
    quantiles = [float(q) for q in quantiles]
    if any(not 0 <= q <= 1 for q in quantiles):
        raise ValueError(f"quantiles must lie in [0, 1], got {quantiles}")
    observed = ~np.isnan(values)
    n_groups = len(names)
    n = np.bincount(codes[observed], minlength=n_groups).astype(np.float64)
    n_missing = np.bincount(codes[~observed], minlength=n_groups)
    total = np.bincount(codes[observed], weights=values[observed], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.where(n > 0, n, 1.0), np.nan)
        centred = values[observed] - mean[codes[observed]]
        ss = np.bincount(codes[observed], weights=centred * centred, minlength=n_groups)
        sd = np.where(n > 1, np.sqrt(ss / np.where(n > 1, n - 1, 1.0)), np.nan)
    if n[ref] < 2:
        raise ResponseError(f"reference group {format_label(names[ref])} has {int(n[ref])} non-missing "
                            "scores; a standardized difference needs at least 2")
    pooled_df = n + n[ref] - 2
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled_var = ((n - 1) * sd**2 + (n[ref] - 1) * sd[ref] ** 2) / np.where(pooled_df > 0, pooled_df, 1.0)
        d = np.where((pooled_var > 0) & (n > 1), (mean - mean[ref]) / np.sqrt(np.where(pooled_var > 0,
                                                                                         pooled_var, 1.0)), np.nan)
    g = d * _hedges_correction(pooled_df)
    # Quantiles need each group's sorted scores: one sort by (group, score) serves all groups.
    order = np.lexsort((values[observed], codes[observed]))
    sorted_values = values[observed][order]
    bounds = np.concatenate([[0], np.cumsum(n.astype(np.intp))])
    table: dict[str, Any] = {"n": n.astype(np.int64), "n_missing": n_missing.astype(np.int64), "mean": mean,
                             "sd": sd}
    minimum = np.full(n_groups, np.nan)
    maximum = np.full(n_groups, np.nan)
    qvalues = np.full((n_groups, len(quantiles)), np.nan)
    for k in range(n_groups):  # one slice per group, not per person
        chunk = sorted_values[bounds[k]:bounds[k + 1]]
        if chunk.size:
            minimum[k], maximum[k] = chunk[0], chunk[-1]
            qvalues[k] = np.quantile(chunk, quantiles)
    table["min"] = minimum
    for position, q in enumerate(quantiles):
        label = f"q{100 * q:g}".replace(".", "_")
        table[label] = qvalues[:, position]
    table["max"] = maximum
    table["d"] = d
    table["g"] = g
    table["is_reference"] = np.arange(n_groups) == ref
    frame = pd.DataFrame(table, index=pd.Index(names, name="group"))
    frame.attrs["reference"] = names[ref]
    return frame


def adverse_impact(scores: Any, group: Any, cut: float, *, reference: Any = None,
                   higher_passes: bool = True, threshold: float = 0.8) -> pd.DataFrame:
    r"""Pass rates at a cut score, impact ratios and the four-fifths rule, per group.

    Parameters
    ----------
    scores : Series, array or one-column DataFrame
        One score per person; persons with a NaN score are left out.
    group : array-like or Series
        Group label per person.
    cut : float
        Persons with ``score >= cut`` pass (``score <= cut`` when ``higher_passes=False``).
    reference : label, optional
        Group the others are compared with (default: the group with the highest pass rate,
        as the Uniform Guidelines compare with the most selected group).
    higher_passes : bool
        Direction of the cut.
    threshold : float
        Impact ratio below which ``adverse_impact`` is flagged (0.8: four-fifths rule).

    Returns
    -------
    DataFrame
        Indexed by group: ``n``, ``n_pass``, ``pass_rate``, ``impact_ratio`` (pass rate over
        the reference's), ``adverse_impact`` (ratio below ``threshold``), ``z`` and ``p_z``
        (pooled two-proportion z test against the reference, two-sided), ``p_fisher``
        (Fisher's exact test of the 2 x 2 table, two-sided), ``is_reference``.

    Notes
    -----
    .. math::

        IR_g = \frac{\hat p_g}{\hat p_r}, \qquad
        z = \frac{\hat p_g - \hat p_r}{\sqrt{\bar p(1 - \bar p)(1/n_g + 1/n_r)}}, \quad
        \bar p = \frac{x_g + x_r}{n_g + n_r}

    The z test is undefined (NaN) when nobody or everybody in the two groups passes.

    References
    ----------
    .. [1] Uniform Guidelines (1978); Morris & Lobsenz (2000); see the module references.

    Examples
    --------
    >>> table = adverse_impact([50, 60, 70, 80, 40, 45, 65, 75], list("aaaabbbb"), cut=60)
    >>> float(table.loc["b", "impact_ratio"])
    0.6666666666666666
    """
    values, codes, names, stated = _scores_and_groups(scores, group, reference)
    cut = float(cut)
    if not np.isfinite(cut):
        raise ValueError(f"cut must be a finite number, got {cut}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    observed = ~np.isnan(values)
    n_groups = len(names)
    n = np.bincount(codes[observed], minlength=n_groups).astype(np.float64)
    passed = (values >= cut) if higher_passes else (values <= cut)
    n_pass = np.bincount(codes[observed & passed], minlength=n_groups).astype(np.float64)
    empty = [names[k] for k in range(n_groups) if n[k] == 0]
    if empty:
        raise ResponseError(f"group(s) {', '.join(map(format_label, empty))} have no non-missing score")
    rate = n_pass / n
    # the four-fifths rule compares every group with the highest selection rate unless told
    ref = int(np.argmax(rate)) if reference is None else stated
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(rate[ref] > 0, rate / (rate[ref] if rate[ref] > 0 else 1.0), np.nan)
        pooled = (n_pass + n_pass[ref]) / (n + n[ref])
        se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / n[ref]))
        z = np.where(se > 0, (rate - rate[ref]) / np.where(se > 0, se, 1.0), np.nan)
    p_z = 2 * stats.norm.sf(np.abs(z))
    p_fisher = np.full(n_groups, np.nan)
    for k in range(n_groups):  # one 2 x 2 table per group
        if k == ref:
            continue
        table = [[n_pass[k], n[k] - n_pass[k]], [n_pass[ref], n[ref] - n_pass[ref]]]
        p_fisher[k] = stats.fisher_exact(np.asarray(table, dtype=np.int64)).pvalue
    z[ref], p_z[ref] = np.nan, np.nan
    frame = pd.DataFrame({
        "n": n.astype(np.int64), "n_pass": n_pass.astype(np.int64), "pass_rate": rate,
        "impact_ratio": ratio, "adverse_impact": np.nan_to_num(ratio, nan=1.0) < threshold,
        "z": z, "p_z": p_z, "p_fisher": p_fisher, "is_reference": np.arange(n_groups) == ref,
    }, index=pd.Index(names, name="group"))
    frame.attrs["reference"] = names[ref]
    frame.attrs["cut"] = cut
    frame.attrs["higher_passes"] = higher_passes
    return frame
