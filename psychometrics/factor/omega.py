"""McDonald's omega: total, hierarchical (Schmid-Leiman), per group factor and per scale; ECV.

The Schmid-Leiman route follows ``psych::omega``: an oblique (oblimin) rotation of a
varimax-rotated solution, a general factor extracted from the factor correlations, and the
orthogonalized general and group loadings. With ``correlation="polychoric"`` every
coefficient (including ``alpha``) is the ordinal version of Zumbo, Gadermann & Zeisser (2007).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.errors import ModelWarning, ResponseError
from psychometrics.factor.efa import METHODS, correlation_matrix, efa_correlation, rotate

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
        the items that load most on it.
    loadings : DataFrame
        Schmid-Leiman solution: ``g``, the group factors ``F1*``..., ``h2``, ``u2``, ``p2``.
    scales : DataFrame or None
        For ``scales`` given by the caller: per scale, number of items, omega total of a
        one-factor model of its items, and alpha.
    """

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

    def to_frame(self) -> pd.DataFrame:
        """One row of the coefficients."""
        return pd.DataFrame([{"omega_total": self.total, "omega_hierarchical": self.hierarchical,
                              "omega_asymptotic": self.asymptotic, "alpha": self.alpha, "ecv": self.ecv}])

    def summary(self, digits: int = 2) -> str:
        kind = "ordinal " if self.correlation_type == "polychoric" else ""
        lines = [f"{kind}omega ({self.n_factors} group factors, Schmid-Leiman, {self.method}):",
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
          estimator: str | None = None) -> OmegaResult:
    r"""McDonald's omega total and hierarchical via a Schmid-Leiman transformation.

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
        CFA estimator with ``model``; default ``dwls`` for polychoric, else ``ml``.

    Returns
    -------
    OmegaResult

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

    References
    ----------
    .. [1] Schmid, J. & Leiman, J. M. (1957). The development of hierarchical factor
           solutions. Psychometrika, 22, 53-61.
    .. [2] Zinbarg, R. E., Revelle, W., Yovel, I. & Li, W. (2005). Psychometrika, 70, 123-133.
    .. [3] Zumbo, B. D., Gadermann, A. M. & Zeisser, C. (2007). Ordinal versions of coefficients
           alpha and theta for Likert rating scales. Journal of Modern Applied Statistical
           Methods, 6, 21-29.
    .. [4] Revelle, W. (2024). psych, functions ``omega`` and ``schmid`` (reference numbers;
           the ``model`` route is psych's ``schmid(loadings, Phi = phi)``).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
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

    estimator = estimator or ("dwls" if correlation == "polychoric" else "ml")
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
    return result


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
