r"""The M-step: Newton steps on the expected complete-data log-posterior, batched over items.

:class:`_Block` holds the items that share a model and a number of categories; for each it
maximizes :math:`\sum_{q,k} \bar r_{jqk} \log P_{jk}(\theta_q; \xi) + \log p(\xi)` with the
model's analytic gradient and Hessian. Parameters common to several items (the 1PL slope,
rating-scale thresholds, an item's copies in several groups) share one slot of the packed
estimate vector and are updated jointly. :func:`_latent_mstep` updates a group's latent mean
and variance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psychometrics._numeric import TINY
from psychometrics.irt.layout import assign_slots
from psychometrics.items import ItemModel


def _prior_terms(kind: np.ndarray, p1: np.ndarray, p2: np.ndarray,
                 x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-density, first and second derivative of independent priors, elementwise."""
    logp = np.zeros_like(x)
    grad = np.zeros_like(x)
    hess = np.zeros_like(x)
    if not kind.any():
        return logp, grad, hess
    with np.errstate(divide="ignore", invalid="ignore"):
        m = kind == 1
        if m.any():
            z = (x[m] - p1[m]) / p2[m]
            logp[m] = -0.5 * z * z
            grad[m] = -z / p2[m]
            hess[m] = -1.0 / (p2[m] * p2[m])
        m = kind == 2
        if m.any():
            xm = x[m]
            ok = xm > 0
            lx = np.log(np.where(ok, xm, 1.0))
            s2 = p2[m] * p2[m]
            logp[m] = np.where(ok, -lx - (lx - p1[m]) ** 2 / (2 * s2), -np.inf)
            grad[m] = np.where(ok, -1.0 / xm - (lx - p1[m]) / (s2 * xm), 0.0)
            hess[m] = np.where(ok, 1.0 / xm ** 2 - (1.0 - (lx - p1[m])) / (s2 * xm ** 2), -1.0)
        m = kind == 3
        if m.any():
            xm = x[m]
            ok = (xm > 0) & (xm < 1)
            xs = np.where(ok, xm, 0.5)
            al, be = p1[m] - 1.0, p2[m] - 1.0
            logp[m] = np.where(ok, al * np.log(xs) + be * np.log1p(-xs), -np.inf)
            grad[m] = np.where(ok, al / xs - be / (1.0 - xs), 0.0)
            hess[m] = np.where(ok, -al / xs ** 2 - be / (1.0 - xs) ** 2, -1.0)
    return logp, grad, hess


#: Floor of an estimated latent variance: a group whose persons collapse onto one point of the
#: grid is held here (and the calibration warns) instead of degenerating.
MIN_LATENT_VARIANCE = 1e-4


class _Block:
    """Estimation state of one group of items (same model, same K).

    ``slot`` maps each (item, parameter) to a position in the packed parameter vector, -1 for
    parameters held fixed; parameters common to the items of the group share one slot.
    """

    def __init__(self, model: ItemModel, n_categories: int, positions: np.ndarray,
                 params: np.ndarray, fixed: np.ndarray, prior: tuple[np.ndarray, np.ndarray, np.ndarray],
                 first_slot: int, share: np.ndarray | None = None) -> None:
        self.model = model
        self.k = n_categories
        self.positions = positions
        self.params = params
        self.prior_kind, self.prior_p1, self.prior_p2 = prior
        names = model.parameter_names(n_categories)
        fixed = fixed | model.block_fixed(n_categories, len(positions))
        self.tied = [names.index(t) for t in model.tied_names(n_categories)]
        # copies of one item in several groups hold a parameter in one slot unless it is freed
        # across groups (share key -1)
        slot = assign_slots(fixed, self.tied, first_slot, share)
        n = max(first_slot, int(slot.max()) + 1) if slot.size else first_slot
        self.lower = np.array([model.bounds.get(nm, (-np.inf, np.inf))[0] for nm in names])
        self.upper = np.array([model.bounds.get(nm, (-np.inf, np.inf))[1] for nm in names])
        self.slot = slot
        self.n_slots = n - first_slot
        self.first_slot = first_slot
        self.free = slot >= 0
        shared_slots = share is not None and np.unique(slot[self.free]).size < int(self.free.sum())
        self.has_tied = (bool(self.tied) and self.free[:, self.tied].any()) or bool(shared_slots)

    # -- packing ----------------------------------------------------------------------------------
    def pack(self, x: np.ndarray) -> None:
        x[self.slot[self.free]] = self.params[self.free]

    def unpack(self, x: np.ndarray) -> None:
        self.params = self.params.copy()
        self.params[self.free] = x[self.slot[self.free]]

    # -- objective ----------------------------------------------------------------------------------
    def _prior(self, params: np.ndarray, rows: Any = slice(None)):
        return _prior_terms(self.prior_kind[rows], self.prior_p1[rows], self.prior_p2[rows], params)

    def objective(self, params: np.ndarray, nodes: np.ndarray, counts: np.ndarray,
                  rows: Any = slice(None)) -> np.ndarray:
        value = self.model.objective(params, nodes, counts)
        logp, _, _ = self._prior(params, rows)
        return value + logp.sum(axis=1)

    def derivatives(self, params: np.ndarray, nodes: np.ndarray,
                    counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad, hess = self.model.gradient_hessian(params, nodes, counts)
        _, pg, ph = self._prior(params)
        grad = grad + pg
        hess = hess.copy()
        idx = np.arange(params.shape[1])
        hess[:, idx, idx] += ph
        return grad, hess

    # -- M-step ----------------------------------------------------------------------------------------
    def mstep(self, nodes: np.ndarray, counts: np.ndarray, max_steps: int, step_tol: float) -> None:
        if not self.free.any():
            return
        if self.has_tied:
            self._newton_joint(nodes, counts, max_steps, step_tol)
        else:
            self._newton_items(nodes, counts, max_steps, step_tol)

    def _newton_items(self, nodes, counts, max_steps, step_tol):
        params = self.params
        free = self.free
        n, p = params.shape
        obj = self.objective(params, nodes, counts)
        eye = np.eye(p)
        for _ in range(max_steps):
            grad, hess = self.derivatives(params, nodes, counts)
            # active set: a parameter on its bound whose gradient points outward sits this
            # step out, so that the projection cannot stall the others
            free = self.free & ~(((params <= self.lower) & (grad < 0)) | ((params >= self.upper) & (grad > 0)))
            grad = np.where(free, grad, 0.0)
            both = free[:, :, None] & free[:, None, :]
            hess = np.where(both, hess, 0.0) - (~free)[:, :, None] * eye
            step = _ascent_steps(grad, hess)
            new_params, new_obj, moved = self._line_search(params, step, obj, nodes, counts)
            params, obj = new_params, new_obj
            if not moved.any() or np.max(np.abs(step[moved])) < step_tol:
                break
        self.params = params

    def _line_search(self, params, step, obj, nodes, counts):
        n = params.shape[0]
        scale = np.ones(n)
        accepted = np.zeros(n, dtype=bool)
        out = params.copy()
        out_obj = obj.copy()
        for _ in range(12):
            pending = ~accepted
            if not pending.any():
                break
            trial = self.model.project(params[pending] + scale[pending, None] * step[pending], self.k)
            value = self.objective(trial, nodes, counts[pending], pending)
            ok = np.isfinite(value) & (value >= obj[pending] - 1e-9 * (1.0 + np.abs(obj[pending])))
            rows = np.flatnonzero(pending)[ok]
            out[rows] = trial[ok]
            out_obj[rows] = value[ok]
            accepted[rows] = True
            scale[pending] *= 0.5
        return out, out_obj, accepted

    def _newton_joint(self, nodes, counts, max_steps, step_tol):
        """Newton steps on the group's packed slots (shared parameters summed over items)."""
        n, p = self.params.shape
        slots = self.slot - self.first_slot
        m = self.n_slots
        expand = np.zeros((n, p, m))
        rows, cols = np.nonzero(self.free)
        expand[rows, cols, slots[rows, cols]] = 1.0
        x = np.zeros(m)
        x[slots[rows, cols]] = self.params[rows, cols]
        params = self.params
        total = self.objective(params, nodes, counts).sum()
        for _ in range(max_steps):
            grad, hess = self.derivatives(params, nodes, counts)
            g = np.einsum("ipm,ip->m", expand, grad)
            h = np.einsum("ipm,ipq,iqn->mn", expand, hess, expand)
            step = _ascent_steps(g[None], h[None])[0]
            scale = 1.0
            moved = False
            for _ in range(12):
                trial_x = x + scale * step
                trial = params.copy()
                trial[rows, cols] = trial_x[slots[rows, cols]]
                trial = self.model.project(trial, self.k)
                value = self.objective(trial, nodes, counts).sum()
                if np.isfinite(value) and value >= total - 1e-9 * (1.0 + abs(total)):
                    params, total, moved = trial, value, True
                    x[slots[rows, cols]] = trial[rows, cols]
                    break
                scale *= 0.5
            if not moved or np.max(np.abs(step)) < step_tol:
                break
        self.params = params

    # -- score for standard errors ---------------------------------------------------------------
    def score(self, nodes: np.ndarray, counts: np.ndarray, out: np.ndarray) -> None:
        grad, _ = self.derivatives(self.params, nodes, counts)
        np.add.at(out, self.slot[self.free], grad[self.free])


def _ascent_steps(grad: np.ndarray, hess: np.ndarray) -> np.ndarray:
    """Newton steps ``-H^{-1} g`` for a batch, with H pushed negative definite where it is not."""
    p = grad.shape[1]
    eye = np.eye(p)
    sym = 0.5 * (hess + hess.transpose(0, 2, 1))
    # an item whose derivatives overflowed stays put this step rather than poisoning the batch
    bad = ~(np.isfinite(grad).all(axis=1) & np.isfinite(sym).all(axis=(1, 2)))
    if bad.any():
        grad = np.where(bad[:, None], 0.0, grad)
        sym = np.where(bad[:, None, None], -eye, sym)
    scale = np.maximum(np.abs(np.diagonal(sym, axis1=1, axis2=2)).max(axis=1), 1e-8)
    try:
        # H + 1e-8 scale I negative definite <=> every eigenvalue of H below -1e-8 scale: no
        # shift needed. A Cholesky factor answers that at a quarter of the eigenvalues' cost
        # (P ~ 200 for 101-category nominal items); only a batch with a failure needs them.
        np.linalg.cholesky(-sym - (1e-8 * scale)[:, None, None] * eye)
        shift = np.zeros_like(scale)
    except np.linalg.LinAlgError:
        top = np.linalg.eigvalsh(sym)[:, -1]
        shift = np.where(top > -1e-8 * scale, top + 1e-3 * scale + 1e-8, 0.0)
    sym = sym - shift[:, None, None] * eye
    step = -np.linalg.solve(sym, grad[:, :, None])[:, :, 0]
    # cap single steps so one wild Newton step cannot throw a parameter far away
    big = np.abs(step).max(axis=1, keepdims=True)
    return np.where(big > 5.0, step * (5.0 / np.maximum(big, TINY)), step)


def _latent_mstep(nodes: np.ndarray, node_counts: np.ndarray, n: float, mean: float, variance: float,
                  mean_free: bool, variance_free: bool) -> tuple[float, float]:
    r"""Latent mean and/or variance maximizing :math:`\sum_q N_q \log w_q(\mu, \sigma^2)`.

    The weights are normalized over the fixed nodes, a discrete exponential family in
    :math:`\eta = (\mu/\sigma^2, -1/(2\sigma^2))` with statistics :math:`(\theta, \theta^2)`:
    the maximum matches the moments of the weights to those of the posterior counts. The
    continuous moment estimates are the start; a few Newton steps on the (concave) problem
    remove the error that the grid's truncation at its ends would otherwise leave (it is
    visible for groups whose latent distribution reaches the edge of the grid).
    """
    if n <= 0:
        return mean, variance
    target1 = float(node_counts @ nodes) / n
    if mean_free:
        mean = target1
    if variance_free:
        centred = nodes - mean
        variance = max(float(node_counts @ (centred * centred)) / n, MIN_LATENT_VARIANCE)
    if mean_free and variance_free:
        stats_ = np.stack([nodes, nodes * nodes])
        eta = np.array([mean / variance, -0.5 / variance])
    elif mean_free:
        stats_ = nodes[None, :]
        eta = np.array([mean / variance])
    else:
        stats_ = ((nodes - mean) ** 2)[None, :]
        eta = np.array([-0.5 / variance])
    target = stats_ @ node_counts / n
    base = np.zeros_like(nodes) if variance_free else -0.5 * nodes * nodes / variance
    for _ in range(8):
        log_w = base + eta @ stats_
        log_w -= np.logaddexp.reduce(log_w)
        w = np.exp(log_w)
        expected = stats_ @ w
        grad = target - expected
        if np.max(np.abs(grad)) < 1e-12 * (1.0 + np.max(np.abs(target))):
            break
        centred_stats = stats_ - expected[:, None]
        cov = (centred_stats * w) @ centred_stats.T
        try:
            step = np.linalg.solve(cov, grad)
        except np.linalg.LinAlgError:
            break
        trial = eta + step
        if variance_free and not trial[-1] < 0:
            break
        eta = trial
    if mean_free and variance_free:
        variance = -0.5 / eta[1]
        mean = eta[0] * variance
    elif mean_free:
        mean = float(eta[0] * variance)
    else:
        variance = -0.5 / float(eta[0])
    return float(mean), float(max(variance, MIN_LATENT_VARIANCE))
