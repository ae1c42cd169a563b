r"""Logistic regression DIF: binary logistic and cumulative logit (proportional odds) models.

For each studied item three nested models are fitted on the persons of the reference and one
focal group who answered it, with :math:`S` the matching score (standardized; the tests do not
depend on its scale) and :math:`G` = 1 for the focal group:

.. math::

    M_1: \eta = \beta_1 S, \qquad M_2: \eta = \beta_1 S + \beta_2 G, \qquad
    M_3: \eta = \beta_1 S + \beta_2 G + \beta_3 S G

    P(Y \le k \mid \eta) = \frac{1}{1 + \exp\{-(\zeta_k - \eta)\}}, \quad k = 0, \dots, T - 2

(for a dichotomous item this is ordinary logistic regression with intercept :math:`-\zeta_0`).
Uniform DIF is the likelihood-ratio test of :math:`M_2` against :math:`M_1` (1 df), non-uniform
DIF of :math:`M_3` against :math:`M_2` (1 df), and the joint test :math:`M_3` against :math:`M_1`
(2 df). A positive ``coef_group`` (:math:`\beta_2` of :math:`M_2`) means the focal group tends
to higher categories than reference-group members with the same score.

Effect size: Nagelkerke's :math:`R^2_N = [1 - \exp\{2(\ell_0 - \ell)/n\}] / [1 - \exp(2\ell_0/n)]`
(:math:`\ell_0` the log-likelihood of the thresholds-only model) and its change between the
models compared. Jodoin & Gierl (2001) classes: **A** when the test is not significant at .05
or :math:`\Delta R^2_N < .035`; **B** when significant and :math:`.035 \le \Delta R^2_N < .070`;
**C** when significant and :math:`\Delta R^2_N \ge .070`.

The models are fitted by Newton-Raphson with step halving, batched over items (the
cumulative-logit log-likelihood is concave, Pratt 1981); categories an item's analysed persons
never chose are dropped for that item.

References
----------
.. [1] Swaminathan, H., & Rogers, H. J. (1990). Detecting differential item functioning
       using logistic regression procedures. Journal of Educational Measurement, 27, 361-370.
.. [2] Zumbo, B. D. (1999). A handbook on the theory and methods of differential item
       functioning (DIF): logistic regression modeling as a unitary framework for binary and
       Likert-type (ordinal) item scores. Ottawa: Department of National Defense.
.. [3] Jodoin, M. G., & Gierl, M. J. (2001). Evaluating type I error and power rates using an
       effect size measure with the logistic regression procedure for DIF detection. Applied
       Measurement in Education, 14, 329-349.
.. [4] Nagelkerke, N. J. D. (1991). A note on a general definition of the coefficient of
       determination. Biometrika, 78, 691-692.
.. [5] McCullagh, P. (1980). Regression models for ordinal data. JRSS B, 42, 109-142.
.. [6] Pratt, J. W. (1981). Concavity of the log likelihood. JASA, 76, 103-106.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats  # noqa: F401  (special: logit of the start values)

from psychometrics._deprecation import renamed_arguments
from psychometrics._numeric import TINY
from psychometrics._blas import one_blas_thread
from psychometrics.dif._common import (
    MIN_GROUP_SIZE,
    Adjust,
    Matching,
    run_comparisons,
    setup_comparisons,
)
from psychometrics.errors import ConvergenceWarning, DataWarning

__all__ = ["fit_cumulative_logit", "jodoin_gierl_class", "logistic"]

Test = Literal["both", "uniform", "nonuniform"]

# Items are fitted in batches holding at most this many person-item cells, so that the
# (items x persons x parameters) arrays of one Newton step stay a few tens of megabytes.
_BATCH_CELLS = 1_000_000


@renamed_arguments(level="alpha")
def jodoin_gierl_class(delta_r2: Any, p: Any, *, alpha: float = 0.05) -> np.ndarray:
    """Jodoin-Gierl A/B/C category from the change in Nagelkerke R^2 and the test's p-value."""
    delta_r2 = np.asarray(delta_r2, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    out = np.where((p >= alpha) | (delta_r2 < 0.035), "A", np.where(delta_r2 < 0.070, "B", "C")).astype(object)
    out[np.isnan(delta_r2) | np.isnan(p)] = None
    return out


def _logistic_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F(z) and 1 - F(z), each accurate in its own tail, from one exponential."""
    t = np.exp(-np.abs(z))
    inv = 1.0 / (1.0 + t)
    positive = z >= 0
    return np.where(positive, inv, t * inv), np.where(positive, t * inv, inv)


def _probabilities(upper: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, ...]:
    """F(upper) - F(lower) computed in the tail where it does not cancel, with the densities."""
    f_up, s_up = _logistic_pair(upper)
    f_lo, s_lo = _logistic_pair(lower)
    p = np.where(lower > 0, s_lo - s_up, f_up - f_lo)
    return np.maximum(p, TINY), f_up, f_lo, f_up * s_up, f_lo * s_lo


def _loglik(theta: np.ndarray, y: np.ndarray, x: np.ndarray, w: np.ndarray, n_thresholds: int) -> np.ndarray:
    zeta, beta = theta[:, :n_thresholds], theta[:, n_thresholds:]
    eta = np.einsum("jnp,jp->jn", x, beta)
    bounds = np.concatenate([np.full((theta.shape[0], 1), -np.inf), zeta,
                             np.full((theta.shape[0], 1), np.inf)], axis=1)
    upper = np.take_along_axis(bounds, y + 1, axis=1) - eta
    lower = np.take_along_axis(bounds, y, axis=1) - eta
    ordered = np.all(np.diff(zeta, axis=1) > 0, axis=1) if n_thresholds > 1 else np.ones(theta.shape[0], bool)
    p = _probabilities(upper, lower)[0]
    return np.where(ordered, (w * np.log(p)).sum(axis=1), -np.inf)


@renamed_arguments(max_iterations="max_iter")
def fit_cumulative_logit(y: np.ndarray, x: np.ndarray, weight: np.ndarray, n_categories: int, *,
                         start: np.ndarray | None = None, max_iter: int = 100,
                         tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Maximum-likelihood cumulative logit fits of several items at once.

    Parameters
    ----------
    y : int ndarray (n_items, n_persons)
        Category 0..T-1 (any value where ``weight`` is 0).
    x : ndarray (n_items, n_persons, n_covariates)
        Covariates (no constant column: the thresholds play its part).
    weight : ndarray (n_items, n_persons)
        Case weights, 0 for persons left out of an item.
    n_categories : int
        T; every category must be chosen by some weighted person.
    start : ndarray (n_items, T - 1 + n_covariates), optional
        Starting thresholds and slopes (default: the thresholds-only fit and zero slopes).

    Returns
    -------
    theta : ndarray (n_items, T - 1 + n_covariates)
        Thresholds :math:`\zeta` then slopes :math:`\beta`, with
        :math:`P(Y \le k) = \mathrm{logit}^{-1}(\zeta_k - x'\beta)`, as R's ``MASS::polr``.
    loglik : ndarray (n_items,)
    converged : bool ndarray (n_items,)
        The Newton decrement fell below ``tol``. Under complete separation the log-likelihood
        converges to its supremum while slopes grow; the decrement still falls, so the
        likelihood-ratio tests remain usable.
    """
    n_items, n_persons, n_cov = x.shape
    n_thr = n_categories - 1
    n_par = n_thr + n_cov
    if start is None:
        counts = np.stack([(weight * (y == k)).sum(axis=1) for k in range(n_categories)], axis=1)
        cumulative = np.cumsum(counts, axis=1)[:, :-1] / counts.sum(axis=1, keepdims=True)
        theta = np.concatenate([special.logit(cumulative), np.zeros((n_items, n_cov))], axis=1)
    else:
        theta = np.array(start, dtype=np.float64)
    loglik = _loglik(theta, y, x, weight, n_thr)
    converged = np.zeros(n_items, dtype=bool)
    thr_index = np.arange(n_thr)
    upper_onehot = (y[:, :, None] == thr_index).astype(np.float64)       # zeta_y is the upper bound
    lower_onehot = (y[:, :, None] - 1 == thr_index).astype(np.float64)   # zeta_{y-1} the lower one
    d_upper = np.concatenate([upper_onehot, -x], axis=2)
    d_lower = np.concatenate([lower_onehot, -x], axis=2)
    eye = np.eye(n_par)
    for _ in range(max_iter):
        active = ~converged
        if not active.any():
            break
        zeta, beta = theta[:, :n_thr], theta[:, n_thr:]
        eta = np.einsum("jnp,jp->jn", x, beta)
        bounds = np.concatenate([np.full((n_items, 1), -np.inf), zeta, np.full((n_items, 1), np.inf)], axis=1)
        upper = np.take_along_axis(bounds, y + 1, axis=1) - eta
        lower = np.take_along_axis(bounds, y, axis=1) - eta
        p, f_up, f_lo, dens_up, dens_lo = _probabilities(upper, lower)
        slope_up = dens_up * (1.0 - 2.0 * f_up)
        slope_lo = dens_lo * (1.0 - 2.0 * f_lo)
        g_up = weight * dens_up / p
        g_lo = -weight * dens_lo / p
        grad = (np.matmul(g_up[:, None, :], d_upper) + np.matmul(g_lo[:, None, :], d_lower))[:, 0, :]
        h_uu = weight * (slope_up / p - (dens_up / p) ** 2)
        h_ll = weight * (-slope_lo / p - (dens_lo / p) ** 2)
        h_ul = weight * dens_up * dens_lo / (p * p)
        d_upper_t = d_upper.transpose(0, 2, 1)
        d_lower_t = d_lower.transpose(0, 2, 1)
        cross = np.matmul(d_upper_t * h_ul[:, None, :], d_lower)
        hess = (np.matmul(d_upper_t * h_uu[:, None, :], d_upper)
                + np.matmul(d_lower_t * h_ll[:, None, :], d_lower)
                + cross + cross.transpose(0, 2, 1))
        information = -hess
        # A ridge far below the information's scale keeps the solve defined when a covariate
        # is constant or the data separate.
        scale = np.abs(np.diagonal(information, axis1=1, axis2=2)).max(axis=1) + 1.0
        step = np.linalg.solve(information + 1e-12 * scale[:, None, None] * eye, grad[:, :, None])[:, :, 0]
        decrement = np.einsum("jp,jp->j", grad, step)
        # Items whose decrement is below tol take this last full step and then stop.
        newly = active & (decrement < tol)
        size = np.where(active, 1.0, 0.0)
        trial_loglik = loglik.copy()
        for _ in range(40):
            trial = theta + size[:, None] * step
            trial_loglik = np.where(active, _loglik(trial, y, x, weight, n_thr), loglik)
            worse = active & ~(trial_loglik >= loglik - 1e-12 * np.abs(loglik))
            if not worse.any():
                break
            size = np.where(worse, size * 0.5, size)
        else:
            # No step improves the likelihood: it is at its maximum to machine precision.
            converged |= worse
            size = np.where(worse, 0.0, size)
            trial_loglik = np.where(worse, loglik, trial_loglik)
        theta = theta + size[:, None] * step
        loglik = trial_loglik
        converged |= newly
    return theta, loglik, converged


def _nagelkerke(loglik: np.ndarray, loglik0: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        cox_snell = 1.0 - np.exp(2.0 * (loglik0 - loglik) / n)
        maximum = 1.0 - np.exp(2.0 * loglik0 / n)
        return np.where(maximum > 0, cox_snell / np.where(maximum > 0, maximum, 1.0), np.nan)


def _fit_items(y: np.ndarray, score: np.ndarray, focal: np.ndarray, weight: np.ndarray,
               n_categories: int) -> dict[str, np.ndarray]:
    """Fit M1, M2, M3 for a batch of items sharing their number of categories."""
    x = np.stack([score, focal, score * focal], axis=2)
    n = weight.sum(axis=1)
    counts = np.stack([(weight * (y == k)).sum(axis=1) for k in range(n_categories)], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik0 = np.where(counts > 0, counts * np.log(np.where(counts > 0, counts, 1.0) / n[:, None]), 0.0).sum(1)
    theta1, ll1, ok1 = fit_cumulative_logit(y, x[:, :, :1], weight, n_categories)
    start2 = np.concatenate([theta1, np.zeros((len(n), 1))], axis=1)
    theta2, ll2, ok2 = fit_cumulative_logit(y, x[:, :, :2], weight, n_categories, start=start2)
    start3 = np.concatenate([theta2, np.zeros((len(n), 1))], axis=1)
    _theta3, ll3, ok3 = fit_cumulative_logit(y, x, weight, n_categories, start=start3)
    # Nested fits cannot lose likelihood; tiny negative differences are rounding.
    ll2 = np.maximum(ll2, ll1)
    ll3 = np.maximum(ll3, ll2)
    r2 = [_nagelkerke(ll, loglik0, n) for ll in (ll1, ll2, ll3)]
    return {"ll1": ll1, "ll2": ll2, "ll3": ll3, "r2_1": r2[0], "r2_2": r2[1], "r2_3": r2[2],
            "coef_group": theta2[:, -1], "converged": ok1 & ok2 & ok3}


@one_blas_thread
@renamed_arguments(max_iterations="max_iter")
def logistic(responses: Any, group: Any, *, focal: Any = None, reference: Any = None,
             test: Test = "both", purify: bool = False, matching: Matching = "total",
             alpha: float = 0.05, adjust: Adjust = "holm", min_group_size: int = MIN_GROUP_SIZE,
             max_iter: int = 10) -> pd.DataFrame:
    """Logistic-regression DIF of every item, each focal group against the reference group.

    Dichotomous items get binary logistic regression, polytomous items the cumulative logit
    (proportional odds) model; see the module notes for the models and classification.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items, NaN for missing.
    group : array-like, Series or str
        Group label per person, or the name of a column of ``responses`` / of its metadata.
    focal, reference : label, optional
        As in :func:`psychometrics.dif.mantel_haenszel` (default reference: the largest group).
    test : {"both", "uniform", "nonuniform"}
        Which likelihood-ratio test fills ``chi2``, ``df``, ``p`` and the classification:
        joint (2 df, M3 vs M1), uniform (M2 vs M1) or non-uniform (M3 vs M2).
    purify : bool
        Iteratively drop flagged items from the matching score.
    matching : {"total", "rest"}
        Whether the studied item counts in its own (prorated) matching score.
    alpha : float
        Significance level of ``flag``.
    adjust : {"holm", "bh", "none"}
        p-value adjustment over the items of one comparison.
    min_group_size : int
        Smallest admissible size of a compared group (default 30).
    max_iter : int
        Of purification.

    Returns
    -------
    DataFrame
        Indexed by item (by focal group and item when there are several focal groups):
        ``reference``, ``focal``, ``n_reference``, ``n_focal``, ``n_categories`` (categories
        used), ``chi2``, ``df``, ``p``, ``p_adjusted``, ``flag``, ``chi2_uniform``,
        ``p_uniform``, ``chi2_nonuniform``, ``p_nonuniform``, ``delta_r2`` (for ``test``),
        ``delta_r2_uniform``, ``delta_r2_nonuniform``, ``coef_group``, ``dif_class``
        (Jodoin-Gierl), ``anchor``, ``converged``.

    Raises
    ------
    ResponseError
        A single group, missing group labels, a group smaller than ``min_group_size``, group
        labels of the wrong length, an unknown reference or focal label.
    """
    if test not in ("both", "uniform", "nonuniform"):
        raise ValueError(f"test must be 'both', 'uniform' or 'nonuniform', got {test!r}")
    data, groups, all_positions, _ = setup_comparisons(
        responses, group, focal=focal, reference=reference, alpha=alpha, adjust=adjust, matching=matching,
        min_group_size=min_group_size)
    item_ids = data.item_ids

    def compute(values: np.ndarray, scores: np.ndarray, in_group: np.ndarray, anchors: np.ndarray,
                rows: np.ndarray) -> dict[str, np.ndarray]:
        positions = all_positions[rows]
        n_persons, n_items = values.shape
        valid = (in_group[:, None] >= 0) & (positions >= 0) & ~np.isnan(scores)
        # Categories used: each item's observed categories among its analysed persons, ranked.
        y = np.zeros((n_items, n_persons), dtype=np.intp)
        n_used = np.zeros(n_items, dtype=np.intp)
        standardized = np.zeros((n_items, n_persons))
        usable = np.zeros(n_items, dtype=bool)
        n_ref = ((in_group[:, None] == 0) & valid).sum(axis=0)
        n_foc = ((in_group[:, None] == 1) & valid).sum(axis=0)
        for j in range(n_items):
            answered = valid[:, j]
            present = np.unique(positions[answered, j])
            n_used[j] = present.size
            y[j, answered] = np.searchsorted(present, positions[answered, j])
            s = scores[answered, j]
            sd = s.std() if s.size else 0.0
            if sd > 0:
                standardized[j, answered] = (s - s.mean()) / sd
            usable[j] = present.size >= 2 and sd > 0 and n_ref[j] > 0 and n_foc[j] > 0
        weight = (valid.T & usable[:, None]).astype(np.float64)
        focal_code = (in_group == 1).astype(np.float64)
        results = {name: np.full(n_items, np.nan) for name in
                   ("ll1", "ll2", "ll3", "r2_1", "r2_2", "r2_3", "coef_group")}
        results["converged"] = np.ones(n_items, dtype=bool)
        batch = max(1, _BATCH_CELLS // max(n_persons, 1))
        for n_cat in np.unique(n_used[usable]):
            members = np.flatnonzero(usable & (n_used == n_cat))
            for start in range(0, members.size, batch):
                chunk = members[start:start + batch]
                out = _fit_items(y[chunk], standardized[chunk], np.broadcast_to(focal_code, (chunk.size, n_persons)),
                                 weight[chunk], int(n_cat))
                for name, value in out.items():
                    results[name][chunk] = value
        if not usable.all():
            skipped = [item_ids[j] for j in np.flatnonzero(~usable)]
            warnings.warn(f"no logistic DIF test for item(s) {', '.join(map(repr, skipped))}: fewer than "
                          "two categories used, a constant matching score, or no answers from one "
                          "of the compared groups", DataWarning, stacklevel=4)
        if not results["converged"].all():
            bad = [item_ids[j] for j in np.flatnonzero(~results["converged"])]
            warnings.warn(f"logistic fits of item(s) {', '.join(map(repr, bad))} did not converge",
                          ConvergenceWarning, stacklevel=4)
        chi2_u = 2.0 * (results["ll2"] - results["ll1"])
        chi2_n = 2.0 * (results["ll3"] - results["ll2"])
        chi2_b = 2.0 * (results["ll3"] - results["ll1"])
        dr2_u = results["r2_2"] - results["r2_1"]
        dr2_n = results["r2_3"] - results["r2_2"]
        dr2_b = results["r2_3"] - results["r2_1"]
        p_u, p_n, p_b = stats.chi2.sf(chi2_u, 1), stats.chi2.sf(chi2_n, 1), stats.chi2.sf(chi2_b, 2)
        chosen = {"both": (chi2_b, 2.0, p_b, dr2_b), "uniform": (chi2_u, 1.0, p_u, dr2_u),
                  "nonuniform": (chi2_n, 1.0, p_n, dr2_n)}[test]
        df = np.where(usable, chosen[1], np.nan)
        return {
            "n_reference": n_ref.astype(np.int64), "n_focal": n_foc.astype(np.int64),
            "n_categories": n_used.astype(np.int64),
            "chi2": chosen[0], "df": df, "p": chosen[2],
            "chi2_uniform": chi2_u, "p_uniform": p_u, "chi2_nonuniform": chi2_n, "p_nonuniform": p_n,
            "delta_r2": chosen[3], "delta_r2_uniform": dr2_u, "delta_r2_nonuniform": dr2_n,
            "coef_group": results["coef_group"], "dif_class": jodoin_gierl_class(chosen[3], chosen[2]),
            "converged": results["converged"],
        }

    order = ["reference", "focal", "n_reference", "n_focal", "n_categories", "chi2", "df", "p", "p_adjusted",
             "flag", "chi2_uniform", "p_uniform", "chi2_nonuniform", "p_nonuniform", "delta_r2",
             "delta_r2_uniform", "delta_r2_nonuniform", "coef_group", "dif_class", "anchor", "converged"]
    return run_comparisons(data, groups, compute, matching=matching, adjust=adjust, alpha=alpha,
                           purify_items=purify, max_iter=max_iter, column_order=order)
