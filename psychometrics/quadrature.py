r"""Fixed-grid quadrature for a normal latent trait.

mirt's default for one dimension: ``quadrature_points`` equally spaced nodes on
``[-bound, bound]`` (61 on [-6, 6]) with weights proportional to the normal density at the
nodes, normalized to sum to one. When the latent mean or variance is estimated the nodes stay
where they are and only the weights change, as in mirt's EM; ``rescale=True`` instead moves the
nodes to ``mean + sd * node`` (useful for scoring under a wide latent distribution).

Notes
-----
.. math:: w_q = \frac{\phi((\theta_q - \mu)/\sigma)}{\sum_r \phi((\theta_r - \mu)/\sigma)}

References
----------
.. [1] Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item
       parameters: Application of an EM algorithm. *Psychometrika*, 46, 443-459.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Quadrature", "grid_nodes", "normal_quadrature", "normal_log_weights", "normal_log_weight_gradient",
           "DEFAULT_POINTS", "DEFAULT_BOUND"]

#: mirt's default grid for one dimension: 61 nodes on [-6, 6].
DEFAULT_POINTS = 61
DEFAULT_BOUND = 6.0


@dataclass(frozen=True)
class Quadrature:
    """Nodes and normalized weights (both (Q,), float64); ``log_weights`` = log(weights)."""

    nodes: np.ndarray
    weights: np.ndarray
    log_weights: np.ndarray


def normal_log_weights(nodes: np.ndarray, mean: float = 0.0, variance: float = 1.0) -> np.ndarray:
    """Log of normal-density weights at fixed ``nodes``, normalized to sum to one."""
    if not variance > 0:
        raise ValueError(f"latent variance must be positive, got {variance}")
    log_density = -0.5 * (np.asarray(nodes, dtype=np.float64) - mean) ** 2 / variance
    return log_density - np.logaddexp.reduce(log_density)


def grid_nodes(quadrature_points: int = DEFAULT_POINTS, bound: float = DEFAULT_BOUND,
               minimum: int = 5) -> np.ndarray:
    """The fixed nodes of calibration, scoring, fit and DIF: ``quadrature_points`` equally
    spaced on ``[-bound, bound]``.

    Raises
    ------
    ValueError
        When ``quadrature_points`` is not an integer of at least ``minimum``.
    """
    if (isinstance(quadrature_points, bool) or int(quadrature_points) != quadrature_points
            or quadrature_points < minimum):
        raise ValueError(f"quadrature_points must be an integer of at least {minimum}, got {quadrature_points!r}")
    return np.linspace(-bound, bound, int(quadrature_points))


def normal_log_weight_gradient(nodes: np.ndarray, mean: float = 0.0,
                               variance: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact derivatives of the normalized log weights :func:`normal_log_weights` with respect
    to the latent mean and variance, each (Q,).

    Notes
    -----
    With :math:`\ell_q = -(\theta_q-\mu)^2 / (2\sigma^2)` and
    :math:`\log w_q = \ell_q - \log\sum_r e^{\ell_r}`,

    .. math::
        \frac{\partial \log w_q}{\partial \mu} = s_q - \sum_r w_r s_r,\quad
        s_q = \frac{\theta_q - \mu}{\sigma^2};\qquad
        \frac{\partial \log w_q}{\partial \sigma^2} = t_q - \sum_r w_r t_r,\quad
        t_q = \frac{(\theta_q - \mu)^2}{2\sigma^4}.

    The weights' own derivatives are :math:`w_q` times these.
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    w = np.exp(normal_log_weights(nodes, mean, variance))
    dev = nodes - mean
    s = dev / variance
    t = dev * dev / (2.0 * variance * variance)
    return s - w @ s, t - w @ t


def normal_quadrature(quadrature_points: int = 61, *, mean: float = 0.0, variance: float = 1.0,
                      bound: float = 6.0, rescale: bool = False) -> Quadrature:
    """Equally spaced quadrature for a N(mean, variance) latent trait.

    Parameters
    ----------
    quadrature_points : int
        Number of nodes (at least 3).
    mean, variance : float
        Latent mean and variance.
    bound : float
        Nodes span ``[-bound, bound]`` (before rescaling).
    rescale : bool
        Move the nodes to ``mean + sqrt(variance) * node`` instead of reweighting fixed nodes.

    Examples
    --------
    >>> q = normal_quadrature()
    >>> q.nodes.shape, round(float(q.weights.sum()), 12)
    ((61,), 1.0)
    """
    if not bound > 0:
        raise ValueError(f"bound must be positive, got {bound}")
    nodes = grid_nodes(quadrature_points, bound, minimum=3)
    if rescale:
        if not variance > 0:
            raise ValueError(f"latent variance must be positive, got {variance}")
        nodes = mean + np.sqrt(variance) * nodes
    log_w = normal_log_weights(nodes, mean, variance)
    return Quadrature(nodes=nodes, weights=np.exp(log_w), log_weights=log_w)
