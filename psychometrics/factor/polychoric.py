"""Polychoric, tetrachoric and polyserial correlations.

Ordinal items are treated as coarse readings of latent standard normal variables: an item
with categories ``1..K`` is observed as category ``c`` when its latent value falls between
thresholds ``tau[c-1]`` and ``tau[c]``. The polychoric correlation of two items is the
correlation of their latent variables, estimated in two steps (Olsson, 1979): thresholds from
each item's marginal proportions, then ``rho`` per pair by maximizing the bivariate-normal
likelihood of the pair's contingency table with the thresholds held fixed.

All contingency tables come from one compiled pass over the persons (each table uses the
respondents who answered both items), and ``rho`` is found for all pairs at once by vectorized
Fisher scoring.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from scipy import special

from psychometrics import _compiled  # noqa: F401  (cache folder, before the kernels)
from psychometrics._blas import single_threaded_blas
from psychometrics._numeric import TINY
from psychometrics.data import as_responses, category_index
from psychometrics.errors import EstimationError, ModelWarning, ResponseError
from psychometrics._results import brief_repr

__all__ = [
    "PolychoricResult",
    "polychoric",
    "tetrachoric",
    "polyserial",
    "smooth_correlation",
    "bivariate_normal_cdf",
    "asymptotic_covariance",
]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(20)
# (|r| below, |r| from, Gauss-Legendre rule) of the Drezner-Wesolowsky integral (Genz, 2004)
_GL_RULES = ((0.3, 0.0, np.polynomial.legendre.leggauss(6)),
             (0.75, 0.3, np.polynomial.legendre.leggauss(12)),
             (0.925, 0.75, (_GL_NODES, _GL_WEIGHTS)))
_TWO_PI = 2.0 * np.pi
_RHO_BOUND = 0.9999
# pairs estimated together: bounds the (pairs x categories^2 x quadrature nodes) work arrays
_PAIR_BATCH = 2048


@dataclass(frozen=True)
class PolychoricResult:
    """Latent correlations of ordinal items.

    Attributes
    ----------
    correlation : DataFrame
        Items x items correlation matrix (smoothed when it was not positive definite).
    thresholds : DataFrame
        One row per item, columns ``t1..t(K-1)``; NaN where an item has fewer categories.
    n_pairs : DataFrame
        Items x items count of respondents who answered both items.
    smoothed : bool
        True when the matrix was not positive definite and was smoothed.
    kind : str
        ``"polychoric"`` or ``"tetrachoric"``.
    """

    __repr__ = brief_repr

    correlation: pd.DataFrame
    thresholds: pd.DataFrame
    n_pairs: pd.DataFrame
    smoothed: bool
    kind: str = "polychoric"

    @property
    def n_obs(self) -> int:
        """Largest pairwise count, the sample size used by fit statistics downstream."""
        return int(self.n_pairs.to_numpy().max())

    def to_frame(self) -> pd.DataFrame:
        """The correlation matrix."""
        return self.correlation.copy()

    def summary(self, digits: int = 2) -> str:
        header = f"{self.kind} correlations ({len(self.correlation)} items)"
        return header + "\n" + self.correlation.round(digits).to_string()


# --------------------------------------------------------------------------------------------
# bivariate normal distribution
# --------------------------------------------------------------------------------------------

def _norm_cdf(x: np.ndarray) -> np.ndarray:
    return special.ndtr(x)


def _upper_bvn(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """P(X > h, Y > k) for standard bivariate normal with correlation r (finite h, k).

    Drezner & Wesolowsky (1990) as refined by Genz (2004): Gauss-Legendre quadrature of the
    integral over arcsin(r) for |r| < 0.925, and an expansion around r = +-1 otherwise.
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    out = np.empty(h.shape, dtype=np.float64)
    low = np.abs(r) < 0.925
    x = _GL_NODES[:, None]
    w = _GL_WEIGHTS[:, None]
    # Genz's rule: 6 nodes for |r| < 0.3, 12 below 0.75, 20 above, for the same accuracy
    for below, above, (nodes, weights) in _GL_RULES:
        part = low & (np.abs(r) >= above) & (np.abs(r) < below)
        if not part.any():
            continue
        hl, kl, rl = h[part], k[part], r[part]
        hk = hl * kl
        hs = (hl * hl + kl * kl) / 2.0
        # the sines depend on r only, shared by the many limits of one correlation
        values, inverse = np.unique(rl, return_inverse=True)
        asr_values = np.arcsin(values)
        sn = np.sin(asr_values * (nodes[:, None] + 1.0) / 2.0)[:, inverse.ravel()]
        asr = asr_values[inverse.ravel()]
        total = np.sum(weights[:, None] * np.exp((sn * hk - hs) / (1.0 - sn * sn)), axis=0)
        out[part] = total * asr / (4.0 * np.pi) + _norm_cdf(-hl) * _norm_cdf(-kl)
    high = ~low
    if high.any():
        hh, kh, rh = h[high], k[high].copy(), r[high]
        neg = rh < 0
        kh[neg] = -kh[neg]
        hk = hh * kh
        bvn = np.zeros(hh.shape)
        inner = np.abs(rh) < 1.0
        if inner.any():
            hi, ki, hki, ri = hh[inner], kh[inner], hk[inner], rh[inner]
            a_sq = (1.0 - ri) * (1.0 + ri)
            a = np.sqrt(a_sq)
            b_sq = (hi - ki) ** 2
            c = (4.0 - hki) / 8.0
            d = (12.0 - hki) / 16.0
            val = a * np.exp(-(b_sq / a_sq + hki) / 2.0) * (
                1.0 - c * (b_sq - a_sq) * (1.0 - d * b_sq / 5.0) / 3.0 + c * d * a_sq * a_sq / 5.0)
            b = np.sqrt(b_sq)
            tail = np.where(
                hki > -160.0,
                np.exp(-np.minimum(hki, 160.0) / 2.0) * np.sqrt(_TWO_PI) * _norm_cdf(-b / a) * b
                * (1.0 - c * b_sq * (1.0 - d * b_sq / 5.0) / 3.0),
                0.0,
            )
            val = val - tail
            half = a / 2.0
            xs = (half * (x + 1.0)) ** 2
            rs = np.sqrt(1.0 - xs)
            asr = -(b_sq / xs + hki) / 2.0
            keep = asr > -100.0
            term = half * w * np.exp(np.where(keep, asr, -100.0)) * (
                np.exp(-hki * xs / (2.0 * (1.0 + rs) ** 2)) / rs - (1.0 + c * xs * (1.0 + d * xs)))
            val = val + np.sum(np.where(keep, term, 0.0), axis=0)
            bvn[inner] = -val / _TWO_PI
        pos = ~neg
        bvn[pos] = bvn[pos] + _norm_cdf(-np.maximum(hh[pos], kh[pos]))
        bvn[neg] = -bvn[neg]
        swap = neg & (kh > hh)
        bvn[swap] = bvn[swap] + np.where(
            hh[swap] < 0, _norm_cdf(kh[swap]) - _norm_cdf(hh[swap]), _norm_cdf(-hh[swap]) - _norm_cdf(-kh[swap]))
        out[high] = bvn
    return out


def bivariate_normal_cdf(h: Any, k: Any, rho: Any) -> np.ndarray:
    r"""P(X <= h, Y <= k) for a standard bivariate normal with correlation ``rho``.

    Vectorized over broadcastable ``h``, ``k``, ``rho``; infinite limits are allowed.

    Notes
    -----
    .. math:: \Phi_2(h, k; \rho) = \Phi(h)\Phi(k) + \frac{1}{2\pi}\int_0^{\arcsin\rho}
              \exp\!\left(-\frac{h^2 + k^2 - 2hk\sin\theta}{2\cos^2\theta}\right) d\theta

    evaluated by 20-point Gauss-Legendre quadrature, with Genz's expansion for
    :math:`|\rho| \ge 0.925`; absolute error below about 1e-14.

    References
    ----------
    .. [1] Drezner, Z. & Wesolowsky, G. O. (1990). On the computation of the bivariate normal
           integral. Journal of Statistical Computation and Simulation, 35, 101-107.
    .. [2] Genz, A. (2004). Numerical computation of rectangular bivariate and trivariate
           normal and t probabilities. Statistics and Computing, 14, 251-260.
    """
    h, k, rho = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(rho, float))
    out = np.zeros(h.shape, dtype=np.float64)
    h_inf, k_inf = np.isinf(h), np.isinf(k)
    finite = ~(h_inf | k_inf)
    # an infinite limit reduces the probability to a univariate one (or 0)
    only_k = (h == np.inf) & ~k_inf
    only_h = (k == np.inf) & ~h_inf
    out[only_k] = _norm_cdf(k[only_k])
    out[only_h] = _norm_cdf(h[only_h])
    out[(h == np.inf) & (k == np.inf)] = 1.0
    if finite.any():
        out[finite] = _upper_bvn(-h[finite], -k[finite], rho[finite])
    return out


def _bvn_density(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bivariate normal density and its derivative in rho; both zero where a limit is infinite."""
    finite = np.isfinite(h) & np.isfinite(k)
    hf = np.where(finite, h, 0.0)
    kf = np.where(finite, k, 0.0)
    one_minus = 1.0 - rho * rho
    quad = hf * hf - 2.0 * rho * hf * kf + kf * kf
    dens = np.where(finite, np.exp(-quad / (2.0 * one_minus)) / (_TWO_PI * np.sqrt(one_minus)), 0.0)
    slope = rho / one_minus + (hf * kf * one_minus - rho * quad) / one_minus ** 2
    return dens, dens * slope


# --------------------------------------------------------------------------------------------
# data preparation
# --------------------------------------------------------------------------------------------

# integer codes spanning at most this many values are recoded by a lookup table, not a sort
_LOOKUP_SPAN = 1024


def _observed_levels(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`psychometrics.data.category_index` without codes (index of each response among
    the distinct observed values, -1 for NaN), by a lookup table where the responses are
    integers over a short range (Likert codes), which spares the sort."""
    column = np.asarray(column, dtype=np.float64)
    observed = column[~np.isnan(column)]
    if observed.size:
        low, high = observed.min(), observed.max()
        if high - low < _LOOKUP_SPAN and np.array_equal(observed, np.floor(observed)):
            shifted = np.where(np.isnan(column), -1.0, column - low).astype(np.int64)
            present = np.bincount(shifted[shifted >= 0], minlength=int(high - low) + 1) > 0
            lookup = np.append(np.cumsum(present) - 1, -1)  # shifted -1 (missing) reads the last entry
            return lookup[shifted], np.flatnonzero(present) + low
    return category_index(column)


def _ordinal_codes(values: np.ndarray, item_ids: list[str], max_categories: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Recode each item to 0..K-1 over its observed categories; -1 marks missing."""
    n_persons, n_items = values.shape
    codes = np.full((n_persons, n_items), -1, dtype=np.int64)
    n_categories = np.zeros(n_items, dtype=np.int64)
    for j in range(n_items):
        index, levels = _observed_levels(values[:, j])
        if levels.size < 2:
            raise ResponseError(
                f"item {item_ids[j]!r} (column {j}): {levels.size} distinct observed value(s); a latent "
                "correlation needs at least two categories. Drop the item or collect more responses.")
        if levels.size > max_categories:
            raise ResponseError(
                f"item {item_ids[j]!r} (column {j}): {levels.size} distinct values, more than "
                f"max_categories={max_categories}; treat it as continuous (Pearson or polyserial).")
        codes[:, j] = index
        n_categories[j] = levels.size
    return codes, n_categories


@numba.njit(cache=True, nogil=True)
def _count_pairs(coded, size, out):  # pragma: no cover - compiled
    """Add the pair of codes of every person (columns of ``coded``, items x persons) for every
    item pair (i < j, row-major) to ``out`` (pairs, size * size)."""
    n_items, n_persons = coded.shape
    # four copies of a table take consecutive persons, so that two increments of the same
    # cell rarely follow each other
    local = np.zeros((4, out.shape[1]), dtype=np.int64)
    position = 0
    for i in range(n_items - 1):
        first = coded[i]
        for j in range(i + 1, n_items):
            second = coded[j]
            local[:] = 0
            stop = n_persons - n_persons % 4
            for r in range(0, stop, 4):
                local[0, first[r] * size + second[r]] += 1
                local[1, first[r + 1] * size + second[r + 1]] += 1
                local[2, first[r + 2] * size + second[r + 2]] += 1
                local[3, first[r + 3] * size + second[r + 3]] += 1
            for r in range(stop, n_persons):
                local[0, first[r] * size + second[r]] += 1
            for c in range(out.shape[1]):
                out[position, c] += local[0, c] + local[1, c] + local[2, c] + local[3, c]
            position += 1


def _pair_tables(codes: np.ndarray, k_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Contingency tables of all item pairs (i < j, row-major order) and per-item counts.

    One pass over the persons counts every pair (a compiled loop, blocks of persons on
    separate threads, each with its own tables). Missing responses go to an extra category
    that is cut off afterwards, which leaves each table with the respondents who answered
    both items.
    """
    n_persons, n_items = codes.shape
    size = k_max + 1
    coded = np.ascontiguousarray(np.where(codes < 0, k_max, codes).astype(np.int32).T)  # items x persons
    n_pairs = n_items * (n_items - 1) // 2
    bounds = _compiled.block_bounds(n_persons, _compiled.n_threads() if n_persons * n_pairs > 1_000_000 else 1)
    parts = [np.zeros((n_pairs, size * size), dtype=np.int64) for _ in bounds]
    _compiled.run_blocks(_count_pairs, [(coded[:, a:b], size, part) for (a, b), part in zip(bounds, parts)])
    tables = np.sum(parts, axis=0).astype(np.float64).reshape(n_pairs, size, size)
    marginals = np.stack([np.bincount(coded[j], minlength=size)[:k_max] for j in range(n_items)]).astype(float)
    return tables[:, :k_max, :k_max], marginals


def _thresholds_from_marginals(marginal: np.ndarray) -> np.ndarray:
    """Inner thresholds (K-1) from a vector of category counts."""
    cumulative = np.cumsum(marginal)[:-1] / marginal.sum()
    return special.ndtri(cumulative)


# --------------------------------------------------------------------------------------------
# estimation
# --------------------------------------------------------------------------------------------

def _cell_probabilities(row_cuts: np.ndarray, col_cuts: np.ndarray, rho: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell probabilities and their first and second derivatives in rho for a batch of pairs.

    row_cuts, col_cuts: (pairs, K+1) with -inf first and +inf padding at the end.
    """
    h = row_cuts[:, :, None]
    k = col_cuts[:, None, :]
    r = rho[:, None, None]
    cdf = bivariate_normal_cdf(h, k, r)
    dens, ddens = _bvn_density(np.broadcast_to(h, cdf.shape), np.broadcast_to(k, cdf.shape),
                               np.broadcast_to(r, cdf.shape))

    def cells(corner: np.ndarray) -> np.ndarray:
        return corner[:, 1:, 1:] - corner[:, :-1, 1:] - corner[:, 1:, :-1] + corner[:, :-1, :-1]

    return cells(cdf), cells(dens), cells(ddens)


def _loglik(tables: np.ndarray, prob: np.ndarray) -> np.ndarray:
    positive = tables > 0
    safe = np.where(positive, np.maximum(prob, TINY), 1.0)
    return np.sum(np.where(positive, tables * np.log(safe), 0.0), axis=(1, 2))


def _fit_rho(tables: np.ndarray, row_cuts: np.ndarray, col_cuts: np.ndarray, start: np.ndarray,
             *, tol: float = 1e-9, max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps on rho for every pair at once (Fisher scoring where the log-likelihood is
    not concave), halving steps that lose likelihood."""
    rho = np.clip(start, -0.95, 0.95)
    totals = tables.sum(axis=(1, 2))
    prob, dprob, d2prob = _cell_probabilities(row_cuts, col_cuts, rho)
    loglik = _loglik(tables, prob)
    active = np.ones(rho.shape, dtype=bool)
    converged = np.zeros(rho.shape, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        p, dp, d2p, t = prob[idx], dprob[idx], d2prob[idx], tables[idx]
        positive_p = p > TINY
        safe_p = np.where(positive_p, p, 1.0)
        ratio = np.where(positive_p, dp / safe_p, 0.0)
        score = np.sum(t * ratio, axis=(1, 2))
        hessian = np.sum(np.where(positive_p, t * (d2p / safe_p - ratio * ratio), 0.0), axis=(1, 2))
        information = totals[idx] * np.sum(np.where(positive_p, dp * ratio, 0.0), axis=(1, 2))
        curvature = np.where(hessian < 0, -hessian, np.maximum(information, 1e-12))
        step = np.clip(score / curvature, -0.5, 0.5)
        current = rho[idx]
        accepted = np.zeros(idx.size, dtype=bool)
        new_rho = current.copy()
        new_prob, new_dprob, new_d2prob, new_ll = p.copy(), dp.copy(), d2p.copy(), loglik[idx].copy()
        trial_step = step.copy()
        for _half in range(40):
            todo = ~accepted
            if not todo.any():
                break
            trial = np.clip(current[todo] + trial_step[todo], -_RHO_BOUND, _RHO_BOUND)
            tp, tdp, td2p = _cell_probabilities(row_cuts[idx[todo]], col_cuts[idx[todo]], trial)
            tll = _loglik(t[todo], tp)
            better = tll >= loglik[idx[todo]] - 1e-12 * np.abs(loglik[idx[todo]])
            where = np.flatnonzero(todo)[better]
            new_rho[where] = trial[better]
            new_prob[where], new_dprob[where], new_d2prob[where] = tp[better], tdp[better], td2p[better]
            new_ll[where] = tll[better]
            accepted[where] = True
            trial_step[todo] = trial_step[todo] / 2.0
        moved = np.abs(new_rho - current)
        rho[idx], prob[idx], dprob[idx], d2prob[idx], loglik[idx] = new_rho, new_prob, new_dprob, new_d2prob, new_ll
        # convergence is declared on the gradient (the Newton step it implies), never on a
        # failed line search alone; a pair on the bound whose gradient points outward has its
        # maximum there
        stationary = np.abs(score / curvature) < max(1e-6, 100.0 * tol)
        held = (np.abs(current) >= _RHO_BOUND) & (np.sign(score) == np.sign(current))
        converged[idx[stationary | held]] = True
        active[idx[stationary | held | (moved < tol) | ~accepted]] = False
    return rho, converged


def smooth_correlation(matrix: np.ndarray, *, eig_tol: float = 1e-12) -> tuple[np.ndarray, bool]:
    r"""Make a correlation matrix positive definite, as ``psych::cor.smooth`` does.

    Eigenvalues below ``eig_tol`` are set to ``100 * eig_tol``, the eigenvalues are rescaled to
    sum to the number of variables, and the rebuilt matrix is rescaled to a unit diagonal.

    Returns
    -------
    (matrix, smoothed) : the (possibly) smoothed matrix and whether smoothing was needed.

    References
    ----------
    .. [1] Revelle, W. (2024). psych: Procedures for Psychological, Psychometric, and
           Personality Research, function ``cor.smooth``. Northwestern University.
    """
    values, vectors = np.linalg.eigh(matrix)
    if values.min() >= np.finfo(float).eps:
        return matrix, False
    values = np.where(values < eig_tol, 100.0 * eig_tol, values)
    values = values * (len(values) / values.sum())
    rebuilt = (vectors * values) @ vectors.T
    scale = 1.0 / np.sqrt(np.diag(rebuilt))
    rebuilt = rebuilt * scale[:, None] * scale[None, :]
    np.fill_diagonal(rebuilt, 1.0)
    return (rebuilt + rebuilt.T) / 2.0, True


def _latent_correlation(data: Any, *, smooth: bool, max_categories: int, kind: str,
                        tol: float) -> PolychoricResult:
    responses = as_responses(data)
    items = responses.item_ids
    if responses.n_items < 2:
        raise ResponseError(f"{kind} correlations need at least two items, got {responses.n_items}")
    codes, n_categories = _ordinal_codes(responses.values, items, max_categories)
    if kind == "tetrachoric" and np.any(n_categories != 2):
        bad = [items[j] for j in np.flatnonzero(n_categories != 2)]
        raise ResponseError(f"tetrachoric correlations need dichotomous items; items {bad} have "
                            f"{[int(n_categories[items.index(b)]) for b in bad]} categories. Use polychoric().")
    n_items = len(items)
    k_max = int(n_categories.max())
    tables, marginals = _pair_tables(codes, k_max)

    thresholds = np.full((n_items, k_max - 1), np.nan)
    cuts = np.full((n_items, k_max + 1), np.inf)
    cuts[:, 0] = -np.inf
    for j in range(n_items):
        tau = _thresholds_from_marginals(marginals[j, : n_categories[j]])
        thresholds[j, : tau.size] = tau
        cuts[j, 1: tau.size + 1] = tau

    first, second = np.triu_indices(n_items, k=1)
    grid = np.arange(k_max)
    totals = tables.sum(axis=(1, 2))
    n_pairs = np.zeros((n_items, n_items))
    n_pairs[first, second] = n_pairs[second, first] = totals
    n_pairs[np.arange(n_items), np.arange(n_items)] = marginals.sum(axis=1)
    empty = np.flatnonzero(totals == 0)
    if empty.size:
        a, b = items[first[empty[0]]], items[second[empty[0]]]
        raise ResponseError(f"items {a!r} and {b!r} have no respondent in common, so their {kind} "
                            f"correlation is undefined ({empty.size} such pair(s) in all)")

    # start at the Pearson correlation of the category scores, a good guess for rho
    scores = grid.astype(float)
    row_m = tables.sum(axis=2)
    col_m = tables.sum(axis=1)
    mean_r = row_m @ scores / totals
    mean_c = col_m @ scores / totals
    var_r = row_m @ scores ** 2 / totals - mean_r ** 2
    var_c = col_m @ scores ** 2 / totals - mean_c ** 2
    cov = np.einsum("pij,i,j->p", tables, scores, scores) / totals - mean_r * mean_c
    denom = np.sqrt(var_r * var_c)
    degenerate = denom <= 0
    start = np.where(degenerate, 0.0, cov / np.where(degenerate, 1.0, denom))
    if degenerate.any():
        pair = np.flatnonzero(degenerate)[0]
        warnings.warn(
            f"items {items[first[pair]]!r} and {items[second[pair]]!r}: among the respondents who answered "
            f"both, one of them is constant; their {kind} correlation is weakly determined",
            ModelWarning, stacklevel=3)

    rho = np.empty(first.size)
    converged = np.empty(first.size, dtype=bool)
    for lo in range(0, first.size, _PAIR_BATCH):
        batch = slice(lo, lo + _PAIR_BATCH)
        rho[batch], converged[batch] = _fit_rho(tables[batch], cuts[first[batch]], cuts[second[batch]],
                                                start[batch], tol=tol)
    if not converged.all():
        bad = np.flatnonzero(~converged)[0]
        raise EstimationError(f"the {kind} correlation of items {items[first[bad]]!r} and "
                              f"{items[second[bad]]!r} did not converge")
    at_bound = np.flatnonzero(np.abs(rho) >= _RHO_BOUND)
    if at_bound.size:
        shown = ", ".join(f"{items[first[b]]!r}-{items[second[b]]!r}" for b in at_bound[:5])
        warnings.warn(f"{at_bound.size} {kind} correlation(s) held at the bound +-{_RHO_BOUND} ({shown}"
                      f"{' ...' if at_bound.size > 5 else ''}): the pair's table is (nearly) deterministic and "
                      "the estimate is a bound, not a maximum", ModelWarning, stacklevel=3)

    matrix = np.eye(n_items)
    matrix[first, second] = matrix[second, first] = rho
    smoothed = False
    if smooth:
        matrix, smoothed = smooth_correlation(matrix)
        if smoothed:
            warnings.warn(f"the {kind} correlation matrix was not positive definite and was smoothed "
                          "(eigenvalues floored and rescaled, as psych::cor.smooth)", ModelWarning, stacklevel=3)
    columns = [f"t{i + 1}" for i in range(k_max - 1)]
    return PolychoricResult(
        correlation=pd.DataFrame(matrix, index=items, columns=items),
        thresholds=pd.DataFrame(thresholds, index=items, columns=columns),
        n_pairs=pd.DataFrame(n_pairs, index=items, columns=items),
        smoothed=smoothed,
        kind=kind,
    )


def polychoric(responses: Any, *, smooth: bool = True, max_categories: int = 10,
               tol: float = 1e-9) -> PolychoricResult:
    r"""Polychoric correlation matrix of ordinal items by two-step maximum likelihood.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items, integer category codes, NaN for missing.
    smooth : bool
        Smooth a matrix that is not positive definite (with a :class:`ModelWarning`).
    max_categories : int
        Items with more distinct values are rejected (treat them as continuous).
    tol : float
        Convergence tolerance on each ``rho``.

    Returns
    -------
    PolychoricResult
        ``correlation``, ``thresholds``, ``n_pairs``, ``smoothed``.

    Notes
    -----
    Each item's observed categories are ordered and its thresholds are
    :math:`\tau_c = \Phi^{-1}(P(X \le c))` from all its responses (psych's "global"
    thresholds). For a pair with table :math:`n_{ab}` the estimate maximizes

    .. math:: \ell(\rho) = \sum_{a,b} n_{ab}\log\left[\Phi_2(\tau_a, \tau'_b; \rho)
              - \Phi_2(\tau_{a-1}, \tau'_b; \rho) - \Phi_2(\tau_a, \tau'_{b-1}; \rho)
              + \Phi_2(\tau_{a-1}, \tau'_{b-1}; \rho)\right]

    over the respondents who answered both items (pairwise deletion), by Fisher scoring;
    :math:`\partial\Phi_2/\partial\rho` is the bivariate normal density. No continuity
    correction is added to empty cells.

    References
    ----------
    .. [1] Olsson, U. (1979). Maximum likelihood estimation of the polychoric correlation
           coefficient. Psychometrika, 44, 443-460.
    .. [2] Revelle, W. (2024). psych, function ``polychoric`` (global thresholds).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> z = rng.multivariate_normal([0, 0], [[1, .5], [.5, 1]], size=2000)
    >>> x = pd.DataFrame(np.digitize(z, [-1, 0, 1]) + 1, columns=["a", "b"])
    >>> print(round(float(polychoric(x).correlation.loc["a", "b"]), 1))
    0.5
    """
    return _latent_correlation(responses, smooth=smooth, max_categories=max_categories,
                               kind="polychoric", tol=tol)


def tetrachoric(responses: Any, *, smooth: bool = True, tol: float = 1e-9) -> PolychoricResult:
    """Tetrachoric correlation matrix of dichotomous items.

    The two-category case of :func:`polychoric` (same estimator, same missing-data handling);
    items with other than two observed categories raise :class:`ResponseError`.

    References
    ----------
    .. [1] Divgi, D. R. (1979). Calculation of the tetrachoric correlation coefficient.
           Psychometrika, 44, 169-172.
    """
    return _latent_correlation(responses, smooth=smooth, max_categories=10, kind="tetrachoric", tol=tol)


def polyserial(continuous: Any, ordinal: Any, *, max_categories: int = 10) -> pd.DataFrame:
    r"""Polyserial correlations between continuous variables and ordinal items.

    Parameters
    ----------
    continuous : DataFrame, Series or ndarray
        Persons x variables (a 1-D input is one variable); NaN for missing.
    ordinal : DataFrame, ndarray or Responses
        Persons x items, the same persons in the same order.

    Returns
    -------
    DataFrame
        Continuous variables (rows) x ordinal items (columns).

    Notes
    -----
    The two-step estimator of Olsson, Drasgow & Dorans (1982), as in ``psych::polyserial``:

    .. math:: r_{ps} = \frac{r_{xy}\, s_y \sqrt{(n-1)/n}}{\sum_{c=1}^{K-1}\varphi(\tau_c)}

    where :math:`r_{xy}` is the pairwise Pearson correlation of the variable with the item
    codes, :math:`s_y` the item's standard deviation and :math:`\tau_c` its thresholds;
    the result is truncated to [-1, 1].

    References
    ----------
    .. [1] Olsson, U., Drasgow, F. & Dorans, N. J. (1982). The polyserial correlation
           coefficient. Psychometrika, 47, 337-347.
    """
    responses = as_responses(ordinal)
    if isinstance(continuous, pd.Series):
        continuous = continuous.to_frame()
    if isinstance(continuous, np.ndarray):
        array = continuous.reshape(len(continuous), -1) if continuous.ndim == 1 else continuous
        continuous = pd.DataFrame(array, columns=[f"x{j + 1}" for j in range(array.shape[1])])
    if not isinstance(continuous, pd.DataFrame):
        raise TypeError(f"continuous: expected a DataFrame, Series or array, got {type(continuous).__name__}")
    x = continuous.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if x.shape[0] != responses.n_persons:
        raise ResponseError(f"continuous has {x.shape[0]} rows but the ordinal items have "
                            f"{responses.n_persons}; they must describe the same persons")
    y = responses.values
    _ordinal_codes(y, responses.item_ids, max_categories)  # validation only
    n_cases = responses.n_persons
    out = np.empty((x.shape[1], y.shape[1]))
    for j in range(y.shape[1]):
        column = y[:, j]
        seen_y = ~np.isnan(column)
        _, counts = np.unique(column[seen_y], return_counts=True)
        tau = _thresholds_from_marginals(counts.astype(float))
        sum_density = np.sum(np.exp(-tau ** 2 / 2.0) / np.sqrt(_TWO_PI))
        sd_y = np.std(column[seen_y], ddof=1)
        for i in range(x.shape[1]):
            both = seen_y & ~np.isnan(x[:, i])
            if both.sum() < 3:
                raise ResponseError(f"variable {continuous.columns[i]!r} and item {responses.item_ids[j]!r} "
                                    f"have {both.sum()} respondents in common; need at least 3")
            xi, yj = x[both, i], column[both]
            sx, sy = xi.std(), yj.std()
            if sx == 0 or sy == 0:
                raise ResponseError(f"variable {continuous.columns[i]!r} or item {responses.item_ids[j]!r} "
                                    "is constant among the respondents who answered both")
            r_xy = np.mean((xi - xi.mean()) * (yj - yj.mean())) / (sx * sy)
            out[i, j] = r_xy * np.sqrt((n_cases - 1) / n_cases) * sd_y / sum_density
    out = np.clip(out, -1.0, 1.0)
    return pd.DataFrame(out, index=[str(c) for c in continuous.columns], columns=responses.item_ids)


# --------------------------------------------------------------------------------------------
# asymptotic covariance of the polychoric correlations
# --------------------------------------------------------------------------------------------

# stands in for an infinite threshold in the cell algebra below (Phi(12) = 1 - 2e-33)
_BIG = 12.0
# influence values held at once: persons per block x pairs (64 MB)
_INFLUENCE_BLOCK = 8_000_000
# persons x pairs^2 from which the Gram of the influences is summed in single precision
_SINGLE_FROM = 2e10


def _normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(_TWO_PI)


def _bvn_pdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    one_minus = 1.0 - rho * rho
    return np.exp(-(h * h - 2.0 * rho * h * k + k * k) / (2.0 * one_minus)) / (_TWO_PI * np.sqrt(one_minus))


def _cell_scores(tj: np.ndarray, tk: np.ndarray, rho: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cell probabilities of a batch of pairs with the same numbers of categories, and the
    scores of each cell's log-probability.

    ``tj`` (pairs, Cj-1), ``tk`` (pairs, Ck-1), ``rho`` (pairs,). Returns ``prob`` (pairs, Cj,
    Ck), the rho score ``dprob / prob`` (pairs, Cj, Ck) and the threshold scores ``dth_j``
    (pairs, Cj, Ck, Cj-1), ``dth_k`` (pairs, Cj, Ck, Ck-1).
    """
    n_pairs = tj.shape[0]
    edges = np.full((n_pairs, 1), _BIG)
    bj = np.concatenate([-edges, tj, edges], axis=1)[:, :, None]  # (P, Cj+1, 1)
    bk = np.concatenate([-edges, tk, edges], axis=1)[:, None, :]  # (P, 1, Ck+1)
    # a boundary estimate (|rho| = 1) would make the densities below divide by zero
    r = np.clip(np.asarray(rho, dtype=np.float64), -1.0 + 1e-10, 1.0 - 1e-10)[:, None, None]

    def cells(corner: np.ndarray) -> np.ndarray:
        return corner[:, 1:, 1:] - corner[:, :-1, 1:] - corner[:, 1:, :-1] + corner[:, :-1, :-1]

    prob = np.maximum(cells(bivariate_normal_cdf(bj, bk, r)), TINY)
    dprob = cells(_bvn_pdf(bj, bk, r))
    s = np.sqrt(1.0 - r * r)
    # d P(cell) / d (j's boundary b): phi(b) * [Phi((k_up - rho b)/s) - Phi((k_low - rho b)/s)]
    edge_j = _normal_pdf(bj) * (special.ndtr((bk[:, :, 1:] - r * bj) / s)
                                - special.ndtr((bk[:, :, :-1] - r * bj) / s))  # (P, Cj+1, Ck)
    edge_k = _normal_pdf(bk) * (special.ndtr((bj[:, 1:, :] - r * bk) / s)
                                - special.ndtr((bj[:, :-1, :] - r * bk) / s))  # (P, Cj, Ck+1)
    cj, ck = tj.shape[1] + 1, tk.shape[1] + 1
    # derivative of log P(a, b) w.r.t. the thresholds of j: + at the upper edge, - at the lower
    dth_j = np.zeros((n_pairs, cj, ck, cj - 1))
    for t in range(cj - 1):
        dth_j[:, t, :, t] += edge_j[:, t + 1, :]
        dth_j[:, t + 1, :, t] -= edge_j[:, t + 1, :]
    dth_k = np.zeros((n_pairs, cj, ck, ck - 1))
    for t in range(ck - 1):
        dth_k[:, :, t, t] += edge_k[:, :, t + 1]
        dth_k[:, :, t + 1, t] -= edge_k[:, :, t + 1]
    return prob, dprob / prob, dth_j / prob[..., None], dth_k / prob[..., None]


@numba.njit(cache=True, nogil=True)
def _gather_influence(padded, rows, cols, offsets, widths, flat, out):  # pragma: no cover - compiled
    """``out[i, p] = flat[offsets[p] + padded[i, rows[p]] * widths[p] + padded[i, cols[p]]]``."""
    n_pairs = rows.shape[0]
    for i in range(padded.shape[0]):
        for p in range(n_pairs):
            out[i, p] = flat[offsets[p] + padded[i, rows[p]] * widths[p] + padded[i, cols[p]]]


@numba.njit(cache=True, nogil=True)
def _gather_influence_by_pair(coded, rows, cols, offsets, widths, flat, out):  # pragma: no cover
    """``out[p, i] = flat[offsets[p] + coded[rows[p], i] * widths[p] + coded[cols[p], i]]``:
    ``coded`` is items x persons, so that each pair reads two rows and its own small table."""
    for p in range(rows.shape[0]):
        first = coded[rows[p]]
        second = coded[cols[p]]
        base = offsets[p]
        width = widths[p]
        for i in range(first.shape[0]):
            out[p, i] = flat[base + first[i] * width + second[i]]


def asymptotic_covariance(codes: list[np.ndarray], n_categories: list[int], correlation: np.ndarray,
                          thresholds: list[np.ndarray], tables: np.ndarray | None = None) -> np.ndarray:
    r"""Asymptotic covariance :math:`\Gamma` of :math:`\sqrt N (\hat r - \rho)` for two-step
    polychoric correlations, pairs in ``np.tril_indices(p, -1)`` order.

    Parameters
    ----------
    codes : list of ndarray of int
        ``codes[j]``: 0-based category indices of item j for every person, -1 for missing.
    n_categories : list of int
        Categories of each item.
    correlation : ndarray (p, p)
        Two-step polychoric correlations (thresholds from each item's observed marginal,
        correlations from pairwise-complete tables).
    thresholds : list of ndarray
        Each item's finite thresholds.
    tables : ndarray (pairs, K, K), optional
        The pairwise-complete contingency tables of the pairs ``i < j`` in row-major order,
        ``K`` the most categories of any item (as :func:`polychoric` counts them); counted
        here when not given.

    Notes
    -----
    :math:`\Gamma = N \sum_i g_i g_i^\top` with the influence :math:`g_i` of respondent
    :math:`i` on the correlations (Muthen, 1984): for pair :math:`(j, k)`,
    :math:`g_{i,jk} = (s_{jk}(x_{ij}, x_{ik}) - u_j(x_{ij})^\top A_{11,j}^{-1} a_{21,j}
    - u_k(x_{ik})^\top A_{11,k}^{-1} a_{21,k}) / A_{22,jk}`, with :math:`s` the score of the
    pair's cell log-probability in :math:`\rho`, :math:`u` the univariate threshold scores
    and the information matrices estimated by outer products of scores, as lavaan does. A
    missing answer contributes 0 to the terms it enters. The influence depends on the two
    answers only, so it is tabulated per pair (one extra row and column for "missing") and
    gathered for blocks of persons; :math:`\Gamma` is then a symmetric rank-k update per block,
    the only step of order :math:`N p^4`. Its diagonal alone (all that DWLS estimates need)
    would cost :math:`N p^2`, but the scaled test statistic needs
    :math:`\sum_{kl} w_k w_l \Gamma_{kl}^2`, every element. Above ``_SINGLE_FROM`` multiply-adds
    the rank-k updates run in single precision (twice the speed) on blocks of a few thousand
    persons, each block's sum added in double precision, on several threads: the off-diagonal
    elements carry relative errors of about :math:`10^{-6}` (far below their sampling error), and
    the diagonal, which alone sets the DWLS weights and so the estimates, is summed in double
    precision.

    References
    ----------
    .. [1] Muthen, B. (1984). A general structural equation model with dichotomous, ordered
           categorical, and continuous latent variable indicators. Psychometrika, 49, 115-132.
    .. [2] Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. Journal
           of Statistical Software, 48(2), 1-36 (``lav_samplestats_step2``, ``muthen1984``).
    """
    from scipy.linalg import blas

    p = len(codes)
    n = len(codes[0])
    uni_scores, a11_inv = [], []
    for j in range(p):
        c = n_categories[j]
        observed = codes[j] >= 0
        counts = np.bincount(codes[j][observed], minlength=c).astype(np.float64)
        bounds = np.concatenate(([-_BIG], thresholds[j], [_BIG]))
        prob = special.ndtr(bounds[1:]) - special.ndtr(bounds[:-1])
        dens = _normal_pdf(bounds)
        # score of log P(category a) w.r.t. thresholds: rows = category, cols = threshold
        u = np.zeros((c, c - 1))
        u[np.arange(c - 1), np.arange(c - 1)] = dens[1:-1] / prob[:-1]
        u[np.arange(1, c), np.arange(c - 1)] = -dens[1:-1] / prob[1:]
        uni_scores.append(u)
        a11_inv.append(np.linalg.inv((u * counts[:, None]).T @ u))
    rows, cols = np.tril_indices(p, -1)
    n_pairs = len(rows)
    size = np.asarray(n_categories, dtype=np.int64)
    # Influence tables: (Cj + 1) x (Ck + 1) per pair, stored one after the other.
    widths = size[cols] + 1
    table_sizes = (size[rows] + 1) * widths
    offsets = np.concatenate([[0], np.cumsum(table_sizes)[:-1]]).astype(np.int64)
    flat = np.zeros(int(table_sizes.sum()))
    a22 = np.empty(n_pairs)
    padded = np.column_stack([np.where(c >= 0, c, n_categories[j]) for j, c in enumerate(codes)])
    # all pairs with the same numbers of categories at once
    shapes: dict[tuple[int, int], list[int]] = {}
    for index, (j, k) in enumerate(zip(rows, cols)):
        shapes.setdefault((n_categories[j], n_categories[k]), []).append(index)
    if tables is None:
        tables, _ = _pair_tables(np.column_stack(codes), int(size.max()))
    for (cj, ck), members in shapes.items():
        members = np.asarray(members)
        pj, pk = rows[members], cols[members]
        # pairwise-complete contingency tables of the batch: pair (j, k), j > k, is the
        # transposed table of (k, j) in the row-major i < j order of ``tables``
        upper = pk * (2 * p - pk - 1) // 2 + (pj - pk - 1)
        counts = np.ascontiguousarray(tables[upper, :ck, :cj].transpose(0, 2, 1))
        tj = np.stack([thresholds[j] for j in pj])
        tk = np.stack([thresholds[k] for k in pk])
        _, score, dth_j, dth_k = _cell_scores(tj, tk, correlation[pj, pk])
        weighted = counts * score
        a21_j = np.einsum("pab,pabt->pt", weighted, dth_j)
        a21_k = np.einsum("pab,pabt->pt", weighted, dth_k)
        information = np.sum(weighted * score, axis=(1, 2))
        a22[members] = information
        for b, (j, k) in enumerate(zip(pj, pk)):
            table = np.zeros((cj + 1, ck + 1))
            table[:cj, :ck] = score[b]
            table[:cj, :] -= (uni_scores[j] @ (a11_inv[j] @ a21_j[b]))[:, None]
            table[:, :ck] -= (uni_scores[k] @ (a11_inv[k] @ a21_k[b]))[None, :]
            if information[b] > 0:
                table /= information[b]
            start = offsets[members[b]]
            flat[start:start + table.size] = table.ravel()
    if np.any(a22 <= 0):
        bad = int(np.argmin(a22))
        raise EstimationError(f"polychoric correlation of items {rows[bad]} and {cols[bad]} has no "
                              "information (no pairwise-complete responses?)")
    padded = np.ascontiguousarray(padded, dtype=np.int64)
    rows64, cols64 = rows.astype(np.int64), cols.astype(np.int64)
    if float(n) * n_pairs * n_pairs < _SINGLE_FROM:
        gamma = np.zeros((n_pairs, n_pairs))
        block = max(1, _INFLUENCE_BLOCK // max(n_pairs, 1))
        influence = np.empty((min(block, n), n_pairs))
        for start in range(0, n, block):
            stop = min(start + block, n)
            part = influence[: stop - start]
            _compiled.run_blocks(_gather_influence, [
                (padded[start + a:start + b], rows64, cols64, offsets, widths, flat, part[a:b])
                for a, b in _compiled.block_bounds(stop - start, _compiled.n_threads())])
            # symmetric rank-k update: only one triangle is computed
            gamma = blas.dsyrk(1.0, part, beta=1.0, c=gamma, trans=1, lower=1, overwrite_c=1)
        gamma = np.tril(gamma) + np.tril(gamma, -1).T
        return gamma * n
    # one task per thread, each over its own persons: gather a block of influences, add its
    # square sums (double) and its single-precision Gram (numpy's a.T @ a is a syrk)
    block = max(1, _INFLUENCE_BLOCK // max(n_pairs, 1) // 2)
    by_item = np.ascontiguousarray(padded.T)

    def gram(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros((n_pairs, n_pairs))
        squares = np.zeros(n_pairs)
        influence = np.empty((n_pairs, min(block, b - a)))  # pairs x persons
        single = np.empty(influence.shape, dtype=np.float32)
        for start in range(a, b, block):
            width = min(start + block, b) - start
            part = influence[:, :width]
            _gather_influence_by_pair(by_item[:, start:start + width], rows64, cols64, offsets, widths, flat, part)
            squares += np.einsum("pi,pi->p", part, part)
            low = single[:, :width]
            low[...] = part
            total += low @ low.T
        return total, squares

    with single_threaded_blas():  # the threads are the tasks, not BLAS's
        results = _compiled.run_blocks(gram, _compiled.block_bounds(n, _compiled.n_threads()))
    gamma = results[0][0]
    diagonal = results[0][1]
    for total, squares in results[1:]:
        gamma += total
        diagonal += squares
    gamma = (gamma + gamma.T) / 2.0
    gamma[np.arange(n_pairs), np.arange(n_pairs)] = diagonal
    return gamma * n
