r"""Model fit: the limited-information M2 statistic with RMSEA, SRMSR, CFI, TLI, and
likelihood-ratio tests of nested calibrations.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg, stats

from psychometrics._blas import one_blas_thread
from psychometrics._numeric import TINY
from psychometrics.errors import EstimationError, ModelWarning, ResponseError
from psychometrics.fit_indices import cfi_tli, rmsea, rmsea_interval, srmr
from psychometrics.fit._common import (
    category_scores,
    correlation_weight_gradient,
    encode,
    factor_grid,
    free_parameters,
    grid,
    latent_moments,
    probabilities,
    probability_derivatives,
)
from psychometrics.fit.local import _pairwise_correlation
from psychometrics.quadrature import normal_log_weight_gradient
from psychometrics._results import brief_repr

__all__ = ["m2", "M2Result", "likelihood_ratio", "LikelihoodRatioResult"]

# elements of the (margins x margins x nodes) work array formed at once
_BLOCK_ELEMENTS = 1 << 22


# ============================================================================================
# results
# ============================================================================================


@dataclass(frozen=True)
class M2Result:
    """Limited-information goodness of fit of a calibration.

    Attributes
    ----------
    m2, df, p : float
        The statistic, its degrees of freedom (margins less free parameters) and p-value.
    rmsea, rmsea_ci_low, rmsea_ci_high : float
        RMSEA of the M2 statistic and its 90% confidence interval.
    srmsr : float
        Standardized root mean squared residual of the inter-item correlations.
    cfi, tli : float
        Comparative and Tucker-Lewis fit indices against the independence model (NaN when
        that model has no degrees of freedom).
    m2_null, df_null : float
        M2 of the independence model and its degrees of freedom.
    n_persons : int
        Respondents with at least one answer.
    n_statistics, n_parameters : int
        Number of margins and of free parameters.
    type : str
        ``"M2"``, ``"M2*"`` or ``"C2"``.
    """

    __repr__ = brief_repr

    m2: float
    df: int
    p: float
    rmsea: float
    rmsea_ci_low: float
    rmsea_ci_high: float
    srmsr: float
    cfi: float
    tli: float
    m2_null: float
    df_null: int
    n_persons: int
    n_statistics: int
    n_parameters: int
    type: str

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of all fields."""
        return pd.DataFrame([asdict(self)], index=pd.Index(["stats"]))

    def summary(self) -> str:
        return (f"{self.type} = {self.m2:.3f}, df = {self.df}, p = {self.p:.4f}; "
                f"RMSEA = {self.rmsea:.3f} [{self.rmsea_ci_low:.3f}, {self.rmsea_ci_high:.3f}], "
                f"SRMSR = {self.srmsr:.3f}, TLI = {self.tli:.3f}, CFI = {self.cfi:.3f} "
                f"({self.n_persons} persons, {self.n_statistics} margins, {self.n_parameters} parameters)")


@dataclass(frozen=True)
class LikelihoodRatioResult:
    """Likelihood-ratio comparison of a restricted calibration nested in a general one.

    Attributes
    ----------
    chi2, df, p : float
        :math:`2(\\ell_{general} - \\ell_{restricted})`, the difference in free parameters,
        the upper chi-square tail probability.
    loglik_restricted, loglik_general : float
    delta_aic, delta_bic : float
        ``general - restricted``: negative values favour the general model.
    """

    __repr__ = brief_repr

    chi2: float
    df: int
    p: float
    loglik_restricted: float
    loglik_general: float
    delta_aic: float
    delta_bic: float

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)], index=pd.Index(["lr"]))

    def summary(self) -> str:
        return (f"LR chi2 = {self.chi2:.3f}, df = {self.df}, p = {self.p:.4g}; "
                f"delta AIC = {self.delta_aic:.2f}, delta BIC = {self.delta_bic:.2f} (general - restricted)")


# ============================================================================================
# the margins
# ============================================================================================


@dataclass(frozen=True)
class _Design:
    """Which moments enter the statistic.

    Each item has one or more *functions* of its category, ``values[u, k]``; the margins are
    the means of every function and of every product of two functions of different items.
    """

    item: np.ndarray       # (U,) item of each function
    values: np.ndarray     # (U, max K)
    u1: np.ndarray         # (s,) first function of each margin
    u2: np.ndarray         # (s,) second function, -1 for a first-order margin

    @property
    def size(self) -> int:
        return self.u1.shape[0]


def _design(n_categories: np.ndarray, kind: str) -> _Design:
    """Margins of ``kind``: category indicators (M2), category scores (M2*), or indicators for
    the first-order and scores for the second-order margins (C2)."""
    k_max = int(n_categories.max())
    categories = np.arange(k_max)
    items, values, first, second = [], [], [], []
    for j, k_j in enumerate(n_categories):
        score = np.where(categories < k_j, categories, 0).astype(np.float64)
        if k_j == 2 or kind == "M2*":
            # for a dichotomous item the indicator of category 1 is its score
            first.append(len(items))
            second.append(len(items))
            items.append(j)
            values.append(score)
            continue
        indicators = []
        for c in range(1, int(k_j)):
            indicators.append(len(items))
            items.append(j)
            values.append((categories == c).astype(np.float64))
        first.extend(indicators)
        if kind == "M2":
            second.extend(indicators)
        else:
            second.append(len(items))
            items.append(j)
            values.append(score)
    item = np.asarray(items, dtype=np.int64)
    first_arr, second_arr = np.asarray(first), np.asarray(second)
    a, b = np.triu_indices(second_arr.size, k=1)
    different = item[second_arr[a]] != item[second_arr[b]]
    u1 = np.concatenate([first_arr, second_arr[a][different]])
    u2 = np.concatenate([np.full(first_arr.size, -1), second_arr[b][different]])
    return _Design(item, np.asarray(values), u1, u2)


def _conditional_moments(design: _Design, prob: np.ndarray) -> np.ndarray:
    """(U, Q): conditional mean of every function at every node."""
    return np.einsum("uk,uqk->uq", design.values, prob[design.item])


def _model_margins(design: _Design, mu: np.ndarray, weights: np.ndarray) -> np.ndarray:
    second = np.where(design.u2[:, None] >= 0, mu[np.maximum(design.u2, 0)], 1.0)
    return (mu[design.u1] * second) @ weights


def _covariance(design: _Design, prob: np.ndarray, mu: np.ndarray, weights: np.ndarray,
                pi: np.ndarray) -> np.ndarray:
    r"""Covariance matrix of the margins of one response pattern (s, s).

    Given theta the items are independent, so :math:`E[m_a m_b \mid \theta]` is a product
    over the items involved: a function's conditional mean where an item appears in one
    margin, the conditional mean of the product of the two functions where it appears in
    both. The factors are looked up in one table (means, same-item products, 1).
    """
    n_functions = design.item.shape[0]
    same = design.item[:, None] == design.item[None, :]
    pair_u, pair_t = np.nonzero(same)
    products = np.einsum("pk,pk,pqk->pq", design.values[pair_u], design.values[pair_t],
                         prob[design.item[pair_u]])
    table = np.vstack([mu, products, np.ones((1, mu.shape[1]))])
    one = table.shape[0] - 1
    product_row = np.full((n_functions, n_functions), -1, dtype=np.int64)
    product_row[pair_u, pair_t] = n_functions + np.arange(pair_u.size)

    a1, a2 = design.u1[:, None], design.u2[:, None]
    b1, b2 = design.u1[None, :], design.u2[None, :]
    item = np.append(design.item, -1)           # index -1 (no function) -> item -1
    i_a1, i_a2, i_b1, i_b2 = item[a1], item[a2], item[b1], item[b2]
    m11 = i_a1 == i_b1
    m12 = (i_a1 == i_b2) & (b2 >= 0)
    m21 = (i_a2 == i_b1) & (a2 >= 0)
    m22 = (i_a2 == i_b2) & (a2 >= 0) & (b2 >= 0)
    a2c, b2c = np.maximum(a2, 0), np.maximum(b2, 0)
    f1 = np.where(m11, product_row[a1, b1], np.where(m12, product_row[a1, b2c], a1))
    f2 = np.where(a2 < 0, one, np.where(m21, product_row[a2c, b1],
                                        np.where(m22, product_row[a2c, b2c], a2c)))
    f3 = np.where(m11 | m21, one, b1)
    f4 = np.where((b2 < 0) | m12 | m22, one, b2c)
    s = design.size
    f1, f2, f3, f4 = (np.broadcast_to(f, (s, s)).astype(np.int32) for f in (f1, f2, f3, f4))
    moment = np.zeros((s, s))
    step = max(1, _BLOCK_ELEMENTS // max(s * s, 1))
    for start in range(0, table.shape[1], step):
        part = table[:, start:start + step]
        w = weights[start:start + step]
        moment += (part[f1] * part[f2] * part[f3] * part[f4]) @ w
    return moment - np.outer(pi, pi)


def _add_derivative(delta: np.ndarray, design: _Design, mu: np.ndarray, weights: np.ndarray,
                    dprob: np.ndarray, slots: np.ndarray) -> None:
    """Add to ``delta`` the derivatives of the margins with respect to one parameter of every
    item: ``dprob`` (J, Q, K) is each item's derivative of its category probabilities by its
    own parameter, ``slots`` (J,) the column of that parameter (-1: none)."""
    dmu = np.einsum("uk,uqk->uq", design.values, dprob[design.item])
    has2 = design.u2 >= 0
    u2 = np.maximum(design.u2, 0)
    second = np.where(has2[:, None], mu[u2], 1.0)
    term1 = (dmu[design.u1] * second) @ weights
    term2 = np.where(has2, (mu[design.u1] * dmu[u2]) @ weights, 0.0)
    rows = np.arange(design.size)
    col1 = slots[design.item[design.u1]]
    ok1 = col1 >= 0
    np.add.at(delta, (rows[ok1], col1[ok1]), term1[ok1])
    col2 = np.where(has2, slots[design.item[u2]], -1)
    ok2 = col2 >= 0
    np.add.at(delta, (rows[ok2], col2[ok2]), term2[ok2])


def _m2_value(e: np.ndarray, xi: np.ndarray, delta: np.ndarray, max_rank: int | None = None) -> tuple[float, int]:
    r""":math:`e^T \Delta_c (\Delta_c^T \Xi \Delta_c)^{-1} \Delta_c^T e` and the rank of
    :math:`\Delta` (at most ``max_rank``: columns known to span fewer directions, such as
    rotated slopes, whose null direction numerical derivatives blur)."""
    u, sv, _ = linalg.svd(delta, full_matrices=True)
    rank = int((sv > sv.max() * 1e-12).sum()) if sv.size and sv.max() > 0 else 0
    if max_rank is not None:
        rank = min(rank, int(max_rank))
    complement = u[:, rank:]
    inner = complement.T @ xi @ complement
    projected = complement.T @ e
    try:
        factor = linalg.cho_factor(inner)
        value = float(projected @ linalg.cho_solve(factor, projected))
    except linalg.LinAlgError:
        warnings.warn("the covariance matrix of the residual margins is singular; M2 uses its "
                      "pseudo-inverse", ModelWarning, stacklevel=4)
        value = float(projected @ np.linalg.pinv(inner) @ projected)
    return value, rank


def _observed(enc_codes: np.ndarray, design: _Design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed margins, the number of persons behind each, and the (s, s) numbers of persons
    behind each pair of margins."""
    observed = enc_codes >= 0
    item_obs = observed[:, design.item].astype(np.float64)                 # (n, U)
    codes = np.where(observed, enc_codes, 0)[:, design.item]
    v = design.values[np.arange(design.item.shape[0])[None, :], codes]   # (n, U)
    v = np.where(item_obs > 0, v, 0.0)
    has2 = design.u2 >= 0
    u2 = np.maximum(design.u2, 0)
    sums_first = v.sum(axis=0)
    n_first = item_obs.sum(axis=0)
    cross = v.T @ v
    n_cross = item_obs.T @ item_obs
    total = np.where(has2, cross[design.u1, u2], sums_first[design.u1])
    n_margin = np.where(has2, n_cross[design.u1, u2], n_first[design.u1])
    if observed.all():
        n_union = np.full((design.size, design.size), float(enc_codes.shape[0]))
    else:
        # persons behind margins a and b: those who answered every item of both; computed
        # over the distinct patterns of answered items, weighted by their counts
        patterns, counts = np.unique(observed, axis=0, return_counts=True)
        pat = patterns[:, design.item].astype(np.float64)
        margin_obs = pat[:, design.u1] * np.where(has2[None, :], pat[:, u2], 1.0)
        n_union = (margin_obs * counts[:, None]).T @ margin_obs
    return total / np.maximum(n_margin, 1.0), n_margin, n_union


def _m2_parts(design: _Design, prob: np.ndarray, weights: np.ndarray, p_obs: np.ndarray,
              n_margin: np.ndarray, n_union: np.ndarray, delta_columns, n_columns: int,
              max_rank: int | None = None):
    mu = _conditional_moments(design, prob)
    pi = _model_margins(design, mu, weights)
    xi = _covariance(design, prob, mu, weights, pi)
    scale = n_union / np.maximum(np.outer(n_margin, n_margin), 1.0)
    xi = xi * scale
    delta = np.zeros((design.size, n_columns))
    delta_columns(delta, mu)
    return _m2_value(p_obs - pi, xi, delta, max_rank)


# ============================================================================================
# M2
# ============================================================================================


@one_blas_thread
def m2(calibration: Any, responses: Any, *, type: Literal["M2", "M2*", "C2"] = "M2*",
       quadrature_points: int | None = None) -> M2Result:
    r"""Limited-information goodness-of-fit statistic M2 and the fit indices built on it.

    Parameters
    ----------
    calibration : Calibration
        From :func:`psychometrics.irt.calibrate` on (essentially) the same responses.
    responses : DataFrame, ndarray or Responses
        Persons x items, every calibrated item present; NaN = missing (see Notes).
    type : {"M2*", "M2", "C2"}
        ``"M2"``: first- and second-order margins of every category but the lowest
        (Maydeu-Olivares & Joe, 2006). ``"M2*"`` (default, as mirt): for polytomous items the
        reduced statistic on item means and cross-products (Joe & Maydeu-Olivares, 2010;
        Cai & Hansen, 2013), :math:`J + J(J-1)/2` margins. ``"C2"`` (Cai & Monroe, 2014):
        category proportions as first-order and cross-products as second-order margins,
        useful when M2* has too few degrees of freedom. All three are the same for
        dichotomous items.
    quadrature_points : int, optional
        Nodes of the latent grid (default: the calibration's).

    Returns
    -------
    M2Result

    Raises
    ------
    EstimationError
        When the degrees of freedom are not positive (more free parameters than margins):
        use ``type="M2"`` or fewer parameters.

    Notes
    -----
    With the observed margins :math:`p`, model-implied margins :math:`\pi(\hat\xi)`, their
    Jacobian :math:`\Delta = \partial\pi/\partial\xi` (central differences of the item
    probabilities), :math:`\Delta_c` an orthogonal complement of :math:`\Delta` and
    :math:`\Xi` the covariance matrix of :math:`p` under the model,

    .. math:: M_2 = (p - \pi)^T \Delta_c (\Delta_c^T \Xi \Delta_c)^{-1} \Delta_c^T (p - \pi),
              \quad df = s - \operatorname{rank}\Delta,

    .. math:: \mathrm{RMSEA}_2 = \sqrt{\max\left(\frac{M_2 - df}{N\, df}, 0\right)}, \quad
              \mathrm{CFI} = 1 - \frac{\max(M_2 - df, 0)}{\max(M_{2,0} - df_0, M_2 - df, 0)}, \quad
              \mathrm{TLI} = \frac{M_{2,0}/df_0 - M_2/df}{M_{2,0}/df_0 - 1},

    where :math:`M_{2,0}` is M2 of the independence model (items independent, category
    proportions free). SRMSR is the root mean square, over item pairs, of the difference
    between the observed (pairwise) and model-implied correlations of the category scores.
    Expectations over theta use the calibration's quadrature.

    Multidimensional calibrations (``factors=`` or ``bifactor=``): the same statistic with
    the expectations taken over the factors' :math:`N(\mathbf 0, \boldsymbol\Phi)`, on the
    tensor-product grid up to three factors (a bifactor model over its full grid, 15 points per
    dimension) and on 8192 reweighted quasi-Monte Carlo points beyond; the Jacobian has a
    column per free slope and intercept and per estimated correlation (exact derivatives of
    the normalized weights), so df = margins - ``n_parameters``. A one-factor model gives the
    unidimensional M2 exactly. Rotated exploratory slopes are differentiated all together
    and the Jacobian's rank capped at ``n_parameters`` (the rotation is not identified).

    Missing data: every margin uses the persons who answered its items, and the covariance
    of margins :math:`a, b` is :math:`n_{a \cup b} / (n_a n_b)` times the one-person
    covariance, with :math:`n_{a\cup b}` the persons who answered all items of both; this is
    exact under responses missing completely at random and reduces to :math:`\Xi/N` for
    complete data. :math:`N` in RMSEA is the number of persons with at least one response.

    References
    ----------
    .. [1] Maydeu-Olivares, A. & Joe, H. (2005). Limited- and full-information estimation and
           goodness-of-fit testing in 2^n contingency tables. JASA, 100, 1009-1020.
    .. [2] Maydeu-Olivares, A. & Joe, H. (2006). Limited information goodness-of-fit testing
           in multidimensional contingency tables. Psychometrika, 71, 713-732.
    .. [3] Joe, H. & Maydeu-Olivares, A. (2010). A general family of limited information
           goodness-of-fit statistics for multinomial data. Psychometrika, 75, 393-419.
    .. [4] Cai, L. & Hansen, M. (2013). Limited-information goodness-of-fit testing of
           hierarchical item factor models. British Journal of Mathematical and Statistical
           Psychology, 66, 245-276.
    .. [5] Maydeu-Olivares, A. & Joe, H. (2014). Assessing approximate fit in categorical data
           analysis. Multivariate Behavioral Research, 49, 305-328.
    .. [6] Cai, L. & Monroe, S. (2014). A new statistic for evaluating item response theory
           models for ordinal data. CRESST Report 839, University of California, Los Angeles.

    Examples
    --------
    >>> import pandas as pd
    >>> from psychometrics.irt import Calibration
    >>> from psychometrics.simulate import simulate
    >>> params = pd.DataFrame({"a": [1.0, 1.2, 0.8, 1.5, 1.1], "b": [-1.0, -0.5, 0.0, 0.5, 1.0]},
    ...                       index=["q1", "q2", "q3", "q4", "q5"])
    >>> calibration = Calibration.from_item_params(params, "2pl")
    >>> result = m2(calibration, simulate(calibration, 1000, seed=1))
    >>> result.df, result.n_statistics, result.n_parameters
    (5, 15, 10)
    """
    if type not in ("M2", "M2*", "C2"):
        raise ValueError(f"type must be 'M2', 'M2*' or 'C2', got {type!r}")
    enc = encode(calibration, responses, need_all_items=True)
    codes = enc.codes[(enc.codes >= 0).any(axis=1)]
    n_persons = codes.shape[0]
    if n_persons == 0:
        raise ResponseError("no respondent answered any item")
    n_cat = enc.n_categories
    n_items = n_cat.shape[0]
    if n_items < 2:
        raise EstimationError("M2 needs at least two items")
    unanswered = [enc.item_ids[j] for j in range(n_items) if not (codes[:, j] >= 0).any()]
    if unanswered:
        raise ResponseError(f"item(s) {unanswered} have no responses; M2 needs every calibrated item")
    design = _design(n_cat, type)
    free = free_parameters(calibration)
    # rotated exploratory slopes vary in more directions than the calibration's n_parameters
    # (the rotation); the Jacobian spans only n_parameters of them
    identified = min(free.size, int(getattr(calibration, "n_parameters", free.size)))
    df = design.size - identified
    if df <= 0:
        hint = (" use type='C2' or type='M2' (category margins) or a model with fewer parameters"
                if type != "M2" else " use a model with fewer parameters or more items")
        raise EstimationError(f"{type} is not defined here: {design.size} margins for {identified} free "
                              f"parameters leave {df} degrees of freedom;{hint}")
    p_obs, n_margin, n_union = _observed(codes, design)

    multidimensional = bool(getattr(calibration, "is_multidimensional", False))
    if multidimensional:
        nodes, weights, corr = factor_grid(calibration, quadrature_points)
        pairs = {f"correlation {a}~{b}": (i, j) for i, a in enumerate(calibration.factors)
                 for j, b in enumerate(calibration.factors) if i < j}
    else:
        nodes, weights = grid(calibration, quadrature_points)
    prob = probabilities(calibration, nodes)

    def model_columns(delta: np.ndarray, mu: np.ndarray) -> None:
        for block in free.blocks:
            for column in range(block.slot.shape[1]):
                if not (block.slot[:, column] >= 0).any():
                    continue
                dprob = np.zeros_like(prob)
                dprob[block.positions, :, :block.n_categories] = probability_derivatives(block, column, nodes)
                slots = np.full(n_items, -1, dtype=np.int64)
                slots[block.positions] = block.slot[:, column]
                _add_derivative(delta, design, mu, weights, dprob, slots)
        if free.latent and multidimensional:
            for slot, kind in free.latent:
                if kind not in pairs:
                    raise EstimationError(f"M2 does not know the latent parameter {kind!r}")
                delta[:, slot] = _model_margins(design, mu, correlation_weight_gradient(nodes, weights, corr,
                                                                                        *pairs[kind]))
        elif free.latent:
            # exact derivatives of the normalized weights (w_q times those of log w_q)
            mean, variance = latent_moments(calibration)
            d_mean, d_variance = normal_log_weight_gradient(nodes, mean, variance)
            for slot, kind in free.latent:
                dweights = weights * (d_mean if kind == "mean" else d_variance)
                delta[:, slot] = _model_margins(design, mu, dweights)

    value, rank = _m2_parts(design, prob, weights, p_obs, n_margin, n_union, model_columns, free.size, identified)
    if rank < identified:
        warnings.warn(f"the Jacobian of the margins has rank {rank} for {identified} free parameters "
                      "(a parameter may be unidentified); df uses the rank", ModelWarning, stacklevel=2)
    df = design.size - rank
    if df <= 0:
        raise EstimationError(f"{type}: {design.size} margins and a Jacobian of rank {rank} leave no "
                              "degrees of freedom")

    # independence model: category proportions of each item, constant in theta
    k_max = prob.shape[2]
    proportions = np.zeros((n_items, 1, k_max))
    for j in range(n_items):
        answered = codes[:, j] >= 0
        proportions[j, 0, :n_cat[j]] = np.bincount(codes[answered, j], minlength=int(n_cat[j])) / answered.sum()
    null_offsets = np.concatenate([[0], np.cumsum(n_cat - 1)])
    n_null = int(null_offsets[-1])

    def null_columns(delta: np.ndarray, mu: np.ndarray) -> None:
        for c in range(1, k_max):
            dprob = np.zeros_like(proportions)
            has = n_cat > c
            dprob[has, 0, c] = 1.0
            dprob[has, 0, 0] = -1.0
            slots = np.where(has, null_offsets[:-1] + c - 1, -1)
            _add_derivative(delta, design, mu, np.ones(1), dprob, slots)

    df_null = design.size - n_null
    if df_null > 0:
        m2_null, null_rank = _m2_parts(design, proportions, np.ones(1), p_obs, n_margin, n_union,
                                       null_columns, n_null)
        df_null = design.size - null_rank
    else:
        m2_null = math.nan

    # mirt's convention: N persons in the RMSEA (and its interval)
    low, high = rmsea_interval(value, df, n_persons)
    cfi, tli = cfi_tli(value, df, m2_null, df_null)
    return M2Result(m2=value, df=int(df), p=float(stats.chi2.sf(value, df)), rmsea=rmsea(value, df, n_persons),
                    rmsea_ci_low=low, rmsea_ci_high=high, srmsr=_srmsr(codes, n_cat, prob, weights),
                    cfi=float(cfi), tli=float(tli), m2_null=float(m2_null), df_null=int(df_null),
                    n_persons=int(n_persons), n_statistics=int(design.size), n_parameters=int(identified),
                    type=type)


def _srmsr(codes: np.ndarray, n_cat: np.ndarray, prob: np.ndarray, weights: np.ndarray) -> float:
    observed = codes >= 0
    r_obs, _ = _pairwise_correlation(np.where(observed, codes, 0).astype(np.float64), observed)
    scores = category_scores(n_cat)
    mean_q = np.einsum("jqk,jk->jq", prob, scores)
    mean = mean_q @ weights
    second = np.einsum("jqk,jk->jq", prob, scores ** 2) @ weights
    cov = (mean_q * weights) @ mean_q.T - np.outer(mean, mean)
    np.fill_diagonal(cov, second - mean ** 2)
    sd = np.sqrt(np.maximum(np.diag(cov), TINY))
    r_model = cov / np.outer(sd, sd)
    return srmr(r_obs - r_model, diagonal=False)


# ============================================================================================
# likelihood ratio
# ============================================================================================


def likelihood_ratio(restricted: Any, general: Any) -> LikelihoodRatioResult:
    r"""Likelihood-ratio test of a restricted calibration nested in a more general one.

    Parameters
    ----------
    restricted, general : Calibration
        Calibrated by :func:`psychometrics.irt.calibrate` on the same responses, the first
        a special case of the second (e.g. ``"1pl"`` in ``"2pl"``, ``"2pl"`` in ``"3pl"``,
        ``"graded"`` on some items in ``"nominal"``).

    Returns
    -------
    LikelihoodRatioResult

    Raises
    ------
    ValueError
        When a calibration has no log-likelihood (stated parameters), the two were fitted to
        different numbers of persons or items, or ``general`` has no more free parameters
        than ``restricted``.

    Notes
    -----
    .. math:: G^2 = 2(\ell_{general} - \ell_{restricted}) \sim \chi^2_{k_g - k_r}

    The chi-square reference is only approximate when the restriction puts a parameter on
    the boundary of its space (e.g. 3PL guessing at 0), where it is conservative. A negative
    :math:`G^2` beyond rounding (the general model fitting worse) means the models are not
    nested or an estimation did not converge; a :class:`ModelWarning` says so and
    :math:`G^2` is reported as computed with p = 1.

    References
    ----------
    .. [1] Wilks, S. S. (1938). The large-sample distribution of the likelihood ratio for
           testing composite hypotheses. Annals of Mathematical Statistics, 9, 60-62.
    """
    for name, cal in (("restricted", restricted), ("general", general)):
        for attribute in ("loglik", "n_parameters", "n_persons", "item_ids", "aic", "bic"):
            if not hasattr(cal, attribute):
                raise TypeError(f"{name} must be a Calibration, got {type(cal).__name__}")
        if not math.isfinite(float(cal.loglik)):
            raise ValueError(f"the {name} calibration has no log-likelihood (stated parameters?); "
                             "both must be calibrated on the data")
    if abs(float(restricted.n_persons) - float(general.n_persons)) > 1e-6:
        raise ValueError(f"the calibrations were fitted to different data: {restricted.n_persons:g} and "
                         f"{general.n_persons:g} persons")
    if sorted(map(str, restricted.item_ids)) != sorted(map(str, general.item_ids)):
        raise ValueError("the calibrations were fitted to different items: "
                         f"{sorted(set(map(str, restricted.item_ids)) ^ set(map(str, general.item_ids)))}")
    df = int(general.n_parameters) - int(restricted.n_parameters)
    if df <= 0:
        raise ValueError(f"the general calibration must have more free parameters than the restricted one "
                         f"(got {general.n_parameters} and {restricted.n_parameters}); are the arguments "
                         "in the right order?")
    chi2 = 2.0 * (float(general.loglik) - float(restricted.loglik))
    # rounding of two log-likelihoods of this size, not a worse fit
    if chi2 < -1e-6 * max(1.0, abs(float(general.loglik))):
        warnings.warn(f"the general calibration fits worse than the restricted one (G2 = {chi2:.4f}): the "
                      "models are not nested or an estimation did not converge", ModelWarning, stacklevel=2)
    p = float(stats.chi2.sf(chi2, df)) if chi2 > 0 else 1.0
    return LikelihoodRatioResult(
        chi2=chi2, df=df, p=p, loglik_restricted=float(restricted.loglik), loglik_general=float(general.loglik),
        delta_aic=float(general.aic) - float(restricted.aic), delta_bic=float(general.bic) - float(restricted.bic))
