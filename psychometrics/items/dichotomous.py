r"""Dichotomous logistic models: ``rasch``, ``1pl``, ``2pl``, ``3pl``, ``4pl``.

All five share one response function (mirt's parameterization)

.. math:: P(X = 1 \mid \theta) = g + \frac{u - g}{1 + \exp(-(a\theta + d))}

and differ in which of ``a1, d, g, u`` they estimate: ``rasch`` fixes ``a1 = 1`` (the latent
variance is estimated instead), ``1pl`` ties one slope across its items, ``2pl`` has ``g = 0,
u = 1``, ``3pl`` adds the lower asymptote ``g`` and ``4pl`` the upper asymptote ``u``. The IRT
form is ``a, b = -d / a`` (plus ``g``, ``u``).

References
----------
.. [1] Birnbaum, A. (1968). Some latent trait models and their use in inferring an examinee's
       ability. In Lord & Novick, *Statistical Theories of Mental Test Scores*.
.. [2] Barton, M. A. & Lord, F. M. (1981). An upper asymptote for the three-parameter logistic
       item-response model. ETS Research Report 81-20.
.. [3] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for the R
       environment. *Journal of Statistical Software*, 48(6).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from psychometrics._numeric import LOG_FLOOR, MAX_EXP
from psychometrics._numeric import TINY as _TINY
from psychometrics.items.base import ItemModel, log_sigmoid

__all__ = ["Dichotomous", "Rasch", "OnePL", "TwoPL", "ThreePL", "FourPL"]

_FULL = ("a1", "d", "g", "u")
_IRT = {"a1": "a", "d": "b", "g": "g", "u": "u"}
_DEFAULTS = {"a1": 1.0, "d": 0.0, "g": 0.0, "u": 1.0}


def _ratios(counts: np.ndarray, log_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``counts / P`` and ``counts / P**2`` (0 where counts are 0), exponents capped at 600."""
    positive = counts > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_r = np.where(positive, np.log(np.where(positive, counts, 1.0)), -np.inf)
        lp = np.where(np.isfinite(log_p), log_p, LOG_FLOOR)
        rho = np.where(positive, np.exp(np.minimum(log_r - lp, MAX_EXP)), 0.0)
        phi = np.where(positive, np.exp(np.minimum(log_r - 2.0 * lp, MAX_EXP)), 0.0)
    return rho, phi


class Dichotomous(ItemModel):
    """Common implementation; subclasses only state which parameters they carry."""

    min_categories: ClassVar[int] = 2
    max_categories: ClassVar[int | None] = 2
    names: ClassVar[tuple[str, ...]] = ("a1", "d")
    start: ClassVar[dict[str, float]] = {}
    bounds = {"g": (0.0, 1.0), "u": (0.0, 1.0)}

    def parameter_names(self, n_categories: int = 2) -> list[str]:
        return list(self.names)

    def irt_parameter_names(self, n_categories: int = 2) -> list[str]:
        return [_IRT[n] for n in self.names]

    def start_values(self, n_categories: int, n_items: int) -> np.ndarray:
        row = [self.fixed_values.get(n, self.start.get(n, _DEFAULTS[n])) for n in self.names]
        return np.tile(np.asarray(row, dtype=np.float64), (n_items, 1))

    def data_start_values(self, n_categories: int, proportions: np.ndarray) -> np.ndarray:
        values = self.start_values(n_categories, proportions.shape[0])
        full = self._full(values)
        g, u = full[:, 2], full[:, 3]
        p = np.clip((proportions[:, 1] - g) / np.maximum(u - g, 1e-3), 0.02, 0.98)
        # a N(0, 1) latent with slope a attenuates the marginal logit by about sqrt(1 + a^2 / 3)
        logit = np.log(p / (1.0 - p)) * np.sqrt(1.0 + full[:, 0] ** 2 / 3.0)
        values[:, self.names.index("d")] = logit
        return values

    # -- helpers ----------------------------------------------------------------------------------
    def _full(self, params: np.ndarray) -> np.ndarray:
        """(n_items, 4) array of a1, d, g, u with the model's defaults filled in."""
        params = np.asarray(params, dtype=np.float64)
        full = np.empty((params.shape[0], 4))
        for j, name in enumerate(_FULL):
            if name in self.names:
                full[:, j] = params[:, self.names.index(name)]
            else:
                full[:, j] = _DEFAULTS[name]
        return full

    @property
    def _has_asymptotes(self) -> bool:
        return "g" in self.names or "u" in self.names

    def _log_p(self, full: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, d, g, u = (full[:, j, None] for j in range(4))
        z = a * theta[None, :] + d
        lsz, lsmz = log_sigmoid(z), log_sigmoid(-z)
        if not self._has_asymptotes:
            return z, lsz, lsmz
        with np.errstate(divide="ignore", invalid="ignore"):
            log_g = np.where(g > 0, np.log(np.maximum(g, _TINY)), -np.inf)
            log_1mu = np.where(u < 1, np.log(np.maximum(1.0 - u, _TINY)), -np.inf)
            width = u - g
            log_w = np.where(width > 0, np.log(np.maximum(width, _TINY)), -np.inf)
            log_p1 = np.logaddexp(log_g, log_w + lsz)
            log_p0 = np.logaddexp(log_1mu, log_w + lsmz)
        outside = (g < 0) | (u > 1) | (width <= 0)
        log_p1 = np.where(outside, -np.inf, log_p1)
        log_p0 = np.where(outside, -np.inf, log_p0)
        return z, log_p1, log_p0

    # -- interface --------------------------------------------------------------------------------
    def log_probabilities(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=np.float64)
        _, log_p1, log_p0 = self._log_p(self._full(params), theta)
        return np.stack([log_p0, log_p1], axis=-1)

    def probability_derivative(self, params: np.ndarray, theta: np.ndarray, column: int) -> np.ndarray:
        r"""With :math:`P_1 = g + (u - g)\sigma(z)`, :math:`z = a\theta + d`:
        :math:`\partial P_1/\partial a = (u - g)\sigma(z)\sigma(-z)\theta`,
        :math:`\partial P_1/\partial d = (u - g)\sigma(z)\sigma(-z)`,
        :math:`\partial P_1/\partial g = \sigma(-z)`, :math:`\partial P_1/\partial u = \sigma(z)`;
        :math:`\partial P_0 = -\partial P_1`."""
        theta = np.asarray(theta, dtype=np.float64)
        full = self._full(params)
        a, d, g, u = (full[:, j, None] for j in range(4))
        z = a * theta[None, :] + d
        lsz, lsmz = log_sigmoid(z), log_sigmoid(-z)
        name = self.names[column]
        if name in ("a1", "d"):
            dp1 = (u - g) * np.exp(lsz + lsmz) * (theta[None, :] if name == "a1" else 1.0)
        else:
            dp1 = np.exp(lsmz if name == "g" else lsz)
        return np.stack([-dp1, dp1], axis=-1)

    def gradient_hessian(self, params: np.ndarray, theta: np.ndarray,
                         counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Analytic derivatives of :math:`\sum_q r_{q1}\log P + r_{q0}\log(1-P)`.

        Notes
        -----
        With :math:`z = a\theta + d`, :math:`\sigma = 1/(1+e^{-z})`, :math:`s = \sigma(1-\sigma)`,
        :math:`w = r_1/P - r_0/(1-P)` and :math:`v = r_1/P^2 + r_0/(1-P)^2`:
        :math:`\partial \ell / \partial \xi = \sum_q w\, \partial P/\partial \xi` and
        :math:`\partial^2 \ell = \sum_q w\, \partial^2 P - v\, \partial P\, \partial P^\top`, where
        :math:`\partial P/\partial(a, d, g, u) = ((u-g) s\theta, (u-g)s, 1-\sigma, \sigma)`.
        For ``g = 0, u = 1`` this reduces to :math:`\partial\ell/\partial z = r_1 - N\sigma`,
        :math:`\partial^2\ell/\partial z^2 = -N s`.
        """
        theta = np.asarray(theta, dtype=np.float64)
        full = self._full(params)
        z, log_p1, log_p0 = self._log_p(full, theta)
        r0, r1 = counts[..., 0], counts[..., 1]
        sig, sig_m = np.exp(log_sigmoid(z)), np.exp(log_sigmoid(-z))
        s = sig * sig_m
        t = theta[None, :]
        n = full.shape[0]
        grad4 = np.zeros((n, 4))
        hess4 = np.zeros((n, 4, 4))
        if not self._has_asymptotes:
            e = r1 * sig_m - r0 * sig
            ns = (r0 + r1) * s
            grad4[:, 0] = (e * t).sum(axis=1)
            grad4[:, 1] = e.sum(axis=1)
            hess4[:, 0, 0] = -(ns * t * t).sum(axis=1)
            hess4[:, 0, 1] = hess4[:, 1, 0] = -(ns * t).sum(axis=1)
            hess4[:, 1, 1] = -ns.sum(axis=1)
        else:
            g, u = full[:, 2, None], full[:, 3, None]
            width = u - g
            # r/P and r/P^2 in logs: expected counts shrink with P, so the ratios stay finite
            # where P itself underflows
            rho1, phi1 = _ratios(r1, log_p1)
            rho0, phi0 = _ratios(r0, log_p0)
            w = rho1 - rho0
            v = phi1 + phi0
            dp = [width * s * t, width * s, sig_m, sig]
            tt = s * (sig_m - sig)
            d2 = np.zeros((4, 4) + z.shape)
            d2[0, 0] = width * tt * t * t
            d2[0, 1] = d2[1, 0] = width * tt * t
            d2[1, 1] = width * tt
            d2[0, 2] = d2[2, 0] = -s * t
            d2[1, 2] = d2[2, 1] = -s
            d2[0, 3] = d2[3, 0] = s * t
            d2[1, 3] = d2[3, 1] = s
            for i in range(4):
                grad4[:, i] = (w * dp[i]).sum(axis=1)
                for j in range(i, 4):
                    hess4[:, i, j] = hess4[:, j, i] = (w * d2[i, j] - v * dp[i] * dp[j]).sum(axis=1)
        idx = [_FULL.index(nm) for nm in self.names]
        return grad4[:, idx], hess4[:, idx][:, :, idx]

    def information(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        r"""Fisher information :math:`I = (\partial P/\partial\theta)^2 / (P(1-P))` with
        :math:`\partial P/\partial\theta = a(u-g)\sigma(1-\sigma)`; for the 2PL
        :math:`I = a^2 P (1-P)`."""
        theta = np.asarray(theta, dtype=np.float64)
        full = self._full(params)
        z, log_p1, log_p0 = self._log_p(full, theta)
        a = full[:, 0, None]
        s = np.exp(log_sigmoid(z) + log_sigmoid(-z))
        if not self._has_asymptotes:
            return a * a * s
        width = full[:, 3, None] - full[:, 2, None]
        # (a w s)^2 / (P1 P0), in logs so that tails neither overflow nor divide by zero
        log_num = 2.0 * (np.log(np.maximum(np.abs(a * width), _TINY)) + log_sigmoid(z) + log_sigmoid(-z))
        return np.exp(log_num - log_p1 - log_p0)

    def to_irt(self, params: np.ndarray) -> np.ndarray:
        params = np.asarray(params, dtype=np.float64)
        out = params.copy()
        a = self._full(params)[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, self.names.index("d")] = -params[:, self.names.index("d")] / a
        return out

    def irt_jacobian(self, params: np.ndarray) -> np.ndarray:
        # b = -d / a: db/da = d / a^2, db/dd = -1 / a; the other parameters are kept as they are
        params = np.asarray(params, dtype=np.float64)
        n_items, n_par = params.shape
        jac = np.tile(np.eye(n_par), (n_items, 1, 1))
        a = self._full(params)[:, 0]
        j_d = self.names.index("d")
        safe = np.where(a == 0, np.nan, a)
        jac[:, j_d, j_d] = -1.0 / safe
        if "a1" in self.names:
            jac[:, j_d, self.names.index("a1")] = params[:, j_d] / safe ** 2
        return jac

    def from_irt(self, irt_params: np.ndarray) -> np.ndarray:
        irt_params = np.asarray(irt_params, dtype=np.float64)
        out = irt_params.copy()
        a = self._full(irt_params)[:, 0]
        out[:, self.names.index("d")] = -irt_params[:, self.names.index("d")] * a
        return out


class Rasch(Dichotomous):
    """Rasch model: slope fixed at 1, the latent variance is estimated."""

    name = "rasch"
    names = ("a1", "d")
    fixed_values = {"a1": 1.0}
    estimates_latent_variance = True


class OnePL(Dichotomous):
    """One-parameter logistic model: one slope common to all its items."""

    name = "1pl"
    names = ("a1", "d")
    tied = ("a1",)


class TwoPL(Dichotomous):
    """Two-parameter logistic model."""

    name = "2pl"
    names = ("a1", "d")


class ThreePL(Dichotomous):
    """Three-parameter logistic model (lower asymptote ``g``)."""

    name = "3pl"
    names = ("a1", "d", "g")
    start = {"g": 0.15}


class FourPL(Dichotomous):
    """Four-parameter logistic model (lower ``g`` and upper ``u`` asymptotes)."""

    name = "4pl"
    names = ("a1", "d", "g", "u")
    start = {"g": 0.15, "u": 0.95}
