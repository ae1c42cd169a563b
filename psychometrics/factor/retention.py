"""How many factors, and is factoring worthwhile: parallel analysis, Velicer's MAP, scree, KMO, Bartlett.

All functions take the response data (or continuous scores, for Pearson correlations) and
work on the correlation matrix; ``correlation="polychoric"`` analyses ordinal items on their
latent scale, as :func:`psychometrics.factor.efa` does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from psychometrics._deprecation import renamed_arguments
from psychometrics._blas import single_threaded_blas
from psychometrics.errors import EstimationError, ModelWarning, ResponseError
from psychometrics.factor.efa import _extract_minres, correlation_matrix, item_data, pearson_matrix, smc
from psychometrics._results import brief_repr

__all__ = [
    "ParallelAnalysisResult",
    "parallel_analysis",
    "MAPResult",
    "velicer_map",
    "scree",
    "KMOResult",
    "kmo",
    "BartlettResult",
    "bartlett",
]


# --------------------------------------------------------------------------------------------
# parallel analysis
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParallelAnalysisResult:
    """Result of :func:`parallel_analysis`.

    Attributes
    ----------
    n_factors : int
        Leading factor eigenvalues above their reference, counted until the first that is not.
    n_components : int
        The same for principal-component eigenvalues.
    observed_fa, observed_pc : Series
        Eigenvalues of the data (factor: of the one-factor minres reduced matrix, as psych).
    reference_fa, reference_pc : Series
        Mean (or quantile) eigenvalues of the random data.
    simulated_fa, simulated_pc : ndarray
        Every replication's eigenvalues (n_replications x n_items).
    n_replications : int
        Random data sets drawn (or resampled). ``n_iter`` is its former name, kept for one
        release with a ``DeprecationWarning``.
    """

    __repr__ = brief_repr

    n_factors: int
    n_components: int
    observed_fa: pd.Series
    observed_pc: pd.Series
    reference_fa: pd.Series
    reference_pc: pd.Series
    simulated_fa: np.ndarray
    simulated_pc: np.ndarray
    n_replications: int
    data: str
    threshold: str

    @property
    def n_iter(self) -> int:
        """Former name of :attr:`n_replications`; deprecated, removed next release."""
        warnings.warn("ParallelAnalysisResult.n_iter is deprecated; use n_replications",
                      DeprecationWarning, stacklevel=2)
        return self.n_replications

    def to_frame(self) -> pd.DataFrame:
        """One row per eigenvalue position: observed and reference, factors and components."""
        return pd.DataFrame({"observed_fa": self.observed_fa, "reference_fa": self.reference_fa,
                             "observed_pc": self.observed_pc, "reference_pc": self.reference_pc})

    def summary(self, digits: int = 3) -> str:
        return (f"Parallel analysis ({self.n_replications} {self.data} data sets, {self.threshold}): "
                f"{self.n_factors} factor(s), {self.n_components} component(s)\n"
                + self.to_frame().round(digits).to_string())


def _fa_eigenvalues(r: np.ndarray) -> np.ndarray:
    """Eigenvalues of R with one-factor minres communalities on the diagonal (psych's fa values)."""
    loadings, _ = _extract_minres(r, 1)
    reduced = r.copy()
    np.fill_diagonal(reduced, loadings[:, 0] ** 2)
    return np.sort(np.linalg.eigvalsh(reduced))[::-1]


def _count_above(observed: np.ndarray, reference: np.ndarray) -> int:
    above = observed > reference
    return int(np.argmin(above)) if not above.all() else int(above.size)


@renamed_arguments(n_iter="n_replications")
def parallel_analysis(responses: Any, *, n_replications: int = 20, seed: int | np.random.Generator | None = None,
                      correlation: str = "pearson", data: str = "simulate", threshold: str = "mean",
                      quantile: float = 0.95) -> ParallelAnalysisResult:
    r"""Horn's parallel analysis for the number of factors and components.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN for missing.
    n_replications : int
        Number of random data sets.
    seed : int or Generator, optional
        Seed for reproducible results.
    correlation : {"pearson", "polychoric"}
        Correlation type of the observed (and, with ``data="resample"``, the random) data.
    data : {"simulate", "resample"}
        ``simulate``: standard normal data of the same size (Pearson correlations, as psych
        does for every correlation type); ``resample``: each item's responses drawn with
        replacement independently of the others (missing cells travel with their draws),
        correlated like the observed data.
    threshold : {"mean", "quantile"}
        Compare with the mean random eigenvalue (Horn, 1965) or its ``quantile``
        (Glorfeld, 1995; 0.95 by default).

    Returns
    -------
    ParallelAnalysisResult

    Notes
    -----
    A factor (component) is retained while the observed eigenvalue exceeds the reference
    one. Component eigenvalues are those of :math:`R`; factor eigenvalues are those of
    :math:`R` with the one-factor minres communalities on its diagonal (``psych::fa.parallel``).

    References
    ----------
    .. [1] Horn, J. L. (1965). A rationale and test for the number of factors in factor
           analysis. Psychometrika, 30, 179-185.
    .. [2] Glorfeld, L. W. (1995). An improvement on Horn's parallel analysis methodology for
           selecting the correct number of factors to retain. Educational and Psychological
           Measurement, 55, 377-393.
    """
    if not isinstance(n_replications, (int, np.integer)) or n_replications < 1:
        raise ValueError(f"n_replications (formerly n_iter) must be a positive integer, got {n_replications!r}")
    if data not in ("simulate", "resample"):
        raise ValueError(f"data must be 'simulate' or 'resample', got {data!r}")
    if threshold not in ("mean", "quantile"):
        raise ValueError(f"threshold must be 'mean' or 'quantile', got {threshold!r}")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile!r}")
    if correlation not in ("pearson", "polychoric"):
        raise ValueError(f"correlation must be 'pearson' or 'polychoric', got {correlation!r}")
    values, items = item_data(responses, correlation)
    r = _random_correlation(values, items, correlation, quiet=False)
    n_obs = values.shape[0]
    rng = np.random.default_rng(seed)
    n_items = len(items)
    sim_pc = np.empty((n_replications, n_items))
    sim_fa = np.empty((n_replications, n_items))
    # many small matrix operations: BLAS threads only add synchronization cost here
    with single_threaded_blas():
        _replicate(sim_pc, sim_fa, values, items, n_obs, rng, data, correlation)
    if threshold == "mean":
        ref_pc, ref_fa = sim_pc.mean(axis=0), sim_fa.mean(axis=0)
    else:
        ref_pc, ref_fa = np.quantile(sim_pc, quantile, axis=0), np.quantile(sim_fa, quantile, axis=0)
    obs_pc = np.sort(np.linalg.eigvalsh(r))[::-1]
    obs_fa = _fa_eigenvalues(r)
    index = pd.RangeIndex(1, n_items + 1, name="position")
    return ParallelAnalysisResult(
        n_factors=_count_above(obs_fa, ref_fa), n_components=_count_above(obs_pc, ref_pc),
        observed_fa=pd.Series(obs_fa, index=index), observed_pc=pd.Series(obs_pc, index=index),
        reference_fa=pd.Series(ref_fa, index=index), reference_pc=pd.Series(ref_pc, index=index),
        simulated_fa=sim_fa, simulated_pc=sim_pc, n_replications=int(n_replications), data=data, threshold=threshold)


def _replicate(sim_pc: np.ndarray, sim_fa: np.ndarray, values: np.ndarray, items: list[str], n_obs: int,
               rng: np.random.Generator, data: str, correlation: str) -> None:
    n_items = len(items)
    for it in range(sim_pc.shape[0]):
        if data == "simulate":
            fake = rng.standard_normal((n_obs, n_items))
            c = np.corrcoef(fake, rowvar=False)
        else:
            draws = rng.integers(0, n_obs, size=(n_obs, n_items))
            fake = np.take_along_axis(values, draws, axis=0)
            c = _random_correlation(fake, items, correlation, quiet=True)
        sim_pc[it] = np.sort(np.linalg.eigvalsh(c))[::-1]
        sim_fa[it] = _fa_eigenvalues(c)


def _random_correlation(values: np.ndarray, items: list[str], correlation: str, *, quiet: bool) -> np.ndarray:
    if correlation == "polychoric":
        from psychometrics.data import Responses
        from psychometrics.factor.polychoric import polychoric

        frame = pd.DataFrame(values, columns=items)
        with warnings.catch_warnings():
            if quiet:
                # random resamples are often not positive definite; that is expected here
                warnings.simplefilter("ignore", ModelWarning)
            return polychoric(Responses(frame)).correlation.to_numpy()
    return pearson_matrix(values, items)


# --------------------------------------------------------------------------------------------
# Velicer's MAP and scree
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MAPResult:
    """Result of :func:`velicer_map`.

    Attributes
    ----------
    n_factors : int
        Number of components at the minimum average squared partial correlation (0 means
        the items are better left uncombined).
    average_partial : Series
        Average squared partial correlation after removing 0, 1, ... components.
    """

    __repr__ = brief_repr

    n_factors: int
    average_partial: pd.Series

    def to_frame(self) -> pd.DataFrame:
        return self.average_partial.to_frame()

    def summary(self, digits: int = 4) -> str:
        return (f"Velicer's MAP: minimum at {self.n_factors} component(s)\n"
                + self.average_partial.round(digits).to_string())


def velicer_map(responses: Any, *, max_factors: int | None = None, correlation: str = "pearson") -> MAPResult:
    r"""Velicer's minimum average partial (MAP) criterion.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
    max_factors : int, optional
        Largest number of components tried (default: number of items - 1).
    correlation : {"pearson", "polychoric"}

    Returns
    -------
    MAPResult

    Notes
    -----
    With :math:`A_m` the first :math:`m` principal-component loadings,
    :math:`C_m = R - A_m A_m'` and :math:`R^*_m = D^{-1/2} C_m D^{-1/2}`
    (:math:`D = \mathrm{diag}(C_m)`),

    .. math:: \mathrm{MAP}_m = \frac{\sum_{i \ne j} (r^*_{m,ij})^2}{p(p-1)},

    :math:`\mathrm{MAP}_0` uses :math:`R` itself. The criterion is minimal at the number to
    retain. Values for :math:`m \ge 1` equal ``psych::vss(...)$map``.

    References
    ----------
    .. [1] Velicer, W. F. (1976). Determining the number of components from the matrix of
           partial correlations. Psychometrika, 41, 321-327.
    """
    r, _, items = correlation_matrix(responses, correlation)
    p = len(items)
    if p < 3:
        raise ResponseError(f"Velicer's MAP needs at least 3 items, got {p}")
    limit = p - 1 if max_factors is None else int(max_factors)
    if not 1 <= limit <= p - 1:
        raise ValueError(f"max_factors must lie between 1 and {p - 1}, got {max_factors!r}")
    values, vectors = np.linalg.eigh(r)
    order = np.argsort(values)[::-1]
    components = vectors[:, order] * np.sqrt(np.maximum(values[order], 0.0))
    averages = np.empty(limit + 1)
    off = ~np.eye(p, dtype=bool)
    averages[0] = np.sum(r[off] ** 2) / (p * (p - 1))
    for m in range(1, limit + 1):
        partial = r - components[:, :m] @ components[:, :m].T
        d = np.diag(partial)
        if np.any(d <= 1e-12):
            # removing this many components leaves an item with no variance: stop here
            averages = averages[:m]
            break
        scale = 1.0 / np.sqrt(d)
        standardized = partial * scale[:, None] * scale[None, :]
        averages[m] = np.sum(standardized[off] ** 2) / (p * (p - 1))
    series = pd.Series(averages, index=pd.RangeIndex(len(averages), name="n_components"), name="map")
    return MAPResult(n_factors=int(np.argmin(averages)), average_partial=series)


def scree(responses: Any, *, correlation: str = "pearson") -> pd.DataFrame:
    """Scree data: eigenvalues of the correlation matrix and of the SMC-reduced matrix.

    Returns
    -------
    DataFrame
        Indexed by position 1..p, columns ``pc`` (eigenvalues of R) and ``fa`` (eigenvalues
        of R with squared multiple correlations on its diagonal).

    References
    ----------
    .. [1] Cattell, R. B. (1966). The scree test for the number of factors. Multivariate
           Behavioral Research, 1, 245-276.
    """
    r, _, items = correlation_matrix(responses, correlation)
    reduced = r.copy()
    np.fill_diagonal(reduced, smc(r))
    index = pd.RangeIndex(1, len(items) + 1, name="position")
    return pd.DataFrame({"pc": np.sort(np.linalg.eigvalsh(r))[::-1],
                         "fa": np.sort(np.linalg.eigvalsh(reduced))[::-1]}, index=index)


# --------------------------------------------------------------------------------------------
# KMO and Bartlett
# --------------------------------------------------------------------------------------------

def _require_nonsingular(r: np.ndarray, consequence: str) -> None:
    values = np.linalg.eigvalsh(r)
    if values.min() <= 1e-10 * values.max():
        raise EstimationError(f"the correlation matrix is singular (smallest eigenvalue {values.min():.2g}), so "
                              f"{consequence}; look for items that are linear combinations of others")


@dataclass(frozen=True)
class KMOResult:
    """Kaiser-Meyer-Olkin measure of sampling adequacy: ``overall`` and ``per_item`` (MSA)."""

    __repr__ = brief_repr

    overall: float
    per_item: pd.Series

    def to_frame(self) -> pd.DataFrame:
        return self.per_item.to_frame("msa")

    def summary(self, digits: int = 2) -> str:
        return f"KMO overall MSA = {self.overall:.{digits}f}\n" + self.per_item.round(digits).to_string()


def kmo(responses: Any, *, correlation: str = "pearson") -> KMOResult:
    r"""Kaiser-Meyer-Olkin measure of sampling adequacy, overall and per item.

    Notes
    -----
    With :math:`q_{ij}` the partial correlations (from :math:`R^{-1}`, scaled to a unit
    diagonal),

    .. math:: \mathrm{MSA} = \frac{\sum_{i\ne j} r_{ij}^2}{\sum_{i\ne j} r_{ij}^2 + \sum_{i\ne j} q_{ij}^2},
              \qquad \mathrm{MSA}_i = \frac{\sum_{j\ne i} r_{ij}^2}{\sum_{j\ne i} r_{ij}^2 + \sum_{j\ne i} q_{ij}^2}

    Values below 0.5 are unacceptable, above 0.8 meritorious (Kaiser, 1974).

    References
    ----------
    .. [1] Kaiser, H. F. (1970). A second generation little jiffy. Psychometrika, 35, 401-415.
    .. [2] Kaiser, H. F. & Rice, J. (1974). Little jiffy, mark IV. Educational and
           Psychological Measurement, 34, 111-117.
    """
    r, _, items = correlation_matrix(responses, correlation)
    _require_nonsingular(r, "partial correlations (and the KMO) are undefined")
    inverse = np.linalg.inv(r)
    scale = 1.0 / np.sqrt(np.diag(inverse))
    partial = inverse * scale[:, None] * scale[None, :]
    r_off = r.copy()
    np.fill_diagonal(r_off, 0.0)
    np.fill_diagonal(partial, 0.0)
    r2 = r_off ** 2
    q2 = partial ** 2
    overall = float(r2.sum() / (r2.sum() + q2.sum()))
    per_item = r2.sum(axis=0) / (r2.sum(axis=0) + q2.sum(axis=0))
    return KMOResult(overall=overall, per_item=pd.Series(per_item, index=items, name="msa"))


@dataclass(frozen=True)
class BartlettResult:
    """Bartlett's test of sphericity: ``chi2`` on ``df`` degrees of freedom, p-value ``p``."""

    __repr__ = brief_repr

    chi2: float
    df: float
    p: float
    n_obs: int

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"chi2": self.chi2, "df": self.df, "p": self.p, "n_obs": self.n_obs}])

    def summary(self) -> str:
        return f"Bartlett's sphericity test: chi2({self.df:g}) = {self.chi2:.2f}, p = {self.p:.3g}, n = {self.n_obs}"


def bartlett(responses: Any, *, correlation: str = "pearson", n_obs: int | None = None) -> BartlettResult:
    r"""Bartlett's test that the correlation matrix is an identity matrix.

    Parameters
    ----------
    n_obs : int, optional
        Sample size; defaults to the number of respondents (rows), as ``psych`` does with
        raw data. With much missing data a smaller value (e.g. the harmonic mean of the
        pairwise counts) is more honest.

    Notes
    -----
    .. math:: \chi^2 = -\left(n - 1 - \frac{2p + 5}{6}\right)\log|R|, \qquad df = \frac{p(p-1)}{2}

    References
    ----------
    .. [1] Bartlett, M. S. (1951). The effect of standardization on a chi square
           approximation in factor analysis. Biometrika, 38, 337-344.
    """
    r, rows, items = correlation_matrix(responses, correlation)
    n = rows if n_obs is None else int(n_obs)
    p = len(items)
    if n <= 1 + (2 * p + 5) / 6:
        raise ResponseError(f"Bartlett's test needs more respondents than {(2 * p + 5) / 6 + 1:.1f} "
                            f"for {p} items, got {n}")
    _require_nonsingular(r, "Bartlett's statistic is infinite")
    _, logdet = np.linalg.slogdet(r)
    chi2 = -logdet * (n - 1 - (2 * p + 5) / 6)
    df = p * (p - 1) / 2
    return BartlettResult(chi2=float(chi2), df=float(df), p=float(stats.chi2.sf(chi2, df)), n_obs=n)
