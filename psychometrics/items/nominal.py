r"""Nominal response model (Bock, 1972) in mirt's parameterization (``nominal``).

For an item with :math:`K` unordered categories :math:`k = 0, \dots, K-1`,

.. math::

    z_k(\theta) = ak_k\, a\, \theta + d_k, \qquad
    P_k(\theta) = \frac{\exp z_k(\theta)}{\sum_h \exp z_h(\theta)},

identified as in mirt by :math:`ak_0 = 0`, :math:`ak_{K-1} = K - 1` and :math:`d_0 = 0`. The
free parameters, stored per item in this order, are ``a1, ak1..ak{K-2}, d1..d{K-1}``
(:math:`2K - 2` values; the fixed ``ak0``, ``ak{K-1}``, ``d0`` are implied, as the gpcm's
scoring values are). With ``ak_k = k`` the model is the gpcm; larger ``ak_k`` means category
``k`` goes with higher :math:`\theta`, so the estimates show the empirical order of the
categories.

Derivatives
-----------
With :math:`J = \partial z / \partial \psi`:
:math:`\partial z_k/\partial a = ak_k\theta`,
:math:`\partial z_k/\partial ak_j = [k = j]\, a\theta`,
:math:`\partial z_k/\partial d_j = [k = j]`, and the only second derivative
:math:`\partial^2 z_k / \partial a\, \partial ak_j = [k = j]\,\theta`. The gradient and Hessian
of :math:`\sum_{q,k} r_{qk}\log P_k(\theta_q)` then follow from the divide-by-total formulas
in :mod:`psychometrics.items.partial_credit`:

.. math::

    g_p = \sum_{q,k} e_{qk} J_{qkp}, \qquad
    H_{pr} = -\sum_q n_q \operatorname{Cov}_{P_q}(J_{q\cdot p}, J_{q\cdot r})
             + [\{p, r\} = \{a, ak_j\}] \sum_q e_{qj}\theta_q,

with :math:`e_{qk} = r_{qk} - n_q P_{qk}`. The Hessian is not negative definite everywhere
(the likelihood is not concave in ``a`` and ``ak`` jointly).

Information: :math:`I(\theta) = a^2 \operatorname{Var}_P(ak)`.

IRT form (mirt's ``coef(mod, IRTpars = TRUE)``): Bock's centred category slopes and
intercepts ``a1..aK, c1..cK`` (numbered from 1 as mirt does),
:math:`\alpha_k = a\, ak_k - \overline{a\, ak}`, :math:`\gamma_k = d_k - \bar d`. Back:
:math:`a = (\alpha_K - \alpha_1)/(K - 1)`, :math:`ak = (\alpha - \alpha_1)/a`,
:math:`d = \gamma - \gamma_1`; a zero slope has no slope-intercept form (NaN).

References
----------
.. [1] Bock, R. D. (1972). Estimating item parameters and latent ability when responses are
       scored in two or more nominal categories. Psychometrika, 37(1), 29-51.
.. [2] Thissen, D., Cai, L., & Bock, R. D. (2010). The nominal categories item response
       model. In Nering & Ostini (Eds.), Handbook of Polytomous Item Response Theory Models.
.. [3] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for
       the R environment. Journal of Statistical Software, 48(6), 1-29.
"""

from __future__ import annotations

import numpy as np

from psychometrics.items.partial_credit import (
    DivideByTotalModel,
    _adjacent_logits,
    _as_params,
    _safe_divide,
    _threshold_start,
    _with_zero_column,
    gpcm_from_irt,
)

__all__ = ["NominalModel"]


class NominalModel(DivideByTotalModel):
    r"""Nominal response model, mirt's ``nominal``.

    Per item ``a1, ak1..ak{K-2}, d1..d{K-1}`` with ``ak0 = 0``, ``ak{K-1} = K-1``,
    ``d0 = 0``: :math:`P_k \propto \exp(ak_k\, a\theta + d_k)`. IRT form ``a1..aK, c1..cK``
    (Bock's centred slopes and intercepts). See the module docstring for the derivatives.

    Examples
    --------
    >>> import numpy as np
    >>> from psychometrics.items import get_model
    >>> nominal = get_model("nominal")
    >>> params = np.array([[0.9, 0.7, 2.1, 1.2, 0.4, -0.9]])  # a1, ak1, ak2, d1, d2, d3
    >>> nominal.probabilities(params, np.array([1.0])).round(4)
    array([[[0.0432, 0.2692, 0.4264, 0.2612]]])
    >>> nominal.to_irt(params).round(3)                       # a1..a4, c1..c4
    array([[-1.305, -0.675,  0.585,  1.395, -0.175,  1.025,  0.225, -1.075]])
    """

    name = "nominal"

    # -- names ------------------------------------------------------------------------------
    def parameter_names(self, n_categories: int) -> list[str]:
        self.check_categories(n_categories)
        return (["a1"] + [f"ak{k}" for k in range(1, n_categories - 1)]
                + [f"d{k}" for k in range(1, n_categories)])

    def irt_parameter_names(self, n_categories: int) -> list[str]:
        self.check_categories(n_categories)
        return ([f"a{k}" for k in range(1, n_categories + 1)]
                + [f"c{k}" for k in range(1, n_categories + 1)])

    @staticmethod
    def _n_categories(params: np.ndarray) -> int:
        return params.shape[1] // 2 + 1

    # -- start values -----------------------------------------------------------------------
    def start_values(self, n_categories: int, n_items: int) -> np.ndarray:
        # the gpcm's ordering (ak_k = k): right for the ordinal data the model mostly meets
        self.check_categories(n_categories)
        a = np.ones(n_items)
        middle = np.tile(np.arange(1.0, n_categories - 1), (n_items, 1))
        d = gpcm_from_irt(a, _threshold_start(n_categories, n_items))
        return np.column_stack([a, middle, d])

    def data_start_values(self, n_categories: int, proportions: np.ndarray) -> np.ndarray:
        values = self.start_values(n_categories, proportions.shape[0])
        values[:, n_categories - 1:] = np.cumsum(_adjacent_logits(proportions), axis=1)
        return values

    # -- kernel pieces ----------------------------------------------------------------------
    def _scoring(self, params: np.ndarray) -> np.ndarray:
        """``ak0..ak{K-1}`` (n_items, K) with the fixed ends filled in."""
        n_cat = self._n_categories(params)
        n_items = params.shape[0]
        return np.column_stack([np.zeros(n_items), params[:, 1:n_cat - 1],
                                np.full(n_items, n_cat - 1.0)])

    def _parts(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_cat = self._n_categories(params)
        return params[:, 0], self._scoring(params), _with_zero_column(params[:, n_cat - 1:])

    def _jacobian(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        n_items, n_par = params.shape
        n_cat = self._n_categories(params)
        n_ak = n_cat - 2
        a, scoring = params[:, 0], self._scoring(params)
        jac = np.zeros((n_items, theta.size, n_cat, n_par))
        jac[..., 0] = scoring[:, None, :] * theta[None, :, None]
        for j in range(1, n_ak + 1):  # a few columns, not a loop over persons or nodes
            jac[:, :, j, j] = a[:, None] * theta[None, :]
        jac[:, :, 1:, 1 + n_ak:] = np.eye(n_cat - 1)
        return jac

    def _add_curvature(self, params: np.ndarray, theta: np.ndarray, residual: np.ndarray,
                       hess: np.ndarray) -> None:
        n_ak = self._n_categories(params) - 2
        if n_ak == 0:
            return
        # d2z_k / da dak_j = [k == j] theta
        term = np.einsum("iqk,q->ik", residual[:, :, 1:n_ak + 1], theta)
        hess[:, 0, 1:n_ak + 1] += term
        hess[:, 1:n_ak + 1, 0] += term

    # -- parameterizations ----------------------------------------------------------------------
    def to_irt(self, params: np.ndarray) -> np.ndarray:
        params = _as_params(params)
        slope, scoring, intercepts = self._parts(params)
        alpha = slope[:, None] * scoring
        alpha -= alpha.mean(axis=1, keepdims=True)
        gamma = intercepts - intercepts.mean(axis=1, keepdims=True)
        return np.concatenate([alpha, gamma], axis=1)

    def irt_jacobian(self, params: np.ndarray) -> np.ndarray:
        # alpha_k = a s_k - mean(a s) with s = (0, ak_1..ak_{K-2}, K-1); gamma_k = c_k - mean(c)
        # with c = (0, d_1..d_{K-1}): linear but for the product a s
        params = _as_params(params)
        n_items, n_par = params.shape
        n_cat = self._n_categories(params)
        a, scoring = params[:, 0], self._scoring(params)
        centring = np.eye(n_cat) - 1.0 / n_cat            # d(x_k - mean x) / dx_j
        jac = np.zeros((n_items, 2 * n_cat, n_par))
        jac[:, :n_cat, 0] = scoring - scoring.mean(axis=1, keepdims=True)
        jac[:, :n_cat, 1:n_cat - 1] = a[:, None, None] * centring[:, 1:n_cat - 1]
        jac[:, n_cat:, n_cat - 1:] = centring[:, 1:]
        return jac

    def from_irt(self, irt_params: np.ndarray) -> np.ndarray:
        irt_params = _as_params(irt_params)
        n_cat = irt_params.shape[1] // 2
        alpha, gamma = irt_params[:, :n_cat], irt_params[:, n_cat:]
        spread = alpha - alpha[:, :1]
        a = spread[:, -1] / (n_cat - 1)
        ak = _safe_divide(spread[:, 1:-1], a[:, None])
        d = (gamma - gamma[:, :1])[:, 1:]
        return np.column_stack([np.where(a == 0, np.nan, a), ak, d])
