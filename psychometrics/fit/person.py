r"""Person fit: the standardized log-likelihood lz and Snijders' corrected lz*.

Both are defined for dichotomous and polytomous items (any mix) and use only the items a
person answered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from psychometrics._numeric import LOG_TINY
from psychometrics._blas import one_blas_thread
from psychometrics.fit._common import PERSON_CHUNK, check_method, encode, latent_moments, person_theta

__all__ = ["person_fit"]

# floor of log-probabilities: exp of it is 0, and 0 * floor stays finite
_H1 = 1e-4      # step of the central first difference in theta
_H2 = 1e-3      # step of the central second difference (WLE's correction only)


def _log_p(calibration: Any, theta: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(calibration.log_probabilities(theta), dtype=np.float64), LOG_TINY)


@one_blas_thread
def person_fit(calibration: Any, responses: Any, *, method: str = "wle", theta: Any = None) -> pd.DataFrame:
    r"""Standardized log-likelihood person fit, lz, and its corrected form lz*.

    Parameters
    ----------
    calibration : Calibration
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN = missing (the person's statistic uses the answered items).
    method : {"wle", "ml", "map"}
        The estimator of theta the statistics are evaluated at; lz* corrects for it
        (Snijders' :math:`r_0`: 0 for ML, Warm's :math:`J/(2I)` for WLE, the prior's score
        for MAP).
    theta : array-like or Series, optional
        Estimates by ``method`` already computed (e.g. ``score(...)``); scored here when
        omitted.

    Returns
    -------
    DataFrame
        Indexed like ``responses``: ``theta``, ``lz``, ``lz_star``, ``n_answered``. NaN where
        theta is not finite (ML on an all-lowest/all-highest pattern) or no item was
        answered. Low values (e.g. below -1.645) flag aberrant response patterns.

    Notes
    -----
    With :math:`\ell_{jk} = \log P_{jk}(\hat\theta)`, :math:`u_{jk} = [x_j = k]` over the
    answered items,

    .. math::
        l_0 = \sum_j \sum_k u_{jk}\ell_{jk}, \quad
        E = \sum_j \sum_k P_{jk}\ell_{jk}, \quad
        V = \sum_j \Big[\sum_k P_{jk}\ell_{jk}^2 - \big(\sum_k P_{jk}\ell_{jk}\big)^2\Big],
        \quad l_z = \frac{l_0 - E}{\sqrt V}.

    Snijders (2001) accounts for :math:`\hat\theta` solving
    :math:`\sum_j\sum_k (u_{jk} - P_{jk}) r_{jk} + r_0 = 0` with
    :math:`r_{jk} = \partial \ell_{jk} / \partial\theta`:

    .. math::
        c = \frac{\sum_j\sum_k P'_{jk}\ell_{jk}}{\sum_j\sum_k P'_{jk} r_{jk}}, \quad
        \tilde w_{jk} = \ell_{jk} - c\, r_{jk}, \quad
        l_z^* = \frac{l_0 - E + c\, r_0}
                     {\sqrt{\sum_j \big[\sum_k P_{jk}\tilde w_{jk}^2 - (\sum_k P_{jk}\tilde w_{jk})^2\big]}},

    which for dichotomous items is Snijders' formula and for polytomous items Sinharay's
    (2016) extension. Derivatives in theta are central differences of the calibration's
    log-probabilities.

    References
    ----------
    .. [1] Drasgow, F., Levine, M. V. & Williams, E. A. (1985). Appropriateness measurement
           with polychotomous item response models and standardized indices. British Journal
           of Mathematical and Statistical Psychology, 38, 67-86.
    .. [2] Snijders, T. A. B. (2001). Asymptotic null distribution of person fit statistics
           with estimated person parameter. Psychometrika, 66, 331-342.
    .. [3] Sinharay, S. (2016). Asymptotically correct standardization of person-fit
           statistics beyond dichotomous items. Psychometrika, 81, 992-1013.

    Examples
    --------
    >>> import pandas as pd
    >>> from psychometrics.irt import Calibration
    >>> params = pd.DataFrame({"a": [1.0, 1.5, 1.2], "b": [-1.0, 0.0, 1.0]}, index=["q1", "q2", "q3"])
    >>> calibration = Calibration.from_item_params(params, "2pl")
    >>> answers = pd.DataFrame({"q1": [1.0, 0.0], "q2": [1.0, 0.0], "q3": [0.0, 1.0]}, index=["ann", "bob"])
    >>> fit = person_fit(calibration, answers)
    >>> bool(fit.loc["bob", "lz_star"] < fit.loc["ann", "lz_star"])   # bob's pattern is reversed
    True
    """
    method = check_method(method, ("wle", "ml", "map"))
    enc = encode(calibration, responses)
    theta_values = person_theta(calibration, enc, theta, method)
    n = enc.codes.shape[0]
    lz = np.full(n, np.nan)
    lz_star = np.full(n, np.nan)
    mean, variance = latent_moments(calibration)
    finite = np.isfinite(theta_values)
    for start in range(0, n, PERSON_CHUNK):
        stop = min(start + PERSON_CHUNK, n)
        th = np.where(finite[start:stop], theta_values[start:stop], 0.0)
        codes = enc.codes[start:stop].T                                  # (J, m)
        observed = codes >= 0
        log_p = _log_p(calibration, th)                                  # (J, m, K)
        prob = np.exp(log_p)
        up, down = _log_p(calibration, th + _H1), _log_p(calibration, th - _H1)
        slope = (up - down) / (2.0 * _H1)                               # r_jk
        chosen = np.take_along_axis(log_p, np.where(observed, codes, 0)[:, :, None], axis=2)[:, :, 0]

        def over_items(per_item: np.ndarray) -> np.ndarray:
            return np.where(observed, per_item, 0.0).sum(axis=0)

        first = (prob * log_p).sum(axis=2)
        l0 = over_items(chosen)
        expected = over_items(first)
        var_lz = over_items((prob * log_p ** 2).sum(axis=2) - first ** 2)
        dprob = prob * slope
        information = over_items((dprob * slope).sum(axis=2))
        c = over_items((dprob * log_p).sum(axis=2)) / np.where(information > 0, information, 1.0)
        if method == "ml":
            r0 = np.zeros_like(th)
        elif method == "map":
            r0 = -(th - mean) / variance
        else:
            up2, down2 = _log_p(calibration, th + _H2), _log_p(calibration, th - _H2)
            bend = (up2 + down2 - 2.0 * log_p) / (_H2 * _H2)
            warm_j = over_items((prob * slope * (bend + slope * slope)).sum(axis=2))
            r0 = warm_j / (2.0 * np.where(information > 0, information, 1.0))
        adjusted = log_p - c[None, :, None] * slope
        first_adj = (prob * adjusted).sum(axis=2)
        var_star = over_items((prob * adjusted ** 2).sum(axis=2) - first_adj ** 2)
        ok = finite[start:stop] & observed.any(axis=0)
        pos = ok & (var_lz > 1e-12)
        lz[start:stop] = np.where(pos, (l0 - expected) / np.sqrt(np.where(pos, var_lz, 1.0)), np.nan)
        pos_star = ok & (var_star > 1e-12) & (information > 0)
        lz_star[start:stop] = np.where(
            pos_star, (l0 - expected + c * r0) / np.sqrt(np.where(pos_star, var_star, 1.0)), np.nan)
    return pd.DataFrame({"theta": theta_values, "lz": lz, "lz_star": lz_star,
                         "n_answered": enc.observed.sum(axis=1)}, index=enc.person_ids)

