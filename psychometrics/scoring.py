"""Person scores from a calibration: EAP, MAP, ML and WLE, sum-score tables, plausible values.

Every function takes a calibration (anything with the interface of
:class:`psychometrics.irt.Calibration`) and works for any subset of answered items: a
missing response simply leaves its item out of that person's likelihood. All persons are
scored at once with array arithmetic, in chunks of persons so memory stays bounded:

- EAP: posterior mean and SD over the quadrature nodes from the E-step's gather
  (:func:`psychometrics.estep.posterior_moments`, a compiled kernel that adds the
  log-probabilities of the chosen categories, tuple of items by tuple, then takes the moments),
  with no (persons x nodes) array. Large inputs are checked and summarized in one compiled
  pass each (:mod:`psychometrics._fastscan`).
- MAP, ML, WLE: Newton iterations (Fisher scoring where the observed curvature is not
  positive) with step halving, vectorized over persons (each person keeps its own step
  length and stops on its own) and started from the EAP estimate (MAP and ML of models with
  a concave log-likelihood: from a cheaper weighted-score start). The sums over items the
  steps need come from compiled kernels with analytic derivatives in theta for the model
  families of :mod:`psychometrics.items` (:mod:`psychometrics._theta_kernels`, a few
  exponentials per person and item); small problems, and any other item model, use central
  differences of the calibration's log-probabilities, which handle every model alike.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from psychometrics import _compiled, _dispatch, _theta_kernels
from psychometrics._numeric import LOG_TINY
from psychometrics._deprecation import keyword_only_after
from psychometrics._blas import single_threaded_blas
from psychometrics.data import align_labels, as_responses
from psychometrics.errors import ConvergenceWarning, EstimationError, ResponseError
from psychometrics.estep import person_log_likelihood, posterior_moments
from psychometrics.groups import label_positions
from psychometrics.quadrature import normal_quadrature
from psychometrics.sumscore import sum_score_likelihoods

if TYPE_CHECKING:  # pragma: no cover
    from psychometrics.irt import Calibration

__all__ = [
    "score",
    "ScoringPlan",
    "scoring_plan",
    "score_codes",
    "eap_sum_table",
    "plausible_values",
    "marginal_reliability",
    "empirical_reliability",
    "METHODS",
]

METHODS = ("eap", "map", "ml", "wle")

# Flags in the ``flag`` column of :func:`score`; an empty string means nothing to report.
NO_RESPONSES = "no_responses"
ALL_LOWEST = "all_lowest"
ALL_HIGHEST = "all_highest"
UNBOUNDED = "unbounded"
NOT_CONVERGED = "not_converged"

# Nodes span the prior mean +/- this many prior standard deviations (mirt: [-6, 6]).
_GRID_HALF_WIDTH = 6.0
# Persons per chunk: the persons x nodes work arrays (4 MB) stay in cache.
_EAP_CHUNK = 1 << 14
_NEWTON_CHUNK = 1 << 13
# The compiled path keeps only (persons, 7) sums: larger chunks amortize its thread start-up.
_COMPILED_CHUNK = 1 << 16
#: MAP/ML/WLE use the compiled kernels from this many responses (persons x items) on; below it
#: the numpy differences are as fast as loading the compiled code from its cache.
COMPILED_FROM = 20_000
# responses from which the compiled sums run on several threads
_THREADED_FROM = 100_000
# Steps of the differences in theta: three-point first differences (error ~h^2 + eps/h) for
# MAP/ML, five-point first and second differences (~h^4 + eps/h^2) for WLE.
_H = 1e-4
_H_WLE = 1e-3
# Iterates are kept inside [-_BOUND, _BOUND]; an ML estimate still pushing outward there
# has its supremum at infinity (possible with guessing or slipping parameters).
_BOUND = 30.0
_MAX_STEP = 2.0
_MAX_HALVINGS = 30
# exp(-745) underflows to 0; flooring log-probabilities keeps 0 * log p finite.
_LOG_FLOOR = LOG_TINY


# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Where each item's categories sit in the flattened (all items' categories) axis."""

    item_ids: list[str]
    n_categories: np.ndarray  # (J,) K_j
    column_item: np.ndarray  # (sum K,) item index of each flattened column
    column_category: np.ndarray  # (sum K,) category index 0..K_j-1 of each column
    valid: np.ndarray  # (J, max K) True where k < K_j

    @classmethod
    def of(cls, calibration: Any) -> "_Layout":
        item_ids = [str(i) for i in calibration.item_ids]
        if not item_ids:
            raise EstimationError("the calibration has no items to score with")
        n_categories = np.array([len(calibration.categories[i]) for i in item_ids], dtype=np.int64)
        if np.any(n_categories < 2):
            bad = item_ids[int(np.argmin(n_categories))]
            raise EstimationError(f"item {bad!r} has fewer than two categories in the calibration")
        column_item = np.repeat(np.arange(len(item_ids)), n_categories)
        column_category = np.concatenate([np.arange(k) for k in n_categories])
        valid = np.arange(n_categories.max())[None, :] < n_categories[:, None]
        return cls(item_ids, n_categories, column_item, column_category, valid)


def _check_method(method: str) -> str:
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (any case), got {method!r}")
    return method.lower()


def _check_quadrature_points(quadrature_points: int) -> int:
    if isinstance(quadrature_points, bool) or not isinstance(quadrature_points, (int, np.integer)) \
            or quadrature_points < 5:
        raise ValueError(f"quadrature_points must be an integer of at least 5, got {quadrature_points!r}")
    return int(quadrature_points)


def _prior(calibration: Any, prior_mean: float | None, prior_variance: float | None) -> tuple[float, float]:
    mean = float(calibration.latent_mean if prior_mean is None else prior_mean)
    variance = float(calibration.latent_variance if prior_variance is None else prior_variance)
    if not math.isfinite(mean):
        raise ValueError(f"prior_mean must be a finite number, got {mean!r}")
    if not (math.isfinite(variance) and variance > 0.0):
        raise ValueError(f"prior_variance must be a finite positive number, got {variance!r}")
    return mean, variance


def _grid(mean: float, variance: float, quadrature_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Equally spaced nodes over mean +/- 6 SD and their normalized normal log-weights."""
    grid = normal_quadrature(quadrature_points, mean=mean, variance=variance, bound=_GRID_HALF_WIDTH, rescale=True)
    return grid.nodes, grid.log_weights


def _log_probability_table(calibration: Any, layout: _Layout, nodes: np.ndarray) -> np.ndarray:
    """Log-probabilities (items, Q, max K) floored at the log of the smallest double; ``-inf``
    for the categories an item lacks (so that the likelihood routine can check the codes)."""
    log_p = np.asarray(calibration.log_probabilities(nodes), dtype=np.float64)
    if np.isnan(log_p[np.broadcast_to(layout.valid[:, None, :], log_p.shape)]).any():
        raise EstimationError("the calibration returned NaN log-probabilities; check its item parameters")
    return np.where(layout.valid[:, None, :], np.maximum(log_p, _LOG_FLOOR), -np.inf)


def _encode(calibration: Any, responses: Any) -> tuple[Any, np.ndarray]:
    # Validation without the data warnings: constant or sparse items matter when
    # calibrating, not when scoring (one new respondent is always "constant").
    resp = as_responses(responses, warn=False)
    codes = np.asarray(calibration.encode(resp))
    if codes.shape != (resp.n_persons, len(calibration.item_ids)):
        raise EstimationError(
            f"calibration.encode returned shape {codes.shape}, expected "
            f"({resp.n_persons}, {len(calibration.item_ids)})")
    if not np.issubdtype(codes.dtype, np.integer):
        codes = codes.astype(np.int64)
    return resp, codes


def _check_codes(codes: np.ndarray, layout: _Layout) -> None:
    """The compiled likelihood indexes with the codes: check them once, whole, against each
    item's categories (a calibration-like object's ``encode`` is not trusted blindly)."""
    if codes.size == 0:
        return
    bad = np.flatnonzero((codes.min(axis=0) < -1) | (codes.max(axis=0) >= layout.n_categories))
    if bad.size:
        j = int(bad[0])
        row = int(np.flatnonzero((codes[:, j] < -1) | (codes[:, j] >= layout.n_categories[j]))[0])
        raise EstimationError(f"calibration.encode returned code {int(codes[row, j])} for item "
                              f"{layout.item_ids[j]!r} (row {row}), which has {int(layout.n_categories[j])} categories")


def _pattern_flags(codes: np.ndarray, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Number of answered items and the pattern flag of every person."""
    n_answered = np.count_nonzero(codes >= 0, axis=1)
    # missing is -1, so "every answered item in category 0" is a row maximum of at most 0
    lowest = codes.max(axis=1) <= 0
    top = (layout.n_categories - 1).astype(codes.dtype)
    highest = np.all((codes == top) | (codes < 0), axis=1)
    return n_answered, _flags(n_answered, lowest, highest)


def _checked_pattern_flags(codes: np.ndarray, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_check_codes`, then :func:`_pattern_flags`; one compiled pass for large inputs."""
    from psychometrics import _fastscan

    if codes.size >= _fastscan.FAST_FROM:
        summary = _fastscan.code_summary(codes, layout.n_categories)
        if summary is not None:
            n_answered, lowest, highest = summary
            return n_answered, _flags(n_answered, lowest, highest)
    _check_codes(codes, layout)
    return _pattern_flags(codes, layout)


def _flags(n_answered: np.ndarray, lowest: np.ndarray, highest: np.ndarray) -> np.ndarray:
    flag = np.full(n_answered.shape[0], "", dtype=object)
    flag[lowest] = ALL_LOWEST
    flag[highest] = ALL_HIGHEST
    flag[n_answered == 0] = NO_RESPONSES
    return flag


def _posterior_log_density(codes: np.ndarray, layout: _Layout, table: np.ndarray,
                           log_weights: np.ndarray) -> np.ndarray:
    """Unnormalized log-posterior (n, Q) of a chunk of persons on the grid: the person
    log-likelihood at the nodes of :func:`psychometrics.estep.log_likelihood_matrix`, the routine
    the E-step uses, plus the log prior weights."""
    # codes come from calibration.encode (checked there against the calibration's categories)
    log_post = person_log_likelihood(np.ascontiguousarray(codes), table)
    log_post += log_weights
    return log_post


def _blas_single_thread(n_rows: int) -> contextlib.AbstractContextManager:
    """One BLAS thread while many chunks are multiplied (see :mod:`psychometrics._blas`); small
    jobs skip the limit, which costs about 1 ms."""
    return contextlib.nullcontext() if n_rows <= _EAP_CHUNK else single_threaded_blas()


def _eap(calibration: Any, layout: _Layout, codes: np.ndarray, mean: float, variance: float,
         quadrature_points: int, grid: "tuple[np.ndarray, np.ndarray, np.ndarray] | None" = None
         ) -> tuple[np.ndarray, np.ndarray]:
    # ``grid`` = (nodes, log_weights, table) of a ScoringPlan, computed once per calibration
    if grid is None:
        nodes, log_weights = _grid(mean, variance, quadrature_points)
        table = _log_probability_table(calibration, layout, nodes)
    else:
        nodes, log_weights, table = grid
    # codes come from calibration.encode (checked there against the calibration's categories)
    # moments about the prior mean, so the variance does not suffer from cancellation
    offset, se = posterior_moments(codes, table, log_weights, nodes - mean)
    return mean + offset, se


# --------------------------------------------------------------------------------------
# MAP / ML / WLE by vectorized Newton iterations
# --------------------------------------------------------------------------------------


def _merit_and_step(method: str, theta: np.ndarray, sums: np.ndarray, mean: float,
                    variance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merit, clipped step, test information, its derivative in theta, and whether the step
    is a Newton step (observed curvature, not Fisher scoring) from the sums over items.

    ``sums`` is (n, 7) as laid out in :mod:`psychometrics._theta_kernels`: log-likelihood,
    its first and second derivatives, information I, Warm's J, J' and I'.
    """
    loglik, gradient, bend, information = sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3]
    # Newton steps use the observed curvature -d(psi)/d(theta) where it is positive (always,
    # for log-concave models such as 2PL, graded, GPCM) and Fisher scoring elsewhere.
    observed_curvature = -bend
    if method == "ml":
        merit = loglik
        estimating = gradient
        expected_curvature = information
    elif method == "map":
        deviation = theta - mean
        merit = loglik - 0.5 * deviation * deviation / variance
        estimating = gradient - deviation / variance
        observed_curvature = observed_curvature + 1.0 / variance
        expected_curvature = information + 1.0 / variance
    else:  # wle
        # Warm (1989): psi = L' + J / (2 I), J = sum_jk P' P'' / P = sum_jk P l' (l'' + l'^2).
        warm_j, warm_j_prime, info_prime = sums[:, 4], sums[:, 5], sums[:, 6]
        safe_info = np.maximum(information, np.finfo(np.float64).tiny)
        estimating = gradient + warm_j / (2.0 * safe_info)
        correction_prime = (warm_j_prime * safe_info - warm_j * info_prime) / (2.0 * safe_info**2)
        observed_curvature = observed_curvature - correction_prime
        expected_curvature = information
        # A root of Warm's equation is sought: the merit is the size of the residual.
        merit = -np.abs(estimating)
    newton = observed_curvature > 0.0
    curvature = np.where(newton, observed_curvature, np.maximum(expected_curvature, np.finfo(np.float64).tiny))
    step = np.clip(estimating / curvature, -_MAX_STEP, _MAX_STEP)
    return merit, step, information, sums[:, 6], newton


class _Objective:
    """Merit, Newton step and test information of persons at given thetas.

    The sums over items come from central differences of the calibration's
    log-probabilities: every item model is handled alike (the reference path, and the one
    for small problems, where compiling or loading the kernels costs more than it saves).
    ``codes`` is (J, n): the transposed responses of the persons being iterated.
    """

    #: Derivatives exact to rounding, so that the Newton steps converge quadratically (see
    #: :func:`_newton`); differences carry ~1e-10 of noise, and then only ``tol`` stops.
    exact = False

    def __init__(self, calibration: Any, layout: _Layout, codes: np.ndarray, method: str,
                 mean: float, variance: float) -> None:
        self.calibration = calibration
        self.layout = layout
        self.codes = codes
        self.observed = codes >= 0
        self.index = np.where(self.observed, codes, 0)[:, :, None]
        self.method = method
        self.mean = mean
        self.variance = variance

    def _log_p(self, theta: np.ndarray) -> np.ndarray:
        return np.maximum(np.asarray(self.calibration.log_probabilities(theta), dtype=np.float64),
                          _LOG_FLOOR)

    def sums(self, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        observed = self.observed[:, rows]
        index = self.index[:, rows]
        log_p = self._log_p(theta)
        if self.method == "wle":
            # Warm's correction needs l'' (and its Newton step the third derivative):
            # five-point stencils keep l' and l'' to ~1e-10, where three-point differences
            # would leave ~1e-8 of noise.
            h = _H_WLE
            up, down = self._log_p(theta + h), self._log_p(theta - h)
            up2, down2 = self._log_p(theta + 2 * h), self._log_p(theta - 2 * h)
            slope = (8.0 * (up - down) - (up2 - down2)) / (12.0 * h)
            bend = (16.0 * (up + down) - (up2 + down2) - 30.0 * log_p) / (12.0 * h * h)
            third = ((up2 - down2) - 2.0 * (up - down)) / (2.0 * h**3)
        else:
            up, down = self._log_p(theta + _H), self._log_p(theta - _H)
            slope = (up - down) / (2.0 * _H)
            bend = (up + down - 2.0 * log_p) / (_H * _H)

        def chosen(values: np.ndarray) -> np.ndarray:
            return np.where(observed, np.take_along_axis(values, index, axis=2)[:, :, 0], 0.0).sum(axis=0)

        def over_items(values: np.ndarray) -> np.ndarray:
            return np.where(observed, values.sum(axis=2), 0.0).sum(axis=0)

        # With l = log P: P' = P l', so the Fisher information sum_k P'^2 / P = sum_k P l'^2.
        # Categories an item does not have sit at the log floor on every side: l' = 0 there.
        prob = np.exp(log_p)
        weighted_slope = prob * slope
        sums = np.zeros((theta.shape[0], _theta_kernels.N_SUMS))
        sums[:, 0] = chosen(log_p)
        sums[:, 1] = chosen(slope)
        sums[:, 2] = chosen(bend)
        sums[:, 3] = over_items(weighted_slope * slope)
        sums[:, 6] = over_items(weighted_slope * (slope * slope + 2.0 * bend))
        if self.method == "wle":
            inner = bend + slope * slope
            sums[:, 4] = over_items(weighted_slope * inner)
            sums[:, 5] = over_items(prob * (slope * slope * inner + bend * inner
                                            + slope * (third + 2.0 * slope * bend)))
        return sums

    def __call__(self, theta: np.ndarray, rows: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return _merit_and_step(self.method, theta, self.sums(theta, rows), self.mean, self.variance)


class _CompiledObjective(_Objective):
    """The same objective with analytic derivatives from the compiled kernels of
    :mod:`psychometrics._theta_kernels`; ``codes`` is (n, J) here."""

    exact = True

    def __init__(self, kernels: "_Kernels", codes: np.ndarray, method: str, mean: float,
                 variance: float) -> None:
        self.kernels = kernels
        self.codes = codes
        self.method = method
        self.mean = mean
        self.variance = variance

    def sums(self, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.kernels.sums(self.codes, rows, theta, self.method == "wle")


@dataclass(frozen=True)
class _Kernels:
    """The calibration's items grouped by compiled kernel, with each group's parameters."""

    cumulative: tuple  # (items, slope, intercepts (G, K-1), gap (G, K)) per K
    asymptote: tuple  # (items, slope, intercept, lower, upper) or ()
    divide_by_total: tuple  # (items, alpha (G, K), intercepts (G, K)) per K
    # (J, max K) weight of each category in the starting value (NaN beyond an item's
    # categories); None where an item has asymptotes and the iterations start from EAP
    weights: "np.ndarray | None" = None

    @classmethod
    def of(cls, calibration: Any, layout: _Layout) -> "_Kernels | None":
        """Kernels for every item, or None when a model has no compiled kernel."""
        from psychometrics.items import get_model
        from psychometrics.items.dichotomous import Dichotomous
        from psychometrics.items.graded import Graded
        from psychometrics.items.partial_credit import DivideByTotalModel

        models = getattr(calibration, "models", None)
        frame = getattr(calibration, "slope_intercept", None)
        if not isinstance(models, dict) or not isinstance(frame, pd.DataFrame):
            return None
        batches: dict[tuple[str, int], list[int]] = {}
        for j, item in enumerate(layout.item_ids):
            if item not in models or item not in frame.index:
                return None
            batches.setdefault((str(models[item]), int(layout.n_categories[j])), []).append(j)
        cumulative: dict[int, list] = {}
        dichotomous: list = []
        divide: dict[int, list] = {}
        for (name, k), positions in batches.items():
            model = get_model(name)
            ids = [layout.item_ids[j] for j in positions]
            params = frame.loc[ids, model.parameter_names(k)].to_numpy(dtype=np.float64)
            if not np.isfinite(params).all():
                return None
            items = np.asarray(positions, dtype=np.int64)
            if isinstance(model, Graded) or (isinstance(model, Dichotomous) and not model._has_asymptotes):
                if isinstance(model, Dichotomous):
                    params = model._full(params)[:, :2]  # a1, d
                cumulative.setdefault(k, []).append((items, params[:, 0], params[:, 1:]))
            elif isinstance(model, Dichotomous):
                full = model._full(params)
                dichotomous.append((items, full[:, 0], full[:, 1], full[:, 2], full[:, 3]))
            elif isinstance(model, DivideByTotalModel):
                slope, scores, intercepts = model._parts(params)
                divide.setdefault(k, []).append((items, slope[:, None] * scores, intercepts))
            else:
                return None

        def stacked(parts: list) -> tuple:
            return tuple(np.ascontiguousarray(np.concatenate(column)) for column in zip(*parts))

        cumulative_groups = []
        weights = np.full((len(layout.item_ids), int(layout.n_categories.max())), np.nan)
        for parts in cumulative.values():
            items, slope, intercepts = stacked(parts)
            padded = np.column_stack([np.full(len(items), np.inf), intercepts, np.full(len(items), -np.inf)])
            step = np.diff(padded, axis=1)  # d_{k+1} - d_k, negative when ordered
            gap = np.where(step < 0.0, -np.expm1(np.minimum(step, 0.0)), 0.0)
            cumulative_groups.append((items, slope, intercepts, np.ascontiguousarray(gap)))
            weights[items, :gap.shape[1]] = slope[:, None] * np.arange(gap.shape[1])
        divide_groups = tuple(stacked(parts) for parts in divide.values())
        for items, alpha, _ in divide_groups:
            weights[items, :alpha.shape[1]] = alpha
        return cls(tuple(cumulative_groups), stacked(dichotomous) if dichotomous else (), divide_groups,
                   None if dichotomous else weights)

    def _add(self, codes: np.ndarray, rows: np.ndarray, theta: np.ndarray, wle: bool,
             out: np.ndarray) -> None:
        for items, slope, intercepts, gap in self.cumulative:
            _theta_kernels.cumulative_sums(codes, rows, theta, items, slope, intercepts, gap, wle, out)
        if self.asymptote:
            _theta_kernels.asymptote_sums(codes, rows, theta, *self.asymptote, wle, out)
        for items, alpha, intercepts in self.divide_by_total:
            _theta_kernels.divide_by_total_sums(codes, rows, theta, items, alpha, intercepts, wle, out)

    def sums(self, codes: np.ndarray, rows: np.ndarray, theta: np.ndarray, wle: bool) -> np.ndarray:
        out = np.zeros((rows.shape[0], _theta_kernels.N_SUMS))
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        n_blocks = 1 if rows.size * codes.shape[1] < _THREADED_FROM else 2 * _compiled.n_threads()
        # each block writes its own rows of ``out``
        _compiled.run_blocks(self._add, [(codes, rows[start:stop], theta[start:stop], wle, out[start:stop])
                                         for start, stop in _compiled.block_bounds(rows.size, n_blocks)])
        return out


# The starting values of the compiled path: nodes over the latent mean +/- this many SDs
_START_HALF_WIDTH = 8.0
_START_NODES = 321
# ... and is used within this many SDs of the mean (else the EAP estimate)
_START_CENTRAL = 3.0


def _weighted_score_start(calibration: Any, kernels: _Kernels, mean: float,
                          variance: float) -> "Callable[[np.ndarray], np.ndarray]":
    r"""Starting values of the Newton iterations from each person's weighted score.

    With the weight :math:`w_{jk}` of category :math:`k` of item :math:`j` (:math:`a_j k` for
    cumulative logits, the category slope :math:`\alpha_{jk}` for divide-by-total models), the
    start solves :math:`\sum_j w_{j x_j} = \sum_j E[w_j \mid \theta]` by interpolation on a
    grid. That is the ML equation itself for 2PL/Rasch/GPCM/nominal and close to it for the
    graded model, so the Newton iterations need about as many steps as from the EAP
    estimate, whose grid of log-likelihoods would cost more than those steps. A person who
    skipped items has its weighted score rescaled to the range of the whole test.
    """
    sd = math.sqrt(variance)
    nodes = mean + sd * np.linspace(-_START_HALF_WIDTH, _START_HALF_WIDTH, _START_NODES)
    weights = kernels.weights
    prob = np.asarray(calibration.probabilities(nodes), dtype=np.float64)  # (J, Q, max K)
    curve = np.einsum("jqk,jk->q", np.nan_to_num(prob), np.nan_to_num(weights))
    curve = np.maximum.accumulate(curve)  # rounding aside, it increases
    full_low = float(np.nansum(np.nanmin(weights, axis=1)))
    full_span = float(np.nansum(np.nanmax(weights, axis=1))) - full_low

    def start(codes: np.ndarray) -> np.ndarray:
        sums = np.empty((codes.shape[0], 3))
        _theta_kernels.observed_weights(codes, np.arange(codes.shape[0]), weights, sums)
        total, low, high = sums[:, 0], sums[:, 1], sums[:, 2]
        span = high - low
        share = np.divide(total - low, span, out=np.full(codes.shape[0], 0.5), where=span > 0.0)
        return np.interp(full_low + share * full_span, curve, nodes)

    return start


# The last Newton step is taken without evaluating at its end once quadratic convergence
# predicts an error below a tenth of ``tol`` there: steps at most this long ...
_LAST_STEP = 1e-3
# ... and at most this share of the previous full step.
_CONTRACTION = 0.1


def _newton(objective: _Objective, start: np.ndarray, tol: float,
            max_iter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Newton iterations with step halving for all persons at once.

    A person stops when its step is below ``tol``, or, sooner, when the step :math:`\delta_k`
    shows quadratic convergence after a full Newton step :math:`\delta_{k-1}`: the error left
    after taking :math:`\delta_k` is then about :math:`C\delta_k^2` with
    :math:`C \approx |\delta_k| / \delta_{k-1}^2`, and once that is below ``tol / 10`` the step
    is taken without evaluating at its end (the information there from its derivative,
    :math:`I + I'\delta_k`, exact to :math:`O(\delta_k^2)`). That saves the last of usually three
    evaluations and leaves the estimate within ``tol`` of the converged one.

    Returns theta, the test information there, whether each person converged, and whether it
    stopped because no step along the scoring direction improved the merit ("stuck").
    """
    n = start.shape[0]
    theta = np.clip(start, -_BOUND, _BOUND)
    all_rows = np.arange(n)
    merit, step, information, information_slope, newton = objective(theta, all_rows)
    converged = np.zeros(n, dtype=bool)
    stuck_at = np.zeros(n, dtype=bool)
    previous = np.full(n, np.nan)  # length of the full Newton step that led here, else NaN
    active = all_rows
    for _ in range(max_iter):
        # at the bound and still pushing outward: the supremum lies at infinity
        current = step[active]
        pinned = (np.abs(theta[active]) >= _BOUND) & (current * theta[active] > 0.0)
        size = np.abs(current)
        last = previous[active]
        quadratic = (newton[active] & objective.exact & (size <= _LAST_STEP) & (size <= _CONTRACTION * last)
                     & (size * size * size <= 0.1 * tol * last * last) & ~pinned)
        if quadratic.any():
            rows = active[quadratic]
            theta[rows] = np.clip(theta[rows] + step[rows], -_BOUND, _BOUND)
            information[rows] += information_slope[rows] * step[rows]
        done = (size < tol) | pinned | quadratic
        converged[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break
        base = theta[active]
        full_step = step[active]
        full_newton = newton[active]
        trial = np.clip(base + full_step, -_BOUND, _BOUND)
        t_merit, t_step, t_info, t_slope, t_newton = objective(trial, active)
        # Rounding in the merit can reject a perfectly good tiny step; allow for it.
        slack = 1e-12 * (1.0 + np.abs(merit[active]))
        worse = t_merit < merit[active] - slack
        fraction = np.ones(active.size)
        for _ in range(_MAX_HALVINGS):
            if not worse.any():
                break
            redo = np.flatnonzero(worse)
            fraction[redo] *= 0.5
            trial[redo] = np.clip(base[redo] + fraction[redo] * full_step[redo], -_BOUND, _BOUND)
            r_merit, r_step, r_info, r_slope, r_newton = objective(trial[redo], active[redo])
            t_merit[redo], t_step[redo], t_info[redo], t_slope[redo], t_newton[redo] = (
                r_merit, r_step, r_info, r_slope, r_newton)
            worse[redo] = r_merit < merit[active[redo]] - slack[redo]
        # No improving step along the scoring direction: the iterate is as good as it gets.
        stuck = worse
        converged[active[stuck]] = True
        stuck_at[active[stuck]] = True
        moved = ~stuck
        rows = active[moved]
        theta[rows] = trial[moved]
        merit[rows], step[rows], information[rows] = t_merit[moved], t_step[moved], t_info[moved]
        information_slope[rows], newton[rows] = t_slope[moved], t_newton[moved]
        # only an unclipped full Newton step tells how fast the iterations converge
        full = (fraction[moved] == 1.0) & full_newton[moved] & (trial[moved] == base[moved] + full_step[moved])
        previous[rows] = np.where(full, np.abs(full_step[moved]), np.nan)
        active = active[moved]
    else:
        done = np.abs(step[active]) < tol
        converged[active[done]] = True
    return theta, information, converged, stuck_at


def _iterative(calibration: Any, layout: _Layout, codes: np.ndarray, method: str, mean: float,
               variance: float, quadrature_points: int, flag: np.ndarray, tol: float,
               max_iter: int, grid: "tuple[np.ndarray, np.ndarray, np.ndarray] | None" = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = codes.shape[0]
    theta = np.full(n, np.nan)
    se = np.full(n, np.nan)
    empty = flag == NO_RESPONSES
    if method == "map":
        # Without responses the posterior is the prior.
        theta[empty] = mean
        se[empty] = math.sqrt(variance)
        solve = ~empty
    elif method == "ml":
        low = flag == ALL_LOWEST
        high = flag == ALL_HIGHEST
        theta[low], theta[high] = -np.inf, np.inf
        se[low | high] = np.inf
        solve = ~(empty | low | high)
    else:
        solve = ~empty
    converged = np.ones(n, dtype=bool)
    rows = np.flatnonzero(solve)
    kernels = _Kernels.of(calibration, layout) if rows.size * codes.shape[1] >= COMPILED_FROM else None
    chunk_size = _NEWTON_CHUNK if kernels is None else _COMPILED_CHUNK
    # Starting values: the EAP estimate, or, for MAP and ML where the compiled kernels cover
    # every item and no item has asymptotes, the cheaper weighted-score start: there the
    # log-likelihood is concave, its maximum unique, and the start changes the estimate by less
    # than ``tol``. Warm's equation can have several roots (short tests, nearly extreme
    # patterns), and which one Newton finds depends on the start: WLE keeps the EAP start.
    # (With guessing or slipping an ML likelihood can have several maxima too.)
    # Even for MAP/ML, extreme patterns and persons whose weighted-score start lies far out
    # start from EAP, the start that needs fewer steps there.
    weighted_start = (_weighted_score_start(calibration, kernels, mean, variance)
                      if method != "wle" and kernels is not None and kernels.weights is not None else None)
    if weighted_start is None:
        eap_theta = _eap(calibration, layout, codes, mean, variance, quadrature_points, grid)[0]
    for start in range(0, rows.size, chunk_size):
        chunk = rows[start:start + chunk_size]
        chunk_codes = np.ascontiguousarray(codes[chunk])
        if kernels is None:
            objective = _Objective(calibration, layout, chunk_codes.T, method, mean, variance)
        else:
            objective = _CompiledObjective(kernels, chunk_codes, method, mean, variance)
        if weighted_start is None:
            begin = eap_theta[chunk]
        else:
            begin = weighted_start(chunk_codes)
            far = np.flatnonzero((np.abs(begin - mean) > _START_CENTRAL * math.sqrt(variance))
                                 | np.isin(flag[chunk], (ALL_LOWEST, ALL_HIGHEST)))
            if far.size:
                begin[far] = _eap(calibration, layout, chunk_codes[far], mean, variance, quadrature_points, grid)[0]
        est, information, ok, _ = _newton(objective, begin, tol, max_iter)
        if method == "map":
            information = information + 1.0 / variance
        positive = information > 0.0
        se[chunk] = np.where(positive, 1.0 / np.sqrt(np.where(positive, information, 1.0)), np.inf)
        at_bound = np.abs(est) >= _BOUND
        if at_bound.any():
            flag[chunk[at_bound]] = UNBOUNDED
            est = np.where(at_bound, np.sign(est) * np.inf, est)
            se[chunk[at_bound]] = np.inf
        theta[chunk] = est
        converged[chunk] = ok | at_bound
    return theta, se, converged


@keyword_only_after(2)
def score(calibration: "Calibration", responses: Any, *, method: str = "eap",
          quadrature_points: int = 61, prior_mean: float | None = None,
          prior_variance: float | None = None, tol: float = 1e-8,
          max_iter: int = 100, empty: str = "nan", group: Any = None) -> pd.DataFrame:
    r"""Estimate the latent trait of every respondent.

    Parameters
    ----------
    calibration : Calibration
        Item parameters, e.g. from :func:`psychometrics.irt.calibrate` or
        :meth:`Calibration.from_item_params`.
    responses : DataFrame, ndarray, Responses or Dask DataFrame
        Persons x items; any subset of the calibration's items, in any order; NaN = no answer.
        A Dask DataFrame gives a lazy Dask DataFrame of the same columns, each partition
        scored on its worker (:func:`psychometrics.distributed.score`).
    method : {"eap", "map", "ml", "wle"}
        Case-insensitive. EAP: posterior mean; MAP: posterior mode; ML: maximum likelihood;
        WLE: Warm's weighted likelihood estimate.
    quadrature_points : int
        Nodes of the EAP grid (equally spaced over the prior mean +/- 6 SD). WLE starts from
        the EAP estimate, and so do MAP and ML where an item has asymptotes (3PL/4PL).
    prior_mean, prior_variance : float, optional
        Normal prior of EAP and MAP; default the calibration's latent mean and variance.
    tol : float
        MAP/ML/WLE stop when the Newton step is below ``tol``.
    max_iter : int
        Maximum Newton iterations; persons not converged get the flag
        ``"not_converged"`` and a :class:`ConvergenceWarning` is emitted.
    empty : {"nan", "prior"}
        What a person without any answer gets: NaN theta and SE (default; no data, no
        estimate), or, for EAP and MAP, the prior mean and SD (``"prior"``, for code that
        needs a number for everyone, e.g. a posterior-weighted statistic). The flag is
        ``"no_responses"`` either way.
    group : str or array-like, optional
        For a multi-group calibration (``calibration.groups``), required: each person's group,
        as the name of a column of ``responses`` (dropped before scoring) or one label per
        person (a Series indexed by respondent id is matched by id). Each person is scored
        under their group's latent distribution and item parameters (unidimensional:
        :meth:`Calibration.for_group`; multidimensional: the group's factor means and
        covariances). A label that is not one of the calibration's groups, or a missing label,
        is an error naming the respondent.

    Returns
    -------
    DataFrame
        Indexed like ``responses``, columns ``theta``, ``se``, ``n_answered`` and ``flag``.
        For a multidimensional calibration (``calibration.factors``), ``theta_<factor>`` and
        ``se_<factor>`` per factor instead of ``theta`` and ``se``, from the multidimensional
        posterior (EAP or MAP only; :mod:`psychometrics.irt.multidimensional_scoring`); the
        prior is the calibration's factor distribution (multi-group: the person's group's
        factor means and covariances) and ``quadrature_points`` counts points
        per dimension (61 = the default: 31 for two dimensions, 15 for three).
        ``flag`` is ``""`` or one of ``"no_responses"``, ``"all_lowest"``, ``"all_highest"``
        (every answered item in its lowest/highest category), ``"unbounded"`` (ML estimate
        at infinity for a non-extreme pattern, possible with guessing), ``"not_converged"``.

        Persons without responses get NaN (with ``empty="prior"``: the prior mean and SD
        for EAP and MAP).
        ML returns ``-inf``/``+inf`` with ``se = inf`` for all-lowest/all-highest patterns.
        WLE is finite for them.

    Notes
    -----
    With :math:`L_i(\theta) = \sum_{j \in A_i} \log P_{j x_{ij}}(\theta)` over the items
    :math:`A_i` person :math:`i` answered and the normal prior :math:`g`:

    .. math::

        \hat\theta_{EAP} = \frac{\sum_q \theta_q e^{L_i(\theta_q)} g_q}{\sum_q e^{L_i(\theta_q)} g_q},
        \qquad SE^2 = \frac{\sum_q (\theta_q - \hat\theta)^2 e^{L_i(\theta_q)} g_q}
                          {\sum_q e^{L_i(\theta_q)} g_q}

    MAP maximizes :math:`L_i(\theta) + \log g(\theta)`, ML maximizes :math:`L_i`, and WLE
    solves Warm's equation :math:`L_i'(\theta) + J(\theta) / (2 I(\theta)) = 0` with
    :math:`I = \sum_j \sum_k P_{jk}'^2 / P_{jk}` and
    :math:`J = \sum_j \sum_k P_{jk}' P_{jk}'' / P_{jk}`. Each takes Newton steps
    :math:`\Delta = -\psi(\theta) / \psi'(\theta)` on its estimating function :math:`\psi`
    (Fisher scoring, :math:`\Delta = \psi / \mathcal{I}`, where :math:`-\psi'` is not
    positive, as can happen with guessing parameters), halving a step until the objective (the
    residual for WLE) improves, for all persons at once. Standard errors are
    :math:`1/\sqrt{I(\hat\theta)}` for ML and WLE and :math:`1/\sqrt{I(\hat\theta) + 1/\sigma^2}`
    for MAP (expected information of the answered items). Derivatives in :math:`\theta` are
    analytic for the built-in model families from ``COMPILED_FROM`` responses on; below that,
    or for other item models, central differences of the calibration's log-probabilities
    (three-point with step :math:`10^{-4}` for MAP/ML, five-point with step :math:`10^{-3}` for
    WLE), accurate to about :math:`10^{-9}`; both give the same estimates to :math:`10^{-8}`.

    References
    ----------
    .. [1] Bock, R. D., & Mislevy, R. J. (1982). Adaptive EAP estimation of ability in a
           microcomputer environment. Applied Psychological Measurement, 6(4), 431-444.
    .. [2] Warm, T. A. (1989). Weighted likelihood estimation of ability in item response
           theory. Psychometrika, 54(3), 427-450.
    .. [3] Baker, F. B., & Kim, S.-H. (2004). Item Response Theory: Parameter Estimation
           Techniques (2nd ed.), ch. 7.

    Examples
    --------
    >>> import pandas as pd
    >>> from psychometrics.irt import Calibration
    >>> params = pd.DataFrame({"a": [1.0, 1.5], "b": [-0.5, 0.5]}, index=["q1", "q2"])
    >>> calibration = Calibration.from_item_params(params, "2pl")
    >>> score(calibration, pd.DataFrame({"q1": [1.0, 0.0], "q2": [1.0, None]}))[["theta", "n_answered"]].round(3)
       theta  n_answered
    0  0.839           2
    1 -0.500           1
    """
    method = _check_method(method)
    if empty not in ("nan", "prior"):
        raise ValueError(f"empty must be 'nan' or 'prior', got {empty!r}")
    quadrature_points = _check_quadrature_points(quadrature_points)
    multigroup = bool(getattr(calibration, "is_multigroup", False))
    if group is not None and not multigroup:
        raise ValueError("group= applies to multi-group calibrations; this calibration has a single group")
    if multigroup and group is None:
        kind = "multidimensional " if getattr(calibration, "is_multidimensional", False) else ""
        raise ValueError(f"a multi-group {kind}calibration (groups {list(calibration.groups)}) scores each person "
                         "under their group's latent distribution: pass group= (a column of the responses or one "
                         "label per person)")
    if multigroup and isinstance(group, str) and isinstance(responses, pd.DataFrame) and group in responses.columns:
        group = responses[group]
        responses = responses.drop(columns=group.name)
    # a multi-group calibration's prior is each group's own (_unidimensional_groups, profile_scores)
    mean, variance = (0.0, 1.0) if multigroup else _prior(calibration, prior_mean, prior_variance)
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tol must be a positive number, got {tol!r}") from None
    if not (math.isfinite(tol) and tol > 0.0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    layout = _Layout.of(calibration)
    if _dispatch.is_dask(responses):
        if multigroup:
            raise ValueError("a multi-group calibration is scored from an in-memory DataFrame; compute the Dask "
                             "DataFrame first or score each group's calibration (for_group) on its partitions")
        return _dispatch.backend().score(calibration, responses, method=method, quadrature_points=quadrature_points,
                                         prior_mean=prior_mean, prior_variance=prior_variance, tol=tol,
                                         max_iter=max_iter)
    resp, codes = _encode(calibration, responses)
    group_codes = _group_codes(calibration, group, resp) if multigroup else None
    n_answered, flag = _checked_pattern_flags(codes, layout)
    if getattr(calibration, "is_multidimensional", False):
        return _score_profiles(calibration, resp, codes, method, n_answered, flag, quadrature_points, tol,
                               int(max_iter), group_codes)
    if multigroup:
        theta, se, converged = _unidimensional_groups(calibration, group_codes, codes, method, prior_mean,
                                                      prior_variance, quadrature_points, flag, tol, int(max_iter))
    else:
        theta, se, converged = _unidimensional(calibration, layout, codes, method, mean, variance,
                                               quadrature_points, flag, tol, int(max_iter))
    if method != "eap":
        if not converged.all():
            flag[~converged] = NOT_CONVERGED
            ids = list(resp.person_ids[~converged][:5])
            warnings.warn(
                f"{method.upper()} scoring did not converge within max_iter={max_iter} for "
                f"{int((~converged).sum())} respondent(s), e.g. {ids}; their flag is "
                f"'{NOT_CONVERGED}'", ConvergenceWarning, stacklevel=2)
    if empty == "nan":
        # no answers, no estimate: the prior is not a measurement of this person
        theta[n_answered == 0] = np.nan
        se[n_answered == 0] = np.nan
    return pd.DataFrame({"theta": theta, "se": se, "n_answered": n_answered, "flag": flag},
                        index=resp.person_ids)


def _unidimensional(calibration: Any, layout: _Layout, codes: np.ndarray, method: str, mean: float,
                    variance: float, quadrature_points: int, flag: np.ndarray, tol: float, max_iter: int,
                    grid: "tuple[np.ndarray, np.ndarray, np.ndarray] | None" = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Theta, SE and convergence of one unidimensional calibration (``flag`` is updated for
    ``"unbounded"``); shared by :func:`score` and :func:`score_codes`."""
    if method == "eap":
        theta, se = _eap(calibration, layout, codes, mean, variance, quadrature_points, grid)
        return theta, se, np.ones(codes.shape[0], dtype=bool)
    return _iterative(calibration, layout, codes, method, mean, variance, quadrature_points, flag, tol,
                      max_iter, grid)


def _group_codes(calibration: Any, labels: Any, resp: Any) -> np.ndarray:
    """Position in ``calibration.groups`` of each person's group label (``score(group=...)``)."""
    if isinstance(labels, str):
        raise ResponseError(f"group {labels!r} is not a column of the responses; pass the column's name with the "
                            "responses as a DataFrame, or the labels, one per person")
    return label_positions(align_labels(labels, resp), resp.person_ids, list(calibration.groups))


def _unidimensional_groups(calibration: Any, group_codes: np.ndarray, codes: np.ndarray, method: str,
                           prior_mean: float | None, prior_variance: float | None, quadrature_points: int,
                           flag: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_unidimensional` of each group's persons under that group's calibration."""
    n = codes.shape[0]
    theta, se = np.empty(n), np.empty(n)
    converged = np.ones(n, dtype=bool)
    for g, label in enumerate(calibration.groups):
        rows = np.flatnonzero(group_codes == g)
        if not rows.size:
            continue
        part = calibration.for_group(label)
        mean, variance = _prior(part, prior_mean, prior_variance)
        part_flag = flag[rows]
        theta[rows], se[rows], converged[rows] = _unidimensional(
            part, _Layout.of(part), np.ascontiguousarray(codes[rows]), method, mean, variance, quadrature_points,
            part_flag, tol, max_iter)
        flag[rows] = part_flag
    return theta, se, converged


@dataclass(frozen=True, eq=False)
class ScoringPlan:
    """What :func:`score` derives from a calibration before it looks at any answer: the item
    layout, the EAP grid and the log-probability table at its nodes. Build it once with
    :func:`scoring_plan` and score many small batches with :func:`score_codes` (a scoring
    service keeps one per immutable item bank)."""

    calibration: Any
    layout: _Layout
    mean: float
    variance: float
    quadrature_points: int
    nodes: np.ndarray
    log_weights: np.ndarray
    table: np.ndarray

    @property
    def item_ids(self) -> list[str]:
        return self.layout.item_ids


def scoring_plan(calibration: "Calibration", *, quadrature_points: int = 61, prior_mean: float | None = None,
                 prior_variance: float | None = None) -> ScoringPlan:
    """Precompute the per-calibration part of :func:`score` (unidimensional calibrations).

    Parameters
    ----------
    calibration : Calibration
        Item parameters.
    quadrature_points, prior_mean, prior_variance
        As in :func:`score`.

    Returns
    -------
    ScoringPlan
        For :func:`score_codes`; the table is exactly the one :func:`score` computes, so the
        estimates are identical.
    """
    if getattr(calibration, "is_multidimensional", False):
        raise ValueError("scoring_plan is for unidimensional calibrations; use score() for a multidimensional one")
    quadrature_points = _check_quadrature_points(quadrature_points)
    mean, variance = _prior(calibration, prior_mean, prior_variance)
    layout = _Layout.of(calibration)
    nodes, log_weights = _grid(mean, variance, quadrature_points)
    table = _log_probability_table(calibration, layout, nodes)
    for array in (nodes, log_weights, table):
        array.setflags(write=False)
    return ScoringPlan(calibration, layout, mean, variance, quadrature_points, nodes, log_weights, table)


def score_codes(plan: ScoringPlan, codes: np.ndarray, *, method: str = "eap", tol: float = 1e-8,
                max_iter: int = 100, empty: str = "nan") -> dict[str, np.ndarray]:
    """:func:`score` on category indices, without a DataFrame in or out.

    Parameters
    ----------
    plan : ScoringPlan
        From :func:`scoring_plan`.
    codes : ndarray of int, (persons, items)
        Category index 0..K_j-1 of each answer in ``plan.item_ids`` order (what
        ``calibration.encode`` returns), -1 for no answer.
    method, tol, max_iter, empty
        As in :func:`score`.

    Returns
    -------
    dict
        ``theta``, ``se``, ``n_answered``, ``flag`` (arrays, persons in row order), equal to the
        columns of :func:`score` for the same answers.
    """
    method = _check_method(method)
    if empty not in ("nan", "prior"):
        raise ValueError(f"empty must be 'nan' or 'prior', got {empty!r}")
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != len(plan.layout.item_ids):
        raise ValueError(f"codes must be (persons, {len(plan.layout.item_ids)}), got shape {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be integers (category indices, -1 = no answer), got {codes.dtype}")
    layout = plan.layout
    if codes.size:
        bad = np.flatnonzero((codes.min(axis=0) < -1) | (codes.max(axis=0) >= layout.n_categories))
        if bad.size:
            j = int(bad[0])
            row = int(np.flatnonzero((codes[:, j] < -1) | (codes[:, j] >= layout.n_categories[j]))[0])
            raise ValueError(f"code {int(codes[row, j])} for item {layout.item_ids[j]!r} (row {row}) is not a "
                             f"category index: the item has {int(layout.n_categories[j])} categories, indices "
                             f"0..{int(layout.n_categories[j]) - 1}, and -1 is no answer")
    n_answered, flag = _pattern_flags(codes, plan.layout)
    theta, se, converged = _unidimensional(plan.calibration, plan.layout, codes, method, plan.mean, plan.variance,
                                           plan.quadrature_points, flag, float(tol), int(max_iter),
                                           (plan.nodes, plan.log_weights, plan.table))
    if not converged.all():
        flag[~converged] = NOT_CONVERGED
        warnings.warn(f"{method.upper()} scoring did not converge within max_iter={max_iter} for "
                      f"{int((~converged).sum())} respondent(s), rows {np.flatnonzero(~converged)[:5].tolist()}; "
                      f"their flag is '{NOT_CONVERGED}'", ConvergenceWarning, stacklevel=2)
    if empty == "nan":
        theta[n_answered == 0] = np.nan
        se[n_answered == 0] = np.nan
    return {"theta": theta, "se": se, "n_answered": n_answered, "flag": flag}


def _score_profiles(calibration: Any, resp: Any, codes: np.ndarray, method: str, n_answered: np.ndarray,
                    flag: np.ndarray, quadrature_points: int, tol: float, max_iter: int,
                    group_codes: np.ndarray | None = None) -> pd.DataFrame:
    """Multidimensional calibrations: one ``theta_<factor>`` and ``se_<factor>`` per factor
    (:mod:`psychometrics.irt.multidimensional_scoring`), with the same flags."""
    from psychometrics.irt.multidimensional_scoring import profile_scores

    theta, se, converged = profile_scores(calibration, codes, method, group_codes=group_codes,
                                          quadrature_points=None if quadrature_points == 61 else quadrature_points,
                                          tol=tol, max_iter=max_iter)
    if not converged.all():
        flag[~converged] = NOT_CONVERGED
        warnings.warn(f"{method.upper()} scoring did not converge within max_iter={max_iter} for "
                      f"{int((~converged).sum())} respondent(s), e.g. {list(resp.person_ids[~converged][:5])}; "
                      f"their flag is '{NOT_CONVERGED}'", ConvergenceWarning, stacklevel=3)
    columns: dict[str, Any] = {f"theta_{f}": theta[:, m] for m, f in enumerate(calibration.factors)}
    columns.update({f"se_{f}": se[:, m] for m, f in enumerate(calibration.factors)})
    columns.update(n_answered=n_answered, flag=flag)
    return pd.DataFrame(columns, index=resp.person_ids)


# --------------------------------------------------------------------------------------
# Sum scores, plausible values, reliability
# --------------------------------------------------------------------------------------


def eap_sum_table(calibration: "Calibration", *, quadrature_points: int = 61,
                  prior_mean: float | None = None, prior_variance: float | None = None) -> pd.DataFrame:
    r"""EAP estimate for every attainable sum score (Lord-Wingersky recursion).

    The sum score counts category indices 0..K_j-1 of every item (the lowest category of
    each item scores 0), so it runs from 0 to :math:`\sum_j (K_j - 1)`.

    Returns
    -------
    DataFrame
        Columns ``sum_score``, ``theta`` (posterior mean given the sum score), ``se``
        (posterior SD) and ``probability`` (model-implied proportion of persons with that
        sum score); one row per sum score.

    Notes
    -----
    With :math:`L_0^{(0)}(\theta) = 1`, adding item :math:`j` gives

    .. math:: L_s^{(j)}(\theta) = \sum_{k=0}^{K_j - 1} L_{s-k}^{(j-1)}(\theta)\, P_{jk}(\theta),

    and with normalized prior weights :math:`g_q` on the nodes, :math:`\Pr(s) = \sum_q
    L_s(\theta_q) g_q` and :math:`\hat\theta_s = \sum_q \theta_q L_s(\theta_q) g_q / \Pr(s)`.
    The recursion is :func:`psychometrics.sumscore.sum_score_likelihoods`.

    References
    ----------
    .. [1] Lord, F. M., & Wingersky, M. S. (1984). Comparison of IRT true-score and
           equipercentile observed-score "equatings". Applied Psychological Measurement,
           8(4), 453-461.
    .. [2] Thissen, D., Pommerich, M., Billeaud, K., & Williams, V. S. L. (1995). Item
           response theory for scores on tests including polytomous items with ordered
           responses. Applied Psychological Measurement, 19(1), 39-49.
    """
    quadrature_points = _check_quadrature_points(quadrature_points)
    mean, variance = _prior(calibration, prior_mean, prior_variance)
    layout = _Layout.of(calibration)
    nodes, log_weights = _grid(mean, variance, quadrature_points)
    prob = np.exp(np.maximum(np.asarray(calibration.log_probabilities(nodes), dtype=np.float64),
                             _LOG_FLOOR))
    likelihood = sum_score_likelihoods(prob, layout.n_categories)  # (S, Q)
    weighted = likelihood * np.exp(log_weights)  # (S, Q); the weights are normalized
    total = weighted.sum(axis=1)
    positive = total > 0.0
    safe_total = np.where(positive, total, 1.0)
    offset = nodes - mean
    theta_mean = weighted @ offset / safe_total
    variance_s = np.maximum(weighted @ (offset * offset) / safe_total - theta_mean**2, 0.0)
    return pd.DataFrame({
        "sum_score": np.arange(likelihood.shape[0]),
        "theta": np.where(positive, mean + theta_mean, np.nan),
        "se": np.where(positive, np.sqrt(variance_s), np.nan),
        "probability": total,
    })


@keyword_only_after(2)
def plausible_values(calibration: "Calibration", responses: Any, *, n: int = 5,
                     seed: int | np.random.Generator | None = None,
                     quadrature_points: int = 241, prior_mean: float | None = None,
                     prior_variance: float | None = None) -> pd.DataFrame:
    r"""Draw ``n`` plausible values per respondent from the posterior of theta.

    Returns
    -------
    DataFrame
        Indexed like ``responses``, columns ``pv1`` .. ``pv{n}``.

    Notes
    -----
    The posterior :math:`p(\theta \mid x_i) \propto e^{L_i(\theta)} g(\theta)` is evaluated
    on ``quadrature_points`` equally spaced nodes (step :math:`h`); a node is drawn with its
    posterior probability and a uniform offset in :math:`[-h/2, h/2]` is added, i.e. the draw
    comes from the histogram approximation of the posterior (its variance exceeds the
    posterior variance by :math:`h^2/12`, about 0.0002 for the default grid). Persons without
    responses draw from the prior.

    References
    ----------
    .. [1] Mislevy, R. J. (1991). Randomization-based inference about latent variables from
           complex samples. Psychometrika, 56(2), 177-196.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    quadrature_points = _check_quadrature_points(quadrature_points)
    mean, variance = _prior(calibration, prior_mean, prior_variance)
    generator = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    layout = _Layout.of(calibration)
    resp, codes = _encode(calibration, responses)
    _check_codes(codes, layout)
    nodes, log_weights = _grid(mean, variance, quadrature_points)
    table = _log_probability_table(calibration, layout, nodes)
    # persons x draws x nodes comparisons per chunk: a quarter of the EAP chunk keeps them small
    chunk_size = max(1, _EAP_CHUNK // 4)
    with _blas_single_thread(codes.shape[0]):
        draws = _draw(codes, layout, table, log_weights, nodes, n, chunk_size, generator)
    return pd.DataFrame(draws, index=resp.person_ids, columns=[f"pv{i + 1}" for i in range(n)])


def _draw(codes: np.ndarray, layout: _Layout, table: np.ndarray, log_weights: np.ndarray,
          nodes: np.ndarray, n: int, chunk_size: int, generator: np.random.Generator) -> np.ndarray:
    quadrature_points = nodes.size
    step = nodes[1] - nodes[0]
    draws = np.empty((codes.shape[0], n))
    for start in range(0, codes.shape[0], chunk_size):
        stop = min(start + chunk_size, codes.shape[0])
        post = _posterior_log_density(codes[start:stop], layout, table, log_weights)
        post -= post.max(axis=1, keepdims=True)
        np.exp(post, out=post)
        cumulative = np.cumsum(post, axis=1)
        cumulative /= cumulative[:, -1:]
        u = generator.random((stop - start, n))
        # Inverse CDF per row without a loop over persons: count nodes below each draw.
        index = (cumulative[:, None, :] < u[:, :, None]).sum(axis=2)
        index = np.minimum(index, quadrature_points - 1)
        jitter = (generator.random((stop - start, n)) - 0.5) * step
        draws[start:stop] = nodes[index] + jitter
    return draws


def marginal_reliability(calibration: "Calibration", *, quadrature_points: int = 61,
                         prior_mean: float | None = None, prior_variance: float | None = None) -> float:
    r"""Marginal reliability of the test implied by the calibration.

    Notes
    -----
    .. math:: \bar\rho = \int \frac{I(\theta)}{I(\theta) + 1/\sigma^2}\, g(\theta)\, d\theta

    with :math:`I` the test information and :math:`g` the normal latent density with
    variance :math:`\sigma^2`, integrated on the same grid as EAP scoring. For a standard
    normal latent this is the quantity mirt's ``marginal_rxx`` reports.

    References
    ----------
    .. [1] Green, B. F., Bock, R. D., Humphreys, L. G., Linn, R. L., & Reckase, M. D. (1984).
           Technical guidelines for assessing computerized adaptive tests. Journal of
           Educational Measurement, 21(4), 347-360.
    .. [2] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for
           the R environment. Journal of Statistical Software, 48(6), 1-29.
    """
    quadrature_points = _check_quadrature_points(quadrature_points)
    mean, variance = _prior(calibration, prior_mean, prior_variance)
    nodes, log_weights = _grid(mean, variance, quadrature_points)
    information = np.asarray(calibration.information(nodes), dtype=np.float64).sum(axis=1)
    ratio = information / (information + 1.0 / variance)
    return float(np.exp(log_weights) @ ratio)


def empirical_reliability(scores: pd.DataFrame) -> float:
    r"""Empirical reliability of estimated scores.

    Parameters
    ----------
    scores : DataFrame
        With columns ``theta`` and ``se``, e.g. from :func:`score`. Rows with a non-finite
        theta or SE (no responses, infinite ML estimates) are left out.

    Notes
    -----
    .. math:: \hat\rho = \frac{s^2_{\hat\theta}}{s^2_{\hat\theta} + \overline{SE^2}}

    with :math:`s^2` the sample variance (denominator :math:`n - 1`), as mirt's
    ``empirical_rxx``.

    References
    ----------
    .. [1] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for
           the R environment. Journal of Statistical Software, 48(6), 1-29.
    """
    if not isinstance(scores, pd.DataFrame) or not {"theta", "se"} <= set(scores.columns):
        raise ValueError("scores must be a DataFrame with columns 'theta' and 'se' (the output of score())")
    theta = pd.to_numeric(scores["theta"], errors="coerce").to_numpy(dtype=np.float64)
    se = pd.to_numeric(scores["se"], errors="coerce").to_numpy(dtype=np.float64)
    usable = np.isfinite(theta) & np.isfinite(se)
    if usable.sum() < 2:
        raise ValueError(f"empirical reliability needs at least two rows with finite theta and se, "
                         f"got {int(usable.sum())}")
    variance = float(np.var(theta[usable], ddof=1))
    error = float(np.mean(se[usable] ** 2))
    total = variance + error
    if total <= 0.0:
        raise ValueError("empirical reliability is undefined: the scores have zero variance and zero SE")
    return variance / total
