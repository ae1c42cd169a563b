r"""Multidimensional (compensatory) versions of the item models with one slope.

Every model of :mod:`psychometrics.items` whose latent trait enters through one slope ``a1``
(``2pl``, ``3pl``, ``4pl``, ``graded``, ``gpcm``, ``nominal``) has a compensatory
multidimensional version (mirt's): the product :math:`a\theta` becomes the inner product

.. math:: \eta(\boldsymbol\theta) = \mathbf a^\top \boldsymbol\theta = \sum_{m=1}^D a_m \theta_m,

e.g. for the graded model :math:`P^*_k = 1 / (1 + \exp(-(\mathbf a^\top\boldsymbol\theta + d_k)))`.
Slope-intercept names are mirt's: ``a1..aD`` followed by the unidimensional model's other
parameters (``d``, ``d1..``, ``g``, ``u``, ``ak..``).

:class:`MultidimensionalModel` wraps a unidimensional model instead of re-deriving it. At a
node :math:`\boldsymbol\theta_q` the unidimensional model with slope :math:`\eta_q` evaluated
at :math:`\theta = 1` has exactly the category probabilities of the multidimensional item, and
its derivatives with respect to its slope are the derivatives with respect to :math:`\eta`.
Because :math:`\eta` is linear in the slopes, the chain rule gives the derivatives of the
expected complete-data log-likelihood
:math:`\ell = \sum_{q,k} r_{qk}\log P_k(\boldsymbol\theta_q)`:

.. math::
    \frac{\partial\ell}{\partial a_m} = \sum_q g^{\eta}_q\,\theta_{qm}, \qquad
    \frac{\partial^2\ell}{\partial a_m\partial a_n} = \sum_q h^{\eta\eta}_q\,\theta_{qm}\theta_{qn},
    \qquad
    \frac{\partial^2\ell}{\partial a_m\partial \xi} = \sum_q h^{\eta\xi}_q\,\theta_{qm},

with :math:`g_q, h_q` the unidimensional gradient and Hessian at node q (the other parameters
:math:`\xi` keep the unidimensional sums over nodes). With one factor this reproduces the
unidimensional model's own formulas term by term.

References
----------
.. [1] Reckase, M. D. (2009). *Multidimensional Item Response Theory*. Springer.
.. [2] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for the R
       environment. *Journal of Statistical Software*, 48(6).
"""

from __future__ import annotations

import numpy as np

from psychometrics.items.base import ItemModel

__all__ = ["MultidimensionalModel", "supports_slopes", "standardized_loadings", "LOGISTIC_SCALE"]

_ONE = np.ones(1)

#: Rows (items x nodes) of the unidimensional batch handled at once; bounds the memory of the
#: Hessian arrays of polytomous models (~ rows x K x P^2 doubles).
_CHUNK_ROWS = 20_000


#: Scaling constant between the logistic and the normal ogive used for standardized loadings.
LOGISTIC_SCALE = 1.702


def standardized_loadings(slopes: np.ndarray, correlations: np.ndarray) -> np.ndarray:
    r"""Standardized loadings from slopes (items x D) and factor correlations (D x D).

    .. math:: \lambda_{jm} = \frac{a_{jm}/1.702}{\sqrt{1 + \mathbf a_j^\top\boldsymbol\Phi
              \mathbf a_j / 1.702^2}}

    the normal-ogive approximation of mirt's ``summary`` (Bock, Gibbons & Muraki, 1988).
    """
    a = np.asarray(slopes, dtype=np.float64) / LOGISTIC_SCALE
    common = np.einsum("jd,de,je->j", a, np.asarray(correlations, dtype=np.float64), a)
    return a / np.sqrt(1.0 + common)[:, None]


def _graded_derivatives(base: ItemModel, params: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradient (rows, K) and Hessian (rows, K, K) of :math:`\sum_k r_k\log P_k` for graded
    items in (:math:`\eta`, :math:`d_1..d_{K-1}`) at :math:`\eta` = the slope column, using
    the band structure the dense unidimensional formulas do not exploit.

    Notes
    -----
    With :math:`s_k = P^*_k(1-P^*_k)`, :math:`t_k = s_k(1-2P^*_k)` (:math:`s_0 = s_K = t_0 =
    t_K = 0`), :math:`u_k = s_k - s_{k+1}`, :math:`\rho_k = r_k/P_k`, :math:`\phi_k = r_k/P_k^2`:
    :math:`g_\eta = \sum_k\rho_k u_k`, :math:`g_{d_m} = s_m(\rho_m - \rho_{m-1})`,
    :math:`H_{\eta\eta} = \sum_k \rho_k(t_k - t_{k+1}) - \phi_k u_k^2`,
    :math:`H_{\eta d_m} = t_m(\rho_m - \rho_{m-1}) - s_m(\phi_m u_m - \phi_{m-1}u_{m-1})`,
    :math:`H_{d_m d_m} = t_m(\rho_m - \rho_{m-1}) - s_m^2(\phi_m + \phi_{m-1})`,
    :math:`H_{d_m d_{m+1}} = \phi_m s_m s_{m+1}`, all other entries 0.
    """
    rows, k = counts.shape
    eta = params[:, :1]
    d = params[:, 1:]
    z = eta + d                                                   # (rows, K-1)
    log_star = -np.logaddexp(0.0, -z)
    star = np.exp(log_star)
    s_inner = np.exp(log_star - np.logaddexp(0.0, z))             # P*(1 - P*)
    s = np.zeros((rows, k + 1))
    t = np.zeros((rows, k + 1))
    s[:, 1:k] = s_inner
    t[:, 1:k] = s_inner * (1.0 - 2.0 * star)
    prob = np.exp(base.log_probabilities(params, _ONE)[:, 0, :])    # (rows, K)
    safe = np.maximum(prob, 1e-300)
    rho = counts / safe
    phi = rho / safe
    u = s[:, :-1] - s[:, 1:]                                       # (rows, K)
    grad = np.empty((rows, k))
    hess = np.zeros((rows, k, k))
    grad[:, 0] = (rho * u).sum(axis=1)
    diff = rho[:, 1:] - rho[:, :-1]                                # rho_m - rho_{m-1}, m = 1..K-1
    sm, tm = s[:, 1:k], t[:, 1:k]
    grad[:, 1:] = sm * diff
    hess[:, 0, 0] = (rho * (t[:, :-1] - t[:, 1:]) - phi * u * u).sum(axis=1)
    cross = tm * diff - sm * (phi[:, 1:] * u[:, 1:] - phi[:, :-1] * u[:, :-1])
    hess[:, 0, 1:] = cross
    hess[:, 1:, 0] = cross
    m = np.arange(1, k)
    hess[:, m, m] = tm * diff - sm * sm * (phi[:, 1:] + phi[:, :-1])
    if k > 2:
        band = phi[:, 1:-1] * sm[:, :-1] * sm[:, 1:]
        hess[:, m[:-1], m[1:]] = band
        hess[:, m[1:], m[:-1]] = band
    return grad, hess


def supports_slopes(model: ItemModel) -> bool:
    """Whether ``model`` has a free, untied slope ``a1`` that generalizes to several factors."""
    k = max(model.min_categories, 3) if model.max_categories is None else model.min_categories
    names = model.parameter_names(k)
    return (bool(names) and names[0] == "a1" and "a1" not in model.fixed_values
            and not model.tied_names(k) and not getattr(model, "anchor_first_item", ()))


def _as_nodes(theta: np.ndarray, n_factors: int) -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim == 1:
        if n_factors > 1:
            raise ValueError(f"theta must be (points, {n_factors}) for a {n_factors}-factor model, got a vector "
                             f"of {theta.shape[0]} values")
        theta = theta[:, None]
    if theta.shape[1] != n_factors:
        raise ValueError(f"theta has {theta.shape[1]} columns for a {n_factors}-factor model")
    return theta


class MultidimensionalModel(ItemModel):
    """Compensatory ``n_factors``-dimensional version of a unidimensional ``base`` model.

    Parameters are ``(n_items, D + P - 1)``: slopes ``a1..aD`` then the base model's
    parameters after its slope; latent values are nodes ``(Q, D)``.
    """

    def __init__(self, base: ItemModel, n_factors: int) -> None:
        if not supports_slopes(base):
            raise ValueError(f"model {base.name!r} has no free slope to extend to several factors; "
                             "multidimensional models take 2pl, 3pl, 4pl, graded, gpcm or nominal")
        self.base = base
        self.n_factors = int(n_factors)
        self.name = base.name
        self.min_categories = base.min_categories
        self.max_categories = base.max_categories
        self.bounds = base.bounds
        self.fixed_values = {}
        self.tied = ()

    def __repr__(self) -> str:
        return f"<MultidimensionalModel {self.name!r}, {self.n_factors} factors>"

    def slope_names(self) -> list[str]:
        return [f"a{m}" for m in range(1, self.n_factors + 1)]

    def parameter_names(self, n_categories: int) -> list[str]:
        return self.slope_names() + self.base.parameter_names(n_categories)[1:]

    def irt_parameter_names(self, n_categories: int) -> list[str]:
        # no IRT form exists for several dimensions (mirt has none either): the slope-intercept
        # form is reported under both names
        return self.parameter_names(n_categories)

    def start_values(self, n_categories: int, n_items: int) -> np.ndarray:
        base = self.base.start_values(n_categories, n_items)
        return np.column_stack([np.repeat(base[:, :1], self.n_factors, axis=1), base[:, 1:]])

    def data_start_values(self, n_categories: int, proportions: np.ndarray) -> np.ndarray:
        base = self.base.data_start_values(n_categories, proportions)
        return np.column_stack([np.repeat(base[:, :1], self.n_factors, axis=1), base[:, 1:]])

    # -- the unidimensional batch ---------------------------------------------------------------
    def _flat(self, params: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """(n_items * Q, P) base parameters with the slope replaced by eta = a'theta_q."""
        n = params.shape[0]
        q = nodes.shape[0]
        eta = params[:, :self.n_factors] @ nodes.T                       # (n, Q)
        rest = params[:, self.n_factors:]
        flat = np.empty((n * q, 1 + rest.shape[1]))
        flat[:, 0] = eta.reshape(-1)
        flat[:, 1:] = np.repeat(rest, q, axis=0)
        return flat

    def log_probabilities(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        params = np.asarray(params, dtype=np.float64)
        nodes = _as_nodes(theta, self.n_factors)
        n, q = params.shape[0], nodes.shape[0]
        out = self.base.log_probabilities(self._flat(params, nodes), _ONE)
        return out.reshape(n, q, out.shape[-1])

    def eta_derivatives(self, params: np.ndarray, nodes: np.ndarray,
                        counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Base-model gradient (n, Q, P) and Hessian (n, Q, P, P) at every node, slot 0 = eta."""
        n, q = params.shape[0], nodes.shape[0]
        flat = self._flat(params, nodes)
        flat_counts = np.asarray(counts, dtype=np.float64).reshape(n * q, -1)
        p = flat.shape[1]
        grad = np.empty((n * q, p))
        hess = np.empty((n * q, p, p))
        graded = self.base.name == "graded"
        for start in range(0, n * q, _CHUNK_ROWS):
            stop = min(n * q, start + _CHUNK_ROWS)
            if graded:
                grad[start:stop], hess[start:stop] = _graded_derivatives(self.base, flat[start:stop],
                                                                         flat_counts[start:stop])
            else:
                grad[start:stop], hess[start:stop] = self.base.gradient_hessian(
                    flat[start:stop], _ONE, flat_counts[start:stop, None, :])
        return grad.reshape(n, q, p), hess.reshape(n, q, p, p)

    def gradient_hessian(self, params: np.ndarray, theta: np.ndarray,
                         counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chain rule through :math:`\\eta = \\mathbf a^\\top\\boldsymbol\\theta` (module docstring)."""
        params = np.asarray(params, dtype=np.float64)
        nodes = _as_nodes(theta, self.n_factors)
        g, h = self.eta_derivatives(params, nodes, counts)
        d = self.n_factors
        n, p = params.shape
        grad = np.empty((n, p))
        hess = np.empty((n, p, p))
        grad[:, :d] = g[:, :, 0] @ nodes
        grad[:, d:] = g[:, :, 1:].sum(axis=1)
        hess[:, :d, :d] = np.einsum("nq,qd,qe->nde", h[:, :, 0, 0], nodes, nodes)
        cross = np.einsum("nqr,qd->ndr", h[:, :, 0, 1:], nodes)
        hess[:, :d, d:] = cross
        hess[:, d:, :d] = cross.transpose(0, 2, 1)
        hess[:, d:, d:] = h[:, :, 1:, 1:].sum(axis=1)
        return grad, hess

    def information(self, params: np.ndarray, theta: np.ndarray, direction: np.ndarray | None = None) -> np.ndarray:
        r"""Fisher information in a direction :math:`\mathbf u` (unit vector, default the first
        factor): :math:`I_{\mathbf u}(\boldsymbol\theta) = (\mathbf a^\top\mathbf u)^2\,
        I^{base}_{a=1}(\eta)`, (n_items, Q), with :math:`I^{base}_{a=1}` the base model's
        information with slope 1 at latent value :math:`\eta = \mathbf a^\top\boldsymbol\theta`."""
        params = np.asarray(params, dtype=np.float64)
        nodes = _as_nodes(theta, self.n_factors)
        u = np.eye(self.n_factors)[0] if direction is None else np.asarray(direction, dtype=np.float64)
        u = u / np.linalg.norm(u)
        eta = params[:, :self.n_factors] @ nodes.T                         # (n, Q)
        out = np.empty(eta.shape)
        # one call per item (items, never persons): the base model takes one theta grid per batch
        for j in range(params.shape[0]):
            unit = np.concatenate([[1.0], params[j, self.n_factors:]])[None, :]
            out[j] = self.base.information(unit, eta[j])[0]
        au = params[:, :self.n_factors] @ u
        return (au[:, None] ** 2) * out

    def to_irt(self, params: np.ndarray) -> np.ndarray:
        return np.asarray(params, dtype=np.float64).copy()

    def irt_jacobian(self, params: np.ndarray) -> np.ndarray:
        params = np.asarray(params, dtype=np.float64)
        return np.tile(np.eye(params.shape[1]), (params.shape[0], 1, 1))

    def from_irt(self, irt_params: np.ndarray) -> np.ndarray:
        return np.asarray(irt_params, dtype=np.float64).copy()
