r"""Mantel-Haenszel DIF for dichotomous items and its polytomous generalizations.

Persons are stratified on the (prorated, rounded) matching score; within each score stratum
:math:`k` the reference and focal groups' answers to the studied item form a 2 x T table.

Dichotomous items (codes ordered, the higher code counts as "correct"): with :math:`A_k, B_k`
the reference group's correct/incorrect counts, :math:`C_k, D_k` the focal group's, :math:`n_{Rk},
n_{Fk}` the group sizes, :math:`m_{1k}, m_{0k}` the correct/incorrect totals and :math:`N_k` the
stratum size,

.. math::

    \hat\alpha_{MH} = \frac{\sum_k A_k D_k / N_k}{\sum_k B_k C_k / N_k}, \qquad
    \Delta_{MH} = -2.35 \ln \hat\alpha_{MH}

    \chi^2_{MH} = \frac{\left(\left|\sum_k A_k - \sum_k E(A_k)\right| - \tfrac12\right)^2}
                       {\sum_k \operatorname{Var}(A_k)}, \quad
    E(A_k) = \frac{n_{Rk} m_{1k}}{N_k}, \quad
    \operatorname{Var}(A_k) = \frac{n_{Rk} n_{Fk} m_{1k} m_{0k}}{N_k^2 (N_k - 1)}

(the half is dropped when ``correct=False`` or when the difference is below one half, as R's
``mantelhaen.test`` does). :math:`\hat\alpha_{MH} > 1` (negative :math:`\Delta_{MH}`) means the
item favours the reference group. The standard error of :math:`\ln\hat\alpha_{MH}` is that of
Robins, Breslow & Greenland (1986), and :math:`SE(\Delta) = 2.35\,SE(\ln\hat\alpha)`.

ETS classes (Zwick, 2012): **A** when :math:`\chi^2_{MH}` is not significant at .05 or
:math:`|\Delta| < 1`; **C** when :math:`|\Delta| \ge 1.5` and :math:`|\Delta|` is significantly
greater than 1 (one-sided at .05: :math:`(|\Delta| - 1)/SE > 1.645`); **B** otherwise.

Polytomous items: the Mantel (1963) test of the focal group's summed item scores,

.. math::

    \chi^2_{M} = \frac{\left(\sum_k F_k - \sum_k E(F_k)\right)^2}{\sum_k \operatorname{Var}(F_k)}, \quad
    F_k = \sum_t y_t n_{Ftk}, \quad E(F_k) = \frac{n_{Fk}}{N_k}\sum_t y_t n_{+tk},

    \operatorname{Var}(F_k) = \frac{n_{Rk} n_{Fk}}{N_k^2 (N_k - 1)}
        \left[N_k \sum_t y_t^2 n_{+tk} - \left(\sum_t y_t n_{+tk}\right)^2\right]

with one degree of freedom, or the generalized Mantel-Haenszel test (Somes, 1986) of the
focal counts in the first T - 1 categories, with T - 1 degrees of freedom. The standardized mean
difference :math:`SMD = \sum_k w_{Fk}(\bar y_{Fk} - \bar y_{Rk})`, weights the focal group's
share of each stratum that holds both groups, is positive when the item favours the focal group.
Zwick, Thayer & Mazzeo (1997) classes, with :math:`ES = SMD / SD` (SD of the item in the
analysed persons): **AA** when the Mantel test is not significant at .05 or :math:`|ES| \le .17`;
**CC** when it is significant and :math:`|ES| > .25`; **BB** otherwise.

References
----------
.. [1] Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from
       retrospective studies of disease. Journal of the National Cancer Institute, 22, 719-748.
.. [2] Holland, P. W., & Thayer, D. T. (1988). Differential item performance and the
       Mantel-Haenszel procedure. In H. Wainer & H. I. Braun (Eds.), Test Validity (pp. 129-145).
.. [3] Mantel, N. (1963). Chi-square tests with one degree of freedom: extensions of the
       Mantel-Haenszel procedure. JASA, 58, 690-700.
.. [4] Somes, G. W. (1986). The generalized Mantel-Haenszel statistic. The American
       Statistician, 40, 106-108.
.. [5] Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the Mantel-Haenszel
       variance consistent in both sparse data and large-strata limiting models.
       Biometrics, 42, 311-323.
.. [6] Zwick, R., Thayer, D. T., & Mazzeo, J. (1997). Descriptive and inferential procedures
       for assessing differential item functioning in polytomous items. Applied Measurement
       in Education, 10, 321-344.
.. [7] Zwick, R. (2012). A review of ETS differential item functioning assessment procedures.
       ETS Research Report RR-12-08.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from psychometrics._deprecation import renamed_arguments
from psychometrics._blas import one_blas_thread
from psychometrics.dif._common import (
    MIN_GROUP_SIZE,
    Adjust,
    Matching,
    run_comparisons,
    setup_comparisons,
)
from psychometrics.errors import DataWarning

__all__ = ["ets_class", "mantel_haenszel", "mantel_haenszel_table", "ztm_class"]

_LOG_TO_DELTA = -2.35
_Z_ONE_SIDED_05 = stats.norm.ppf(0.95)


@renamed_arguments(level="alpha")
def ets_class(delta: Any, delta_se: Any, p: Any, *, alpha: float = 0.05) -> np.ndarray:
    """ETS A/B/C category of Mantel-Haenszel delta values (see the module notes)."""
    delta = np.abs(np.asarray(delta, dtype=np.float64))
    delta_se = np.asarray(delta_se, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    z_crit = stats.norm.ppf(1 - alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        beyond_one = np.where(delta_se > 0, (delta - 1.0) / np.where(delta_se > 0, delta_se, 1.0), np.inf)
    out = np.where((p >= alpha) | (delta < 1.0), "A",
                   np.where((delta >= 1.5) & (beyond_one > z_crit), "C", "B")).astype(object)
    out[np.isnan(delta) | np.isnan(p)] = None
    return out


@renamed_arguments(level="alpha")
def ztm_class(effect: Any, p: Any, *, alpha: float = 0.05) -> np.ndarray:
    """Zwick-Thayer-Mazzeo AA/BB/CC category from SMD/SD and the Mantel p-value."""
    effect = np.abs(np.asarray(effect, dtype=np.float64))
    p = np.asarray(p, dtype=np.float64)
    out = np.where((p >= alpha) | (effect <= 0.17), "AA", np.where(effect > 0.25, "CC", "BB")).astype(object)
    out[np.isnan(effect) | np.isnan(p)] = None
    return out


def mantel_haenszel_table(table: Any, *, scores: Any = None, correct: bool = True) -> dict[str, float]:
    """Mantel-Haenszel statistics of one stratified group x category table.

    Parameters
    ----------
    table : array-like (n_strata, 2, n_categories)
        Counts; axis 1 is (reference, focal), axis 2 the item's categories in increasing order.
    scores : array-like (n_categories,), optional
        Category scores for the Mantel test and SMD (default 0, 1, ...).
    correct : bool
        Continuity correction of the 2 x 2 x K test.

    Returns
    -------
    dict
        For two categories: ``chi2_mh``, ``p_mh``, ``alpha_mh``, ``delta_mh``, ``log_alpha_se``,
        ``delta_se``; always ``chi2_mantel``, ``p_mantel``, ``chi2_gmh``, ``df_gmh``, ``p_gmh``,
        ``smd``, ``sd``, ``n_reference``, ``n_focal``.
    """
    tab = np.asarray(table, dtype=np.float64)
    if tab.ndim != 3 or tab.shape[1] != 2 or tab.shape[2] < 2:
        raise ValueError(f"table must have shape (strata, 2, categories >= 2), got {tab.shape}")
    n_categories = tab.shape[2]
    y = np.arange(n_categories, dtype=np.float64) if scores is None else np.asarray(scores, dtype=np.float64)
    n_group = tab.sum(axis=2)  # (K, 2)
    n_r, n_f = n_group[:, 0], n_group[:, 1]
    margin = tab.sum(axis=1)  # (K, T)
    total = n_r + n_f
    # Strata with fewer than two persons, or with one group only, carry no information.
    use = (total >= 2) & (n_r > 0) & (n_f > 0)
    n_r, n_f, total, margin, sub = n_r[use], n_f[use], total[use], margin[use], tab[use]
    out: dict[str, float] = {"n_reference": float(n_group[:, 0].sum()), "n_focal": float(n_group[:, 1].sum())}

    # Mantel (1963) on the scores
    focal_sum = sub[:, 1, :] @ y
    margin_sum = margin @ y
    margin_sq = margin @ (y * y)
    expected = n_f * margin_sum / total
    factor = n_r * n_f / (total * total * (total - 1.0))
    variance = factor * (total * margin_sq - margin_sum**2)
    diff = float(focal_sum.sum() - expected.sum())
    var_sum = float(variance.sum())
    out["chi2_mantel"] = diff * diff / var_sum if var_sum > 0 else np.nan
    out["p_mantel"] = float(stats.chi2.sf(out["chi2_mantel"], 1)) if var_sum > 0 else np.nan

    # Generalized MH on the focal counts of the first T - 1 categories
    observed = sub[:, 1, :-1].sum(axis=0)
    expected_counts = (n_f[:, None] * margin[:, :-1] / total[:, None]).sum(axis=0)
    m = margin[:, :-1]
    cov = np.einsum("k,kt,ts->ts", factor * total, m, np.eye(n_categories - 1)) \
        - np.einsum("k,kt,ks->ts", factor, m, m)
    rank = int(np.linalg.matrix_rank(cov)) if cov.size else 0
    if rank > 0:
        d = observed - expected_counts
        out["chi2_gmh"] = float(d @ np.linalg.pinv(cov, hermitian=True) @ d)
        out["df_gmh"] = float(rank)
        out["p_gmh"] = float(stats.chi2.sf(out["chi2_gmh"], rank))
    else:
        out["chi2_gmh"], out["df_gmh"], out["p_gmh"] = np.nan, np.nan, np.nan

    # Standardized mean difference, focal weights over strata holding both groups
    n_f_all = n_f.sum()
    if n_f_all > 0:
        mean_f = (sub[:, 1, :] @ y) / n_f
        mean_r = (sub[:, 0, :] @ y) / n_r
        out["smd"] = float((n_f / n_f_all) @ (mean_f - mean_r))
    else:
        out["smd"] = np.nan
    counts = tab.sum(axis=(0, 1))
    n_all = counts.sum()
    if n_all > 1:
        mean = counts @ y / n_all
        out["sd"] = float(np.sqrt(counts @ (y - mean) ** 2 / (n_all - 1)))
    else:
        out["sd"] = np.nan

    if n_categories == 2:
        a, b = sub[:, 0, 1], sub[:, 0, 0]
        c, d_ = sub[:, 1, 1], sub[:, 1, 0]
        r = a * d_ / total
        s = b * c / total
        r_sum, s_sum = float(r.sum()), float(s.sum())
        e_a = n_r * margin[:, 1] / total
        v_a = n_r * n_f * margin[:, 1] * margin[:, 0] / (total * total * (total - 1.0))
        delta = float(a.sum() - e_a.sum())
        v_sum = float(v_a.sum())
        yates = 0.5 if correct and abs(delta) >= 0.5 else 0.0
        if v_sum > 0:
            out["chi2_mh"] = (abs(delta) - yates) ** 2 / v_sum
            out["p_mh"] = float(stats.chi2.sf(out["chi2_mh"], 1))
        else:
            out["chi2_mh"], out["p_mh"] = np.nan, np.nan
        if r_sum > 0 and s_sum > 0:
            alpha = r_sum / s_sum
            pp = (a + d_) / total
            qq = (b + c) / total
            var_log = ((pp * r).sum() / (2 * r_sum**2) + (pp * s + qq * r).sum() / (2 * r_sum * s_sum)
                       + (qq * s).sum() / (2 * s_sum**2))
            out["alpha_mh"] = alpha
            out["delta_mh"] = _LOG_TO_DELTA * float(np.log(alpha))
            out["log_alpha_se"] = float(np.sqrt(var_log))
            out["delta_se"] = 2.35 * out["log_alpha_se"]
        else:
            # An empty cell sum makes the odds ratio 0 or infinite: no finite effect size.
            out["alpha_mh"] = np.inf if r_sum > 0 else (0.0 if s_sum > 0 else np.nan)
            out["delta_mh"] = -np.inf if r_sum > 0 else (np.inf if s_sum > 0 else np.nan)
            out["log_alpha_se"] = np.nan
            out["delta_se"] = np.nan
    return out


@one_blas_thread
@renamed_arguments(max_iterations="max_iter")
def mantel_haenszel(responses: Any, group: Any, *, focal: Any = None, reference: Any = None,
                    purify: bool = False, matching: Matching = "total", alpha: float = 0.05,
                    adjust: Adjust = "holm", correct: bool = True,
                    polytomous: Literal["mantel", "gmh"] = "mantel",
                    min_group_size: int = MIN_GROUP_SIZE, max_iter: int = 10) -> pd.DataFrame:
    """Mantel-Haenszel DIF of every item, each focal group against the reference group.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items, NaN for missing.
    group : array-like, Series or str
        Group label per person (a Series is aligned on the respondent ids when its index holds
        them all), or the name of a column of ``responses`` / of its metadata.
    focal : label or list of labels, optional
        Focal groups (default: every group but the reference).
    reference : label, optional
        Reference group (default: the largest group).
    purify : bool
        Iteratively drop flagged items from the matching score
        (:mod:`psychometrics.dif.purification`).
    matching : {"total", "rest"}
        Whether the studied item counts in its own matching score (see
        :mod:`psychometrics.dif._common` for the missing-data rule).
    alpha : float
        Significance level of ``flag``.
    adjust : {"holm", "bh", "none"}
        p-value adjustment over the items of one comparison.
    correct : bool
        Continuity correction of the dichotomous MH test.
    polytomous : {"mantel", "gmh"}
        Test reported as ``chi2``/``p`` for items with more than two categories: the Mantel
        (1963) 1-df test of the item score, or the generalized MH test (T - 1 df).
    min_group_size : int
        Smallest admissible size of a compared group (default 30).
    max_iter : int
        Of purification.

    Returns
    -------
    DataFrame
        Indexed by item (by focal group and item when there are several focal groups):
        ``reference``, ``focal``, ``n_reference``, ``n_focal``, ``n_categories``, ``chi2``,
        ``df``, ``p``, ``p_adjusted``, ``flag``, ``alpha_mh``, ``delta_mh``, ``delta_se``
        (NaN for polytomous items), ``smd``, ``smd_effect`` (SMD / item SD), ``dif_class`` (ETS
        A/B/C for dichotomous items, AA/BB/CC for polytomous ones), ``anchor`` (item in the
        final matching set). ``attrs`` records the reference group and purification passes.

    Raises
    ------
    ResponseError
        A single group, missing group labels, a group smaller than ``min_group_size``, group
        labels of the wrong length, an unknown reference or focal label.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> theta = rng.normal(size=400)
    >>> x = (rng.random((400, 5)) < 1 / (1 + np.exp(-(theta[:, None] - np.linspace(-1, 1, 5))))) * 1.0
    >>> table = mantel_haenszel(pd.DataFrame(x), np.repeat(["m", "f"], 200))
    >>> list(table.columns[:4])
    ['reference', 'focal', 'n_reference', 'n_focal']
    """
    if polytomous not in ("mantel", "gmh"):
        raise ValueError(f"polytomous must be 'mantel' or 'gmh', got {polytomous!r}")
    data, groups, all_positions, codes = setup_comparisons(
        responses, group, focal=focal, reference=reference, alpha=alpha, adjust=adjust, matching=matching,
        min_group_size=min_group_size)
    item_ids = data.item_ids

    def compute(values: np.ndarray, scores: np.ndarray, in_group: np.ndarray, anchors: np.ndarray,
                rows: np.ndarray) -> dict[str, np.ndarray]:
        positions = all_positions[rows]
        n_items = values.shape[1]
        cols = {name: np.full(n_items, np.nan) for name in
                ("n_reference", "n_focal", "n_categories", "chi2", "df", "p", "alpha_mh", "delta_mh",
                 "delta_se", "smd", "smd_effect", "p_class")}
        empty = []
        for j in range(n_items):
            n_cat = len(codes[j])
            cols["n_categories"][j] = n_cat
            valid = (in_group >= 0) & (positions[:, j] >= 0) & ~np.isnan(scores[:, j])
            g = in_group[valid]
            if n_cat < 2 or not (g == 0).any() or not (g == 1).any():
                empty.append(item_ids[j])
                cols["n_reference"][j] = (g == 0).sum()
                cols["n_focal"][j] = (g == 1).sum()
                continue
            # Round half up so that prorated scores fall into the integer strata.
            strata = np.floor(scores[valid, j] + 0.5)
            strata = (strata - strata.min()).astype(np.intp)
            n_strata = int(strata.max()) + 1
            cell = (strata * 2 + g) * n_cat + positions[valid, j]
            table = np.bincount(cell, minlength=n_strata * 2 * n_cat).reshape(n_strata, 2, n_cat)
            res = mantel_haenszel_table(table, scores=codes[j], correct=correct)
            cols["n_reference"][j] = res["n_reference"]
            cols["n_focal"][j] = res["n_focal"]
            cols["smd"][j] = res["smd"]
            if res["sd"] > 0:
                cols["smd_effect"][j] = res["smd"] / res["sd"]
            if n_cat == 2:
                cols["chi2"][j], cols["df"][j], cols["p"][j] = res["chi2_mh"], 1.0, res["p_mh"]
                cols["p_class"][j] = res["p_mh"]
                for name in ("alpha_mh", "delta_mh", "delta_se"):
                    cols[name][j] = res[name]
            else:
                cols["p_class"][j] = res["p_mantel"]
                if polytomous == "mantel":
                    cols["chi2"][j], cols["df"][j], cols["p"][j] = res["chi2_mantel"], 1.0, res["p_mantel"]
                else:
                    cols["chi2"][j], cols["df"][j], cols["p"][j] = res["chi2_gmh"], res["df_gmh"], res["p_gmh"]
        if empty:
            warnings.warn(f"no DIF statistic for item(s) {', '.join(map(repr, empty))}: fewer than two "
                          "categories, or no answers from one of the compared groups", DataWarning,
                          stacklevel=4)
        dichotomous = cols["n_categories"] == 2
        cls = np.where(dichotomous, ets_class(cols["delta_mh"], cols["delta_se"], cols["p_class"]),
                       ztm_class(cols["smd_effect"], cols["p_class"]))
        cls[np.isnan(cols.pop("p_class"))] = None
        cols["dif_class"] = cls
        for name in ("n_reference", "n_focal", "n_categories"):
            cols[name] = cols[name].astype(np.int64)
        return cols

    order = ["reference", "focal", "n_reference", "n_focal", "n_categories", "chi2", "df", "p", "p_adjusted",
             "flag", "alpha_mh", "delta_mh", "delta_se", "smd", "smd_effect", "dif_class", "anchor"]
    return run_comparisons(data, groups, compute, matching=matching, adjust=adjust, alpha=alpha,
                           purify_items=purify, max_iter=max_iter, column_order=order)
