"""Exploratory factor analysis: extraction, rotation and fit, on Pearson or polychoric correlations.

Extraction (minimum residual, maximum likelihood, iterated principal axis) works on the
correlation matrix. Rotation uses gradient projection (Jennrich, 2001, 2002) written here for
the oblimin/quartimin, geomin, quartimax and bifactor criteria, and factor-analyzer's
``Rotator`` for varimax. factor-analyzer's ``FactorAnalyzer.fit`` is not used: version 0.5.1
passes ``force_all_finite`` to scikit-learn's ``check_array``, which scikit-learn 1.8 removed.
Conventions (sign, order of factors, fit statistics) follow ``psych::fa``.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import optimize, stats

from psychometrics._deprecation import keyword_only_after
from psychometrics._numeric import TINY
from psychometrics._blas import single_threaded_blas
from psychometrics.data import Responses, as_responses
from psychometrics.errors import ConvergenceWarning, ModelWarning, ResponseError
from psychometrics.fit_indices import rmsea_interval
from psychometrics._results import brief_repr

__all__ = ["EFAResult", "efa", "efa_correlation", "correlation_matrix", "item_data", "pearson_matrix", "rotate",
           "smc", "fit_statistics",
           "METHODS", "ROTATIONS", "ORTHOGONAL_ROTATIONS", "OBLIQUE_ROTATIONS"]

METHODS = ("minres", "ml", "pa")
ORTHOGONAL_ROTATIONS = ("none", "varimax", "quartimax", "geomin_ort", "bifactor")
OBLIQUE_ROTATIONS = ("oblimin", "quartimin", "promax", "geomin", "biquartimin")
ROTATIONS = ORTHOGONAL_ROTATIONS + OBLIQUE_ROTATIONS
_PSI_LOWER = 0.005
_METHOD_PREFIX = {"minres": "MR", "ml": "ML", "pa": "PA"}


@dataclass(frozen=True)
class EFAResult:
    """Result of :func:`efa`.

    Attributes
    ----------
    loadings : DataFrame
        Items x factors pattern matrix after rotation.
    communalities, uniquenesses : Series
        Per item, ``h2 = diag(L Phi L')`` and ``1 - h2``.
    factor_correlations : DataFrame
        Factors x factors (identity for orthogonal rotations).
    structure : DataFrame
        Items x factors structure matrix ``L Phi``.
    variance : DataFrame
        Rows ``ss_loadings``, ``proportion_var``, ``cumulative_var``, ``proportion_explained``,
        ``cumulative_proportion`` (psych's ``Vaccounted``).
    eigenvalues : Series
        Eigenvalues of the correlation matrix.
    chi2, df, p, tli, rmsea, rmsea_ci, bic, objective, rms, crms, null_chi2, null_df : float
        Fit as ``psych::fa`` reports it (see :func:`fit_statistics`).
    heywood : tuple of str
        Items whose uniqueness reached the lower bound or whose communality reached 1.
    correlation : DataFrame
        The correlation matrix analysed.
    """

    __repr__ = brief_repr

    loadings: pd.DataFrame
    communalities: pd.Series
    uniquenesses: pd.Series
    factor_correlations: pd.DataFrame
    structure: pd.DataFrame
    variance: pd.DataFrame
    eigenvalues: pd.Series
    unrotated: pd.DataFrame
    rotation_matrix: np.ndarray
    chi2: float
    df: float
    p: float
    tli: float
    rmsea: float
    rmsea_ci: tuple[float, float]
    bic: float
    objective: float
    rms: float
    crms: float
    null_chi2: float
    null_df: float
    n_obs: int | None
    n_factors: int
    method: str
    rotation: str
    correlation_type: str
    heywood: tuple[str, ...]
    converged: bool
    correlation: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Loadings with communality ``h2``, uniqueness ``u2`` and complexity per item."""
        frame = self.loadings.copy()
        frame["h2"] = self.communalities
        frame["u2"] = self.uniquenesses
        squares = (self.loadings.to_numpy() ** 2)
        frame["complexity"] = squares.sum(axis=1) ** 2 / np.maximum((squares ** 2).sum(axis=1), TINY)
        return frame

    def fit_frame(self) -> pd.Series:
        """Fit statistics as a Series."""
        return pd.Series({"chi2": self.chi2, "df": self.df, "p": self.p, "tli": self.tli, "rmsea": self.rmsea,
                          "rmsea_low": self.rmsea_ci[0], "rmsea_high": self.rmsea_ci[1], "bic": self.bic,
                          "rms": self.rms, "crms": self.crms})

    def summary(self, digits: int = 2) -> str:
        lines = [f"EFA: {self.n_factors} factor(s), {self.method} extraction, {self.rotation} rotation, "
                 f"{self.correlation_type} correlations, n = {self.n_obs}",
                 self.to_frame().round(digits).to_string(), "", self.variance.round(digits).to_string()]
        if self.n_factors > 1 and self.rotation in OBLIQUE_ROTATIONS:
            lines += ["", "Factor correlations:", self.factor_correlations.round(digits).to_string()]
        lines.append("")
        lines.append(f"chi2({self.df:g}) = {self.chi2:.2f}, p = {self.p:.3g}; TLI = {self.tli:.3f}; "
                     f"RMSEA = {self.rmsea:.3f} [{self.rmsea_ci[0]:.3f}, {self.rmsea_ci[1]:.3f}]; "
                     f"BIC = {self.bic:.2f}; RMSR = {self.rms:.3f}")
        if self.heywood:
            lines.append(f"Heywood case(s): {', '.join(self.heywood)}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# correlation matrix
# --------------------------------------------------------------------------------------------

def item_data(data: Any, correlation: str = "pearson") -> tuple[np.ndarray, list[str]]:
    """Persons x items float array and item ids from the caller's data (the input boundary).

    Ordinal data (and everything analysed with polychoric correlations) go through
    :func:`psychometrics.data.as_responses`. Pearson correlations also accept continuous
    scores (a DataFrame or array with non-integer values), checked here for numeric, finite
    or missing cells.
    """
    if isinstance(data, Responses) or correlation == "polychoric":
        responses = as_responses(data)
        return responses.values, responses.item_ids
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise ResponseError(f"expected a persons x items array, got {data.ndim} dimension(s)")
        data = pd.DataFrame(data, columns=[f"item{j + 1}" for j in range(data.shape[1])])
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"expected a DataFrame, ndarray or Responses, got {type(data).__name__}")
    numeric = data.apply(pd.to_numeric, errors="coerce")
    values = numeric.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size and np.all(finite == np.round(finite)):
        responses = as_responses(data)
        return responses.values, responses.item_ids
    bad = (numeric.isna() & data.notna()).to_numpy() | np.isinf(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ResponseError(f"respondent {data.index[row]!r} (row {row}), item {str(data.columns[col])!r} "
                            f"(column {col}): value {data.iat[row, col]!r} is not a finite number")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ResponseError(f"the response data are empty ({data.shape[0]} rows, {data.shape[1]} columns)")
    return values, [str(c) for c in data.columns]


def pearson_matrix(values: np.ndarray, items: list[str]) -> np.ndarray:
    """Pairwise-complete Pearson correlations, with errors naming the items concerned."""
    observed = ~np.isnan(values)
    pairs = observed.T.astype(float) @ observed.astype(float)
    if np.any(pairs < 3):
        i, j = np.argwhere(pairs < 3)[0]
        raise ResponseError(f"items {items[i]!r} and {items[j]!r} have {int(pairs[i, j])} respondents "
                            "in common; a correlation needs at least 3")
    frame = pd.DataFrame(values)
    sd = frame.std().to_numpy()
    if np.any(~(sd > 0)):
        j = int(np.flatnonzero(~(sd > 0))[0])
        raise ResponseError(f"item {items[j]!r} (column {j}) has no variance; drop it")
    matrix = frame.corr(method="pearson", min_periods=3).to_numpy()
    if np.isnan(matrix).any():
        i, j = np.argwhere(np.isnan(matrix))[0]
        raise ResponseError(f"items {items[i]!r} and {items[j]!r}: the correlation is undefined because one "
                            "of them is constant among the respondents who answered both")
    return matrix


def correlation_matrix(data: Any, correlation: str = "pearson") -> tuple[np.ndarray, int, list[str]]:
    """Correlation matrix of the items, the sample size psych uses for fit (rows), item ids."""
    if correlation not in ("pearson", "polychoric"):
        raise ValueError(f"correlation must be 'pearson' or 'polychoric', got {correlation!r}")
    values, items = item_data(data, correlation)
    if len(items) < 2:
        raise ResponseError(f"a factor analysis needs at least two items, got {len(items)}")
    if correlation == "polychoric":
        return _polychoric_matrix(data, values, items), values.shape[0], items
    return pearson_matrix(values, items), values.shape[0], items


# The polychoric matrices of the last few data sets: a validation asks for the same one for
# KMO, Bartlett's test, parallel analysis and two EFAs. Keyed by the data's content, so an
# equal data set finds it and a changed one does not.
_POLYCHORIC_CACHE: "OrderedDict[bytes, tuple[np.ndarray, list[warnings.WarningMessage]]]" = OrderedDict()
_POLYCHORIC_CACHE_SIZE = 4
_POLYCHORIC_LOCK = threading.Lock()


def _polychoric_matrix(data: Any, values: np.ndarray, items: list[str]) -> np.ndarray:
    """``polychoric(data).correlation`` as an array, computed once per data set; the warnings
    of the computation are given again on every call."""
    from psychometrics.factor.polychoric import polychoric

    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((values.shape, str(values.dtype), items)).encode())
    digest.update(np.ascontiguousarray(values).tobytes())
    key = digest.digest()
    with _POLYCHORIC_LOCK:
        cached = _POLYCHORIC_CACHE.get(key)
        if cached is not None:
            _POLYCHORIC_CACHE.move_to_end(key)
    if cached is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            matrix = polychoric(as_responses(data)).correlation.to_numpy()
        cached = (matrix, list(caught))
        with _POLYCHORIC_LOCK:
            _POLYCHORIC_CACHE[key] = cached
            while len(_POLYCHORIC_CACHE) > _POLYCHORIC_CACHE_SIZE:
                _POLYCHORIC_CACHE.popitem(last=False)
    for caught_warning in cached[1]:
        warnings.warn(caught_warning.message, caught_warning.category, stacklevel=3)
    return cached[0].copy()


def smc(matrix: np.ndarray) -> np.ndarray:
    r"""Squared multiple correlations :math:`1 - 1/\mathrm{diag}(R^{-1})`, clipped to [0, 1]."""
    inverse = np.linalg.pinv(matrix)
    values = 1.0 - 1.0 / np.diag(inverse)
    return np.clip(values, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# extraction
# --------------------------------------------------------------------------------------------

def _top_loadings(matrix: np.ndarray, n_factors: int) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    order = np.argsort(values)[::-1][:n_factors]
    return vectors[:, order] * np.sqrt(np.maximum(values[order], 0.0))


def _stationary(res: optimize.OptimizeResult, tol: float = 1e-5) -> bool:
    """Projected-gradient test: L-BFGS-B may stop on a line-search failure at the optimum."""
    gradient = np.asarray(res.jac, dtype=float).copy()
    at_lower = res.x <= _PSI_LOWER + 1e-10
    at_upper = res.x >= 1.0 - 1e-10
    gradient[at_lower & (gradient > 0)] = 0.0
    gradient[at_upper & (gradient < 0)] = 0.0
    return bool(res.success or np.max(np.abs(gradient)) < tol)


def _extract_minres(r: np.ndarray, n_factors: int) -> tuple[np.ndarray, bool]:
    """Unweighted least squares: minimize the residual sum of squares over uniquenesses."""
    def objective(psi: np.ndarray) -> tuple[float, np.ndarray]:
        values, vectors = np.linalg.eigh(r - np.diag(psi))
        rest = values[:-n_factors] if n_factors else values
        rest_vectors = vectors[:, :-n_factors]
        # after the top factors are removed the residual matrix is sum of the other eigenpairs
        value = float(np.sum(rest ** 2))
        gradient = -2.0 * (rest_vectors ** 2) @ rest
        return value, gradient

    start = 1.0 - smc(r)
    start = np.clip(start, _PSI_LOWER, 1.0)
    res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                            bounds=[(_PSI_LOWER, 1.0)] * len(start),
                            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
    reduced = r - np.diag(res.x)
    return _top_loadings(reduced, n_factors), _stationary(res)


def _extract_ml(r: np.ndarray, n_factors: int) -> tuple[np.ndarray, bool]:
    """Maximum likelihood (Joreskog, 1967) over uniquenesses, as factanal/psych."""
    p = r.shape[0]

    def scaled_eigen(psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = 1.0 / np.sqrt(psi)
        values, vectors = np.linalg.eigh(r * scale[:, None] * scale[None, :])
        return values[::-1], vectors[:, ::-1]

    def objective(psi: np.ndarray) -> tuple[float, np.ndarray]:
        values, vectors = scaled_eigen(psi)
        rest = values[n_factors:]
        rest = np.maximum(rest, TINY)
        value = -(np.sum(np.log(rest) - rest) - n_factors + p)
        load = vectors[:, :n_factors] * np.sqrt(np.maximum(values[:n_factors] - 1.0, 0.0))
        load = load * np.sqrt(psi)[:, None]
        gradient = (np.sum(load ** 2, axis=1) + psi - np.diag(r)) / psi ** 2
        return float(value), gradient

    start = np.clip(1.0 - smc(r), _PSI_LOWER, 1.0)
    res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                            bounds=[(_PSI_LOWER, 1.0)] * p,
                            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
    values, vectors = scaled_eigen(res.x)
    load = vectors[:, :n_factors] * np.sqrt(np.maximum(values[:n_factors] - 1.0, 0.0))
    return load * np.sqrt(res.x)[:, None], _stationary(res)


def _extract_pa(r: np.ndarray, n_factors: int, *, tol: float = 1e-3, max_iter: int = 50
                ) -> tuple[np.ndarray, bool]:
    """Iterated principal axis, starting at SMCs; stops as psych does (change in total h2)."""
    reduced = r.copy()
    np.fill_diagonal(reduced, smc(r))
    total = float(np.trace(reduced))
    converged = False
    loadings = _top_loadings(reduced, n_factors)
    for _ in range(max_iter):
        loadings = _top_loadings(reduced, n_factors)
        communality = np.sum(loadings ** 2, axis=1)
        np.fill_diagonal(reduced, communality)
        new_total = float(communality.sum())
        if abs(total - new_total) < tol:
            converged = True
            break
        total = new_total
    return loadings, converged


def _extract(r: np.ndarray, n_factors: int, method: str) -> tuple[np.ndarray, bool]:
    if method == "minres":
        return _extract_minres(r, n_factors)
    if method == "ml":
        return _extract_ml(r, n_factors)
    return _extract_pa(r, n_factors)


# --------------------------------------------------------------------------------------------
# rotation
# --------------------------------------------------------------------------------------------

def _crit_oblimin(L: np.ndarray) -> tuple[float, np.ndarray]:
    sq = L ** 2
    other = sq.sum(axis=1, keepdims=True) - sq
    return float(np.sum(sq * other) / 4.0), L * other


def _crit_quartimax(L: np.ndarray) -> tuple[float, np.ndarray]:
    return float(-np.sum(L ** 4) / 4.0), -L ** 3


def _crit_geomin(L: np.ndarray, delta: float = 0.01) -> tuple[float, np.ndarray]:
    k = L.shape[1]
    sq = L ** 2 + delta
    product = np.exp(np.sum(np.log(sq), axis=1) / k)
    return float(product.sum()), (2.0 / k) * (L / sq) * product[:, None]


def _crit_bifactor(L: np.ndarray) -> tuple[float, np.ndarray]:
    # quartimin-type complexity among the group factors only (Jennrich & Bentler, 2011)
    group = L[:, 1:]
    sq = group ** 2
    other = sq.sum(axis=1, keepdims=True) - sq
    gradient = np.zeros_like(L)
    gradient[:, 1:] = 4.0 * group * other
    return float(np.sum(sq * other)), gradient


_CRITERIA: dict[str, Callable[[np.ndarray], tuple[float, np.ndarray]]] = {
    "oblimin": _crit_oblimin, "quartimin": _crit_oblimin, "quartimax": _crit_quartimax,
    "geomin": _crit_geomin, "geomin_ort": _crit_geomin, "bifactor": _crit_bifactor,
    "biquartimin": _crit_bifactor,
}


def _gpa_orthogonal(A: np.ndarray, criterion: Callable, *, tol: float, max_iter: int
                    ) -> tuple[np.ndarray, bool]:
    T = np.eye(A.shape[1])
    f, gq = criterion(A @ T)
    G = A.T @ gq
    alpha = 1.0
    for _ in range(max_iter + 1):
        M = T.T @ G
        Gp = G - T @ ((M + M.T) / 2.0)
        s = np.sqrt(np.sum(Gp ** 2))
        if s < tol:
            return T, True
        alpha *= 2.0
        for _step in range(11):
            U, _, Vt = np.linalg.svd(T - alpha * Gp)
            T_new = U @ Vt
            f_new, gq_new = criterion(A @ T_new)
            if f_new < f - 0.5 * s ** 2 * alpha:
                break
            alpha /= 2.0
        T, f = T_new, f_new
        G = A.T @ gq_new
    return T, False


def _gpa_oblique(A: np.ndarray, criterion: Callable, *, tol: float, max_iter: int
                 ) -> tuple[np.ndarray, bool]:
    T = np.eye(A.shape[1])
    L = A @ np.linalg.inv(T).T
    f, gq = criterion(L)
    G = -(L.T @ gq @ np.linalg.inv(T)).T
    alpha = 1.0
    for _ in range(max_iter + 1):
        Gp = G - T * np.sum(T * G, axis=0)[None, :]
        s = np.sqrt(np.sum(Gp ** 2))
        if s < tol:
            return T, True
        alpha *= 2.0
        for _step in range(11):
            X = T - alpha * Gp
            T_new = X / np.sqrt(np.sum(X ** 2, axis=0))[None, :]
            L = A @ np.linalg.inv(T_new).T
            f_new, gq_new = criterion(L)
            if f - f_new > 0.5 * s ** 2 * alpha:
                break
            alpha /= 2.0
        T, f = T_new, f_new
        G = -(L.T @ gq_new @ np.linalg.inv(T_new)).T
    return T, False


def _varimax(A: np.ndarray) -> np.ndarray:
    """Kaiser-normalized varimax (as stats::varimax) via factor-analyzer's Rotator."""
    from factor_analyzer.rotator import Rotator

    rotator = Rotator(method="varimax", normalize=True, max_iter=1000, tol=1e-5)
    rotator.fit_transform(A)
    return np.asarray(rotator.rotation_)


def _promax(A: np.ndarray, power: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Promax after Kaiser normalization (psych's ``kaiser(rotate="Promax")``)."""
    norm = np.sqrt(np.sum(A ** 2, axis=1))
    weighted = A / norm[:, None]
    T_vari = _varimax(weighted)
    x = weighted @ T_vari
    target = x * np.abs(x) ** (power - 1)
    U = np.linalg.lstsq(x, target, rcond=None)[0]
    d = np.diag(np.linalg.inv(U.T @ U))
    U = U * np.sqrt(d)[None, :]
    total = T_vari @ U
    inverse = np.linalg.inv(total)
    phi = inverse @ inverse.T
    return (x @ U) * norm[:, None], phi


def rotate(loadings: np.ndarray, method: str, *, tol: float = 1e-5, max_iter: int = 1000
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Rotate an unrotated loading matrix.

    Returns
    -------
    (pattern, phi, rotation, converged)
        ``pattern = A (T')^{-1}`` for oblique and ``A T`` for orthogonal rotations, the factor
        correlations ``phi`` (identity when orthogonal) and the rotation matrix.

    Notes
    -----
    Gradient projection algorithms of Jennrich (2001, orthogonal) and Jennrich (2002, oblique),
    started at the identity, with the criteria of GPArotation: quartimin/oblimin (gamma = 0),
    geomin (delta = 0.01), quartimax, bifactor/biquartimin (Jennrich & Bentler, 2011). Varimax
    is Kaiser's, row-normalized; promax raises the normalized varimax solution to power 4.

    References
    ----------
    .. [1] Jennrich, R. I. (2002). A simple general method for oblique rotation.
           Psychometrika, 67, 7-19.
    .. [2] Bernaards, C. A. & Jennrich, R. I. (2005). Gradient projection algorithms and
           software for arbitrary rotation criteria in factor analysis. Educational and
           Psychological Measurement, 65, 676-696.
    .. [3] Jennrich, R. I. & Bentler, P. M. (2011). Exploratory bi-factor analysis.
           Psychometrika, 76, 537-549.
    """
    A = np.asarray(loadings, dtype=np.float64)
    k = A.shape[1]
    identity = np.eye(k)
    if method == "none" or k < 2:
        return A.copy(), identity, identity, True
    if method == "varimax":
        T = _varimax(A)
        return A @ T, identity, T, True
    if method == "promax":
        pattern, phi = _promax(A)
        return pattern, phi, np.linalg.lstsq(A, pattern, rcond=None)[0], True
    if method not in _CRITERIA:
        raise ValueError(f"rotation must be one of {ROTATIONS}, got {method!r}")
    criterion = _CRITERIA[method]
    if method in OBLIQUE_ROTATIONS:
        T, converged = _gpa_oblique(A, criterion, tol=tol, max_iter=max_iter)
        return A @ np.linalg.inv(T).T, T.T @ T, T, converged
    T, converged = _gpa_orthogonal(A, criterion, tol=tol, max_iter=max_iter)
    return A @ T, identity, T, converged


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------

def _logdet(matrix: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(matrix)
    return value if sign > 0 else np.inf


def fit_statistics(r: np.ndarray, loadings: np.ndarray, phi: np.ndarray | None, n_obs: float | None,
                   alpha: float = 0.10) -> dict[str, float]:
    r"""Fit of a factor model to a correlation matrix, as ``psych::fa.stats`` computes it.

    Notes
    -----
    With model :math:`\hat R = L\Phi L'` (unit diagonal), :math:`p` items, :math:`m` factors,
    :math:`F = \mathrm{tr}(\hat R^{-1}R) - \log|\hat R^{-1}R| - p`,
    :math:`df = p(p-1)/2 - pm + m(m-1)/2`, and Bartlett's corrected statistic
    :math:`\chi^2 = F\,[n - 1 - (2p+5)/6 - 2m/3]`. TLI compares :math:`F/df` with the null
    model's :math:`F_0/(p(p-1)/2)`; RMSEA is psych's
    :math:`\sqrt{\max(\chi^2/(df\,n) - 1/(n-1), 0)}` with a confidence interval from the
    noncentral chi-square; :math:`BIC = \chi^2 - df\log n`; ``rms`` is the root mean square
    off-diagonal residual and ``crms`` the same corrected for degrees of freedom.

    References
    ----------
    .. [1] Revelle, W. (2024). psych, functions ``fa`` and ``fa.stats``.
    .. [2] Tucker, L. R. & Lewis, C. (1973). A reliability coefficient for maximum likelihood
           factor analysis. Psychometrika, 38, 1-10.
    """
    from psychometrics.factor.polychoric import smooth_correlation

    p = r.shape[0]
    m = loadings.shape[1]
    model = loadings @ (phi if phi is not None else np.eye(m)) @ loadings.T
    residual = r - model
    np.fill_diagonal(residual, 0.0)
    df = p * (p - 1) / 2 - p * m + m * (m - 1) / 2
    rstar_off = float(np.sum(residual ** 2))
    rms = np.sqrt(rstar_off / (p * (p - 1)))
    crms = np.sqrt(rstar_off / (2 * df)) if df > 0 else np.nan
    if df <= 0:
        warnings.warn(f"{m} factor(s) of {p} variables leave {df:g} degrees of freedom: the model is saturated or not "
                      "identified, so chi2, p, TLI and RMSEA are undefined (NaN); extract fewer factors",
                      ModelWarning, stacklevel=3)
    full_model = model.copy()
    np.fill_diagonal(full_model, np.diag(r))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        full_model, _ = smooth_correlation(full_model)
        r_s, _ = smooth_correlation(r)
    product = np.linalg.solve(full_model, r_s)
    objective = float(np.trace(product) - _logdet(product) - p)
    null = float(np.trace(r_s) - _logdet(r_s) - p)
    if n_obs is None or not np.isfinite(n_obs):
        # a correlation matrix without a sample size: only the residual-based indices exist
        nan = float("nan")
        return {"chi2": nan, "df": df, "p": nan, "tli": nan, "rmsea": nan, "rmsea_low": nan, "rmsea_high": nan,
                "bic": nan, "objective": objective, "rms": rms, "crms": crms, "null_chi2": nan,
                "null_df": p * (p - 1) / 2}
    factor = (n_obs - 1) - (2 * p + 5) / 6 - (2 * m) / 3
    # a saturated or unidentified model has no test: chi2 is undefined, as the warning says
    chi2 = max(objective * factor, 0.0) if df > 0 else np.nan
    pvalue = float(stats.chi2.sf(chi2, df)) if df > 0 else np.nan
    null_df = p * (p - 1) / 2
    null_chi2 = null * ((n_obs - 1) - (2 * p + 5) / 6)
    m_model = objective / df if df > 0 else np.nan
    m_null = null * 2 / (p * (p - 1))
    tli = (m_null - m_model) / (m_null - 1 / factor) if df > 0 else np.nan
    if df > 0:
        rmsea = np.sqrt(max(chi2 / (df * n_obs) - 1 / (n_obs - 1), 0.0))
        # psych's fa: N - 1 in the interval
        low, high = rmsea_interval(chi2, df, n_obs - 1, confidence_level=1.0 - alpha)
        bic = chi2 - df * np.log(n_obs)
    else:
        rmsea, low, high, bic = np.nan, np.nan, np.nan, np.nan
    return {"chi2": chi2, "df": df, "p": pvalue, "tli": tli, "rmsea": rmsea, "rmsea_low": low,
            "rmsea_high": high, "bic": bic, "objective": objective, "rms": rms, "crms": crms,
            "null_chi2": null_chi2, "null_df": null_df}


# --------------------------------------------------------------------------------------------
# the verb
# --------------------------------------------------------------------------------------------

def _check_settings(n_items: int, n_factors: int, method: str, rotation: str) -> None:
    if not isinstance(n_factors, (int, np.integer)) or n_factors < 1:
        raise ValueError(f"n_factors must be a positive integer, got {n_factors!r}")
    if n_factors >= n_items:
        raise ValueError(f"n_factors={n_factors} is too many for {n_items} items; use at most {n_items - 1}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if rotation not in ROTATIONS:
        raise ValueError(f"rotation must be one of {ROTATIONS}, got {rotation!r}")
    if rotation in ("bifactor", "biquartimin") and n_factors < 3:
        raise ValueError(f"rotation={rotation!r} needs a general factor and at least two group factors "
                         f"(n_factors >= 3), got n_factors={n_factors}")


def efa_correlation(r: np.ndarray, n_factors: int, *, n_obs: float | None, items: list[str],
                    method: str = "minres", rotation: str = "oblimin", correlation_type: str = "given",
                    heywood_warning: bool = True) -> EFAResult:
    """:func:`efa` on a correlation matrix already computed (used by omega and retention)."""
    _check_settings(r.shape[0], n_factors, method, rotation)
    # items x items matrices are small: BLAS threads only add synchronization cost
    with single_threaded_blas():
        return _efa_correlation(r, n_factors, n_obs=n_obs, items=items, method=method, rotation=rotation,
                                correlation_type=correlation_type, heywood_warning=heywood_warning)


def _efa_correlation(r: np.ndarray, n_factors: int, *, n_obs: float | None, items: list[str], method: str,
                     rotation: str, correlation_type: str, heywood_warning: bool) -> EFAResult:
    extracted, converged = _extract(r, n_factors, method)
    if not converged:
        warnings.warn(f"{method} extraction of {n_factors} factor(s) did not converge", ConvergenceWarning,
                      stacklevel=4)
    signs = np.sign(extracted.sum(axis=0))
    signs[signs == 0] = 1
    extracted = extracted * signs[None, :]
    pattern, phi, rotation_matrix, rotated_ok = rotate(extracted, rotation)
    if not rotated_ok:
        warnings.warn(f"{rotation} rotation did not converge in 1000 iterations", ConvergenceWarning, stacklevel=4)
    signs = np.sign(pattern.sum(axis=0))
    signs[signs == 0] = 1
    pattern = pattern * signs[None, :]
    phi = phi * signs[:, None] * signs[None, :]
    explained = np.diag(phi @ pattern.T @ pattern)
    order = np.argsort(-explained, kind="stable") if n_factors > 1 else np.arange(1)
    pattern = pattern[:, order]
    phi = phi[np.ix_(order, order)]
    explained = explained[order]

    communality = np.sum(extracted ** 2, axis=1)
    uniqueness = np.diag(r) - communality
    heywood = tuple(items[i] for i in np.flatnonzero(communality >= 1.0 - _PSI_LOWER - 1e-4))
    if heywood and heywood_warning:
        warnings.warn(f"Heywood case: communality of {', '.join(repr(h) for h in heywood)} reached 1 "
                      "(uniqueness at its lower bound); the solution is improper, consider fewer factors "
                      "or dropping the item(s)", ModelWarning, stacklevel=4)
    names = [f"{_METHOD_PREFIX[method]}{i + 1}" for i in range(n_factors)]
    total = float(np.sum(communality + uniqueness))
    variance = pd.DataFrame(
        [explained, explained / total, np.cumsum(explained) / total, explained / explained.sum(),
         np.cumsum(explained) / explained.sum()],
        index=["ss_loadings", "proportion_var", "cumulative_var", "proportion_explained", "cumulative_proportion"],
        columns=names)
    fit = fit_statistics(r, pattern, phi, n_obs)
    loadings = pd.DataFrame(pattern, index=items, columns=names)
    values = np.sort(np.linalg.eigvalsh(r))[::-1]
    return EFAResult(
        loadings=loadings,
        communalities=pd.Series(communality, index=items, name="h2"),
        uniquenesses=pd.Series(uniqueness, index=items, name="u2"),
        factor_correlations=pd.DataFrame(phi, index=names, columns=names),
        structure=pd.DataFrame(pattern @ phi, index=items, columns=names),
        variance=variance,
        eigenvalues=pd.Series(values, index=range(1, len(values) + 1), name="eigenvalue"),
        unrotated=pd.DataFrame(extracted, index=items, columns=names),
        rotation_matrix=rotation_matrix,
        chi2=fit["chi2"], df=fit["df"], p=fit["p"], tli=fit["tli"], rmsea=fit["rmsea"],
        rmsea_ci=(fit["rmsea_low"], fit["rmsea_high"]), bic=fit["bic"], objective=fit["objective"],
        rms=fit["rms"], crms=fit["crms"], null_chi2=fit["null_chi2"], null_df=fit["null_df"],
        n_obs=int(n_obs) if n_obs is not None and np.isfinite(n_obs) else None, n_factors=n_factors,
        method=method, rotation=rotation,
        correlation_type=correlation_type, heywood=heywood, converged=bool(converged and rotated_ok),
        correlation=pd.DataFrame(r, index=items, columns=items),
    )


@keyword_only_after(2)
def efa(responses: Any, n_factors: int, *, method: str = "minres", rotation: str = "oblimin",
        correlation: str = "pearson") -> EFAResult:
    r"""Exploratory factor analysis.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN for missing (pairwise deletion in the correlations).
    n_factors : int
        Number of factors to extract.
    method : {"minres", "ml", "pa"}
        Minimum residual (unweighted least squares), maximum likelihood, or iterated
        principal axis (psych's convergence rule: change in total communality < 0.001,
        at most 50 iterations).
    rotation : {"oblimin", "quartimin", "promax", "geomin", "biquartimin", "none", "varimax",
        "quartimax", "geomin_ort", "bifactor"}
        ``oblimin`` is quartimin (gamma = 0) as in psych/GPArotation; ``geomin`` is oblique.
    correlation : {"pearson", "polychoric"}
        Correlations analysed; polychoric for ordinal (Likert) items.

    Returns
    -------
    EFAResult

    Notes
    -----
    Minres and ML minimize, over the uniquenesses :math:`\psi` (bounded to [0.005, 1]),

    .. math:: F_{ULS} = \sum_{j>m}\lambda_j(R - \Psi)^2, \qquad
              F_{ML} = -\sum_{j>m}\left[\log\lambda_j - \lambda_j\right] - m + p

    (eigenvalues of :math:`R - \Psi` and of :math:`\Psi^{-1/2}R\Psi^{-1/2}` respectively),
    with loadings from the leading eigenvectors. Factors are signed to positive column sums
    and ordered by the variance they explain. A Heywood case (communality at 1) is reported
    in ``heywood`` and with a :class:`ModelWarning`. Fit statistics: :func:`fit_statistics`.

    References
    ----------
    .. [1] Harman, H. H. & Jones, W. H. (1966). Factor analysis by minimizing residuals
           (minres). Psychometrika, 31, 351-368.
    .. [2] Joreskog, K. G. (1967). Some contributions to maximum likelihood factor analysis.
           Psychometrika, 32, 443-482.
    .. [3] Revelle, W. (2024). psych, function ``fa`` (the reference implementation the
           numbers are checked against).
    """
    r, n_obs, items = correlation_matrix(responses, correlation)
    _check_settings(len(items), n_factors, method, rotation)
    return efa_correlation(r, n_factors, n_obs=n_obs, items=items, method=method,
                           rotation=rotation, correlation_type=correlation)
