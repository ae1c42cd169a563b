r"""Item fit: Orlando-Thissen S-X2, infit and outfit mean squares, RMSD.

:func:`item_fit` returns one row per calibrated item with

- ``s_x2``, ``df``, ``p``: the sum-score based :math:`S\text{-}X^2` of Orlando & Thissen (2000),
  for dichotomous and polytomous items (Kang & Chen, 2008);
- ``infit``, ``outfit``, ``infit_z``, ``outfit_z``: residual mean squares and their
  Wilson-Hilferty standardization (Wright & Masters, 1982), at person estimates;
- ``rmsd``: root mean squared deviation between the pseudo-observed and the model item
  characteristic curve, weighted by the posterior distribution of the latent trait.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from psychometrics._blas import one_blas_thread
from psychometrics._deprecation import missing_policy
from psychometrics._numeric import TINY
from psychometrics.errors import DataWarning, ModelWarning
from psychometrics.estep import estep
from psychometrics.fit._common import (
    PERSON_CHUNK,
    Encoded,
    category_scores,
    check_method,
    encode,
    free_parameters,
    grid,
    person_theta,
    probabilities,
)
from psychometrics.sumscore import sum_score_likelihoods

__all__ = ["item_fit", "s_x2", "infit_outfit", "rmsd"]


# ============================================================================================
# S-X2
# ============================================================================================


def _merge_rows(observed: np.ndarray, expected: np.ndarray, mincell: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent score groups until every expected count reaches ``mincell``."""
    obs = [row for row in observed]
    exp = [row for row in expected]
    while len(exp) > 1:
        small = [r for r, row in enumerate(exp) if row.min() < mincell]
        if not small:
            break
        r = small[0]
        if r == 0:
            other = 1
        elif r == len(exp) - 1:
            other = r - 1
        else:
            # the lighter neighbour, so that merged groups stay balanced
            other = r - 1 if exp[r - 1].sum() <= exp[r + 1].sum() else r + 1
        low, high = min(r, other), max(r, other)
        obs[low] = obs[low] + obs[high]
        exp[low] = exp[low] + exp[high]
        del obs[high], exp[high]
    return np.array(obs), np.array(exp)


def _merge_categories(observed: np.ndarray, expected: np.ndarray,
                      mincell: float) -> tuple[float, int]:
    """Within one score group, merge adjacent categories until every expected count reaches
    ``mincell``; returns the group's Pearson sum and its number of cells."""
    # categories the score group cannot contain (expected exactly 0) are no cells at all
    possible = expected > 0
    obs = list(observed[possible])
    exp = list(expected[possible])
    while len(exp) > 1 and min(exp) < mincell:
        c = int(np.argmin(exp))
        if c == 0:
            other = 1
        elif c == len(exp) - 1:
            other = c - 1
        else:
            other = c - 1 if exp[c - 1] <= exp[c + 1] else c + 1
        low, high = min(c, other), max(c, other)
        obs[low] += obs[high]
        exp[low] += exp[high]
        del obs[high], exp[high]
    if len(exp) < 2:
        return 0.0, len(exp)
    o, e = np.asarray(obs), np.asarray(exp)
    return float(((o - e) ** 2 / np.maximum(e, TINY)).sum()), len(exp)


@one_blas_thread
def s_x2(calibration: Any, responses: Any, *, mincell: float = 1.0, missing: str = "pattern",
         min_group: int = 50, quadrature_points: int | None = None) -> pd.DataFrame:
    r"""Orlando-Thissen :math:`S\text{-}X^2` item fit statistic.

    Parameters
    ----------
    calibration : Calibration
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN = missing (see Notes).
    mincell : float
        Cells with an expected count below ``mincell`` are collapsed (mirt's default 1).
    missing : {"pattern", "listwise"}
        What to do with persons who skipped items (see Notes): ``"pattern"`` (default) forms
        the tables separately within groups of persons who answered the same items and adds
        them up; ``"listwise"`` uses only the persons who answered every item (mirt's
        ``na.rm=TRUE``; ``"complete"``, its former spelling, still works with a
        DeprecationWarning). Both are the same for complete data.
    min_group : int
        With ``missing="pattern"``, the fewest persons a group of incomplete response patterns
        needs to enter (the complete-data group always enters).
    quadrature_points : int, optional
        Nodes of the latent grid (default: the calibration's).

    Returns
    -------
    DataFrame
        Indexed by item: ``s_x2``, ``df``, ``p`` (NaN where ``df`` < 1).

    Notes
    -----
    For item :math:`j`, sum score :math:`s` (category indices summed over all items) and
    category :math:`k`, the model-expected proportion is

    .. math:: E_{jks} = \frac{\int P_{jk}(\theta)\, L^{(-j)}_{s-k}(\theta)\, g(\theta)\, d\theta}
                             {\int L_s(\theta)\, g(\theta)\, d\theta}

    with :math:`L_s` (:math:`L^{(-j)}_s`) the Lord-Wingersky probability of sum score
    :math:`s` over all items (without item :math:`j`), integrated on the quadrature grid, and

    .. math:: S\text{-}X^2_j = \sum_s \sum_k \frac{(O_{jks} - N_s E_{jks})^2}{N_s E_{jks}}.

    The lowest and highest sum scores (where the item response is determined) are left out.
    Collapsing: for dichotomous items adjacent score groups are merged until every expected
    count reaches ``mincell`` (Orlando & Thissen, 2000); for polytomous items adjacent
    categories are merged within a score group. Degrees of freedom: the number of
    independent cells, :math:`\sum_s (\text{cells}_s - 1)`, less the item's own free
    parameters (parameters tied across items, such as the 1PL slope, are not subtracted).

    Missing data: the sum score of a person who skipped items is not on the scale of the
    complete sum scores, so sum scores are only compared among persons who answered the same
    items. With ``missing="pattern"`` each such group (a test form, a booklet, the complete
    cases) has its own Lord-Wingersky distribution over its items, its own tables and
    collapsing; an item's statistic and cells are summed over the groups that answered it,
    and its free parameters are subtracted once. Groups smaller than ``min_group`` (sporadic
    omissions make many tiny groups) are left out, and a
    :class:`~psychometrics.errors.DataWarning` says how many persons that leaves out. For
    data without missing responses both options give the usual statistic. (mirt's
    alternative, averaging over multiple imputations, is not implemented.)

    References
    ----------
    .. [1] Orlando, M. & Thissen, D. (2000). Likelihood-based item-fit indices for dichotomous
           item response theory models. Applied Psychological Measurement, 24, 50-64.
    .. [2] Orlando, M. & Thissen, D. (2003). Further investigation of the performance of S-X2.
           Applied Psychological Measurement, 27, 289-298.
    .. [3] Kang, T. & Chen, T. T. (2008). Performance of the generalized S-X2 item fit index
           for polytomous IRT models. Journal of Educational Measurement, 45, 391-406.
    """
    missing, min_group = _check_missing(missing, min_group)
    enc = encode(calibration, responses)
    return _s_x2(calibration, enc, _check_mincell(mincell), quadrature_points, missing, min_group)


def _check_missing(missing: str, min_group: int) -> tuple[str, int]:
    missing = missing_policy(missing, ("pattern", "listwise"), "s_x2")
    if isinstance(min_group, bool) or not isinstance(min_group, (int, np.integer)) or min_group < 1:
        raise ValueError(f"min_group must be a positive integer, got {min_group!r}")
    return missing, int(min_group)


def _check_mincell(mincell: float) -> float:
    if isinstance(mincell, bool) or not isinstance(mincell, (int, float, np.integer, np.floating)) \
            or not math.isfinite(mincell) or mincell < 0:
        raise ValueError(f"mincell must be a non-negative number, got {mincell!r}")
    return float(mincell)


def _group_tables(prob: np.ndarray, weights: np.ndarray, n_cat: np.ndarray, codes: np.ndarray,
                  mincell: float) -> tuple[np.ndarray, np.ndarray]:
    """Pearson sums and independent cells of every item's (sum score x category) table among
    persons who answered the same items (``codes`` complete over these items)."""
    n_items = n_cat.shape[0]
    statistic = np.zeros(n_items)
    cells = np.zeros(n_items, dtype=np.int64)
    if n_items < 2:
        return statistic, cells
    total = codes.sum(axis=1)
    max_score = int((n_cat - 1).sum())
    n_s = np.bincount(total, minlength=max_score + 1).astype(np.float64)
    full = sum_score_likelihoods(prob, n_cat) @ weights                 # (S + 1,)
    inner = np.arange(1, max_score)                                     # drop extreme scores
    for j in range(n_items):
        k_j = int(n_cat[j])
        rest = sum_score_likelihoods(prob, n_cat, exclude=j)               # (S - K_j + 2, Q)
        expected = np.zeros((max_score + 1, k_j))
        for k in range(k_j):
            expected[k:k + rest.shape[0], k] = (rest * prob[j, :, k]) @ weights
        expected /= np.maximum(full, TINY)[:, None]
        observed = np.zeros((max_score + 1, k_j))
        np.add.at(observed, (total, codes[:, j]), 1.0)
        obs, exp = observed[inner], expected[inner] * n_s[inner, None]
        keep = n_s[inner] > 0
        obs, exp = obs[keep], exp[keep]
        if obs.shape[0] == 0:
            continue
        if k_j == 2:
            obs, exp = _merge_rows(obs, exp, mincell)
            statistic[j] = float(((obs - exp) ** 2 / np.maximum(exp, TINY)).sum())
            cells[j] = obs.shape[0]
        else:
            for row_obs, row_exp in zip(obs, exp):
                value, n_cells = _merge_categories(row_obs, row_exp, mincell)
                statistic[j] += value
                cells[j] += max(n_cells - 1, 0)
    return statistic, cells


def _s_x2(calibration: Any, enc: Encoded, mincell: float, quadrature_points: int | None,
          missing: str = "pattern", min_group: int = 50) -> pd.DataFrame:
    codes, n_cat = enc.codes, enc.n_categories
    n_items = len(enc.item_ids)
    out = pd.DataFrame(np.nan, index=pd.Index(enc.item_ids, name="item"), columns=["s_x2", "df", "p"])
    answered = codes >= 0
    patterns, inverse, counts = np.unique(answered, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    usable = patterns.sum(axis=1) >= 2
    if missing == "listwise":
        usable &= patterns.all(axis=1)
    else:
        # the complete-data group is always used, however small; other groups need min_group
        usable &= (counts >= min_group) | patterns.all(axis=1)
    n_used = int(counts[usable].sum())
    n_left_out = codes.shape[0] - n_used
    if n_left_out:
        what = ("who answered every item" if missing == "listwise" else
                f"in {int(usable.sum())} group(s) of at least {min_group} who answered the same items")
        warnings.warn(f"S-X2 uses the {n_used} respondents {what}; {n_left_out} respondents with missing "
                      "responses are left out", DataWarning, stacklevel=3)
    if n_used == 0:
        return out
    nodes, weights = grid(calibration, quadrature_points)
    prob = probabilities(calibration, nodes)
    statistic = np.zeros(n_items)
    cells = np.zeros(n_items, dtype=np.int64)
    entered = np.zeros(n_items, dtype=bool)
    for g in np.flatnonzero(usable):
        items = np.flatnonzero(patterns[g])
        rows = inverse == g
        value, n_cells = _group_tables(prob[items], weights, n_cat[items], codes[np.ix_(rows, items)], mincell)
        statistic[items] += value
        cells[items] += n_cells
        entered[items] = True
    df = cells - free_parameters(calibration).own
    defined = entered & (df >= 1)
    undefined = np.flatnonzero(entered & (df < 1))
    if undefined.size:
        names = [calibration.item_ids[j] for j in undefined[:10]]
        warnings.warn(f"S-X2 of item(s) {', '.join(names)}{' ...' if undefined.size > 10 else ''} has no degrees of "
                      "freedom left after the item's parameters (too few score groups): s_x2 and p are NaN",
                      ModelWarning, stacklevel=3)
    safe_df = np.where(defined, df, 1)
    out["s_x2"] = np.where(defined, statistic, np.nan)
    out["df"] = np.where(entered, df, np.nan)
    out["p"] = np.where(defined, stats.chi2.sf(statistic, safe_df), np.nan)
    return out


# ============================================================================================
# infit / outfit
# ============================================================================================


def _residual_moments(calibration: Any, enc: Encoded, theta: np.ndarray):
    """Per person and item: squared residual, variance W and fourth central moment C of the
    category score at the person's theta; 0 where the item was not answered or theta is not
    finite. Returns arrays (n, J) and the mask of usable cells."""
    n, n_items = enc.codes.shape
    scores = category_scores(enc.n_categories)                         # (J, K)
    sq_resid = np.zeros((n, n_items))
    variance = np.zeros((n, n_items))
    fourth = np.zeros((n, n_items))
    finite = np.isfinite(theta)
    for start in range(0, n, PERSON_CHUNK):
        stop = min(start + PERSON_CHUNK, n)
        th = np.where(finite[start:stop], theta[start:stop], 0.0)
        prob = probabilities(calibration, th)                          # (J, m, K)
        mean = np.einsum("jmk,jk->jm", prob, scores)
        dev = scores[:, None, :] - mean[:, :, None]
        variance[start:stop] = np.einsum("jmk,jmk->mj", prob, dev ** 2)
        fourth[start:stop] = np.einsum("jmk,jmk->mj", prob, dev ** 4)
        codes = enc.codes[start:stop]
        x = np.where(codes >= 0, codes, 0).astype(np.float64)
        sq_resid[start:stop] = (x - mean.T) ** 2
    usable = enc.observed & finite[:, None] & (variance > 1e-12)
    return np.where(usable, sq_resid, 0.0), np.where(usable, variance, 0.0), np.where(usable, fourth, 0.0), usable


def _wilson_hilferty(mean_square: np.ndarray, q2: np.ndarray) -> np.ndarray:
    ok = (q2 > 0) & np.isfinite(mean_square) & (mean_square >= 0)
    q = np.sqrt(np.where(ok, q2, 1.0))
    z = (np.cbrt(np.where(ok, mean_square, 1.0)) - 1.0) * (3.0 / q) + q / 3.0
    return np.where(ok, z, np.nan)


@one_blas_thread
def infit_outfit(calibration: Any, responses: Any, *, theta: Any = None, method: str = "eap") -> pd.DataFrame:
    r"""Infit and outfit mean squares and their standardized (t) values.

    Parameters
    ----------
    calibration : Calibration
    responses : DataFrame, ndarray or Responses
    theta : array-like or Series, optional
        Person estimates to use (a Series is aligned on the respondent ids); by default scored
        with ``method``.
    method : {"eap", "map", "ml", "wle"}
        Scoring method when ``theta`` is not given (mirt uses EAP). Persons with an infinite
        estimate (ML on an extreme pattern) are left out.

    Returns
    -------
    DataFrame
        Indexed by item: ``infit``, ``outfit``, ``infit_z``, ``outfit_z``.

    Notes
    -----
    With category scores :math:`x_{ij} \in \{0, \dots, K_j-1\}`, expected score
    :math:`E_{ij} = \sum_k k P_{jk}(\hat\theta_i)`, variance
    :math:`W_{ij} = \sum_k (k - E_{ij})^2 P_{jk}(\hat\theta_i)`, fourth central moment
    :math:`C_{ij} = \sum_k (k - E_{ij})^4 P_{jk}(\hat\theta_i)` and the :math:`n_j` persons who
    answered item :math:`j`:

    .. math::
        \text{outfit}_j = \frac{1}{n_j} \sum_i \frac{(x_{ij} - E_{ij})^2}{W_{ij}}, \qquad
        \text{infit}_j = \frac{\sum_i (x_{ij} - E_{ij})^2}{\sum_i W_{ij}},

    .. math::
        q^2_{out} = \frac{1}{n_j^2} \sum_i \frac{C_{ij}}{W_{ij}^2} - \frac{1}{n_j}, \qquad
        q^2_{in} = \frac{\sum_i (C_{ij} - W_{ij}^2)}{(\sum_i W_{ij})^2},

    .. math:: z = \left(MS^{1/3} - 1\right) \frac{3}{q} + \frac{q}{3}.

    References
    ----------
    .. [1] Wright, B. D. & Masters, G. N. (1982). Rating Scale Analysis. Chicago: MESA Press,
           ch. 5 (pp. 99-101).
    .. [2] Wilson, E. B. & Hilferty, M. M. (1931). The distribution of chi-square. PNAS, 17,
           684-688.
    """
    method = check_method(method, ("eap", "map", "ml", "wle"))
    enc = encode(calibration, responses)
    return _infit_outfit(calibration, enc, person_theta(calibration, enc, theta, method))


def _infit_outfit(calibration: Any, enc: Encoded, theta: np.ndarray) -> pd.DataFrame:
    sq, w, c, usable = _residual_moments(calibration, enc, theta)
    n_j = usable.sum(axis=0).astype(np.float64)
    has = n_j > 0
    safe_n = np.where(has, n_j, 1.0)
    safe_w = np.where(usable, w, 1.0)
    outfit = np.where(usable, sq / safe_w, 0.0).sum(axis=0) / safe_n
    q2_out = np.where(usable, c / safe_w ** 2, 0.0).sum(axis=0) / safe_n ** 2 - 1.0 / safe_n
    w_sum = w.sum(axis=0)
    pos = w_sum > 0
    safe_wsum = np.where(pos, w_sum, 1.0)
    infit = np.where(pos, sq.sum(axis=0) / safe_wsum, np.nan)
    q2_in = np.where(pos, (c - w ** 2).sum(axis=0) / safe_wsum ** 2, np.nan)
    outfit = np.where(has, outfit, np.nan)
    return pd.DataFrame({
        "infit": infit,
        "outfit": outfit,
        "infit_z": _wilson_hilferty(infit, np.nan_to_num(q2_in, nan=-1.0)),
        "outfit_z": _wilson_hilferty(outfit, np.where(has, q2_out, -1.0)),
    }, index=pd.Index(enc.item_ids, name="item"))


# ============================================================================================
# RMSD
# ============================================================================================


@one_blas_thread
def rmsd(calibration: Any, responses: Any, *, quadrature_points: int | None = None) -> pd.Series:
    r"""Root mean squared deviation of each item's pseudo-observed from its model curve.

    Returns
    -------
    Series
        Indexed by item, named ``rmsd``.

    Notes
    -----
    From the posterior distribution of every respondent over the quadrature nodes (the
    E-step), :math:`n_{jq}` is the expected number of respondents to item :math:`j` at node
    :math:`q` and :math:`r_{jqk}` of them in category :math:`k`; with
    :math:`f_{jq} = n_{jq} / \sum_q n_{jq}`:

    .. math:: \mathrm{RMSD}_j = \sqrt{\sum_q f_{jq} \frac{1}{K_j}\sum_{k}
              \left(\frac{r_{jqk}}{n_{jq}} - P_{jk}(\theta_q)\right)^2}

    For a dichotomous item this is the usual
    :math:`\sqrt{\sum_q f_q (\hat\pi_q - P(\theta_q))^2}`. A missing response leaves the item
    out of the person's posterior and out of its counts.

    References
    ----------
    .. [1] Köhler, C., Robitzsch, A. & Hartig, J. (2020). A bias-corrected RMSD item fit
           statistic. Journal of Educational and Behavioral Statistics, 45, 251-273.
    .. [2] Oliveri, M. E. & von Davier, M. (2011). Investigation of model fit and score scale
           comparability in international assessments. Psychological Test and Assessment
           Modeling, 53, 315-333.
    """
    enc = encode(calibration, responses)
    return _rmsd(calibration, enc, quadrature_points)


def _rmsd(calibration: Any, enc: Encoded, quadrature_points: int | None) -> pd.Series:
    nodes, weights = grid(calibration, quadrature_points)
    log_p = np.asarray(calibration.log_probabilities(nodes), dtype=np.float64)
    # the compiled E-step kernel is cached for the calibration's own code type (int8)
    codes = enc.codes.astype(np.int8 if enc.n_categories.max() < 127 else np.int32)
    counts = estep(codes, log_p, np.log(weights)).counts                # (J, Q, K)
    n_jq = counts.sum(axis=2)
    total = n_jq.sum(axis=1)
    valid = np.arange(counts.shape[2])[None, :] < enc.n_categories[:, None]
    pseudo = counts / np.maximum(n_jq, TINY)[:, :, None]
    sq = np.where(valid[:, None, :], (pseudo - np.exp(log_p)) ** 2, 0.0).sum(axis=2) / enc.n_categories[:, None]
    f = n_jq / np.maximum(total, TINY)[:, None]
    value = np.sqrt((f * sq).sum(axis=1))
    return pd.Series(np.where(total > 0, value, np.nan), index=pd.Index(enc.item_ids, name="item"), name="rmsd")


# ============================================================================================
# all together
# ============================================================================================


@one_blas_thread
def item_fit(calibration: Any, responses: Any, *, mincell: float = 1.0, missing: str = "pattern",
             min_group: int = 50, theta: Any = None, method: str = "eap",
             quadrature_points: int | None = None) -> pd.DataFrame:
    r"""Item fit statistics of a calibration on a response matrix.

    Parameters
    ----------
    calibration : Calibration
        From :func:`psychometrics.irt.calibrate` (or stated parameters).
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN = missing.
    mincell : float
        Collapsing threshold of the :math:`S\text{-}X^2` tables (expected count; mirt's 1).
    missing, min_group
        How :math:`S\text{-}X^2` treats incomplete response patterns (see :func:`s_x2`).
    theta : array-like or Series, optional
        Person estimates for infit/outfit; by default scored with ``method``.
    method : {"eap", "map", "ml", "wle"}
        Scoring method for infit/outfit (mirt's default EAP).
    quadrature_points : int, optional
        Nodes of the latent grid (default: the calibration's).

    Returns
    -------
    DataFrame
        Indexed by item: ``s_x2``, ``df``, ``p`` (:func:`s_x2`), ``infit``, ``outfit``,
        ``infit_z``, ``outfit_z`` (:func:`infit_outfit`), ``rmsd`` (:func:`rmsd`) and ``n``
        (respondents who answered the item).

    Notes
    -----
    See :func:`s_x2`, :func:`infit_outfit` and :func:`rmsd` for the formulas and for what
    each does with missing responses (S-X2 compares sum scores only among persons who
    answered the same items; the others use every answered response).

    References
    ----------
    .. [1] Orlando, M. & Thissen, D. (2000). Applied Psychological Measurement, 24, 50-64.
    .. [2] Wright, B. D. & Masters, G. N. (1982). Rating Scale Analysis. MESA Press.
    .. [3] Chalmers, R. P. (2012). mirt. Journal of Statistical Software, 48(6) (``itemfit``).

    Examples
    --------
    >>> import pandas as pd
    >>> from psychometrics.irt import Calibration
    >>> from psychometrics.simulate import simulate
    >>> params = pd.DataFrame({"a": [1.0, 1.2, 0.8, 1.5], "b": [-1.0, 0.0, 0.5, 1.0]},
    ...                       index=["q1", "q2", "q3", "q4"])
    >>> calibration = Calibration.from_item_params(params, "2pl")
    >>> fit = item_fit(calibration, simulate(calibration, 500, seed=1))
    >>> list(fit.columns)
    ['s_x2', 'df', 'p', 'infit', 'outfit', 'infit_z', 'outfit_z', 'rmsd', 'n']
    """
    if getattr(calibration, "is_multidimensional", False):
        # S-X2 needs the summed-score likelihoods integrated over all factors, infit/outfit one
        # theta per person: neither is implemented for several factors
        raise ValueError(f"item fit (S-X2, infit/outfit, RMSD) is not provided for multidimensional "
                         f"calibrations (this one has {len(calibration.factors)} factors {list(calibration.factors)}); use fit.m2(calibration, "
                         "responses) for the model's fit, or item_fit on each scale's unidimensional "
                         "calibration")
    mincell = _check_mincell(mincell)
    missing, min_group = _check_missing(missing, min_group)
    method = check_method(method, ("eap", "map", "ml", "wle"))
    enc = encode(calibration, responses)
    theta_values = person_theta(calibration, enc, theta, method)
    frame = _s_x2(calibration, enc, mincell, quadrature_points, missing, min_group)
    frame = frame.join(_infit_outfit(calibration, enc, theta_values))
    frame["rmsd"] = _rmsd(calibration, enc, quadrature_points)
    frame["n"] = enc.observed.sum(axis=0)
    return frame
