r"""Confirmatory factor analysis of a stated structure.

Two families of estimators share one model and one Gauss-Newton / Fisher-scoring loop:

* ``"ml"``: normal-theory maximum likelihood on the covariance matrix of continuous
  scores with lavaan's defaults (marker-variable identification, the biased covariance
  matrix with divisor :math:`N`, expected information for standard errors); incomplete
  rows are dropped (listwise) or used by full-information ML (``missing="fiml"``).
* ``"dwls"`` / ``"uls"``: diagonally weighted / unweighted least squares on polychoric
  correlations of ordinal items (delta parametrization, thresholds saturated), pairwise
  use of incomplete rows, robust standard errors and the mean-and-variance adjusted
  (scaled-and-shifted) test statistic, i.e. lavaan's ``"WLSMV"`` / ``"ULSMV"``.

The model is a mapping ``{"factor": [items...]}``. An item listed under two factors
cross-loads; ``correlated_residuals`` adds residual covariances. Factors covary freely
unless ``orthogonal=True`` fixes their covariances at 0, which with a general factor
listing every item and group factors listing subsets gives a bifactor model. The first
item listed under a factor is its marker (loading fixed to 1), which gives the same fit,
degrees of freedom and standardized solution as fixing the factor variances
(``std_lv=True``, the safer choice for bifactor models, where a marker may load near 0).
Internally the iterations run with unit factor variances, which stay well conditioned
when a marker loads weakly, and the solution is then restated with markers.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from psychometrics._numeric import TINY
from psychometrics._blas import one_blas_thread
from psychometrics.data import Responses, as_responses
from psychometrics.errors import (
    ConvergenceWarning,
    DataWarning,
    EstimationError,
    InstrumentError,
    ModelWarning,
    ResponseError,
)
from psychometrics.factor.polychoric import _ordinal_codes, _pair_tables, asymptotic_covariance, polychoric
from psychometrics.fit_indices import cfi_tli, rmsea, rmsea_interval, srmr
from psychometrics._results import brief_repr

__all__ = ["CFAResult", "cfa"]

_ESTIMATORS = ("ml", "dwls", "uls")
# Stand-in for an infinite threshold: the normal tail beyond it is below 1e-30.
# Ordinal items with more distinct codes than this are almost surely continuous scores.
_MAX_CATEGORIES = 20


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class CFAResult:
    """A fitted confirmatory factor model.

    Fit statistics follow lavaan's definitions. For ``"dwls"`` and ``"uls"`` the plain
    ``chi2`` / ``cfi`` / ``tli`` / ``rmsea`` use the standard (unadjusted) statistic and
    the ``*_scaled`` fields the mean-and-variance adjusted one; for ``"ml"`` the scaled
    fields are NaN. ``aic``, ``bic`` and ``loglik`` exist for ``"ml"`` only (NaN otherwise).

    Attributes
    ----------
    estimator : str
        ``"ml"``, ``"dwls"`` or ``"uls"``.
    n_persons : int
        Respondents used: complete rows for listwise ML, rows with at least one
        response for FIML and the ordinal estimators.
    n_dropped : int
        Rows left out.
    chi2, df, p : float, int, float
        Model test statistic, degrees of freedom and p-value (``p`` is NaN for ULS,
        whose unadjusted statistic has no chi-square reference distribution).
    chi2_scaled, p_scaled, scaling_factor, shift : float
        Scaled-and-shifted statistic :math:`T^* = T/c + s` with scaling factor :math:`c`
        and shift :math:`s` (ordinal estimators).
    baseline_chi2, baseline_df, baseline_chi2_scaled : float, int, float
        Independence model (uncorrelated items) used by CFI and TLI.
    cfi, tli, rmsea, rmsea_ci, srmr : float
        Fit indices; ``rmsea_ci`` is the 90% interval (low, high).
    cfi_scaled, tli_scaled, rmsea_scaled : float
        The same indices from the scaled statistics (ordinal estimators).
    aic, bic, loglik : float
        Information criteria and log-likelihood (ML).
    loadings, loadings_se : DataFrame
        Standardized loadings (items x factors, 0 where an item does not load) and
        their delta-method standard errors (NaN where the loading is not in the model).
    factor_correlations, factor_correlations_se : DataFrame
        Factor correlation matrix and standard errors.
    residual_variances : Series
        Standardized residual (unique) variances, 1 - R^2 per item.
    parameters : DataFrame
        One row per model parameter, lavaan style: ``lhs, op, rhs, free, est, se, z, p,
        est_std, se_std`` (``op`` is ``"=~"`` for loadings, ``"~~"`` for (co)variances).
    modification_indices : DataFrame
        Score tests for fixed loadings and residual covariances: ``lhs, op, rhs, mi,
        epc, sepc_all``, largest ``mi`` first. Computed on first access (for FIML on
        many missing-data patterns it is the costly part).
    implied : DataFrame
        Model-implied covariance (ML) or correlation (ordinal) matrix.
    sample : DataFrame
        The covariance (ML) or polychoric correlation matrix the model was fitted to.
    thresholds : dict
        Item -> thresholds (ordinal estimators; empty for ML).
    converged : bool
    n_iterations : int
    missing : str
        ``"listwise"`` or ``"fiml"`` (ML), ``"pairwise"`` (ordinal estimators).
    """

    __repr__ = brief_repr

    estimator: str
    n_persons: int
    n_dropped: int
    chi2: float
    df: int
    p: float
    chi2_scaled: float
    p_scaled: float
    scaling_factor: float
    shift: float
    baseline_chi2: float
    baseline_df: int
    baseline_chi2_scaled: float
    cfi: float
    tli: float
    rmsea: float
    rmsea_ci: tuple[float, float]
    srmr: float
    cfi_scaled: float
    tli_scaled: float
    rmsea_scaled: float
    aic: float
    bic: float
    loglik: float
    loadings: pd.DataFrame
    loadings_se: pd.DataFrame
    factor_correlations: pd.DataFrame
    factor_correlations_se: pd.DataFrame
    residual_variances: pd.Series
    parameters: pd.DataFrame
    implied: pd.DataFrame
    sample: pd.DataFrame
    thresholds: dict[str, np.ndarray] = field(default_factory=dict)
    converged: bool = True
    n_iterations: int = 0
    missing: str = "listwise"
    _score_tests: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def modification_indices(self) -> pd.DataFrame:
        """Score tests of the fixed loadings and residual covariances (see class doc)."""
        if self._score_tests is None:
            return pd.DataFrame(columns=["lhs", "op", "rhs", "mi", "epc", "sepc_all"])
        return self._score_tests()

    def fit_measures(self) -> pd.Series:
        """The fit statistics as one Series (unrounded)."""
        names = ["chi2", "df", "p", "chi2_scaled", "p_scaled", "scaling_factor", "shift",
                 "baseline_chi2", "baseline_df", "baseline_chi2_scaled", "cfi", "tli",
                 "rmsea", "cfi_scaled", "tli_scaled", "rmsea_scaled", "srmr", "aic", "bic",
                 "loglik"]
        values = {name: float(getattr(self, name)) for name in names}
        values["rmsea_ci_low"], values["rmsea_ci_high"] = self.rmsea_ci
        values["n_persons"] = float(self.n_persons)
        return pd.Series(values, name=self.estimator)

    def to_frame(self) -> pd.DataFrame:
        """The parameter table (see ``parameters``)."""
        return self.parameters.copy()

    def summary(self) -> str:
        """A short human-readable report."""
        label = self.estimator.upper() + (", FIML" if self.missing == "fiml" else "")
        lines = [f"CFA ({label}), {self.n_persons} respondents"
                 + (f", {self.n_dropped} rows dropped" if self.n_dropped else "")
                 + ("" if self.converged else "  ** NOT CONVERGED **")]
        if self.estimator == "ml":
            lines.append(f"  chi2 = {self.chi2:.3f}, df = {self.df}, p = {self.p:.4f}")
        else:
            lines.append(f"  chi2 = {self.chi2:.3f} (scaled {self.chi2_scaled:.3f}), df = {self.df},"
                         f" p (scaled) = {self.p_scaled:.4f}")
        lines.append(f"  CFI = {self.cfi:.3f}, TLI = {self.tli:.3f}, RMSEA = {self.rmsea:.3f}"
                     f" [{self.rmsea_ci[0]:.3f}, {self.rmsea_ci[1]:.3f}], SRMR = {self.srmr:.3f}")
        if self.estimator == "ml":
            lines.append(f"  AIC = {self.aic:.3f}, BIC = {self.bic:.3f}")
        else:
            lines.append(f"  scaled: CFI = {self.cfi_scaled:.3f}, TLI = {self.tli_scaled:.3f},"
                         f" RMSEA = {self.rmsea_scaled:.3f}")
        lines.append("Standardized loadings:")
        lines.append(self.loadings.round(3).to_string())
        if self.factor_correlations.shape[0] > 1:
            lines.append("Factor correlations:")
            lines.append(self.factor_correlations.round(3).to_string())
        indices = self.modification_indices.dropna(subset=["mi"])
        if len(indices):
            lines.append("Largest modification indices:")
            lines.append(indices.head(5).round(3).to_string(index=False))
        return "\n".join(lines)


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class _Structure:
    """Positions of the free parameters; built once from the user's model."""

    items: list[str]
    factors: list[str]
    pattern: np.ndarray  # items x factors, True where the item loads
    markers: np.ndarray  # factor -> item index whose loading is fixed to 1
    free_loadings: list[tuple[int, int]]
    residual_pairs: list[tuple[int, int]]  # off-diagonal residual covariances (j > k)
    ordinal: bool
    # True: factor variances fixed to 1 and every loading free (used while iterating, and
    # reported with std_lv); False: marker loadings fixed to 1 and factor variances free
    unit_variance: bool = False
    # True: factor covariances fixed at 0 (lavaan's orthogonal = TRUE)
    orthogonal: bool = False

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_factors(self) -> int:
        return len(self.factors)

    def labels(self) -> list[tuple[str, str, str]]:
        """(lhs, op, rhs) of every free parameter, in vector order."""
        out = [(self.factors[k], "=~", self.items[j]) for j, k in self.free_loadings]
        out += [(self.factors[ell], "~~", self.factors[k]) for k, ell in self._phi_index()]
        if not self.ordinal:
            out += [(item, "~~", item) for item in self.items]
        out += [(self.items[k], "~~", self.items[j]) for j, k in self.residual_pairs]
        return out

    def _phi_index(self) -> list[tuple[int, int]]:
        # lower triangle, column by column (variances before covariances of a factor)
        if self.orthogonal:
            return [] if self.unit_variance else [(k, k) for k in range(self.n_factors)]
        first = 1 if self.unit_variance else 0
        return [(k, ell) for ell in range(self.n_factors) for k in range(ell + first, self.n_factors)]

    def with_unit_variances(self) -> "_Structure":
        loadings = [(j, k) for k in range(self.n_factors) for j in range(self.n_items) if self.pattern[j, k]]
        return dataclasses.replace(self, free_loadings=loadings, unit_variance=True)

    def pack(self, lam: np.ndarray, phi: np.ndarray, res: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`unpack` (fixed entries are ignored)."""
        theta = [lam[j, k] for j, k in self.free_loadings]
        theta += [phi[k, ell] for k, ell in self._phi_index()]
        if not self.ordinal:
            theta += list(np.diag(res))
        theta += [res[j, k] for j, k in self.residual_pairs]
        return np.asarray(theta, dtype=np.float64)

    @property
    def n_free(self) -> int:
        return (len(self.free_loadings) + len(self._phi_index())
                + (0 if self.ordinal else self.n_items) + len(self.residual_pairs))

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lambda, Phi and Theta (residual covariances; zero diagonal when ordinal)."""
        p, m = self.n_items, self.n_factors
        lam = np.zeros((p, m))
        phi = np.zeros((m, m))
        if self.unit_variance:
            phi[np.diag_indices(m)] = 1.0
        else:
            lam[self.markers, np.arange(m)] = 1.0
        pos = 0
        for j, k in self.free_loadings:
            lam[j, k] = theta[pos]
            pos += 1
        for k, ell in self._phi_index():
            phi[k, ell] = phi[ell, k] = theta[pos]
            pos += 1
        res = np.zeros((p, p))
        if not self.ordinal:
            res[np.diag_indices(p)] = theta[pos:pos + p]
            pos += p
        for j, k in self.residual_pairs:
            res[j, k] = res[k, j] = theta[pos]
            pos += 1
        return lam, phi, res

    def implied(self, theta: np.ndarray) -> np.ndarray:
        lam, phi, res = self.unpack(theta)
        sigma = lam @ phi @ lam.T + res
        if self.ordinal:
            # delta parametrization: residual variances make the diagonal exactly 1
            sigma[np.diag_indices_from(sigma)] = 1.0
        return sigma

    def derivatives(self, theta: np.ndarray, extra: Sequence[tuple[str, int, int]] = ()
                    ) -> tuple[np.ndarray, np.ndarray]:
        """d Sigma / d theta_k = x_k y_k' + y_k x_k', returned as X and Y (p x parameters).

        Every parameter of this model moves Sigma by such a symmetric rank-two matrix, so
        gradients and information matrices reduce to products of p x q matrices instead of
        q matrices of size p x p. ``extra`` lists fixed parameters to differentiate as well
        (for modification indices): ``("load", item, factor)``, ``("res", j, k)`` or
        ``("phi", factor, factor)`` (a factor covariance of an orthogonal model).
        """
        lam, phi, _ = self.unpack(theta)
        p = self.n_items
        lp = lam @ phi
        columns: list[tuple[np.ndarray, np.ndarray]] = []
        eye = np.eye(p)
        for j, k in self.free_loadings:
            columns.append((eye[:, j], lp[:, k]))
        for k, ell in self._phi_index():
            columns.append((lam[:, k], lam[:, ell] if k != ell else 0.5 * lam[:, k]))
        if not self.ordinal:
            for j in range(p):
                columns.append((eye[:, j], 0.5 * eye[:, j]))
        for j, k in self.residual_pairs:
            columns.append((eye[:, j], eye[:, k]))
        for kind, a, b in extra:
            if kind == "load":
                columns.append((eye[:, a], lp[:, b]))
            elif kind == "phi":
                columns.append((lam[:, a], lam[:, b]))
            else:
                columns.append((eye[:, a], eye[:, b] if a != b else 0.5 * eye[:, a]))
        x = np.array([c[0] for c in columns], dtype=np.float64).reshape(len(columns), p).T
        y = np.array([c[1] for c in columns], dtype=np.float64).reshape(len(columns), p).T
        return x, y


def _build_structure(model: Mapping[str, Sequence[str]], columns: Sequence[str],
                     correlated_residuals: Iterable[Sequence[str]] | None,
                     ordinal: bool, orthogonal: bool = False) -> _Structure:
    if not isinstance(model, Mapping) or not model:
        raise InstrumentError("model must be a non-empty mapping {factor: [items...]}, "
                              f"got {model!r}")
    available = set(columns)
    factors = [str(f) for f in model]
    items: list[str] = []
    for factor, listed in model.items():
        if isinstance(listed, str) or not isinstance(listed, Iterable):
            raise InstrumentError(f"model: factor {factor!r} must list its items, got {listed!r}")
        listed = [str(i) for i in listed]
        if not listed:
            raise InstrumentError(f"model: factor {factor!r} lists no items")
        seen = set()
        for item in listed:
            if item in seen:
                raise InstrumentError(f"model: factor {factor!r} lists item {item!r} twice")
            seen.add(item)
            if item not in available:
                raise InstrumentError(f"model: factor {factor!r} lists item {item!r}, which is not "
                                      f"a column of the responses")
            if item not in items:
                items.append(item)
    clash = set(factors) & set(items)
    if clash:
        raise InstrumentError(f"model: {sorted(clash)} used both as factor and item name")
    p, m = len(items), len(factors)
    index = {item: j for j, item in enumerate(items)}
    pattern = np.zeros((p, m), dtype=bool)
    markers = np.zeros(m, dtype=int)
    for k, listed in enumerate(model.values()):
        listed = [str(i) for i in listed]
        pattern[[index[i] for i in listed], k] = True
        markers[k] = index[listed[0]]
    for k, factor in enumerate(factors):
        if pattern[:, k].sum() == 1:
            raise EstimationError(
                f"model not identified: factor {factor!r} has a single item "
                f"({items[markers[k]]!r}), so its variance and that item's residual variance "
                "cannot both be estimated; give the factor at least two items")
    free_loadings = [(j, k) for k in range(m) for j in range(p) if pattern[j, k] and j != markers[k]]
    pairs: list[tuple[int, int]] = []
    for pair in correlated_residuals or ():
        pair = [str(x) for x in pair] if not isinstance(pair, str) else [pair]
        if len(pair) != 2:
            raise InstrumentError(f"correlated_residuals: expected pairs of items, got {pair!r}")
        a, b = pair
        for item in (a, b):
            if item not in index:
                raise InstrumentError(f"correlated_residuals: item {item!r} is not in the model")
        if a == b:
            raise InstrumentError(f"correlated_residuals: pair ({a!r}, {b!r}) names one item twice")
        j, k = sorted((index[a], index[b]), reverse=True)
        if (j, k) not in pairs:
            pairs.append((j, k))
    return _Structure(items, factors, pattern, markers, free_loadings, pairs, ordinal,
                      orthogonal=orthogonal)


# --------------------------------------------------------------------------- polychorics


@dataclass(frozen=True)
class _Ordinal:
    correlation: np.ndarray  # p x p polychoric correlations
    thresholds: list[np.ndarray]  # per item, finite thresholds
    gamma: np.ndarray  # asymptotic covariance of sqrt(N) * (r - rho), pairs in tril(-1) order
    n_persons: int


def _ordinal_statistics(responses: Responses) -> _Ordinal:
    """Polychoric correlations (unsmoothed, as lavaan uses them) and their covariance."""
    with warnings.catch_warnings():
        # a non-positive-definite matrix is no obstacle to least squares; lavaan does not
        # smooth either, so the estimates stay the two-step ML ones
        result = polychoric(responses, smooth=False, max_categories=_MAX_CATEGORIES)
    corr = result.correlation.to_numpy(dtype=np.float64)
    tau = result.thresholds.to_numpy(dtype=np.float64)
    values = responses.values
    # the codes and pair tables exactly as polychoric() counted them
    matrix, categories = _ordinal_codes(values, responses.item_ids, _MAX_CATEGORIES)
    codes = [matrix[:, j] for j in range(values.shape[1])]
    n_categories = [int(k) for k in categories]
    thresholds = [tau[j, : k - 1] for j, k in enumerate(n_categories)]
    tables, _ = _pair_tables(matrix, max(n_categories))
    gamma = asymptotic_covariance(codes, n_categories, corr, thresholds, tables)
    return _Ordinal(corr, thresholds, gamma, values.shape[0])


def _as_table(data: Any) -> Responses | pd.DataFrame:
    """A Responses as is, else a DataFrame with string column names (nothing checked yet:
    only the model's items are, once the model is known)."""
    if isinstance(data, Responses):
        return data
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise ResponseError(f"expected a 2-D array (persons x items), got shape {data.shape}")
        return pd.DataFrame(data, columns=[f"item{j + 1}" for j in range(data.shape[1])])
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"expected a DataFrame, 2-D array or Responses, got {type(data).__name__}")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ResponseError(f"the response data are empty ({data.shape[0]} rows, {data.shape[1]} columns)")
    return data.set_axis([str(c) for c in data.columns], axis=1)


def _continuous_scores(table: Responses | pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """Numeric persons x items frame for ML, where scores need not be integer codes."""
    if isinstance(table, Responses):
        return table.frame[items]
    frame = table[items].copy()
    for item in items:
        raw = frame[item]
        numeric = pd.to_numeric(raw, errors="coerce").astype(np.float64)
        bad = (numeric.isna() & raw.notna()) | np.isinf(numeric)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ResponseError(f"respondent {frame.index[row]!r} (row {row}), item {item!r} "
                                f"(column {table.columns.get_loc(item)}): value {raw.iloc[row]!r} is "
                                "not a finite number")
        frame[item] = numeric
    return frame


# --------------------------------------------------------------------------- estimation


def _start_values(structure: _Structure, sample: np.ndarray) -> np.ndarray:
    """Rough values for the unit-variance parametrization (``structure.unit_variance``)."""
    sd = np.sqrt(np.diag(sample))
    corr = sample / np.outer(sd, sd)
    p, m = structure.n_items, structure.n_factors
    lam = np.zeros((p, m))
    for k in range(m):
        members = np.flatnonzero(structure.pattern[:, k])
        sub = np.abs(corr[np.ix_(members, members)])
        np.fill_diagonal(sub, np.nan)
        level = np.sqrt(np.clip(np.nanmean(sub, axis=1), 0.04, 0.81))
        sign = np.sign(corr[members, structure.markers[k]])
        sign[sign == 0] = 1.0
        lam[members, k] = level * sign
    main = np.argmax(structure.pattern, axis=1)
    std_main = lam[np.arange(p), main]
    if structure.orthogonal:
        # uncorrelated factors cannot pass an item's variance on to its other factors, and
        # a loading column of zeros is a saddle point (its gradient vanishes): share each
        # item's common variance among all its factors (e.g. general and group factor)
        lam = lam / np.sqrt(structure.pattern.sum(axis=1))[:, None]
    else:
        # cross-loadings start at zero: the item's first factor carries it
        lam = np.where(np.arange(m)[None, :] == main[:, None], lam, 0.0)
    # factor correlations start from the correlation of unit-weighted standardized sums
    weights = structure.pattern / sd[:, None]
    proxy = weights.T @ sample @ weights
    proxy_sd = np.sqrt(np.diag(proxy))
    phi = proxy / np.outer(proxy_sd, proxy_sd)
    res = np.diag(np.maximum(1.0 - std_main**2, 0.1) * sd**2)
    return structure.pack(lam * sd[:, None], phi, res)


def _orient(unit: _Structure, theta: np.ndarray) -> np.ndarray:
    """Reflect factors so that each one's loadings sum to a non-negative value.

    With unit factor variances a factor and its mirror image (all its loadings and
    covariances negated) fit equally well; the sign the iterations end at is an accident
    of the start values, so one is chosen by a rule instead.
    """
    lam, phi, res = unit.unpack(theta[: unit.n_free])
    flip = np.where(lam.sum(axis=0) < 0, -1.0, 1.0)
    if np.all(flip > 0):
        return theta
    return np.concatenate([unit.pack(lam * flip[None, :], phi * np.outer(flip, flip), res),
                           theta[unit.n_free:]])


def _to_markers(unit: _Structure, theta: np.ndarray, structure: _Structure) -> np.ndarray:
    """Re-express a unit-variance solution with marker loadings fixed to 1."""
    lam, phi, res = unit.unpack(theta[: unit.n_free])
    scale = lam[structure.markers, np.arange(structure.n_factors)]
    tiny = np.abs(scale) < 1e-8 * np.sqrt(np.diag(unit.implied(theta[: unit.n_free])))[structure.markers]
    if np.any(tiny):
        k = int(np.flatnonzero(tiny)[0])
        raise EstimationError(
            f"the marker item {structure.items[structure.markers[k]]!r} of factor "
            f"{structure.factors[k]!r} has a loading of about 0, so it cannot set the factor's "
            "scale; list another item first for that factor")
    # trailing entries (FIML means) are not part of the factor structure
    return np.concatenate([structure.pack(lam / scale[None, :], phi * np.outer(scale, scale), res),
                           theta[unit.n_free:]])


class _Objective:
    """Discrepancy function, gradient and expected Hessian of one estimator.

    ``value`` is lavaan's ``fmin``: half the ML discrepancy, or half the weighted sum of
    squared correlation residuals, so that the test statistic is ``2 N fmin``.
    """

    def __init__(self, structure: _Structure, sample: np.ndarray, weights: np.ndarray | None):
        self.structure = structure
        self.sample = sample
        self.weights = weights
        p = structure.n_items
        self.rows, self.cols = np.tril_indices(p, -1 if structure.ordinal else 0)
        if not structure.ordinal:
            self.logdet_sample = np.linalg.slogdet(sample)[1]

    def value(self, theta: np.ndarray) -> float:
        sigma = self.structure.implied(theta)
        if self.structure.ordinal:
            resid = (self.sample - sigma)[self.rows, self.cols]
            return 0.5 * float(np.sum(self.weights * resid * resid))
        sign, logdet = np.linalg.slogdet(sigma)
        if sign <= 0:
            return np.inf
        p = sigma.shape[0]
        trace = float(np.trace(np.linalg.solve(sigma, self.sample)))
        return 0.5 * (logdet + trace - self.logdet_sample - p)

    def gradient_information(self, theta: np.ndarray, extra: Sequence[tuple[str, int, int]] = ()
                             ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient of fmin and its expected Hessian (free then ``extra`` parameters)."""
        sigma = self.structure.implied(theta)
        x, y = self.structure.derivatives(theta, extra)
        if self.structure.ordinal:
            delta = self._delta(x, y)
            resid = (self.sample - sigma)[self.rows, self.cols]
            wd = delta * self.weights[:, None]
            return -wd.T @ resid, delta.T @ wd
        inv = np.linalg.inv(sigma)
        g_mat = inv @ (sigma - self.sample) @ inv
        # 0.5 tr(G dSigma_k) and 0.5 tr(V dSigma_k V dSigma_l) for dSigma = x y' + y x'
        grad = np.sum(x * (g_mat @ y), axis=0)
        vx, vy = inv @ x, inv @ y
        info = (x.T @ vx) * (y.T @ vy) + (x.T @ vy) * (y.T @ vx)
        return grad, info

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        return self.gradient_information(theta)[0]

    def score_blocks(self, theta: np.ndarray, extra: Sequence[tuple[str, int, int]]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For score tests of the fixed parameters ``extra``: their gradient, the free x
        free and extra x free blocks of the information, and its extra diagonal."""
        grad, info = self.gradient_information(theta, extra)
        q = self.structure.n_free
        return grad[q:], info[:q, :q], info[q:, :q], np.diag(info[q:, q:])

    def _delta(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r, c = self.rows, self.cols
        return x[r] * y[c] + y[r] * x[c]

    def delta(self, theta: np.ndarray) -> np.ndarray:
        return self._delta(*self.structure.derivatives(theta))


def _scatter(shape: tuple[int, ...], index: tuple[np.ndarray, ...], values: np.ndarray) -> np.ndarray:
    """Sum ``values`` into a zero array of ``shape`` at (possibly repeated) ``index``."""
    flat = np.ravel_multi_index(tuple(np.broadcast_arrays(*index)), shape)
    return np.bincount(flat.ravel(), weights=values.ravel(), minlength=int(np.prod(shape))).reshape(shape)


@dataclass(frozen=True)
class _PatternGroup:
    """Missing-data patterns with the same number k of answered items, stacked."""

    answered: np.ndarray  # G x k item indices
    unanswered: np.ndarray  # G x (p - k) item indices
    counts: np.ndarray  # G respondents per pattern
    means: np.ndarray  # G x k pattern means
    covariances: np.ndarray  # G x k x k pattern covariances (divisor n_g)

    def block(self, sigma: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return sigma[rows[:, :, None], cols[:, None, :]]


@dataclass(frozen=True)
class _Patterns:
    """Respondents grouped by which items they answered (full-information ML).

    Patterns are stacked by their number of answered items, so that every computation is
    a batched matrix operation over patterns rather than a loop over respondents.
    """

    groups: list[_PatternGroup]
    n_persons: int
    n_items: int

    @classmethod
    def from_values(cls, values: np.ndarray) -> "_Patterns":
        n, p = values.shape
        mask = ~np.isnan(values)
        keys, inverse = np.unique(mask, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        counts = np.bincount(inverse, minlength=len(keys)).astype(np.float64)
        filled = np.where(mask, values, 0.0)
        g = len(keys)
        # per-pattern sums and cross-products (missing cells contribute zero), one
        # weighted count per item or item pair over all respondents at once
        sums = np.column_stack([np.bincount(inverse, weights=filled[:, a], minlength=g) for a in range(p)])
        cross = np.zeros((g, p, p))
        for a in range(p):
            for b in range(a + 1):
                cross[:, a, b] = cross[:, b, a] = np.bincount(inverse, weights=filled[:, a] * filled[:, b],
                                                              minlength=g)
        means_all = sums / counts[:, None]
        n_answered = keys.sum(axis=1)
        groups = []
        for k in np.unique(n_answered):
            members = np.flatnonzero(n_answered == k)
            answered = np.array([np.flatnonzero(keys[g]) for g in members], dtype=np.int64).reshape(len(members), k)
            unanswered = np.array([np.flatnonzero(~keys[g]) for g in members],
                                  dtype=np.int64).reshape(len(members), p - k)
            n_g = counts[members]
            mean = np.take_along_axis(means_all[members], answered, axis=1)
            second = cross[members][np.arange(len(members))[:, None, None], answered[:, :, None],
                                    answered[:, None, :]] / n_g[:, None, None]
            groups.append(_PatternGroup(answered, unanswered, n_g, mean,
                                        second - mean[:, :, None] * mean[:, None, :]))
        return cls(groups, n, p)

    def loglik(self, mu: np.ndarray, sigma: np.ndarray) -> float:
        """Normal log-likelihood of all respondents (their answered items only)."""
        total = 0.0
        for grp in self.groups:
            sub = grp.block(sigma, grp.answered, grp.answered)
            sign, logdet = np.linalg.slogdet(sub)
            if np.any(sign <= 0):
                return -np.inf
            diff = grp.means - mu[grp.answered]
            moment = grp.covariances + diff[:, :, None] * diff[:, None, :]
            trace = np.einsum("gii->g", np.linalg.solve(sub, moment))
            k = grp.answered.shape[1]
            total -= 0.5 * float(np.sum(grp.counts * (k * np.log(2 * np.pi) + logdet + trace)))
        return total

    def saturated(self, max_iter: int = 10_000, tol: float = 1e-11) -> tuple[np.ndarray, np.ndarray, bool]:
        """Unrestricted means and covariance matrix by EM (the H1 model of FIML)."""
        p, n = self.n_items, self.n_persons
        sums, squares, answered = np.zeros(p), np.zeros(p), np.zeros(p)
        for grp in self.groups:
            w = grp.counts[:, None]
            sums += _scatter((p,), (grp.answered,), w * grp.means)
            squares += _scatter((p,), (grp.answered,),
                                w * (np.einsum("gii->gi", grp.covariances) + grp.means**2))
            answered += _scatter((p,), (grp.answered,), np.broadcast_to(w, grp.means.shape))
        mu = sums / answered
        sigma = np.diag(squares / answered - mu**2)
        scale = np.sqrt(np.diag(sigma))
        for _ in range(max_iter):
            first, second = np.zeros(p), np.zeros((p, p))
            for grp in self.groups:
                o, m, w = grp.answered, grp.unanswered, grp.counts
                sum_o = w[:, None] * grp.means
                cross_o = w[:, None, None] * (grp.covariances + grp.means[:, :, None] * grp.means[:, None, :])
                first += _scatter((p,), (o,), sum_o)
                second += _scatter((p, p), (o[:, :, None], o[:, None, :]), cross_o)
                if m.shape[1] == 0:
                    continue
                # E-step: x_m | x_o is normal with mean c + B x_o and covariance cond
                s_om = grp.block(sigma, o, m)
                b = np.linalg.solve(grp.block(sigma, o, o), s_om).transpose(0, 2, 1)
                c = mu[m] - np.einsum("gmk,gk->gm", b, mu[o])
                cond = grp.block(sigma, m, m) - b @ s_om
                b_sum = np.einsum("gmk,gk->gm", b, sum_o)
                first += _scatter((p,), (m,), w[:, None] * c + b_sum)
                cross_om = sum_o[:, :, None] * c[:, None, :] + cross_o @ b.transpose(0, 2, 1)
                second += _scatter((p, p), (o[:, :, None], m[:, None, :]), cross_om)
                second += _scatter((p, p), (m[:, :, None], o[:, None, :]), cross_om.transpose(0, 2, 1))
                cross_mm = (w[:, None, None] * (c[:, :, None] * c[:, None, :] + cond)
                            + c[:, :, None] * b_sum[:, None, :] + b_sum[:, :, None] * c[:, None, :]
                            + b @ cross_o @ b.transpose(0, 2, 1))
                second += _scatter((p, p), (m[:, :, None], m[:, None, :]), cross_mm)
            new_mu = first / n
            new_sigma = second / n - np.outer(new_mu, new_mu)
            change = max(np.max(np.abs(new_mu - mu) / scale),
                         np.max(np.abs(new_sigma - sigma) / np.outer(scale, scale)))
            mu, sigma = new_mu, (new_sigma + new_sigma.T) / 2.0
            if change < tol:
                return mu, sigma, True
        return mu, sigma, False


class _FimlObjective:
    """Full-information ML: minus the log-likelihood over N (constants dropped), over the
    structural parameters followed by the p item means."""

    def __init__(self, structure: _Structure, patterns: _Patterns):
        self.structure = structure
        self.patterns = patterns
        self.q = structure.n_free

    def value(self, theta: np.ndarray) -> float:
        sigma = self.structure.implied(theta[: self.q])
        mu = theta[self.q:]
        total = 0.0
        for grp in self.patterns.groups:
            sub = grp.block(sigma, grp.answered, grp.answered)
            sign, logdet = np.linalg.slogdet(sub)
            if np.any(sign <= 0):
                return np.inf
            diff = grp.means - mu[grp.answered]
            moment = grp.covariances + diff[:, :, None] * diff[:, None, :]
            total += float(np.sum(grp.counts * (logdet + np.einsum("gii->g", np.linalg.solve(sub, moment)))))
        return 0.5 * total / self.patterns.n_persons

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        return self.gradient_information(theta, with_information=False)[0]

    def score_blocks(self, theta: np.ndarray, extra: Sequence[tuple[str, int, int]]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """As :meth:`_Objective.score_blocks`. Means are orthogonal to the covariance
        structure in the expected information, so they drop out. Only the blocks a score
        test needs are formed (not extra x extra), which keeps this linear in the number of
        candidate parameters."""
        structure, q = self.structure, self.q
        p = structure.n_items
        sigma = structure.implied(theta[:q])
        mu = theta[q:]
        x, y = structure.derivatives(theta[:q], extra)
        n_all = x.shape[1]
        # info(a, b) = sum_g n_g x_a' A_bg y_a / N with A_bg = V dSigma_b V (pattern block of
        # V = Sigma_oo^-1): accumulate B_b = sum_g n_g A_bg once per free parameter b, then
        # every candidate a costs one quadratic form instead of a pass over the patterns.
        b_sum = np.zeros((p, p, q))
        g_sum = np.zeros((p, p))
        diag = np.zeros(n_all)
        for grp in self.patterns.groups:
            o, w = grp.answered, grp.counts
            k = o.shape[1]
            inv = np.linalg.inv(grp.block(sigma, o, o))
            diff = grp.means - mu[o]
            moment = grp.covariances + diff[:, :, None] * diff[:, None, :]
            g_sum += _scatter((p, p), (o[:, :, None], o[:, None, :]),
                              w[:, None, None] * (inv - inv @ moment @ inv))
            chunk = max(1, 2_000_000 // max(k * max(k * q, n_all), 1))
            for start in range(0, len(w), chunk):
                part = slice(start, start + chunk)
                op, wp = o[part], w[part]
                xo, yo = x[op], y[op]
                vx, vy = inv[part] @ xo, inv[part] @ yo
                vxf, vyf = vx[:, :, :q], vy[:, :, :q]
                a_mat = vxf[:, :, None, :] * vyf[:, None, :, :]
                a_mat = a_mat + a_mat.transpose(0, 2, 1, 3)
                b_sum += _scatter((p, p, q), (op[:, :, None, None], op[:, None, :, None],
                                              np.arange(q)[None, None, None, :]),
                                  wp[:, None, None, None] * a_mat)
                dxx, dyy, dxy = (xo * vx).sum(axis=1), (yo * vy).sum(axis=1), (xo * vy).sum(axis=1)
                diag += wp @ (dxx * dyy + dxy * dxy)
        n = self.patterns.n_persons
        grad = np.sum(x * (g_sum @ y), axis=0) / n
        cross = np.einsum("pa,pqb,qa->ab", x, b_sum, y) / n
        return grad[q:], cross[:q], cross[q:], diag[q:] / n

    def gradient_information(self, theta: np.ndarray, extra: Sequence[tuple[str, int, int]] = (),
                             with_information: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and expected information; with ``extra``, structural parameters only
        (means and covariance structure are orthogonal in the expected information)."""
        structure = self.structure
        p = structure.n_items
        sigma = structure.implied(theta[: self.q])
        mu = theta[self.q:]
        x, y = structure.derivatives(theta[: self.q], extra)
        n_par = x.shape[1]
        g_sum = np.zeros((p, p))
        grad_mu = np.zeros(p)
        info_cov = np.zeros((n_par, n_par))
        info_mu = np.zeros((p, p))
        # keep the G x parameters x parameters intermediates to a few million numbers
        chunk = max(1, 2_000_000 // max(n_par * n_par, 1))
        for grp in self.patterns.groups:
            o, w = grp.answered, grp.counts
            inv = np.linalg.inv(grp.block(sigma, o, o))
            diff = grp.means - mu[o]
            moment = grp.covariances + diff[:, :, None] * diff[:, None, :]
            pair = (o[:, :, None], o[:, None, :])
            g_sum += _scatter((p, p), pair, w[:, None, None] * (inv - inv @ moment @ inv))
            grad_mu -= _scatter((p,), (o,), w[:, None] * np.einsum("gij,gj->gi", inv, diff))
            if not with_information:
                continue
            info_mu += _scatter((p, p), pair, w[:, None, None] * inv)
            for start in range(0, len(w), chunk):
                part = slice(start, start + chunk)
                xo, yo = x[o[part]], y[o[part]]
                xt, yt = xo.transpose(0, 2, 1), yo.transpose(0, 2, 1)
                vx, vy = inv[part] @ xo, inv[part] @ yo
                xvy = xt @ vy
                terms = (xt @ vx) * (yt @ vy) + xvy * xvy.transpose(0, 2, 1)
                info_cov += (w[part] @ terms.reshape(len(terms), -1)).reshape(n_par, n_par)
        n = self.patterns.n_persons
        grad_cov = np.sum(x * (g_sum @ y), axis=0) / n
        if len(extra):
            return grad_cov, info_cov / n
        info = np.zeros((n_par + p, n_par + p))
        info[:n_par, :n_par] = info_cov / n
        info[n_par:, n_par:] = info_mu / n
        return np.concatenate([grad_cov, grad_mu / n]), info


def _observed_information(objective: Any, theta: np.ndarray) -> np.ndarray:
    """Hessian of the discrepancy by central differences of its analytic gradient."""
    _, expected = objective.gradient_information(theta)
    diag = np.abs(np.diag(expected))
    unit = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 1.0)
    hessian = np.empty_like(expected)
    for i in range(theta.size):
        h = 1e-5 * unit[i]
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        hessian[:, i] = (objective.gradient(up) - objective.gradient(down)) / (2.0 * h)
    return (hessian + hessian.T) / 2.0


def _solve(info: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """info^-1 grad, scaled to unit diagonal first (parameters may differ by many orders
    of magnitude, e.g. variances of raw scores next to loadings)."""
    diag = np.diag(info)
    scale = np.sqrt(np.where(diag > 0, diag, 1.0))
    scaled = info / np.outer(scale, scale)
    return np.linalg.lstsq(scaled, grad / scale, rcond=None)[0] / scale


def _minimize(objective: _Objective, theta: np.ndarray, max_iter: int, tol: float
              ) -> tuple[np.ndarray, bool, int]:
    """Fisher scoring (ML) / Gauss-Newton (least squares) with step halving.

    Convergence is judged by g' I^-1 g (twice the predicted decrease of the discrepancy),
    which does not depend on the units of the items or of the parameters.
    """
    value = objective.value(theta)
    for iteration in range(1, max_iter + 1):
        grad, info = objective.gradient_information(theta)
        # least squares copes with a singular information matrix (an unidentified model,
        # reported after the loop, or a degenerate point on the way)
        step = _solve(info, grad)
        decrement = float(grad @ step)
        if decrement < tol:
            return theta, True, iteration - 1
        scale = 1.0
        for _ in range(40):
            candidate = theta - scale * step
            new_value = objective.value(candidate)
            if np.isfinite(new_value) and new_value <= value + 1e-14 * abs(value):
                break
            scale *= 0.5
        else:
            # no downhill step left: rounding, not the model, limits further progress
            return theta, decrement < 1e4 * tol, iteration
        theta, value = candidate, new_value
    grad, info = objective.gradient_information(theta)
    decrement = float(grad @ _solve(info, grad))
    return theta, decrement < tol, max_iter


def _null_direction(info: np.ndarray) -> int | None:
    """Index of the parameter most involved in a (near) singularity of the information
    matrix, or None when it is nonsingular. The matrix is scaled to unit diagonal first,
    so that the units of the parameters do not matter."""
    diag = np.abs(np.diag(info))
    if np.any(diag == 0):
        return int(np.argmin(diag))
    eigval, eigvec = np.linalg.eigh(info / np.sqrt(np.outer(diag, diag)))
    smallest = int(np.argmin(np.abs(eigval)))
    if abs(eigval[smallest]) <= 1e-10 * np.max(np.abs(eigval)):
        return int(np.argmax(np.abs(eigvec[:, smallest])))
    return None


def _label(structure: _Structure, index: int) -> tuple[str, str, str]:
    """(lhs, op, rhs) of a parameter; FIML means follow the structural parameters."""
    labels = structure.labels()
    if index < len(labels):
        return labels[index]
    return (structure.items[index - len(labels)], "~1", "")


def _check_identified(structure: _Structure, objective: _Objective, theta: np.ndarray) -> None:
    """Raise unless the model is locally identified at a generic point near ``theta``.

    A model is identified where the Jacobian of the implied moments has full column rank,
    i.e. where the information matrix is nonsingular. That rank is the same at almost
    every parameter value, so it is checked at a random perturbation of the start values:
    a deficiency there is structural, not an accident of the data.
    """
    rng = np.random.default_rng(20261126)
    # steps in each parameter's own units: a fraction of its value, plus a fraction of
    # 1/sqrt(information) so that parameters starting at zero move too
    diag = np.abs(np.diag(objective.gradient_information(theta)[1]))
    unit = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 0.0)
    point = theta * (1.0 + 0.1 * rng.uniform(-1.0, 1.0, theta.size)) \
        + 0.1 * unit * rng.uniform(-1.0, 1.0, theta.size)
    worst = _null_direction(objective.gradient_information(point)[1])
    if worst is not None:
        lhs, op, rhs = _label(structure, worst)
        raise EstimationError(
            "model not identified: the implied moments do not determine all parameters; "
            f"'{lhs} {op} {rhs}' (among others) cannot be separated from the rest. "
            "Fix or remove parameters, or add items")


# --------------------------------------------------------------------------- fit statistics


def _scaled_shifted(delta: np.ndarray | None, weights: np.ndarray, gamma: np.ndarray, df: int
                    ) -> tuple[float, float]:
    r"""Scale ``a`` and shift ``b`` of Asparouhov & Muthen's T* = a T + b.

    With :math:`U = W - AMA^\top`, :math:`A = W\Delta`, :math:`M = (\Delta^\top W\Delta)^+` and
    :math:`B = \Gamma A`, the two traces need no product of two m x m matrices (m moments):
    :math:`\operatorname{tr}(U\Gamma) = \sum_k w_k\Gamma_{kk} - \operatorname{tr}(MA^\top B)` and
    :math:`\operatorname{tr}[(U\Gamma)^2] = \sum_{kl} w_k w_l \Gamma_{kl}^2
    - 2\operatorname{tr}(M B^\top W B) + \operatorname{tr}[(MA^\top B)^2]`.
    """
    trace1 = float(weights @ np.diag(gamma))
    weighted = gamma * weights[None, :]
    trace2 = float(np.sum(weighted * weighted.T))
    if delta is not None and delta.shape[1] > 0:
        a_mat = delta * weights[:, None]
        m_mat = np.linalg.pinv(delta.T @ a_mat, hermitian=True)
        b_mat = gamma @ a_mat
        mab = m_mat @ (a_mat.T @ b_mat)
        trace1 -= float(np.trace(mab))
        trace2 += float(np.sum(mab * mab.T)) - 2.0 * float(np.sum(m_mat * (b_mat.T @ (b_mat * weights[:, None]))))
    a = np.sqrt(df / trace2) if trace2 > 0 else np.nan
    return float(a), float(df - a * trace1)


# --------------------------------------------------------------------------- public verb


@one_blas_thread
def cfa(responses: Any, model: Mapping[str, Sequence[str]],
        estimator: Literal["ml", "dwls", "uls"] = "ml", *,
        correlated_residuals: Iterable[Sequence[str]] | None = None,
        missing: Literal["listwise", "fiml"] = "listwise",
        information: Literal["expected", "observed"] | None = None,
        orthogonal: bool = False, std_lv: bool = False,
        max_iter: int = 500, tol: float = 1e-12) -> CFAResult:
    r"""Fit a confirmatory factor model.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN for missing. Columns not named in ``model`` are ignored.
    model : mapping
        ``{"factor": [item, ...], ...}``. The first item of a factor is its marker
        (loading fixed to 1) unless ``std_lv``; an item listed under two factors
        cross-loads. Factors covary freely unless ``orthogonal``. A bifactor model is
        ``{"g": all_items, "s1": [...], "s2": [...]}`` with ``orthogonal=True``.
    estimator : {"ml", "dwls", "uls"}
        ``"ml"``: maximum likelihood on the covariance matrix (continuous scores),
        listwise deletion. ``"dwls"`` / ``"uls"``: least squares on polychoric
        correlations with robust standard errors and the scaled-and-shifted test
        (lavaan's ``WLSMV`` / ``ULSMV``), pairwise deletion.
    correlated_residuals : iterable of (item, item), optional
        Residual covariances to free.
    missing : {"listwise", "fiml"}
        ML only. ``"listwise"`` drops incomplete rows (with a :class:`DataWarning`);
        ``"fiml"`` uses every answer by full-information ML with free item means
        (lavaan's ``missing = "ml"``). The ordinal estimators always use pairwise
        polychoric correlations.
    information : {"expected", "observed"}, optional
        Information matrix for ML standard errors. Default as lavaan: expected, observed
        under FIML. The ordinal estimators use the expected one (sandwich).
    orthogonal : bool, default False
        Fix all factor covariances at 0 (lavaan's ``orthogonal = TRUE``); needed to
        identify a bifactor model. Modification indices then include the factor
        covariances.
    std_lv : bool, default False
        Identify each factor by fixing its variance to 1 and freeing every loading
        (lavaan's ``std.lv = TRUE``) instead of by a marker item. The fit and the
        standardized solution are the same; the unstandardized estimates in
        ``parameters`` are then in standardized-factor units. A factor's sign is not
        identified this way: each factor is reflected so that its loadings sum to a
        non-negative value.
    max_iter : int
        Maximum Fisher-scoring / Gauss-Newton iterations.
    tol : float
        Convergence criterion on :math:`g^\top I^{-1} g` (gradient of the discrepancy
        function, expected information), twice the decrease a further step would bring.

    Returns
    -------
    CFAResult

    Raises
    ------
    InstrumentError
        The model names an unknown item, lists an item twice, or is malformed.
    EstimationError
        The model is not identified (negative degrees of freedom, a one-item factor,
        a singular information matrix).
    ResponseError
        Too few complete respondents, a constant item, or non-integer codes for an
        ordinal estimator.

    Warns
    -----
    ConvergenceWarning
        The iterations stopped before convergence (``converged`` is False).
    DataWarning
        Rows were dropped (listwise deletion under ML; rows without any answer).
    ModelWarning
        A negative residual variance or a factor correlation beyond +/-1 (Heywood case).

    Notes
    -----
    With :math:`\Sigma(\theta) = \Lambda\Phi\Lambda^\top + \Theta`, ML minimizes

    .. math:: F_{ML} = \log|\Sigma| + \operatorname{tr}(S\Sigma^{-1}) - \log|S| - p,

    with :math:`S` the covariance matrix with divisor :math:`N`; :math:`T = N F_{ML}`.
    The ordinal estimators minimize :math:`F = (r - \rho(\theta))^\top W (r - \rho(\theta))`
    over the :math:`p(p-1)/2` polychoric correlations :math:`r`, with
    :math:`W = \operatorname{diag}(\Gamma)^{-1}` (DWLS) or :math:`I` (ULS), :math:`\Gamma`
    the asymptotic covariance of :math:`\sqrt N r` (Muthen, 1984), and :math:`T = (N-1) F`
    (lavaan 0.6 uses :math:`N - 1` here, :math:`N` for ML).
    With :math:`U = W - W\Delta(\Delta^\top W\Delta)^{-1}\Delta^\top W`, the robust statistic
    is :math:`T^* = aT + b`, :math:`a = \sqrt{df/\operatorname{tr}[(U\Gamma)^2]}`,
    :math:`b = df - a\operatorname{tr}(U\Gamma)` [3]_; robust standard errors use the
    sandwich :math:`(\Delta^\top W\Delta)^{-1}\Delta^\top W\Gamma W\Delta(\Delta^\top W\Delta)^{-1}/(N-1)`.
    Thresholds are saturated and, with a diagonal :math:`W`, separate from the structural
    parameters, so only the correlation block of :math:`\Gamma` enters.

    FIML maximizes :math:`\ell = -\tfrac12\sum_i [p_i\log 2\pi + \log|\Sigma_{o_i}|
    + (x_{o_i} - \mu_{o_i})^\top\Sigma_{o_i}^{-1}(x_{o_i} - \mu_{o_i})]` over each respondent's
    answered items :math:`o_i`, computed per missing-data pattern [6]_; :math:`T = 2(\ell_1 - \ell)`
    against the unrestricted model fitted by EM, the baseline model has free means and
    variances, and SRMR then also averages the standardized mean residuals (as lavaan).

    CFI :math:`= 1 - \max(T-df,0)/\max(T_0-df_0, T-df, 0)`, TLI
    :math:`= (T_0/df_0 - T/df)/(T_0/df_0 - 1)`, RMSEA :math:`= \sqrt{\max(T-df,0)/(n\,df)}`
    with :math:`n = N` (ML) or :math:`N - 1` (ordinal estimators), as lavaan 0.6 does; the
    90% interval inverts the noncentral chi-square. SRMR is the root mean square of the
    residual correlations over the :math:`p(p+1)/2` elements of the lower triangle,
    diagonal included, as lavaan's ``srmr``. Standardized
    estimates and their standard errors use the delta method. Modification indices are
    score tests :math:`N d^2 / V` with :math:`d` the gradient of the discrepancy with
    respect to the fixed parameter and :math:`V` its expected-information variance given
    the free parameters [4]_.

    References
    ----------
    .. [1] Joreskog, K. G. (1969). A general approach to confirmatory maximum likelihood
           factor analysis. Psychometrika, 34, 183-202.
    .. [2] Muthen, B. (1984). A general structural equation model with dichotomous,
           ordered categorical, and continuous latent variable indicators.
           Psychometrika, 49, 115-132.
    .. [3] Asparouhov, T. & Muthen, B. (2010). Simple second order chi-square correction.
           Mplus technical appendix.
    .. [4] Sorbom, D. (1989). Model modification. Psychometrika, 54, 371-384.
    .. [5] Rosseel, Y. (2012). lavaan: An R package for structural equation modeling.
           Journal of Statistical Software, 48(2).
    .. [6] Arbuckle, J. L. (1996). Full information estimation in the presence of
           incomplete data. In Marcoulides & Schumacker (Eds.), Advanced structural
           equation modeling (pp. 243-277). Erlbaum.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> f = rng.standard_normal((400, 1))
    >>> x = pd.DataFrame(f * 0.7 + rng.standard_normal((400, 4)) * 0.7,
    ...                  columns=["a", "b", "c", "d"])
    >>> fit = cfa(x, {"g": ["a", "b", "c", "d"]})
    >>> fit.df
    2

    A bifactor model: a general factor on every item, group factors on subsets, all
    factors uncorrelated and scaled by their variances (with two group factors of three
    items it would not be identified, and raise).

    >>> g = rng.standard_normal((600, 1))
    >>> s = rng.standard_normal((600, 3))
    >>> y = pd.DataFrame(0.6 * g + 0.5 * np.repeat(s, 3, axis=1)
    ...                  + 0.6 * rng.standard_normal((600, 9)), columns=list("abcdefhij"))
    >>> model = {"g": list("abcdefhij"), "s1": ["a", "b", "c"], "s2": ["d", "e", "f"],
    ...          "s3": ["h", "i", "j"]}
    >>> bifactor = cfa(y, model, orthogonal=True, std_lv=True)
    >>> bifactor.df
    18
    """
    estimator = str(estimator).lower()
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter > 0):
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    ordinal = estimator != "ml"
    if missing not in ("listwise", "fiml"):
        raise ValueError(f"missing must be 'listwise' or 'fiml', got {missing!r}")
    if ordinal and missing != "listwise":
        raise ValueError(f"missing={missing!r} applies to estimator='ml'; the ordinal estimators "
                         "use pairwise polychoric correlations")
    fiml = missing == "fiml"
    if information is None:
        information = "observed" if fiml else "expected"
    if information not in ("expected", "observed") or (ordinal and information != "expected"):
        raise ValueError(f"information must be 'expected' or 'observed' ('expected' only for the "
                         f"ordinal estimators), got {information!r}")
    table = _as_table(responses)
    columns = table.item_ids if isinstance(table, Responses) else list(table.columns)
    if not isinstance(orthogonal, (bool, np.bool_)):
        raise TypeError(f"orthogonal must be True or False, got {orthogonal!r}")
    if not isinstance(std_lv, (bool, np.bool_)):
        raise TypeError(f"std_lv must be True or False, got {std_lv!r}")
    structure = _build_structure(model, columns, correlated_residuals, ordinal, bool(orthogonal))
    p = structure.n_items
    n_moments = p * (p - 1) // 2 if ordinal else p * (p + 1) // 2
    df = n_moments - structure.n_free
    if df < 0:
        raise EstimationError(f"model not identified: {structure.n_free} free parameters but only "
                              f"{n_moments} sample moments (df = {df}); remove parameters or add items")

    if ordinal:
        # only the model's items are validated: other columns may hold anything
        subset = (table.subset(structure.items) if isinstance(table, Responses)
                  else as_responses(table[structure.items]))
        n_total = subset.n_persons
        keep = subset.observed.any(axis=1)
        if not keep.all():
            subset = Responses(subset.frame[keep], subset.categories)
        n = subset.n_persons
        if n < 2:
            raise ResponseError(f"only {n} respondents answered any of the model's items")
        ordinal_stats = _ordinal_statistics(subset)
        sample = ordinal_stats.correlation
        gamma = ordinal_stats.gamma
        gamma_diag = np.diag(gamma)
        if np.any(gamma_diag <= 0):
            rows, cols = np.tril_indices(p, -1)
            bad = int(np.argmin(gamma_diag))
            raise EstimationError(
                f"the polychoric correlation of items {structure.items[rows[bad]]!r} and "
                f"{structure.items[cols[bad]]!r} has zero sampling variance (degenerate table); "
                "drop one of the items")
        weights = 1.0 / gamma_diag if estimator == "dwls" else np.ones(n_moments)
    else:
        frame = _continuous_scores(table, structure.items)
        n_total = frame.shape[0]
        # FIML uses every row with an answer; listwise deletion only complete rows
        keep = frame.notna().any(axis=1) if fiml else frame.notna().all(axis=1)
        frame = frame[keep.to_numpy()]
        n = frame.shape[0]
        if n < n_total:
            what = "no answer to any of the model's items" if fiml else (
                "missing responses on the model's items and were dropped (listwise deletion)")
            warnings.warn(f"{n_total - n} of {n_total} rows have {what}", DataWarning, stacklevel=2)
        if n <= p:
            raise ResponseError(f"{n} {'' if fiml else 'complete '}respondents for {p} items; ML needs "
                                "more respondents than items")
        values = frame.to_numpy(dtype=np.float64)
        if fiml:
            patterns = _Patterns.from_values(values)
            mu_h1, sample, em_converged = patterns.saturated()
            if not em_converged:
                warnings.warn("the EM algorithm for the unrestricted (H1) model did not converge; the "
                              "chi-square is approximate", ConvergenceWarning, stacklevel=2)
        else:
            centered = values - values.mean(axis=0)
            sample = centered.T @ centered / n
        constant = np.flatnonzero(np.diag(sample) <= 0)
        if constant.size:
            raise ResponseError(f"item {structure.items[constant[0]]!r} has zero variance among the "
                                f"{n} respondents used")
        if np.linalg.eigvalsh(sample / np.sqrt(np.outer(np.diag(sample), np.diag(sample))))[0] <= 1e-12:
            raise ResponseError("the sample covariance matrix of the model's items is singular "
                                "(linearly dependent items?)")
        weights = None
        gamma = None

    def objective_for(s: _Structure) -> Any:
        return _FimlObjective(s, patterns) if fiml else _Objective(s, sample, weights)

    # Iterate with unit factor variances (a marker with a weak loading makes the marker
    # parametrization ill-conditioned), then restate the solution with markers, which
    # has the same fit, to report lavaan's unstandardized estimates and standard errors.
    unit = structure.with_unit_variances()
    theta0 = _start_values(unit, sample)
    if fiml:
        theta0 = np.concatenate([theta0, mu_h1])
    if std_lv:
        # the unit-variance parametrization is the reported one: no markers to restate
        structure = unit
        objective = objective_for(unit)
        _check_identified(unit, objective, theta0)
        theta, converged, n_iter = _minimize(objective, theta0, max_iter, tol)
        theta = _orient(unit, theta)
    else:
        objective = objective_for(structure)
        _check_identified(structure, objective, _to_markers(unit, theta0, structure))
        theta, converged, n_iter = _minimize(objective_for(unit), theta0, max_iter, tol)
        theta, polished, extra_iter = _minimize(objective, _to_markers(unit, theta, structure),
                                                max_iter, tol)
        converged = converged or polished
        n_iter += extra_iter
    if not converged and not std_lv:
        # improper solutions (a negative factor variance) lie outside the unit-variance
        # parametrization; try the marker one from the start and keep the better fit
        retry, retry_converged, retry_iter = _minimize(objective, _to_markers(unit, theta0, structure),
                                                       max_iter, tol)
        n_iter += retry_iter
        if retry_converged or objective.value(retry) < objective.value(theta):
            theta, converged = retry, retry_converged
    if not converged:
        warnings.warn(f"CFA did not converge in {n_iter} iterations (convergence criterion above "
                      f"{tol:g}); estimates and fit statistics are unreliable", ConvergenceWarning,
                      stacklevel=2)
    fmin = objective.value(theta)
    _, info = objective.gradient_information(theta)
    if information == "observed":
        info = _observed_information(objective, theta)
    singular = _null_direction(info)
    if singular is not None:
        lhs, op, rhs = _label(structure, singular)
        warnings.warn(f"the information matrix is singular at the solution ('{lhs} {op} {rhs}' among "
                      "others is not determined by the data): the model is empirically "
                      "unidentified here and its standard errors are NaN", ModelWarning, stacklevel=2)
    q = structure.n_free
    full_theta = theta
    theta = theta[:q]
    sigma = structure.implied(theta)
    # lavaan's statistic for the least-squares estimators uses N - 1 (its sample
    # statistics' divisor); for ML it is N
    n_test = n - 1 if ordinal else n
    chi2 = 2.0 * n_test * fmin

    nan = float("nan")
    chi2_scaled = p_scaled = scaling = shift = base_scaled = nan
    cfi_scaled = tli_scaled = rmsea_scaled = nan
    aic = bic = loglik = nan
    means = None
    info_inv = np.full_like(info, np.nan) if singular is not None else np.linalg.inv(info)
    if ordinal:
        base_df = n_moments
        rows, cols = np.tril_indices(p, -1)
        base_chi2 = float(n_test * np.sum(weights * sample[rows, cols] ** 2))
        delta = objective.delta(theta)
        a, b = _scaled_shifted(delta, weights, gamma, df) if df > 0 else (nan, nan)
        a0, b0 = _scaled_shifted(None, weights, gamma, base_df)
        if df > 0:
            chi2_scaled = a * chi2 + b
            p_scaled = float(stats.chi2.sf(chi2_scaled, df))
            scaling, shift = 1.0 / a, b
        base_scaled = a0 * base_chi2 + b0
        p_value = float(stats.chi2.sf(chi2, df)) if (estimator == "dwls" and df > 0) else nan
        # lavaan's least-squares statistics use N - 1 in the RMSEA, ML uses N
        rmsea_n = n - 1
        wd = delta * weights[:, None]
        bread = info_inv
        vcov = bread @ (wd.T @ gamma @ wd) @ bread / n_test
        if df > 0:
            cfi_scaled, tli_scaled = cfi_tli(chi2_scaled, df, base_scaled, base_df)
            rmsea_scaled = rmsea(chi2_scaled, df, rmsea_n)
        srmr = _srmr(sample, sigma, ordinal)
    else:
        base_df = p * (p - 1) // 2
        rmsea_n = n
        vcov_full = info_inv / n
        vcov = vcov_full[:q, :q]
        n_par = q
        if fiml:
            # minus twice the log-likelihood ratio against the EM-fitted unrestricted model
            n_par = q + p
            loglik_h1 = patterns.loglik(mu_h1, sample)
            loglik = patterns.loglik(full_theta[q:], sigma)
            chi2 = 2.0 * (loglik_h1 - loglik)
            # independence model: each item's own mean and variance from its answers
            independent_mu = np.array([np.nanmean(col) for col in values.T])
            independent_var = np.array([np.nanvar(col) for col in values.T])
            base_chi2 = 2.0 * (loglik_h1 - patterns.loglik(independent_mu, np.diag(independent_var)))
            means = (full_theta[q:], np.sqrt(np.clip(np.diag(vcov_full)[q:], 0.0, None)))
            srmr = _srmr(sample, sigma, False, mu_h1 - full_theta[q:])
        else:
            base_chi2 = float(n * (np.sum(np.log(np.diag(sample))) - objective.logdet_sample))
            loglik = float(-0.5 * n * (p * np.log(2 * np.pi) + np.linalg.slogdet(sigma)[1]
                                       + np.trace(np.linalg.solve(sigma, sample))))
            srmr = _srmr(sample, sigma, ordinal)
        p_value = float(stats.chi2.sf(chi2, df)) if df > 0 else nan
        aic = -2.0 * loglik + 2.0 * n_par
        bic = -2.0 * loglik + n_par * np.log(n)
    cfi, tli = cfi_tli(chi2, df, base_chi2, base_df)
    rmsea_value = rmsea(chi2, df, rmsea_n)
    rmsea_ci = rmsea_interval(chi2, df, rmsea_n)

    return _assemble(structure, estimator, full_theta, vcov, sample, sigma, objective, means, n,
                     n_total - n, dict(
                         chi2=float(chi2), df=int(df), p=p_value, chi2_scaled=float(chi2_scaled),
                         p_scaled=float(p_scaled), scaling_factor=float(scaling), shift=float(shift),
                         baseline_chi2=float(base_chi2), baseline_df=int(base_df),
                         baseline_chi2_scaled=float(base_scaled), cfi=cfi, tli=tli, rmsea=rmsea_value,
                         rmsea_ci=rmsea_ci, srmr=srmr, cfi_scaled=float(cfi_scaled),
                         tli_scaled=float(tli_scaled), rmsea_scaled=float(rmsea_scaled),
                         aic=float(aic), bic=float(bic), loglik=float(loglik),
                         converged=bool(converged), n_iterations=int(n_iter),
                         missing="pairwise" if ordinal else missing),
                     ordinal_stats.thresholds if ordinal else None)


def _srmr(sample: np.ndarray, sigma: np.ndarray, ordinal: bool,
          mean_residuals: np.ndarray | None = None) -> float:
    p = sample.shape[0]
    if ordinal:
        # lavaan averages over p(p+1)/2 elements, the (zero) diagonal residuals included
        return srmr(sample - sigma, diagonal=True)
    sd = np.sqrt(np.diag(sample))
    resid = (sample - sigma) / np.outer(sd, sd)
    rows, cols = np.tril_indices(p)
    squares = resid[rows, cols] ** 2
    if mean_residuals is not None:
        # with a mean structure (FIML) lavaan averages the standardized mean residuals in too
        squares = np.concatenate([squares, (mean_residuals / sd) ** 2])
    return float(np.sqrt(np.mean(squares)))


def _standardized(structure: _Structure, theta: np.ndarray) -> np.ndarray:
    """Standardized value of every free parameter (lavaan's std.all)."""
    lam, phi, res = structure.unpack(theta)
    sigma = lam @ phi @ lam.T + res
    if structure.ordinal:
        sigma_diag = np.ones(structure.n_items)
        res_diag = 1.0 - np.diag(lam @ phi @ lam.T)
    else:
        sigma_diag = np.diag(sigma)
        res_diag = np.diag(res)
    fsd = np.sqrt(np.abs(np.diag(phi)))
    out = [lam[j, k] * fsd[k] / np.sqrt(abs(sigma_diag[j])) for j, k in structure.free_loadings]
    out += [phi[k, ell] / (fsd[k] * fsd[ell]) for k, ell in structure._phi_index()]
    if not structure.ordinal:
        out += list(res_diag / sigma_diag)
    out += [res[j, k] / np.sqrt(np.abs(res_diag[j] * res_diag[k])) for j, k in structure.residual_pairs]
    return np.asarray(out)


def _standardized_all(structure: _Structure, theta: np.ndarray) -> np.ndarray:
    """Standardized loadings (all, markers included), then factor correlations, residual variances."""
    lam, phi, res = structure.unpack(theta)
    common = np.diag(lam @ phi @ lam.T)
    total = np.ones(structure.n_items) if structure.ordinal else common + np.diag(res)
    fsd = np.sqrt(np.abs(np.diag(phi)))
    std_lam = lam * fsd[None, :] / np.sqrt(np.abs(total))[:, None]
    corr = phi / np.outer(fsd, fsd)
    resid = 1.0 - common / total
    return np.concatenate([std_lam.ravel(), corr.ravel(), resid])


def _jacobian(fun: Any, theta: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Central differences; steps follow each parameter's size or standard error, so
    that parameters in tiny or huge units get sensible steps."""
    base = fun(theta)
    jac = np.empty((base.size, theta.size))
    for i in range(theta.size):
        size = max(abs(theta[i]), spread[i])
        h = 1e-5 * size if size > 0 else 1e-8
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        jac[:, i] = (fun(up) - fun(down)) / (2 * h)
    return jac


def _assemble(structure: _Structure, estimator: str, full_theta: np.ndarray, vcov: np.ndarray,
              sample: np.ndarray, sigma: np.ndarray, objective: Any,
              means: tuple[np.ndarray, np.ndarray] | None, n: int, n_dropped: int,
              fit: dict[str, Any], thresholds: list[np.ndarray] | None) -> CFAResult:
    items, factors = structure.items, structure.factors
    theta = full_theta[: structure.n_free]
    p, m = structure.n_items, structure.n_factors
    se = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    std = _standardized(structure, theta)
    jac = _jacobian(lambda t: _standardized(structure, t), theta, se)
    std_se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, vcov, jac), 0.0, None))
    labels = structure.labels()
    # standardized factor variances are 1 by construction; drop finite-difference noise
    std_se[[i for i, (lhs, op, rhs) in enumerate(labels) if op == "~~" and lhs == rhs
            and lhs in factors]] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, theta / np.where(se > 0, se, 1.0), np.nan)
    table = pd.DataFrame(labels, columns=["lhs", "op", "rhs"])
    table["free"] = True
    table["est"], table["se"] = theta, se
    table["z"] = z
    table["p"] = np.where(np.isfinite(z), 2.0 * stats.norm.sf(np.abs(np.nan_to_num(z))), np.nan)
    table["est_std"], table["se_std"] = std, std_se
    all_std = _standardized_all(structure, theta)
    all_jac = _jacobian(lambda t: _standardized_all(structure, t), theta, se)
    all_se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", all_jac, vcov, all_jac), 0.0, None))
    std_lam = all_std[: p * m].reshape(p, m)
    std_lam_se = all_se[: p * m].reshape(p, m)
    if not structure.unit_variance:
        markers = pd.DataFrame({"lhs": factors, "op": "=~", "rhs": [items[j] for j in structure.markers],
                                "free": False, "est": 1.0, "se": 0.0, "z": np.nan, "p": np.nan,
                                "est_std": std_lam[structure.markers, np.arange(m)],
                                "se_std": std_lam_se[structure.markers, np.arange(m)]})
        table = pd.concat([markers, table], ignore_index=True)
    # loadings factor by factor in model order, then the (co)variances
    factor_pos = {f: i for i, f in enumerate(factors)}
    item_pos = {item: i for i, item in enumerate(items)}
    is_loading = table["op"] == "=~"
    key = np.where(is_loading, table["lhs"].map(factor_pos).fillna(0) * (p + 1)
                   + table["rhs"].map(item_pos).fillna(0), np.inf)
    table = table.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    if means is not None:
        est, se_mean = means
        with np.errstate(divide="ignore", invalid="ignore"):
            z_mean = np.where(se_mean > 0, est / np.where(se_mean > 0, se_mean, 1.0), np.nan)
        intercepts = pd.DataFrame({
            "lhs": items, "op": "~1", "rhs": "", "free": True, "est": est, "se": se_mean, "z": z_mean,
            "p": np.where(np.isfinite(z_mean), 2.0 * stats.norm.sf(np.abs(np.nan_to_num(z_mean))), np.nan),
            "est_std": est / np.sqrt(np.diag(sigma)), "se_std": np.nan})
        table = pd.concat([table, intercepts], ignore_index=True)

    loadings = pd.DataFrame(np.where(structure.pattern, std_lam, 0.0), index=items, columns=factors)
    loadings_se = pd.DataFrame(np.where(structure.pattern, std_lam_se, np.nan), index=items,
                               columns=factors)
    corr = all_std[p * m: p * m + m * m].reshape(m, m)
    corr_se = all_se[p * m: p * m + m * m].reshape(m, m).copy()
    corr_se[np.diag_indices(m)] = 0.0
    factor_corr = pd.DataFrame(corr, index=factors, columns=factors)
    factor_corr_se = pd.DataFrame(corr_se, index=factors, columns=factors)
    residual = pd.Series(all_std[p * m + m * m:], index=items, name="residual_variance")

    lam, phi, res = structure.unpack(theta)
    heywood = [items[j] for j in range(p) if residual.iloc[j] < 0]
    if heywood:
        warnings.warn(f"negative residual variance for {heywood} (Heywood case); the model may be "
                      "misspecified or the sample too small", ModelWarning, stacklevel=3)
    off = np.abs(corr[np.triu_indices(m, 1)])
    if np.any(off > 1.0) or np.any(np.diag(phi) <= 0):
        warnings.warn("a factor variance is not positive or a factor correlation exceeds 1 in "
                      "absolute value; the solution is improper", ModelWarning, stacklevel=3)


    label = "covariance" if estimator == "ml" else "correlation"
    return CFAResult(
        estimator=estimator, n_persons=int(n), n_dropped=int(n_dropped),
        loadings=loadings, loadings_se=loadings_se, factor_correlations=factor_corr,
        factor_correlations_se=factor_corr_se, residual_variances=residual, parameters=table,
        _score_tests=_ScoreTests(structure, full_theta, objective, n),
        implied=pd.DataFrame(sigma, index=items, columns=items).rename_axis(label),
        sample=pd.DataFrame(sample, index=items, columns=items).rename_axis(label),
        thresholds={} if thresholds is None else dict(zip(items, thresholds)),
        **fit)


@dataclass(frozen=True)
class _ScoreTests:
    """What the modification indices need, kept so they are computed only when asked for
    (a plain object rather than a closure, so that results can be pickled)."""

    structure: _Structure
    theta: np.ndarray
    objective: Any
    n: int

    def __call__(self) -> pd.DataFrame:
        return _modification_indices(self.structure, self.theta, self.objective, self.n)


def _modification_indices(structure: _Structure, theta: np.ndarray, objective: Any,
                          n: int) -> pd.DataFrame:
    p, m = structure.n_items, structure.n_factors
    candidates: list[tuple[str, int, int]] = []
    for k in range(m):
        for j in range(p):
            if not structure.pattern[j, k]:
                candidates.append(("load", j, k))
    if structure.orthogonal:
        candidates += [("phi", k, ell) for ell in range(m) for k in range(ell + 1, m)]
    free_pairs = set(structure.residual_pairs)
    for k in range(p):
        for j in range(k + 1, p):
            if (j, k) not in free_pairs:
                candidates.append(("res", j, k))
    columns = ["lhs", "op", "rhs", "mi", "epc", "sepc_all"]
    if not candidates:
        return pd.DataFrame(columns=columns)
    grad, i_ff, i_cf, i_cc = objective.score_blocks(theta, candidates)
    v = i_cc - np.einsum("cf,cf->c", i_cf, (np.linalg.pinv(i_ff, hermitian=True) @ i_cf.T).T)
    d = grad
    if structure.ordinal:
        # lavaan 0.6 scores these estimators with N - 1 and an information matrix scaled
        # by N / (N - 1); following it keeps the indices comparable with lavaan's output
        v = v * n / (n - 1)
        n = n - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = v > 1e-12 * np.maximum(i_cc, TINY)
        mi = np.where(ok, n * d * d / np.where(ok, v, 1.0), np.nan)
        epc = np.where(ok, -d / np.where(ok, v, 1.0), np.nan)
    lam, phi, res = structure.unpack(theta)
    sigma = structure.implied(theta)
    total = np.diag(sigma)
    resid_var = 1.0 - np.diag(lam @ phi @ lam.T) if structure.ordinal else np.diag(res)
    fsd = np.sqrt(np.abs(np.diag(phi)))
    rows = []
    for (kind, a, b), value, change in zip(candidates, mi, epc):
        if kind == "load":
            sepc = change * fsd[b] / np.sqrt(total[a])
            rows.append((structure.factors[b], "=~", structure.items[a], value, change, sepc))
        elif kind == "phi":
            sepc = change / (fsd[a] * fsd[b])
            rows.append((structure.factors[b], "~~", structure.factors[a], value, change, sepc))
        else:
            scale = np.sqrt(np.abs(resid_var[a] * resid_var[b]))
            sepc = change / scale if scale > 0 else np.nan
            rows.append((structure.items[b], "~~", structure.items[a], value, change, sepc))
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values("mi", ascending=False, kind="stable").reset_index(drop=True)
