r"""Linking and equating: put a new calibration on a base (bank) scale, equate two forms.

Two calibrations of forms that share anchor items each sit on their own scale, fixed by their
own N(0, 1) latent distribution. The scales differ by a linear map
:math:`\theta_{\text{base}} = A\,\theta_{\text{new}} + B`; under it a new-form item keeps its
response function when its parameters become

.. math:: a^* = a / A, \qquad b^* = A b + B \quad (\text{every threshold } b_k \text{ of graded
          and partial credit items}),

equivalently, in slope-intercept form :math:`z = a s_k \theta + d_k`,
:math:`d_k^* = d_k - a s_k B / A`. :func:`link` estimates A and B from the anchors:

``mean_mean`` (Loyd & Hoover, 1980)
    :math:`A = \bar a_{\text{new}} / \bar a_{\text{base}}`,
    :math:`B = \bar b_{\text{base}} - A\, \bar b_{\text{new}}`.
``mean_sigma`` (Marco, 1977)
    :math:`A = s(b_{\text{base}}) / s(b_{\text{new}})`, B as above (population SDs; every
    threshold of a polytomous item is one b).
``haebara`` (Haebara, 1980; Kim & Lee, 2006 for polytomous items)
    minimizes :math:`H(A, B) = \sum_q w_q \sum_j \sum_k [P_{jk}(\theta_q) - P^*_{jk}(\theta_q)]^2`,
``stocking_lord`` (Stocking & Lord, 1983)
    minimizes :math:`SL(A, B) = \sum_q w_q [\sum_j E_j(\theta_q) - \sum_j E^*_j(\theta_q)]^2`,

where :math:`P` are the base-form anchor probabilities, :math:`P^*_{jk}(\theta) =
P^{\text{new}}_{jk}((\theta - B)/A)` the new-form ones moved onto the base scale,
:math:`E_j = \sum_k k P_{jk}` expected item scores (category indices), and :math:`\theta_q,
w_q` a grid on the base scale weighted by the base latent distribution (one direction, the
base scale; 41 points on [-4, 4] by default). The characteristic-curve criteria are minimized
by Nelder-Mead from the mean-sigma values.

The moment methods use the parameter estimates only: they are consistent but noisier than the
characteristic-curve methods (mean-sigma rests on the spread of a few b's, mean-mean on mean
slopes); expect errors of A and B about twice those of Stocking-Lord in simulations.

References
----------
.. [1] Kolen, M. J. & Brennan, R. L. (2014). *Test Equating, Scaling, and Linking*, 3rd ed.,
       ch. 6. Springer.
.. [2] Haebara, T. (1980). Equating logistic ability scales by a weighted least squares
       method. *Japanese Psychological Research*, 22, 144-149.
.. [3] Stocking, M. L. & Lord, F. M. (1983). Developing a common metric in item response
       theory. *Applied Psychological Measurement*, 7, 201-210.
.. [4] Kim, S. & Lee, W.-C. (2006). An extension of four IRT linking methods for mixed-format
       tests. *Journal of Educational Measurement*, 43, 53-76.
.. [5] Lord, F. M. (1980). *Applications of Item Response Theory to Practical Testing
       Problems*, ch. 13 (true-score equating). Erlbaum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize

from psychometrics.data import as_responses
from psychometrics.irt import Calibration, _calibrate
from psychometrics.items import get_model
from psychometrics.quadrature import normal_log_weights
from psychometrics._results import brief_repr

__all__ = ["LinkResult", "link", "linking_criterion", "transform", "calibrate_with_anchors",
           "true_score_equating"]

Method = Literal["stocking_lord", "haebara", "mean_mean", "mean_sigma"]
_METHODS = ("stocking_lord", "haebara", "mean_mean", "mean_sigma")

# models whose slope the model fixes become the model with a common or free slope on
# another scale (a* = 1/A is no longer 1)
_RESCALED_MODEL = {"rasch": "1pl", "pcm": "gpcm", "rsm": "gpcm"}


# ================================================================================================
# transforming a calibration
# ================================================================================================

def _theta_scores(model_name: str, params: np.ndarray, k: int) -> np.ndarray:
    """(n, K-1) multipliers s_k of a*theta in the intercept of category k = 1..K-1."""
    n = params.shape[0]
    if model_name == "graded" or k == 2 and model_name in ("rasch", "1pl", "2pl", "3pl", "4pl"):
        return np.ones((n, k - 1))
    if model_name in ("gpcm", "pcm"):
        return np.tile(np.arange(1.0, k), (n, 1))
    if model_name == "nominal":
        return np.column_stack([params[:, 1:k - 1], np.full(n, k - 1.0)])
    raise ValueError(f"model {model_name!r} cannot be rescaled")


def _rsm_as_gpcm(params: np.ndarray) -> np.ndarray:
    m = get_model("rsm")
    a, _, intercepts = m._parts(params)
    return np.column_stack([a, intercepts[:, 1:]])


def transform(calibration: Calibration, A: float, B: float) -> Calibration:
    r"""The calibration on the scale :math:`\theta^* = A\theta + B`.

    Item response functions are unchanged as functions of the person:
    :math:`P^*_{jk}(A\theta + B) = P_{jk}(\theta)`. Rasch/pcm/rsm items become 1pl/gpcm items
    (their slope becomes 1/A). The latent mean and variance become :math:`A\mu + B` and
    :math:`A^2\sigma^2`. Standard errors and fit statistics are not carried over.

    Raises
    ------
    ValueError
        For a multi-group calibration (transform each group's :meth:`~Calibration.for_group`)
        or a non-positive A.
    """
    if not isinstance(calibration, Calibration):
        raise TypeError(f"expected a Calibration, got {type(calibration).__name__}")
    if calibration.is_multigroup:
        raise ValueError("transform one group at a time: calibration.for_group(name)")
    A, B = float(A), float(B)
    if not (A > 0 and math.isfinite(A) and math.isfinite(B)):
        raise ValueError(f"A must be positive and finite and B finite, got A={A}, B={B}")
    rows: list[dict[str, float]] = []
    models: dict[str, str] = {}
    for item in calibration.item_ids:
        name = calibration.models[item]
        m = get_model(name)
        k = len(calibration.categories[item])
        names = m.parameter_names(k)
        params = calibration.slope_intercept.loc[item, names].to_numpy(dtype=np.float64)[None, :]
        if name == "rsm":
            params, name = _rsm_as_gpcm(params), "gpcm"
        else:
            name = _RESCALED_MODEL.get(name, name)
        new_model = get_model(name)
        new_names = new_model.parameter_names(k)
        out = params.copy()
        a = params[:, 0]
        scores = _theta_scores(name, params, k)
        if name in ("rasch", "1pl", "2pl", "3pl", "4pl"):
            d = new_names.index("d")
            out[:, d] = params[:, d] - a * scores[:, 0] * B / A
        else:
            first_d = new_names.index("d1")
            out[:, first_d:first_d + k - 1] = params[:, first_d:first_d + k - 1] - a[:, None] * scores * B / A
        out[:, 0] = a / A
        rows.append(dict(zip(new_names, out[0])))
        models[item] = name
    frame = pd.DataFrame(rows, index=pd.Index(calibration.item_ids, name="item"))
    return Calibration.from_item_params(
        frame, models, categories=dict(calibration.categories), form="slope_intercept",
        latent_mean=A * float(calibration.latent_mean) + B,
        latent_variance=A * A * float(calibration.latent_variance))


# ================================================================================================
# linking constants
# ================================================================================================

@dataclass(frozen=True)
class LinkResult:
    r"""Linking constants :math:`\theta_{\text{base}} = A\,\theta_{\text{new}} + B`.

    Attributes
    ----------
    A, B : float
        Slope and intercept of the scale transformation.
    method : str
        How they were found.
    anchors : dict
        Base item id -> new item id of the anchor items used.
    criterion : float
        Value of the minimized criterion (NaN for the moment methods).
    converged : bool
        Whether the minimization reported success (True for the moment methods).
    """

    __repr__ = brief_repr

    A: float
    B: float
    method: str
    anchors: dict[str, str] = field(default_factory=dict)
    criterion: float = math.nan
    converged: bool = True

    @property
    def n_anchors(self) -> int:
        return len(self.anchors)

    def transform_theta(self, theta: Any) -> np.ndarray:
        """Latent values of the new scale on the base scale."""
        return self.A * np.asarray(theta, dtype=np.float64) + self.B

    def apply(self, calibration: Calibration) -> Calibration:
        """``calibration`` (on the new form's scale) moved onto the base scale (:func:`transform`)."""
        return transform(calibration, self.A, self.B)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"A": [self.A], "B": [self.B], "criterion": [self.criterion],
                             "n_anchors": [self.n_anchors]}, index=pd.Index([self.method], name="method"))

    def summary(self) -> str:
        return (f"{self.method} linking through {self.n_anchors} anchor items: A = {self.A:.4f}, "
                f"B = {self.B:.4f}" + ("" if math.isnan(self.criterion) else f" (criterion {self.criterion:.3g})"))


def _anchor_map(base: Calibration, new: Calibration, anchors: Any) -> dict[str, str]:
    for which, cal in (("base", base), ("new", new)):
        if not isinstance(cal, Calibration):
            raise TypeError(f"{which} must be a Calibration, got {type(cal).__name__}")
        if cal.is_multigroup:
            raise ValueError(f"the {which} calibration has several groups; link one group (for_group)")
    if anchors is None:
        pairs = {i: i for i in base.item_ids if i in set(new.item_ids)}
        if not pairs:
            raise ValueError("the two calibrations share no item; name the anchor items (anchors=)")
    elif isinstance(anchors, Mapping):
        pairs = {str(b): str(n) for b, n in anchors.items()}
    else:
        pairs = {str(a): str(a) for a in anchors}
    if not pairs:
        raise ValueError("no anchor items given")
    missing_base = [b for b in pairs if b not in base.item_ids]
    missing_new = [n for n in pairs.values() if n not in new.item_ids]
    if missing_base or missing_new:
        parts = []
        if missing_base:
            parts.append(f"absent from the base form: {missing_base}")
        if missing_new:
            parts.append(f"absent from the new form: {missing_new}")
        raise ValueError("anchor item(s) " + "; ".join(parts))
    for b, n in pairs.items():
        kb, kn = len(base.categories[b]), len(new.categories[n])
        if kb != kn:
            raise ValueError(f"anchor item {b!r} has {kb} categories in the base form and {kn} in the new form")
        mb, mn = base.models[b], new.models[n]
        if mb != mn and not {mb, mn} <= {"rasch", "1pl", "2pl"} and not {mb, mn} <= {"pcm", "gpcm", "rsm"}:
            raise ValueError(f"anchor item {b!r} is a {mb!r} item in the base form and a {mn!r} item in the new form")
    return pairs


def _irt_a_b(cal: Calibration, item: str) -> tuple[float, np.ndarray]:
    """Slope and location(s) of one item in IRT form, for the moment methods."""
    name = cal.models[item]
    k = len(cal.categories[item])
    m = get_model(name)
    params = cal.slope_intercept.loc[item, m.parameter_names(k)].to_numpy(dtype=np.float64)[None, :]
    if name == "nominal":
        raise ValueError(f"item {item!r} is a nominal item: mean-mean and mean-sigma need slopes and "
                         "locations; use 'haebara' or 'stocking_lord'")
    if name == "rsm":
        params, name, m = _rsm_as_gpcm(params), "gpcm", get_model("gpcm")
    irt = m.to_irt(params)[0]
    names = m.irt_parameter_names(k)
    a = float(irt[names.index("a")])
    b = np.array([irt[i] for i, n in enumerate(names) if n == "b" or (n.startswith("b") and n[1:].isdigit())])
    return a, b


def _moments(base: Calibration, new: Calibration, pairs: Mapping[str, str], method: str) -> tuple[float, float]:
    a_base, a_new, b_base, b_new = [], [], [], []
    for b_id, n_id in pairs.items():
        ab, bb = _irt_a_b(base, b_id)
        an, bn = _irt_a_b(new, n_id)
        a_base.append(ab)
        a_new.append(an)
        b_base.append(bb)
        b_new.append(bn)
    bb_all, bn_all = np.concatenate(b_base), np.concatenate(b_new)
    if method == "mean_mean":
        mean_base = float(np.mean(a_base))
        if not mean_base > 0:
            raise ValueError("mean-mean linking needs a positive mean slope of the anchors in the base form")
        A = float(np.mean(a_new)) / mean_base
    else:
        sd_new = float(np.std(bn_all))
        if not sd_new > 0:
            raise ValueError("mean-sigma linking needs anchor locations that vary (at least two distinct b's)")
        A = float(np.std(bb_all)) / sd_new
    B = float(np.mean(bb_all)) - A * float(np.mean(bn_all))
    return A, B


class _Curves:
    """Base-form anchor curves on the grid, and the new-form ones for any (A, B)."""

    def __init__(self, base: Calibration, new: Calibration, pairs: Mapping[str, str],
                 theta: np.ndarray, weights: np.ndarray) -> None:
        self.theta = theta
        self.weights = weights
        self.base_pos = np.array([base.item_ids.index(b) for b in pairs])
        self.new_pos = np.array([new.item_ids.index(n) for n in pairs.values()])
        self.new = new
        self.p_base = base.probabilities(theta)[self.base_pos]          # (J, Q, K)
        self.k_max = self.p_base.shape[2]
        self.index = np.arange(self.k_max, dtype=np.float64)
        self.tcc_base = np.einsum("jqk,k->q", self.p_base, self.index)

    def new_probabilities(self, A: float, B: float) -> np.ndarray:
        p = self.new.probabilities((self.theta - B) / A)[self.new_pos]
        if p.shape[2] < self.k_max:
            p = np.concatenate([p, np.zeros(p.shape[:2] + (self.k_max - p.shape[2],))], axis=2)
        return p[:, :, :self.k_max]

    def haebara(self, A: float, B: float) -> float:
        diff = self.p_base - self.new_probabilities(A, B)
        return float(self.weights @ np.einsum("jqk,jqk->q", diff, diff))

    def stocking_lord(self, A: float, B: float) -> float:
        tcc_new = np.einsum("jqk,k->q", self.new_probabilities(A, B), self.index)
        diff = self.tcc_base - tcc_new
        return float(self.weights @ (diff * diff))


def _grid(base: Calibration, theta: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    if theta is None:
        theta = np.linspace(-4.0, 4.0, 41)
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    if theta.size < 2 or not np.all(np.isfinite(theta)):
        raise ValueError("theta must hold at least two finite points")
    if weights is None:
        weights = np.exp(normal_log_weights(theta, float(base.latent_mean), float(base.latent_variance)))
    else:
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if weights.shape != theta.shape or (weights < 0).any() or not weights.sum() > 0:
            raise ValueError("weights must be non-negative, one per theta point, not all zero")
        weights = weights / weights.sum()
    return theta, weights


def linking_criterion(base: Calibration, new: Calibration, A: float, B: float, *, anchors: Any = None,
                      method: Literal["haebara", "stocking_lord"] = "stocking_lord", theta: Any = None,
                      weights: Any = None) -> float:
    """Value of the Haebara or Stocking-Lord criterion at (A, B) (see the module notes)."""
    if method not in ("haebara", "stocking_lord"):
        raise ValueError(f"method must be 'haebara' or 'stocking_lord', got {method!r}")
    pairs = _anchor_map(base, new, anchors)
    grid, w = _grid(base, theta, weights)
    curves = _Curves(base, new, pairs, grid, w)
    return getattr(curves, method)(float(A), float(B))


def link(base: Calibration, new: Calibration, anchors: Sequence[str] | Mapping[str, str] | None = None,
         method: Method = "stocking_lord", *, theta: Any = None, weights: Any = None) -> LinkResult:
    r"""Linking constants that put ``new`` on the scale of ``base`` through anchor items.

    Parameters
    ----------
    base, new : Calibration
        Single-group calibrations of the two forms (any item models; the anchors must have the
        same model family and number of categories in both).
    anchors : sequence or mapping, optional
        Anchor item ids present in both forms, or base id -> new id where they are named
        differently; default every item the forms share.
    method : {"stocking_lord", "haebara", "mean_mean", "mean_sigma"}
        See the module notes. Nominal anchors need a characteristic-curve method.
    theta, weights : array-like, optional
        Grid on the base scale and its weights for the characteristic-curve criteria (default
        41 points on [-4, 4] weighted by the base latent normal density).

    Returns
    -------
    LinkResult
        ``A``, ``B`` with :math:`\theta_{\text{base}} = A\theta_{\text{new}} + B`, and
        ``apply(calibration)``.

    Raises
    ------
    ValueError
        An anchor absent from one form, anchors of different models or category counts, an
        unknown method.

    Examples
    --------
    >>> import pandas as pd
    >>> base = Calibration.from_item_params(pd.DataFrame({"a": [1.0, 1.5, 0.8], "b": [-1.0, 0.0, 1.0]},
    ...                                                  index=["q1", "q2", "q3"]), "2pl")
    >>> new = transform(base, 1 / 1.2, -0.3 / 1.2)        # the same items on another scale
    >>> result = link(base, new, method="stocking_lord")
    >>> round(result.A, 4), round(result.B, 4)
    (1.2, 0.3)
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}")
    pairs = _anchor_map(base, new, anchors)
    if method in ("mean_mean", "mean_sigma"):
        A, B = _moments(base, new, pairs, method)
        return LinkResult(A=A, B=B, method=method, anchors=dict(pairs))
    grid, w = _grid(base, theta, weights)
    curves = _Curves(base, new, pairs, grid, w)
    try:
        start = _moments(base, new, pairs, "mean_sigma")
        if not (start[0] > 0 and all(map(math.isfinite, start))):
            raise ValueError
    except ValueError:
        start = (1.0, 0.0)
    objective = getattr(curves, method)

    def f(x: np.ndarray) -> float:
        # a non-positive slope reverses the scale: never a solution
        return objective(float(x[0]), float(x[1])) if x[0] > 1e-6 else math.inf

    best = None
    for x0 in (np.array(start), np.array([1.0, 0.0])):
        res = optimize.minimize(f, x0, method="Nelder-Mead",
                                options={"xatol": 1e-9, "fatol": 1e-15, "maxiter": 4000, "maxfev": 8000})
        if best is None or res.fun < best.fun:
            best = res
    return LinkResult(A=float(best.x[0]), B=float(best.x[1]), method=method, anchors=dict(pairs),
                      criterion=float(best.fun), converged=bool(best.success))


# ================================================================================================
# fixed-anchor calibration
# ================================================================================================

def calibrate_with_anchors(responses: Any, bank: Calibration, model: str | Mapping[str, str] = "2pl", *,
                           anchors: Sequence[str] | None = None, **kwargs: Any) -> Calibration:
    """Calibrate new items on the bank's scale, anchor items held at their bank parameters.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items: anchor items (in ``bank``) and new items.
    bank : Calibration
        Single-group calibration holding the anchor items' parameters.
    model : str or mapping
        Model of the new items (a mapping may name anchors too; they must agree with the
        bank). Anchors always keep the bank's model.
    anchors : sequence of str, optional
        Items held at bank values; default every item of ``responses`` found in the bank.
    **kwargs
        Passed to :func:`~psychometrics.irt.calibrate` (``se``, ``tol``, ``priors``...).

    Returns
    -------
    Calibration
        All items on the bank's scale; the latent mean and variance of the new sample are
        estimated (``estimate_latent=True``).

    Raises
    ------
    ValueError
        No anchor, an anchor absent from the responses or the bank, a model that disagrees with
        the bank, or arguments that clash with the fixed anchors (``fixed``, ``group``).
    """
    if not isinstance(bank, Calibration):
        raise TypeError(f"bank must be a Calibration, got {type(bank).__name__}")
    if bank.is_multigroup:
        raise ValueError("the bank has several groups; pass one group's calibration (for_group)")
    for clash in ("fixed", "group", "estimate_latent"):
        if clash in kwargs:
            raise ValueError(f"calibrate_with_anchors sets {clash!r} itself")
    resp = as_responses(responses)
    items = list(resp.item_ids)
    if anchors is None:
        anchor_ids = [i for i in items if i in bank.item_ids]
        if not anchor_ids:
            raise ValueError("no item of the responses is in the bank: there is nothing to anchor on")
    else:
        anchor_ids = [str(a) for a in anchors]
        if not anchor_ids:
            raise ValueError("no anchor items given")
        absent = [a for a in anchor_ids if a not in items]
        if absent:
            raise ValueError(f"anchor item(s) {absent} are absent from the responses")
        absent = [a for a in anchor_ids if a not in bank.item_ids]
        if absent:
            raise ValueError(f"anchor item(s) {absent} are absent from the bank")
    if len(anchor_ids) == len(items):
        raise ValueError("every item is an anchor: there is no new item to calibrate")
    if isinstance(model, str):
        models = {i: model for i in items}
    else:
        models = {str(i): str(v) for i, v in dict(model).items()}
    fixed: dict[str, dict[str, float]] = {}
    stated: dict[str, tuple[int, ...]] = {}
    for a in anchor_ids:
        bank_model = bank.models[a]
        if not isinstance(model, str) and a in models and get_model(models[a]).name != bank_model:
            raise ValueError(f"anchor item {a!r} is a {bank_model!r} item in the bank, not {models[a]!r}")
        models[a] = bank_model
        m = get_model(bank_model)
        names = m.parameter_names(len(bank.categories[a]))
        fixed[a] = {n: float(bank.slope_intercept.loc[a, n]) for n in names if n not in m.fixed_values}
        stated[a] = tuple(bank.categories[a])
    missing = [i for i in items if i not in models]
    if missing:
        raise ValueError(f"model mapping has no entry for item(s) {missing}")

    return _calibrate(resp, models, fixed=fixed, estimate_latent=True, stated_categories=stated,
                      latent_mean=kwargs.pop("latent_mean", None), latent_variance=kwargs.pop("latent_variance", None),
                      **kwargs)


# ================================================================================================
# true-score equating
# ================================================================================================

def _true_score(cal: Calibration, theta: np.ndarray) -> np.ndarray:
    prob = cal.probabilities(theta)                                    # (J, S, K)
    codes = np.zeros((cal.n_items, prob.shape[2]))
    for j, item in enumerate(cal.item_ids):
        c = cal.categories[item]
        codes[j, :len(c)] = c
    return np.einsum("jsk,jk->s", prob, codes)


def _score_range(cal: Calibration) -> tuple[float, float]:
    low = sum(min(cal.categories[i]) for i in cal.item_ids)
    high = sum(max(cal.categories[i]) for i in cal.item_ids)
    return float(low), float(high)


def true_score_equating(form_x: Calibration, form_y: Calibration, *, scores: Any = None,
                        bound: float = 20.0) -> pd.DataFrame:
    r"""IRT true-score equating of form X scores to the form Y scale.

    Both calibrations must be on one scale (link them first, or calibrate them together). For
    each score x of form X, the :math:`\theta` with :math:`\tau_X(\theta) = x` is found
    (bisection; :math:`\tau` is the test characteristic curve, in response codes) and the
    equated score is :math:`\tau_Y(\theta)`.

    Parameters
    ----------
    form_x, form_y : Calibration
    scores : array-like, optional
        Form X scores to equate (default every integer from the lowest to the highest possible
        score).
    bound : float
        Latent values searched in [-bound, bound].

    Returns
    -------
    DataFrame
        ``score_x``, ``theta``, ``score_y``. Scores at or below the lower asymptote of
        :math:`\tau_X` (sum of guessing parameters) get Kolen & Brennan's linear interpolation
        between the lowest possible scores and the asymptotes, and ``theta`` NaN; the
        highest score maps to the highest score (theta +inf), the lowest to the lowest.

    Notes
    -----
    .. math:: e_Y(x) = \tau_Y(\tau_X^{-1}(x)), \quad \tau(\theta) = \sum_j \sum_k x_{jk} P_{jk}(\theta)

    References
    ----------
    .. [1] Lord (1980), *Applications of IRT*, ch. 13.
    .. [2] Kolen & Brennan (2014), *Test Equating, Scaling, and Linking*, 3rd ed., sec. 6.6.
    """
    for which, cal in (("form_x", form_x), ("form_y", form_y)):
        if not isinstance(cal, Calibration):
            raise TypeError(f"{which} must be a Calibration, got {type(cal).__name__}")
        if cal.is_multigroup:
            raise ValueError(f"{which} has several groups; pass one group's calibration (for_group)")
    min_x, max_x = _score_range(form_x)
    min_y, max_y = _score_range(form_y)
    if scores is None:
        x = np.arange(math.ceil(min_x), math.floor(max_x) + 1, dtype=np.float64)
    else:
        x = np.asarray(scores, dtype=np.float64).reshape(-1)
        bad = x[(x < min_x) | (x > max_x) | ~np.isfinite(x)]
        if bad.size:
            raise ValueError(f"score {bad[0]:g} is outside the possible form X scores [{min_x:g}, {max_x:g}]")
    ends = np.array([-bound, bound])
    low_x, high_x = _true_score(form_x, ends)
    low_y, high_y = _true_score(form_y, ends)
    inside = (x > low_x + 1e-9) & (x < high_x - 1e-9)
    lo = np.full(int(inside.sum()), -bound)
    hi = np.full(lo.shape, bound)
    target = x[inside]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = _true_score(form_x, mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    theta = np.full(x.shape, np.nan)
    theta[inside] = 0.5 * (lo + hi)
    y = np.full(x.shape, np.nan)
    if inside.any():
        y[inside] = _true_score(form_y, theta[inside])
    lower = ~inside & (x <= low_x + 1e-9)
    if lower.any():
        # Kolen & Brennan: linear between (lowest score, lowest score) and the asymptotes
        span = low_x - min_x
        frac = np.where(span > 1e-12, (x[lower] - min_x) / max(span, 1e-12), 0.0)
        y[lower] = min_y + frac * (low_y - min_y)
        theta[lower & (x == min_x)] = -np.inf
    upper = ~inside & ~lower
    if upper.any():
        span = max_x - high_x
        frac = np.where(span > 1e-12, (x[upper] - high_x) / max(span, 1e-12), 1.0)
        y[upper] = high_y + frac * (max_y - high_y)
        theta[upper & (x == max_x)] = np.inf
    return pd.DataFrame({"score_x": x, "theta": theta, "score_y": y})
