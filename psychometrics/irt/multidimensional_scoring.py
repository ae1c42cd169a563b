r"""Scoring and information of multidimensional calibrations (profiles of correlated traits).

:func:`profile_scores` is what :func:`psychometrics.scoring.score` runs for a calibration with
``factors``: every person gets one estimate and standard error per factor from the
multidimensional posterior, so a scale with few items borrows strength from the correlated
others.

EAP
    Posterior means and standard deviations on the tensor-product grid of
    :func:`~psychometrics.quadrature.product_nodes` with the calibration's
    :math:`N(\mathbf 0, \boldsymbol\Phi)` weights (persons in chunks, the compiled likelihood
    kernel of :mod:`psychometrics.estep`). Bifactor and two-tier calibrations are integrated by
    dimension reduction (the general factors' grid x one specific factor at a time,
    :func:`_eap_bifactor`), exactly, whatever the number of specific factors. Beyond three
    factors: quasi-Monte Carlo points placed around each person's posterior mode (importance
    sampling, :func:`_eap_adaptive`).
Groups
    A multi-group calibration scores each person under their group's factor means and
    covariances (:func:`group_priors`) instead of :math:`N(\mathbf 0, \boldsymbol\Phi)`: the grid
    of each axis spans that factor's mean +/- 6 SD, the weights are the group's normal density.
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
.. [4] Cai, L. (2010). A two-tier full-information item factor analysis model with
       applications. *Psychometrika*, 75, 581-612.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.estep import log_likelihood_matrix
from psychometrics.items.multidimensional import MultidimensionalModel
from psychometrics.quadrature import grid_nodes, mvn_log_weights, product_nodes

__all__ = ["profile_scores", "group_priors", "directional_information", "factor_marginal_reliability",
           "joint_scale_profile",
           "ScaleProfile", "DEFAULT_SCORING_POINTS"]

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


def _prior(calibration: Any, mean: np.ndarray | None, cov: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The factor distribution scored under: as given, else the reference N(0, Phi)."""
    d = len(calibration.factors)
    mean = np.zeros(d) if mean is None else np.asarray(mean, dtype=np.float64)
    cov = _correlations(calibration) if cov is None else np.asarray(cov, dtype=np.float64)
    return mean, cov


def group_priors(calibration: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""``(means (D,), covariance (D, D))`` of every group of a calibration, in ``calibration.groups``
    order (one entry, :math:`N(\mathbf 0, \boldsymbol\Phi)`, for a single-group calibration)."""
    if not getattr(calibration, "is_multigroup", False):
        return [_prior(calibration, None, None)]
    names = list(calibration.factors)
    out = []
    for label in calibration.groups:
        mean = calibration.factor_means.loc[label, names].to_numpy(dtype=np.float64)
        cov = calibration.factor_covariances.xs(label, level="group").loc[names, names].to_numpy(dtype=np.float64)
        out.append((mean, cov))
    return out


def _general_count(calibration: Any) -> int | None:
    """Number of general factors of a bifactor (1) or two-tier model, None for other models."""
    model = getattr(calibration, "factor_model", None)
    if model == "bifactor":
        return 1
    if model == "two-tier":
        return max(1, len(getattr(calibration, "general_factors", ()) or ()))
    return None


def _specific_of_items(calibration: Any, n_general: int) -> np.ndarray:
    """Specific factor (0-based, after the general ones) of every item, -1 for general-only items."""
    loads = _slopes(calibration)[:, n_general:] != 0
    return np.where(loads.any(axis=1), loads.argmax(axis=1), -1)


def _scaled_grid(points: int, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Product grid of ``points`` per dimension over each factor's mean +/- 6 SD and the
    normalized log-weights of N(mean, cov) on it (the reference N(0, Phi) keeps the fixed grid)."""
    d = mean.shape[0]
    nodes = mean[None, :] + product_nodes(grid_nodes(points), d) * np.sqrt(np.diag(cov))[None, :]
    return nodes, mvn_log_weights(nodes, cov, mean)


def _eap_grid(calibration: Any, codes: np.ndarray, points: int, mean: np.ndarray | None = None,
              cov: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """EAP and posterior SD on the product grid (up to three factors) or, beyond, on quasi-Monte
    Carlo points of the prior, under the factor distribution N(mean, cov) (default N(0, Phi))."""
    mean, cov = _prior(calibration, mean, cov)
    d = len(calibration.factors)
    if d > 3:
        # quasi-Monte Carlo points of N(0, I) moved to the factors' means and SDs, reweighted to N(mean, cov)
        from psychometrics.irt.multidimensional import qmc_normal_nodes

        z = qmc_normal_nodes(points, d)
        nodes = mean[None, :] + z * np.sqrt(np.diag(cov))[None, :]
        log_w = mvn_log_weights(nodes, cov, mean) + 0.5 * np.einsum("qd,qd->q", z, z)
        log_w -= np.logaddexp.reduce(log_w)
    else:
        nodes, log_w = _scaled_grid(points, mean, cov)
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
        first = post @ nodes
        second = post @ (nodes * nodes)
        theta[start:stop] = first
        se[start:stop] = np.sqrt(np.maximum(second - first * first, 0.0))
    return theta, se


#: Quasi-Monte Carlo points per person of EAP scoring beyond three factors.
ADAPTIVE_SCORING_POINTS = 1024


def _eap_adaptive(calibration: Any, codes: np.ndarray, points: int, mean: np.ndarray | None = None,
                  cov: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""EAP beyond three factors by per-person importance sampling.

    Quasi-Monte Carlo points drawn from the prior put almost none of their mass where a
    person's posterior is once the factors have a few items each (seven factors of seven items:
    a posterior SD near 0.45 per axis covers about 0.45^7 of the prior), which biases EAPs and
    shrinks posterior SDs. Each person's points are instead
    :math:`\boldsymbol\mu_n + 1.5\,\mathbf L_n\mathbf z_q` (z: scrambled Sobol points of
    N(0, I); mu, L L': the posterior mode and inverse Hessian, :func:`_map`), weighted by
    :math:`L(\mathbf x_n\mid\boldsymbol\theta)\,\phi(\boldsymbol\theta;\mathbf m,\boldsymbol\Sigma)
    / q_n(\boldsymbol\theta)` with the factor distribution :math:`N(\mathbf m, \boldsymbol\Sigma)`
    (default the reference :math:`N(\mathbf 0, \boldsymbol\Phi)`).
    """
    from psychometrics.irt.multidimensional import qmc_normal_nodes

    mean, prior_cov = _prior(calibration, mean, cov)
    d = len(calibration.factors)
    n = codes.shape[0]
    precision = np.linalg.inv(prior_cov)
    start = np.broadcast_to(mean, (n, d)).copy()
    mode, _, _, cov = _map(calibration, codes, start, 1e-6, 100, mean, prior_cov, with_covariance=True)
    bad = ~np.all(np.isfinite(cov), axis=(1, 2)) | ~np.all(np.isfinite(mode), axis=1)
    mode[bad] = mean
    cov[bad] = prior_cov
    try:
        chol = np.linalg.cholesky(cov) * 1.5
    except np.linalg.LinAlgError:
        chol = np.empty_like(cov)
        for i in range(n):
            vals, vecs = np.linalg.eigh(0.5 * (cov[i] + cov[i].T))
            chol[i] = np.linalg.cholesky((vecs * np.maximum(vals, 1e-4)) @ vecs.T) * 1.5
    z = qmc_normal_nodes(points, d)
    log_q = -0.5 * np.einsum("qd,qd->q", z, z)
    log_det = np.log(np.abs(np.diagonal(chol, axis1=1, axis2=2))).sum(axis=1)
    answered = codes >= 0
    idx = np.maximum(codes, 0)
    k_max = int(calibration.n_categories.max())
    chunk = max(1, _CELLS // (points * calibration.n_items * k_max))
    theta = np.empty((n, d))
    se = np.empty((n, d))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        m = stop - start
        nodes = mode[start:stop, None, :] + np.einsum("nde,qe->nqd", chol[start:stop], z)    # (m, Q, D)
        log_p = calibration.log_probabilities(nodes.reshape(-1, d)).reshape(calibration.n_items, m, points, k_max)
        picked = np.take_along_axis(log_p, idx[start:stop].T[:, :, None, None], axis=3)[..., 0]   # (J, m, Q)
        loglik = np.where(answered[start:stop].T[:, :, None], picked, 0.0).sum(axis=0)
        centred = nodes - mean[None, None, :]
        log_w = (loglik - 0.5 * ((centred @ precision) * centred).sum(axis=2)
                 - log_q[None, :] + log_det[start:stop, None])
        w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        first = np.matmul(w[:, None, :], nodes)[:, 0, :]
        theta[start:stop] = first
        se[start:stop] = np.sqrt(np.maximum(np.matmul(w[:, None, :], nodes * nodes)[:, 0, :] - first * first, 0.0))
    return theta, se


def _eap_bifactor(calibration: Any, codes: np.ndarray, points: int, n_general: int = 1,
                  mean: np.ndarray | None = None, cov: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""EAP and posterior SD of a bifactor or two-tier model by dimension reduction.

    With G general factors :math:`\boldsymbol\theta_0` (one block, :math:`N(\mathbf m_0,
    \boldsymbol\Sigma_0)`) and specific factors :math:`\xi_s \sim N(m_s, \sigma^2_s)`
    independent of it and of one another, item set :math:`s` depends on
    :math:`(\boldsymbol\theta_0, \xi_s)` only, so

    .. math::

        L(\mathbf x\mid\boldsymbol\theta_0) = L_0(\mathbf x_0\mid\boldsymbol\theta_0)\prod_s
        \int L_s(\mathbf x_s\mid\boldsymbol\theta_0,\xi_s)\,\phi(\xi_s; m_s, \sigma^2_s)\,d\xi_s

    (:math:`\mathbf x_0`: items on general factors only). The general factors' posterior is
    computed on the G-dimensional product grid, each specific integral on a one-dimensional
    grid at every general node; a specific factor's posterior moments are its conditional
    moments given the general node, averaged over the general posterior. Every item is
    evaluated once, on the (G+1)-dimensional grid, so the work is that of one (G+1)-dimensional
    integration whatever the number of specific factors.

    References
    ----------
    .. [1] Gibbons, R. D. & Hedeker, D. R. (1992). Full-information item bi-factor analysis.
           *Psychometrika*, 57, 423-436.
    .. [2] Cai, L. (2010). A two-tier full-information item factor analysis model with
           applications. *Psychometrika*, 75, 581-612.
    """
    from psychometrics.estep_bifactor import bifactor_moments

    mean, cov = _prior(calibration, mean, cov)
    d = len(calibration.factors)
    g_dims = int(n_general)
    z = grid_nodes(points)
    sd = np.sqrt(np.diag(cov))
    general, log_wg = _scaled_grid(points, mean[:g_dims], cov[:g_dims, :g_dims])
    # every specific factor at its own node z_q at once: an item loads on one of them only
    spec_nodes = mean[g_dims:, None] + sd[g_dims:, None] * z[None, :]                  # (S, P)
    full = np.empty((general.shape[0], z.shape[0], d))
    full[:, :, :g_dims] = general[:, None, :]
    full[:, :, g_dims:] = spec_nodes.T[None, :, :]
    log_probs = calibration.log_probabilities(full.reshape(-1, d))                      # (J, Qg*P, K)
    # item sets: one per specific factor with items, plus the general-only items (constant in q)
    factor_of_set, item_set = np.unique(_specific_of_items(calibration, g_dims), return_inverse=True)
    set_nodes = np.zeros((factor_of_set.size, z.shape[0]))
    log_ws = np.empty_like(set_nodes)
    for k, f in enumerate(factor_of_set):
        if f < 0:
            log_ws[k] = mvn_log_weights(z[:, None], np.eye(1))
        else:
            set_nodes[k] = spec_nodes[f]
            m = g_dims + f
            log_ws[k] = mvn_log_weights(spec_nodes[f][:, None], cov[m:m + 1, m:m + 1], mean[m:m + 1])
    moments = bifactor_moments(codes, log_probs, item_set, log_wg, log_ws, general, set_nodes)
    n = codes.shape[0]
    theta = np.broadcast_to(mean, (n, d)).copy()
    se = np.broadcast_to(sd, (n, d)).copy()       # specific factors without items keep their prior
    theta[:, :g_dims] = moments.general_mean
    se[:, :g_dims] = np.sqrt(np.maximum(moments.general_second - moments.general_mean ** 2, 0.0))
    for k, f in enumerate(factor_of_set):
        if f >= 0:
            theta[:, g_dims + f] = moments.set_mean[:, k]
            se[:, g_dims + f] = np.sqrt(np.maximum(moments.set_second[:, k] - moments.set_mean[:, k] ** 2, 0.0))
    return theta, se


def _map(calibration: Any, codes: np.ndarray, start: np.ndarray, tol: float,
         max_iter: int, mean: np.ndarray | None = None, cov: np.ndarray | None = None,
         with_covariance: bool = False) -> Any:
    mean, cov = _prior(calibration, mean, cov)
    d = len(calibration.factors)
    precision = np.linalg.inv(cov)
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
        centred = theta - mean[None, :]
        return picked.sum(axis=0) - 0.5 * np.einsum("nd,de,ne->n", centred, precision, centred)

    def derivatives(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad = -(theta - mean[None, :]) @ precision
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
        cov = np.full((n, d, d), np.nan)
        se = np.full((n, d), np.nan)
    if with_covariance:
        return theta, se, converged, cov
    return theta, se, converged


def profile_scores(calibration: Any, codes: np.ndarray, method: str = "eap", *,
                   group_codes: np.ndarray | None = None, quadrature_points: int | None = None,
                   tol: float = 1e-8, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-factor estimates, standard errors (both (persons, D)) and Newton convergence
    (persons,) of encoded responses under a multidimensional calibration (module docstring).

    Parameters
    ----------
    calibration : Calibration
        With ``factors``.
    codes : ndarray of int (persons, items)
        :meth:`Calibration.encode` of the responses.
    method : {"eap", "map"}
    group_codes : ndarray of int (persons,), optional
        Position of each person's group in ``calibration.groups``; required for a multi-group
        calibration, whose persons are scored under their group's factor means and covariances
        (:func:`group_priors`), one group at a time.
    quadrature_points : int, optional
        Points per dimension of the EAP grid (default 61, 31, 15 for 1, 2, 3 dimensions; a
        bifactor model integrates two at a time, a two-tier model G + 1 with G general
        factors); with more than three factors (not bifactor or two-tier), the number of
        quasi-Monte Carlo points per person around the posterior mode (default 1024,
        :func:`_eap_adaptive`).
    """
    if method not in ("eap", "map"):
        raise ValueError(f"method {method!r} is not available for multidimensional calibrations; use 'eap' or 'map'")
    codes = np.asarray(codes)
    priors = group_priors(calibration)
    if len(priors) > 1:
        if group_codes is None:
            # one prior for everybody would be silently wrong for the focal groups
            raise ValueError(f"a multi-group multidimensional calibration (groups {list(calibration.groups)}) scores "
                             "each person under their group's factor means and covariances: pass group= (a column "
                             "of the responses or one label per person)")
        group_codes = np.asarray(group_codes, dtype=np.int64)
    else:
        group_codes = np.zeros(codes.shape[0], dtype=np.int64)
    n_general = _general_count(calibration)
    dims = len(calibration.factors) if n_general is None else min(n_general + 1, 3)
    points = (DEFAULT_SCORING_POINTS.get(dims, ADAPTIVE_SCORING_POINTS) if quadrature_points is None
              else int(quadrature_points))
    n, d = codes.shape[0], len(calibration.factors)
    theta = np.empty((n, d))
    se = np.empty((n, d))
    converged = np.ones(n, dtype=bool)
    for g, (mean, cov) in enumerate(priors):
        rows = np.flatnonzero(group_codes == g)
        if len(priors) > 1 and not rows.size:
            continue
        part = codes if len(priors) == 1 else codes[rows]
        if n_general is not None:
            t, s = _eap_bifactor(calibration, part, points, n_general, mean, cov)
        elif dims > 3:
            t, s = _eap_adaptive(calibration, part, points, mean, cov)
        else:
            t, s = _eap_grid(calibration, part, points, mean, cov)
        if method == "map":
            t, s, c = _map(calibration, part, t, tol, max_iter, mean, cov)
            converged[rows] = c
        theta[rows], se[rows] = t, s
    return theta, se, converged


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


def _prior_points(calibration: Any, points: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (Q, D) and normalized weights (Q,) of the calibration's N(0, Phi) factor
    distribution: the tensor-product grid up to three factors, quasi-Monte Carlo points of
    N(0, I) reweighted to N(0, Phi) beyond."""
    d = len(calibration.factors)
    if d > 3:
        from psychometrics.irt.multidimensional import qmc_normal_nodes

        nodes = qmc_normal_nodes(QMC_SCORING_POINTS if points is None else int(points), d)
        log_w = mvn_log_weights(nodes, _correlations(calibration)) + 0.5 * np.einsum("qd,qd->q", nodes, nodes)
        log_w -= np.logaddexp.reduce(log_w)
    else:
        nodes = product_nodes(grid_nodes(DEFAULT_SCORING_POINTS[d] if points is None else int(points)), d)
        log_w = mvn_log_weights(nodes, _correlations(calibration))
    return nodes, np.exp(log_w)


def information_matrices(calibration: Any, theta: np.ndarray) -> np.ndarray:
    r"""Test information matrices :math:`\mathbf I(\boldsymbol\theta_q) = \sum_j
    I^{\eta}_j(\eta_{jq})\,\mathbf a_j\mathbf a_j^\top` of a compensatory multidimensional
    calibration at points ``theta`` (Q, D), shape (Q, D, D); :math:`I^{\eta}_j` is item j's
    information in :math:`\eta = \mathbf a_j^\top\boldsymbol\theta` (Reckase, 2009, ch. 5)."""
    d = len(calibration.factors)
    theta = np.asarray(theta, dtype=np.float64).reshape(-1, d)
    slopes = _slopes(calibration)
    # information along each item's strongest axis, divided by that slope squared, is I^eta
    axis = np.abs(slopes).argmax(axis=1)
    eta_info = np.zeros((calibration.n_items, theta.shape[0]))
    for grp in calibration._groups:
        for m in np.unique(axis[grp.positions]):
            mine = axis[grp.positions] == m
            a_m = slopes[grp.positions[mine], m]
            along = grp.model.information(grp.params[mine], theta, np.eye(d)[m])
            eta_info[grp.positions[mine]] = along / np.where(a_m == 0.0, 1.0, a_m ** 2)[:, None]
    return np.einsum("jq,jd,je->qde", eta_info, slopes, slopes)


def factor_marginal_reliability(calibration: Any, *, quadrature_points: int | None = None) -> pd.Series:
    r"""Marginal reliability of each factor of a multidimensional calibration.

    Parameters
    ----------
    calibration : Calibration
        With ``factors`` (confirmatory, exploratory or bifactor).
    quadrature_points : int, optional
        Points per dimension of the integration grid (default 61, 31, 15 for 1, 2, 3
        factors); with more than three factors, quasi-Monte Carlo points (default 5000).

    Returns
    -------
    Series
        Indexed by factor name.

    Notes
    -----
    The multidimensional form of the unidimensional marginal reliability
    :math:`\int I/(I + 1)\,g` (:func:`psychometrics.scoring.marginal_reliability`): with
    :math:`\boldsymbol\Phi` the factor correlations and the asymptotic posterior covariance
    :math:`(\mathbf I(\boldsymbol\theta) + \boldsymbol\Phi^{-1})^{-1}`,

    .. math:: \bar\rho_m = 1 - \frac{1}{\Phi_{mm}}\int
              \big[(\mathbf I(\boldsymbol\theta) + \boldsymbol\Phi^{-1})^{-1}\big]_{mm}
              \, g(\boldsymbol\theta; \boldsymbol\Phi)\, d\boldsymbol\theta,

    integrated over :math:`N(\mathbf 0, \boldsymbol\Phi)`. With one factor it is the
    unidimensional value exactly; a correlated factor with few items gains from the others
    through the off-diagonal terms of :math:`\boldsymbol\Phi^{-1}`.

    References
    ----------
    .. [1] Green, B. F., Bock, R. D., Humphreys, L. G., Linn, R. L. & Reckase, M. D. (1984).
           Technical guidelines for assessing computerized adaptive tests. *Journal of
           Educational Measurement*, 21, 347-360.
    .. [2] Reckase, M. D. (2009). *Multidimensional Item Response Theory*, ch. 5. Springer.
    """
    if not getattr(calibration, "is_multidimensional", False):
        raise ValueError("factor_marginal_reliability is for multidimensional calibrations; use "
                         "scoring.marginal_reliability for a unidimensional one")
    corr = _correlations(calibration)
    nodes, weights = _prior_points(calibration, quadrature_points)
    precision = np.linalg.inv(corr)
    posterior = np.linalg.inv(information_matrices(calibration, nodes) + precision[None])
    error = np.einsum("q,qdd->d", weights, posterior)
    return pd.Series(1.0 - error / np.diag(corr), index=pd.Index(list(calibration.factors), name="factor"),
                     name="marginal_reliability")


#: Grid points per dimension of :func:`joint_scale_profile` by number of scales (EAP within 1e-4
#: of a 61-point grid on the bundled sample).
PROFILE_GRID_POINTS = {1: 61, 2: 41, 3: 31}

#: Quasi-Monte Carlo points per person of :func:`joint_scale_profile` beyond three scales.
PROFILE_QMC_POINTS = 2048

#: Spread of the per-person proposal relative to the scale's own posterior SD.
_PROPOSAL_INFLATION = 1.5

#: Step of the one-dimensional grid on which each scale's log-likelihood is interpolated.
_LOGLIK_STEP = 0.025


@dataclass(frozen=True)
class ScaleProfile:
    """Unidimensional scale calibrations scored as one correlated-factors model.

    Attributes
    ----------
    correlations : ndarray (D, D)
        Latent correlations of the scales (estimated, or as given).
    theta, se : ndarray (persons, D)
        EAP estimates and posterior standard deviations per scale.
    loglik : float
        Marginal log-likelihood of the responses at ``correlations``.
    n_iter : int
        EM iterations of the correlations (0 when they were given).
    converged : bool
    """

    correlations: np.ndarray
    theta: np.ndarray
    se: np.ndarray
    loglik: float
    n_iter: int
    converged: bool

    def __repr__(self) -> str:
        return (f"ScaleProfile(scales={self.correlations.shape[0]}, persons={self.theta.shape[0]}, "
                f"loglik={self.loglik:.4f}, n_iter={self.n_iter}, converged={self.converged})")

    def to_frame(self) -> pd.DataFrame:
        """Per person and scale (numbered 0..D-1): ``theta_<m>`` and ``se_<m>``."""
        d = self.theta.shape[1]
        columns = {f"theta_{m}": self.theta[:, m] for m in range(d)}
        columns.update({f"se_{m}": self.se[:, m] for m in range(d)})
        return pd.DataFrame(columns)

    def summary(self) -> str:
        d = self.correlations.shape[0]
        off = self.correlations[np.triu_indices(d, 1)]
        span = f", correlations {off.min():.2f} to {off.max():.2f}" if off.size else ""
        return (f"{d} scales scored jointly, {self.theta.shape[0]} persons{span}, mean SE "
                + ", ".join(f"{v:.3f}" for v in np.nanmean(self.se, axis=0))
                + ("" if self.converged else " (correlations NOT converged)"))


class _GridProfile:
    """Up to three scales: the tensor-product grid, one likelihood matrix for all EM passes."""

    def __init__(self, calibrations: Sequence[Any], codes: Sequence[np.ndarray], points: int | None) -> None:
        d = len(calibrations)
        self.nodes = product_nodes(grid_nodes(PROFILE_GRID_POINTS[d] if points is None else int(points)), d)
        self.codes = codes
        self.log_probs = [cal.log_probabilities(self.nodes[:, m]) for m, cal in enumerate(calibrations)]
        n, q = int(codes[0].shape[0]), self.nodes.shape[0]
        chunk = max(1, _CELLS // q)
        self.bounds = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
        # the likelihood matrix is kept when it is small, recomputed per pass otherwise
        self.kept = [self._loglik(lo, hi) for lo, hi in self.bounds] if n * q <= 8 * _CELLS else None

    def _loglik(self, lo: int, hi: int) -> np.ndarray:
        return sum(log_likelihood_matrix(c[lo:hi], lp) for c, lp in zip(self.codes, self.log_probs))

    def chunks(self, corr: np.ndarray):
        """(lo, hi, nodes (Q, D) shared by the chunk's persons, log joint weights (n, Q))."""
        log_w = mvn_log_weights(self.nodes, corr)
        for b, (lo, hi) in enumerate(self.bounds):
            ll = self.kept[b] if self.kept is not None else self._loglik(lo, hi)
            yield lo, hi, self.nodes, ll + log_w[None, :]


class _AdaptiveProfile:
    r"""Beyond three scales: per-person quasi-Monte Carlo importance sampling.

    Person n's points are :math:`\boldsymbol\theta_{nq} = \mathbf m_n + c\,\mathbf s_n \odot
    \mathbf z_q` (z: scrambled Sobol points of N(0, I); m, s: the person's posterior means and
    SDs of each scale alone; c = 1.5), weighted by
    :math:`L(\mathbf x_n\mid\boldsymbol\theta_{nq})\,\phi(\boldsymbol\theta_{nq};\boldsymbol\Phi) /
    q_n(\boldsymbol\theta_{nq})`. The likelihood factorizes over scales, so each scale's
    log-likelihood is computed once on a fine one-dimensional grid (step 0.025) and
    interpolated linearly at the points.
    """

    def __init__(self, calibrations: Sequence[Any], codes: Sequence[np.ndarray], points: int | None) -> None:
        from psychometrics.irt.multidimensional import qmc_normal_nodes

        d = len(calibrations)
        self.grid = np.arange(-6.0, 6.0 + _LOGLIK_STEP / 2, _LOGLIK_STEP)
        self.z = qmc_normal_nodes(PROFILE_QMC_POINTS if points is None else int(points), d)
        self.log_q_z = -0.5 * np.einsum("qd,qd->q", self.z, self.z)
        prior = -0.5 * self.grid ** 2
        self.loglik = []                                           # per scale (n, G)
        mean, sd = [], []
        for cal, c in zip(calibrations, codes):
            ll = log_likelihood_matrix(c, cal.log_probabilities(self.grid))
            self.loglik.append(ll)
            post = ll + prior[None, :]
            post = np.exp(post - post.max(axis=1, keepdims=True))
            post /= post.sum(axis=1, keepdims=True)
            m = post @ self.grid
            mean.append(m)
            sd.append(np.sqrt(np.maximum(post @ self.grid ** 2 - m * m, _LOGLIK_STEP ** 2)))
        self.mean = np.column_stack(mean)
        self.spread = _PROPOSAL_INFLATION * np.column_stack(sd)
        n, q = self.mean.shape[0], self.z.shape[0]
        chunk = max(1, _CELLS // (q * d))
        self.bounds = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
        self.kept: list[np.ndarray] | None = None

    def _interpolated(self, m: int, lo: int, hi: int, values: np.ndarray) -> np.ndarray:
        position = np.clip((values - self.grid[0]) / _LOGLIK_STEP, 0.0, self.grid.size - 1.000001)
        left = position.astype(np.int64)
        frac = position - left
        table = self.loglik[m][lo:hi]
        rows = np.arange(hi - lo)[:, None]
        return (1.0 - frac) * table[rows, left] + frac * table[rows, left + 1]

    def _points(self, lo: int, hi: int) -> np.ndarray:
        return self.mean[lo:hi, None, :] + self.spread[lo:hi, None, :] * self.z[None, :, :]      # (n, Q, D)

    def _likelihood_ratio(self, lo: int, hi: int, theta: np.ndarray) -> np.ndarray:
        """log L(x | theta) - log q(theta) - log Q: the part of the weights that Phi leaves alone."""
        log_w = sum(self._interpolated(m, lo, hi, theta[:, :, m]) for m in range(theta.shape[2]))
        # minus the proposal's log-density (its normalizing constant per person included)
        log_w -= self.log_q_z[None, :] - np.log(self.spread[lo:hi]).sum(axis=1)[:, None]
        return log_w - np.log(self.z.shape[0])

    def chunks(self, corr: np.ndarray):
        precision = np.linalg.inv(corr)
        log_det = np.linalg.slogdet(corr)[1]
        if self.kept is None and self.mean.shape[0] * self.z.shape[0] <= 8 * _CELLS:
            self.kept = [self._likelihood_ratio(lo, hi, self._points(lo, hi)) for lo, hi in self.bounds]
        for b, (lo, hi) in enumerate(self.bounds):
            theta = self._points(lo, hi)
            ratio = self.kept[b] if self.kept else self._likelihood_ratio(lo, hi, theta)
            yield lo, hi, theta, ratio - 0.5 * ((theta @ precision) * theta).sum(axis=2) - 0.5 * log_det


def joint_scale_profile(calibrations: Sequence[Any], codes: Sequence[np.ndarray], *,
                        correlations: np.ndarray | None = None, start: np.ndarray | None = None,
                        quadrature_points: int | None = None, integration: str | None = None,
                        tol: float = 1e-5, max_iter: int = 500) -> ScaleProfile:
    r"""Score D unidimensional scale calibrations as one model with correlated traits.

    Parameters
    ----------
    calibrations : sequence of Calibration
        One unidimensional calibration per scale, each with a standard normal trait; their
        item parameters are kept as they are.
    codes : sequence of ndarray of int (persons, items of the scale)
        :meth:`Calibration.encode` of each scale's responses, same persons in the same order.
    correlations : ndarray (D, D), optional
        Latent correlations to use; by default estimated by marginal maximum likelihood.
    start : ndarray (D, D), optional
        Starting correlations of the estimation (default the identity).
    quadrature_points : int, optional
        Points per dimension (61, 41, 31 for 1-3 scales) or, beyond three scales,
        quasi-Monte Carlo points per person (default 2048).
    integration : {"grid", "adaptive"}, optional
        Tensor-product grid (default up to three scales) or per-person quasi-Monte Carlo
        points (default beyond).
    tol, max_iter : float, int
        EM stops when no correlation changes by more than ``tol``.

    Notes
    -----
    Items of scale s depend on :math:`\theta_s` only, so a person's likelihood at a node
    :math:`\boldsymbol\theta_q` is :math:`\prod_s L_s(\mathbf x_s \mid \theta_{qs})`, each
    factor computed by the compiled kernel of :mod:`psychometrics.estep` from the scale's own
    calibration. The traits are :math:`N(\mathbf 0, \boldsymbol\Phi)`; EM alternates the
    posterior over fixed nodes with the M-step of the calibration
    (:func:`psychometrics.irt.multidimensional._correlation_mstep`). Up to three scales the
    nodes are the tensor-product grid (41 or 31 points per dimension: EAPs within 1e-4 of a
    61-point grid on the bundled sample), the likelihood matrix computed once. Beyond three
    scales, each person gets quasi-Monte Carlo points around the scale-alone posteriors
    (:class:`_AdaptiveProfile`, importance sampling; 2048 points give EAPs within 2e-3 of the
    61-point grid with three scales), and the M-step uses the posterior second moments.
    """
    from psychometrics.irt.multidimensional import _correlation_mstep

    d = len(calibrations)
    n = int(codes[0].shape[0])
    start = np.eye(d) if start is None else np.asarray(start, dtype=np.float64)
    corr = np.asarray(correlations if correlations is not None else start, dtype=np.float64).copy()
    if integration is None:
        integration = "grid" if d <= 3 else "adaptive"
    if integration not in ("grid", "adaptive"):
        raise ValueError(f"integration must be 'grid' or 'adaptive', got {integration!r}")
    if integration == "grid" and d > 3:
        raise ValueError(f"a grid for {d} scales has too many nodes; use integration='adaptive'")
    sampler = (_GridProfile if integration == "grid" else _AdaptiveProfile)(calibrations, codes, quadrature_points)

    def passes(corr: np.ndarray, moments: bool) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
        second = np.zeros((d, d))
        counts = np.zeros(0)
        total = 0.0
        theta = np.empty((n, d))
        se = np.empty((n, d))
        for lo, hi, nodes, log_w in sampler.chunks(corr):
            top = log_w.max(axis=1, keepdims=True)
            post = np.exp(log_w - top)
            mass = post.sum(axis=1, keepdims=True)
            total += float((top[:, 0] + np.log(mass[:, 0])).sum())
            post /= mass
            if nodes.ndim == 2:
                counts = post.sum(axis=0) + (counts if counts.size else 0.0)
            else:
                flat = nodes.reshape(-1, d)
                second += (flat * post.reshape(-1)[:, None]).T @ flat
            if moments:
                if nodes.ndim == 2:
                    mean, square = post @ nodes, post @ (nodes * nodes)
                else:
                    mean = np.matmul(post[:, None, :], nodes)[:, 0, :]
                    square = np.matmul(post[:, None, :], nodes * nodes)[:, 0, :]
                theta[lo:hi] = mean
                se[lo:hi] = np.sqrt(np.maximum(square - mean * mean, 0.0))
        return second, counts, total, theta, se

    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    n_iter, converged = 0, True
    if correlations is None and pairs:
        converged = False
        for n_iter in range(1, int(max_iter) + 1):
            second, counts, _, _, _ = passes(corr, False)
            if counts.size:
                # the grid: the calibration's M-step on the normalized grid weights
                new = _correlation_mstep(sampler.nodes, counts, corr, pairs)
            else:
                new = _pseudo_mstep(second, corr, pairs, n)
            change = float(np.max(np.abs(new - corr)))
            corr = new
            if change < tol:
                converged = True
                break
    _, _, loglik, theta, se = passes(corr, True)
    return ScaleProfile(corr, theta, se, loglik, n_iter, converged)


def _pseudo_mstep(second: np.ndarray, corr: np.ndarray, pairs: list[tuple[int, int]], n: int) -> np.ndarray:
    """Correlations maximizing the expected log prior density given the posterior second moments."""
    from psychometrics.irt.multidimensional import _correlation_mstep

    d = corr.shape[0]
    # sum_n E[log phi(theta; Phi)] = -tr(Phi^-1 S)/2 - n log|Phi|/2 depends on the posterior draws
    # only through S: D pseudo-nodes with weight n/D carry exactly that S into the calibration's
    # correlation M-step
    vals, vecs = np.linalg.eigh(0.5 * (second + second.T))
    pseudo = (vecs * np.sqrt(np.maximum(vals, 0.0) * d / n)).T
    return _correlation_mstep(pseudo, np.full(d, n / d), corr, pairs, continuous=True)
