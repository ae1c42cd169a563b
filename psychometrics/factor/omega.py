"""McDonald's omega: total, hierarchical, per group factor and per scale; ECV.

Three routes to the general and group loadings:

* Schmid-Leiman of an exploratory solution, following ``psych::omega``: an oblique
  (oblimin) rotation of a varimax-rotated solution, a general factor extracted from the
  factor correlations, and the orthogonalized general and group loadings;
* Schmid-Leiman of a correlated-factors CFA of a stated structure (``model=``);
* a bifactor CFA (``model=..., bifactor=True``): a general factor on every item and
  uncorrelated group factors, fitted by :func:`psychometrics.factor.cfa`, whose
  standardized loadings give the coefficients directly.

With ``correlation="polychoric"`` every coefficient (including ``alpha``) is the ordinal
version of Zumbo, Gadermann & Zeisser (2007).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.errors import EstimationError, InstrumentError, ModelWarning, ResponseError
from psychometrics.factor.efa import METHODS, correlation_matrix, efa_correlation, rotate
from psychometrics._results import brief_repr

__all__ = ["OmegaResult", "omega", "omega_from_loadings"]


@dataclass(frozen=True)
class OmegaResult:
    """Result of :func:`omega`.

    Attributes
    ----------
    total : float
        Omega total, the share of total-score variance due to all common factors.
    hierarchical : float
        Omega hierarchical, the share due to the general factor alone.
    asymptotic : float
        ``hierarchical / total`` (psych's ``omega.lim``).
    alpha : float
        Coefficient alpha from the same correlation matrix (ordinal alpha for polychoric).
    ecv : float
        Explained common variance of the general factor.
    per_scale : DataFrame
        One row for the general factor (``g``) and one per group factor, columns ``total``,
        ``general``, ``group`` (psych's ``omega.group``): for a group factor, the omegas of
        the items that load most on it (``group`` is then omega hierarchical of the
        subscale, the share of its variance due to the group factor alone).
    loadings : DataFrame
        General and group loadings: ``g``, the group factors (``F1*``... for Schmid-Leiman,
        the model's factor names for a bifactor CFA), ``h2``, ``u2``, ``p2``.
    n_factors : int
        Number of group factors.
    correlation_type : str
        ``"pearson"`` or ``"polychoric"``.
    method : str
        Extraction method of the exploratory steps (``minres``, ``ml``, ``pa``).
    reversed_items : tuple of str
        Items reversed so that they load positively on the general factor.
    oblique_loadings, factor_correlations : DataFrame
        The first-order solution the loadings came from (for a bifactor CFA its
        standardized loadings, general factor first, and the identity).
    general_loadings : ndarray
        Loadings of the group factors on the second-order general factor (NaN for a
        bifactor CFA, which has none).
    scales : DataFrame or None
        For ``scales`` given by the caller: per scale, number of items, omega total of a
        one-factor model of its items, and alpha.
    approach : str
        ``"schmid_leiman"`` (exploratory), ``"schmid_leiman_cfa"`` or ``"bifactor_cfa"``.
    denominator : str
        Variance of the total score the coefficients divide by: ``"observed"`` (sum of the
        sample correlation matrix) or ``"implied"`` (sum of the model-implied one).
    cfa : CFAResult or None
        The fitted confirmatory model (CFA routes), with its fit statistics.
    """

    __repr__ = brief_repr

    total: float
    hierarchical: float
    asymptotic: float
    alpha: float
    ecv: float
    per_scale: pd.DataFrame
    loadings: pd.DataFrame
    n_factors: int
    correlation_type: str
    method: str
    reversed_items: tuple[str, ...]
    oblique_loadings: pd.DataFrame = field(repr=False)
    factor_correlations: pd.DataFrame = field(repr=False)
    general_loadings: np.ndarray = field(repr=False)
    scales: pd.DataFrame | None = None
    approach: str = "schmid_leiman"
    denominator: str = "observed"
    cfa: Any = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One row of the coefficients."""
        return pd.DataFrame([{"omega_total": self.total, "omega_hierarchical": self.hierarchical,
                              "omega_asymptotic": self.asymptotic, "alpha": self.alpha, "ecv": self.ecv}])

    def summary(self, digits: int = 2) -> str:
        kind = "ordinal " if self.correlation_type == "polychoric" else ""
        if self.approach == "bifactor_cfa":
            source = f"bifactor CFA ({self.cfa.estimator.upper()}), {self.denominator} total variance"
        elif self.approach == "schmid_leiman_cfa":
            source = f"Schmid-Leiman of a CFA ({self.cfa.estimator.upper()})"
        else:
            source = f"Schmid-Leiman, {self.method}"
        lines = [f"{kind}omega ({self.n_factors} group factors, {source}):",
                 f"omega total = {self.total:.{digits}f}, omega hierarchical = {self.hierarchical:.{digits}f}, "
                 f"{kind}alpha = {self.alpha:.{digits}f}, ECV = {self.ecv:.{digits}f}",
                 self.loadings.round(digits).to_string(), "", self.per_scale.round(digits).to_string()]
        if self.scales is not None:
            lines += ["", self.scales.round(digits).to_string()]
        if self.reversed_items:
            lines.append(f"items reversed to load positively on g: {', '.join(self.reversed_items)}")
        return "\n".join(lines)


def _general_loadings(phi: np.ndarray, method: str) -> np.ndarray:
    k = phi.shape[0]
    if k == 1:
        return np.ones(1)
    if k == 2:
        # two group factors do not identify a general factor: split the correlation equally
        value = np.sqrt(abs(phi[0, 1]))
        return np.array([value, np.sign(phi[0, 1]) * value])
    names = [f"F{i + 1}" for i in range(k)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        second = efa_correlation(phi, 1, n_obs=None, items=names, method=method, rotation="none",
                                 correlation_type="factor correlations", heywood_warning=False)
    return second.loadings.to_numpy()[:, 0]


def omega_from_loadings(r: np.ndarray, general: np.ndarray, group: np.ndarray) -> dict[str, Any]:
    r"""Omega coefficients from orthogonal general and group loadings and the correlation matrix.

    Notes
    -----
    With :math:`V = \mathbf 1' R \mathbf 1` (the variance of the standardized sum score),
    general loadings :math:`g`, group loadings :math:`s_k` and uniquenesses :math:`u^2`,

    .. math:: \omega_t = \frac{V - \sum u_i^2}{V}, \qquad \omega_h = \frac{(\sum g_i)^2}{V},
              \qquad ECV = \frac{\sum g_i^2}{\sum g_i^2 + \sum_k\sum_i s_{ik}^2}

    References
    ----------
    .. [1] McDonald, R. P. (1999). Test Theory: A Unified Treatment. Erlbaum.
    .. [2] Zinbarg, R. E., Revelle, W., Yovel, I. & Li, W. (2005). Cronbach's alpha, Revelle's
           beta, and McDonald's omega_h. Psychometrika, 70, 123-133.
    .. [3] Rodriguez, A., Reise, S. P. & Haviland, M. G. (2016). Evaluating bifactor models.
           Psychological Methods, 21, 137-150.
    """
    p = r.shape[0]
    h2 = general ** 2 + np.sum(group ** 2, axis=1)
    u2 = np.diag(r) - h2
    v_total = float(r.sum())
    gsq = float(general.sum() ** 2)
    total = (v_total - u2.sum()) / v_total
    explained = np.concatenate([[np.sum(general ** 2)], np.sum(group ** 2, axis=0)])
    alpha = ((v_total - np.trace(r)) / v_total) * (p / (p - 1))
    return {"total": float(total), "hierarchical": gsq / v_total,
            "asymptotic": gsq / (v_total - u2.sum()), "alpha": float(alpha),
            "ecv": float(explained[0] / explained.sum()), "h2": h2, "u2": u2}


def _group_omegas(r: np.ndarray, general: np.ndarray, group: np.ndarray, total: float) -> pd.DataFrame:
    k = group.shape[1]
    owner = np.argmax(np.abs(group), axis=1)
    rows = np.full((k + 1, 3), np.nan)
    squares = 0.0
    for g in range(k):
        members = np.flatnonzero(owner == g)
        if members.size == 0:
            continue
        v_group = float(r[np.ix_(members, members)].sum())
        group_sum = float(group[members, g].sum())
        general_sum = float(general[members].sum())
        squares += group_sum ** 2
        rows[g + 1] = [(group_sum ** 2 + general_sum ** 2) / v_group, general_sum ** 2 / v_group,
                       group_sum ** 2 / v_group]
    v_total = float(r.sum())
    rows[0] = [total, float(general.sum() ** 2) / v_total, squares / v_total]
    index = ["g"] + [f"F{g + 1}*" for g in range(k)]
    return pd.DataFrame(rows, index=index, columns=["total", "general", "group"])


def _scale_omegas(r: np.ndarray, items: list[str], scales: Mapping[str, Sequence[str]], method: str) -> pd.DataFrame:
    rows = []
    position = {item: j for j, item in enumerate(items)}
    for name, members in scales.items():
        missing = [m for m in members if m not in position]
        if missing:
            raise ResponseError(f"scale {name!r}: item(s) {missing} are not among the analysed items")
        if len(members) < 3:
            raise ResponseError(f"scale {name!r} has {len(members)} item(s); omega of a scale needs at least 3")
        idx = [position[m] for m in members]
        sub = r[np.ix_(idx, idx)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModelWarning)
            one = efa_correlation(sub, 1, n_obs=None, items=list(members), method=method, rotation="none",
                                  heywood_warning=False)
        loadings = one.loadings.to_numpy()[:, 0]
        coefficients = omega_from_loadings(sub, loadings, np.zeros((len(idx), 0)))
        rows.append({"scale": name, "n_items": len(idx), "omega_total": coefficients["total"],
                     "alpha": coefficients["alpha"]})
    return pd.DataFrame(rows).set_index("scale")


def omega(responses: Any, n_factors: int = 3, *, correlation: str = "pearson", method: str = "minres",
          scales: Mapping[str, Sequence[str]] | None = None, model: Mapping[str, Sequence[str]] | None = None,
          estimator: str | None = None, bifactor: bool = False,
          denominator: str = "implied") -> OmegaResult:
    r"""McDonald's omega total and hierarchical, from a Schmid-Leiman transformation or a bifactor CFA.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN for missing (pairwise correlations).
    n_factors : int, default 3
        Number of group factors of the exploratory solution (ignored with ``model``). Two
        group factors do not identify a general factor; their correlation is then split
        equally (psych's ``option="equal"``), with a ModelWarning.
    correlation : {"pearson", "polychoric"}
        ``polychoric`` gives ordinal omega and ordinal alpha.
    method : {"minres", "ml", "pa"}
        Extraction method for the first- and second-order factors.
    scales : mapping, optional
        Scale name -> item ids; adds omega total (one-factor model) and alpha per scale.
    model : mapping, optional
        A confirmatory structure ``{"scale": [items...], ...}``: the group factors are then
        the factors of a correlated-factors CFA (:func:`psychometrics.factor.cfa`) instead of
        an exploratory oblimin solution, and the variances come from its implied
        correlation matrix.
    estimator : {"ml", "dwls", "uls"}, optional
        CFA estimator with ``model``; default ``dwls`` for polychoric, else ``ml``. ``ml``
        goes with ``correlation="pearson"`` (listwise deletion), ``dwls`` / ``uls`` with
        ``"polychoric"`` (pairwise polychoric correlations).
    bifactor : bool, default False
        With ``model``: fit a bifactor CFA instead (a general factor ``g`` on every item of
        the model, the model's factors as uncorrelated group factors, factor variances
        fixed to 1: lavaan's ``orthogonal = TRUE, std.lv = TRUE``) and compute the
        coefficients from its standardized loadings. ``model`` may name the general
        factor itself, as a factor listing every item (needed when some items load on it
        alone). ``alpha`` and ``scales`` then use the correlation matrix the CFA was fitted
        to (listwise Pearson for ``ml``, pairwise polychoric otherwise); the fitted model
        is kept in ``cfa``.
    denominator : {"implied", "observed"}, default "implied"
        Bifactor CFA only: the variance of the total score. ``"implied"`` is the sum of
        the model-implied correlation matrix, ``(sum g)^2 + sum_k (sum s_k)^2 + sum u^2``
        (plus any residual correlations); ``"observed"`` the sum of the sample (Pearson or
        polychoric) correlation matrix, as ``psych::omegaFromSem``. They differ by the
        model's misfit.

    Returns
    -------
    OmegaResult

    Raises
    ------
    InstrumentError
        ``bifactor=True`` without ``model``, a bifactor model with fewer than two group
        factors, or a group factor named ``g`` beside the general factor.
    EstimationError
        The bifactor model is not identified (e.g. two group factors of three items, or a
        one-item group factor).
    ResponseError
        Too few items for the number of factors; an unknown item in ``scales``.

    Notes
    -----
    An oblique solution :math:`L` (oblimin of a varimax-rotated solution, or the
    standardized CFA loadings) with factor correlations
    :math:`\Phi = \gamma\gamma' + \mathrm{diag}(1-\gamma^2)` (:math:`\gamma` from a one-factor
    minres solution of :math:`\Phi`) gives general loadings :math:`g = L\gamma` and group
    loadings :math:`s_{ik} = \mathrm{sign}(l_{ik})\, |l_{ik}|\sqrt{1-\gamma_k^2}`
    (Schmid & Leiman, 1957); the coefficients then follow :func:`omega_from_loadings`, with
    :math:`h^2` the first-order communalities. Items loading negatively on the general factor
    are reversed first.

    A bifactor CFA gives standardized general loadings :math:`g_i`, group loadings
    :math:`s_{ik}` and residual variances :math:`u_i^2 = 1 - g_i^2 - \sum_k s_{ik}^2` directly
    [5]_. With :math:`V` the denominator (above),

    .. math:: \omega_t = \frac{(\sum_i g_i)^2 + \sum_k (\sum_i s_{ik})^2}{V}, \qquad
              \omega_h = \frac{(\sum_i g_i)^2}{V}, \qquad
              ECV = \frac{\sum_i g_i^2}{\sum_i g_i^2 + \sum_k\sum_i s_{ik}^2},

    and for the items :math:`I_k` of group factor :math:`k`, with :math:`V_k` the sum of the
    matching block, :math:`\omega_{t,k} = [(\sum_{I_k} g_i)^2 + (\sum_{I_k} s_{ik})^2]/V_k` and
    :math:`\omega_{hs,k} = (\sum_{I_k} s_{ik})^2 / V_k` (``per_scale``, column ``group``).
    With ``denominator="observed"`` omega total is psych's :math:`(V - \sum_i u_i^2)/V`
    instead, which counts residual correlations the model leaves as common variance.

    References
    ----------
    .. [1] Schmid, J. & Leiman, J. M. (1957). The development of hierarchical factor
           solutions. Psychometrika, 22, 53-61.
    .. [2] Zinbarg, R. E., Revelle, W., Yovel, I. & Li, W. (2005). Psychometrika, 70, 123-133.
    .. [3] Zumbo, B. D., Gadermann, A. M. & Zeisser, C. (2007). Ordinal versions of coefficients
           alpha and theta for Likert rating scales. Journal of Modern Applied Statistical
           Methods, 6, 21-29.
    .. [4] Revelle, W. (2024). psych, functions ``omega`` and ``schmid`` (reference numbers;
           the ``model`` route is psych's ``schmid(loadings, Phi = phi)``), and
           ``omegaFromSem`` (the bifactor route with ``denominator="observed"``).
    .. [5] Rodriguez, A., Reise, S. P. & Haviland, M. G. (2016). Evaluating bifactor models:
           calculating and interpreting statistical indices. Psychological Methods, 21,
           137-150.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> g, s = rng.standard_normal((800, 1)), rng.standard_normal((800, 3))
    >>> x = pd.DataFrame(0.6 * g + 0.45 * np.repeat(s, 3, axis=1) + 0.65 * rng.standard_normal((800, 9)),
    ...                  columns=[f"i{j}" for j in range(1, 10)])
    >>> groups = {"A": ["i1", "i2", "i3"], "B": ["i4", "i5", "i6"], "C": ["i7", "i8", "i9"]}
    >>> result = omega(x, model=groups, bifactor=True)
    >>> bool(0.6 < result.hierarchical < result.total < 0.95)
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if correlation not in ("pearson", "polychoric"):
        raise ValueError(f"correlation must be 'pearson' or 'polychoric', got {correlation!r}")
    if not isinstance(bifactor, (bool, np.bool_)):
        raise TypeError(f"bifactor must be True or False, got {bifactor!r}")
    if denominator not in ("implied", "observed"):
        raise ValueError(f"denominator must be 'implied' or 'observed', got {denominator!r}")
    if model is not None:
        estimator = _estimator_for(correlation, estimator)
    if bifactor:
        if model is None:
            raise InstrumentError("bifactor=True needs model={group factor: [items...], ...}")
        return _omega_bifactor(responses, model, correlation, method, estimator, scales, denominator)
    r, n_obs, items = correlation_matrix(responses, correlation)
    p = len(items)
    if model is not None:
        return _omega_confirmatory(responses, r, items, model, correlation, method, estimator, scales)
    if not isinstance(n_factors, (int, np.integer)) or n_factors < 1:
        raise ValueError(f"n_factors must be a positive integer, got {n_factors!r}")
    if p < 3 or n_factors >= p:
        raise ResponseError(f"omega with {n_factors} group factor(s) needs more items than factors and at least 3 "
                            f"items, got {p}")
    if n_factors == 2:
        warnings.warn("two group factors do not identify a general factor; its loadings on them were set equal "
                      "(omega hierarchical is then a rough guide). Three or more are better.", ModelWarning,
                      stacklevel=2)
    orthogonal = efa_correlation(r, n_factors, n_obs=n_obs, items=items, method=method, rotation="varimax",
                                 correlation_type=correlation)
    orth = orthogonal.loadings.to_numpy()
    if n_factors == 1:
        oblique, phi = orth, np.ones((1, 1))
    else:
        oblique, phi, _, _ = rotate(orth, "oblimin")
    h2 = np.sum(orth ** 2, axis=1)
    return _schmid_leiman(r, items, oblique, phi, h2, correlation=correlation, method=method,
                          scales=None if scales is None else _scale_omegas(r, items, scales, method))


def _omega_confirmatory(responses: Any, r: np.ndarray, items: list[str], model: Mapping[str, Sequence[str]],
                        correlation: str, method: str, estimator: str | None,
                        scales: Mapping[str, Sequence[str]] | None) -> OmegaResult:
    from psychometrics.factor.cfa import cfa

    fitted = cfa(responses, model, estimator=estimator)
    loadings = fitted.loadings
    fitted_items = [str(i) for i in loadings.index]
    oblique = loadings.to_numpy(dtype=float)
    phi = fitted.factor_correlations.to_numpy(dtype=float)
    if phi.shape[0] == 2:
        warnings.warn("two group factors do not identify a general factor; its loadings on them were set equal "
                      "(omega hierarchical is then a rough guide). Three or more are better.", ModelWarning,
                      stacklevel=3)
    implied = oblique @ phi @ oblique.T
    h2 = np.diag(implied).copy()
    np.fill_diagonal(implied, 1.0)
    position = [items.index(i) for i in fitted_items]
    sub = r[np.ix_(position, position)]
    result = _schmid_leiman(implied, fitted_items, oblique, phi, h2, correlation=correlation, method=method,
                            scales=None if scales is None else _scale_omegas(sub, fitted_items, scales, method),
                            observed=sub, factor_names=[str(f) for f in loadings.columns])
    return dataclasses.replace(result, approach="schmid_leiman_cfa", denominator="implied", cfa=fitted)


def _estimator_for(correlation: str, estimator: str | None) -> str:
    """The CFA estimator, checked against the correlation type it must agree with."""
    if estimator is None:
        return "dwls" if correlation == "polychoric" else "ml"
    estimator = str(estimator).lower()
    if estimator not in ("ml", "dwls", "uls"):
        raise ValueError(f"estimator must be one of ('ml', 'dwls', 'uls'), got {estimator!r}")
    if (estimator == "ml") != (correlation == "pearson"):
        raise ValueError(f"estimator={estimator!r} does not go with correlation={correlation!r}: 'ml' fits "
                         "Pearson covariances, 'dwls' and 'uls' polychoric correlations")
    return estimator


def _bifactor_model(model: Mapping[str, Sequence[str]]) -> tuple[str, dict[str, list[str]], list[str]]:
    """Split a model into the general factor's name, the group factors and the items.

    The general factor is the factor listing every item of the model if there is one
    (and there are at least two others), else a new factor ``g``.
    """
    if not isinstance(model, Mapping) or not model:
        raise InstrumentError(f"model must be a non-empty mapping {{factor: [items...]}}, got {model!r}")
    listed: dict[str, list[str]] = {}
    for name, members in model.items():
        if isinstance(members, str) or not isinstance(members, Sequence):
            raise InstrumentError(f"model: factor {name!r} must list its items, got {members!r}")
        listed[str(name)] = [str(m) for m in members]
    items = list(dict.fromkeys(item for members in listed.values() for item in members))
    covering = [name for name, members in listed.items() if set(members) == set(items)]
    if len(covering) == 1 and len(listed) >= 3:
        general = covering[0]
        groups = {name: members for name, members in listed.items() if name != general}
    else:
        general, groups = "g", listed
        if "g" in groups:
            raise InstrumentError("model: a group factor is named 'g', the name of the general factor of "
                                  "the bifactor model; rename it, or let 'g' list every item")
    if len(groups) < 2:
        raise InstrumentError(f"a bifactor model needs at least two group factors, got {len(groups)} "
                              f"({', '.join(map(repr, groups))})")
    return general, groups, items


def _omega_bifactor(responses: Any, model: Mapping[str, Sequence[str]], correlation: str, method: str,
                    estimator: str, scales: Mapping[str, Sequence[str]] | None,
                    denominator: str) -> OmegaResult:
    from psychometrics.factor.cfa import cfa

    general_name, groups, items = _bifactor_model(model)
    try:
        fitted = cfa(responses, {general_name: items, **groups}, estimator=estimator, orthogonal=True,
                     std_lv=True)
    except EstimationError as error:
        if len(groups) == 2 and "not identified" in str(error):
            raise EstimationError(f"{error}. Bifactor models with two group factors are often not "
                                  "identified (always with three items per group factor); use three or "
                                  "more group factors, or the Schmid-Leiman route (bifactor=False)") from error
        raise
    names = list(groups)
    loadings = fitted.loadings.loc[items, [general_name, *names]].to_numpy(dtype=np.float64)
    sample = _standardize(fitted.sample.loc[items, items].to_numpy(dtype=np.float64))
    implied = _standardize(fitted.implied.loc[items, items].to_numpy(dtype=np.float64))
    general, group = loadings[:, 0].copy(), loadings[:, 1:].copy()
    # reversing an item flips the sign of its row of loadings and of its correlations
    key = np.where(general < 0, -1.0, 1.0)
    general, group = general * key, group * key[:, None]
    keyed_sample = sample * np.outer(key, key)
    matrix = implied * np.outer(key, key) if denominator == "implied" else keyed_sample
    h2 = general ** 2 + np.sum(group ** 2, axis=1)
    u2 = 1.0 - h2
    v_total = float(matrix.sum())
    general_part = float(general.sum() ** 2)
    group_part = float(np.sum(group.sum(axis=0) ** 2))
    if denominator == "implied":
        total = (general_part + group_part) / v_total
    else:
        total = (v_total - float(np.sum(np.diag(matrix) - h2))) / v_total
    # an item belongs to the group factor it is listed under; under several, to the one it
    # loads on most (as psych assigns items)
    listed = np.array([[item in groups[name] for name in names] for item in items])
    owner = np.where(listed.any(axis=1), np.argmax(np.where(listed, np.abs(group), -1.0), axis=1), -1)
    rows = np.full((len(names) + 1, 3), np.nan)
    own_squares = 0.0
    for k in range(len(names)):
        members = np.flatnonzero(owner == k)
        if members.size == 0:
            continue
        v_group = float(matrix[np.ix_(members, members)].sum())
        own, shared = float(group[members, k].sum()) ** 2, float(general[members].sum()) ** 2
        own_squares += own
        rows[k + 1] = [(own + shared) / v_group, shared / v_group, own / v_group]
    rows[0] = [total, general_part / v_total, own_squares / v_total]
    per_scale = pd.DataFrame(rows, index=["g", *names], columns=["total", "general", "group"])
    explained = float(np.sum(general ** 2))
    common = explained + float(np.sum(group ** 2))
    p = len(items)
    v_sample = float(keyed_sample.sum())
    alpha = (v_sample - float(np.trace(keyed_sample))) / v_sample * p / (p - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p2 = np.where(h2 > 0, general ** 2 / np.where(h2 > 0, h2, 1.0), np.nan)
    table = pd.DataFrame(group, index=items, columns=names)
    table.insert(0, "g", general)
    table["h2"], table["u2"], table["p2"] = h2, u2, p2
    first_order = pd.DataFrame(loadings, index=items, columns=[general_name, *names])
    identity = pd.DataFrame(np.eye(len(names) + 1), index=first_order.columns, columns=first_order.columns)
    return OmegaResult(
        total=float(total), hierarchical=general_part / v_total,
        asymptotic=general_part / (total * v_total) if total > 0 else float("nan"),
        alpha=float(alpha), ecv=explained / common if common > 0 else float("nan"),
        per_scale=per_scale, loadings=table, n_factors=len(names), correlation_type=correlation,
        method=method, reversed_items=tuple(items[i] for i in np.flatnonzero(key < 0)),
        oblique_loadings=first_order, factor_correlations=identity,
        general_loadings=np.full(len(names), np.nan),
        scales=None if scales is None else _scale_omegas(sample, items, scales, method),
        approach="bifactor_cfa", denominator=denominator, cfa=fitted)


def _standardize(matrix: np.ndarray) -> np.ndarray:
    scale = np.sqrt(np.diag(matrix))
    return matrix / np.outer(scale, scale)


def _schmid_leiman(r: np.ndarray, items: list[str], oblique: np.ndarray, phi: np.ndarray, h2: np.ndarray, *,
                   correlation: str, method: str, scales: pd.DataFrame | None,
                   observed: np.ndarray | None = None, factor_names: list[str] | None = None) -> OmegaResult:
    """Orthogonalize an oblique solution and compute the omegas (``r`` supplies the variances)."""
    n_factors = oblique.shape[1]
    gamma = _general_loadings(phi, method)
    general = oblique @ gamma
    remaining = np.clip(oblique ** 2 * (1.0 - gamma[None, :] ** 2), 0.0, None)
    group = np.sign(oblique) * np.sqrt(remaining)
    key = np.where(general < 0, -1.0, 1.0)
    r_keyed = r * key[:, None] * key[None, :]
    general, group = general * key, group * key[:, None]
    observed_keyed = r_keyed if observed is None else observed * key[:, None] * key[None, :]
    coefficients = omega_from_loadings(observed_keyed, general, group)
    u2 = np.diag(r_keyed) - h2
    v_total = float(r_keyed.sum())
    total = (v_total - u2.sum()) / v_total
    gsq = float(general.sum() ** 2)
    group_names = [f"F{g + 1}*" for g in range(n_factors)]
    sl = pd.DataFrame(group, index=items, columns=group_names)
    sl.insert(0, "g", general)
    sl["h2"] = h2
    sl["u2"] = u2
    sl["p2"] = general ** 2 / h2
    names = factor_names or [f"F{g + 1}" for g in range(n_factors)]
    return OmegaResult(
        total=float(total), hierarchical=gsq / v_total, asymptotic=gsq / (v_total - u2.sum()),
        alpha=coefficients["alpha"], ecv=coefficients["ecv"],
        per_scale=_group_omegas(r_keyed, general, group, float(total)), loadings=sl, n_factors=n_factors,
        correlation_type=correlation, method=method,
        reversed_items=tuple(items[i] for i in np.flatnonzero(key < 0)),
        oblique_loadings=pd.DataFrame(oblique, index=items, columns=names),
        factor_correlations=pd.DataFrame(phi, index=names, columns=names), general_loadings=gamma,
        scales=scales,
    )
