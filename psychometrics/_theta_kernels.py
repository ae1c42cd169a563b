r"""Compiled sums over items for person-level Newton iterations in theta.

MAP, ML and WLE scoring need, for every person :math:`i` at its current :math:`\theta_i`, a few
sums over the items :math:`j` it answered (category :math:`x_{ij}`), of the log category
probabilities :math:`l_{jk} = \log P_{jk}(\theta)` and their derivatives in :math:`\theta`:

====  =====================================================================
slot  sum
====  =====================================================================
0     :math:`\sum_j l_{j x}` (log-likelihood)
1     :math:`\sum_j l'_{j x}` (score)
2     :math:`\sum_j l''_{j x}`
3     :math:`I = \sum_j \sum_k P_{jk} l'^2_{jk}` (test information)
4     :math:`J = \sum_j \sum_k P_{jk} l'_{jk} (l''_{jk} + l'^2_{jk})` (Warm's J)
5     :math:`J'`
6     :math:`I'`
====  =====================================================================

Slots 4 and 5 are for WLE only; MAP and ML leave them at zero (and WLE leaves slot 0).

The derivatives are analytic, one compiled loop per model family, each a handful of
exponentials per person and item:

- ordered cumulative logits (graded, and 2PL/1PL/Rasch as a graded item with two
  categories): with :math:`S_k = \sigma(a\theta + d_k)`, :math:`S_0 = 1`, :math:`S_K = 0` and
  :math:`P_k = S_k - S_{k+1} = S_k (1 - S_{k+1}) (1 - e^{d_{k+1} - d_k})` (no cancellation),
  every derivative ratio is a polynomial in :math:`x = S_k, y = S_{k+1}`:
  :math:`P'/P = a(1 - h_1)`, :math:`P''/P = a^2(1 - 3h_1 + 2h_2)`,
  :math:`P'''/P = a^3(1 - 7h_1 + 12h_2 - 6h_3)` with :math:`h_m` the complete homogeneous
  polynomials (:math:`h_1 = x + y`, :math:`h_2 = x^2 + xy + y^2`, :math:`h_3 = (x + y)(x^2 + y^2)`),
  because :math:`\sigma' = a(\sigma - \sigma^2)`, :math:`\sigma'' = a^2(\sigma - 3\sigma^2 + 2\sigma^3)`,
  :math:`\sigma''' = a^3(\sigma - 7\sigma^2 + 12\sigma^3 - 6\sigma^4)`;
- dichotomous items with asymptotes (3PL, 4PL): :math:`P_1 = g + (u - g)\sigma(z)`;
- divide-by-total (gpcm, pcm, rsm, nominal): :math:`z_k = \alpha_k\theta + c_k`,
  :math:`l'_k = \alpha_k - \mu`, :math:`l''_k = -V`, :math:`l'''_k = -M_3` with :math:`\mu, V, M_3`
  the mean, variance and third central moment of :math:`\alpha` under :math:`P`.

Then :math:`l'' = P''/P - l'^2` and :math:`l''' = P'''/P - 3l'l'' - l'^3`. A missing response
(code -1) adds nothing. Each person writes only its own row, so blocks of persons run
on separate threads (:func:`psychometrics._compiled.run_blocks`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from psychometrics import _compiled  # noqa: F401  (cache folder, before the kernels)
from psychometrics._numeric import LOG_TINY, MAX_EXP

__all__ = ["N_SUMS", "cumulative_sums", "asymptote_sums", "divide_by_total_sums", "observed_weights"]

N_SUMS = 7
# log-probabilities of a person's responses are floored as in the numpy path of scoring
_LOG_FLOOR = LOG_TINY
# |z| below which exp(z) and products of two such exponentials stay finite and nonzero
_HALF_RANGE = MAX_EXP / 2.0
# persons per block of the cumulative kernel: its work arrays (a dozen of them) stay in L1
_BLOCK = 128


@numba.njit(cache=True, nogil=True, inline="always")
def _terms(p, l1, p2, p3):  # pragma: no cover - compiled
    """One category's l'' and its terms of I, J, J' and I', from ``p2 = P''/P`` and
    ``p3 = P'''/P``: :math:`P l'^2`, :math:`P l' p_2`, :math:`P (p_2^2 + l' p_3 - l'^2 p_2)`,
    :math:`P l' (2 p_2 - l'^2)`."""
    w = p * l1
    l1_squared = l1 * l1
    return (p2 - l1_squared, w * l1, w * p2, p * (p2 * p2 + l1 * p3 - l1_squared * p2),
            w * (2.0 * p2 - l1_squared))


@numba.njit(cache=True, nogil=True, inline="always")
def _sigmoids(z):  # pragma: no cover - compiled
    """``sigma(z)`` and ``sigma(-z)``, each accurate to full relative precision."""
    e = math.exp(-abs(z))
    big = 1.0 / (1.0 + e)
    small = e * big
    if z >= 0.0:
        return big, small
    return small, big


@numba.njit(cache=True, nogil=True, inline="always")
def _cumulative_category(x, y, yc, gap, a, a2, wle):  # pragma: no cover - compiled
    """Category between :math:`S_k = x` and :math:`S_{k+1} = y` (:math:`1 - y` = ``yc``):
    ``P``, ``l'``, the chosen-category curvature term (``l''`` for WLE, ``-I`` of the item for
    MAP/ML) and the four sums over categories (only the first, ``P l'^2``, for MAP/ML)."""
    p = x * yc * gap
    h1 = x + y
    l1 = a * (1.0 - h1)
    if wle:
        squares = x * x + y * y
        h2 = squares + x * y
        p2 = a2 * (1.0 - 3.0 * h1 + 2.0 * h2)
        p3 = a2 * a * (1.0 - 7.0 * h1 + 12.0 * h2 - 6.0 * h1 * squares)
        l2, info, warm, warm_prime, info_prime = _terms(p, l1, p2, p3)
        return p, l1, l2, info, warm, warm_prime, info_prime
    # I' is for the standard error after the last Newton step (scoring._newton)
    p2 = a2 * (1.0 - 3.0 * h1 + 2.0 * (x * x + y * y + x * y))
    info_prime = p * l1 * (2.0 * p2 - l1 * l1)
    return p, l1, -(a2 * (x * (1.0 - x) + y * (1.0 - y))), p * l1 * l1, 0.0, 0.0, info_prime


@numba.njit(cache=True, nogil=True, error_model="numpy")
def cumulative_sums(codes, rows, theta, items, slope, intercepts, gap, wle, out):  # pragma: no cover
    """Add the sums of items ``items`` (ordered cumulative logits) to ``out`` (len(rows), 7).

    ``intercepts`` (G, K-1) are decreasing; ``gap`` (G, K) is :math:`1 - e^{d_{k+1} - d_k}`
    (1 at both ends, 0 where the order is broken). The log-likelihood (slot 0) is left out
    for WLE, whose merit is the residual of its equation.

    Persons go through in blocks of ``_BLOCK``, one item and category at a time over the
    whole block: that innermost loop has no branch (a missing or unchosen response adds a
    selected zero) and no division check (``error_model="numpy"``), so it runs in SIMD lanes,
    four times faster than a loop over items per person. Each person's sums take the same
    operations in the same order as there, so the results are the same to the last bit.
    Items or blocks where an exponential could overflow (:math:`|a\theta|` or
    :math:`|d_k|` beyond half the exponent range) take the exact per-person loop.
    """
    n_items = items.shape[0]
    n_thresholds = intercepts.shape[1]
    exp_neg_intercepts = np.exp(-np.minimum(np.maximum(intercepts, -_HALF_RANGE), _HALF_RANGE))
    moderate = np.empty(n_items, dtype=np.bool_)
    for g in range(n_items):
        moderate[g] = np.all(np.abs(intercepts[g]) < _HALF_RANGE)
    size = _BLOCK
    t = np.empty(size)
    e_slope = np.empty(size)
    x = np.empty(size)
    chosen_p = np.empty(size)
    code = np.empty(size, dtype=np.int64)
    s0 = np.empty(size)
    s1 = np.empty(size)
    s2 = np.empty(size)
    s3 = np.empty(size)
    s4 = np.empty(size)
    s5 = np.empty(size)
    s6 = np.empty(size)
    n_rows = rows.shape[0]
    for begin in range(0, n_rows, size):
        m = min(size, n_rows - begin)
        top = 0.0
        for r in range(m):
            t[r] = theta[begin + r]
            top = max(top, abs(t[r]))
            s0[r] = s1[r] = s2[r] = s3[r] = s4[r] = s5[r] = s6[r] = 0.0
        for g in range(n_items):
            a = slope[g]
            a2 = a * a
            column = items[g]
            for r in range(m):
                code[r] = codes[rows[begin + r], column]
            if not (moderate[g] and abs(a) * top < _HALF_RANGE):
                for r in range(m):
                    c = code[r]
                    if c >= 0:
                        v0, v1, v2, v3, v4, v5, v6 = _cumulative_item(
                            t[r], c, a, intercepts[g], exp_neg_intercepts[g], gap[g], moderate[g], wle)
                        s0[r] += v0
                        s1[r] += v1
                        s2[r] += v2
                        s3[r] += v3
                        s4[r] += v4
                        s5[r] += v5
                        s6[r] += v6
                continue
            # exp(-z_k) = exp(-a t) exp(-d_k): one exponential per item instead of one per
            # threshold, while neither factor can overflow
            for r in range(m):
                e_slope[r] = math.exp(-(a * t[r]))
                x[r] = 1.0
            for k in range(n_thresholds + 1):
                gap_k = gap[g, k]
                last = k == n_thresholds
                e_intercept = 0.0 if last else exp_neg_intercepts[g, k]
                # category k lies between S_k (S_0 = 1) and S_{k+1} (S_K = 0)
                for r in range(m):
                    if last:
                        y, yc = 0.0, 1.0
                    else:
                        v = e_slope[r] * e_intercept
                        y = 1.0 / (1.0 + v)
                        yc = v * y
                    p, l1, l2, info, warm, warm_prime, info_prime = _cumulative_category(
                        x[r], y, yc, gap_k, a, a2, wle)
                    observed = code[r] >= 0
                    chosen = code[r] == k
                    s1[r] += l1 if chosen else 0.0
                    s2[r] += l2 if chosen else 0.0
                    s3[r] += info if observed else 0.0
                    s6[r] += info_prime if observed else 0.0
                    if wle:
                        s4[r] += warm if observed else 0.0
                        s5[r] += warm_prime if observed else 0.0
                    elif chosen:
                        chosen_p[r] = p
                    x[r] = y
            if not wle:
                for r in range(m):
                    if code[r] >= 0:
                        s0[r] += math.log(chosen_p[r]) if chosen_p[r] > 0.0 else _LOG_FLOOR
        for r in range(m):
            row = begin + r
            out[row, 0] += s0[r]
            out[row, 1] += s1[r]
            out[row, 2] += s2[r]
            out[row, 3] += s3[r]
            out[row, 4] += s4[r]
            out[row, 5] += s5[r]
            out[row, 6] += s6[r]


@numba.njit(cache=True, nogil=True)
def _cumulative_item(t, c, a, intercepts, exp_neg_intercepts, gap, moderate, wle):  # pragma: no cover
    """One person's terms of one cumulative-logit item, any theta and intercepts."""
    a2 = a * a
    n_thresholds = intercepts.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = 0.0
    x = 1.0
    slope_term = a * t
    factored = abs(slope_term) < _HALF_RANGE and moderate
    e_slope = math.exp(-slope_term) if factored else 0.0
    for k in range(n_thresholds + 1):
        if k == n_thresholds:
            y, yc = 0.0, 1.0
        elif factored:
            v = e_slope * exp_neg_intercepts[k]
            y = 1.0 / (1.0 + v)
            yc = v * y
        else:
            y, yc = _sigmoids(slope_term + intercepts[k])
        p, l1, l2, info, warm, warm_prime, info_prime = _cumulative_category(x, y, yc, gap[k], a, a2, wle)
        s3 += info
        s4 += warm
        s5 += warm_prime
        s6 += info_prime
        if k == c:
            s1 += l1
            s2 += l2
            if not wle:
                s0 += math.log(p) if p > 0.0 else _LOG_FLOOR
        x = y
    return s0, s1, s2, s3, s4, s5, s6


@numba.njit(cache=True, nogil=True)
def asymptote_sums(codes, rows, theta, items, slope, intercept, lower, upper, wle, out):  # pragma: no cover
    """Add the sums of dichotomous items with asymptotes ``lower`` (g), ``upper`` (u)."""
    n_items = items.shape[0]
    for r in range(rows.shape[0]):
        i = rows[r]
        t = theta[r]
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = 0.0
        for g in range(n_items):
            c = codes[i, items[g]]
            if c < 0:
                continue
            a = slope[g]
            s, sc = _sigmoids(a * t + intercept[g])
            width = upper[g] - lower[g]
            ss = s * sc
            for k in range(2):
                if k == 1:
                    p = lower[g] + width * s
                    q = width * s / p if p > 0.0 else 0.0  # share of P1 that moves with theta
                    l1 = a * sc * q
                    p2 = a * a * sc * (1.0 - 2.0 * s) * q
                    p3 = a * a * a * sc * (1.0 - 6.0 * ss) * q
                else:
                    p = (1.0 - upper[g]) + width * sc
                    q = width * sc / p if p > 0.0 else 0.0
                    l1 = -a * s * q
                    p2 = -a * a * s * (1.0 - 2.0 * s) * q
                    p3 = -a * a * a * s * (1.0 - 6.0 * ss) * q
                l2, info, warm, warm_prime, info_prime = _terms(p, l1, p2, p3)
                s3 += info
                s4 += warm
                s5 += warm_prime
                s6 += info_prime
                if k == c:
                    s0 += math.log(p) if p > 0.0 else _LOG_FLOOR
                    s1 += l1
                    s2 += l2
        out[r, 0] += s0
        out[r, 1] += s1
        out[r, 2] += s2
        out[r, 3] += s3
        out[r, 4] += s4
        out[r, 5] += s5
        out[r, 6] += s6


@numba.njit(cache=True, nogil=True)
def divide_by_total_sums(codes, rows, theta, items, alpha, intercepts, wle, out):  # pragma: no cover
    """Add the sums of divide-by-total items, :math:`z_k = \\alpha_k \\theta + c_k`, (G, K) each."""
    n_items = items.shape[0]
    n_cat = alpha.shape[1]
    for r in range(rows.shape[0]):
        i = rows[r]
        t = theta[r]
        prob = np.empty(n_cat)
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = 0.0
        for g in range(n_items):
            c = codes[i, items[g]]
            if c < 0:
                continue
            top = -math.inf
            for k in range(n_cat):
                top = max(top, alpha[g, k] * t + intercepts[g, k])
            total = 0.0
            mean = 0.0
            for k in range(n_cat):
                e = math.exp(alpha[g, k] * t + intercepts[g, k] - top)
                prob[k] = e
                total += e
                mean += e * alpha[g, k]
            mean /= total
            variance = 0.0
            third = 0.0
            fourth = 0.0
            for k in range(n_cat):
                p = prob[k] / total
                dev = alpha[g, k] - mean
                dev2 = dev * dev
                variance += p * dev2
                third += p * dev2 * dev
                fourth += p * dev2 * dev2
            # l' = alpha - mean, l'' = -V, l''' = -M3 for every category
            s1 += alpha[g, c] - mean
            s2 -= variance
            s3 += variance
            s6 += third
            if wle:
                s4 += third
                s5 += fourth - 3.0 * variance * variance
            else:
                s0 += max(alpha[g, c] * t + intercepts[g, c] - top - math.log(total), _LOG_FLOOR)
        out[r, 0] += s0
        out[r, 1] += s1
        out[r, 2] += s2
        out[r, 3] += s3
        out[r, 4] += s4
        out[r, 5] += s5
        out[r, 6] += s6


@numba.njit(cache=True, nogil=True)
def observed_weights(codes, rows, weights, out):  # pragma: no cover - compiled
    """For each person ``rows[r]``: the sum over its answered items of the weight of its
    category (``weights`` (J, K), NaN beyond an item's categories), and the sums of the
    smallest and largest weight of the same items, into ``out`` (len(rows), 3)."""
    n_items = weights.shape[0]
    low = np.empty(n_items)
    high = np.empty(n_items)
    for j in range(n_items):
        low[j] = math.inf
        high[j] = -math.inf
        for k in range(weights.shape[1]):
            if not math.isnan(weights[j, k]):
                low[j] = min(low[j], weights[j, k])
                high[j] = max(high[j], weights[j, k])
    for r in range(rows.shape[0]):
        i = rows[r]
        total = smallest = largest = 0.0
        for j in range(n_items):
            c = codes[i, j]
            if c >= 0:
                total += weights[j, c]
                smallest += low[j]
                largest += high[j]
        out[r, 0] = total
        out[r, 1] = smallest
        out[r, 2] = largest
