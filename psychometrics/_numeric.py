r"""Numeric constants and the few stable elementary functions every layer shares.

One place for the floors that keep logarithms, exponentials and ratios finite, so that two
modules never disagree about what "practically zero" means.

References
----------
.. [1] Mächler, M. (2012). Accurately computing :math:`\log(1 - \exp(-|a|))`. Vignette of the R
       package Rmpfr.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["TINY", "LOG_TINY", "LOG_FLOOR", "MAX_EXP", "log1mexp"]

#: Floor of a probability (or any non-negative quantity) entering a logarithm or a denominator.
TINY = 1e-300

#: Natural log of the smallest normal double (about -708.4): below it ``exp`` underflows.
#: Log-probabilities of one person's responses are floored here.
LOG_TINY = math.log(np.finfo(np.float64).tiny)

#: Smallest log-probability handed to matrix products of counts and log-probabilities:
#: ``exp(LOG_FLOOR)`` is 0 while staying finite, so ``0 * LOG_FLOOR`` is 0 where ``0 * -inf``
#: would be NaN; sums of a few thousand such terms stay finite.
LOG_FLOOR = -1.0e4

#: Largest exponent taken before ``exp`` overflows by a comfortable margin (exp(709) is the limit).
MAX_EXP = 600.0


def log1mexp(x: np.ndarray | float) -> np.ndarray:
    r"""``log(1 - exp(x))`` for ``x <= 0``, accurate everywhere (Mächler, 2012).

    Notes
    -----
    .. math::
        \log(1 - e^{x}) = \begin{cases} \log(-\mathrm{expm1}(x)) & -\log 2 < x \le 0 \\
        \mathrm{log1p}(-e^{x}) & x \le -\log 2 \end{cases}

    ``-inf`` at ``x = 0``, NaN for ``x > 0`` (no warning either way).

    Examples
    --------
    >>> float(log1mexp(-1e-20))
    -46.0517018598809
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        near_zero = x > -math.log(2.0)
        return np.where(near_zero, np.log(-np.expm1(np.minimum(x, 0.0))),
                        np.log1p(-np.exp(np.minimum(x, -math.log(2.0))))) + np.where(x > 0, np.nan, 0.0)
