"""Internal-consistency reliability: Cronbach's alpha, Guttman's lambdas, split-half, SEM.

Every statistic here is a function of one item covariance matrix. That matrix is
built by :func:`psychometrics._covariance._item_covariance` in a single chunked pass of BLAS
products over the persons; with ``missing="pairwise"`` each covariance uses the persons who
answered both items (psych's default ``use = "pairwise"``), with ``missing="listwise"`` only
the persons who answered every item. Item-level quantities derived from the same matrix
(alpha if deleted, corrected item-total correlation) live in that module too, below both this
module and :mod:`psychometrics.ctt`.

Multi-rater agreement (ICC, kappas, Krippendorff's alpha, rwg) is in
:mod:`psychometrics.agreement`.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from psychometrics import _dispatch
from psychometrics.agreement import (
    cohen_kappa,
    fleiss_kappa,
    icc,
    icc_aggregation,
    krippendorff_alpha,
    rwg,
    rwg_j,
)
from psychometrics._deprecation import keyword_only_after, renamed_arguments
from psychometrics._covariance import (
    _alpha_from_cov,
    _complete_rows,
    _cov_to_cor,
    _item_covariance,
    Missing,
    _Moments,
    _safe_divide,
    _safe_sqrt,
    _scale_moments,
    _smc,
)
from psychometrics.data import as_responses
from psychometrics.errors import ResponseError
from psychometrics._results import brief_repr

if TYPE_CHECKING:  # pragma: no cover
    from psychometrics.factor.omega import OmegaResult

__all__ = [
    "AlphaResult",
    "GuttmanResult",
    "SplitHalfResult",
    "alpha",
    "cohen_kappa",
    "fleiss_kappa",
    "guttman",
    "icc",
    "icc_aggregation",
    "krippendorff_alpha",
    "omega",
    "rwg",
    "rwg_j",
    "sem",
    "split_half",
    "spearman_brown",
]

# ---------------------------------------------------------------------------------------
# Cronbach's alpha
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlphaResult:
    """Cronbach's alpha with its Feldt (and optionally bootstrap) confidence interval."""

    __repr__ = brief_repr

    alpha: float
    standardized_alpha: float
    ci_low: float
    ci_high: float
    n_persons: int
    n_items: int
    ci_level: float = 0.95
    missing: str = "pairwise"
    bootstrap_low: float = math.nan
    bootstrap_high: float = math.nan
    n_bootstrap: int = 0

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of all fields."""
        return pd.DataFrame([self.__dict__], index=["alpha"])

    def summary(self) -> str:
        text = (f"Cronbach's alpha = {self.alpha:.3f} (standardized {self.standardized_alpha:.3f}), "
                f"{self.ci_level:.0%} Feldt CI [{self.ci_low:.3f}, {self.ci_high:.3f}]; "
                f"{self.n_items} items, {self.n_persons} persons, missing={self.missing}")
        if self.n_bootstrap:
            text += (f"; bootstrap ({self.n_bootstrap}) CI [{self.bootstrap_low:.3f}, "
                     f"{self.bootstrap_high:.3f}]")
        return text


def _feldt_interval(value: float, n_persons: int, n_items: int, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    dfn, dfd = n_persons - 1, (n_persons - 1) * (n_items - 1)
    low = 1.0 - (1.0 - value) * stats.f.ppf(1.0 - tail, dfn, dfd)
    high = 1.0 - (1.0 - value) * stats.f.ppf(tail, dfn, dfd)
    return float(low), float(high)


def _explain_alpha(value: float, cov: np.ndarray) -> None:
    """A negative or undefined alpha is a finding about the data, never a bare number."""
    import warnings

    from psychometrics.errors import DataWarning

    if math.isnan(value):
        total = float(np.nansum(cov))
        reason = ("the total score has no variance" if total <= 0 or not math.isfinite(total)
                  else "some item pairs have no common respondents or an item has no variance")
        warnings.warn(f"alpha is undefined: {reason}", DataWarning, stacklevel=3)
    elif value < 0:
        warnings.warn(f"alpha is negative ({value:.3f}): the items covary negatively on average; a reverse-keyed "
                      "item that was not reversed, or items that do not measure one thing", DataWarning,
                      stacklevel=3)


@keyword_only_after(1)
@renamed_arguments(ci="confidence_level", bootstrap="n_replications")
def alpha(responses: Any, *, confidence_level: float = 0.95, missing: Missing = "pairwise", n_replications: int = 0,
          seed: int | np.random.Generator | None = None) -> AlphaResult:
    r"""Cronbach's alpha and standardized alpha with a Feldt confidence interval.

    Parameters
    ----------
    responses : DataFrame, ndarray, Responses or Dask DataFrame
        Persons x items, NaN for missing. A Dask DataFrame is summarized partition by
        partition (:func:`psychometrics.distributed.alpha`; no bootstrap).
    confidence_level : float
        Confidence level of the intervals, in (0, 1).
    missing : {"pairwise", "listwise"}
        Pairwise: each covariance from the persons who answered both items (psych's
        default). Listwise: only persons who answered every item.
    n_replications : int
        Number of bootstrap resamples of persons for a percentile interval (0: none).
    seed : int or Generator, optional
        Seed of the bootstrap.

    Returns
    -------
    AlphaResult
        ``n_persons`` counts persons with at least one response (pairwise) or with all
        responses (listwise); it is the ``n`` of the Feldt interval.

    Notes
    -----
    With :math:`C` the J x J item covariance matrix and :math:`R` the correlation matrix
    obtained by scaling :math:`C` by its diagonal (psych's ``cov2cor``),

    .. math::

        \alpha = \frac{J}{J-1}\Bigl(1 - \frac{\operatorname{tr} C}{\mathbf 1' C \mathbf 1}\Bigr),
        \qquad
        \alpha_{std} = \frac{J}{J-1}\Bigl(1 - \frac{J}{\mathbf 1' R \mathbf 1}\Bigr).

    Feldt's interval at level :math:`1-a`, with :math:`F_q` the q-quantile of
    :math:`F(n-1, (n-1)(J-1))`:
    :math:`[1 - (1-\alpha) F_{1-a/2},\; 1 - (1-\alpha) F_{a/2}]`.
    The bootstrap resamples persons with replacement, recomputes alpha with the same
    missing-data rule and reports the :math:`a/2` and :math:`1-a/2` quantiles.
    Agrees with ``psych::alpha`` (raw_alpha, std.alpha, feldt) to 1e-10.

    References
    ----------
    .. [1] Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
           Psychometrika, 16(3), 297-334.
    .. [2] Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference for
           coefficient alpha. Applied Psychological Measurement, 11(1), 93-103.
    .. [3] Revelle, W. psych: Procedures for Psychological, Psychometric, and Personality
           Research, function ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 2, 2], [2, 3, 3], [3, 3, 4], [4, 5, 4], [2, 2, 3]], dtype=float)
    >>> round(alpha(x).alpha, 4)
    0.9355
    """
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"confidence_level must lie in (0, 1) (as ci must be, its former name), got {confidence_level!r}")
    if (isinstance(n_replications, bool) or not isinstance(n_replications, (int, np.integer))
            or n_replications < 0):
        raise ValueError("n_replications (as bootstrap must be, its former name) is a non-negative number of "
                         f"resamples, got {n_replications!r}")
    if _dispatch.is_dask(responses):
        return _dispatch.backend().alpha(responses, confidence_level=confidence_level, missing=missing,
                                         n_replications=n_replications)
    data = as_responses(responses)
    moments = _scale_moments(data, missing, "alpha")
    result = _alpha_from_moments(moments, confidence_level, missing)

    boot_low = boot_high = math.nan
    if n_replications:
        values = data.values
        if missing == "listwise":
            values = _complete_rows(values)
        rng = np.random.default_rng(seed)
        n_rows = values.shape[0]
        replicates = np.empty(n_replications)
        # Resampling counts as frequency weights: no resampled copy of the data.
        for b in range(n_replications):
            counts = np.bincount(rng.integers(0, n_rows, n_rows), minlength=n_rows).astype(np.float64)
            replicates[b] = _alpha_from_cov(_item_covariance(values, "pairwise", counts).cov)
        tail = (1.0 - confidence_level) / 2.0
        replicates = replicates[np.isfinite(replicates)]
        if replicates.size:
            boot_low, boot_high = (float(q) for q in np.quantile(replicates, [tail, 1.0 - tail]))
    return dataclasses.replace(result, bootstrap_low=boot_low, bootstrap_high=boot_high,
                               n_bootstrap=int(n_replications))


def _alpha_from_moments(moments: _Moments, confidence_level: float, missing: str) -> AlphaResult:
    """Alpha, standardized alpha and Feldt interval from a checked covariance matrix."""
    cov = moments.cov
    n_items = cov.shape[0]
    value = _alpha_from_cov(cov)
    _explain_alpha(value, cov)
    cor = _cov_to_cor(cov)
    standardized = float(n_items / (n_items - 1) * (1.0 - _safe_divide(n_items, cor.sum())))
    low, high = _feldt_interval(value, moments.n_persons, n_items, confidence_level)
    return AlphaResult(alpha=value, standardized_alpha=standardized, ci_low=low, ci_high=high,
                       n_persons=moments.n_persons, n_items=n_items, ci_level=confidence_level, missing=missing)


# ---------------------------------------------------------------------------------------
# Guttman's lambdas
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuttmanResult:
    """Guttman's six lower bounds to reliability."""

    __repr__ = brief_repr

    lambda1: float
    lambda2: float
    lambda3: float
    lambda4: float
    lambda5: float
    lambda6: float
    n_persons: int
    n_items: int
    standardized: bool
    lambda4_split: tuple[tuple[str, ...], tuple[str, ...]]
    lambda4_exhaustive: bool

    def to_frame(self) -> pd.DataFrame:
        """One row per lambda, column ``estimate``."""
        names = [f"lambda{k}" for k in range(1, 7)]
        return pd.DataFrame({"estimate": [getattr(self, n) for n in names]}, index=names)

    def summary(self) -> str:
        lambdas = ", ".join(f"L{k}={getattr(self, f'lambda{k}'):.3f}" for k in range(1, 7))
        basis = "correlations" if self.standardized else "covariances"
        return f"Guttman lambdas ({basis}): {lambdas}; {self.n_items} items, {self.n_persons} persons"


def _split_covariances(cov: np.ndarray, first: np.ndarray) -> np.ndarray:
    """cov(A, B) of the half sums for each row of the 0/1 split matrix ``first``."""
    return ((first @ cov) * (1.0 - first)).sum(axis=1)


def _best_split(cov: np.ndarray, n_splits: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """0/1 indicator of the half (size floor(J/2)) that maximises cov(A, B), and whether
    every split was examined."""
    n_items = cov.shape[0]
    half = n_items // 2
    n_distinct = math.comb(n_items, half) // (2 if 2 * half == n_items else 1)
    if n_distinct <= n_splits:
        # With equal halves each split appears twice; fixing item 0 in A lists it once.
        pool = range(1, n_items) if 2 * half == n_items else range(n_items)
        combos = ([0, *c] for c in itertools.combinations(pool, half - 1)) if 2 * half == n_items \
            else itertools.combinations(pool, half)
        index = np.array(list(combos), dtype=np.intp)
        first = np.zeros((index.shape[0], n_items))
        np.put_along_axis(first, index, 1.0, axis=1)
        return first[int(np.argmax(_split_covariances(cov, first)))], True
    # Too many splits: random equal splits, then swap items between halves while it helps.
    order = np.argsort(rng.random((n_splits, n_items)), axis=1)[:, :half]
    first = np.zeros((n_splits, n_items))
    np.put_along_axis(first, order, 1.0, axis=1)
    best = first[int(np.argmax(_split_covariances(cov, first)))].copy()
    diag = np.diag(cov)
    for _ in range(10 * n_items):
        in_a = best > 0.5
        u, v = cov @ best, cov @ (1.0 - best)
        # Gain of moving i (in A) to B and j (in B) to A.
        gain = (u - v - diag)[:, None] + (v - u - diag)[None, :] + 2.0 * cov
        gain = np.where(np.outer(in_a, ~in_a), gain, -np.inf)
        i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
        if not gain[i, j] > 1e-12 * abs(cov.sum()):
            break
        best[i], best[j] = 0.0, 1.0
    return best, False


@renamed_arguments(n_splits="n_replications")
def guttman(responses: Any, *, missing: Missing = "pairwise", standardized: bool = False,
            n_replications: int = 10000, seed: int | np.random.Generator | None = None) -> GuttmanResult:
    r"""Guttman's lambda 1-6 lower bounds to reliability.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
    missing : {"pairwise", "listwise"}
    standardized : bool
        False (default): lambdas of the covariance matrix, so that lambda3 equals raw
        alpha (``psych::splitHalf(x, covar = TRUE)``). True: lambdas of the correlation
        matrix ``cov2cor(C)`` (``psych::splitHalf(x)`` and ``psych::guttman``).
    n_replications : int
        Lambda 4 examines every split into halves of floor(J/2) and ceil(J/2) items when
        there are at most this many; otherwise it examines this many random splits (the
        former name ``n_splits=`` works for one release with a DeprecationWarning) and
        improves the best one by swapping items between halves until no swap helps.
    seed : int or Generator, optional
        Seed for the random splits (used only when J is large).

    Notes
    -----
    With :math:`C` the covariance (or correlation) matrix, :math:`V_t = \mathbf 1'C\mathbf 1`,
    :math:`c_{jk}` its elements and :math:`e_j^2 = c_{jj}(1 - \mathrm{smc}_j)` the error
    variance left by the squared multiple correlation of item j with the others:

    .. math::

        \lambda_1 = 1 - \frac{\operatorname{tr} C}{V_t},\quad
        \lambda_2 = \lambda_1 + \frac{\sqrt{\tfrac{J}{J-1}\sum_{j\ne k} c_{jk}^2}}{V_t},\quad
        \lambda_3 = \frac{J}{J-1}\lambda_1,

        \lambda_4 = \max_{A,B} \frac{4\,\mathrm{cov}(A,B)}{V_t},\quad
        \lambda_5 = \lambda_1 + \frac{2\sqrt{\max_j \sum_{k\ne j} c_{jk}^2}}{V_t},\quad
        \lambda_6 = 1 - \frac{\sum_j e_j^2}{V_t}.

    These are psych's formulas (``psych::guttman`` for lambda 1, 5; ``psych::splitHalf``
    for lambda 2, 3, 4 (``maxrb``) and 6); the references agree to 1e-10 for 8 items.
    psych's ``guttman`` correlates with ``cor(x, use = "pairwise")`` whereas this
    function, like ``splitHalf``, scales the pairwise covariance matrix by its diagonal;
    the two coincide without missing data.

    References
    ----------
    .. [1] Guttman, L. (1945). A basis for analyzing test-retest reliability.
           Psychometrika, 10(4), 255-282.
    .. [2] Revelle, W. psych, functions ``guttman`` and ``splitHalf``.
    """
    if isinstance(n_replications, bool) or not isinstance(n_replications, (int, np.integer)) or n_replications < 1:
        raise ValueError(f"n_replications must be a positive integer, got {n_replications!r}")
    data = as_responses(responses)
    if data.n_items < 3:
        raise ResponseError(f"guttman needs at least 3 items, got {data.n_items} ({data.item_ids})")
    moments = _scale_moments(data, missing, "guttman")
    cor = _cov_to_cor(moments.cov)
    c = cor if standardized else moments.cov
    n_items = data.n_items
    total = float(c.sum())
    diag = np.diag(c)
    off_squares = c**2 - np.diag(diag**2)
    lambda1 = 1.0 - float(diag.sum()) / total
    lambda2 = lambda1 + math.sqrt(n_items / (n_items - 1) * float(off_squares.sum())) / total
    lambda3 = n_items / (n_items - 1) * lambda1
    lambda5 = lambda1 + 2.0 * math.sqrt(float(off_squares.sum(axis=0).max())) / total
    lambda6 = 1.0 - float((diag * (1.0 - _smc(cor))).sum()) / total
    first, exhaustive = _best_split(c, int(n_replications), np.random.default_rng(seed))
    lambda4 = 4.0 * float(_split_covariances(c, first[None, :])[0]) / total
    items = np.array(data.item_ids, dtype=object)
    split = (tuple(items[first > 0.5]), tuple(items[first < 0.5]))
    return GuttmanResult(lambda1=lambda1, lambda2=lambda2, lambda3=lambda3, lambda4=lambda4,
                         lambda5=lambda5, lambda6=lambda6, n_persons=moments.n_persons,
                         n_items=n_items, standardized=standardized, lambda4_split=split,
                         lambda4_exhaustive=exhaustive)


# ---------------------------------------------------------------------------------------
# Split-half
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitHalfResult:
    """Correlation between two half-test scores and its Spearman-Brown step-up."""

    __repr__ = brief_repr

    correlation: float
    spearman_brown: float
    flanagan_rulon: float
    first_half: tuple[str, ...]
    second_half: tuple[str, ...]
    method: str
    n_persons: int
    n_items: int

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{k: self.__dict__[k] for k in
                              ("correlation", "spearman_brown", "flanagan_rulon", "method",
                               "n_persons", "n_items")}], index=["split_half"])

    def summary(self) -> str:
        return (f"split-half ({self.method}): r = {self.correlation:.3f}, Spearman-Brown "
                f"{self.spearman_brown:.3f}, Flanagan-Rulon {self.flanagan_rulon:.3f}")


def spearman_brown(reliability: float | np.ndarray, factor: float = 2.0) -> float | np.ndarray:
    r"""Reliability of a test lengthened ``factor`` times: :math:`k\rho / (1 + (k-1)\rho)`.

    References
    ----------
    .. [1] Brown, W. (1910); Spearman, C. (1910). British Journal of Psychology, 3.
    """
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor!r}")
    rho = np.asarray(reliability, dtype=np.float64)
    out = _safe_divide(factor * rho, 1.0 + (factor - 1.0) * rho)
    return float(out) if out.ndim == 0 else out


@keyword_only_after(1)
def split_half(responses: Any, *, method: Literal["odd_even", "first_second", "random"] = "odd_even",
               seed: int | np.random.Generator | None = None,
               missing: Missing = "pairwise") -> SplitHalfResult:
    r"""Split-half reliability with the Spearman-Brown correction.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
    method : {"odd_even", "first_second", "random"}
        Odd-even: items 1, 3, 5, ... against 2, 4, 6, ... (column order). First-second:
        the first ceil(J/2) columns against the rest. Random: a random half of
        ceil(J/2) items (``seed``).
    missing : {"pairwise", "listwise"}

    Notes
    -----
    The half-score covariances come from the item covariance matrix :math:`C`: with
    0/1 indicators :math:`a, b` of the halves, :math:`r = a'Cb / \sqrt{a'Ca\; b'Cb}`
    (without missing data this is the Pearson correlation of the two half sums).
    Spearman-Brown: :math:`2r/(1+r)`; Flanagan-Rulon (Guttman's split-half):
    :math:`4\,a'Cb / \mathbf 1'C\mathbf 1`.

    References
    ----------
    .. [1] Spearman, C. (1910); Brown, W. (1910). British Journal of Psychology, 3.
    .. [2] Rulon, P. J. (1939). A simplified procedure for determining the reliability of
           a test by split-halves. Harvard Educational Review, 9, 99-103.
    """
    methods = ("odd_even", "first_second", "random")
    if method not in methods:
        raise ValueError(f"method must be one of {methods}, got {method!r}")
    data = as_responses(responses)
    moments = _scale_moments(data, missing, "split_half")
    n_items = data.n_items
    first = np.zeros(n_items)
    if method == "odd_even":
        first[0::2] = 1.0
    elif method == "first_second":
        first[: (n_items + 1) // 2] = 1.0
    else:
        first[np.random.default_rng(seed).permutation(n_items)[: (n_items + 1) // 2]] = 1.0
    cov = moments.cov
    second = 1.0 - first
    between = float(first @ cov @ second)
    r = float(_safe_divide(between, _safe_sqrt((first @ cov @ first) * (second @ cov @ second))))
    items = np.array(data.item_ids, dtype=object)
    return SplitHalfResult(correlation=r, spearman_brown=float(spearman_brown(r)),
                           flanagan_rulon=4.0 * between / float(cov.sum()),
                           first_half=tuple(items[first > 0.5]), second_half=tuple(items[first < 0.5]),
                           method=method, n_persons=moments.n_persons, n_items=n_items)


# ---------------------------------------------------------------------------------------
# Standard error of measurement
# ---------------------------------------------------------------------------------------


def sem(responses: Any = None, *, reliability: float | None = None, sd: float | None = None,
        missing: Missing = "pairwise") -> float:
    r"""Standard error of measurement of the sum score, :math:`SD\sqrt{1 - \rho}`.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses, optional
        Item responses. Supplies the sum-score SD (:math:`\sqrt{\mathbf 1'C\mathbf 1}`,
        from the same covariance matrix as alpha) and, unless ``reliability`` is given,
        the reliability (Cronbach's alpha).
    reliability : float, optional
        Reliability coefficient, at most 1.
    sd : float, optional
        Score standard deviation; required when ``responses`` is not given.
    missing : {"pairwise", "listwise"}

    Notes
    -----
    .. math:: SEM = \sigma_X \sqrt{1 - \rho_{XX'}}

    References
    ----------
    .. [1] Lord, F. M., & Novick, M. R. (1968). Statistical Theories of Mental Test Scores,
           ch. 3. Addison-Wesley.

    Examples
    --------
    >>> round(sem(sd=10.0, reliability=0.91), 12)
    3.0
    """
    if responses is None:
        if sd is None or reliability is None:
            raise ValueError("sem needs responses, or both sd and reliability")
    elif sd is None or reliability is None:
        data = as_responses(responses)
        moments = _scale_moments(data, missing, "sem")
        if sd is None:
            sd = math.sqrt(float(moments.cov.sum()))
        if reliability is None:
            reliability = _alpha_from_cov(moments.cov)
    if not np.isfinite(sd) or sd < 0:
        raise ValueError(f"sd must be a non-negative number, got {sd!r}")
    if not np.isfinite(reliability) or reliability > 1:
        raise ValueError(f"reliability must be a number no greater than 1, got {reliability!r}")
    return float(sd * math.sqrt(1.0 - reliability))


def omega(responses: Any, n_factors: int = 3, *, correlation: str = "pearson", method: str = "minres",
          scales: Mapping[str, Sequence[str]] | None = None, model: Mapping[str, Sequence[str]] | None = None,
          estimator: str | None = None, bifactor: bool = False, denominator: str = "implied") -> "OmegaResult":
    r"""McDonald's omega total and hierarchical (Schmid-Leiman), ECV and per-scale omega.

    A thin entry point to :func:`psychometrics.factor.omega`, with its signature (see it for
    every option, e.g. ``correlation="polychoric"`` for ordinal omega, ``scales=`` for
    per-scale omega, ``model=`` for omega from a CFA of the stated scales); it lives here so
    that all reliability coefficients are found in one module.

    Notes
    -----
    .. math:: \omega_t = \frac{V - \sum u_i^2}{V}, \qquad \omega_h = \frac{(\sum g_i)^2}{V}

    with :math:`V` the variance of the standardized sum score, :math:`g` the general-factor
    loadings and :math:`u^2` the uniquenesses.

    References
    ----------
    .. [1] McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.
    .. [2] Zinbarg, R. E., Revelle, W., Yovel, I., & Li, W. (2005). Cronbach's alpha,
           Revelle's beta, and McDonald's omega_h. Psychometrika, 70, 123-133.
    """
    # Imported on use: factor analysis pulls in heavier dependencies than the CTT coefficients.
    from psychometrics.factor.omega import omega as factor_omega

    return factor_omega(responses, n_factors, correlation=correlation, method=method, scales=scales, model=model,
                        estimator=estimator, bifactor=bifactor, denominator=denominator)
