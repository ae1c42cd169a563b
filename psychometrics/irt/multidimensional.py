r"""Multidimensional IRT: confirmatory correlated-factor, exploratory and bifactor calibration.

:func:`calibrate_multidimensional` is what :func:`psychometrics.irt.calibrate` runs when it is
given ``factors=`` or ``bifactor=``. It reuses the unidimensional pipeline step for step:

- items are :class:`~psychometrics.items.multidimensional.MultidimensionalModel` s (compensatory,
  :math:`\eta = \mathbf a^\top\boldsymbol\theta`), so the batched Newton M-step
  (:class:`~psychometrics.irt.mstep._Block`), priors, fixed parameters, SQUAREM and the Oakes
  standard errors are the unidimensional ones; a slope of an item on a factor it does not load
  on is a parameter fixed at 0;
- the E-step is the compiled kernel of :mod:`psychometrics.estep` on the flattened
  tensor-product grid (:func:`~psychometrics.quadrature.product_nodes`): it never looks at the
  dimension of the nodes, only at their number, so persons x nodes runs vectorized and
  multithreaded as in one dimension;
- the latent distribution is :math:`N(\mathbf 0, \boldsymbol\Phi)` with unit variances; its
  weights on the fixed grid are normalized (mirt's EM). The correlations maximize
  :math:`\sum_q N_q \log w_q(\boldsymbol\Phi)` (:func:`_correlation_mstep`), so the EM fixed
  point is the maximum of the same grid likelihood that is reported.

Bifactor models (:func:`_BifactorProblem`) integrate by dimension reduction (Gibbons & Hedeker,
1992; Cai, Yang & Hansen, 2011): for a general factor g and specific factors s, each item loading
on g and at most one s,

.. math::
    L_i = \sum_{q_g} w_{q_g} \prod_s \sum_{q_s} w_{q_s}
          \prod_{j \in s} P_j(x_{ij} \mid \theta_{q_g}, \theta_{q_s}),

so the cost is that of two-dimensional quadrature whatever the number of specific factors.

References
----------
.. [1] Bock, R. D., Gibbons, R. & Muraki, E. (1988). Full-information item factor analysis.
       *Applied Psychological Measurement*, 12, 261-280.
.. [2] Gibbons, R. D. & Hedeker, D. R. (1992). Full-information item bi-factor analysis.
       *Psychometrika*, 57, 423-436.
.. [3] Cai, L., Yang, J. S. & Hansen, M. (2011). Generalized full-information item bifactor
       analysis. *Psychological Methods*, 16, 221-248.
.. [4] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for the R
       environment. *Journal of Statistical Software*, 48(6).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.data import Responses
from psychometrics.errors import ConvergenceWarning, DataWarning, ModelWarning, ResponseError
from psychometrics.estep import EStep, estep
from psychometrics.estep_bifactor import bifactor_estep
from psychometrics.irt.document import _frame
from psychometrics.irt.em import _GroupData, _plain_em, _Problem, _squarem
from psychometrics.irt.layout import ALL_GROUPS, LATENT, ParameterLayout
from psychometrics.irt.mstep import _Block
from psychometrics.irt.prepare import (
    _check_priors_applied,
    _collapse_patterns,
    _model_mapping,
    _parse_priors,
    _prepare,
    _prior_arrays,
)
from psychometrics.irt.result import Calibration
from psychometrics.items import get_model
from psychometrics.items.multidimensional import (
    LOGISTIC_SCALE,
    MultidimensionalModel,
    standardized_loadings,
    supports_slopes,
)
from psychometrics.quadrature import grid_nodes, mvn_log_weights, product_nodes

__all__ = ["calibrate_multidimensional", "DEFAULT_QUADRATURE_POINTS", "MAX_QUADRATURE_FACTORS", "QMC_POINTS",
           "qmc_normal_nodes"]

#: Quadrature points per dimension by number of dimensions integrated (mirt's defaults).
DEFAULT_QUADRATURE_POINTS = {1: 61, 2: 31, 3: 15}

#: Most factors integrated by tensor-product quadrature (the grid has points**D nodes); more
#: factors are integrated on quasi-Monte Carlo points (docs/multidimensional.md).
MAX_QUADRATURE_FACTORS = 3

#: Quasi-Monte Carlo points of models with more than MAX_QUADRATURE_FACTORS factors.
QMC_POINTS = 2000

#: Seed of the scrambled Sobol sequence: a calibration is reproducible run to run.
QMC_SEED = 20261203


def qmc_normal_nodes(n_points: int, n_factors: int, seed: int = QMC_SEED) -> np.ndarray:
    r"""Quasi-Monte Carlo points of :math:`N(\mathbf 0, \mathbf I_D)`, (n_points, D): a
    scrambled Sobol sequence (Owen scrambling, fixed seed) through the normal quantile."""
    from scipy.stats import norm, qmc

    sobol = qmc.Sobol(d=int(n_factors), scramble=True, seed=seed)
    with warnings.catch_warnings():
        # a point count that is not a power of two only loses Sobol's balance property
        warnings.simplefilter("ignore", UserWarning)
        uniform = sobol.random(int(n_points))
    return norm.ppf(np.clip(uniform, 1e-12, 1 - 1e-12))

# --------------------------------------------------------------------------------------------
# structure
# --------------------------------------------------------------------------------------------

def _confirmatory_pattern(factors: Mapping[str, Sequence[str]], item_ids: Sequence[str]
                          ) -> tuple[list[str], np.ndarray]:
    if not isinstance(factors, Mapping) or not factors:
        raise ValueError("factors must be a non-empty mapping factor name -> list of items, or a number "
                         "of exploratory factors")
    names = [str(f) for f in factors]
    position = {item: j for j, item in enumerate(item_ids)}
    pattern = np.zeros((len(item_ids), len(names)), dtype=bool)
    for m, (name, items) in enumerate(factors.items()):
        if isinstance(items, str):
            raise ValueError(f"factor {name!r}: give a list of items, not the string {items!r}")
        items = [str(i) for i in items]
        if not items:
            raise ValueError(f"factor {name!r} lists no items")
        unknown = [i for i in items if i not in position]
        if unknown:
            raise ValueError(f"factor {name!r} lists item(s) {unknown} that are not in the data")
        pattern[[position[i] for i in items], m] = True
    orphans = [item_ids[j] for j in np.flatnonzero(~pattern.any(axis=1))]
    if orphans:
        raise ValueError(f"item(s) {orphans} load on no factor; list them under a factor or drop them "
                         "from the responses")
    return names, pattern


def _bifactor_pattern(bifactor: Mapping[str, Sequence[str]], item_ids: Sequence[str],
                      general: str) -> tuple[list[str], np.ndarray]:
    if not isinstance(bifactor, Mapping) or not bifactor:
        raise ValueError("bifactor must be a non-empty mapping specific factor name -> list of items")
    names = [str(general)] + [str(f) for f in bifactor]
    if str(general) in names[1:]:
        raise ValueError(f"the general factor's name {general!r} is also a specific factor's name")
    position = {item: j for j, item in enumerate(item_ids)}
    pattern = np.zeros((len(item_ids), len(names)), dtype=bool)
    pattern[:, 0] = True
    for m, (name, items) in enumerate(bifactor.items(), start=1):
        if isinstance(items, str):
            raise ValueError(f"specific factor {name!r}: give a list of items, not the string {items!r}")
        items = [str(i) for i in items]
        unknown = [i for i in items if i not in position]
        if unknown:
            raise ValueError(f"specific factor {name!r} lists item(s) {unknown} that are not in the data")
        if len(items) < 2:
            raise ValueError(f"specific factor {name!r} has {len(items)} item(s); a specific factor needs at "
                             "least 2 (3 or more to be well identified)")
        pattern[[position[i] for i in items], m] = True
    twice = [item_ids[j] for j in np.flatnonzero(pattern[:, 1:].sum(axis=1) > 1)]
    if twice:
        raise ValueError(f"item(s) {twice} are listed under more than one specific factor; in a bifactor "
                         "model each item loads on the general factor and at most one specific factor")
    return names, pattern


# --------------------------------------------------------------------------------------------
# latent correlations
# --------------------------------------------------------------------------------------------

def _log_weights(nodes: np.ndarray, corr: np.ndarray, offset: np.ndarray | None) -> np.ndarray:
    """Normalized log prior weights of the nodes: the N(0, corr) density on a grid, or its
    ratio to the N(0, I) density the quasi-Monte Carlo points were drawn from (``offset`` =
    ``|theta|^2 / 2``)."""
    if offset is None:
        return mvn_log_weights(nodes, corr)
    log_density = mvn_log_weights(nodes, corr) + offset
    return log_density - np.logaddexp.reduce(log_density)


def _correlation_objective(nodes: np.ndarray, node_counts: np.ndarray, corr: np.ndarray,
                           pairs: Sequence[tuple[int, int]], offset: np.ndarray | None = None,
                           continuous: bool = False) -> tuple[float, np.ndarray]:
    r""":math:`f = \sum_q N_q \log w_q(\Phi)` and its gradient in the free correlations.

    With :math:`P = \Phi^{-1}`, :math:`S = \sum_q N_q \theta_q\theta_q^\top` and
    :math:`M = \sum_q w_q \theta_q\theta_q^\top`: :math:`\partial f/\partial P =
    -\frac12(S - N M)`, :math:`\partial f/\partial\Phi = -P(\partial f/\partial P)P`, and a
    correlation enters twice (symmetry). ``continuous``: nodes that move with the prior
    (quasi-Monte Carlo), :math:`f = \sum_q N_q \log\phi(\theta_q; \Phi)` and :math:`M = \Phi`.
    """
    n = float(node_counts.sum())
    s = (nodes * node_counts[:, None]).T @ nodes
    precision = np.linalg.inv(corr)
    if continuous:
        # quasi-Monte Carlo points follow the prior: the normal log-density itself
        value = float(-0.5 * np.sum(precision * s) - 0.5 * n * np.linalg.slogdet(corr)[1])
        m = corr
    else:
        log_w = _log_weights(nodes, corr, offset)
        value = float(node_counts @ log_w)
        w = np.exp(log_w)
        m = (nodes * w[:, None]).T @ nodes
    d_precision = -0.5 * (s - n * m)
    d_corr = -precision @ d_precision @ precision
    grad = np.array([2.0 * d_corr[i, j] for i, j in pairs])
    return value, grad


def _with_pairs(corr: np.ndarray, pairs: Sequence[tuple[int, int]], values: np.ndarray) -> np.ndarray:
    out = corr.copy()
    for (i, j), v in zip(pairs, values):
        out[i, j] = out[j, i] = v
    return out


def _positive_definite(corr: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.isfinite(corr))) and np.linalg.eigvalsh(corr)[0] > 1e-6


def _correlation_mstep(nodes: np.ndarray, node_counts: np.ndarray, corr: np.ndarray,
                       pairs: Sequence[tuple[int, int]], offset: np.ndarray | None = None,
                       max_steps: int = 25, continuous: bool = False) -> np.ndarray:
    """Correlations maximizing :func:`_correlation_objective` (Newton steps, numerical Hessian of
    the analytic gradient, halving to stay positive definite and ascending)."""
    if not pairs:
        return corr
    rho = np.array([corr[i, j] for i, j in pairs])
    value, grad = _correlation_objective(nodes, node_counts, corr, pairs, offset, continuous)
    for _ in range(max_steps):
        h = 1e-6
        hess = np.empty((rho.size, rho.size))
        for c in range(rho.size):
            up, down = rho.copy(), rho.copy()
            up[c] += h
            down[c] -= h
            hess[:, c] = (_correlation_objective(nodes, node_counts, _with_pairs(corr, pairs, up), pairs, offset,
                                                 continuous)[1]
                          - _correlation_objective(nodes, node_counts, _with_pairs(corr, pairs, down), pairs,
                                                   offset, continuous)[1]) / (2.0 * h)
        hess = 0.5 * (hess + hess.T)
        top = np.linalg.eigvalsh(hess)[-1]
        if top > -1e-8:
            hess -= (top + 1e-3 * max(1.0, np.abs(np.diag(hess)).max())) * np.eye(rho.size)
        step = -np.linalg.solve(hess, grad)
        scale = 1.0
        moved = False
        for _ in range(30):
            trial = rho + scale * step
            trial_corr = _with_pairs(corr, pairs, trial)
            if np.all(np.abs(trial) < 1.0) and _positive_definite(trial_corr):
                trial_value, trial_grad = _correlation_objective(nodes, node_counts, trial_corr, pairs, offset,
                                                                 continuous)
                if trial_value >= value - 1e-12 * abs(value):
                    rho, value, grad, corr, moved = trial, trial_value, trial_grad, trial_corr, True
                    break
            scale *= 0.5
        if not moved or np.max(np.abs(scale * step)) < 1e-10:
            break
    return corr


# --------------------------------------------------------------------------------------------
# EM problems
# --------------------------------------------------------------------------------------------

class _MultidimensionalProblem(_Problem):
    """The EM map with a multidimensional grid and estimated factor correlations.

    Packed vector: the item slots of the blocks, then one slot per free correlation.
    """

    def __init__(self, blocks: list[_Block], data: _GroupData, nodes: np.ndarray, n_categories: np.ndarray,
                 correlation: np.ndarray, pairs: list[tuple[int, int]], factor_names: Sequence[str],
                 newton_steps: int, qmc_base: np.ndarray | None = None) -> None:
        super().__init__(blocks, [data], nodes, n_categories, np.zeros(1), np.ones(1), np.zeros(1, dtype=bool),
                         np.zeros(1, dtype=bool), newton_steps)
        self.correlation = np.asarray(correlation, dtype=np.float64).copy()
        self.pairs = list(pairs)
        # labels read by the standard errors: ("latent", kind, group)
        self.latent_slots = [(0, f"correlation {factor_names[i]}~{factor_names[j]}") for i, j in self.pairs]
        self.size = self.n_item_slots + len(self.pairs)
        # quasi-Monte Carlo: points z of N(0, I) mapped to the current prior, theta = L z
        self.qmc_base = qmc_base
        self.offset = None

    def pack(self) -> np.ndarray:
        x = np.empty(self.size)
        for b in self.blocks:
            b.pack(x)
        for s, (i, j) in enumerate(self.pairs):
            x[self.n_item_slots + s] = self.correlation[i, j]
        return x

    def unpack(self, x: np.ndarray) -> None:
        for b in self.blocks:
            b.unpack(x)
        self.correlation = _with_pairs(self.correlation, self.pairs, x[self.n_item_slots:])

    def log_prior(self) -> np.ndarray:
        if self.qmc_base is not None:
            self.nodes = self.qmc_base @ np.linalg.cholesky(self.correlation).T
            return np.full(self.nodes.shape[0], -np.log(self.nodes.shape[0]))
        return _log_weights(self.nodes, self.correlation, self.offset)

    def expectation(self) -> EStep:
        self.n_estep += 1
        data = self.groups[0]
        log_prior = self.log_prior()          # first: moves quasi-Monte Carlo nodes to the prior
        e = estep(data.encoded, self.log_probabilities(), log_prior, data.weights)
        self.group_nodes = [(e.node_counts, e.n_persons)]
        return e

    def maximization(self, e: EStep, step_tol: float) -> None:
        for b in self.blocks:
            b.mstep(self.nodes, e.counts[b.positions, :, :b.k], self.newton_steps, step_tol)
        if self.pairs:
            self.correlation = _correlation_mstep(self.nodes, e.node_counts, self.correlation, self.pairs,
                                                  self.offset, continuous=self.qmc_base is not None)

    def valid(self, x: np.ndarray) -> bool:
        if not np.all(np.isfinite(x)):
            return False
        return _positive_definite(_with_pairs(self.correlation, self.pairs, x[self.n_item_slots:]))

    def score(self, x: np.ndarray) -> np.ndarray:
        self.unpack(x)
        e = self.expectation()
        out = np.zeros(self.size)
        for b in self.blocks:
            b.score(self.nodes, e.counts[b.positions, :, :b.k], out)
        if self.pairs:
            out[self.n_item_slots:] = _correlation_objective(self.nodes, e.node_counts, self.correlation,
                                                             self.pairs, self.offset,
                                                             self.qmc_base is not None)[1]
        return out


class _BifactorProblem(_Problem):
    """Bifactor EM by dimension reduction: every item is a two-dimensional item on (general,
    its specific factor) and is integrated on the two-dimensional grid; persons' likelihoods
    combine the specific factors conditionally on the general one (module docstring).

    ``item_group[c]`` is the specific factor (0-based) of estimation column c, -1 for items on
    the general factor only (their second slope is fixed at 0).
    """

    def __init__(self, blocks: list[_Block], data: _GroupData, nodes_1d: np.ndarray, n_categories: np.ndarray,
                 item_group: np.ndarray, newton_steps: int) -> None:
        grid = product_nodes(nodes_1d, 2)
        super().__init__(blocks, [data], grid, n_categories, np.zeros(1), np.ones(1), np.zeros(1, dtype=bool),
                         np.zeros(1, dtype=bool), newton_steps)
        self.log_w1 = mvn_log_weights(np.asarray(nodes_1d, dtype=np.float64)[:, None], np.eye(1))
        # specific sets numbered 0..S-1 (items on the general factor only are one more set)
        _, self.item_set = np.unique(np.asarray(item_group, dtype=np.int64), return_inverse=True)

    def expectation(self) -> EStep:
        self.n_estep += 1
        data = self.groups[0]
        e = bifactor_estep(data.encoded, self.log_probabilities(), self.item_set, self.log_w1, data.weights)
        self.group_nodes = [(e.node_counts, e.n_persons)]
        return e


# --------------------------------------------------------------------------------------------
# starting values
# --------------------------------------------------------------------------------------------

def _exploratory_start(encoded: np.ndarray, n_factors: int) -> np.ndarray:
    """Slopes (items x D) from the principal components of the inter-item correlations,
    rotated so that the first D-1 items have zero slopes on later factors (the model's
    identification, as mirt's exploratory models)."""
    values = np.where(encoded >= 0, encoded.astype(np.float64), np.nan)
    r = pd.DataFrame(values).corr(min_periods=3).to_numpy()
    r = np.where(np.isfinite(r), r, 0.0)
    np.fill_diagonal(r, 1.0)
    vals, vecs = np.linalg.eigh(r)
    order = np.argsort(vals)[::-1][:n_factors]
    lam = vecs[:, order] * np.sqrt(np.maximum(vals[order], 1e-6))
    # rotate so that the first D rows are lower triangular
    q, _ = np.linalg.qr(lam[:n_factors].T)
    lam = lam @ q
    lam[:n_factors][np.triu_indices(n_factors, 1)] = 0.0
    signs = np.sign(lam.sum(axis=0))
    lam *= np.where(signs == 0, 1.0, signs)
    h2 = np.minimum((lam * lam).sum(axis=1), 0.85)
    scale = np.sqrt(np.maximum((lam * lam).sum(axis=1), 1e-12))
    lam = lam / scale[:, None] * np.sqrt(h2)[:, None]
    return LOGISTIC_SCALE * lam / np.sqrt(1.0 - h2)[:, None]


# --------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------

def _qmc_loglik(problem: _MultidimensionalProblem, n_points: int, n_factors: int,
                replications: int = 4) -> tuple[float, float]:
    """Log-likelihood at the estimates as the mean over the estimation's point set and
    ``replications`` independently scrambled ones of the same size, and its standard error
    (standard deviation over the sets / sqrt(sets)) (docs/multidimensional.md)."""
    base = problem.qmc_base
    values = [problem.expectation().loglik]
    try:
        for r in range(1, replications + 1):
            problem.qmc_base = qmc_normal_nodes(n_points, n_factors, seed=QMC_SEED + r)
            values.append(problem.expectation().loglik)
    finally:
        problem.qmc_base = base
        problem.expectation()
    return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values)))


def _layout(blocks: Sequence[_Block], item_ids: Sequence[str], problem: _Problem) -> ParameterLayout:
    """The parameter layout under the reported names (``a1..aD`` of the factors, not the
    items' local slopes): free item parameters by slot, then the correlations."""
    entries: list[list[tuple[str, str, Any]]] = [[] for _ in range(problem.n_item_slots)]
    fixed: dict[tuple[str, str], None] = {}
    for b in blocks:
        for r, j in enumerate(b.positions):
            for c, name in enumerate(b.reported[r]):
                if not name:
                    continue
                s = int(b.slot[r, c])
                if s < 0:
                    fixed.setdefault((item_ids[j], name), None)
                else:
                    entries[s].append((item_ids[j], name, ALL_GROUPS))
    slots = [tuple(e) for e in entries] + [((LATENT, kind, ALL_GROUPS),) for _, kind in problem.latent_slots]
    return ParameterLayout(tuple(slots), tuple(fixed))


def calibrate_multidimensional(resp: Responses, model: str | Mapping[str, str], *,
                               factors: Mapping[str, Sequence[str]] | int | None = None,
                               bifactor: Mapping[str, Sequence[str]] | None = None,
                               general: str = "general", correlated: bool = True,
                               rotation: str | None = None, quadrature_points: int | None = None,
                               tol: float = 1e-4, max_iter: int = 500, se: bool = False,
                               priors: Mapping[str, Any] | None = None,
                               fixed: Mapping[str, Mapping[str, float]] | None = None,
                               weights: Any = None, start: pd.DataFrame | None = None,
                               accelerate: bool = True, newton_steps: int = 3,
                               callback: Callable[[int, float, float], Any] | None = None) -> Calibration:
    """Multidimensional calibration; see :func:`psychometrics.irt.calibrate` (``factors=``,
    ``bifactor=``) for the parameters and the module docstring for the method."""
    item_ids = resp.item_ids
    models = _model_mapping(model, item_ids)
    for item, name in models.items():
        if not supports_slopes(get_model(name)):
            raise ValueError(f"item {item!r}: model {name!r} has no free slope to extend to several factors; "
                             "multidimensional models take 2pl, 3pl, 4pl, graded, gpcm or nominal items")
    if (factors is None) == (bifactor is None):
        raise ValueError("give exactly one of factors= (correlated or exploratory factors) and bifactor=")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    exploratory = False
    if bifactor is not None:
        names, pattern = _bifactor_pattern(bifactor, item_ids, general)
        if rotation is not None:
            raise ValueError("rotation applies to exploratory models (factors=<number>), not to bifactor=")
    elif isinstance(factors, (int, np.integer)) and not isinstance(factors, bool):
        if factors < 1:
            raise ValueError(f"factors must be at least 1, got {factors}")
        if factors > len(item_ids) // 2:
            raise ValueError(f"{factors} exploratory factors for {len(item_ids)} items are not identified; "
                             f"use at most {len(item_ids) // 2}")
        exploratory = True
        names = [f"F{m}" for m in range(1, int(factors) + 1)]
        pattern = np.ones((len(item_ids), int(factors)), dtype=bool)
        pattern[:int(factors)][np.triu_indices(int(factors), 1)] = False
    else:
        if rotation is not None:
            raise ValueError("rotation applies to exploratory models (factors=<number>); a confirmatory model's "
                             "factors are defined by their items")
        names, pattern = _confirmatory_pattern(factors, item_ids)
    n_factors = len(names)
    if exploratory and rotation is None:
        rotation = "oblimin"
    dims = 2 if bifactor is not None else n_factors
    qmc = dims > MAX_QUADRATURE_FACTORS
    if qmc:
        points = QMC_POINTS if quadrature_points is None else quadrature_points
        if int(points) != points or points < 100:
            raise ValueError(f"quadrature_points (quasi-Monte Carlo points for {dims} factors) must be an integer "
                             f">= 100, got {points!r}")
    else:
        points = DEFAULT_QUADRATURE_POINTS[dims] if quadrature_points is None else quadrature_points
        if int(points) != points or points < 5:
            raise ValueError(f"quadrature_points must be an integer >= 5, got {points!r}")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if weights.shape[0] != resp.n_persons:
            raise ValueError(f"weights has {weights.shape[0]} values for {resp.n_persons} persons")
        if not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise ValueError("weights must be finite and non-negative")
    fixed = {str(i): dict(v) for i, v in (fixed or {}).items()}
    unknown = [i for i in fixed if i not in set(item_ids)]
    if unknown:
        raise ValueError(f"fixed names item(s) {unknown} that are not in the data")

    categories, encoded = _prepare(resp, models)
    n_cat = np.array([len(categories[i]) for i in item_ids], dtype=np.int64)
    answered = (encoded >= 0).any(axis=1)
    if not answered.all():
        empty = resp.person_ids[~answered]
        shown = ", ".join(repr(p) for p in list(empty[:5]))
        warnings.warn(f"{int((~answered).sum())} respondent(s) answered no item and are left out of the "
                      f"calibration: {shown}{' ...' if len(empty) > 5 else ''}", DataWarning, stacklevel=3)
        encoded = encoded[answered]
        weights = None if weights is None else weights[answered]
    if encoded.shape[0] == 0:
        raise ResponseError("no respondent answered any item")
    w = np.ones(encoded.shape[0]) if weights is None else weights
    n_persons = float(w.sum())

    # per item: the factors its local slopes stand for
    if bifactor is not None:
        item_group = np.array([int(np.flatnonzero(pattern[j, 1:])[0]) if pattern[j, 1:].any() else -1
                               for j in range(len(item_ids))])
        local_factors = [[0, 1 + s] if s >= 0 else [0, -1] for s in item_group]
    else:
        item_group = np.full(len(item_ids), -1)
        local_factors = [list(range(n_factors)) for _ in item_ids]
    slope_start = _exploratory_start(encoded, n_factors) if exploratory else None

    per_item_priors = _parse_priors(priors, item_ids)
    matched: set[tuple[str, str]] = set()
    keys: dict[tuple[str, int], list[int]] = {}
    for j, item in enumerate(item_ids):
        keys.setdefault((models[item], int(n_cat[j])), []).append(j)
    blocks: list[_Block] = []
    first_slot = 0
    global_slope = [f"a{m}" for m in range(1, n_factors + 1)]
    for (name, k), positions in keys.items():
        m = MultidimensionalModel(get_model(name), dims)
        local_names = m.parameter_names(k)
        props = np.zeros((len(positions), k))
        for r, j in enumerate(positions):
            col = encoded[:, j]
            obs = col >= 0
            props[r] = np.bincount(col[obs].astype(np.int64), weights=w[obs], minlength=k)
        props /= props.sum(axis=1, keepdims=True)
        params = np.asarray(m.data_start_values(k, props), dtype=np.float64).copy()
        fixed_mask = np.zeros(params.shape, dtype=bool)
        # names of each item's parameters as reported (global slope names)
        reported: list[list[str]] = []
        for r, j in enumerate(positions):
            item = item_ids[j]
            row_names = [global_slope[f] if f >= 0 else "" for f in local_factors[j]] + local_names[dims:]
            reported.append(row_names)
            for c, f in enumerate(local_factors[j]):
                if f < 0 or not pattern[j, f]:
                    params[r, c] = 0.0
                    fixed_mask[r, c] = True
                elif slope_start is not None:
                    params[r, c] = slope_start[j, f]
                elif bifactor is not None and c == 1:
                    params[r, c] = 0.5
            if start is not None and item in start.index:
                for c, nm in enumerate(row_names):
                    if nm and nm in start.columns and pd.notna(start.loc[item, nm]) and not fixed_mask[r, c]:
                        params[r, c] = float(start.loc[item, nm])
            if item in fixed:
                known = [nm for nm in row_names if nm]
                bad = [nm for nm in fixed[item] if nm not in known]
                if bad:
                    raise ValueError(f"fixed: item {item!r} ({name}, {n_factors} factors) has no parameter(s) "
                                     f"{bad}; its parameters are {known}")
                for nm, val in fixed[item].items():
                    c = row_names.index(nm)
                    params[r, c] = float(val)
                    fixed_mask[r, c] = True
        items_here = [item_ids[j] for j in positions]
        kind, p1, p2 = _prior_arrays(global_slope[:dims] + local_names[dims:], items_here, {}, None)
        for r, item in enumerate(items_here):
            row_kind, row_p1, row_p2 = _prior_arrays(reported[r], [item], per_item_priors, matched)
            kind[r], p1[r], p2[r] = row_kind[0], row_p1[0], row_p2[0]
        # a prior on a parameter held fixed (a zero slope) is no part of the objective
        kind[fixed_mask] = 0
        block = _Block(m, k, np.asarray(positions), params, fixed_mask, (kind, p1, p2), first_slot)
        block.reported = reported
        first_slot += block.n_slots
        blocks.append(block)
    _check_priors_applied(priors, item_ids, matched)

    work, work_weights = _collapse_patterns(encoded, weights, n_cat)
    data = _GroupData(work, work_weights, None, n_persons)
    nodes_1d = None if qmc else grid_nodes(int(points))
    correlation = np.eye(n_factors)
    if bifactor is not None:
        problem: _Problem = _BifactorProblem(blocks, data, nodes_1d, n_cat, item_group, newton_steps)
    else:
        pairs = ([(i, j) for i in range(n_factors) for j in range(i + 1, n_factors)]
                 if correlated and not exploratory else [])
        base = qmc_normal_nodes(int(points), n_factors) if qmc else None
        nodes = base.copy() if qmc else product_nodes(nodes_1d, n_factors)
        problem = _MultidimensionalProblem(blocks, data, nodes, n_cat, correlation, pairs, names, newton_steps,
                                           base)
    x0 = problem.pack()
    runner = _squarem if accelerate else _plain_em
    x, history, converged, n_iter = runner(problem, x0, tol, int(max_iter), tol * 1e-2, callback)
    problem.unpack(x)
    final = problem.expectation()
    loglik = final.loglik
    if not converged:
        warnings.warn(f"EM did not converge in {n_iter} iterations (tol {tol:g}); the estimates are not "
                      "trustworthy, raise max_iter or check the data", ConvergenceWarning, stacklevel=3)
    loglik_se = math.nan
    if isinstance(problem, _MultidimensionalProblem):
        correlation = problem.correlation.copy()
        if problem.qmc_base is not None:
            loglik, loglik_se = _qmc_loglik(problem, int(points), n_factors)
    layout = _layout(blocks, item_ids, problem)
    n_free = layout.n_parameters

    se_rows: list[dict[str, float]] | None = None
    covariance = None
    correlation_se = np.full((n_factors, n_factors), np.nan)
    if se:
        from psychometrics.irt.standard_errors import _standard_errors

        si_se, _, _, _, covariance = _standard_errors(problem, x, layout, len(item_ids), [None],
                                                      list(range(len(item_ids))), list(item_ids))
        se_rows = []
        for j, item in enumerate(item_ids):
            se_rows.append({})
        for b in blocks:
            local = b.model.parameter_names(b.k)
            for r, j in enumerate(b.positions):
                for c, nm in enumerate(b.reported[r]):
                    if nm:
                        se_rows[j][nm] = float(si_se.loc[item_ids[j], local[c]])
        if isinstance(problem, _MultidimensionalProblem):
            for s, (i, j) in enumerate(problem.pairs):
                v = float(covariance.to_numpy()[problem.n_item_slots + s, problem.n_item_slots + s])
                correlation_se[i, j] = correlation_se[j, i] = math.sqrt(v) if v >= 0 else math.nan

    si_rows: list[dict[str, float]] = [{} for _ in item_ids]
    for b in blocks:
        for r, j in enumerate(b.positions):
            row = {nm: 0.0 for nm in global_slope}
            for c, nm in enumerate(b.reported[r]):
                if nm:
                    row[nm] = float(b.params[r, c])
            si_rows[j] = row
    slopes = np.array([[si_rows[j][nm] for nm in global_slope] for j in range(len(item_ids))])
    rotation_converged = True
    if exploratory and n_factors > 1 and rotation != "none":
        from psychometrics.factor.efa import ROTATIONS, rotate

        if rotation not in ROTATIONS:
            raise ValueError(f"rotation must be one of {ROTATIONS}, got {rotation!r}")
        unrotated = standardized_loadings(slopes, np.eye(n_factors))
        _, phi, t_matrix, rotation_converged = rotate(unrotated, rotation)
        # slopes rotate like the loadings: the item's common variance a'Phi a is invariant
        if np.allclose(phi, np.eye(n_factors)):
            slopes = slopes @ t_matrix
        else:
            slopes = slopes @ np.linalg.inv(t_matrix).T
        correlation = phi
        # factors with mostly negative loadings are reflected (sign is arbitrary)
        signs = np.where(slopes.sum(axis=0) < 0, -1.0, 1.0)
        slopes *= signs
        correlation = correlation * np.outer(signs, signs)
        for j in range(len(item_ids)):
            si_rows[j].update(dict(zip(global_slope, map(float, slopes[j]))))
        if se_rows is not None:
            # the rotation depends on the slopes themselves; SEs of the unrotated slopes do not
            # carry over, and the delta method through the rotation is not implemented
            for row in se_rows:
                row.update({nm: math.nan for nm in global_slope})
            warnings.warn("standard errors of rotated exploratory slopes are not computed (NaN); intercept "
                          "standard errors are valid", ModelWarning, stacklevel=3)
        if not rotation_converged:
            warnings.warn(f"the {rotation} rotation did not converge; the rotated loadings are not trustworthy",
                          ConvergenceWarning, stacklevel=3)
    frame = _frame(item_ids, si_rows)
    corr_frame = pd.DataFrame(correlation, index=pd.Index(names, name="factor"), columns=names)
    se_frame = None if se_rows is None else _frame(item_ids, se_rows).reindex(columns=frame.columns)
    return Calibration(
        item_ids=list(item_ids), models=models, categories=categories,
        item_params=frame.copy(), slope_intercept=frame,
        loglik=float(loglik), aic=float(-2.0 * loglik + 2.0 * n_free),
        bic=float(-2.0 * loglik + n_free * math.log(n_persons)), n_iter=int(n_iter),
        converged=bool(converged), history=tuple(float(h) for h in history), quadrature_points=int(points),
        n_persons=n_persons, n_parameters=int(n_free), parameter_layout=layout, standard_errors=se_frame,
        irt_standard_errors=None if se_frame is None else se_frame.copy(), tol=float(tol),
        covariance=covariance, factors=tuple(names), factor_correlations=corr_frame,
        factor_correlations_se=(pd.DataFrame(correlation_se, index=corr_frame.index, columns=names)
                                if se else None),
        rotation=rotation if exploratory else None, loglik_se=loglik_se,
        factor_model="bifactor" if bifactor is not None else ("exploratory" if exploratory else "confirmatory"),
    )
