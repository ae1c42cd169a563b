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

Default prior for many categories
---------------------------------
With :math:`K` categories an item has :math:`2K - 2` free parameters, and the score
:math:`ak_k` of a category is informed only by the persons who chose it. On a 0-100 slider
(:math:`K` up to 101, most categories chosen by a handful of persons) the likelihood is flat
along the :math:`ak` of the sparse categories, and since :math:`ak_{K-1} = K - 1` pins the
scale, :math:`a` rides on the rarest (top) category: EM creeps along that ridge for hundreds
of iterations without converging. A calibration therefore puts, on items with more than
:attr:`NominalModel.prior_above_categories` (10) categories and only on parameters it was
given no prior for,

.. math:: ak_k \sim N(k, \sigma^2), \qquad \sigma = 1 \quad (k = 1, \dots, K-2),

centred on the gpcm's scoring (the ordinal model the nominal one contains, Thissen, Cai &
Bock, 2010): a category's score moves from its rank as far as its data say, about one place
when they say little. Items with up to 10 categories get no prior (mirt's default, which the
reference tests reproduce). ``calibrate(priors={"ak": None})`` turns the default off;
``calibrate(priors={"ak": ("normal", 0, 5)})`` or per item replaces it. The priors in effect
are listed in :attr:`psychometrics.irt.Calibration.priors` and in its summary.

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

from typing import ClassVar

import numpy as np

from psychometrics.items.partial_credit import (
    DivideByTotalModel,
    _adjacent_logits,
    _as_params,
    _as_theta,
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
    #: Items with more categories than this get the default prior on their category scores.
    prior_above_categories: ClassVar[int] = 10
    #: Its standard deviation, in category places: :math:`ak_k \sim N(k, \sigma^2)`.
    score_prior_sd: ClassVar[float] = 1.0

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

    def default_priors(self, n_categories: int) -> dict[str, tuple[str, float, float]]:
        r"""``ak_k ~ N(k, 1)`` for ``k = 1..K-2`` on items with more than 10 categories, else
        none (see the module docstring: the scores of sparse categories are not identified
        without it).

        Examples
        --------
        >>> from psychometrics.items import get_model
        >>> get_model("nominal").default_priors(4)
        {}
        >>> list(get_model("nominal").default_priors(12).items())[:2]
        [('ak1', ('normal', 1.0, 1.0)), ('ak2', ('normal', 2.0, 1.0))]
        """
        self.check_categories(n_categories)
        if n_categories <= self.prior_above_categories:
            return {}
        return {f"ak{k}": ("normal", float(k), self.score_prior_sd) for k in range(1, n_categories - 1)}

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

    def gradient_hessian(self, params: np.ndarray, theta: np.ndarray,
                         counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Analytic gradient (n_items, P) and Hessian (n_items, P, P) of ``sum counts * log P``.

        The divide-by-total formulas (:meth:`DivideByTotalModel.gradient_hessian`) with the
        nominal Jacobian's sparsity written out: ``ak_j`` and ``d_j`` act on category ``j``
        only, so :math:`\sum_q n_q E_P[J J^T]` is an arrowhead with a 2 x 2 block per category
        (O(K) entries) and only :math:`\sum_q n_q m_q m_q^T` is dense. For K = 101 this is
        O(Q K^2) work instead of O(K^3) matrix products.
        """
        params = _as_params(params)
        theta = _as_theta(theta)
        counts = np.asarray(counts, dtype=np.float64)
        n_items, n_par = params.shape
        n_cat = self._n_categories(params)
        a, scoring = params[:, 0], self._scoring(params)
        prob = self.probabilities(params, theta)
        total = counts.sum(axis=-1)
        weighted = total[..., None] * prob
        residual = counts - weighted
        r1, r0 = np.einsum("iqk,q->ik", residual, theta), residual.sum(axis=1)
        m2 = np.einsum("iqk,q->ik", weighted, theta * theta)
        m1 = np.einsum("iqk,q->ik", weighted, theta)
        m0 = weighted.sum(axis=1)
        mid = slice(1, n_cat - 1)                       # categories with a free score ak_j
        ak_cols = np.arange(1, n_cat - 1)               # column of ak_j is j
        d_cols = np.arange(n_cat - 1, n_par)            # column of d_k is K - 2 + k
        grad = np.empty((n_items, n_par))
        grad[:, 0] = (r1 * scoring).sum(axis=1)
        grad[:, ak_cols] = a[:, None] * r1[:, mid]
        grad[:, d_cols] = r0[:, 1:]
        # m_q = E_P[J_q]: sum_q n_q m_q m_q^T is the dense part
        mean = np.empty((n_items, theta.size, n_par))
        mean[..., 0] = theta[None, :] * np.einsum("iqk,ik->iq", prob, scoring)
        mean[..., ak_cols] = (a[:, None, None] * theta[None, :, None]) * prob[..., mid]
        mean[..., d_cols] = prob[..., 1:]
        hess = np.matmul((mean * total[..., None]).transpose(0, 2, 1), mean)
        # minus sum_q n_q E_P[J J^T], entry by entry
        hess[:, 0, 0] -= (m2 * scoring * scoring).sum(axis=1)
        hess[:, ak_cols, ak_cols] -= m2[:, mid] * (a * a)[:, None]
        hess[:, d_cols, d_cols] -= m0[:, 1:]
        # off the diagonal: (a, ak_j) with the curvature d2z_j / da dak_j = theta,
        # (a, d_k), (ak_j, d_j)
        pairs = ((np.zeros_like(ak_cols), ak_cols, r1[:, mid] - m2[:, mid] * scoring[:, mid] * a[:, None]),
                 (np.zeros_like(d_cols), d_cols, -m1[:, 1:] * scoring[:, 1:]),
                 (ak_cols, d_cols[:n_cat - 2], -m1[:, mid] * a[:, None]))
        for rows, cols, value in pairs:
            hess[:, rows, cols] += value
            hess[:, cols, rows] += value
        return grad, hess

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
