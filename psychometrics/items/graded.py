r"""Samejima's graded response model (``graded``).

Cumulative probabilities are logistic in slope-intercept form (mirt's parameterization)

.. math:: P^*_k(\theta) = P(X \ge k \mid \theta) = \frac{1}{1 + \exp(-(a\theta + d_k))},
          \quad k = 1, \dots, K-1,

with :math:`P^*_0 = 1`, :math:`P^*_K = 0`, decreasing intercepts :math:`d_1 > \dots > d_{K-1}`
and category probabilities :math:`P_k = P^*_k - P^*_{k+1}`. The IRT form is
:math:`a, b_k = -d_k / a`.

References
----------
.. [1] Samejima, F. (1969). Estimation of latent ability using a response pattern of graded
       scores. *Psychometrika Monograph Supplement*, 17.
.. [2] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for the R
       environment. *Journal of Statistical Software*, 48(6).
"""

from __future__ import annotations

import numpy as np

from psychometrics._numeric import TINY as _TINY
from psychometrics._numeric import log1mexp
from psychometrics.items.base import ItemModel, log_sigmoid

__all__ = ["Graded"]


class Graded(ItemModel):
    """Graded response model for ordered categories, any K >= 2."""

    name = "graded"
    min_categories = 2
    max_categories = None

    def parameter_names(self, n_categories: int) -> list[str]:
        return ["a1"] + [f"d{k}" for k in range(1, n_categories)]

    def irt_parameter_names(self, n_categories: int) -> list[str]:
        return ["a"] + [f"b{k}" for k in range(1, n_categories)]

    def start_values(self, n_categories: int, n_items: int) -> np.ndarray:
        d = np.linspace(1.5, -1.5, n_categories - 1) if n_categories > 2 else np.zeros(1)
        return np.tile(np.concatenate([[1.0], d]), (n_items, 1))

    def data_start_values(self, n_categories: int, proportions: np.ndarray) -> np.ndarray:
        # logits of the marginal P(X >= k), widened for the N(0, 1) latent, nudged apart so
        # that empty tails still give strictly decreasing intercepts
        tail = np.cumsum(proportions[:, ::-1], axis=1)[:, ::-1][:, 1:]
        tail = np.clip(tail, 0.01, 0.99)
        d = np.log(tail / (1.0 - tail)) * np.sqrt(1.0 + 1.0 / 3.0)
        d -= np.arange(d.shape[1]) * 1e-3
        d = np.minimum.accumulate(d, axis=1) - np.arange(d.shape[1]) * 1e-3
        return np.column_stack([np.ones(proportions.shape[0]), d])

    def _z(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """(n_items, Q, K + 1) linear predictors with z_0 = +inf and z_K = -inf."""
        params = np.asarray(params, dtype=np.float64)
        a, d = params[:, 0], params[:, 1:]
        n, m = d.shape
        padded = np.empty((n, m + 2))
        padded[:, 0], padded[:, -1], padded[:, 1:-1] = np.inf, -np.inf, d
        return a[:, None, None] * np.asarray(theta, dtype=np.float64)[None, :, None] + padded[:, None, :]

    def log_probabilities(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        r"""Notes
        -----
        :math:`\log(\sigma(z_k) - \sigma(z_{k+1})) = \log\sigma(z_k) + \log\sigma(-z_{k+1})
        + \log(1 - e^{d_{k+1} - d_k})`, exact in the tails where the plain difference cancels.
        """
        params = np.asarray(params, dtype=np.float64)
        z = self._z(params, theta)
        d = params[:, 1:]
        n = d.shape[0]
        padded = np.concatenate([np.full((n, 1), np.inf), d, np.full((n, 1), -np.inf)], axis=1)
        step = padded[:, 1:] - padded[:, :-1]          # d_{k+1} - d_k, must be < 0
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.where(step < 0, log1mexp(step), -np.inf)
        gap = np.where(np.isnan(gap), -np.inf, gap)
        return log_sigmoid(z[:, :, :-1]) + log_sigmoid(-z[:, :, 1:]) + gap[:, None, :]

    def _cumulative_derivatives(self, params: np.ndarray, theta: np.ndarray):
        z = self._z(params, theta)
        sig = np.exp(log_sigmoid(z))
        s = np.exp(log_sigmoid(z) + log_sigmoid(-z))     # 0 at the infinite ends
        t = s * (1.0 - 2.0 * sig)
        return z, s, t

    def probability_derivative(self, params: np.ndarray, theta: np.ndarray, column: int) -> np.ndarray:
        r""":math:`P_k = \sigma(z_k) - \sigma(z_{k+1})`, :math:`z_k = a\theta + d_k`, so with
        :math:`s_k = \sigma(z_k)\sigma(-z_k)` (0 at :math:`z_0 = \infty`, :math:`z_K = -\infty`):
        :math:`\partial P_k/\partial a = \theta(s_k - s_{k+1})` and :math:`\partial P_k/\partial d_c
        = s_c([k = c] - [k + 1 = c])`."""
        _, s, _ = self._cumulative_derivatives(params, theta)
        if column == 0:
            return np.asarray(theta, dtype=np.float64)[None, :, None] * (s[:, :, :-1] - s[:, :, 1:])
        out = np.zeros(s.shape[:2] + (s.shape[2] - 1,))
        out[:, :, column] = s[:, :, column]
        out[:, :, column - 1] = -s[:, :, column]
        return out

    def gradient_hessian(self, params: np.ndarray, theta: np.ndarray,
                         counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Analytic derivatives of :math:`\sum_{q,k} r_{qk} \log P_k(\theta_q)`.

        Notes
        -----
        With :math:`s_k = P^*_k(1-P^*_k)` and :math:`t_k = s_k(1 - 2P^*_k)`:
        :math:`\partial P^*_k/\partial a = s_k\theta`, :math:`\partial P^*_k/\partial d_k = s_k`,
        :math:`\partial^2 P^*_k/\partial a^2 = t_k\theta^2`, :math:`\partial^2 P^*_k/\partial a
        \partial d_k = t_k\theta`, :math:`\partial^2 P^*_k/\partial d_k^2 = t_k`; category
        derivatives are differences of adjacent cumulative ones, combined by
        :func:`~psychometrics.items.base.gradient_hessian_from_derivatives`.
        """
        params = np.asarray(params, dtype=np.float64)
        theta = np.asarray(theta, dtype=np.float64)
        counts = np.asarray(counts, dtype=np.float64)
        n, n_par = params.shape
        _, s, t = self._cumulative_derivatives(params, theta)
        # The Hessian is an arrowhead (slope row and column) plus a tridiagonal band in the
        # intercepts: category k depends on the boundaries k and k+1 only. Summing the terms
        # of gradient_hessian_from_derivatives in that structure needs (items, Q, K) arrays,
        # not (items, Q, K, P, P) ones: O(K) memory per node instead of O(K^3).
        prob = np.exp(self.log_probabilities(params, theta))
        safe = np.maximum(prob, _TINY)
        w = counts / safe                                # r_k / P_k
        v = w / safe                                     # r_k / P_k^2
        th = theta[None, :]
        ds = s[:, :, :-1] - s[:, :, 1:]                  # dP_k/da = theta * ds_k
        s_in, t_in = s[:, :, 1:-1], t[:, :, 1:-1]        # inner boundaries m = 1..K-1
        dw = w[:, :, 1:] - w[:, :, :-1]                  # w_m - w_{m-1}
        grad = np.empty((n, n_par))
        grad[:, 0] = np.einsum("iq,iqk->i", np.broadcast_to(th, w.shape[:2]), w * ds)
        grad[:, 1:] = np.einsum("iqm->im", s_in * dw)
        hess = np.zeros((n, n_par, n_par))
        vds = v * ds
        hess[:, 0, 0] = np.einsum("iq,iq->i", np.broadcast_to(th * th, w.shape[:2]),
                                  np.einsum("iqm->iq", t_in * dw) - np.einsum("iqk->iq", vds * ds))
        cross = th[..., None] * (t_in * dw - s_in * (vds[:, :, 1:] - vds[:, :, :-1]))
        hess[:, 0, 1:] = hess[:, 1:, 0] = cross.sum(axis=1)
        inner = np.arange(1, n_par)
        hess[:, inner, inner] = np.einsum("iqm->im", t_in * dw - s_in * s_in * (v[:, :, 1:] + v[:, :, :-1]))
        if n_par > 2:
            band = np.einsum("iqm->im", v[:, :, 1:-1] * s_in[:, :, :-1] * s_in[:, :, 1:])
            hess[:, inner[:-1], inner[1:]] = hess[:, inner[1:], inner[:-1]] = band
        return grad, hess

    def information(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        r"""Fisher information :math:`I(\theta) = \sum_k (\partial P_k/\partial\theta)^2 / P_k`
        with :math:`\partial P_k/\partial\theta = a(s_k - s_{k+1})`."""
        params = np.asarray(params, dtype=np.float64)
        _, s, _ = self._cumulative_derivatives(params, theta)
        deriv = params[:, 0, None, None] * (s[:, :, :-1] - s[:, :, 1:])
        prob = np.exp(self.log_probabilities(params, theta))
        ratio = np.divide(deriv * deriv, prob, out=np.zeros_like(prob), where=prob > 0)
        return ratio.sum(axis=2)

    def to_irt(self, params: np.ndarray) -> np.ndarray:
        params = np.asarray(params, dtype=np.float64)
        out = params.copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, 1:] = -params[:, 1:] / params[:, :1]
        return out

    def irt_jacobian(self, params: np.ndarray) -> np.ndarray:
        # b_k = -d_k / a: db_k/da = d_k / a^2, db_k/dd_k = -1 / a
        params = np.asarray(params, dtype=np.float64)
        n_items, n_par = params.shape
        a = np.where(params[:, 0] == 0, np.nan, params[:, 0])
        jac = np.zeros((n_items, n_par, n_par))
        jac[:, 0, 0] = 1.0
        jac[:, 1:, 0] = params[:, 1:] / (a * a)[:, None]
        k = np.arange(1, n_par)
        jac[:, k, k] = (-1.0 / a)[:, None]
        return jac

    def from_irt(self, irt_params: np.ndarray) -> np.ndarray:
        irt_params = np.asarray(irt_params, dtype=np.float64)
        out = irt_params.copy()
        out[:, 1:] = -irt_params[:, 1:] * irt_params[:, :1]
        return out
