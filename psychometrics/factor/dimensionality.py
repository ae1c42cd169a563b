"""Is each scale unidimensional enough for a unidimensional IRT model?

Per scale: the ratio of the first to the second eigenvalue of its correlation matrix, the
explained common variance (ECV) of a general factor in a Schmid-Leiman solution, and the fit
of a one-factor CFA. Items are usually ordinal, so polychoric correlations and the DWLS
estimator (robust fit indices) are the defaults.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.errors import ConvergenceWarning, EstimationError, ModelWarning, ResponseError
from psychometrics.factor.efa import correlation_matrix, efa_correlation, item_data
from psychometrics._results import brief_repr

__all__ = ["UnidimensionalityResult", "unidimensionality", "check_unidimensionality"]


@dataclass(frozen=True)
class UnidimensionalityResult:
    """Result of :func:`unidimensionality`.

    Attributes
    ----------
    table : DataFrame
        One row per scale: ``n_items``, ``eigenvalue_1``, ``eigenvalue_2``,
        ``eigenvalue_ratio``, ``ecv``, ``cfi``, ``tli``, ``rmsea``, ``srmr`` (NaN where a
        quantity is not defined for the scale), ``unidimensional`` and ``reasons``.
    thresholds : dict
        The criteria applied.
    """

    __repr__ = brief_repr

    table: pd.DataFrame
    thresholds: dict[str, float]
    correlation: str

    @property
    def multidimensional(self) -> list[str]:
        """Scales that failed at least one criterion."""
        return [str(s) for s in self.table.index[~self.table["unidimensional"].astype(bool)]]

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self, digits: int = 2) -> str:
        shown = self.table.drop(columns="reasons").round(digits).to_string()
        notes = [f"  {scale}: {reason}" for scale, reason in self.table["reasons"].items() if reason]
        return "Unidimensionality per scale\n" + shown + ("\n" + "\n".join(notes) if notes else "")


def _one_scale(r: np.ndarray, data: Any, members: list[str], correlation: str, estimator: str) -> dict[str, float]:
    from psychometrics.factor.cfa import cfa

    values = np.sort(np.linalg.eigvalsh(r))[::-1]
    row = {"n_items": len(members), "eigenvalue_1": values[0], "eigenvalue_2": values[1],
           "eigenvalue_ratio": values[0] / values[1] if values[1] > 0 else np.inf}
    row["ecv"] = np.nan
    if len(members) >= 5:  # two factors need five items to leave non-negative degrees of freedom
        n_factors = 3 if len(members) >= 9 else 2
        with warnings.catch_warnings():
            # an over-extracted noise factor may well be improper; only its size matters here
            warnings.simplefilter("ignore", (ModelWarning, ConvergenceWarning))
            unrotated = efa_correlation(r, n_factors, n_obs=None, items=members, rotation="none",
                                        heywood_warning=False)
        squares = unrotated.variance.loc["ss_loadings"].to_numpy()
        row["ecv"] = squares[0] / squares.sum()
    row.update(cfi=np.nan, tli=np.nan, rmsea=np.nan, srmr=np.nan)
    if len(members) >= 4:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", (ModelWarning, ConvergenceWarning))
                fit = cfa(data[members], {"factor": members}, estimator=estimator)
        except (EstimationError, ResponseError):
            pass
        else:
            robust = estimator != "ml"
            row.update(cfi=fit.cfi_scaled if robust else fit.cfi, tli=fit.tli_scaled if robust else fit.tli,
                       rmsea=fit.rmsea_scaled if robust else fit.rmsea, srmr=fit.srmr)
    return row


def unidimensionality(responses: Any, scales: Mapping[str, Sequence[str]] | None = None, *,
                      correlation: str = "polychoric", estimator: str | None = None,
                      min_ratio: float = 3.0, min_ecv: float = 0.70, min_cfi: float = 0.95,
                      max_rmsea: float = 0.08, max_srmr: float = 0.08) -> UnidimensionalityResult:
    r"""Check, scale by scale, whether one factor accounts for the items.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN for missing.
    scales : mapping, optional
        Scale name -> item ids. Default: all items form one scale.
    correlation : {"polychoric", "pearson"}
        Correlations for the eigenvalues and the ECV.
    estimator : {"dwls", "uls", "ml"}, optional
        CFA estimator; default ``dwls`` for polychoric and ``ml`` for Pearson correlations.
        Robust (scaled) CFI, TLI and RMSEA are reported for DWLS/ULS.
    min_ratio, min_ecv, min_cfi, max_rmsea, max_srmr : float
        Criteria; a scale is called unidimensional when every defined criterion holds.

    Returns
    -------
    UnidimensionalityResult

    Notes
    -----
    * Eigenvalue ratio :math:`\lambda_1/\lambda_2` of the scale's correlation matrix; a
      ratio of 3 or more is a common rule of thumb for essential unidimensionality
      (Lord, 1980; Hattie, 1985).
    * ECV here is the first factor's share of the common variance in an unrotated minres
      solution with three factors (nine items or more) or two (five to eight; undefined
      below five, where two factors are not identified):
      :math:`SS_1 / \sum_k SS_k`. Within one scale there is no group-factor structure to
      rotate to, and a Schmid-Leiman ECV of over-extracted noise factors is unstable; the
      unrotated share is its stable analogue (near 1 for one factor, lower when a second
      factor carries real variance). The bifactor ECV of a whole instrument is
      :func:`psychometrics.factor.omega`'s ``ecv``. ECV >= 0.70 is the usual guide
      (Rodriguez, Reise & Haviland, 2016).
    * One-factor CFA fit (four items or more; three items are just identified): CFI >= 0.95,
      RMSEA <= 0.08, SRMR <= 0.08 (Hu & Bentler, 1999).

    References
    ----------
    .. [1] Hattie, J. (1985). Methodology review: assessing unidimensionality of tests and
           items. Applied Psychological Measurement, 9, 139-164.
    .. [2] Rodriguez, A., Reise, S. P. & Haviland, M. G. (2016). Applying bifactor statistical
           indices in the evaluation of psychological measures. Journal of Personality
           Assessment, 98, 223-237.
    .. [3] Hu, L. & Bentler, P. M. (1999). Cutoff criteria for fit indexes in covariance
           structure analysis. Structural Equation Modeling, 6, 1-55.
    """
    if correlation not in ("pearson", "polychoric"):
        raise ValueError(f"correlation must be 'pearson' or 'polychoric', got {correlation!r}")
    estimator = estimator or ("dwls" if correlation == "polychoric" else "ml")
    if estimator not in ("dwls", "uls", "ml"):
        raise ValueError(f"estimator must be 'dwls', 'uls' or 'ml', got {estimator!r}")
    values, items = item_data(responses, correlation)
    frame = pd.DataFrame(values, columns=items)
    if scales is None:
        scales = {"all items": items}
    if not isinstance(scales, Mapping) or not scales:
        raise ValueError(f"scales must be a non-empty mapping of scale name -> items, got {scales!r}")
    rows = {}
    for name, members in scales.items():
        members = [str(m) for m in members]
        unknown = [m for m in members if m not in items]
        if unknown:
            raise ResponseError(f"scale {name!r}: item(s) {unknown} are not columns of the responses")
        if len(members) < 3:
            raise ResponseError(f"scale {name!r} has {len(members)} item(s); a dimensionality check needs at least 3")
        source = frame[members]
        r, _, _ = correlation_matrix(source, correlation)
        rows[name] = _one_scale(r, source, members, correlation, estimator)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scale"
    reasons = []
    verdicts = []
    for _, row in table.iterrows():
        failed = []
        if row["eigenvalue_ratio"] < min_ratio:
            failed.append(f"eigenvalue ratio {row['eigenvalue_ratio']:.2f} < {min_ratio:g}")
        if np.isfinite(row["ecv"]) and row["ecv"] < min_ecv:
            failed.append(f"ECV {row['ecv']:.2f} < {min_ecv:g}")
        if np.isfinite(row["cfi"]) and row["cfi"] < min_cfi:
            failed.append(f"one-factor CFI {row['cfi']:.3f} < {min_cfi:g}")
        if np.isfinite(row["rmsea"]) and row["rmsea"] > max_rmsea:
            failed.append(f"one-factor RMSEA {row['rmsea']:.3f} > {max_rmsea:g}")
        if np.isfinite(row["srmr"]) and row["srmr"] > max_srmr:
            failed.append(f"one-factor SRMR {row['srmr']:.3f} > {max_srmr:g}")
        verdicts.append(not failed)
        reasons.append("; ".join(failed))
    table["unidimensional"] = verdicts
    table["reasons"] = reasons
    thresholds = {"min_ratio": min_ratio, "min_ecv": min_ecv, "min_cfi": min_cfi, "max_rmsea": max_rmsea,
                  "max_srmr": max_srmr}
    return UnidimensionalityResult(table=table, thresholds=thresholds, correlation=correlation)


def check_unidimensionality(responses: Any, scales: Mapping[str, Sequence[str]] | None = None,
                            **criteria: Any) -> UnidimensionalityResult:
    """:func:`unidimensionality`, with a :class:`ModelWarning` for every scale that fails.

    Meant for callers such as IRT calibration that should go on but tell the user.
    """
    result = unidimensionality(responses, scales, **criteria)
    for scale in result.multidimensional:
        reason = result.table.loc[scale, "reasons"]
        warnings.warn(f"scale {scale!r} may not be unidimensional ({reason}); a unidimensional IRT model "
                      "may misrepresent it", ModelWarning, stacklevel=2)
    return result
