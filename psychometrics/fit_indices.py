r"""Fit indices of a chi-square statistic: RMSEA with its interval, CFI, TLI, SRMR.

One implementation for CFA (:mod:`psychometrics.factor.cfa`), EFA (:mod:`psychometrics.factor.efa`)
and the limited-information IRT statistics (:func:`psychometrics.fit.m2`). The sample-size term
differs between conventions, so every function that needs one takes it explicitly as
``n`` and says which the caller used:

- ``n = N`` (persons): mirt's M2 RMSEA, lavaan's ML test statistic;
- ``n = N - 1``: lavaan's least-squares (DWLS/ULS) statistics, psych's ``fa``.

Notes
-----
.. math::
    \mathrm{RMSEA} = \sqrt{\frac{\max(\chi^2 - df, 0)}{n\,df}},\qquad
    \mathrm{CFI} = 1 - \frac{\max(\chi^2 - df, 0)}{\max(\chi^2_0 - df_0, \chi^2 - df, 0)},\qquad
    \mathrm{TLI} = \frac{\chi^2_0/df_0 - \chi^2/df}{\chi^2_0/df_0 - 1}

The RMSEA interval inverts the noncentral chi-square in its noncentrality :math:`\lambda`:
the bounds are :math:`\sqrt{\lambda / (n\,df)}` at the :math:`\lambda` that make the observed
statistic the :math:`(1 \pm c)/2` quantile (Browne & Cudeck, 1993).

References
----------
.. [1] Browne, M. W. & Cudeck, R. (1993). Alternative ways of assessing model fit. In Bollen &
       Long (Eds.), Testing Structural Equation Models (pp. 136-162). Sage.
.. [2] Hu, L. & Bentler, P. M. (1999). Cutoff criteria for fit indexes in covariance structure
       analysis. Structural Equation Modeling, 6, 1-55.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

__all__ = ["cfi_tli", "rmsea", "rmsea_interval", "srmr"]


def rmsea(chi2: float, df: float, n: float) -> float:
    """Root mean square error of approximation; NaN without degrees of freedom.

    ``n`` is the sample-size term of the caller's convention (N or N - 1, module notes).

    Examples
    --------
    >>> round(rmsea(150.0, 50, 1000), 4)
    0.0447
    """
    if not df > 0:
        return math.nan
    return math.sqrt(max(chi2 - df, 0.0) / (n * df))


def rmsea_interval(chi2: float, df: float, n: float, *, confidence_level: float = 0.90) -> tuple[float, float]:
    """Confidence interval of RMSEA by inverting the noncentral chi-square (module notes).

    ``n`` as in :func:`rmsea`. A bound is 0 where even a central chi-square puts the statistic
    below its quantile; ``(nan, nan)`` without degrees of freedom.

    Examples
    --------
    >>> low, high = rmsea_interval(150.0, 50, 1000)
    >>> round(low, 4), round(high, 4)
    (0.0366, 0.053)
    """
    if not df > 0:
        return math.nan, math.nan
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level!r}")
    upper_tail = (1.0 + confidence_level) / 2.0

    def bound(target: float) -> float:
        def excess(ncp: float) -> float:
            cdf = stats.ncx2.cdf(chi2, df, ncp) if ncp > 0 else stats.chi2.cdf(chi2, df)
            return float(cdf) - target

        if excess(0.0) < 0:
            return 0.0
        high = max(chi2, 1.0)
        while excess(high) > 0:
            high *= 2.0
        return math.sqrt(optimize.brentq(excess, 0.0, high, xtol=1e-12) / (n * df))

    return bound(upper_tail), bound(1.0 - upper_tail)


def cfi_tli(chi2: float, df: float, base_chi2: float, base_df: float) -> tuple[float, float]:
    """Comparative fit index and Tucker-Lewis index against a baseline (independence) model.

    CFI is 1 where neither model misfits beyond its df; TLI is NaN where it is undefined
    (no df, or a baseline whose ratio is 1).
    """
    if not (math.isfinite(base_chi2) and base_df > 0):
        return math.nan, math.nan
    denominator = max(base_chi2 - base_df, chi2 - df, 0.0)
    cfi = 1.0 - max(chi2 - df, 0.0) / denominator if denominator > 0 else 1.0
    base_ratio = base_chi2 / base_df
    tli = (base_ratio - chi2 / df) / (base_ratio - 1.0) if df > 0 and base_ratio != 1.0 else math.nan
    return float(cfi), float(tli)


def srmr(residuals: np.ndarray, *, diagonal: bool) -> float:
    """Standardized root mean square residual of a symmetric matrix of residual correlations.

    ``diagonal=True`` averages over the :math:`p(p+1)/2` elements of the lower triangle with
    its diagonal (lavaan), ``False`` over the :math:`p(p-1)/2` off-diagonal ones (mirt's
    SRMSR); non-finite residuals (pairs never answered together) are left out.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    rows, cols = np.tril_indices(residuals.shape[0], k=0 if diagonal else -1)
    values = residuals[rows, cols]
    values = values[np.isfinite(values)]
    return float(np.sqrt(np.mean(values ** 2))) if values.size else math.nan
