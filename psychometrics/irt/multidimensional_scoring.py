r"""Scoring and information of multidimensional calibrations (profiles of correlated traits).

:func:`profile_scores` is what :func:`psychometrics.scoring.score` runs for a calibration with
``factors``: every person gets one estimate and standard error per factor from the
multidimensional posterior, so a scale with few items borrows strength from the correlated
others.

EAP
    Posterior means and standard deviations on the tensor-product grid of
    :func:`~psychometrics.quadrature.product_nodes` with the calibration's
    :math:`N(\mathbf 0, \boldsymbol\Phi)` weights (persons in chunks, the compiled likelihood
    kernel of :mod:`psychometrics.estep`). Bifactor calibrations are integrated by dimension
    reduction (general factor x one specific factor at a time), exactly, whatever the number of
    specific factors.
MAP
    Posterior mode by Newton steps on
    :math:`\sum_j \log P_{j x_{ij}}(\mathbf a_j^\top\boldsymbol\theta) -
    \frac12\boldsymbol\theta^\top\boldsymbol\Phi^{-1}\boldsymbol\theta`, all persons at once
    (gradient :math:`\sum_j g_{ij}\mathbf a_j - \boldsymbol\Phi^{-1}\boldsymbol\theta`, Hessian
    :math:`\sum_j h_{ij}\mathbf a_j\mathbf a_j^\top - \boldsymbol\Phi^{-1}` with :math:`g, h`
    the analytic derivatives of the item's log-probability in :math:`\eta`), halving steps
    until the objective improves. Standard errors: square roots of the diagonal of the inverse
    observed information at the mode.

References
----------
.. [1] Bock, R. D. & Mislevy, R. J. (1982). Adaptive EAP estimation of ability in a
       microcomputer environment. *Applied Psychological Measurement*, 6, 431-444.
.. [2] Reckase, M. D. (2009). *Multidimensional Item Response Theory*, ch. 6. Springer.
.. [3] Gibbons, R. D. & Hedeker, D. R. (1992). Full-information item bi-factor analysis.
       *Psychometrika*, 57, 423-436.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psychometrics.estep import log_likelihood_matrix
from psychometrics.items.multidimensional import MultidimensionalModel
from psychometrics.quadrature import grid_nodes, mvn_log_weights, product_nodes

__all__ = ["profile_scores", "directional_information", "DEFAULT_SCORING_POINTS"]

#: Quadrature points per dimension of EAP scoring by number of dimensions integrated.
DEFAULT_SCORING_POINTS = {1: 61, 2: 31, 3: 15}

#: Quasi-Monte Carlo points of EAP scoring with more than three factors.
QMC_SCORING_POINTS = 5000

# persons x nodes doubles held at once by EAP
_CELLS = 1 << 22


def _correlations(calibration: Any) -> np.ndarray:
    d = len(calibration.factors)
    if calibration.factor_correlations is None:
        return np.eye(d)
    return calibration.factor_correlations.to_numpy(dtype=np.float64)


def _slopes(calibration: Any) -> np.ndarray:
    names = [f"a{m}" for m in range(1, len(calibration.factors) + 1)]
    return calibration.slope_intercept[names].to_numpy(dtype=np.float64)


def _bifactor_sets(calibration: Any) -> list[np.ndarray] | None:
    """Item positions per specific factor (general-only items as one more set) when the
    calibration is a bifactor model, else None."""
    if calibration.factor_model != "bifactor":
        return None
    loads = _slopes(calibration)[:, 1:] != 0
    group = np.where(loads.any(axis=1), loads.argmax(axis=1), -1)
    return [np.flatnonzero(group == s) for s in sorted(set(group.tolist()))]


def _eap_grid(calibration: Any, codes: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    d = len(calibration.factors)
    if d > 3:
        # quasi-Monte Carlo points of N(0, I), reweighted to the factor distribution
        from psychometrics.irt.multidimensional import qmc_normal_nodes

        nodes = qmc_normal_nodes(points, d)
        log_w = mvn_log_weights(nodes, _correlations(calibration)) + 0.5 * np.einsum("qd,qd->q", nodes, nodes)
        log_w -= np.logaddexp.reduce(log_w)
    else:
        nodes = product_nodes(grid_nodes(points), d)
        log_w = mvn_log_weights(nodes, _correlations(calibration))
    log_probs = calibration.log_probabilities(nodes)
    n = codes.shape[0]
    theta = np.empty((n, d))
    se = np.empty((n, d))
    chunk = max(1, _CELLS // nodes.shape[0])
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        post = log_likelihood_matrix(codes[start:stop], log_probs) + log_w[None, :]
        post -= post.max(axis=1, keepdims=True)
        np.exp(post, out=post)
        post /= post.sum(axis=1, keepdims=True)
        mean = post @ nodes
        second = post @ (nodes * nodes)
        theta[start:stop] = mean
        se[start:stop] = np.sqrt(np.maximum(second - mean * mean, 0.0))
    return theta, se


def _eap_bifactor(calibration: Any, codes: np.ndarray, points: int,
                  sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """EAP by dimension reduction: the general factor's posterior, then each specific factor's
    posterior mean and variance given the general node, averaged over it."""
    d = len(calibration.factors)
    q1 = grid_nodes(points)
    g = q1.shape[0]
    log_w1 = mvn_log_weights(q1[:, None], np.eye(1))
    slopes = _slopes(calibration)
    n = codes.shape[0]
    theta = np.zeros((n, d))
    se = np.zeros((n, d))
    chunk = max(1, _CELLS // (g * g))
    # every item evaluated on the (general, its specific) grid
    grid2 = product_nodes(q1, 2)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        part = codes[start:stop]
        lls, margs, specific = [], [], []
        for cols in sets:
            spec = np.flatnonzero(slopes[cols][:, 1:].any(axis=0))
            s = int(spec[0]) + 1 if spec.size else -1
            full = np.zeros((grid2.shape[0], d))
            full[:, 0] = grid2[:, 0]
            if s > 0:
                full[:, s] = grid2[:, 1]
            log_probs = calibration.log_probabilities(full)[cols]
            ll = log_likelihood_matrix(part[:, cols], log_probs).reshape(-1, g, g) + log_w1[None, None, :]
            top = ll.max(axis=2, keepdims=True)
            margs.append(top[:, :, 0] + np.log(np.exp(ll - top).sum(axis=2)))
            lls.append(ll)
            specific.append(s)
        total = log_w1[None, :] + sum(margs)
        total -= total.max(axis=1, keepdims=True)
        post_g = np.exp(total)
        post_g /= post_g.sum(axis=1, keepdims=True)
        mean_g = post_g @ q1
        theta[start:stop, 0] = mean_g
        se[start:stop, 0] = np.sqrt(np.maximum(post_g @ (q1 * q1) - mean_g ** 2, 0.0))
        for s, ll, m in zip(specific, lls, margs):
            if s < 0:
                continue
            cond = np.exp(ll - m[:, :, None])                   # p(q | g, x_s), (n, G, Q)
            first = np.einsum("ng,ngq,q->n", post_g, cond, q1)
            second = np.einsum("ng,ngq,q->n", post_g, cond, q1 * q1)
            theta[start:stop, s] = first
            se[start:stop, s] = np.sqrt(np.maximum(second - first ** 2, 0.0))
    # specific factors without items keep their prior
    empty = ~_slopes(calibration).any(axis=0)
    se[:, empty] = 1.0
    return theta, se


def _map(calibration: Any, codes: np.ndarray, start: np.ndarray, tol: float,
         max_iter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = len(calibration.factors)
    precision = np.linalg.inv(_correlations(calibration))
    slopes = _slopes(calibration)
    n = codes.shape[0]
    answered = codes >= 0
    k_max = int(calibration.n_categories.max())
    onehot = np.zeros((calibration.n_items, n, k_max))
    rows, cols = np.nonzero(answered)
    onehot[cols, rows, codes[rows, cols]] = 1.0

    def objective(theta: np.ndarray) -> np.ndarray:
        log_p = calibration.log_probabilities(theta)                      # (J, n, K)
        picked = np.where(answered.T, np.take_along_axis(log_p, np.maximum(codes.T, 0)[:, :, None], 2)[:, :, 0],
                          0.0)
        return picked.sum(axis=0) - 0.5 * np.einsum("nd,de,ne->n", theta, precision, theta)

    def derivatives(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad = -theta @ precision
        hess = np.broadcast_to(-precision, (n, d, d)).copy()
        for grp in calibration._groups:
            m = grp.model if isinstance(grp.model, MultidimensionalModel) else MultidimensionalModel(grp.model, d)
            g, h = m.eta_derivatives(grp.params, theta, onehot[grp.positions][:, :, :grp.n_categories])
            a = slopes[grp.positions]                                        # (Jb, D)
            grad += g[:, :, 0].T @ a
            hess += np.einsum("jn,jd,je->nde", h[:, :, 0, 0], a, a)
        return grad, hess

    theta = start.copy()
    value = objective(theta)
    converged = np.zeros(n, dtype=bool)
    for _ in range(max_iter):
        grad, hess = derivatives(theta)
        top = np.linalg.eigvalsh(hess)[:, -1]
        shift = np.where(top > -1e-8, top + 1e-3, 0.0)
        safe = hess - shift[:, None, None] * np.eye(d)
        step = -np.linalg.solve(safe, grad[:, :, None])[:, :, 0]
        step = np.where(converged[:, None], 0.0, step)
        big = np.abs(step).max(axis=1, keepdims=True)
        step = np.where(big > 2.0, step * 2.0 / np.maximum(big, 1e-300), step)
        scale = np.ones(n)
        accepted = converged.copy()
        new_theta = theta.copy()
        new_value = value.copy()
        for _ in range(30):
            trial = theta + scale[:, None] * step
            trial_value = objective(trial)
            ok = ~accepted & (trial_value >= value - 1e-12 * np.abs(value))
            new_theta[ok] = trial[ok]
            new_value[ok] = trial_value[ok]
            accepted |= ok
            if accepted.all():
                break
            scale = np.where(accepted, scale, scale * 0.5)
        moved = np.abs(scale[:, None] * step).max(axis=1)
        theta, value = new_theta, new_value
        converged |= moved < tol
        if converged.all():
            break
    _, hess = derivatives(theta)
    try:
        cov = np.linalg.inv(-hess)
        se = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0))
    except np.linalg.LinAlgError:
        se = np.full((n, d), np.nan)
    return theta, se, converged


def profile_scores(calibration: Any, codes: np.ndarray, method: str = "eap", *,
                   quadrature_points: int | None = None, tol: float = 1e-8,
                   max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-factor estimates, standard errors (both (persons, D)) and Newton convergence
    (persons,) of encoded responses under a multidimensional calibration (module docstring).

    Parameters
    ----------
    calibration : Calibration
        With ``factors``.
    codes : ndarray of int (persons, items)
        :meth:`Calibration.encode` of the responses.
    method : {"eap", "map"}
    quadrature_points : int, optional
        Points per dimension of the EAP grid (default 61, 31, 15 for 1, 2, 3 dimensions; a
        bifactor model integrates two at a time); with more than three factors, the number of
        quasi-Monte Carlo points (default 5000).
    """
    if method not in ("eap", "map"):
        raise ValueError(f"method {method!r} is not available for multidimensional calibrations; use 'eap' or 'map'")
    if getattr(calibration, "is_multigroup", False):
        # one prior for everybody would be silently wrong for the focal groups
        raise ValueError("scoring a multi-group multidimensional calibration is not supported: each group has its "
                         "own factor means and covariances (factor_means, factor_covariances)")
    sets = _bifactor_sets(calibration)
    dims = 2 if sets is not None else len(calibration.factors)
    points = (DEFAULT_SCORING_POINTS.get(dims, QMC_SCORING_POINTS) if quadrature_points is None
              else int(quadrature_points))
    codes = np.asarray(codes)
    if sets is not None:
        theta, se = _eap_bifactor(calibration, codes, points, sets)
    else:
        theta, se = _eap_grid(calibration, codes, points)
    if method == "eap":
        return theta, se, np.ones(codes.shape[0], dtype=bool)
    return _map(calibration, codes, theta, tol, max_iter)


def directional_information(calibration: Any, theta: Any, direction: Any = None,
                            items: Any = None) -> np.ndarray:
    r"""Test information of a multidimensional calibration at points ``theta`` (Q, D).

    With ``direction`` (a vector of length D, normalized here) the information in that
    direction, :math:`I_{\mathbf u}(\boldsymbol\theta) = \sum_j (\mathbf a_j^\top\mathbf u)^2
    I_j(\eta_j)` (Reckase, 2009, ch. 5), shape (Q,); without it the information along each
    factor's axis, shape (Q, D).
    """
    d = len(calibration.factors)
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim == 1:
        theta = theta.reshape(1, -1) if theta.shape[0] == d else theta.reshape(-1, d)
    if theta.shape[1] != d:
        raise ValueError(f"theta has {theta.shape[1]} columns for a {d}-factor calibration")
    keep = np.ones(calibration.n_items, dtype=bool)
    if items is not None:
        wanted = set(map(str, items))
        unknown = wanted - set(calibration.item_ids)
        if unknown:
            raise ValueError(f"item(s) {sorted(unknown)} are not in the calibration")
        keep = np.array([i in wanted for i in calibration.item_ids])
    directions = np.eye(d) if direction is None else np.asarray(direction, dtype=np.float64).reshape(1, d)
    out = np.zeros((theta.shape[0], directions.shape[0]))
    for grp in calibration._groups:
        mine = keep[grp.positions]
        if not mine.any():
            continue
        for c, u in enumerate(directions):
            out[:, c] += grp.model.information(grp.params[mine], theta, u).sum(axis=0)
    return out[:, 0] if direction is not None else out
