r"""Partial credit family: generalized partial credit (``gpcm``), partial credit (``pcm``) and
rating scale (``rsm``) models, vectorized over a batch of items with the same number of
categories and over quadrature nodes.

All of them (and :mod:`psychometrics.items.nominal`) are divide-by-total ("adjacent
category") models. For item :math:`i` with :math:`K` categories :math:`k = 0, \dots, K-1`,

.. math::

    z_{ik}(\theta) = a_i\, s_{ik}\, \theta + d_{ik}, \qquad
    P_{ik}(\theta) = \frac{\exp z_{ik}(\theta)}{\sum_{h=0}^{K-1} \exp z_{ih}(\theta)},

with scoring values :math:`s_{ik} = k` here (mirt's ``ak``; the nominal model frees them)
and :math:`d_{i0} = 0`.

Derivatives used by the M-step
------------------------------
For expected counts :math:`r_{qk}` of category :math:`k` at node :math:`\theta_q` (one item),
:math:`n_q = \sum_k r_{qk}`, the item's complete-data log-likelihood is
:math:`\ell(\psi) = \sum_q \sum_k r_{qk} \log P_k(\theta_q)`. Because
:math:`\partial \log P_k / \partial z_h = [k = h] - P_h`, with the Jacobian
:math:`J_{qkp} = \partial z_k(\theta_q) / \partial \psi_p` and
:math:`m_{qp} = \sum_k P_{qk} J_{qkp}`,

.. math::

    \frac{\partial \ell}{\partial \psi_p} = \sum_q \sum_k (r_{qk} - n_q P_{qk}) J_{qkp},

    \frac{\partial^2 \ell}{\partial \psi_p \partial \psi_r} =
        -\sum_q n_q \Big[\sum_k P_{qk} J_{qkp} J_{qkr} - m_{qp} m_{qr}\Big]
        + \sum_q \sum_k (r_{qk} - n_q P_{qk})
          \frac{\partial^2 z_k(\theta_q)}{\partial \psi_p \partial \psi_r}.

The second term vanishes for the gpcm and pcm (:math:`z` is linear in ``a1, d``), so their
log-likelihood is concave; for the rsm it is
:math:`\partial^2 z_k / \partial a \partial b_j = -[j \le k]`, for the nominal model
:math:`\partial^2 z_k / \partial a \partial ak_j = [k = j]\,\theta`.

Fisher information
------------------
Since :math:`\partial P_k / \partial \theta = a P_k (s_k - \bar s)` with
:math:`\bar s = \sum_h P_h s_h`,

.. math::

    I(\theta) = \sum_k \frac{(\partial P_k/\partial\theta)^2}{P_k}
              = a^2 \sum_k P_k (s_k - \bar s)^2 = a^2 \operatorname{Var}_P(s).

Parameterizations (mirt's)
--------------------------
``gpcm``
    Slope-intercept ``a1, d1..d{K-1}`` (mirt's ``a1``, ``d1``..; its fixed ``ak0..ak{K-1} =
    0..K-1`` and ``d0 = 0`` are implied, not stored). IRT form ``a, b1..b{K-1}`` with
    :math:`b_k = -(d_k - d_{k-1}) / a`, so that :math:`z_k = \sum_{j \le k} a(\theta - b_j)`;
    the same numbers as ``coef(mod, IRTpars = TRUE)``.
``pcm``
    mirt's ``itemtype = "Rasch"`` for polytomous items: the gpcm with ``a1 = 1`` fixed
    (:attr:`~ItemModel.fixed_values`); the EM estimates the latent variance instead. Same
    parameter names and conversions as the gpcm. With two categories it is the Rasch model.
``rsm``
    mirt's rating scale model (its ``gpcmIRT`` structure with the slope fixed at 1):

    .. math:: z_k = a\Big(k\theta - \sum_{j \le k} b_j\Big) + k c, \qquad a = 1,

    parameters ``a1, b1..b{K-1}, c`` in slope-intercept form and ``a, b1..b{K-1}, c`` in IRT
    form, equal numbers (mirt's ``coef`` reports them for both settings of ``IRTpars``). The
    thresholds :math:`b_j` are common to all items of a rating-scale block (they are
    :meth:`RatingScaleModel.tied_names`), the location :math:`c` is the item's; larger
    :math:`c` makes higher categories more likely. As in mirt the block is identified by
    fixing :math:`c` of its first item at 0 while the latent variance is estimated.
    Andrich's form :math:`k(\theta - \delta_i) - \sum_{j \le k}\tau_j` with
    :math:`\sum_j \tau_j = 0` is :math:`\delta_i = \bar b - c_i`, :math:`\tau_j = b_j - \bar b`.
    Per item the rsm is the pcm with :math:`d_k = -\sum_{j\le k} b_j + k c`.
    :meth:`RatingScaleModel.pool_block` / :meth:`~RatingScaleModel.expand_block` turn per-item
    derivatives into derivatives of the block's free parameters ``b1..b{K-1}, c_2..c_n``.

References
----------
.. [1] Muraki, E. (1992). A generalized partial credit model: Application of an EM
       algorithm. Applied Psychological Measurement, 16(2), 159-176.
.. [2] Masters, G. N. (1982). A Rasch model for partial credit scoring. Psychometrika,
       47(2), 149-174.
.. [3] Andrich, D. (1978). A rating formulation for ordered response categories.
       Psychometrika, 43(4), 561-573.
.. [4] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for
       the R environment. Journal of Statistical Software, 48(6), 1-29.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from psychometrics.items.base import ItemModel

__all__ = [
    "DivideByTotalModel",
    "GeneralizedPartialCreditModel",
    "PartialCreditModel",
    "RatingScaleModel",
    "gpcm_to_irt",
    "gpcm_from_irt",
]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _as_params(params: np.ndarray) -> np.ndarray:
    params = np.asarray(params, dtype=np.float64)
    return params[None, :] if params.ndim == 1 else params


def _as_theta(theta: np.ndarray) -> np.ndarray:
    return np.asarray(theta, dtype=np.float64).reshape(-1)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den == 0`` (a zero slope has no IRT thresholds)."""
    shape = np.broadcast_shapes(np.shape(num), np.shape(den))
    num, den = np.broadcast_to(num, shape), np.broadcast_to(den, shape)
    out = np.full(shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _with_zero_column(values: np.ndarray) -> np.ndarray:
    """Prepend the fixed category-0 value (0) to an (n_items, K-1) array."""
    return np.concatenate([np.zeros((values.shape[0], 1)), values], axis=1)


def gpcm_to_irt(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Thresholds ``b_k = -(d_k - d_{k-1}) / a``, (n_items, K-1), from slopes (n_items,) and
    intercepts ``d1..d{K-1}`` (n_items, K-1); NaN where ``a == 0``."""
    return _safe_divide(-np.diff(_with_zero_column(d), axis=1), np.asarray(a)[:, None])


def gpcm_from_irt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intercepts ``d_k = -a * sum_{j<=k} b_j``, (n_items, K-1), from slopes and thresholds."""
    return -np.asarray(a)[:, None] * np.cumsum(b, axis=1)


def _threshold_start(n_categories: int, n_items: int) -> np.ndarray:
    """Evenly spread thresholds in [-1, 1]: ordered, centred, away from the extremes."""
    b = np.linspace(-1.0, 1.0, n_categories - 1) if n_categories > 2 else np.zeros(1)
    return np.tile(b, (n_items, 1))


def _adjacent_logits(proportions: np.ndarray) -> np.ndarray:
    r"""Marginal adjacent-category logits :math:`\log(p_k / p_{k-1})`, (n_items, K-1),
    widened for a N(0, 1) latent; empty categories are floored so the logs stay finite."""
    p = np.clip(np.asarray(proportions, dtype=np.float64), 0.005, None)
    p = p / p.sum(axis=1, keepdims=True)
    return np.diff(np.log(p), axis=1) * np.sqrt(1.0 + 1.0 / 3.0)


# --------------------------------------------------------------------------------------------
# the divide-by-total kernel shared by gpcm, pcm, rsm and nominal
# --------------------------------------------------------------------------------------------

class DivideByTotalModel(ItemModel):
    r"""Common implementation of :math:`P_k \propto \exp(a s_k \theta + d_k)`.

    Subclasses supply :meth:`_parts` (slopes, scoring values, intercepts), :meth:`_jacobian`
    (:math:`\partial z / \partial \psi`) and, where :math:`z` is not linear in the
    parameters, :meth:`_add_curvature` (the second-derivative term of the Hessian).
    """

    min_categories: ClassVar[int] = 2
    max_categories: ClassVar[int | None] = None

    # -- what a subclass provides ----------------------------------------------------------
    def _parts(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slopes (n_items,), scoring values (n_items, K) and intercepts (n_items, K)."""
        raise NotImplementedError

    def _jacobian(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """``dz_k(theta_q) / dpsi_p`` as (n_items or 1, Q, K, P)."""
        raise NotImplementedError

    def _add_curvature(self, params: np.ndarray, theta: np.ndarray, residual: np.ndarray,
                       hess: np.ndarray) -> None:
        """Add ``sum_qk residual * d2z / dpsi dpsi`` to ``hess`` in place (linear: nothing)."""

    # -- interface ---------------------------------------------------------------------------
    def _linear_predictor(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        slope, scores, intercepts = self._parts(_as_params(params))
        return ((slope[:, None] * scores)[:, None, :] * _as_theta(theta)[None, :, None]
                + intercepts[:, None, :])

    def log_probabilities(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Log category probabilities (n_items, Q, K) by a max-shifted log-sum-exp."""
        with np.errstate(invalid="ignore", over="ignore"):
            z = self._linear_predictor(params, theta)
            shifted = z - z.max(axis=-1, keepdims=True)
            # each row of ``shifted`` holds a 0, so the sum is >= 1 and its log finite
            out = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        # non-finite parameters (a diverging optimizer step) are outside the domain
        return np.where(np.isnan(out), -np.inf, out)

    def probability_derivative(self, params: np.ndarray, theta: np.ndarray, column: int) -> np.ndarray:
        r""":math:`\partial P_k/\partial\psi = P_k(\partial z_k/\partial\psi
        - \sum_m P_m\,\partial z_m/\partial\psi)` with :math:`\partial z/\partial\psi` from :meth:`_jacobian`."""
        params = _as_params(params)
        theta = _as_theta(theta)
        prob = self.probabilities(params, theta)
        jac = np.broadcast_to(self._jacobian(params, theta)[..., column], prob.shape)
        return prob * (jac - np.einsum("iqk,iqk->iq", prob, jac)[..., None])

    def gradient_hessian(self, params: np.ndarray, theta: np.ndarray,
                         counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Analytic gradient (n_items, P) and Hessian (n_items, P, P) of
        ``sum counts * log P`` (formulas in the module docstring)."""
        params = _as_params(params)
        theta = _as_theta(theta)
        counts = np.asarray(counts, dtype=np.float64)
        prob = self.probabilities(params, theta)
        n_items, n_nodes, n_cat = prob.shape
        total = counts.sum(axis=-1)
        weighted = total[..., None] * prob
        residual = counts - weighted
        # z is affine in theta for every divide-by-total model: J_qk = theta_q U_k + V_k. Summing
        # over the nodes first turns the (Q K x P) products into (K x P) ones: O(K P^2) work and
        # O(K P) memory per item instead of O(Q K P^2) and O(Q K P) (101-category sliders).
        at_zero = self._jacobian(params, np.zeros(1))
        unit = self._jacobian(params, np.ones(1)) - at_zero
        probe = np.array([2.0])
        if np.allclose(self._jacobian(params, probe), probe[0] * unit + at_zero, rtol=1e-12, atol=1e-12):
            n_par = unit.shape[-1]
            u = np.broadcast_to(unit[:, 0], (n_items, n_cat, n_par))
            v = np.broadcast_to(at_zero[:, 0], (n_items, n_cat, n_par))
            th = _as_theta(theta)
            r1, r0 = np.einsum("iqk,q->ik", residual, th), residual.sum(axis=1)
            grad = np.einsum("ik,ikp->ip", r1, u) + np.einsum("ik,ikp->ip", r0, v)
            m2 = np.einsum("iqk,q->ik", weighted, th * th)
            m1 = np.einsum("iqk,q->ik", weighted, th)
            m0 = weighted.sum(axis=1)
            cross = np.matmul((u * m1[..., None]).transpose(0, 2, 1), v)
            hess = -(np.matmul((u * m2[..., None]).transpose(0, 2, 1), u) + cross + cross.transpose(0, 2, 1)
                     + np.matmul((v * m0[..., None]).transpose(0, 2, 1), v))
            mean = th[None, :, None] * np.matmul(prob, u) + np.matmul(prob, v)
        else:
            jac = self._jacobian(params, theta)
            n_par = jac.shape[-1]
            jac = np.broadcast_to(jac, (n_items, n_nodes, n_cat, n_par))
            flat = jac.reshape(n_items, n_nodes * n_cat, n_par)
            grad = np.einsum("ij,ijp->ip", residual.reshape(n_items, -1), flat)
            # minus the n_q-weighted covariance of J under P, summed over nodes
            hess = -np.matmul((flat * weighted.reshape(n_items, -1, 1)).transpose(0, 2, 1), flat)
            mean = np.einsum("iqk,iqkp->iqp", prob, jac)
        hess += np.matmul((mean * total[..., None]).transpose(0, 2, 1), mean)
        self._add_curvature(params, theta, residual, hess)
        return grad, hess

    def information(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        r"""Fisher item information :math:`a^2 \operatorname{Var}_P(s)`, (n_items, Q)."""
        params = _as_params(params)
        slope, scores, _ = self._parts(params)
        prob = self.probabilities(params, theta)
        mean = np.einsum("iqk,ik->iq", prob, scores)
        centred = scores[:, None, :] - mean[..., None]
        # the centred form avoids the cancellation of E[s^2] - E[s]^2
        return (slope * slope)[:, None] * np.einsum("iqk,iqk->iq", prob, centred * centred)


# --------------------------------------------------------------------------------------------
# gpcm and pcm
# --------------------------------------------------------------------------------------------

class GeneralizedPartialCreditModel(DivideByTotalModel):
    r"""Generalized partial credit model (Muraki, 1992), mirt's ``gpcm``.

    Per item ``a1, d1..d{K-1}``: :math:`P_k \propto \exp(k\, a\theta + d_k)`, :math:`d_0 = 0`.
    IRT form ``a, b1..b{K-1}`` with :math:`b_k = -(d_k - d_{k-1})/a`. Derivatives and
    information: see the module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> from psychometrics.items import get_model
    >>> gpcm = get_model("gpcm")
    >>> params = np.array([[1.3, 0.8, 0.2, -1.1]])        # a1, d1, d2, d3
    >>> gpcm.probabilities(params, np.array([0.0])).round(4)
    array([[[0.2092, 0.4656, 0.2555, 0.0696]]])
    >>> gpcm.to_irt(params).round(4)                       # a, b1, b2, b3
    array([[ 1.3   , -0.6154,  0.4615,  1.    ]])
    """

    name = "gpcm"

    def parameter_names(self, n_categories: int) -> list[str]:
        self.check_categories(n_categories)
        return ["a1"] + [f"d{k}" for k in range(1, n_categories)]

    def irt_parameter_names(self, n_categories: int) -> list[str]:
        self.check_categories(n_categories)
        return ["a"] + [f"b{k}" for k in range(1, n_categories)]

    def start_values(self, n_categories: int, n_items: int) -> np.ndarray:
        self.check_categories(n_categories)
        a = np.ones(n_items)
        return np.column_stack([a, gpcm_from_irt(a, _threshold_start(n_categories, n_items))])

    def data_start_values(self, n_categories: int, proportions: np.ndarray) -> np.ndarray:
        # with a = 1, d_k is the cumulative sum of the adjacent-category logits
        steps = _adjacent_logits(proportions)
        return np.column_stack([np.ones(steps.shape[0]), np.cumsum(steps, axis=1)])

    def _parts(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_items, n_cat = params.shape
        scores = np.broadcast_to(np.arange(n_cat, dtype=np.float64), (n_items, n_cat))
        return params[:, 0], scores, _with_zero_column(params[:, 1:])

    def _jacobian(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        # dz_k/da = k theta; dz_k/dd_j = [k == j]
        n_cat = params.shape[1]
        jac = np.zeros((1, theta.size, n_cat, n_cat))
        jac[0, :, :, 0] = theta[:, None] * np.arange(n_cat)
        jac[0, :, 1:, 1:] = np.eye(n_cat - 1)
        return jac

    def to_irt(self, params: np.ndarray) -> np.ndarray:
        params = _as_params(params)
        return np.column_stack([params[:, 0], gpcm_to_irt(params[:, 0], params[:, 1:])])

    def irt_jacobian(self, params: np.ndarray) -> np.ndarray:
        # b_k = -(d_k - d_{k-1}) / a, d_0 = 0: db_k/da = (d_k - d_{k-1}) / a^2,
        # db_k/dd_k = -1 / a, db_k/dd_{k-1} = 1 / a
        params = _as_params(params)
        n_items, n_par = params.shape
        a = np.where(params[:, 0] == 0, np.nan, params[:, 0])
        jac = np.zeros((n_items, n_par, n_par))
        jac[:, 0, 0] = 1.0
        jac[:, 1:, 0] = np.diff(_with_zero_column(params[:, 1:]), axis=1) / (a * a)[:, None]
        k = np.arange(1, n_par)
        jac[:, k, k] = (-1.0 / a)[:, None]
        jac[:, k[1:], k[:-1]] = (1.0 / a)[:, None]
        return jac

    def from_irt(self, irt_params: np.ndarray) -> np.ndarray:
        irt_params = _as_params(irt_params)
        a = irt_params[:, 0]
        return np.column_stack([a, gpcm_from_irt(a, irt_params[:, 1:])])


class PartialCreditModel(GeneralizedPartialCreditModel):
    r"""Partial credit model (Masters, 1982), mirt's ``Rasch`` itemtype for polytomous items.

    The gpcm with ``a1 = 1`` fixed; the EM estimates the latent variance instead. Parameters
    ``a1, d1..d{K-1}`` (``a1`` fixed), IRT form ``a, b1..b{K-1}``, :math:`b_k = -(d_k -
    d_{k-1})`. With two categories it is the Rasch model.
    """

    name = "pcm"
    fixed_values = {"a1": 1.0}
    estimates_latent_variance = True


# --------------------------------------------------------------------------------------------
# rsm
# --------------------------------------------------------------------------------------------

class RatingScaleModel(DivideByTotalModel):
    r"""Rating scale model (Andrich, 1978) in mirt's ``rsm`` parameterization.

    .. math:: P_k \propto \exp\Big(a\big(k\theta - \sum_{j \le k} b_j\big) + k c\Big), \quad a = 1

    Parameters ``a1, b1..b{K-1}, c`` (``a1 = 1`` fixed); IRT form ``a, b1..b{K-1}, c``, the
    same numbers, as mirt's ``coef`` of an ``itemtype = "rsm"`` fit. The ``b`` are common to
    the items of a block (:meth:`tied_names`) and ``c`` of the block's first item is fixed at
    0 (mirt's identification); the EM estimates the latent variance. The per-item methods
    treat every row on its own; :meth:`pool_block` and :meth:`expand_block` work with the
    block's free parameters ``b1..b{K-1}, c_2..c_n``.
    """

    name = "rsm"
    fixed_values = {"a1": 1.0}
    estimates_latent_variance = True
    #: The thresholds, one common value per block; ``tied`` is K-free, so it lists ``b1`` to
    #: ``b199`` and an estimator keeps those of ``parameter_names(K)`` (see :meth:`tied_names`).
    tied: ClassVar[tuple[str, ...]] = tuple(f"b{k}" for k in range(1, 200))
    #: Identification: these parameters of a block's first item are held at these values
    #: (mirt fixes ``c`` of the first rsm item at 0).
    anchor_first_item: ClassVar[Mapping[str, float]] = {"c": 0.0}

    def parameter_names(self, n_categories: int) -> list[str]:
        self.check_categories(n_categories)
        return ["a1"] + [f"b{k}" for k in range(1, n_categories)] + ["c"]

    def irt_parameter_names(self, n_categories: int) -> list[str]:
        return ["a"] + self.parameter_names(n_categories)[1:]

    def tied_names(self, n_categories: int) -> list[str]:
        """The parameters common to all items of a rating-scale block: ``b1..b{K-1}``."""
        return self.parameter_names(n_categories)[1:-1]

    def start_values(self, n_categories: int, n_items: int) -> np.ndarray:
        self.check_categories(n_categories)
        return np.column_stack([np.ones(n_items), _threshold_start(n_categories, n_items),
                                np.zeros(n_items)])

    def data_start_values(self, n_categories: int, proportions: np.ndarray) -> np.ndarray:
        # adjacent logits L_ij ~ c_i - b_j: an additive two-way fit with c_1 = 0
        logits = _adjacent_logits(proportions)
        c = logits.mean(axis=1)
        c -= c[0]
        b = -(logits - c[:, None]).mean(axis=0)
        n_items = logits.shape[0]
        return np.column_stack([np.ones(n_items), np.tile(b, (n_items, 1)), c])

    def _parts(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_items, n_cat = params.shape[0], params.shape[1] - 1
        a, b, c = params[:, 0], params[:, 1:-1], params[:, -1]
        categories = np.arange(n_cat, dtype=np.float64)
        scores = np.broadcast_to(categories, (n_items, n_cat))
        intercepts = (-a[:, None] * _with_zero_column(np.cumsum(b, axis=1))
                      + c[:, None] * categories)
        return a, scores, intercepts

    def _jacobian(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        # dz_k/da = k theta - B_k (B_k = sum_{j<=k} b_j); dz_k/db_j = -a [j <= k]; dz_k/dc = k
        n_items, n_par = params.shape
        n_cat = n_par - 1
        a, b = params[:, 0], params[:, 1:-1]
        categories = np.arange(n_cat, dtype=np.float64)
        cum_b = _with_zero_column(np.cumsum(b, axis=1))
        jac = np.zeros((n_items, theta.size, n_cat, n_par))
        jac[..., 0] = theta[None, :, None] * categories - cum_b[:, None, :]
        below = np.tril(np.ones((n_cat, n_cat - 1)), k=-1)  # [j <= k], j = 1..K-1
        jac[..., 1:-1] = -a[:, None, None, None] * below
        jac[..., -1] = categories
        return jac

    def _add_curvature(self, params: np.ndarray, theta: np.ndarray, residual: np.ndarray,
                       hess: np.ndarray) -> None:
        # d2z_k / da db_j = -[j <= k]: sum_q sum_{k >= j} residual_qk
        upper = np.cumsum(residual.sum(axis=1)[:, ::-1], axis=1)[:, ::-1][:, 1:]
        hess[:, 0, 1:-1] -= upper
        hess[:, 1:-1, 0] -= upper

    def to_irt(self, params: np.ndarray) -> np.ndarray:
        return _as_params(params).copy()

    def irt_jacobian(self, params: np.ndarray) -> np.ndarray:
        params = _as_params(params)
        return np.tile(np.eye(params.shape[1]), (params.shape[0], 1, 1))

    def from_irt(self, irt_params: np.ndarray) -> np.ndarray:
        return _as_params(irt_params).copy()

    # -- the block of items sharing the thresholds --------------------------------------------
    def pool_block(self, grad: np.ndarray, hess: np.ndarray, *,
                   fix_first_location: bool = True) -> tuple[np.ndarray, np.ndarray]:
        r"""Derivatives with respect to a block's free parameters from per-item derivatives.

        The block vector is ``[b1..b{K-1}, c_1..c_n]``, without ``c_1`` when
        ``fix_first_location`` (mirt's identification); the fixed ``a1`` is dropped.

        Parameters
        ----------
        grad : ndarray (n_items, K + 1)
        hess : ndarray (n_items, K + 1, K + 1)
            From :meth:`gradient_hessian` of the block's items (all with the same ``K`` and
            the same ``b``).

        Returns
        -------
        grad : ndarray (K - 1 + n_c,)
        hess : ndarray (K - 1 + n_c, K - 1 + n_c)

        Notes
        -----
        The shared ``b`` enter every item, so their derivatives are sums over items; each
        ``c_i`` touches item ``i`` only:

        .. math::

            g_b = \sum_i g_{i,b}, \quad H_{bb} = \sum_i H_{i,bb}, \quad
            H_{b c_i} = H_{i,bc}, \quad H_{c_i c_i} = H_{i,cc}, \quad H_{c_i c_j} = 0.
        """
        grad = np.asarray(grad, dtype=np.float64)[:, 1:]
        hess = np.asarray(hess, dtype=np.float64)[:, 1:, 1:]
        n_items, n_par = grad.shape
        n_b = n_par - 1
        first = 1 if fix_first_location else 0
        n_c = n_items - first
        size = n_b + n_c
        pooled_grad = np.concatenate([grad[:, :n_b].sum(axis=0), grad[first:, n_b]])
        pooled_hess = np.zeros((size, size))
        pooled_hess[:n_b, :n_b] = hess[:, :n_b, :n_b].sum(axis=0)
        cross = hess[first:, n_b, :n_b]  # (n_c, n_b)
        pooled_hess[n_b:, :n_b] = cross
        pooled_hess[:n_b, n_b:] = cross.T
        diagonal = n_b + np.arange(n_c)
        pooled_hess[diagonal, diagonal] = hess[first:, n_b, n_b]
        return pooled_grad, pooled_hess

    def block_vector(self, params: np.ndarray, *, fix_first_location: bool = True) -> np.ndarray:
        """The block's free parameters ``[b (first row), c_1 or c_2 .. c_n]``."""
        params = _as_params(params)
        first = 1 if fix_first_location else 0
        return np.concatenate([params[0, 1:-1], params[first:, -1]])

    def expand_block(self, vector: np.ndarray, n_items: int, *,
                     fix_first_location: bool = True) -> np.ndarray:
        """Per-item parameters (n_items, K + 1) from a block vector (``c_1 = 0`` when fixed)."""
        vector = np.asarray(vector, dtype=np.float64).reshape(-1)
        first = 1 if fix_first_location else 0
        n_b = vector.size - (n_items - first)
        out = np.zeros((n_items, n_b + 2))
        out[:, 0] = self.fixed_values["a1"]
        out[:, 1:-1] = vector[:n_b]
        out[first:, -1] = vector[n_b:]
        return out
