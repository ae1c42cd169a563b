"""Pieces shared by the fit statistics: encoding, quadrature, parameter slots, person scores.

Everything here works on a calibration (the interface of :class:`psychometrics.irt.Calibration`)
and on the category indices it encodes (persons x items, -1 for missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.data import Responses, as_responses
from psychometrics.errors import EstimationError, ResponseError
from psychometrics.irt.layout import ParameterLayout
from psychometrics.items import ItemModel, get_model
from psychometrics.quadrature import DEFAULT_POINTS, grid_nodes, normal_log_weights

# persons per chunk where a (items x persons x categories) array is formed
PERSON_CHUNK = 4096


@dataclass(frozen=True)
class Encoded:
    """Validated responses in the calibration's item order."""

    responses: Responses
    codes: np.ndarray          # (n, J) int, -1 for missing
    n_categories: np.ndarray   # (J,)
    item_ids: list[str]

    @property
    def observed(self) -> np.ndarray:
        return self.codes >= 0

    @property
    def person_ids(self) -> pd.Index:
        return self.responses.person_ids


def check_calibration(calibration: Any) -> None:
    needed = ("item_ids", "categories", "log_probabilities", "encode", "models", "slope_intercept")
    missing = [name for name in needed if not hasattr(calibration, name)]
    if missing:
        raise TypeError(f"expected a Calibration (psychometrics.irt.calibrate), got "
                        f"{type(calibration).__name__} without {', '.join(missing)}")


def encode(calibration: Any, responses: Any, *, need_all_items: bool = False) -> Encoded:
    """Check the inputs once and code the responses as category indices."""
    check_calibration(calibration)
    # validated as everywhere, but without the loader's data warnings (constant items, sparse
    # items, empty rows): those concern calibration and were given there; a fit statistic on a
    # handful of respondents would repeat them to no purpose (as scoring does)
    resp = as_responses(responses, warn=False)
    if resp.n_persons == 0:
        raise ResponseError("the response data have no respondents")
    codes = np.asarray(calibration.encode(resp)).astype(np.int64)
    item_ids = [str(i) for i in calibration.item_ids]
    n_categories = np.array([len(calibration.categories[i]) for i in item_ids], dtype=np.int64)
    if need_all_items:
        absent = [i for i in item_ids if i not in set(resp.item_ids)]
        if absent:
            raise ResponseError(f"item(s) {absent} of the calibration are not in the response data; "
                                "this statistic needs every calibrated item")
    return Encoded(resp, codes, n_categories, item_ids)


def latent_moments(calibration: Any) -> tuple[float, float]:
    """Mean and variance of the calibration's latent distribution (one group)."""
    mean, variance = calibration.latent_mean, calibration.latent_variance
    if isinstance(mean, pd.Series) or isinstance(variance, pd.Series):
        if np.size(mean) != 1 or np.size(variance) != 1:
            raise EstimationError("fit statistics of a multi-group calibration are not supported yet; "
                                  "compute them per group from single-group calibrations")
        mean, variance = np.asarray(mean).item(), np.asarray(variance).item()
    return float(mean), float(variance)


def grid(calibration: Any, quadrature_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and normalized weights of the latent distribution, as the calibration's EM used:
    fixed equally spaced nodes on [-6, 6], normal weights for its latent mean and variance."""
    nodes = grid_nodes(quadrature_points or getattr(calibration, "quadrature_points", None) or DEFAULT_POINTS)
    log_w = normal_log_weights(nodes, *latent_moments(calibration))
    return nodes, np.exp(log_w)


def probabilities(calibration: Any, theta: np.ndarray) -> np.ndarray:
    """Category probabilities (J, len(theta), max K), 0 beyond an item's categories."""
    log_p = np.asarray(calibration.log_probabilities(np.asarray(theta, dtype=np.float64)), dtype=np.float64)
    if np.isnan(log_p).any():
        raise EstimationError("the calibration returned NaN probabilities; check its item parameters")
    return np.exp(log_p)


def category_scores(n_categories: np.ndarray) -> np.ndarray:
    """(J, max K) score of each category (its index), 0 beyond an item's categories."""
    k = np.arange(int(n_categories.max()), dtype=np.float64)
    return np.where(k[None, :] < n_categories[:, None], k[None, :], 0.0)


# --------------------------------------------------------------------------------------------
# free parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterBlock:
    """Items sharing a model and a number of categories, with the slot of every parameter.

    ``slot[r, c]`` is the column of the parameter in the list of free parameters (-1 when the
    model fixes it); parameters tied across the block (the 1PL slope, rating-scale thresholds)
    share one slot.
    """

    model: ItemModel
    n_categories: int
    positions: np.ndarray
    params: np.ndarray
    slot: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class FreeParameters:
    """The estimated parameters of a calibration, from its :attr:`parameter_layout`."""

    blocks: list[ParameterBlock]
    n_item_parameters: int
    latent: list[tuple[int, str]]   # (slot, "mean" | "variance") of estimated latent parameters
    own: np.ndarray            # (J,) free parameters of each item that are its own (not shared)
    size: int                  # length of the estimate vector

    @property
    def latent_variance(self) -> bool:
        """Whether the latent variance was estimated."""
        return any(kind == "variance" for _, kind in self.latent)


def free_parameters(calibration: Any) -> FreeParameters:
    """The parameters a calibration estimated: its parameter layout
    (:class:`psychometrics.irt.layout.ParameterLayout`), read, never recounted. Anchors held at
    fixed values at calibration time are not free; a calibration of stated parameters
    carries the layout its models imply.
    """
    item_ids = [str(i) for i in calibration.item_ids]
    n_cat = np.array([len(calibration.categories[i]) for i in item_ids], dtype=np.int64)
    layout = getattr(calibration, "parameter_layout", None)
    if layout is None:
        layout = ParameterLayout.stated(item_ids, {i: str(calibration.models[i]) for i in item_ids}, n_cat)
    keys: dict[tuple[str, int], list[int]] = {}
    for j, item in enumerate(item_ids):
        keys.setdefault((str(calibration.models[item]), int(n_cat[j])), []).append(j)
    n_factors = len(getattr(calibration, "factors", None) or ()) if getattr(calibration, "is_multidimensional",
                                                                            False) else 0
    # rotated exploratory slopes: every slope varies (the rotation's indeterminacy shows as
    # rank deficiency of the Jacobian), numbered after the layout's slots
    extra = layout.n_parameters
    rotated = n_factors > 0 and getattr(calibration, "factor_model", None) == "exploratory"
    blocks = []
    for (name, k), positions in keys.items():
        model = get_model(name)
        if n_factors:
            from psychometrics.items.multidimensional import MultidimensionalModel

            model = MultidimensionalModel(model, n_factors)
        names = model.parameter_names(k)
        params = calibration.slope_intercept.iloc[positions][names].to_numpy(dtype=np.float64)
        slot = np.array([[layout.slot_of(item_ids[j], nm) for nm in names] for j in positions], dtype=np.int64)
        if rotated:
            slot[:, :n_factors] = extra + np.arange(len(positions) * n_factors).reshape(len(positions), n_factors)
            extra += len(positions) * n_factors
        lower = np.array([model.bounds.get(nm, (-np.inf, np.inf))[0] for nm in names])
        upper = np.array([model.bounds.get(nm, (-np.inf, np.inf))[1] for nm in names])
        blocks.append(ParameterBlock(model, k, np.asarray(positions), params, slot, lower, upper))
    latent = [(s, kind) for s, kind, _ in layout.latent]
    return FreeParameters(blocks, layout.n_item_parameters, latent, layout.own(item_ids), extra)


def probability_derivatives(block: ParameterBlock, column: int, nodes: np.ndarray) -> np.ndarray:
    """Derivative of the category probabilities of a block's items with respect to one
    slope-intercept parameter (every item its own), (n_items, Q, K).

    The item model's exact derivative (:meth:`ItemModel.probability_derivative`) where it
    states one (every built-in model). Otherwise five-point central differences
    (error of order h^4, about 1e-12 here); an item whose parameter sits within two steps of a
    bound of its range (a guessing parameter at 0) gets the one-sided three-point difference
    into the range instead.
    """
    exact = block.model.probability_derivative(block.params, nodes, column)
    if exact is not None:
        return exact
    params = block.params
    value = params[:, column]
    h = 1e-3 * np.maximum(1.0, np.abs(value))
    low, high = block.lower[column], block.upper[column]

    def at(offset: np.ndarray) -> np.ndarray:
        moved = params.copy()
        moved[:, column] = value + offset
        return np.exp(block.model.log_probabilities(moved, nodes))

    inside = (value - 2 * h >= low) & (value + 2 * h <= high)
    central = (8.0 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12.0 * h)[:, None, None]
    if inside.all():
        return central
    # one-sided, into the admissible range, with a smaller step
    direction = np.where(value - 2 * h < low, 1.0, -1.0)
    h_side = 1e-5 * np.maximum(1.0, np.abs(value)) * direction
    side = (-3.0 * at(np.zeros_like(value)) + 4.0 * at(h_side) - at(2 * h_side)) / (2.0 * h_side)[:, None, None]
    return np.where(inside[:, None, None], central, side)


# --------------------------------------------------------------------------------------------
# person estimates
# --------------------------------------------------------------------------------------------


def person_theta(calibration: Any, enc: Encoded, theta: Any, method: str) -> np.ndarray:
    """Person estimates: the given ``theta`` (aligned on the respondents) or scores by ``method``."""
    if len(getattr(calibration, "factors", ())) > 1:
        raise ValueError(f"item and person fit are written for one latent trait; this calibration has "
                         f"{len(calibration.factors)} factors {list(calibration.factors)}")
    if theta is None:
        from psychometrics.scoring import score  # scoring sits beside fit; import at use

        # persons without answers contribute nothing to fit; the prior keeps the arrays finite
        scores = score(calibration, enc.responses, method=method, empty="prior")
        return scores["theta"].to_numpy(dtype=np.float64)
    if isinstance(theta, pd.DataFrame):
        if "theta" not in theta.columns:
            raise ValueError("theta given as a DataFrame needs a 'theta' column (the output of score())")
        theta = theta["theta"]
    if isinstance(theta, pd.Series):
        missing = enc.person_ids.difference(theta.index)
        if len(missing):
            raise ValueError(f"theta has no value for respondent(s) {list(missing[:5])}")
        values = theta.reindex(enc.person_ids).to_numpy(dtype=np.float64)
    else:
        values = np.asarray(theta, dtype=np.float64).reshape(-1)
        if values.shape[0] != enc.codes.shape[0]:
            raise ValueError(f"theta has {values.shape[0]} values for {enc.codes.shape[0]} respondents")
    if np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values))[0])
        raise ValueError(f"theta is NaN for respondent {enc.person_ids[row]!r} (row {row})")
    return values


def check_method(method: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(method, str) or method.lower() not in allowed:
        raise ValueError(f"method must be one of {', '.join(allowed)}, got {method!r}")
    return method.lower()


# --------------------------------------------------------------------------------------------
# multidimensional latent distributions
# --------------------------------------------------------------------------------------------

#: Quasi-Monte Carlo points of fit statistics beyond three integrated dimensions.
FIT_QMC_POINTS = 8192


def factor_grid(calibration: Any, quadrature_points: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Nodes (Q, D), normalized weights (Q,) and factor correlations (D, D) of a
    multidimensional calibration's :math:`N(\mathbf 0, \boldsymbol\Phi)`.

    Up to three factors the tensor-product grid of the calibration's points per dimension
    with the normal weights its EM used (a bifactor model: 15 points per dimension over the
    full grid, or its own count when that is smaller); beyond, scrambled Sobol points of
    :math:`N(\mathbf 0, \mathbf I)` (8192 by default) reweighted to
    :math:`N(\mathbf 0, \boldsymbol\Phi)`.
    """
    from psychometrics.irt.multidimensional import qmc_normal_nodes
    from psychometrics.quadrature import mvn_log_weights, product_nodes

    d = len(calibration.factors)
    corr = (np.eye(d) if calibration.factor_correlations is None
            else calibration.factor_correlations.to_numpy(dtype=np.float64))
    own = int(getattr(calibration, "quadrature_points", 0) or 0)
    if d <= 3:
        if quadrature_points is not None:
            points = int(quadrature_points)
        elif calibration.factor_model == "bifactor":
            points = min(own, 15) if own else 15
        else:
            points = own or {1: 61, 2: 31, 3: 15}[d]
        nodes = product_nodes(grid_nodes(points), d)
        log_w = mvn_log_weights(nodes, corr)
    else:
        nodes = qmc_normal_nodes(int(quadrature_points or FIT_QMC_POINTS), d)
        log_w = mvn_log_weights(nodes, corr) + 0.5 * np.einsum("qd,qd->q", nodes, nodes)
        log_w -= np.logaddexp.reduce(log_w)
    return nodes, np.exp(log_w), corr


def correlation_weight_gradient(nodes: np.ndarray, weights: np.ndarray, corr: np.ndarray,
                                i: int, j: int) -> np.ndarray:
    r"""Derivative of the normalized weights :math:`w_q \propto \phi(\boldsymbol\theta_q;
    \boldsymbol\Phi)\,/\,h(\boldsymbol\theta_q)` with respect to the correlation
    :math:`\rho_{ij}` (the nodes and their base density h held fixed):

    .. math:: \frac{\partial w_q}{\partial\rho_{ij}} = w_q\,(g_q - \textstyle\sum_r w_r g_r),
              \quad g_q = \boldsymbol\theta_q^\top \mathbf P \mathbf E_{ij}\mathbf P
              \boldsymbol\theta_q / 2,

    with :math:`\mathbf P = \boldsymbol\Phi^{-1}` and :math:`\mathbf E_{ij}` the symmetric
    unit matrix of the pair (the log-determinant term is constant over nodes and cancels)."""
    precision = np.linalg.inv(corr)
    pt = nodes @ precision                                   # (Q, D): P theta
    g = pt[:, i] * pt[:, j]                                  # theta' P E_ij P theta / 2 (E_ij counts both cells)
    return weights * (g - weights @ g)
