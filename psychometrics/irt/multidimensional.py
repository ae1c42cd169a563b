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

Beyond three factors the grid is out of reach. A confirmatory model then integrates each
response pattern on points of its own around its posterior (:class:`_AdaptiveProblem`,
adaptive importance sampling, ``integration="adaptive"``, the default); ``integration="qmc"``
uses quasi-Monte Carlo points of the prior shared by all persons (the default of exploratory
models); docs/multidimensional.md compares them.

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
from psychometrics.estep import EStep, estep, log_likelihood_matrix, posterior
from psychometrics.estep_bifactor import bifactor_estep
from psychometrics.irt.document import _frame
from psychometrics.irt.em import _GroupData, _plain_em, _Problem, _squarem
from psychometrics.irt.layout import ALL_GROUPS, LATENT, ParameterLayout
from psychometrics.irt.mstep import MIN_LATENT_VARIANCE, _Block
from psychometrics.irt.prepare import (
    MIN_GROUP_SIZE,
    _check_priors_applied,
    _group_labels,
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
           "QMC_MIN_EFFECTIVE_POINTS", "ADAPTIVE_POINTS", "INTEGRATIONS",
           "qmc_normal_nodes", "shifted_normal_points"]

#: Quadrature points per dimension by number of dimensions integrated (mirt's defaults).
DEFAULT_QUADRATURE_POINTS = {1: 61, 2: 31, 3: 15}

#: Quadrature points per dimension of bifactor (2 dimensions integrated at a time) and two-tier
#: models with 2 general factors (3 dimensions); docs/multidimensional.md gives the accuracy check.
BIFACTOR_QUADRATURE_POINTS = {2: 21, 3: 15}

#: Most factors integrated by tensor-product quadrature (the grid has points**D nodes); more
#: factors are integrated on quasi-Monte Carlo points (docs/multidimensional.md).
MAX_QUADRATURE_FACTORS = 3

#: Quasi-Monte Carlo points of ``integration="qmc"`` (shared by all persons).
QMC_POINTS = 2000

#: Integration methods of correlated-factors models: tensor-product grid (default up to
#: MAX_QUADRATURE_FACTORS factors), quasi-Monte Carlo points shared by all persons (default of
#: exploratory models beyond), adaptive person-specific points (default of confirmatory models
#: beyond; docs/multidimensional.md).
INTEGRATIONS = ("grid", "qmc", "adaptive")

#: Seed of the scrambled Sobol sequence: a calibration is reproducible run to run.
QMC_SEED = 20261203

#: A quasi-Monte Carlo calibration whose persons' median effective number of posterior points
#: (:func:`_effective_points`) is below this is flagged with a ModelWarning: each person's
#: posterior moments, which feed the item and correlation M-steps, then rest on fewer than ~30
#: effectively distinct points (relative error of a posterior variance about sqrt(2 / ESS) > 25%),
#: and the correlations come out biased (docs/multidimensional.md gives the measurements).
QMC_MIN_EFFECTIVE_POINTS = 30.0

#: Persons per chunk of the effective-points diagnostic (bounds its memory to chunk x Q floats).
_ESS_CHUNK = 4096


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][min(int(np.searchsorted(cum, q * cum[-1])), len(values) - 1)])


def _effective_points(problem: "_MultidimensionalProblem") -> dict[str, float]:
    r"""Each person's effective number of integration points at the current estimates,
    :math:`\mathrm{ESS}_i = 1 / \sum_q w_{iq}^2` with :math:`w_{iq}` the normalized posterior
    weights of person i on the points (Kong, 1992), summarized over persons (response patterns
    weighted by their frequency): ``median``, ``p05`` (5th percentile) and ``points`` (Q)."""
    log_probs = problem.log_probabilities()
    log_prior = problem.log_prior(0)
    ess, weights = [], []
    for data in problem.groups:
        n = data.encoded.shape[0]
        w = np.ones(n) if data.weights is None else np.asarray(data.weights, dtype=np.float64)
        for start in range(0, n, _ESS_CHUNK):
            post, _ = posterior(data.encoded[start:start + _ESS_CHUNK], log_probs, log_prior)
            ess.append(1.0 / np.einsum("pq,pq->p", post, post))
        weights.append(w)
    values, freq = np.concatenate(ess), np.concatenate(weights)
    return {"median": _weighted_quantile(values, freq, 0.5), "p05": _weighted_quantile(values, freq, 0.05),
            "points": float(problem.nodes.shape[0])}


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

def _normal_gradient(nodes: np.ndarray, counts: np.ndarray, mean: np.ndarray, cov: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradient of :math:`f = \sum_q N_q \log w_q(\mu, \Sigma)` (normalized grid weights of
    :math:`N(\mu, \Sigma)`) in the mean and in the covariance entries.

    With :math:`P = \Sigma^{-1}`, :math:`c_q = \theta_q - \mu`, :math:`N = \sum_q N_q`:
    :math:`\partial f/\partial\mu = P(\sum_q N_q c_q - N\sum_q w_q c_q)` and
    :math:`\partial f/\partial\Sigma = \frac12 P(\sum_q N_q c_q c_q^\top - N \sum_q w_q c_q
    c_q^\top)P` (an off-diagonal covariance enters twice, symmetry).
    """
    n = float(counts.sum())
    centred = nodes - mean[None, :]
    w = np.exp(mvn_log_weights(nodes, cov, mean))
    precision = np.linalg.inv(cov)
    d_mean = precision @ (counts @ centred - n * (w @ centred))
    s2 = (centred * counts[:, None]).T @ centred
    m2 = (centred * w[:, None]).T @ centred
    d_cov = 0.5 * precision @ (s2 - n * m2) @ precision
    return d_mean, d_cov


class _Latent:
    """Factor means and covariances of every group, and which of them are estimated.

    The factors fall into *blocks* with a joint normal distribution each, independent of one
    another: the factors of a correlated-factors model form one block; a bifactor or two-tier
    model has the general factors as one block and every specific factor as its own. The
    reference group (0) has means 0 and variances 1, and the correlations within a correlated
    block estimated; a focal group has its means, variances and (correlated blocks) covariances
    estimated, unless ``shared``: then every group has the reference group's distribution.
    Slots: ``(group, kind, i, j)`` with kind ``"correlation"``, ``"mean"``, ``"variance"`` or
    ``"covariance"``.
    """

    def __init__(self, names: Sequence[str], blocks: Sequence[Sequence[int]], correlated: Sequence[bool],
                 n_groups: int, shared: bool) -> None:
        d = len(names)
        self.names = list(names)
        self.blocks = [np.asarray(b, dtype=np.int64) for b in blocks]
        self.correlated = list(correlated)
        self.n_groups = n_groups
        self.shared = shared or n_groups == 1
        self.means = np.zeros((n_groups, d))
        self.cov = np.repeat(np.eye(d)[None], n_groups, axis=0)
        slots: list[tuple[int, str, int, int]] = []
        for b, block in enumerate(self.blocks):
            if self.correlated[b]:
                slots += [(0, "correlation", int(i), int(j)) for a, i in enumerate(block) for j in block[a + 1:]]
        if not self.shared:
            for g in range(1, n_groups):
                for b, block in enumerate(self.blocks):
                    slots += [(g, "mean", int(i), int(i)) for i in block]
                    slots += [(g, "variance", int(i), int(i)) for i in block]
                    if self.correlated[b]:
                        slots += [(g, "covariance", int(i), int(j)) for a, i in enumerate(block) for j in block[a + 1:]]
        self.slots = slots

    def labels(self) -> list[tuple[int, str]]:
        """``(group, kind)`` of every slot as the standard errors and the layout read them."""
        out = []
        for g, kind, i, j in self.slots:
            what = self.names[i] if i == j else f"{self.names[i]}~{self.names[j]}"
            out.append((g, f"{kind} {what}"))
        return out

    def get(self, slot: tuple[int, str, int, int]) -> float:
        g, kind, i, j = slot
        return float(self.means[g, i] if kind == "mean" else self.cov[g, i, j])

    def set_values(self, values: np.ndarray) -> None:
        for (g, kind, i, j), v in zip(self.slots, values):
            if kind == "mean":
                self.means[g, i] = v
            else:
                self.cov[g, i, j] = self.cov[g, j, i] = v
        if self.shared:
            self.cov[1:] = self.cov[0]

    def valid(self, values: np.ndarray) -> bool:
        trial = self.cov.copy()
        for (g, kind, i, j), v in zip(self.slots, values):
            if kind != "mean":
                trial[g, i, j] = trial[g, j, i] = v
        for g in range(self.n_groups):
            for block in self.blocks:
                sub = trial[g][np.ix_(block, block)]
                if not _positive_definite(sub):
                    return False
        return True

    def block_distribution(self, g: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        block = self.blocks[b]
        return self.means[g, block], self.cov[g][np.ix_(block, block)]

    def _pooled(self, stats: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]]
                ) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        """Per group and block ``(nodes, posterior counts)``; with a shared distribution the
        reference group's entry holds the counts of all groups."""
        stats = [list(s) for s in stats]
        if self.shared and len(stats) > 1:
            stats[0] = [(nodes, sum(stats[g][b][1] for g in range(len(stats))))
                        for b, (nodes, _) in enumerate(stats[0])]
        return stats

    def mstep(self, stats: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]]) -> None:
        """Update from each group's and block's ``(nodes, posterior counts)``: the reference
        group's correlations by Newton steps on :math:`\\sum_q N_q \\log w_q`
        (:func:`_correlation_mstep`), a focal group's mean and covariance as the posterior
        moments (the maximum of the same objective on the grid up to its quadrature error)."""
        stats = self._pooled(stats)
        for b, block in enumerate(self.blocks):
            nodes, counts = stats[0][b]
            if self.correlated[b] and block.size > 1:
                local = [(a, c) for a in range(block.size) for c in range(a + 1, block.size)]
                corr = _correlation_mstep(nodes, counts, self.cov[0][np.ix_(block, block)], local)
                self.cov[0][np.ix_(block, block)] = corr
            if self.shared:
                continue
            for g in range(1, self.n_groups):
                nodes, counts = stats[g][b]
                n = float(counts.sum())
                mean = counts @ nodes / n
                centred = nodes - mean[None, :]
                cov = (centred * counts[:, None]).T @ centred / n
                if not self.correlated[b]:
                    cov = np.diag(np.diag(cov))
                cov[np.diag_indices_from(cov)] = np.maximum(np.diag(cov), MIN_LATENT_VARIANCE)
                if not _positive_definite(cov):
                    cov = np.diag(np.maximum(np.diag(cov), MIN_LATENT_VARIANCE))
                self.means[g, block] = mean
                self.cov[g][np.ix_(block, block)] = cov
        if self.shared:
            self.cov[1:] = self.cov[0]

    def gradient(self, stats: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]]) -> np.ndarray:
        """Gradient of :math:`\\sum_g\\sum_q N_{gq}\\log w_{gq}` in the slots (Fisher's identity)."""
        stats = self._pooled(stats)
        position = {}
        for b, block in enumerate(self.blocks):
            for a, i in enumerate(block):
                position[int(i)] = (b, a)
        cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        out = np.zeros(len(self.slots))
        for s, (g, kind, i, j) in enumerate(self.slots):
            b, a = position[i]
            _, c = position[j]
            if (g, b) not in cache:
                nodes, counts = stats[g][b]
                mean, cov = self.block_distribution(g, b)
                cache[(g, b)] = _normal_gradient(nodes, counts, mean, cov)
            d_mean, d_cov = cache[(g, b)]
            out[s] = d_mean[a] if kind == "mean" else (d_cov[a, a] if i == j else 2.0 * d_cov[a, c])
        return out


class _MultidimensionalProblem(_Problem):
    """The EM map with a multidimensional grid and the factors' distribution of every group.

    Packed vector: the item slots of the blocks, then the latent slots (:class:`_Latent`).
    Items are equal across groups; each group's persons are integrated against its own
    normal weights on the common grid and the expected counts add up.
    """

    def __init__(self, blocks: list[_Block], groups: list[_GroupData], nodes: np.ndarray,
                 n_categories: np.ndarray, latent: _Latent, newton_steps: int,
                 qmc_base: np.ndarray | None = None) -> None:
        n_groups = len(groups)
        super().__init__(blocks, groups, nodes, n_categories, np.zeros(n_groups), np.ones(n_groups),
                         np.zeros(n_groups, dtype=bool), np.zeros(n_groups, dtype=bool), newton_steps)
        self.latent = latent
        # labels read by the standard errors: (group, kind)
        self.latent_slots = latent.labels()
        self.size = self.n_item_slots + len(latent.slots)
        # quasi-Monte Carlo (one group): points z of N(0, I) mapped to the current prior, theta = L z
        self.qmc_base = qmc_base
        self.offset = None
        self.pairs = [(i, j) for _, _, i, j in latent.slots]

    @property
    def correlation(self) -> np.ndarray:
        return self.latent.cov[0]

    def pack(self) -> np.ndarray:
        x = np.empty(self.size)
        for b in self.blocks:
            b.pack(x)
        for s, slot in enumerate(self.latent.slots):
            x[self.n_item_slots + s] = self.latent.get(slot)
        return x

    def unpack(self, x: np.ndarray) -> None:
        for b in self.blocks:
            b.unpack(x)
        self.latent.set_values(x[self.n_item_slots:])

    def log_prior(self, g: int = 0) -> np.ndarray:
        if self.qmc_base is not None:
            self.nodes = self.qmc_base @ np.linalg.cholesky(self.correlation).T
            return np.full(self.nodes.shape[0], -np.log(self.nodes.shape[0]))
        if self.offset is not None:
            return _log_weights(self.nodes, self.correlation, self.offset)
        return mvn_log_weights(self.nodes, self.latent.cov[g], self.latent.means[g])

    def expectation(self) -> EStep:
        self.n_estep += 1
        priors = [self.log_prior(g) for g in range(len(self.groups))]   # first: moves QMC nodes to the prior
        log_probs = self.log_probabilities()
        parts = [estep(data.encoded, log_probs, priors[g], data.weights) for g, data in enumerate(self.groups)]
        self.group_nodes = [(e.node_counts, e.n_persons) for e in parts]
        if len(parts) == 1:
            return parts[0]
        return EStep(sum(e.counts for e in parts), float(sum(e.loglik for e in parts)),
                     sum(e.node_counts for e in parts), float(sum(e.n_persons for e in parts)))

    def _stats(self) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        return [[(self.nodes, node_counts)] for node_counts, _ in self.group_nodes]

    def maximization(self, e: EStep, step_tol: float) -> None:
        for b in self.blocks:
            b.mstep(self.nodes, e.counts[b.positions, :, :b.k], self.newton_steps, step_tol)
        if self.qmc_base is not None or self.offset is not None:
            if self.pairs:
                self.latent.cov[0] = _correlation_mstep(self.nodes, e.node_counts, self.correlation, self.pairs,
                                                        self.offset, continuous=self.qmc_base is not None)
            return
        self.latent.mstep(self._stats())

    def valid(self, x: np.ndarray) -> bool:
        if not np.all(np.isfinite(x)):
            return False
        return self.latent.valid(x[self.n_item_slots:])

    def score(self, x: np.ndarray) -> np.ndarray:
        self.unpack(x)
        e = self.expectation()
        out = np.zeros(self.size)
        for b in self.blocks:
            b.score(self.nodes, e.counts[b.positions, :, :b.k], out)
        if not self.latent.slots:
            return out
        if self.qmc_base is not None or self.offset is not None:
            out[self.n_item_slots:] = _correlation_objective(self.nodes, e.node_counts, self.correlation,
                                                             self.pairs, self.offset,
                                                             self.qmc_base is not None)[1]
        else:
            out[self.n_item_slots:] = self.latent.gradient(self._stats())
        return out


class _BifactorProblem(_Problem):
    """Bifactor and two-tier EM by dimension reduction: every item is a (G+1)-dimensional item
    on (the general factors, its specific factor) and is integrated on the (G+1)-dimensional
    grid; persons' likelihoods combine the specific factors conditionally on the general ones
    (module docstring; :mod:`psychometrics.estep_bifactor`).

    ``item_group[c]`` is the specific factor (0-based) of estimation column c, -1 for items on
    general factors only (their specific slope is fixed at 0). Factors are numbered generals
    first (``n_general``), then the specific factors.
    """

    def __init__(self, blocks: list[_Block], groups: list[_GroupData], nodes_1d: np.ndarray,
                 n_categories: np.ndarray, item_group: np.ndarray, n_general: int, latent: _Latent,
                 newton_steps: int) -> None:
        nodes_1d = np.asarray(nodes_1d, dtype=np.float64)
        grid = product_nodes(nodes_1d, n_general + 1)
        n_groups = len(groups)
        super().__init__(blocks, groups, grid, n_categories, np.zeros(n_groups), np.ones(n_groups),
                         np.zeros(n_groups, dtype=bool), np.zeros(n_groups, dtype=bool), newton_steps)
        self.nodes_1d = nodes_1d
        self.general_nodes = product_nodes(nodes_1d, n_general)
        self.n_general = n_general
        self.latent = latent
        self.latent_slots = latent.labels()
        self.size = self.n_item_slots + len(latent.slots)
        # specific sets numbered 0..S-1 (items on general factors only are one more set)
        codes, self.item_set = np.unique(np.asarray(item_group, dtype=np.int64), return_inverse=True)
        self.set_factor = [int(c) for c in codes]          # specific factor of each set, -1 for none
        self.standard = mvn_log_weights(nodes_1d[:, None], np.eye(1))
        self.set_nodes: list[np.ndarray] = []

    pack = _MultidimensionalProblem.pack
    unpack = _MultidimensionalProblem.unpack
    valid = _MultidimensionalProblem.valid

    @property
    def correlation(self) -> np.ndarray:
        return self.latent.cov[0]

    def _weights(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        mean, cov = self.latent.block_distribution(g, 0)
        log_wg = mvn_log_weights(self.general_nodes, cov, mean)
        log_ws = np.empty((len(self.set_factor), self.nodes_1d.shape[0]))
        for s, f in enumerate(self.set_factor):
            if f < 0:
                log_ws[s] = self.standard
            else:
                m, v = self.latent.block_distribution(g, 1 + f)
                log_ws[s] = mvn_log_weights(self.nodes_1d[:, None], v, m)
        return log_wg, log_ws

    def expectation(self) -> EStep:
        self.n_estep += 1
        log_probs = self.log_probabilities()
        parts = []
        for g, data in enumerate(self.groups):
            log_wg, log_ws = self._weights(g)
            parts.append(bifactor_estep(data.encoded, log_probs, self.item_set, log_wg, log_ws, weights=data.weights))
        self.group_nodes = [(e.node_counts, e.n_persons) for e in parts]
        self.set_nodes = [e.set_node_counts for e in parts]
        return EStep(sum(e.counts for e in parts) if len(parts) > 1 else parts[0].counts,
                     float(sum(e.loglik for e in parts)), sum(e.node_counts for e in parts),
                     float(sum(e.n_persons for e in parts)))

    def _stats(self) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        out = []
        spec_nodes = self.nodes_1d[:, None]
        for set_nodes in self.set_nodes:
            row = [(self.general_nodes, set_nodes[0].sum(axis=1))]
            by_factor = {f: s for s, f in enumerate(self.set_factor)}
            for f in range(len(self.latent.blocks) - 1):
                row.append((spec_nodes, set_nodes[by_factor[f]].sum(axis=0)))
            out.append(row)
        return out

    def maximization(self, e: EStep, step_tol: float) -> None:
        for b in self.blocks:
            b.mstep(self.nodes, e.counts[b.positions, :, :b.k], self.newton_steps, step_tol)
        if self.latent.slots:
            self.latent.mstep(self._stats())

    def score(self, x: np.ndarray) -> np.ndarray:
        self.unpack(x)
        e = self.expectation()
        out = np.zeros(self.size)
        for b in self.blocks:
            b.score(self.nodes, e.counts[b.positions, :, :b.k], out)
        if self.latent.slots:
            out[self.n_item_slots:] = self.latent.gradient(self._stats())
        return out


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

#: Points per person of the adaptive importance-sampling log-likelihood, per replication.
LOGLIK_POINTS_PER_PERSON = 128

#: Independently scrambled replications of the adaptive log-likelihood estimate (its standard error).
LOGLIK_REPLICATIONS = 4

#: Independently scrambled prior point sets of the log-likelihood where the posteriors are well
#: covered: pooling 16 sets of Q points shrinks the downward bias of the log of an average to
#: below its standard error on the 5-factor benchmark case (4 sets: 6 units low, 1.4 se; 16 sets:
#: 0.6 low, 0.3 se; docs/multidimensional.md). Each set costs one E-step.
LOGLIK_FRESH_SETS = 16

#: Proposal covariance = this x the person's posterior covariance (wider than the posterior
#: bounds the importance weights).
_PROPOSAL_INFLATION = 1.5

#: (person, point) pairs per chunk of the adaptive log-likelihood (memory ~ items x this x K floats).
_PAIRS_CHUNK = 1 << 15


def _pattern_loglik_at(problem: _MultidimensionalProblem, encoded: np.ndarray, theta: np.ndarray,
                       blocks: Sequence[_Block] | None = None) -> np.ndarray:
    """Log-likelihood of each response pattern at its own points: encoded (P, items), theta
    (P, M, D) -> (P, M); missing responses add 0. ``blocks``: only these items (default all)."""
    n_p, n_m, dims = theta.shape
    flat = theta.reshape(n_p * n_m, dims)
    out = np.zeros((n_p, n_m))
    for b in problem.blocks if blocks is None else blocks:
        lp = b.model.log_probabilities(b.params, flat).reshape(len(b.positions), n_p, n_m, b.k)
        codes = encoded[:, b.positions].T.astype(np.int64)
        observed = codes >= 0
        picked = np.take_along_axis(lp, np.where(observed, codes, 0)[:, :, None, None], axis=3)[..., 0]
        out += np.where(observed[:, :, None], picked, 0.0).sum(axis=0)
    return out


def _normalized(log_w: np.ndarray) -> np.ndarray:
    w = np.exp(log_w - log_w.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


def _moments(w: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means (P, D) and covariances (P, D, D) of weights w (P, M) on points theta (P, M, D)."""
    mean = np.einsum("pm,pmd->pd", w, theta)
    dev = theta - mean[:, None, :]
    return mean, np.einsum("pmd,pme->pde", dev * w[:, :, None], dev, optimize=True)


def _importance_pass(problem: _MultidimensionalProblem, encoded: np.ndarray, mean: np.ndarray, cov: np.ndarray,
                     z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One importance-sampling pass with proposals N(mean_i, inflation x cov_i): each person's
    marginal log-likelihood estimate log(mean_m prior x likelihood / proposal) and the posterior
    moments of its weights (the next pass's proposal)."""
    dims = z.shape[1]
    chol_prior = np.linalg.cholesky(problem.correlation)
    chol = np.linalg.cholesky(_PROPOSAL_INFLATION * cov + 1e-6 * np.eye(dims))
    theta = mean[:, None, :] + np.einsum("pde,me->pmd", chol, z, optimize=True)
    u = np.linalg.solve(chol_prior, theta.reshape(-1, dims).T).T.reshape(theta.shape)
    # log prior - log proposal; the normal constants cancel
    log_ratio = (-0.5 * np.einsum("pmd,pmd->pm", u, u) - np.log(np.diag(chol_prior)).sum()
                 + 0.5 * np.einsum("md,md->m", z, z)[None, :]
                 + np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)[:, None])
    log_w = _pattern_loglik_at(problem, encoded, theta) + log_ratio
    top = log_w.max(axis=1)
    loglik = top + np.log(np.exp(log_w - top[:, None]).mean(axis=1))
    new_mean, new_cov = _moments(_normalized(log_w), theta)
    return loglik, new_mean, new_cov


def _adaptive_loglik(problem: _MultidimensionalProblem, n_factors: int, points: int = LOGLIK_POINTS_PER_PERSON,
                     replications: int = LOGLIK_REPLICATIONS, seed: int = QMC_SEED + 1000) -> tuple[float, float]:
    r"""Marginal log-likelihood at the estimates by adaptive importance sampling, and its standard error.

    Each response pattern i gets its own points :math:`\theta_{im} = \mu_i + C_i z_m`, with
    :math:`z_m` scrambled Sobol points of N(0, I), :math:`\mu_i` its posterior mean and
    :math:`C_i C_i^\top = 1.5\,\Sigma_i` its inflated posterior covariance (Schilling & Bock,
    2005, with quasi-Monte Carlo points instead of a product grid), and

    .. math:: \hat L_i = \frac1M \sum_m \frac{\phi(\theta_{im}; \Phi)\, P(x_i \mid \theta_{im})}
              {\phi(\theta_{im}; \mu_i, 1.5\,\Sigma_i)}.

    The moments start from the estimation's final E-step and are refined by one pass on their
    own points; then ``replications`` independently scrambled point sets give
    :math:`\sum_i n_i \log \hat L_i` each: the mean is returned, with standard error their
    standard deviation / sqrt(replications).
    """
    dims = int(n_factors)
    log_probs = problem.log_probabilities()
    log_prior = problem.log_prior(0)
    chunk = max(1, _PAIRS_CHUNK // int(points))
    base = [qmc_normal_nodes(int(points), dims, seed=seed + r) for r in range(1 + int(replications))]
    totals = np.zeros(int(replications))
    for data in problem.groups:
        n = data.encoded.shape[0]
        freq = np.ones(n) if data.weights is None else np.asarray(data.weights, dtype=np.float64)
        for first in range(0, n, chunk):
            enc = data.encoded[first:first + chunk]
            post, _ = posterior(enc, log_probs, log_prior)
            mean, cov = _moments(post, np.broadcast_to(problem.nodes, (len(enc),) + problem.nodes.shape))
            # a posterior seen on a few prior points has a degenerate covariance: widen it first
            cov = cov + 0.1 * np.eye(dims)
            _, mean, cov = _importance_pass(problem, enc, mean, cov, base[0])
            for r, z in enumerate(base[1:]):
                totals[r] += float(freq[first:first + chunk] @ _importance_pass(problem, enc, mean, cov, z)[0])
    return float(totals.mean()), float(totals.std(ddof=1) / np.sqrt(len(totals)))


def _fresh_points_loglik(problem: _MultidimensionalProblem, n_points: int, n_factors: int,
                         replications: int = LOGLIK_FRESH_SETS, seed: int = QMC_SEED + 1) -> tuple[float, float]:
    r"""Marginal log-likelihood at the estimates on ``replications`` independently scrambled sets of
    ``n_points`` prior points (none of them the estimation's), and its standard error.

    Per person, the sets are pooled (:math:`\log` of the mean likelihood over all R x Q points)
    and the second-order bias of the log of a mean is added back,
    :math:`\tfrac12(1/\mathrm{ESS}_i - 1/(RQ))` with :math:`\mathrm{ESS}_i` the person's effective
    points over the pooled set. The standard error is the standard deviation of the R one-set
    totals (each corrected the same way) / sqrt(R).
    """
    base_now = problem.qmc_base
    per_set = []
    freq_all = []
    try:
        for r in range(int(replications)):
            problem.qmc_base = qmc_normal_nodes(int(n_points), int(n_factors), seed=seed + r)
            log_prior = problem.log_prior(0)
            log_probs = problem.log_probabilities()
            lls = []
            for data in problem.groups:
                for start in range(0, data.encoded.shape[0], _ESS_CHUNK):
                    lls.append(posterior(data.encoded[start:start + _ESS_CHUNK], log_probs, log_prior)[1])
                if r == 0:
                    freq_all.append(np.ones(data.encoded.shape[0]) if data.weights is None
                                    else np.asarray(data.weights, dtype=np.float64))
            per_set.append(np.concatenate(lls))
    finally:
        problem.qmc_base = base_now
        problem.log_prior(0)
    ll = np.array(per_set)                     # (R, persons)
    freq = np.concatenate(freq_all)
    one_set = freq @ ll.T
    top = ll.max(axis=0)
    pooled = top + np.log(np.exp(ll - top).mean(axis=0))
    return float(freq @ pooled), float(one_set.std(ddof=1) / np.sqrt(len(ll)))


def _qmc_loglik(problem: _MultidimensionalProblem, n_points: int, n_factors: int,
                effective: Mapping[str, float]) -> tuple[float, float]:
    """The reported quasi-Monte Carlo log-likelihood and its standard error: on fresh prior point
    sets where the posteriors are well covered (:func:`_fresh_points_loglik`), by adaptive
    importance sampling where they are not (median effective points below
    QMC_MIN_EFFECTIVE_POINTS, :func:`_adaptive_loglik`); docs/multidimensional.md."""
    if effective["median"] < QMC_MIN_EFFECTIVE_POINTS:
        return _adaptive_loglik(problem, n_factors)
    return _fresh_points_loglik(problem, n_points, n_factors)


# --------------------------------------------------------------------------------------------
# adaptive (person-specific) E-step beyond three factors
# --------------------------------------------------------------------------------------------

#: Points per person of the adaptive E-step (:func:`shifted_normal_points`).
ADAPTIVE_POINTS = 128

#: Proposal covariance of the adaptive E-step = this x the person's posterior covariance: a
#: proposal a little wider than the posterior bounds the importance weights (with D = 7 the
#: weights' relative variance is (1.5^2 / 2)^{3.5} - 1 = 0.5 for a normal posterior).
_ADAPTIVE_INFLATION = 1.5

#: Each factor's likelihood is tabulated on [-6, 6] at this step and interpolated linearly at the
#: persons' points (error below 1e-4 x the curvature of the log-likelihood).
_TABLE_STEP = 0.025

#: The points' posterior masses are binned (linear splitting) on [-6, 6] at this step for the item
#: M-step: the splitting adds at most step^2 / 4 = 6e-4 to a point's variance along the factor.
_BIN_STEP = 0.05

_GRID_HALF_WIDTH = 6.0

#: The adaptive E-step's proposals stop following the posteriors once no parameter moves by this
#: much in an EM iteration (:meth:`_AdaptiveProblem.em_map`).
_ADAPT_UNTIL = 1e-2

#: Fresh point sets per pattern of the adaptive calibration's reported log-likelihood.
ADAPTIVE_LOGLIK_SETS = 8

#: Response patterns per chunk of the adaptive E-step (memory ~ chunk x points x D floats).
_ADAPTIVE_CHUNK = 1024


def _sobol_uniform(n_points: int, n_factors: int, seed: int = QMC_SEED) -> np.ndarray:
    """Scrambled Sobol points of the unit cube, (n_points, D), fixed seed."""
    from scipy.stats import qmc

    with warnings.catch_warnings():
        # a point count that is not a power of two only loses Sobol's balance property
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(d=int(n_factors), scramble=True, seed=seed).random(int(n_points))


def shifted_normal_points(uniform: np.ndarray, shift: np.ndarray) -> np.ndarray:
    r"""Each pattern's own points of :math:`N(\mathbf 0, \mathbf I_D)`, (P, M, D): the uniform
    points (M, D) shifted modulo 1 by the pattern's shift (P, D) (Cranley-Patterson rotation of
    a scrambled Sobol set), through the normal quantile.

    Every pattern's set is a randomized quasi-Monte Carlo set, unbiased for its own integrals and
    independent of the other patterns' sets. One set shared by all persons is not: its error
    is common to all of them and adds up; on a 2-factor case (1,000 persons, 64 points) one shared
    antithetic set put the importance-sampling log-likelihood 15 units above a 241^2-node grid,
    shifted sets 0.2."""
    from scipy.special import ndtri

    u = uniform[None, :, :] + shift[:, None, :]
    u -= np.floor(u)
    return ndtri(np.clip(u, 1e-12, 1.0 - 1e-12))


def _interpolate(table: np.ndarray, x: np.ndarray, start: float, step: float) -> np.ndarray:
    """Rows of ``table`` (P, G) on the grid start + step * g, read at x (P, M) by quadratic
    interpolation through the nearest node and its neighbours (error O(step^3))."""
    g = table.shape[1]
    position = np.clip((x - start) / step, 0.0, g - 1.0)
    centre = np.clip(np.rint(position).astype(np.int64), 1, g - 2)
    t = position - centre
    mid = np.take_along_axis(table, centre, axis=1)
    lo = np.take_along_axis(table, centre - 1, axis=1)
    hi = np.take_along_axis(table, centre + 1, axis=1)
    return mid + 0.5 * t * (hi - lo) + 0.5 * t * t * (hi - 2.0 * mid + lo)


def _bin_masses(x: np.ndarray, w: np.ndarray, start: float, step: float, n_bins: int) -> np.ndarray:
    """Masses w (P, M) at x (P, M) split linearly onto the grid start + step * g: (P, G); each
    point's mass and its mean along the axis are kept."""
    n = x.shape[0]
    position = np.clip((x - start) / step, 0.0, n_bins - 1.000001)
    left = position.astype(np.int64)
    frac = position - left
    index = (np.arange(n)[:, None] * n_bins + left).ravel()
    out = np.bincount(index, (w * (1.0 - frac)).ravel(), n * n_bins)
    out += np.bincount(index + 1, (w * frac).ravel(), n * n_bins)
    return out.reshape(n, n_bins)


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    """(P, items) category codes (-1 missing) -> (P, items * k) indicators."""
    n, m = codes.shape
    out = np.zeros((n, m, k))
    rows, cols = np.nonzero(codes >= 0)
    out[rows, cols, codes[rows, cols]] = 1.0
    return out.reshape(n, m * k)


def _moment_nodes(second: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and masses whose total is ``n`` and whose second moments
    :math:`\sum_q N_q\boldsymbol\theta_q\boldsymbol\theta_q^\top` are ``second``: the
    eigenvectors of ``second`` weighted by its eigenvalues, plus a node at 0 with the rest of
    the mass. The correlation M-step of the adaptive E-step reads only these two sums."""
    values, vectors = np.linalg.eigh(0.5 * (second + second.T))
    nodes = np.vstack([vectors.T, np.zeros((1, second.shape[0]))])
    return nodes, np.concatenate([values, [n - values.sum()]])


class _AdaptiveProblem(_MultidimensionalProblem):
    r"""Confirmatory correlated-factors EM with a person-specific (adaptive) E-step.

    Response pattern n gets its own points :math:`\boldsymbol\theta_{nm} = \boldsymbol\mu_n +
    \mathbf C_n\mathbf z_{nm}`: :math:`\mathbf z_{nm}` the pattern's randomized quasi-Monte
    Carlo points of N(0, I) (:func:`shifted_normal_points`, fixed across iterations),
    :math:`\mathbf C_n\mathbf C_n^\top = 1.5\,\boldsymbol\Sigma_n` with
    :math:`\boldsymbol\mu_n, \boldsymbol\Sigma_n` the pattern's posterior mean and covariance
    at the previous E-step. The weights are

    .. math:: w_{nm} \propto P(\mathbf x_n\mid\boldsymbol\theta_{nm})\,
              \phi(\boldsymbol\theta_{nm}; \mathbf 0, \boldsymbol\Phi) / q_n(\boldsymbol\theta_{nm}),

    normalized per pattern, and :math:`\log\frac1M\sum_m` of the unnormalized ones estimates the
    pattern's marginal log-likelihood (adaptive importance sampling; Schilling & Bock, 2005, with
    quasi-Monte Carlo points instead of a product grid).

    The likelihood of the items loading on one factor factorizes over factors: each factor's
    part is tabulated per pattern on a fine grid by the compiled kernel and interpolated at the
    points; items loading on several factors are evaluated at the points themselves.

    M-step: an item on factor f depends on :math:`\theta_f` only, so the points' masses are
    binned along f (:data:`_BIN_STEP`) and all such items share G nodes
    :math:`(g, g, \dots, g)` (their other slopes are fixed at 0, so only their own coordinate
    enters :math:`\mathbf a^\top\boldsymbol\theta`): the batched Newton M-step runs on G nodes.
    An item on several factors gets every (pattern, point) as a pseudo-observation. The
    correlations maximize :math:`-\frac12\mathrm{tr}(\boldsymbol\Phi^{-1}\mathbf S) -
    \frac N2\log|\boldsymbol\Phi|`, :math:`\mathbf S = \sum_n f_n\sum_m
    w_{nm}\boldsymbol\theta_{nm}\boldsymbol\theta_{nm}^\top`.
    """

    def __init__(self, blocks: list[_Block], groups: list[_GroupData], n_categories: np.ndarray, latent: _Latent,
                 newton_steps: int, pattern: np.ndarray, n_points: int, seed: int = QMC_SEED) -> None:
        dims = pattern.shape[1]
        self.dims = dims
        self.table_grid = np.arange(-_GRID_HALF_WIDTH, _GRID_HALF_WIDTH + _TABLE_STEP / 2, _TABLE_STEP)
        self.bin_grid = np.arange(-_GRID_HALF_WIDTH, _GRID_HALF_WIDTH + _BIN_STEP / 2, _BIN_STEP)
        line = np.repeat(self.bin_grid[:, None], dims, axis=1)
        super().__init__(blocks, groups, line, n_categories, latent, newton_steps)
        self.table_nodes = np.repeat(self.table_grid[:, None], dims, axis=1)
        self.uniform = _sobol_uniform(int(n_points), dims, seed)
        single = pattern.sum(axis=1) == 1
        self.factor_columns = [np.flatnonzero(single & pattern[:, f]) for f in range(dims)]
        self.multi_columns = np.flatnonzero(~single)
        self.single_block = []
        for b in blocks:
            kinds = set(single[b.positions].tolist())
            if len(kinds) != 1:
                raise ValueError("internal: an adaptive block mixes items on one and on several factors")
            self.single_block.append(kinds.pop())
        n = groups[0].encoded.shape[0]
        self.seed = seed
        self.shift = np.random.default_rng(seed).random((n, dims))
        self.mean: np.ndarray | None = None
        self.cov: np.ndarray | None = None
        self.ess = np.zeros(n)
        self.adapt = True
        self.n_adapted = 0
        self.second = np.eye(dims)
        self.total = 1.0
        self.multi_nodes = np.zeros((0, dims))
        self.multi_counts = np.zeros((0, 0, self.max_k))

    def _line_log_probs(self) -> np.ndarray:
        out = np.full((self.n_columns, self.table_nodes.shape[0], self.max_k), -np.inf)
        for b, single in zip(self.blocks, self.single_block):
            if single:
                out[b.positions, :, :b.k] = b.model.log_probabilities(b.params, self.table_nodes)
        return out

    def _factor_tables(self, codes: np.ndarray, log_probs: np.ndarray) -> list[np.ndarray | None]:
        """Per factor, the log-likelihood of its one-factor items on the table grid, (P, G)."""
        return [log_likelihood_matrix(codes[:, cols], log_probs[cols]) if cols.size else None
                for cols in self.factor_columns]

    def _start(self, log_probs: np.ndarray) -> None:
        """Starting proposals: each factor's posterior mean and variance from its own items
        alone (standard normal prior), no correlation."""
        data = self.groups[0]
        n = data.encoded.shape[0]
        self.mean = np.zeros((n, self.dims))
        self.cov = np.repeat(np.eye(self.dims)[None], n, axis=0)
        prior = -0.5 * self.table_grid ** 2
        for start in range(0, n, _ADAPTIVE_CHUNK):
            rows = slice(start, start + _ADAPTIVE_CHUNK)
            for f, table in enumerate(self._factor_tables(data.encoded[rows], log_probs)):
                if table is None:
                    continue
                post = _normalized(table + prior[None, :])
                m = post @ self.table_grid
                self.mean[rows, f] = m
                self.cov[rows, f, f] = np.maximum(post @ self.table_grid ** 2 - m * m, 0.01)

    def _weighted_points(self, shift: np.ndarray):
        """Per chunk of patterns: (rows, codes, points (P, M, D), log weights (P, M)), the log
        weights log L + log prior - log proposal."""
        data = self.groups[0]
        enc = data.encoded
        log_probs = self._line_log_probs()
        if self.mean is None:
            self._start(log_probs)
        dims, m_points = self.dims, self.uniform.shape[0]
        chol_prior = np.linalg.cholesky(self.correlation)
        half_log_det = float(np.log(np.diag(chol_prior)).sum())
        eye = np.eye(dims)
        multi_blocks = [b for b, single in zip(self.blocks, self.single_block) if not single]
        for start in range(0, enc.shape[0], _ADAPTIVE_CHUNK):
            rows = slice(start, start + _ADAPTIVE_CHUNK)
            codes = enc[rows]
            chol = np.linalg.cholesky(_ADAPTIVE_INFLATION * self.cov[rows] + 1e-8 * eye)
            z = shifted_normal_points(self.uniform, shift[rows])
            theta = self.mean[rows, None, :] + np.matmul(z, chol.transpose(0, 2, 1))
            p = theta.shape[0]
            u = np.linalg.solve(chol_prior, theta.reshape(-1, dims).T)
            # log prior - log proposal (the normal constants cancel)
            log_w = (-0.5 * np.einsum("dq,dq->q", u, u).reshape(p, m_points) - half_log_det
                     + 0.5 * np.einsum("pmd,pmd->pm", z, z)
                     + np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)[:, None])
            for f, table in enumerate(self._factor_tables(codes, log_probs)):
                if table is not None:
                    log_w += _interpolate(table, theta[:, :, f], self.table_grid[0], _TABLE_STEP)
            if multi_blocks:
                log_w += _pattern_loglik_at(self, codes, theta, multi_blocks)
            yield rows, codes, theta, log_w

    def _frequencies(self) -> np.ndarray:
        data = self.groups[0]
        return (np.ones(data.encoded.shape[0]) if data.weights is None
                else np.asarray(data.weights, dtype=np.float64))

    def expectation(self) -> EStep:
        self.n_estep += 1
        freq = self._frequencies()
        dims, m_points = self.dims, self.uniform.shape[0]
        n_bins = self.bin_grid.shape[0]
        counts = np.zeros((self.n_columns, n_bins, self.max_k))
        second = np.zeros((dims, dims))
        loglik = 0.0
        new_mean, new_cov = None, None
        multi_nodes, multi_counts = [], []
        for rows, codes, theta, log_w in self._weighted_points(self.shift):
            if new_mean is None:
                new_mean, new_cov = np.empty_like(self.mean), np.empty_like(self.cov)
            p = theta.shape[0]
            top = log_w.max(axis=1)
            w = np.exp(log_w - top[:, None])
            mass = w.sum(axis=1)
            w /= mass[:, None]
            f_rows = freq[rows]
            loglik += float(f_rows @ (top + np.log(mass / m_points)))
            mean, cov = _moments(w, theta)
            new_mean[rows], new_cov[rows] = mean, cov
            self.ess[rows] = 1.0 / np.einsum("pm,pm->p", w, w)
            second += np.einsum("p,pde->de", f_rows, cov + mean[:, :, None] * mean[:, None, :])
            mass_w = w * f_rows[:, None]
            for f, cols in enumerate(self.factor_columns):
                if not cols.size:
                    continue
                binned = _bin_masses(theta[:, :, f], mass_w, self.bin_grid[0], _BIN_STEP, n_bins)
                part = (_one_hot(codes[:, cols], self.max_k).T @ binned).reshape(cols.size, self.max_k, n_bins)
                counts[cols] += part.transpose(0, 2, 1)
            if self.multi_columns.size:
                hot = _one_hot(codes[:, self.multi_columns], self.max_k).reshape(p, 1, -1, self.max_k)
                multi_nodes.append(theta.reshape(-1, dims))
                multi_counts.append((hot * mass_w[:, :, None, None]).reshape(p * m_points, -1, self.max_k))
        if self.adapt:
            # a posterior seen through few effective points can have a near-singular covariance
            self.mean, self.cov = new_mean, new_cov + 1e-4 * np.eye(dims)
        self.second, self.total = second, float(freq.sum())
        if self.multi_columns.size:
            self.multi_nodes = np.concatenate(multi_nodes)
            self.multi_counts = np.concatenate(multi_counts).transpose(1, 0, 2)
        self.group_nodes = [(np.zeros(0), self.total)]
        return EStep(counts, loglik, np.zeros(0), self.total)

    def em_map(self, x: np.ndarray, step_tol: float) -> tuple[np.ndarray, float]:
        # New proposals move the points, and with them the EM map: the proposals follow the
        # posteriors until no parameter moves by _ADAPT_UNTIL in one iteration, then stay, so that
        # the map is a fixed function and EM converges to tol (Schilling & Bock, 2005, likewise
        # stop adapting once the estimates settle).
        new, loglik = super().em_map(x, step_tol)
        self.n_adapted += int(self.adapt)
        if self.adapt and self.n_adapted >= 3 and np.max(np.abs(new - x)) < _ADAPT_UNTIL:
            self.adapt = False
        return new, loglik

    def _block_data(self, b: _Block, single: bool, e: EStep) -> tuple[np.ndarray, np.ndarray]:
        if single:
            return self.nodes, e.counts[b.positions, :, :b.k]
        rows = np.searchsorted(self.multi_columns, b.positions)
        return self.multi_nodes, self.multi_counts[rows, :, :b.k]

    def maximization(self, e: EStep, step_tol: float) -> None:
        for b, single in zip(self.blocks, self.single_block):
            nodes, counts = self._block_data(b, single, e)
            b.mstep(nodes, counts, self.newton_steps, step_tol)
        if self.pairs:
            nodes, masses = _moment_nodes(self.second, self.total)
            self.latent.cov[0] = _correlation_mstep(nodes, masses, self.correlation, self.pairs, continuous=True)

    def score(self, x: np.ndarray) -> np.ndarray:
        # the proposals stay where the estimation left them: the score is then the exact
        # gradient of the importance-sampling log-likelihood (smooth in x, as the Oakes
        # differences need)
        self.unpack(x)
        adapt, self.adapt = self.adapt, False
        try:
            e = self.expectation()
        finally:
            self.adapt = adapt
        out = np.zeros(self.size)
        for b, single in zip(self.blocks, self.single_block):
            nodes, counts = self._block_data(b, single, e)
            b.score(nodes, counts, out)
        if self.latent.slots:
            nodes, masses = _moment_nodes(self.second, self.total)
            out[self.n_item_slots:] = _correlation_objective(nodes, masses, self.correlation, self.pairs, None,
                                                             True)[1]
        return out

    def loglik(self, replications: int = ADAPTIVE_LOGLIK_SETS) -> tuple[float, float]:
        r"""Marginal log-likelihood at the current estimates and its standard error, on
        ``replications`` fresh point sets per pattern (new shifts; the proposals of the last
        E-step): per pattern the sets are pooled (log of the mean weight over all of them), the
        standard error is the standard deviation of the one-set totals / sqrt(replications)."""
        freq = self._frequencies()
        rng = np.random.default_rng(self.seed + 1)
        per_set = []
        for _ in range(int(replications)):
            shift = rng.random(self.shift.shape)
            ll = np.empty(freq.shape[0])
            for rows, _, _, log_w in self._weighted_points(shift):
                top = log_w.max(axis=1)
                ll[rows] = top + np.log(np.exp(log_w - top[:, None]).mean(axis=1))
            per_set.append(ll)
        sets = np.array(per_set)
        top = sets.max(axis=0)
        pooled = top + np.log(np.exp(sets - top).mean(axis=0))
        one_set = sets @ freq
        return float(freq @ pooled), float(one_set.std(ddof=1) / np.sqrt(len(sets)))

    def effective(self) -> dict[str, float]:
        """Summary of the patterns' effective points at the last E-step (as :func:`_effective_points`)."""
        freq = self._frequencies()
        return {"median": _weighted_quantile(self.ess, freq, 0.5), "p05": _weighted_quantile(self.ess, freq, 0.05),
                "points": float(self.uniform.shape[0])}


def _layout(blocks: Sequence[_Block], item_ids: Sequence[str], problem: _Problem,
            labels: Sequence[Any] = (None,)) -> ParameterLayout:
    """The parameter layout under the reported names (``a1..aD`` of the factors, not the
    items' local slopes): free item parameters by slot, then the latent parameters (by group
    in a multi-group calibration)."""
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
    slots = [tuple(e) for e in entries] + [((LATENT, kind, ALL_GROUPS if len(labels) == 1 else labels[g]),)
                                           for g, kind in problem.latent_slots]
    return ParameterLayout(tuple(slots), tuple(fixed))


def _two_tier_pattern(bifactor: Mapping[str, Sequence[str]], general: Mapping[str, Sequence[str]],
                      item_ids: Sequence[str]) -> tuple[list[str], np.ndarray, int]:
    """Names (general factors first) and the loading pattern of a two-tier model."""
    if not isinstance(general, Mapping) or not general:
        raise ValueError("general must be the general factor's name or a non-empty mapping general factor "
                         "name -> list of items (a two-tier model)")
    gnames, gpattern = _confirmatory_pattern_partial(general, item_ids, "general factor")
    snames, spattern = _bifactor_pattern(bifactor, item_ids, gnames[0])
    snames = snames[1:]
    clash = sorted(set(gnames) & set(snames))
    if clash:
        raise ValueError(f"factor name(s) {clash} are both general and specific factors")
    pattern = np.column_stack([gpattern, spattern[:, 1:]])
    orphans = [item_ids[j] for j in np.flatnonzero(~pattern.any(axis=1))]
    if orphans:
        raise ValueError(f"item(s) {orphans} load on no factor; list them under a general or specific factor "
                         "or drop them from the responses")
    return gnames + snames, pattern, len(gnames)


def _confirmatory_pattern_partial(factors: Mapping[str, Sequence[str]], item_ids: Sequence[str], what: str
                                  ) -> tuple[list[str], np.ndarray]:
    names = [str(f) for f in factors]
    position = {item: j for j, item in enumerate(item_ids)}
    pattern = np.zeros((len(item_ids), len(names)), dtype=bool)
    for m, (name, items) in enumerate(factors.items()):
        if isinstance(items, str):
            raise ValueError(f"{what} {name!r}: give a list of items, not the string {items!r}")
        items = [str(i) for i in items]
        if len(items) < 2:
            raise ValueError(f"{what} {name!r} lists {len(items)} item(s); it needs at least 2")
        unknown = [i for i in items if i not in position]
        if unknown:
            raise ValueError(f"{what} {name!r} lists item(s) {unknown} that are not in the data")
        pattern[[position[i] for i in items], m] = True
    return names, pattern


def _varimax_tight(loadings: np.ndarray, tol: float) -> np.ndarray:
    """Kaiser-normalized varimax rotation matrix (factor-analyzer's Rotator, as
    :func:`psychometrics.factor.efa.rotate`) iterated to ``tol``: a loosely converged rotation
    would make the numerical Jacobian of the standard errors noise."""
    from factor_analyzer.rotator import Rotator

    rotator = Rotator(method="varimax", normalize=True, max_iter=100_000, tol=tol)
    rotator.fit_transform(loadings)
    return np.asarray(rotator.rotation_)


def _rotate_tight(loadings: np.ndarray, rotation: str, tol: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """The factor correlations and the matrix M with rotated loadings ``loadings @ M`` of
    :func:`psychometrics.factor.efa.rotate`, with varimax (and the varimax inside promax)
    iterated to ``tol`` too."""
    from psychometrics.factor.efa import OBLIQUE_ROTATIONS, rotate

    identity = np.eye(loadings.shape[1])
    if rotation == "varimax":
        return identity, _varimax_tight(loadings, tol), True
    if rotation == "promax":
        # psych's kaiser(rotate="Promax"), power 4, as factor.efa._promax; the row scaling
        # commutes with the rotation, so the pattern is loadings @ (T_varimax U)
        norm = np.sqrt(np.sum(loadings ** 2, axis=1))
        t_vari = _varimax_tight(loadings / norm[:, None], tol)
        x = loadings / norm[:, None] @ t_vari
        u = np.linalg.lstsq(x, x * np.abs(x) ** 3, rcond=None)[0]
        u = u * np.sqrt(np.diag(np.linalg.inv(u.T @ u)))[None, :]
        inverse = np.linalg.inv(t_vari @ u)
        return inverse @ inverse.T, t_vari @ u, True
    _, phi, t_matrix, converged = rotate(loadings, rotation, tol=tol, max_iter=10_000)
    if rotation in OBLIQUE_ROTATIONS:
        return phi, np.linalg.inv(t_matrix).T, converged
    return identity, t_matrix, converged


#: Convergence of the rotations: varimax (and promax's varimax) to 1e-12; the gradient
#: projection rotations stall near 1e-7 (their line search), so they stop at efa's 1e-5.
_ROTATION_TOL = {"varimax": 1e-12, "promax": 1e-12}


def _rotated(slopes: np.ndarray, rotation: str, tol: float | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    r"""Rotated slopes and factor correlations of exploratory slopes (items x D): the
    standardized loadings are rotated and the slopes rotate like them (a loading is its slope
    over a per-item scale, which commutes with the rotation; the item's common variance
    :math:`a^\top\Phi a` is invariant); factors with mostly negative slopes are reflected."""
    n_factors = slopes.shape[1]
    unrotated = standardized_loadings(slopes, np.eye(n_factors))
    tol = _ROTATION_TOL.get(rotation, 1e-5) if tol is None else tol
    phi, multiplier, converged = _rotate_tight(unrotated, rotation, tol)
    out = slopes @ multiplier
    signs = np.where(out.sum(axis=0) < 0, -1.0, 1.0)
    return out * signs, phi * np.outer(signs, signs), bool(converged)


def _rotation_covariance(slopes: np.ndarray, free: np.ndarray, cov_free: np.ndarray, rotation: str,
                         reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Delta-method standard errors of rotated slopes and factor correlations.

    The rotated slopes :math:`\tilde A = R(A)` and correlations :math:`\Phi = R_\Phi(A)` are
    functions of the unrotated slopes through the rotation criterion's optimum; their Jacobian
    :math:`J` with respect to the free unrotated slopes is taken by central differences (each
    perturbed solution rotated from the identity, columns matched to the reported solution;
    step 1e-5 for varimax and promax, iterated to 1e-12, and 1e-2 for the gradient projection
    rotations, which stop at 1e-5), and :math:`\operatorname{Cov}(\tilde A) = J\,\Sigma_A\,J^\top` with
    :math:`\Sigma_A` the observed-information covariance of the unrotated slopes.

    Returns the standard errors of the slopes (items x D) and of the correlations (D x D).
    """
    rows, cols = np.nonzero(free)
    n = rows.size
    d = slopes.shape[1]

    def f(a: np.ndarray) -> np.ndarray:
        out, phi, _ = _rotated(a, rotation)
        # match columns to the reported solution (a perturbation must not swap or reflect factors)
        order = []
        for m in range(d):
            scores = [abs(float(reference[:, m] @ out[:, c])) if c not in order else -1.0 for c in range(d)]
            order.append(int(np.argmax(scores)))
        out, phi = out[:, order], phi[np.ix_(order, order)]
        signs = np.sign(np.sum(out * reference, axis=0))
        signs[signs == 0] = 1.0
        return np.concatenate([(out * signs).reshape(-1), (phi * np.outer(signs, signs))[np.triu_indices(d, 1)]])

    jac = np.empty((d * slopes.shape[0] + d * (d - 1) // 2, n))
    # the step matches the rotation's convergence: (1e-5)/(1e-2) = 1e-3 relative noise at most
    step = 1e-5 if rotation in _ROTATION_TOL else 1e-2
    for c in range(n):
        h = step * max(1.0, abs(slopes[rows[c], cols[c]]))
        up, down = slopes.copy(), slopes.copy()
        up[rows[c], cols[c]] += h
        down[rows[c], cols[c]] -= h
        jac[:, c] = (f(up) - f(down)) / (2.0 * h)
    cov = jac @ cov_free @ jac.T
    var = np.sqrt(np.maximum(np.diag(cov), 0.0))
    slope_se = var[:d * slopes.shape[0]].reshape(slopes.shape)
    corr_se = np.zeros((d, d))
    corr_se[np.triu_indices(d, 1)] = var[d * slopes.shape[0]:]
    corr_se = corr_se + corr_se.T
    np.fill_diagonal(corr_se, np.nan)
    return slope_se, corr_se


def calibrate_multidimensional(resp: Responses, model: str | Mapping[str, str], *,
                               factors: Mapping[str, Sequence[str]] | int | None = None,
                               bifactor: Mapping[str, Sequence[str]] | None = None,
                               general: str | Mapping[str, Sequence[str]] = "general", correlated: bool = True,
                               rotation: str | None = None, quadrature_points: int | None = None,
                               tol: float = 1e-4, max_iter: int = 500, se: bool = False,
                               priors: Mapping[str, Any] | None = None,
                               fixed: Mapping[str, Mapping[str, float]] | None = None,
                               weights: Any = None, start: pd.DataFrame | None = None,
                               accelerate: bool = True, newton_steps: int = 3,
                               callback: Callable[[int, float, float], Any] | None = None,
                               group: Any = None, reference: Any = None, min_group_size: int = MIN_GROUP_SIZE,
                               estimate_latent: bool | None = None, integration: str | None = None) -> Calibration:
    """Multidimensional calibration; see :func:`psychometrics.irt.calibrate` (``factors=``,
    ``bifactor=``, ``general=``, ``group=``, ``integration=``) for the parameters and the module
    docstring for the method."""
    item_ids = resp.item_ids
    general = "general" if general is None else general
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
    if estimate_latent not in (None, True, False):
        raise ValueError(f"estimate_latent must be None, True or False, got {estimate_latent!r}")
    exploratory = False
    n_general = 0
    if bifactor is not None:
        if rotation is not None:
            raise ValueError("rotation applies to exploratory models (factors=<number>), not to bifactor=")
        if isinstance(general, Mapping):
            names, pattern, n_general = _two_tier_pattern(bifactor, general, item_ids)
            if n_general > 2:
                raise ValueError(f"{n_general} general factors: a two-tier model integrates n_general + 1 dimensions "
                                 "on a grid; at most 2 general factors are supported")
        else:
            names, pattern = _bifactor_pattern(bifactor, item_ids, general)
            n_general = 1
    elif isinstance(general, Mapping) or general != "general":
        raise ValueError("general= applies to bifactor and two-tier models (bifactor=...)")
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
    dims = n_general + 1 if bifactor is not None else n_factors
    if integration is None:
        integration = ("grid" if dims <= MAX_QUADRATURE_FACTORS else "qmc" if exploratory else "adaptive")
    if integration not in INTEGRATIONS:
        raise ValueError(f"integration must be one of {INTEGRATIONS}, got {integration!r}")
    if bifactor is not None and integration != "grid":
        raise ValueError(f"integration={integration!r}: bifactor and two-tier models integrate on a grid "
                         "(dimension reduction); leave integration unset")
    if integration == "grid" and dims > MAX_QUADRATURE_FACTORS:
        raise ValueError(f"integration='grid' with {dims} factors: a tensor-product grid has too many nodes beyond "
                         f"{MAX_QUADRATURE_FACTORS} factors; use integration='adaptive' or 'qmc'")
    if integration == "adaptive" and exploratory:
        raise ValueError("integration='adaptive' applies to confirmatory models (factors={name: [items]}); an "
                         "exploratory model with more than three factors uses integration='qmc'")
    qmc = integration == "qmc"
    adaptive = integration == "adaptive"
    if adaptive:
        points = ADAPTIVE_POINTS if quadrature_points is None else quadrature_points
        if isinstance(points, bool) or int(points) != points or points < 8:
            raise ValueError(f"quadrature_points (adaptive points per person) must be an integer >= 8, got {points!r}")
    elif qmc:
        points = QMC_POINTS if quadrature_points is None else quadrature_points
        if isinstance(points, bool) or int(points) != points or points < 100:
            raise ValueError(f"quadrature_points (quasi-Monte Carlo points for {dims} factors) must be an integer "
                             f">= 100, got {points!r}")
    else:
        defaults = BIFACTOR_QUADRATURE_POINTS if bifactor is not None else DEFAULT_QUADRATURE_POINTS
        points = defaults[dims] if quadrature_points is None else quadrature_points
        if isinstance(points, bool) or int(points) != points or points < 5:
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
    if group is None:
        if reference is not None or estimate_latent is not None:
            raise ValueError("reference and estimate_latent need group= (a multi-group calibration)")
        labels: list[Any] = [None]
        group_codes = np.zeros(resp.n_persons, dtype=np.int64)
    else:
        if qmc or adaptive:
            raise ValueError(f"a multi-group calibration with {dims} factors ({integration} integration) is not "
                             f"supported; use at most {MAX_QUADRATURE_FACTORS} factors or a bifactor model")
        if exploratory:
            raise ValueError("a multi-group exploratory model is not identified up to rotation in each group; fit a "
                             "confirmatory model (factors={name: [items]}) or a bifactor model with group=")
        if estimate_latent is True:
            raise ValueError("estimate_latent=True (the reference group's factor distribution estimated) is not "
                             "supported for multidimensional models; the reference group's factors have means 0 "
                             "and variances 1")
        labels, group_codes = _group_labels(group, resp, reference, min_group_size)
    n_groups = len(labels)

    categories, encoded = _prepare(resp, models)
    n_cat = np.array([len(categories[i]) for i in item_ids], dtype=np.int64)
    answered = (encoded >= 0).any(axis=1)
    if not answered.all():
        empty = resp.person_ids[~answered]
        shown = ", ".join(repr(p) for p in list(empty[:5]))
        warnings.warn(f"{int((~answered).sum())} respondent(s) answered no item and are left out of the "
                      f"calibration: {shown}{' ...' if len(empty) > 5 else ''}", DataWarning, stacklevel=3)
        encoded = encoded[answered]
        group_codes = group_codes[answered]
        weights = None if weights is None else weights[answered]
    if encoded.shape[0] == 0:
        raise ResponseError("no respondent answered any item")
    w = np.ones(encoded.shape[0]) if weights is None else weights
    n_persons = float(w.sum())
    if n_groups > 1:
        sizes = np.bincount(group_codes, minlength=n_groups)
        small = [(labels[g], int(sizes[g])) for g in range(n_groups) if sizes[g] < min_group_size]
        if small:
            raise ResponseError(f"group(s) {', '.join(f'{g!r} ({n} persons)' for g, n in small)} have fewer than "
                                f"min_group_size={min_group_size} persons who answered an item")

    # per item: the factors its local slopes stand for (bifactor/two-tier: the general
    # factors, then its specific factor or -1)
    if bifactor is not None:
        item_group = np.array([int(np.flatnonzero(pattern[j, n_general:])[0]) if pattern[j, n_general:].any()
                               else -1 for j in range(len(item_ids))])
        local_factors = [list(range(n_general)) + [n_general + s if s >= 0 else -1] for s in item_group]
    else:
        item_group = np.full(len(item_ids), -1)
        local_factors = [list(range(n_factors)) for _ in item_ids]
    slope_start = _exploratory_start(encoded, n_factors) if exploratory else None

    per_item_priors = _parse_priors(priors, item_ids)
    matched: set[tuple[str, str]] = set()
    keys: dict[tuple[str, int, bool], list[int]] = {}
    for j, item in enumerate(item_ids):
        # the adaptive M-step treats items on one factor and items on several differently
        keys.setdefault((models[item], int(n_cat[j]), adaptive and int(pattern[j].sum()) > 1), []).append(j)
    blocks: list[_Block] = []
    first_slot = 0
    global_slope = [f"a{m}" for m in range(1, n_factors + 1)]
    for (name, k, _), positions in keys.items():
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
                elif bifactor is not None and c == n_general:
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

    groups = []
    for g in range(n_groups):
        rows = np.flatnonzero(group_codes == g)
        sub = encoded if n_groups == 1 else np.ascontiguousarray(encoded[rows])
        sub_w = weights if (weights is None or n_groups == 1) else weights[rows]
        work, work_weights = _collapse_patterns(sub, sub_w, n_cat)
        groups.append(_GroupData(work, work_weights, None, float(w[rows].sum())))
    nodes_1d = None if qmc or adaptive else grid_nodes(int(points))
    shared = estimate_latent is False
    if bifactor is not None:
        latent_blocks = [list(range(n_general))] + [[f] for f in range(n_general, n_factors)]
        latent = _Latent(names, latent_blocks, [correlated and n_general > 1] + [False] * (n_factors - n_general),
                         n_groups, shared)
        problem: _Problem = _BifactorProblem(blocks, groups, nodes_1d, n_cat, item_group, n_general, latent,
                                             newton_steps)
    elif adaptive:
        latent = _Latent(names, [list(range(n_factors))], [correlated], n_groups, shared)
        problem = _AdaptiveProblem(blocks, groups, n_cat, latent, newton_steps, pattern, int(points))
    else:
        latent = _Latent(names, [list(range(n_factors))], [correlated and not exploratory], n_groups,
                         shared or exploratory)
        base = qmc_normal_nodes(int(points), n_factors) if qmc else None
        nodes = base.copy() if qmc else product_nodes(nodes_1d, n_factors)
        problem = _MultidimensionalProblem(blocks, groups, nodes, n_cat, latent, newton_steps, base)
    x0 = problem.pack()
    runner = _squarem if accelerate else _plain_em
    x, history, converged, n_iter = runner(problem, x0, tol, int(max_iter), tol * 1e-2, callback)
    problem.unpack(x)
    final = problem.expectation()
    loglik = final.loglik
    if not converged:
        warnings.warn(f"EM did not converge in {n_iter} iterations (tol {tol:g}); the estimates are not "
                      "trustworthy, raise max_iter or check the data", ConvergenceWarning, stacklevel=3)
    floored = [f"{names[i]} in group {labels[g]!r}" for g in range(1, n_groups) if not latent.shared
               for i in range(n_factors) if latent.cov[g, i, i] <= MIN_LATENT_VARIANCE * (1.0 + 1e-9)]
    if floored:
        warnings.warn(f"the factor variance of {', '.join(floored)} is held at its floor {MIN_LATENT_VARIANCE:g}: "
                      "the group's persons do not spread on that factor (or the grid is too coarse for it, "
                      "raise quadrature_points); the estimates are not trustworthy", ModelWarning, stacklevel=3)
    loglik_se = math.nan
    effective = None
    if isinstance(problem, _AdaptiveProblem):
        effective = problem.effective()
        if effective["median"] < QMC_MIN_EFFECTIVE_POINTS:
            # the same rule as for shared points: a ratio estimate on a handful of effective points
            # is biased, whatever the points' placement
            warnings.warn(f"adaptive integration with {int(points)} points per person is too coarse for "
                          f"{n_factors} factors: a person's posterior rests on a median of "
                          f"{effective['median']:.1f} effective points (5th percentile {effective['p05']:.1f}; below "
                          f"{QMC_MIN_EFFECTIVE_POINTS:g} the factor correlations, slopes and log-likelihood are "
                          "biased); raise quadrature_points=", ModelWarning, stacklevel=3)
        loglik, loglik_se = problem.loglik()
    if isinstance(problem, _MultidimensionalProblem) and problem.qmc_base is not None:
        effective = _effective_points(problem)
        if effective["median"] < QMC_MIN_EFFECTIVE_POINTS:
            warnings.warn(f"quasi-Monte Carlo integration with {int(points)} points is too coarse for {n_factors} "
                          f"factors: a person's posterior rests on a median of {effective['median']:.1f} effective "
                          f"points (5th percentile {effective['p05']:.1f}; below {QMC_MIN_EFFECTIVE_POINTS:g} the "
                          "factor correlations and the log-likelihood are biased); raise quadrature_points= "
                          "(the effective points grow in proportion) or fit fewer factors", ModelWarning, stacklevel=3)
        loglik, loglik_se = _qmc_loglik(problem, int(points), n_factors, effective)
    correlation = latent.cov[0].copy()
    layout = _layout(blocks, item_ids, problem, labels)
    n_free = layout.n_parameters

    se_rows: list[dict[str, float]] | None = None
    covariance = None
    latent_se = np.full(len(latent.slots), np.nan)
    if se:
        from psychometrics.irt.standard_errors import _standard_errors

        try:
            si_se, _, _, _, covariance = _standard_errors(problem, x, layout, len(item_ids), labels,
                                                          list(range(len(item_ids))), list(item_ids))
        except ValueError as exc:
            if "positive definite" not in str(exc):
                raise
            # a factor covariance at the edge of the admissible set: no finite-difference score there
            warnings.warn("standard errors are not computed (NaN): a factor covariance matrix is at the edge of "
                          "positive definiteness", ModelWarning, stacklevel=3)
            problem.unpack(x)
            si_se = _frame(item_ids, [{} for _ in item_ids])
            size = problem.size
            covariance = pd.DataFrame(np.full((size, size), np.nan))
        se_rows = [{} for _ in item_ids]
        for b in blocks:
            local = b.model.parameter_names(b.k)
            for r, j in enumerate(b.positions):
                for c, nm in enumerate(b.reported[r]):
                    if nm:
                        se_rows[j][nm] = (float(si_se.loc[item_ids[j], local[c]]) if local[c] in si_se.columns
                                          else math.nan)
        diag = np.diag(covariance.to_numpy())[problem.n_item_slots:]
        latent_se = np.where(diag >= 0, np.sqrt(np.abs(diag)), np.nan)
    correlation_se = np.full((n_factors, n_factors), np.nan)
    for s, (g, kind, i, j) in enumerate(latent.slots):
        if kind == "correlation":
            correlation_se[i, j] = correlation_se[j, i] = latent_se[s]

    si_rows: list[dict[str, float]] = [{} for _ in item_ids]
    for b in blocks:
        for r, j in enumerate(b.positions):
            row = {nm: 0.0 for nm in global_slope}
            for c, nm in enumerate(b.reported[r]):
                if nm:
                    row[nm] = float(b.params[r, c])
            si_rows[j] = row
    slopes = np.array([[si_rows[j][nm] for nm in global_slope] for j in range(len(item_ids))])
    if exploratory and n_factors > 1 and rotation != "none":
        from psychometrics.factor.efa import ROTATIONS

        if rotation not in ROTATIONS:
            raise ValueError(f"rotation must be one of {ROTATIONS}, got {rotation!r}")
        rotated, correlation, rotation_converged = _rotated(slopes, rotation)
        for j in range(len(item_ids)):
            si_rows[j].update(dict(zip(global_slope, map(float, rotated[j]))))
        if se_rows is not None:
            free = np.zeros(slopes.shape, dtype=bool)
            slot_of = np.full(slopes.shape, -1, dtype=np.int64)
            for b in blocks:
                for r, j in enumerate(b.positions):
                    for c, nm in enumerate(b.reported[r]):
                        if nm in global_slope and b.slot[r, c] >= 0:
                            free[j, global_slope.index(nm)] = True
                            slot_of[j, global_slope.index(nm)] = b.slot[r, c]
            cov_all = covariance.to_numpy()
            slot_list = slot_of[free]
            cov_free = np.nan_to_num(cov_all[np.ix_(slot_list, slot_list)])
            slope_se, correlation_se = _rotation_covariance(slopes, free, cov_free, rotation, rotated)
            if not np.all(np.isfinite(cov_all[np.ix_(slot_list, slot_list)])):
                slope_se[:] = np.nan
                correlation_se[:] = np.nan
            for j, row in enumerate(se_rows):
                row.update({nm: float(slope_se[j, m]) for m, nm in enumerate(global_slope)})
        if not rotation_converged:
            warnings.warn(f"the {rotation} rotation did not converge; the rotated loadings are not trustworthy",
                          ConvergenceWarning, stacklevel=3)
    frame = _frame(item_ids, si_rows)
    corr_frame = pd.DataFrame(correlation, index=pd.Index(names, name="factor"), columns=names)
    se_frame = None if se_rows is None else _frame(item_ids, se_rows).reindex(columns=frame.columns)
    extra: dict[str, Any] = {}
    if n_groups > 1:
        means, covariances, means_se, covariances_se = _group_distributions(latent, labels, latent_se if se else None)
        extra = dict(groups=tuple(labels), group_item_params={g: frame.copy() for g in labels},
                     group_slope_intercept={g: frame.copy() for g in labels}, factor_means=means,
                     factor_covariances=covariances, factor_means_se=means_se, factor_covariances_se=covariances_se)
    factor_model = ("exploratory" if exploratory else "confirmatory") if bifactor is None else (
        "two-tier" if isinstance(general, Mapping) else "bifactor")
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
        rotation=rotation if exploratory else None, loglik_se=loglik_se, effective_points=effective,
        factor_model=factor_model, general_factors=tuple(names[:n_general]) if n_general > 1 else (),
        **extra,
    )


def _group_distributions(latent: _Latent, labels: Sequence[Any], slot_se: np.ndarray | None
                         ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """Factor means (groups x factors) and covariances (rows (group, factor) x factors) of every
    group, and their standard errors (NaN where fixed) when ``slot_se`` is given."""
    names = latent.names
    index = pd.Index(list(labels), name="group")
    rows = pd.MultiIndex.from_tuples([(g, f) for g in labels for f in names], names=["group", "factor"])
    means = pd.DataFrame(latent.means, index=index, columns=names)
    covariances = pd.DataFrame(latent.cov.reshape(-1, len(names)), index=rows, columns=names)
    if slot_se is None:
        return means, covariances, None, None
    mean_se = np.full(latent.means.shape, np.nan)
    cov_se = np.full(latent.cov.shape, np.nan)
    for (g, kind, i, j), v in zip(latent.slots, slot_se):
        if kind == "mean":
            mean_se[g, i] = v
        else:
            cov_se[g, i, j] = cov_se[g, j, i] = v
    if latent.shared:
        cov_se[1:] = cov_se[0]
    return (means, covariances, pd.DataFrame(mean_se, index=index, columns=names),
            pd.DataFrame(cov_se.reshape(-1, len(names)), index=rows, columns=names))
