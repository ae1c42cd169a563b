"""The whole validation of an instrument on one response file.

This is the computation behind ``psychometrics validate``: data checks, classical item
analysis and reliability (:func:`psychometrics.analysis.analyze_instrument`), factor structure
(KMO, Bartlett, parallel analysis, EFA, CFA of the intended scales), an IRT calibration per
scale with marginal reliability and item fit, DIF when a group column is given, and a list of
plain-language findings with a verdict per scale. The command line prints it and
:mod:`psychometrics.report` renders it; both read the same :class:`Validation`.

Thresholds used for findings (conventional cut-offs, see References of :func:`validate`):

========================  ============================================
statistic                 flagged when
========================  ============================================
alpha, marginal rxx       < 0.70
corrected item-total r    < 0.20
S-X2 item fit             p < .01 after Holm's correction within scale
CFA RMSEA / SRMR          > 0.08
CFA CFI                   < 0.90
KMO                       < 0.60
CFA loading               < 0.40
DIF                       ETS class C / CC (Mantel-Haenszel, p < .01 after Holm)
unidimensionality         eigenvalue ratio < 3, ECV < 0.70 or one-factor CFA misfit
========================  ============================================
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from psychometrics._deprecation import renamed_arguments
from psychometrics._results import brief_repr, scalar_frame
from psychometrics.data import Responses
from psychometrics.dif import adjust_pvalues, mantel_haenszel
from psychometrics.errors import ConvergenceWarning, DataWarning, ModelWarning, PsychometricsError, ResponseError
from psychometrics.fit import item_fit

if TYPE_CHECKING:
    from psychometrics.analysis import InstrumentAnalysis
    from psychometrics.instrument import Instrument
    from psychometrics.irt import Calibration

__all__ = ["DataSummary", "FactorStructure", "Finding", "ScaleIRT", "Validation", "THRESHOLDS",
           "default_model", "factor_structure", "validate"]

#: Cut-offs behind the findings; change a copy and pass it as ``thresholds=``.
THRESHOLDS: dict[str, float] = {
    "alpha": 0.70,
    "marginal_reliability": 0.70,
    "r_drop": 0.20,
    "item_fit_p": 0.01,
    "rmsea": 0.08,
    "srmr": 0.08,
    "cfi": 0.90,
    "kmo": 0.60,
    "loading": 0.40,
    "dif_p": 0.01,
    "eigenvalue_ratio": 3.0,
    "ecv": 0.70,
}

Progress = Callable[[str, float], None]

# Order of severity of a finding; the scale verdict is driven by the worst one.
_SEVERITY = {"note": 0, "warning": 1, "problem": 2}


def _exit_code(findings: tuple["Finding", ...]) -> int:
    """1 when a finding is a warning or a problem; notes are informational and keep 0."""
    return 1 if any(_SEVERITY[f.severity] > 0 for f in findings) else 0


# =============================================================================== results

@dataclass(frozen=True)
class DataSummary:
    """What the data checks found before any analysis.

    Attributes
    ----------
    n_persons, n_items : int
        Rows (respondents or ratings) and instrument items present in the data.
    n_missing : int
        Missing cells among the items.
    missing_rate : float
        ``n_missing / (n_persons * n_items)``.
    warnings : tuple of str
        Data warnings raised while preparing the responses (constant items, empty rows...).
    """

    n_persons: int
    n_items: int
    n_missing: int
    missing_rate: float
    warnings: tuple[str, ...] = ()

    __repr__ = brief_repr

    def to_frame(self) -> pd.DataFrame:
        """One row: persons, items, missing cells, missing rate and the number of warnings."""
        frame = scalar_frame(self)
        frame["n_warnings"] = len(self.warnings)
        return frame

    def summary(self) -> str:
        lines = [f"{self.n_persons} persons x {self.n_items} items, {self.n_missing} missing cells "
                 f"({self.missing_rate:.1%})"]
        lines += [f"  {message}" for message in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class Finding:
    """One plain-language flag.

    Attributes
    ----------
    scope : {"data", "instrument", "scale", "item"}
        What the finding is about.
    target : str
        The scale or item id ("" for data and instrument findings).
    scale : str
        Scale of the target ("" when it concerns no single scale).
    statistic : str
        Short statistic name (``alpha``, ``r_drop``, ``s_x2``, ``rmsea``, ...).
    value, threshold : float
        The value found and the cut-off it crossed (NaN where not numeric).
    severity : {"note", "warning", "problem"}
    message : str
        The flag as a sentence fragment, e.g. ``"teamwork: alpha 0.62 < 0.70"``.
    """

    scope: str
    target: str
    scale: str
    statistic: str
    value: float
    threshold: float
    severity: str
    message: str

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "target": self.target, "scale": self.scale,
                "statistic": self.statistic, "value": _json_number(self.value),
                "threshold": _json_number(self.threshold), "severity": self.severity,
                "message": self.message}


@dataclass(frozen=True)
class ScaleIRT:
    """IRT results of one scale.

    Attributes
    ----------
    scale : str
    model : str
        Model calibrated (``graded``, ``2pl``, ``gpcm``...).
    calibration : Calibration or None
        None when the calibration failed (``error`` says why).
    marginal_reliability : float
    item_fit : DataFrame or None
        :func:`psychometrics.fit.item_fit` with an added ``p_holm`` column (Holm within the
        scale, :func:`psychometrics.dif.adjust_pvalues`); None when the calibration or the fit
        failed.
    scores : DataFrame or None
        EAP ``theta`` and ``se`` per respondent (for the Wright map).
    error : str
        Why the calibration or the fit could not be computed ("" when it could).
    """

    scale: str
    model: str
    calibration: "Calibration | None"
    marginal_reliability: float
    item_fit: pd.DataFrame | None
    scores: pd.DataFrame | None
    error: str = ""

    def __repr__(self) -> str:
        state = f"error={self.error!r}" if self.error else ("converged" if self.converged else "NOT converged")
        return (f"ScaleIRT(scale={self.scale!r}, model={self.model!r}, "
                f"marginal_reliability={self.marginal_reliability:.4g}, {state})")

    def to_frame(self) -> pd.DataFrame:
        """Item fit of the scale (with ``p_holm``); the item parameters when fit is missing; empty
        when the calibration failed."""
        if self.item_fit is not None:
            return self.item_fit.copy()
        if self.calibration is not None:
            return self.calibration.to_frame()
        return pd.DataFrame()

    def summary(self) -> str:
        if self.calibration is None:
            return f"{self.scale}: {self.model} calibration failed: {self.error}"
        state = "converged" if self.converged else "NOT converged"
        text = (f"{self.scale}: {self.model} on {self.calibration.n_items} items, {state}, "
                f"marginal reliability {self.marginal_reliability:.3f}")
        return text + (f" ({self.error})" if self.error else "")

    @property
    def converged(self) -> bool:
        return self.calibration is not None and bool(self.calibration.converged)


@dataclass(frozen=True, eq=False)
class Validation:
    """Everything ``psychometrics validate`` computes for one instrument and data set.

    Attributes
    ----------
    instrument : Instrument
    data : DataSummary
    analysis : InstrumentAnalysis
        Classical item analysis and reliability per scale.
    structure : FactorStructure
        KMO, Bartlett, parallel analysis, EFA and CFA of the scale structure; its results
        are also reachable as ``kmo``, ``bartlett``, ``parallel``, ``efa``,
        ``efa_suggested``, ``cfa`` and ``correlation`` (None where a step was not possible,
        see ``findings``).
    irt : dict
        Scale id -> :class:`ScaleIRT`.
    dif : DataFrame or None
        DIF statistics per item when a group column was given.
    group : str or None
        The group column.
    findings : tuple of Finding
    verdicts : dict
        Scale id -> ``"ok"`` (no findings), ``"review"`` (warnings) or ``"poor"`` (problems).
    timings : dict
        Step -> seconds.
    responses : Responses
        The prepared (keyed, scored) responses the analyses used.
    profile : ProfileIRT or None
        With ``model="mirt"``: the scales as one correlated-factors model
        (:func:`psychometrics.workflows.profile.profile_model`): factor correlations, profile
        scores and each scale's reliability in that model.
    """

    instrument: "Instrument"
    data: DataSummary
    analysis: "InstrumentAnalysis"
    structure: "FactorStructure"
    irt: dict[str, ScaleIRT]
    dif: pd.DataFrame | None
    group: str | None
    findings: tuple[Finding, ...]
    verdicts: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    responses: Responses | None = field(default=None, repr=False)
    profile: Any = None

    @property
    def kmo(self) -> Any:
        return self.structure.kmo

    @property
    def bartlett(self) -> Any:
        return self.structure.bartlett

    @property
    def parallel(self) -> Any:
        return self.structure.parallel

    @property
    def efa(self) -> Any:
        return self.structure.efa

    @property
    def efa_suggested(self) -> Any:
        return self.structure.efa_suggested

    @property
    def cfa(self) -> Any:
        return self.structure.cfa

    @property
    def correlation(self) -> str:
        return self.structure.correlation

    @property
    def exit_code(self) -> int:
        """0 when nothing was flagged, 1 when a finding is a ``warning`` or ``problem``.

        ``note`` findings (a step skipped, the number of factors parallel analysis
        suggests) are informational and do not change the exit code (the CLI's convention).
        """
        return _exit_code(self.findings)

    def item_table(self) -> pd.DataFrame:
        """One row per item: scale, CTT statistics, IRT parameters, item fit, flags.

        The values are the unrounded fields of ``analysis.items``, the calibrations'
        ``item_params`` and the item-fit tables; ``flags`` joins the messages of the item's
        findings with ``"; "``.
        """
        items = self.analysis.items
        ctt_columns = [c for c in ("scale", "n", "mean", "sd", "r_drop", "alpha_if_deleted") if c in items.columns]
        table = items[ctt_columns].copy()
        params = [r.calibration.item_params for r in self.irt.values() if r.calibration is not None]
        if params:
            joined = pd.concat(params)
            table = table.join(joined[[c for c in joined.columns if joined[c].notna().any()]], how="left")
        fits = [r.item_fit for r in self.irt.values() if r.item_fit is not None]
        if fits:
            fit = pd.concat(fits)
            keep = [c for c in ("s_x2", "df", "p", "p_holm", "infit", "outfit", "rmsd") if c in fit.columns]
            fit = fit[keep].rename(columns={"df": "s_x2_df", "p": "s_x2_p"})
            table = table.join(fit, how="left")
        flags: dict[str, list[str]] = {}
        for finding in self.findings:
            if finding.scope == "item":
                flags.setdefault(finding.target, []).append(finding.message)
        # items left out of the analyses (no variance) keep a row, in instrument order
        order = [item for item in self.instrument.item_ids if item in table.index or item in flags]
        scale_of = {item.id: item.scale for item in self.instrument.items}
        table = table.reindex(order)
        table["scale"] = [scale_of.get(item, "") for item in table.index]
        table["flags"] = ["; ".join(flags.get(item, [])) for item in table.index]
        table.index.name = "item"
        return table

    def scale_table(self) -> pd.DataFrame:
        """One row per scale: items, alpha, marginal reliability, flagged items, verdict; with the
        profile model (``model="mirt"``) also ``marginal_reliability_mirt``, the scale's marginal
        reliability as a factor of that model."""
        rows = {}
        flagged: dict[str, set[str]] = {}
        for finding in self.findings:
            if finding.scope == "item":
                flagged.setdefault(finding.scale, set()).add(finding.target)
        for scale_id in self.verdicts:
            a = self.analysis.scales.loc[scale_id] if scale_id in self.analysis.scales.index else None
            irt_result = self.irt.get(scale_id)
            rows[scale_id] = {
                "n_items": int(a["n_items"]) if a is not None else 0,
                "alpha": float(a["alpha"]) if a is not None else math.nan,
                "omega_cfa": _cfa_reliability(self.cfa, scale_id),
                "marginal_reliability": irt_result.marginal_reliability if irt_result else math.nan,
                "n_flagged_items": len(flagged.get(scale_id, ())),
                "verdict": self.verdicts[scale_id],
            }
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "scale"
        if self.profile is not None and self.profile.reliability is not None:
            # the scale's reliability in the correlated-factors model, beside its own
            mirt = self.profile.reliability["marginal_profile"]
            frame.insert(frame.columns.get_loc("marginal_reliability") + 1, "marginal_reliability_mirt",
                         [float(mirt.get(s, math.nan)) for s in frame.index])
        return frame

    def to_frame(self) -> pd.DataFrame:
        """The findings, one row each (as :meth:`Finding.to_dict`), for code."""
        return pd.DataFrame([finding.to_dict() for finding in self.findings])

    def __repr__(self) -> str:
        verdicts = ", ".join(f"{scale}: {verdict}" for scale, verdict in self.verdicts.items())
        return (f"Validation({self.instrument.id} {self.instrument.version}, {self.data.n_persons} rows; "
                f"{verdicts}; {len(self.findings)} finding(s))")

    def summary(self) -> str:
        """Short text for people: verdict per scale and the findings."""
        lines = [f"{self.instrument.title} ({self.instrument.id} {self.instrument.version}): "
                 f"{self.data.n_persons} rows, {self.data.n_items} items, "
                 f"{100 * self.data.missing_rate:.1f}% missing"]
        for scale_id, verdict in self.verdicts.items():
            lines.append(f"  {scale_id}: {verdict}")
        lines.append(f"{len(self.findings)} finding(s)" + (":" if self.findings else ""))
        lines.extend(f"  - {finding.message}" for finding in self.findings)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: plain numbers, NaN as None, tables as lists of records."""
        out: dict[str, Any] = {
            "instrument": {"id": self.instrument.id, "version": str(self.instrument.version),
                           "title": self.instrument.title},
            "data": {"n_persons": self.data.n_persons, "n_items": self.data.n_items,
                     "n_missing": self.data.n_missing, "missing_rate": self.data.missing_rate,
                     "warnings": list(self.data.warnings)},
            "analysis": self.analysis.to_dict(),
            "correlation": self.correlation,
            "factor": {
                "kmo": None if self.kmo is None else _json_number(self.kmo.overall),
                **_factor_records(self.bartlett, self.parallel, self.efa, self.cfa),
            },
            "irt": {scale_id: {
                "model": r.model, "converged": r.converged, "error": r.error,
                "marginal_reliability": _json_number(r.marginal_reliability),
                "item_params": None if r.calibration is None else _records(r.calibration.item_params, "item"),
                "item_fit": None if r.item_fit is None else _records(r.item_fit, "item"),
            } for scale_id, r in self.irt.items()},
            "dif": None if self.dif is None else _records(self.dif, "item"),
            "group": self.group,
            "items": _records(self.item_table(), "item"),
            "scales": _records(self.scale_table(), "scale"),
            "verdicts": dict(self.verdicts),
            "findings": [finding.to_dict() for finding in self.findings],
            "exit_code": self.exit_code,
            "timings": {key: float(value) for key, value in self.timings.items()},
        }
        if self.profile is not None:
            out["profile"] = _profile_record(self.profile)
        return out


def _profile_record(profile: Any) -> dict[str, Any]:
    """The multidimensional model of a validation for JSON: correlations as a nested mapping."""
    cal = profile.calibration
    corr = profile.factor_correlations
    return {
        "error": profile.error,
        "converged": None if cal is None else bool(cal.converged),
        "loglik": None if cal is None else _json_number(cal.loglik),
        "n_parameters": None if cal is None else int(cal.n_parameters),
        "factor_correlations": None if corr is None else {
            str(a): {str(b): _json_number(corr.loc[a, b]) for b in corr.columns} for a in corr.index},
        "reliability": None if profile.reliability is None else _records(profile.reliability, "scale"),
        "messages": list(profile.messages),
    }


def _json_number(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        return value   # text stays text: an item id '007', a group '2.0'
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return number if math.isfinite(number) else None


def _factor_records(bartlett: Any, parallel: Any, efa: Any, cfa: Any) -> dict[str, Any]:
    """The JSON form of the factor-structure results that validation and ``factor`` share."""
    return {
        "bartlett": None if bartlett is None else {
            name: _json_number(getattr(bartlett, name)) for name in ("chi2", "df", "p")},
        "parallel_analysis": None if parallel is None else {
            "n_factors": int(parallel.n_factors), "n_components": int(parallel.n_components)},
        "efa": None if efa is None else _records(efa.loadings, "item"),
        "cfa": None if cfa is None else {key: _json_number(value) for key, value in cfa.fit_measures().items()},
    }


def _records(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    if isinstance(frame.index, pd.MultiIndex):
        # DIF with more than two groups: one row per item and focal group
        names = [str(name or (key if k == 0 else f"level_{k}")) for k, name in enumerate(frame.index.names)]
        out = frame.reset_index(names=names)
    else:
        out = frame.reset_index(names=key)
    return [{column: _json_number(value) for column, value in row.items()}
            for row in out.to_dict(orient="records")]


def _cfa_reliability(cfa: Any, scale_id: str) -> float:
    """Omega of one factor from standardized CFA loadings: (sum l)^2 / ((sum l)^2 + sum(1 - l^2))."""
    if cfa is None or scale_id not in cfa.loadings.columns:
        return math.nan
    loadings = cfa.loadings[scale_id].to_numpy(dtype=np.float64)
    loadings = loadings[loadings != 0.0]
    if loadings.size == 0:
        return math.nan
    common = loadings.sum() ** 2
    unique = np.sum(1.0 - loadings ** 2)
    total = common + unique
    return float(common / total) if total > 0 else math.nan


# =============================================================================== helpers

def default_model(instrument: "Instrument", item_ids: list[str]) -> str:
    """IRT model for a scale from its response format.

    ``graded`` for Likert items, ``2pl`` for dichotomous and multiple-choice items (scored
    0/1), ``gpcm`` for situational-judgement items scored by partial credit (``2pl`` when
    scored best-option 0/1).
    """
    from psychometrics.instrument import LikertFormat, SituationalJudgementFormat

    formats = [instrument.response_format(item) for item in item_ids]
    if all(isinstance(fmt, LikertFormat) for fmt in formats):
        return "graded"
    if any(isinstance(fmt, SituationalJudgementFormat) for fmt in formats):
        return "2pl" if instrument.scoring.option_scoring == "best" else "gpcm"
    return "2pl"


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Steps:
    """Progress reporting and timing of the named steps."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = max(total, 1)
        self.done = 0
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()
        self._name = ""

    def start(self, name: str) -> None:
        self._finish()
        self._name = name
        self._start = time.perf_counter()
        if self.progress is not None:
            self.progress(name, self.done / self.total)

    def _finish(self) -> None:
        if self._name:
            self.timings[self._name] = self.timings.get(self._name, 0.0) + time.perf_counter() - self._start
            self.done += 1

    def close(self) -> None:
        self._finish()
        self._name = ""
        if self.progress is not None:
            self.progress("done", 1.0)


# =============================================================================== the workflow

@dataclass(frozen=True)
class FactorStructure:
    """Factor structure of an instrument: the computation of ``psychometrics factor``.

    Attributes
    ----------
    correlation : str
        ``polychoric`` or ``pearson``.
    kmo, bartlett, parallel : results of :mod:`psychometrics.factor` or None
    efa : EFAResult or None
        EFA with as many factors as scales.
    efa_suggested : EFAResult or None
        EFA with the number of factors parallel analysis suggests, when that differs.
    cfa : CFAResult or None
        CFA of the intended scale structure.
    findings : tuple of Finding
    """

    correlation: str
    kmo: Any
    bartlett: Any
    parallel: Any
    efa: Any
    efa_suggested: Any
    cfa: Any
    findings: tuple[Finding, ...] = ()

    def _key_numbers(self) -> dict[str, Any]:
        nan = math.nan
        return {
            "correlation": self.correlation,
            "kmo": nan if self.kmo is None else float(self.kmo.overall),
            "bartlett_p": nan if self.bartlett is None else float(self.bartlett.p),
            "parallel_n_factors": None if self.parallel is None else int(self.parallel.n_factors),
            "cfa_cfi": nan if self.cfa is None else float(self.cfa.cfi),
            "cfa_rmsea": nan if self.cfa is None else float(self.cfa.rmsea),
            "cfa_srmr": nan if self.cfa is None else float(self.cfa.srmr),
            "n_findings": len(self.findings),
        }

    def __repr__(self) -> str:
        parts = []
        for name, value in self._key_numbers().items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            parts.append(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value!r}")
        return f"FactorStructure({', '.join(parts)})"

    def to_frame(self) -> pd.DataFrame:
        """One row of key numbers: KMO, Bartlett's p, parallel analysis' factor count, CFA fit
        (NaN or None where a step was not possible)."""
        return pd.DataFrame([self._key_numbers()])

    def summary(self) -> str:
        key = self._key_numbers()
        lines = [f"factor structure on {self.correlation} correlations"]
        if self.kmo is not None:
            lines.append(f"  KMO {key['kmo']:.3f}")
        if self.bartlett is not None:
            lines.append(f"  Bartlett p = {key['bartlett_p']:.3g}")
        if self.parallel is not None:
            lines.append(f"  parallel analysis suggests {key['parallel_n_factors']} factor(s)")
        if self.cfa is not None:
            lines.append(f"  CFA: CFI {key['cfa_cfi']:.3f}, RMSEA {key['cfa_rmsea']:.3f}, "
                         f"SRMR {key['cfa_srmr']:.3f}")
        lines += [f"  - {finding.message}" for finding in self.findings]
        return "\n".join(lines)

    @property
    def exit_code(self) -> int:
        """0, or 1 when a finding is a ``warning`` or ``problem`` (as :attr:`Validation.exit_code`)."""
        return _exit_code(self.findings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: plain numbers, NaN as None, tables as lists of records."""
        return {
            "correlation": self.correlation,
            "kmo": None if self.kmo is None else {
                "overall": _json_number(self.kmo.overall),
                "per_item": {str(k): _json_number(v) for k, v in self.kmo.per_item.items()}},
            **_factor_records(self.bartlett, self.parallel, self.efa, self.cfa),
            "efa_suggested": None if self.efa_suggested is None else _records(self.efa_suggested.loadings,
                                                                               "item"),
            "cfa_loadings": None if self.cfa is None else _records(self.cfa.loadings, "item"),
            "findings": [finding.to_dict() for finding in self.findings],
        }


@renamed_arguments(parallel_iter="n_replications")
def factor_structure(responses: Any, scales: Mapping[str, list[str]], *, correlation: str | None = None,
                     n_replications: int = 20, seed: int = 0, thresholds: Mapping[str, float] | None = None,
                     progress: Progress | None = None) -> FactorStructure:
    """KMO, Bartlett, parallel analysis, EFA and a CFA of the intended scale structure.

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Keyed responses (persons x items).
    scales : mapping
        Scale id -> item ids: the structure the CFA tests and the number of EFA factors.
    correlation : {"polychoric", "pearson"}, optional
        By default polychoric for integer codes with 2-10 categories per item, else Pearson.
    n_replications, seed : int
        Random data sets and seed of the parallel analysis.
    thresholds : mapping, optional
        Overrides of :data:`THRESHOLDS` (``kmo``, ``rmsea``, ``srmr``, ``cfi``, ``loading``).
    progress : callable, optional
        ``progress(step, fraction)`` as each step starts and ``("done", 1.0)`` at the end.

    Notes
    -----
    With polychoric correlations the parallel analysis resamples each item's own responses
    (normal random data would make every polychoric eigenvalue look large); the CFA then uses
    DWLS with the mean-and-variance adjusted test (lavaan's WLSMV), otherwise ML. A step that
    fails becomes a finding, so the other results are still reported.
    """
    from psychometrics.data import as_responses

    responses = as_responses(responses)
    cut = _thresholds(thresholds)
    # an empty or constant item has no correlation with anything: left out with a finding,
    # as validate leaves it out, instead of failing every step
    responses, findings = _drop_unusable_items(responses, {i: s for s, items in scales.items() for i in items})
    correlation = correlation or _correlation_type(responses)
    present = set(responses.item_ids)
    scales = {s: kept for s, items in scales.items() if (kept := [i for i in items if i in present])}
    steps = _Steps(progress, total=4)
    steps.start("factorability (KMO, Bartlett)")
    kmo_result, bartlett_result = _factorability(responses, correlation, findings, cut)
    steps.start("parallel analysis")
    parallel = _attempt(findings, "parallel analysis", lambda: _parallel(responses, correlation,
                                                                         n_replications, seed))
    steps.start("exploratory factor analysis")
    efa_result, efa_suggested = _efas(responses, correlation, len(scales), parallel, findings)
    steps.start("confirmatory factor analysis")
    cfa_result = _cfa(responses, scales, correlation, findings, cut)
    steps.close()
    return FactorStructure(correlation, kmo_result, bartlett_result, parallel, efa_result, efa_suggested,
                           cfa_result, tuple(findings))


def _thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    cut = dict(THRESHOLDS)
    if thresholds:
        unknown = sorted(set(thresholds) - set(THRESHOLDS))
        if unknown:
            raise ValueError(f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(THRESHOLDS)}")
        cut.update(thresholds)
    return cut



@renamed_arguments(parallel_iter="n_replications")
def validate(instrument: "Instrument", frame: Any, *, group: str | None = None,
             model: str | Mapping[str, str] | None = None, progress: Progress | None = None,
             n_replications: int = 20, seed: int = 0,
             thresholds: Mapping[str, float] | None = None,
             load_options: Mapping[str, Any] | None = None) -> Validation:
    r"""Validate an instrument on response data: the computation of ``psychometrics validate``.

    Parameters
    ----------
    instrument : Instrument
        Scales, items, response formats and keying.
    frame : DataFrame, path or Responses
        Raw responses, one row per respondent (rating, for multi-rater forms), checked,
        keyed and scored by :meth:`Instrument.prepare`. A :class:`Responses` is taken as
        prepared. The ``group`` column may be in the frame even when the instrument does not
        declare it.
    group : str, optional
        Column whose two or more values define groups for DIF (Mantel-Haenszel per scale,
        matching on the scale's total score; the largest group is the reference). Rows
        without a value are left out of DIF only.
    model : str or mapping, optional
        IRT model for every scale, or scale id -> model; by default from the response
        format (:func:`default_model`). ``"mirt"`` (also the default when the instrument's
        ``analysis.model`` is ``mirt``): the default models per scale, and the scales also
        calibrated as one correlated-factors model (:attr:`Validation.profile`: factor
        correlations, each scale's marginal reliability in that model; a finding for scales
        correlating above 0.90).
    progress : callable, optional
        ``progress(step, fraction)`` is called as each step starts and with ``("done", 1.0)``
        at the end (the CLI drives its progress bar with it).
    n_replications : int
        Random data sets of the parallel analysis.
    seed : int
        Seed of the parallel analysis.
    thresholds : mapping, optional
        Overrides of :data:`THRESHOLDS`.
    load_options : mapping, optional
        Keyword arguments of :meth:`Instrument.prepare` for reading ``frame`` (``id_column``,
        ``exclude``, ``missing_codes``, ``sep``, ``encoding``...).

    Returns
    -------
    Validation

    Raises
    ------
    ResponseError
        Data that cannot be analysed (codes out of range, duplicated respondents, unknown
        columns...), from :meth:`Instrument.prepare`; or ``group`` not a column of ``frame``.

    Notes
    -----
    Steps: prepare the data; CTT item analysis and reliability per scale; KMO, Bartlett and
    parallel analysis on all items (polychoric correlations for ordinal items with at most 10
    categories, the random data sets then resampled from the items' own responses; Pearson
    and normal random data otherwise); EFA (minres, oblimin) with as many factors as scales and,
    when it differs, with the number parallel analysis suggests; CFA of the scale structure
    (DWLS with the scaled test, lavaan's WLSMV, for ordinal items); per scale an IRT
    calibration, EAP scores, marginal reliability and item fit (S-X2 p-values adjusted by
    Holm within the scale); DIF by ``group``. A failing step becomes a finding instead of an
    error, so one bad scale does not hide the others.

    References
    ----------
    .. [1] Nunnally, J. C., & Bernstein, I. H. (1994). Psychometric Theory (3rd ed.).
           McGraw-Hill. (alpha >= .70)
    .. [2] Hu, L., & Bentler, P. M. (1999). Cutoff criteria for fit indexes in covariance
           structure analysis. Structural Equation Modeling, 6, 1-55.
    .. [3] Orlando, M., & Thissen, D. (2000). Likelihood-based item-fit indices for
           dichotomous item response theory models. Applied Psychological Measurement, 24, 50-64.
    .. [4] Kaiser, H. F. (1974). An index of factorial simplicity. Psychometrika, 39, 31-36.
    .. [5] Zwick, R. (2012). A review of ETS differential item functioning assessment
           procedures. ETS Research Report RR-12-08.
    """
    from psychometrics.analysis import analyze_instrument

    cut = _thresholds(thresholds)
    scale_items = instrument.scale_items()
    from psychometrics.workflows.profile import MIRT

    # the instrument may ask for the profile model; an explicit model argument overrides it
    multidimensional = model == MIRT or (model is None and getattr(instrument, "analysis", None) is not None
                                         and instrument.analysis.model == MIRT)
    if model == MIRT:
        model = None
    _check_models(model, scale_items)
    steps = _Steps(progress, total=4 + 2 * len(scale_items) + int(multidimensional))

    steps.start("checking data")
    options = dict(load_options or {})
    if isinstance(frame, (str, os.PathLike)) and group is not None and group not in instrument.metadata_columns():
        # read the file here (line numbers in errors) and keep the group column as data
        options["exclude"] = [*(options.get("exclude") or ()), group]
    group_values, frame = _split_group(frame, group, instrument)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            responses = frame if isinstance(frame, Responses) else instrument.prepare(frame, **options)
        except ResponseError as exc:
            text = str(exc)
            if group is not None and text.startswith(f"excluded column(s) not in the data: {group};"):
                raise ResponseError(f"group column '{group}' is not in the data;"
                                    + text.split(";", 1)[1]) from None
            raise
    data_warnings = tuple(str(w.message) for w in caught if issubclass(w.category, UserWarning))
    for w in caught:
        if not issubclass(w.category, UserWarning):
            _reemit(w)
    if group is not None and group_values is None:
        group_values = _group_from_metadata(responses, group)
    n_cells = responses.n_persons * responses.n_items
    n_missing = int(np.isnan(responses.values).sum())
    data = DataSummary(responses.n_persons, responses.n_items, n_missing,
                       n_missing / n_cells if n_cells else math.nan, data_warnings)
    findings: list[Finding] = [Finding("data", "", "", "data_warning", math.nan, math.nan, "note", message)
                               for message in data_warnings]
    responses, dropped = _drop_unusable_items(responses, instrument)
    findings += dropped
    present = set(responses.item_ids)
    scales = {s: [i for i in items if i in present] for s, items in scale_items.items()}

    steps.start("item analysis and reliability")
    # analyze_instrument records its own warnings in analysis.messages
    analysis = analyze_instrument(instrument, responses)
    findings += _ctt_findings(analysis, cut)

    steps.start("factor structure")
    structure = factor_structure(responses, scales, n_replications=n_replications, seed=seed, thresholds=cut)
    findings += structure.findings

    irt_results: dict[str, ScaleIRT] = {}
    for scale_id, items in scales.items():
        steps.start(f"IRT calibration: {scale_id}")
        chosen = model.get(scale_id) if isinstance(model, Mapping) else model
        chosen = chosen or default_model(instrument, items)
        irt_results[scale_id] = _scale_irt(scale_id, items, responses, chosen, findings, cut)
        steps.start(f"item fit: {scale_id}")
        irt_results[scale_id] = _item_fit(irt_results[scale_id], responses, findings, cut)

    profile = None
    if multidimensional:
        steps.start("multidimensional model")
        profile = _profile(instrument, responses, scales, irt_results, findings)

    steps.start("differential item functioning")
    dif_table = None
    if group is not None and group_values is not None:
        dif_table = _dif(responses, group, group_values, scales, findings, cut)
    steps.close()

    verdicts = _verdicts(list(scales), findings)
    return Validation(instrument=instrument, data=data, analysis=analysis, structure=structure,
                      irt=irt_results, dif=dif_table, group=group, findings=tuple(findings),
                      verdicts=verdicts,
                      timings=steps.timings, responses=responses, profile=profile)


# ------------------------------------------------------------------------------- data

def _profile(instrument: "Instrument", responses: Responses, scales: Mapping[str, list[str]],
             irt_results: Mapping[str, ScaleIRT], findings: list[Finding]) -> Any:
    """The scales as one correlated-factors model, its problems as findings."""
    from psychometrics.workflows.profile import HIGH_CORRELATION, high_correlations, profile_model

    models = {s: (irt_results[s].model if s in irt_results else default_model(instrument, items))
              for s, items in scales.items()}
    alone = {s: r.scores for s, r in irt_results.items()}
    rxx = {s: r.marginal_reliability for s, r in irt_results.items()}
    profile = profile_model(responses, scales, models, alone, alone_reliability=rxx)
    if profile.error:
        findings.append(Finding("instrument", "", "", "mirt_error", math.nan, math.nan, "warning",
                                f"multidimensional model: {profile.error}"))
        return profile
    for message in profile.messages:
        findings.append(Finding("instrument", "", "", "mirt_warning", math.nan, math.nan, "note",
                                f"multidimensional model: {message}"))
    if not profile.calibration.converged:
        findings.append(Finding("instrument", "", "", "mirt_converged", float(profile.calibration.n_iter), math.nan,
                                "warning", "multidimensional model did not converge"))
    for a, b, r in high_correlations(profile):
        findings.append(Finding("scale", a, a, "factor_correlation", r, HIGH_CORRELATION, "warning",
                                f"{a} and {b} correlate {r:.2f} in the multidimensional model: they may not "
                                "measure distinct traits"))
    return profile


def _check_models(model: str | Mapping[str, str] | None, scale_items: Mapping[str, list[str]]) -> None:
    """A misspelt model or scale is the caller's error, not a finding about the instrument."""
    from psychometrics.items import get_model

    if model is None:
        return
    chosen = dict(model) if isinstance(model, Mapping) else {scale: model for scale in scale_items}
    for scale, name in chosen.items():
        if scale not in scale_items:
            raise ValueError(f"model: scale '{scale}' is not a scale of the instrument "
                             f"({', '.join(scale_items)})")
        if name is not None:
            get_model(name)


def _split_group(frame: Any, group: str | None, instrument: "Instrument") -> tuple[pd.Series | None, Any]:
    """Take an undeclared group column out of the frame (prepare would reject it)."""
    if group is None or isinstance(frame, (Responses, str, os.PathLike)):
        return None, frame  # a file's group column is read as data by prepare
    if not isinstance(frame, pd.DataFrame):
        raise ResponseError(f"group column '{group}' needs the responses as a table with named columns")
    if group not in frame.columns:
        raise ResponseError(f"group column '{group}' is not in the data; columns are "
                            f"{', '.join(map(str, frame.columns[:12]))}"
                            + (", ..." if frame.shape[1] > 12 else ""))
    if group in instrument.item_ids:
        raise ResponseError(f"group column '{group}' is an item of instrument '{instrument.id}'")
    if group in instrument.metadata_columns():
        return None, frame
    id_column = instrument.id_column
    values = frame[group]
    if id_column is not None and id_column in frame.columns:
        values = pd.Series(values.to_numpy(), index=frame[id_column].astype(str).to_numpy(), name=group)
    return values, frame.drop(columns=[group])


def _drop_unusable_items(responses: Responses, instrument: Any) -> tuple[Responses, list[Finding]]:
    """Leave out items without variance (no answers, or one answer from everybody).

    No statistic of an item exists without variance, and the reliability, factor and IRT
    steps would all stop on it; leaving it out lets the rest of the instrument be judged.
    ``instrument`` is the Instrument, or a mapping item -> scale id. The findings name the
    item's column in the file.
    """
    values = responses.values
    scale_of = (dict(instrument) if isinstance(instrument, Mapping)
                else {item.id: item.scale for item in instrument.items})
    findings: list[Finding] = []
    keep: list[str] = []
    for j, item in enumerate(responses.item_ids):
        column = values[:, j]
        observed = column[~np.isnan(column)]
        scale = scale_of.get(item, "")
        where = f"item {item} (column {responses.column_of(item)})"
        if observed.size == 0:
            message = f"{where}: no responses; left out of the analyses"
        elif np.all(observed == observed[0]):
            message = (f"{where}: no variance (all {observed.size} answers are {observed[0]:g}); "
                       "left out of the analyses")
        else:
            keep.append(item)
            continue
        findings.append(Finding("item", item, scale, "variance", 0.0, math.nan, "problem", message))
    if not findings:
        return responses, findings
    if len(keep) < 2:
        raise ResponseError("fewer than two items have any variance ("
                            + ", ".join(f.target for f in findings) + " have none); nothing can be analysed")
    return responses.subset(keep), findings


def _group_from_metadata(responses: Responses, group: str) -> pd.Series:
    if responses.metadata is None or group not in responses.metadata.columns:
        raise ResponseError(f"group column '{group}' is not in the data")
    return responses.metadata[group]


def _correlation_type(responses: Responses) -> str:
    """Polychoric for integer codes with 2-10 categories per item, else Pearson."""
    sizes = [len(responses.categories.get(item, ())) for item in responses.item_ids]
    return "polychoric" if sizes and all(2 <= k <= 10 for k in sizes) else "pearson"


def _prefix(scale: str) -> str:
    return f"{scale}: " if scale else ""


def _module_of(filename: str) -> str:
    parts = os.path.splitext(os.path.normpath(filename))[0].split(os.sep)
    return ".".join(parts[parts.index("psychometrics"):]) if "psychometrics" in parts else parts[-1]


def _reemit(w: warnings.WarningMessage) -> None:
    """Warn again, from where it was raised, so the caller's filters (errors in tests) apply."""
    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, module=_module_of(w.filename))


@contextlib.contextmanager
def _warnings_as_findings(findings: list[Finding], what: str, scale: str = "", *,
                          convergence_checked: bool = False):
    """Model and convergence warnings of a step become findings; data warnings were reported
    by the data checks already; anything else (RuntimeWarning...) is raised again."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[str] = set()
    prefix = _prefix(scale)
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, DataWarning):
            continue
        if issubclass(w.category, (ModelWarning, ConvergenceWarning)):
            if (convergence_checked and issubclass(w.category, ConvergenceWarning)) or text in seen:
                continue
            seen.add(text)
            model = issubclass(w.category, ModelWarning)
            findings.append(Finding("scale" if scale else "instrument", scale, scale,
                                    "model_warning" if model else "convergence", math.nan, math.nan,
                                    "warning" if model else "note", f"{prefix}{what}: {text}"))
        else:
            _reemit(w)


def _attempt(findings: list[Finding], what: str, compute: Callable[[], Any], scale: str = "", *,
             convergence_checked: bool = False) -> Any:
    """Run one step; an estimation problem becomes a finding and the step's result None."""
    with _warnings_as_findings(findings, what, scale, convergence_checked=convergence_checked):
        try:
            return compute()
        except (PsychometricsError, ValueError, np.linalg.LinAlgError) as exc:
            findings.append(Finding("scale" if scale else "instrument", scale, scale, "error", math.nan,
                                    math.nan, "problem", f"{_prefix(scale)}{what} failed: {_message(exc)}"))
            return None


# ------------------------------------------------------------------------------- CTT

def _ctt_findings(analysis: "InstrumentAnalysis", cut: Mapping[str, float]) -> list[Finding]:
    out: list[Finding] = []
    for scale_id, row in analysis.scales.iterrows():
        value = float(row["alpha"])
        if math.isfinite(value) and value < cut["alpha"]:
            out.append(Finding("scale", str(scale_id), str(scale_id), "alpha", value, cut["alpha"], "problem",
                               f"{scale_id}: alpha {value:.2f} < {cut['alpha']:.2f}"))
    items = analysis.items
    if "r_drop" in items.columns:
        for item, row in items.iterrows():
            value = float(row["r_drop"])
            if math.isfinite(value) and value < cut["r_drop"]:
                out.append(Finding("item", str(item), str(row["scale"]), "r_drop", value, cut["r_drop"],
                                   "warning", f"item {item}: r.drop {value:.2f} < {cut['r_drop']:.2f}"))
    return out


# ------------------------------------------------------------------------------- factors

def _factorability(responses: Responses, correlation: str, findings: list[Finding],
                   cut: Mapping[str, float]) -> tuple[Any, Any]:
    from psychometrics import factor

    kmo_result = _attempt(findings, "KMO", lambda: factor.kmo(responses, correlation=correlation))
    if kmo_result is not None and math.isfinite(kmo_result.overall) and kmo_result.overall < cut["kmo"]:
        findings.append(Finding("instrument", "", "", "kmo", float(kmo_result.overall), cut["kmo"], "warning",
                                f"KMO {kmo_result.overall:.2f} < {cut['kmo']:.2f}: "
                                "the items share little common variance"))
    bartlett_result = _attempt(findings, "Bartlett's test",
                               lambda: factor.bartlett(responses, correlation=correlation))
    p = getattr(bartlett_result, "p", math.nan)
    if bartlett_result is not None and math.isfinite(p) and p > 0.05:
        findings.append(Finding("instrument", "", "", "bartlett_p", float(p), 0.05, "warning",
                                f"Bartlett's test p {p:.3f} > .05: the correlations may be zero"))
    return kmo_result, bartlett_result


def _parallel(responses: Responses, correlation: str, n_replications: int, seed: int) -> Any:
    from psychometrics import factor

    # With polychoric correlations the random data must be ordinal too (resampled columns keep
    # each item's marginals); normal random data would make every polychoric eigenvalue look large.
    data = "resample" if correlation == "polychoric" else "simulate"
    return factor.parallel_analysis(responses, n_replications=n_replications, seed=seed, correlation=correlation, data=data)


def _efas(responses: Responses, correlation: str, n_scales: int, parallel: Any,
          findings: list[Finding]) -> tuple[Any, Any]:
    from psychometrics import factor

    n_items = responses.n_items
    n_factors = max(1, min(n_scales, n_items - 1))
    intended = _attempt(findings, f"EFA with {n_factors} factor(s)",
                        lambda: factor.efa(responses, n_factors, correlation=correlation))
    suggested = None
    if parallel is not None:
        k = int(parallel.n_factors)
        if k != n_scales:
            findings.append(Finding("instrument", "", "", "n_factors", float(k), float(n_scales), "note",
                                    f"parallel analysis suggests {k} factor(s) for {n_scales} scale(s)"))
            if 1 <= k < n_items:
                suggested = _attempt(findings, f"EFA with {k} factor(s)",
                                     lambda: factor.efa(responses, k, correlation=correlation))
    return intended, suggested


def _cfa(responses: Responses, scales: Mapping[str, list[str]], correlation: str, findings: list[Finding],
         cut: Mapping[str, float]) -> Any:
    from psychometrics import factor

    model = {scale: items for scale, items in scales.items() if len(items) >= 2}
    if not model:
        return None
    estimator = "dwls" if correlation == "polychoric" else "ml"
    result = _attempt(findings, "CFA of the scale structure",
                      lambda: factor.cfa(responses, model, estimator=estimator), convergence_checked=True)
    if result is None:
        return None
    if not result.converged:
        findings.append(Finding("instrument", "", "", "cfa_converged", math.nan, math.nan, "problem",
                                "CFA of the scale structure did not converge"))
    scaled = estimator != "ml"
    rmsea = float(result.rmsea_scaled if scaled else result.rmsea)
    cfi = float(result.cfi_scaled if scaled else result.cfi)
    label = " (scaled)" if scaled else ""
    if math.isfinite(rmsea) and rmsea > cut["rmsea"]:
        findings.append(Finding("instrument", "", "", "rmsea", rmsea, cut["rmsea"], "warning",
                                f"CFA RMSEA{label} {rmsea:.3f} > {cut['rmsea']:.2f}"))
    if math.isfinite(cfi) and cfi < cut["cfi"]:
        findings.append(Finding("instrument", "", "", "cfi", cfi, cut["cfi"], "warning",
                                f"CFA CFI{label} {cfi:.3f} < {cut['cfi']:.2f}"))
    if math.isfinite(result.srmr) and result.srmr > cut["srmr"]:
        findings.append(Finding("instrument", "", "", "srmr", float(result.srmr), cut["srmr"], "warning",
                                f"CFA SRMR {result.srmr:.3f} > {cut['srmr']:.2f}"))
    for scale, items in model.items():
        for item in items:
            value = float(result.loadings.loc[item, scale])
            if math.isfinite(value) and value < cut["loading"]:
                findings.append(Finding("item", item, scale, "cfa_loading", value, cut["loading"], "warning",
                                        f"item {item}: CFA loading {value:.2f} < {cut['loading']:.2f}"))
    return result


# ------------------------------------------------------------------------------- IRT

def _scale_irt(scale_id: str, items: list[str], responses: Responses, model: str, findings: list[Finding],
               cut: Mapping[str, float]) -> ScaleIRT:
    from psychometrics import factor, irt
    from psychometrics.scoring import marginal_reliability
    from psychometrics.scoring import score as eap

    if len(items) < 2:
        findings.append(Finding("scale", scale_id, scale_id, "n_items", float(len(items)), 2.0, "problem",
                                f"{scale_id}: {len(items)} usable item(s); a scale needs at least two to be "
                                "analysed"))
        return ScaleIRT(scale_id, model, None, math.nan, None, None, "fewer than two items")
    sub = responses.subset(items)
    if len(items) >= 3:
        # A unidimensional model misrepresents a scale that is clearly not one dimension.
        _attempt(findings, "dimensionality", lambda: factor.check_unidimensionality(
            sub, {scale_id: items}, min_ratio=cut["eigenvalue_ratio"], min_ecv=cut["ecv"],
            min_cfi=cut["cfi"], max_rmsea=cut["rmsea"], max_srmr=cut["srmr"]), scale_id)
    with _warnings_as_findings(findings, f"{model} calibration", scale_id, convergence_checked=True):
        try:
            calibration = irt.calibrate(sub, model)
            rxx = marginal_reliability(calibration)
            scores = eap(calibration, sub)[["theta", "se"]]
        except (PsychometricsError, ValueError, np.linalg.LinAlgError) as exc:
            findings.append(Finding("scale", scale_id, scale_id, "irt_error", math.nan, math.nan, "problem",
                                    f"{scale_id}: {model} calibration failed: {_message(exc)}"))
            return ScaleIRT(scale_id, model, None, math.nan, None, None, _message(exc))
    if not calibration.converged:
        findings.append(Finding("scale", scale_id, scale_id, "irt_converged", float(calibration.n_iter), math.nan,
                                "problem", f"{scale_id}: {model} calibration did not converge in "
                                f"{calibration.n_iter} EM iterations"))
    if math.isfinite(rxx) and rxx < cut["marginal_reliability"]:
        findings.append(Finding("scale", scale_id, scale_id, "marginal_reliability", rxx,
                                cut["marginal_reliability"], "problem",
                                f"{scale_id}: IRT marginal reliability {rxx:.2f} < {cut['marginal_reliability']:.2f}"))
    return ScaleIRT(scale_id, model, calibration, rxx, None, scores)


def _item_fit(result: ScaleIRT, responses: Responses, findings: list[Finding],
              cut: Mapping[str, float]) -> ScaleIRT:
    if result.calibration is None:
        return result
    sub = responses.subset(list(result.calibration.item_ids))
    with _warnings_as_findings(findings, "item fit", result.scale):
        try:
            table = item_fit(result.calibration, sub)
        except (PsychometricsError, ValueError, np.linalg.LinAlgError) as exc:
            findings.append(Finding("scale", result.scale, result.scale, "item_fit_error", math.nan, math.nan,
                                    "note", f"{result.scale}: item fit could not be computed: {_message(exc)}"))
            return ScaleIRT(result.scale, result.model, result.calibration, result.marginal_reliability,
                            None, result.scores, _message(exc))
    table = table.copy()
    if "p" in table.columns:
        table["p_holm"] = adjust_pvalues(table["p"].to_numpy(dtype=np.float64), "holm")
        for item, row in table.iterrows():
            adjusted = float(row["p_holm"])
            if math.isfinite(adjusted) and adjusted < cut["item_fit_p"]:
                findings.append(Finding("item", str(item), result.scale, "s_x2", adjusted, cut["item_fit_p"],
                                        "warning", f"item {item} misfits (S-X2 {float(row['s_x2']):.1f}, "
                                        f"p < {cut['item_fit_p']:g} after Holm)"))
    return ScaleIRT(result.scale, result.model, result.calibration, result.marginal_reliability, table,
                    result.scores)


# ------------------------------------------------------------------------------- DIF

def _dif(responses: Responses, group: str, values: pd.Series, scales: Mapping[str, list[str]],
         findings: list[Finding], cut: Mapping[str, float]) -> pd.DataFrame | None:
    labels = pd.Series(values)
    if len(labels) == responses.n_persons:
        labels.index = responses.person_ids
    else:
        labels = labels.reindex(responses.person_ids)
    keep = labels.notna().to_numpy()
    labels = _labels_as_given(labels)
    levels = sorted(labels[keep].unique())
    if len(levels) < 2:
        findings.append(Finding("instrument", group, "", "dif", math.nan, math.nan, "note",
                                f"DIF skipped: group column '{group}' has {len(levels)} value(s)"))
        return None
    if not keep.all():
        findings.append(Finding("data", group, "", "dif", float((~keep).sum()), math.nan, "note",
                                f"{int((~keep).sum())} row(s) without a '{group}' value left out of DIF"))
    group_labels = labels[keep]
    tables = []
    for scale_id, items in scales.items():
        if len(items) < 2:
            continue
        sub = responses.subset(items)
        # rows without a group label cannot be compared; the categories stay the instrument's
        sub = Responses(sub.frame.loc[keep], dict(sub.categories), columns=sub.columns)
        table = _attempt(findings, "DIF", lambda: mantel_haenszel(sub, group_labels, alpha=cut["dif_p"]), scale=scale_id)
        if table is None:
            continue
        table = table.copy()
        table.insert(0, "scale", scale_id)
        tables.append(table)
        for key, row in table.iterrows():
            finding = _dif_finding(key, row, group, scale_id, cut["dif_p"])
            if finding is not None:
                findings.append(finding)
    return pd.concat(tables) if tables else None


#: What each DIF class of the table means (ETS: Zwick & Ercikan 1989 for A/B/C, Zwick, Thayer &
#: Mazzeo 1997 for the polytomous AA/BB/CC; Jodoin & Gierl 2001 for logistic regression),
#: shown under the report's DIF table.
DIF_CLASSES = {
    "A": "negligible: MH test not significant at .05 or |MH delta| < 1",
    "B": "moderate: significant and 1 <= |MH delta| < 1.5 (or not significantly above 1)",
    "C": "large: |MH delta| >= 1.5 and significantly above 1",
    "AA": "negligible (polytomous): not significant or |SMD/SD| <= .17",
    "BB": "moderate (polytomous): significant and .17 < |SMD/SD| <= .25",
    "CC": "large (polytomous): significant and |SMD/SD| > .25",
}


def _labels_as_given(labels: pd.Series) -> pd.Series:
    """Group labels with their type and text: text as written (a file's ``2.0`` stays
    ``2.0``), numbers as numbers, a whole float (``2.0`` in a numeric column that has blanks)
    as the integer 2. A column mixing numbers and text becomes text, so that its levels sort."""
    def one(value: Any) -> Any:
        value = value.item() if isinstance(value, np.generic) else value
        return int(value) if isinstance(value, float) and value.is_integer() else value

    # object dtype throughout: pandas would make whole numbers beside a NaN floats again
    present = labels.notna().to_numpy()
    if pd.api.types.is_float_dtype(labels.dtype):
        numbers = labels.to_numpy(dtype=np.float64)
        if np.all(numbers[present] % 1 == 0):
            out = np.full(len(labels), None, dtype=object)
            out[present] = numbers[present].astype(np.int64).astype(object)
            return pd.Series(out, index=labels.index, dtype=object)
    if not pd.api.types.is_object_dtype(labels.dtype) and not pd.api.types.is_float_dtype(labels.dtype):
        return labels   # integers, text, categories: as given
    values = [one(v) if p else None for v, p in zip(labels.to_numpy(dtype=object), present)]
    if len({isinstance(v, str) for v, p in zip(values, present) if p}) > 1:
        values = [str(v) if p else None for v, p in zip(values, present)]
    return pd.Series(values, index=labels.index, dtype=object)


def _dif_finding(key: Any, row: pd.Series, group: str, scale_id: str, alpha: float) -> Finding | None:
    """The finding of one DIF-table row, so that the findings list exactly the table's rows
    that are flagged (Holm-adjusted p < alpha) or of class B/BB/C/CC, with the table's class:
    class C/CC is a warning, every other flagged row a note."""
    item = key[-1] if isinstance(key, tuple) else key
    klass = str(row.get("dif_class", "") if pd.notna(row.get("dif_class", "")) else "").strip().upper()
    flagged = bool(row.get("flag", False))
    if not flagged and klass not in ("B", "BB", "C", "CC"):
        return None
    focal = f" ({row['focal']} vs {row['reference']})" if "focal" in row.index else ""
    size = {"C": "large", "CC": "large", "B": "moderate", "BB": "moderate"}.get(klass, "negligible")
    shown = f"ETS class {klass}" if klass else "no ETS class"
    test = "significant after Holm adjustment" if flagged else "not significant after Holm adjustment"
    return Finding("item", str(item), scale_id, "dif", float(row.get("p_adjusted", math.nan)), alpha,
                   "warning" if size == "large" else "note",
                   f"item {item}: {size} DIF by {group}{focal} ({shown}; {test})")


# ------------------------------------------------------------------------------- verdicts

def _verdicts(scales: list[str], findings: list[Finding]) -> dict[str, str]:
    worst = dict.fromkeys(scales, -1)
    for finding in findings:
        if finding.scale in worst:
            worst[finding.scale] = max(worst[finding.scale], _SEVERITY[finding.severity])
    names = {-1: "ok", 0: "ok", 1: "review", 2: "poor"}
    return {scale: names[level] for scale, level in worst.items()}

