r"""The EM map of a calibration and its drivers: plain EM and SQUAREM.

:class:`_Problem` packs the blocks' free parameters and the latent means and variances into one
vector and maps it through E-step (:mod:`psychometrics.estep`, group by group) and M-step
(:mod:`psychometrics.irt.mstep`). :func:`_squarem` (Varadhan & Roland, 2008, SqS3) extrapolates
that map; convergence is mirt's: no parameter moves by ``tol`` or more in one EM step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from psychometrics.estep import EStep, PackedCodes, _max_rows, estep, pack_codes
from psychometrics.irt.mstep import MIN_LATENT_VARIANCE, _Block, _latent_mstep
from psychometrics.quadrature import normal_log_weight_gradient, normal_log_weights


class _GroupData(NamedTuple):
    """The persons of one group: their (collapsed) responses to the columns they can answer."""

    encoded: np.ndarray
    weights: np.ndarray | None
    columns: np.ndarray | None   # estimation columns these responses belong to; None = all
    n_persons: float


class _Problem:
    """The EM map of one calibration: packed parameters -> E-step -> M-step.

    The estimation works on *columns*: one per item, or one per item and group for an item
    whose parameters are freed across groups. Each group has its own latent normal
    distribution; the E-step runs group by group with that group's prior weights and the
    expected counts add up over groups.
    """

    def __init__(self, blocks: list[_Block], groups: list[_GroupData], nodes: np.ndarray,
                 n_categories: np.ndarray, means: np.ndarray, variances: np.ndarray,
                 mean_free: np.ndarray, variance_free: np.ndarray, newton_steps: int,
                 estep_function: Callable[..., EStep] = estep) -> None:
        # the E-step of a group: estep_function(group.encoded, log_probs, log_prior, group.weights);
        # psychometrics.distributed passes one that maps the same kernel over Dask partitions
        self.estep_function = estep_function
        self.blocks = blocks
        self.groups = groups
        self.nodes = nodes
        self.n_columns = int(n_categories.shape[0])
        self.max_k = int(n_categories.max())
        self.means = np.asarray(means, dtype=np.float64).copy()
        self.variances = np.asarray(variances, dtype=np.float64).copy()
        self.mean_free = np.asarray(mean_free, dtype=bool)
        self.variance_free = np.asarray(variance_free, dtype=bool)
        self.newton_steps = newton_steps
        self.n_item_slots = sum(b.n_slots for b in blocks)
        # latent slots follow the item slots: per group its mean, then its variance
        self.latent_slots: list[tuple[int, str]] = []
        for g in range(len(groups)):
            if self.mean_free[g]:
                self.latent_slots.append((g, "mean"))
            if self.variance_free[g]:
                self.latent_slots.append((g, "variance"))
        self.size = self.n_item_slots + len(self.latent_slots)
        self.n_estep = 0
        self.group_nodes: list[tuple[np.ndarray, float]] = []
        self._packed: dict[int, PackedCodes] = {}

    def _responses(self, g: int) -> np.ndarray | PackedCodes:
        """Group g's responses as its E-step takes them: packed once (checked and tupled,
        :func:`psychometrics.estep.pack_codes`) for the in-memory E-step, which then skips
        that work in every iteration; as they are for any other E-step function."""
        if self.estep_function is not estep:
            return self.groups[g].encoded
        if g not in self._packed:
            self._packed[g] = pack_codes(self.groups[g].encoded, self.max_k, _max_rows(self.nodes.shape[0]))
        return self._packed[g]

    def pack(self) -> np.ndarray:
        x = np.empty(self.size)
        for b in self.blocks:
            b.pack(x)
        for s, (g, kind) in enumerate(self.latent_slots):
            x[self.n_item_slots + s] = self.means[g] if kind == "mean" else self.variances[g]
        return x

    def unpack(self, x: np.ndarray) -> None:
        for b in self.blocks:
            b.unpack(x)
        for s, (g, kind) in enumerate(self.latent_slots):
            if kind == "mean":
                self.means[g] = float(x[self.n_item_slots + s])
            else:
                self.variances[g] = float(x[self.n_item_slots + s])

    def log_probabilities(self) -> np.ndarray:
        out = np.full((self.n_columns, self.nodes.shape[0], self.max_k), -np.inf)
        for b in self.blocks:
            out[b.positions, :, :b.k] = b.model.log_probabilities(b.params, self.nodes)
        return out

    def expectation(self) -> EStep:
        self.n_estep += 1
        log_probs = self.log_probabilities()
        if len(self.groups) == 1 and self.groups[0].columns is None:
            data = self.groups[0]
            e = self.estep_function(self._responses(0), log_probs,
                                    normal_log_weights(self.nodes, self.means[0], self.variances[0]), data.weights)
            self.group_nodes = [(e.node_counts, e.n_persons)]
            return e
        counts = np.zeros(log_probs.shape)
        loglik = 0.0
        self.group_nodes = []
        for g, data in enumerate(self.groups):
            log_prior = normal_log_weights(self.nodes, self.means[g], self.variances[g])
            e = self.estep_function(self._responses(g), log_probs[data.columns], log_prior, data.weights)
            counts[data.columns] += e.counts
            loglik += e.loglik
            self.group_nodes.append((e.node_counts, e.n_persons))
        return EStep(counts, loglik, sum(n for n, _ in self.group_nodes),
                     float(sum(n for _, n in self.group_nodes)))

    def maximization(self, e: EStep, step_tol: float) -> None:
        for b in self.blocks:
            b.mstep(self.nodes, e.counts[b.positions, :, :b.k], self.newton_steps, step_tol)
        for g, (node_counts, n) in enumerate(self.group_nodes):
            if self.mean_free[g] or self.variance_free[g]:
                self.means[g], self.variances[g] = _latent_mstep(
                    self.nodes, node_counts, n, self.means[g], self.variances[g],
                    bool(self.mean_free[g]), bool(self.variance_free[g]))

    def valid(self, x: np.ndarray) -> bool:
        if not np.all(np.isfinite(x)):
            return False
        return all(x[self.n_item_slots + s] > MIN_LATENT_VARIANCE for s, (_, kind) in enumerate(self.latent_slots)
                   if kind == "variance")

    def em_map(self, x: np.ndarray, step_tol: float) -> tuple[np.ndarray, float]:
        """One EM iteration from ``x``: the new packed parameters and the log-likelihood at x."""
        self.unpack(x)
        e = self.expectation()
        self.maximization(e, step_tol)
        return self.pack(), e.loglik

    def score(self, x: np.ndarray) -> np.ndarray:
        """Gradient of the observed log-posterior at x (Fisher's identity)."""
        self.unpack(x)
        e = self.expectation()
        out = np.zeros(self.size)
        for b in self.blocks:
            b.score(self.nodes, e.counts[b.positions, :, :b.k], out)
        for s, (g, kind) in enumerate(self.latent_slots):
            node_counts = self.group_nodes[g][0]
            d_mean, d_variance = normal_log_weight_gradient(self.nodes, self.means[g], self.variances[g])
            # Fisher's identity: the latent part of Q is sum_q N_q log w_q
            out[self.n_item_slots + s] = float(node_counts @ (d_mean if kind == "mean" else d_variance))
        return out


Callback = Callable[[int, float, float], Any]


def _report(callback: Callback | None, n_iter: int, loglik: float, change: np.ndarray) -> None:
    if callback is not None:
        callback(int(n_iter), float(loglik), float(np.max(np.abs(change))) if change.size else 0.0)


def _squarem(problem: _Problem, x0: np.ndarray, tol: float, max_iter: int,
             step_tol: float, callback: Callback | None = None) -> tuple[np.ndarray, list[float], bool, int]:
    """SQUAREM (SqS3) around the EM map; convergence when a plain EM step moves no parameter
    by ``tol`` or more. Returns the estimate, the log-likelihood history, the convergence flag
    and the number of EM iterations."""
    history: list[float] = []
    step_max = 1.0
    x = x0
    n_iter = 0
    while n_iter < max_iter:
        x1, ll0 = problem.em_map(x, step_tol)
        n_iter += 1
        history.append(ll0)
        r = x1 - x
        _report(callback, n_iter, ll0, r)
        if r.size == 0 or np.max(np.abs(r)) < tol:
            return x1, history, True, n_iter
        if n_iter >= max_iter:
            return x1, history, False, n_iter
        x2, ll1 = problem.em_map(x1, step_tol)
        n_iter += 1
        history.append(ll1)
        v = (x2 - x1) - r
        _report(callback, n_iter, ll1, x2 - x1)
        if np.max(np.abs(x2 - x1)) < tol:
            return x2, history, True, n_iter
        norm_v = float(np.sqrt(v @ v))
        if norm_v == 0.0 or n_iter >= max_iter:
            x = x2
            continue
        alpha = -float(np.sqrt(r @ r)) / norm_v
        alpha = min(-1.0, max(alpha, -step_max))
        candidate = x - 2.0 * alpha * r + alpha * alpha * v
        if not problem.valid(candidate):
            x = x2
            continue
        x3, ll_candidate = problem.em_map(candidate, step_tol)
        n_iter += 1
        history.append(ll_candidate)
        _report(callback, n_iter, ll_candidate, x3 - candidate)
        if np.isfinite(ll_candidate) and ll_candidate >= ll1 - 1e-8 * abs(ll1):
            if np.max(np.abs(x3 - candidate)) < tol:
                return x3, history, True, n_iter
            x = x3
            if alpha == -step_max:
                step_max *= 4.0
        else:
            # the extrapolation lost likelihood: fall back to the plain EM iterate
            x = x2
            step_max = max(1.0, step_max / 4.0)
    return x, history, False, n_iter


def _plain_em(problem: _Problem, x0: np.ndarray, tol: float, max_iter: int, step_tol: float,
              callback: Callback | None = None):
    history: list[float] = []
    x = x0
    for n_iter in range(1, max_iter + 1):
        new, ll = problem.em_map(x, step_tol)
        history.append(ll)
        _report(callback, n_iter, ll, new - x)
        done = x.size == 0 or np.max(np.abs(new - x)) < tol
        x = new
        if done:
            return x, history, True, n_iter
    return x, history, False, max_iter
