"""The interface every item response model implements.

An :class:`ItemModel` instance stands for one model (``"2pl"``, ``"graded"``...) and works on a
*batch* of items that share the model and the number of categories ``K``: parameters are an array
``(n_items, P)`` in slope-intercept form (mirt's parameterization and parameter names), latent
values are a grid ``theta`` of ``Q`` points, and every method is vectorized over items and points.
Models know nothing about persons or data; estimation lives in :mod:`psychometrics.irt`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from psychometrics._numeric import LOG_FLOOR
from psychometrics._numeric import TINY as _TINY

__all__ = ["ItemModel", "LOG_FLOOR", "log_sigmoid", "sigmoid", "gradient_hessian_from_derivatives"]



def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """``log(1 / (1 + exp(-z)))`` without overflow, exact at ``z = +-inf``."""
    # min(z, 0) - log(1 + exp(-|z|)): one exp and one log1p, faster than logaddexp
    return np.minimum(z, 0.0) - np.log1p(np.exp(-np.abs(z)))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, overflow-free for any finite or infinite ``z``."""
    return np.exp(log_sigmoid(z))


def gradient_hessian_from_derivatives(prob: np.ndarray, dprob: np.ndarray, d2prob: np.ndarray,
                                      counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradient and Hessian of :math:`\sum_{q,k} r_{qk} \log P_k(\theta_q)` from the
    derivatives of the category probabilities.

    Parameters
    ----------
    prob : ndarray (n_items, Q, K)
    dprob : ndarray (n_items, Q, K, P)
        :math:`\partial P_k / \partial \xi_p`.
    d2prob : ndarray (n_items, Q, K, P, P)
        :math:`\partial^2 P_k / \partial \xi_p \partial \xi_r`.
    counts : ndarray (n_items, Q, K)
        Expected counts :math:`r_{qk}`.

    Notes
    -----
    .. math::
        \partial_p \ell = \sum_{q,k} \frac{r_{qk}}{P_{qk}} \partial_p P_{qk}, \qquad
        \partial_{pr} \ell = \sum_{q,k} \frac{r_{qk}}{P_{qk}} \partial_{pr} P_{qk}
            - \frac{r_{qk}}{P_{qk}^2} \partial_p P_{qk} \partial_r P_{qk}
    """
    safe = np.maximum(prob, _TINY)
    ratio = counts / safe
    grad = np.einsum("iqk,iqkp->ip", ratio, dprob)
    hess = np.einsum("iqk,iqkpr->ipr", ratio, d2prob)
    hess -= np.einsum("iqk,iqkp,iqkr->ipr", ratio / safe, dprob, dprob)
    return grad, hess


class ItemModel(ABC):
    """One item response model, vectorized over a batch of items with the same ``K``.

    Class attributes
    ----------------
    name : str
        mirt's name of the model (``"2pl"``, ``"graded"``...).
    min_categories, max_categories : int
        Admissible numbers of categories (``max_categories`` None = unbounded).
    fixed_values : mapping
        Parameters held at a constant by the model itself (the Rasch slope ``a1 = 1``).
    tied : tuple of str
        Parameters that take one common value across all items of this model (the 1PL slope).
    estimates_latent_variance : bool
        True where the slopes are fixed so that the latent variance is estimated instead
        (``rasch``, ``pcm``, ``rsm``).
    bounds : mapping
        ``name -> (low, high)`` admissible range of a parameter; estimation clips Newton
        steps into it (guessing and upper asymptotes in [0, 1]).
    anchor_first_item : mapping
        Parameters of the first item of a block held at a value for identification (mirt
        fixes ``c`` of the first rating-scale item at 0).

    The parameter layout of a block of items (:class:`psychometrics.irt.layout.ParameterLayout`)
    reads :meth:`tied_names` and :meth:`block_fixed`; models override them, never probe for them.
    """

    name: ClassVar[str]
    min_categories: ClassVar[int] = 2
    max_categories: ClassVar[int | None] = None
    fixed_values: ClassVar[Mapping[str, float]] = {}
    tied: ClassVar[tuple[str, ...]] = ()
    estimates_latent_variance: ClassVar[bool] = False
    bounds: ClassVar[Mapping[str, tuple[float, float]]] = {}
    anchor_first_item: ClassVar[Mapping[str, float]] = {}

    def __repr__(self) -> str:
        return f"<ItemModel {self.name!r}>"

    # -- description -------------------------------------------------------------------------
    def check_categories(self, n_categories: int) -> None:
        """Raise ValueError when the model cannot have ``n_categories`` categories."""
        high = self.max_categories
        if n_categories < self.min_categories or (high is not None and n_categories > high):
            allowed = f"{self.min_categories}" + ("" if high == self.min_categories else
                                                    f" to {high if high is not None else 'any number of'}")
            raise ValueError(f"model {self.name!r} needs {allowed} categories, got {n_categories}")

    def n_parameters(self, n_categories: int) -> int:
        """Number of parameters (free or fixed by the model) in slope-intercept form."""
        return len(self.parameter_names(n_categories))

    @abstractmethod
    def parameter_names(self, n_categories: int) -> list[str]:
        """Slope-intercept parameter names, mirt's (``a1, d``; ``a1, d1..``; ...)."""

    @abstractmethod
    def irt_parameter_names(self, n_categories: int) -> list[str]:
        """IRT-form names (``a, b, g, u``; ``a, b1..b{K-1}``)."""

    def free_mask(self, n_categories: int) -> np.ndarray:
        """Boolean (P,) mask of the parameters the model lets an estimator move."""
        return np.array([n not in self.fixed_values for n in self.parameter_names(n_categories)])

    def tied_names(self, n_categories: int) -> list[str]:
        """Parameters that take one common value across the items of a block (the 1PL slope,
        the rating-scale thresholds); by default :attr:`tied` restricted to this ``K``."""
        names = self.parameter_names(n_categories)
        return [t for t in self.tied if t in names]

    def block_fixed(self, n_categories: int, n_items: int) -> np.ndarray:
        """Boolean (n_items, P): parameters a block of ``n_items`` items holds fixed, by the
        model (:attr:`fixed_values`) or for identification (:attr:`anchor_first_item`)."""
        names = self.parameter_names(n_categories)
        fixed = np.zeros((n_items, len(names)), dtype=bool)
        fixed[:, [c for c, n in enumerate(names) if n in self.fixed_values]] = True
        if n_items:
            fixed[0, [c for c, n in enumerate(names) if n in self.anchor_first_item]] = True
        return fixed

    def default_priors(self, n_categories: int) -> dict[str, tuple[str, float, float]]:
        """Priors a calibration puts on parameters it was given no prior for:
        ``{slope-intercept name: (kind, p1, p2)}`` as in ``calibrate(priors=...)``. None by
        default; the nominal model has one for many categories
        (:meth:`psychometrics.items.nominal.NominalModel.default_priors`)."""
        return {}

    @abstractmethod
    def start_values(self, n_categories: int, n_items: int) -> np.ndarray:
        """Generic starting values, (n_items, P)."""

    def data_start_values(self, n_categories: int, proportions: np.ndarray) -> np.ndarray:
        """Starting values from observed category proportions (n_items, K); defaults to
        :meth:`start_values`."""
        return self.start_values(n_categories, proportions.shape[0])

    # -- probabilities -------------------------------------------------------------------------
    @abstractmethod
    def log_probabilities(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Log category probabilities, (n_items, Q, K), float64. Parameters outside the
        model's domain give ``-inf`` (never NaN, never a RuntimeWarning)."""

    def probabilities(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Category probabilities, (n_items, Q, K)."""
        return np.exp(self.log_probabilities(params, theta))

    def objective(self, params: np.ndarray, theta: np.ndarray, counts: np.ndarray) -> np.ndarray:
        r"""Per-item expected complete-data log-likelihood
        :math:`\sum_{q,k} r_{qk} \log P_k(\theta_q)`, (n_items,); ``-inf`` outside the domain."""
        logp = self.log_probabilities(np.asarray(params, dtype=np.float64), theta)
        with np.errstate(invalid="ignore"):
            terms = np.where(counts > 0, counts * logp, 0.0)
        out = terms.sum(axis=(1, 2))
        return np.where(np.isnan(out), -np.inf, out)

    def probability_derivative(self, params: np.ndarray, theta: np.ndarray, column: int) -> np.ndarray | None:
        """Exact derivative of the category probabilities with respect to parameter ``column``
        (slope-intercept form) of every item, (n_items, Q, K); None where the model does not
        state it (callers then difference :meth:`log_probabilities` numerically)."""
        return None

    @abstractmethod
    def gradient_hessian(self, params: np.ndarray, theta: np.ndarray,
                         counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient (n_items, P) and Hessian (n_items, P, P) of :meth:`objective` with respect
        to all P parameters (estimators drop the fixed ones)."""

    @abstractmethod
    def information(self, params: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Fisher item information, (n_items, Q)."""

    # -- parameterizations ----------------------------------------------------------------------
    @abstractmethod
    def to_irt(self, params: np.ndarray) -> np.ndarray:
        """Slope-intercept -> IRT form, (n_items, P_irt)."""

    @abstractmethod
    def from_irt(self, irt_params: np.ndarray) -> np.ndarray:
        """IRT form -> slope-intercept form, (n_items, P)."""

    def irt_jacobian(self, params: np.ndarray) -> np.ndarray | None:
        r"""Exact Jacobian of :meth:`to_irt`, :math:`\partial\,\text{irt}_p / \partial\,\text{si}_r`,
        (n_items, P_irt, P); the delta method's standard errors of the IRT form read it. None
        where the model does not state it (the caller then differences :meth:`to_irt`); NaN
        where the IRT form itself is undefined (a zero slope has no thresholds)."""
        return None

    def project(self, params: np.ndarray, n_categories: int) -> np.ndarray:
        """Bring parameters back into :attr:`bounds` (after an optimizer step)."""
        if not self.bounds:
            return params
        out = np.array(params, dtype=np.float64, copy=True)
        for j, name in enumerate(self.parameter_names(n_categories)):
            if name in self.bounds:
                low, high = self.bounds[name]
                out[:, j] = np.clip(out[:, j], low, high)
        return out
