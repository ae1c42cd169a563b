"""One self-contained HTML report of a validation, and of scored data.

:func:`render` turns a :class:`psychometrics.validation.Validation` into an HTML page with
inline CSS and inline SVG figures (no external URL, so it opens offline and can be mailed):
a verdict per scale, the findings, the item table (CTT, IRT parameters, item fit, flags),
factor structure (KMO, Bartlett, scree plot with parallel analysis, loadings heat map, CFA
fit), category response curves, information and SE curves, a Wright map and DIF.
:func:`render_scores` draws the skill profile of one respondent (radar chart of T-scores)
and a team heat map. Every figure carries a title, a description and its numbers as a
table, so the page reads without the pictures.

Numbers in tables are the unrounded result fields formatted with :func:`format_value`
(3 decimals; 4 for p-values), so they can be checked against the API.

jinja2 and matplotlib (``pip install 'psychometrics[report]'``) are imported here only.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from psychometrics.errors import ResponseError
from psychometrics.storage import atomic_write_text

if TYPE_CHECKING:
    from psychometrics.validation import Validation

__all__ = ["render", "write_report", "render_scores", "format_value", "table_context", "ITEM_COLUMNS",
           "DIF_COLUMNS"]

_P_COLUMNS = {"p", "p_holm", "s_x2_p", "p_scaled", "p_adjusted", "Bartlett p"}
_INTEGER_COLUMNS = {"n", "n_items", "n_persons", "df", "s_x2_df", "n_flagged_items", "baseline_df", "Bartlett df"}
#: Item-table columns in display order (those present are shown).
ITEM_COLUMNS = ["scale", "flags", "n", "mean", "sd", "r_drop", "alpha_if_deleted", "a", "b", "g", "u", "b1", "b2", "b3",
                "b4", "b5", "b6", "b7", "b8", "b9", "s_x2", "s_x2_df", "s_x2_p", "p_holm", "infit", "outfit", "rmsd"]
#: DIF-table columns in display order (those present are shown).
DIF_COLUMNS = ["scale", "reference", "focal", "n_reference", "n_focal", "chi2", "df", "p", "p_adjusted", "delta_mh",
               "smd_effect", "dif_class", "flag"]
_HEADINGS = {
    "n": "n", "mean": "mean", "sd": "SD", "r_drop": "r.drop", "alpha_if_deleted": "alpha if deleted",
    "s_x2": "S-X2", "s_x2_df": "df", "s_x2_p": "p", "p_holm": "p (Holm)", "rmsd": "RMSD", "n_items": "items",
    "alpha": "alpha", "omega_cfa": "omega (CFA)", "marginal_reliability": "marginal rxx",
    "n_flagged_items": "flagged items", "verdict": "verdict", "name": "name",
    "alpha_ci_low": "alpha CI low", "alpha_ci_high": "alpha CI high", "standardized_alpha": "std. alpha",
    "split_half": "split-half (SB)", "sem": "SEM", "n_reference": "n reference", "n_focal": "n focal",
    "p_adjusted": "p (Holm)", "delta_mh": "MH delta", "smd_effect": "SMD / SD", "dif_class": "class",
    "flag": "flagged", "marginal_reliability_mirt": "marginal rxx (MIRT)",
}


def format_value(value: Any, column: str = "", digits: int = 3) -> str:
    """How a table cell shows a value: 3 decimals (4 for p-values), integers plain, NaN as a dash."""
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            return "–"
        if column in _INTEGER_COLUMNS and number.is_integer():
            return str(int(number))
        return f"{number:.{4 if column in _P_COLUMNS else digits}f}"
    return str(value)


def table_context(frame: pd.DataFrame, *, table_id: str, caption: str, headings: Mapping[str, str] | None = None,
                  digits: int = 3) -> dict[str, Any]:
    """A DataFrame as the template's table: header labels and formatted cells (row index first)."""
    headings = {**_HEADINGS, **(headings or {})}
    names = [str(n) if n is not None else "" for n in frame.index.names]
    columns = [str(c) for c in frame.columns]
    rows = []
    for key, row in zip(frame.index, frame.itertuples(index=False, name=None)):
        keys = key if isinstance(key, tuple) else (key,)
        # in a (statistic, value) table the statistic decides the format (p-values, counts)
        kinds = [str(keys[-1]) if c == "value" else c for c in columns]
        rows.append({"index": [format_value(k, digits=digits) for k in keys],
                     "cells": [format_value(v, c, digits) for c, v in zip(kinds, row)],
                     "classes": [_cell_class(c, v) for c, v in zip(columns, row)]})
    return {"id": table_id, "caption": caption, "index_names": names, "columns": columns,
            "headings": [headings.get(c, c) for c in columns], "rows": rows}


def _cell_class(column: str, value: Any) -> str:
    if column == "verdict":
        return f"verdict verdict-{value}"
    if column == "flags":
        return "flags" if value else ""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return "num"
    return ""


def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.globals["zip"] = zip
    return env


def _chart_context(chart: Any, narrow: bool = False) -> dict[str, Any]:
    return {"id": chart.id, "narrow": narrow, "title": chart.title, "description": chart.description,
            "caption": chart.caption, "svg": chart.svg,
            "tables": [table_context(frame, table_id=f"{chart.id}-data-{k}", caption=caption)
                       for k, (caption, frame) in enumerate(chart.tables)]}


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in str(text)).strip("-").lower() or "x"


# =============================================================================== validation

def render(validation: "Validation", path: str | os.PathLike[str] | None = None) -> str:
    """The HTML report of a validation; also written (atomically) to ``path`` when given.

    Parameters
    ----------
    validation : Validation
        From :func:`psychometrics.validation.validate`.
    path : str or path, optional
        Where to write the page.

    Returns
    -------
    str
        The complete HTML document.
    """
    from psychometrics import __version__
    from psychometrics.report import figures

    inst = validation.instrument
    names = {scale.id: scale.name for scale in inst.scales}
    item_scale = {item.id: item.scale for item in inst.items}

    scale_table = validation.scale_table()
    scale_table.insert(0, "name", [names.get(s, s) for s in scale_table.index])
    item_table = validation.item_table()
    item_table = item_table[[c for c in ITEM_COLUMNS if c in item_table.columns]]
    # what each row is: the item's wording, and whether its codes were reversed before analysis
    instrument = validation.instrument
    known = set(instrument.item_ids)
    texts = [instrument.item(str(i)).text if str(i) in known else "" for i in item_table.index]
    keyed = ["reversed" if str(i) in known and instrument.item(str(i)).keying == "-" else ""
             for i in item_table.index]
    item_table = item_table.copy()
    item_table.insert(0, "text", texts)
    item_table.insert(1, "keying", keyed)

    charts: dict[str, list[dict[str, Any]]] = {"factor": [], "curves": [], "information": []}
    if validation.parallel is not None:
        charts["factor"].append(_chart_context(
            figures.scree_plot(validation.parallel, chart_id="fig-scree", n_scales=len(validation.verdicts)),
            narrow=True))
    if validation.efa is not None:
        charts["factor"].append(_chart_context(
            figures.loading_heatmap(validation.efa.loadings, chart_id="fig-loadings", scales=item_scale,
                                    label=f"EFA ({validation.efa.n_factors} factors, {validation.efa.rotation})"),
            narrow=True))
    if validation.efa_suggested is not None:
        suggested = validation.efa_suggested
        charts["factor"].append(_chart_context(
            figures.loading_heatmap(suggested.loadings, chart_id="fig-loadings-suggested", scales=item_scale,
                                    label=f"EFA with the suggested {suggested.n_factors} factor(s), "
                                          f"{suggested.rotation}"),
            narrow=True))
    calibrations = {s: r.calibration for s, r in validation.irt.items() if r.calibration is not None}
    for scale, cal in calibrations.items():
        charts["curves"].append(_chart_context(
            figures.category_curves(cal, chart_id=f"fig-crc-{_slug(scale)}", scale=scale)))
    if calibrations:
        charts["information"].append(_chart_context(
            figures.information_curves(calibrations, chart_id="fig-information")))
        scores = {s: r.scores for s, r in validation.irt.items() if r.scores is not None}
        charts["information"].append(_chart_context(
            figures.wright_map(calibrations, scores, chart_id="fig-wright")))

    factor_rows: list[tuple[str, Any]] = []
    if validation.kmo is not None:
        factor_rows.append(("KMO (overall MSA)", validation.kmo.overall))
    if validation.bartlett is not None:
        for name in ("chi2", "df", "p"):
            factor_rows.append((f"Bartlett {name}", getattr(validation.bartlett, name)))
    if validation.parallel is not None:
        factor_rows.append(("parallel analysis: factors", int(validation.parallel.n_factors)))
        factor_rows.append(("parallel analysis: components", int(validation.parallel.n_components)))
    # object dtype keeps counts as integers beside the fractional statistics
    factor_table = pd.DataFrame({"value": pd.Series([v for _, v in factor_rows], dtype=object)}).set_axis(
        pd.Index([k for k, _ in factor_rows], name="statistic"))
    cfa_table = None
    if validation.cfa is not None:
        fit = validation.cfa.fit_measures()
        keep = ["chi2", "df", "p", "chi2_scaled", "p_scaled", "cfi", "tli", "rmsea", "rmsea_ci_low",
                "rmsea_ci_high", "cfi_scaled", "tli_scaled", "rmsea_scaled", "srmr", "n_persons"]
        fit = fit[[k for k in keep if k in fit.index and math.isfinite(float(fit[k]))]]
        cfa_table = pd.Series([int(v) if k in ("df", "n_persons") else float(v) for k, v in fit.items()],
                              index=fit.index, dtype=object).to_frame("value")
        cfa_table.index.name = "statistic"

    irt_rows = {s: {"model": r.model, "converged": r.converged, "marginal_reliability": r.marginal_reliability,
                    "n_iter": r.calibration.n_iter if r.calibration is not None else math.nan,
                    "loglik": r.calibration.loglik if r.calibration is not None else math.nan,
                    "note": r.error}
                for s, r in validation.irt.items()}
    irt_table = pd.DataFrame.from_dict(irt_rows, orient="index")
    irt_table.index.name = "scale"

    context = {
        "title": f"Validation report: {inst.title}",
        "instrument": {"id": inst.id, "version": str(inst.version), "title": inst.title,
                       "description": inst.description},
        "data": validation.data,
        "missing_percent": f"{100 * validation.data.missing_rate:.1f}",
        "version": __version__,
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "exit_code": validation.exit_code,
        "correlation": validation.correlation,
        "group": validation.group,
        "findings": [{"message": f.message, "severity": f.severity, "scope": f.scope}
                     for f in validation.findings],
        "scales": table_context(scale_table, table_id="table-scales", caption="Verdict per scale"),
        "items": table_context(item_table, table_id="table-items",
                               caption="Items: wording, keying (reversed items were scored max + min - x before "
                                       "every statistic), classical statistics, IRT parameters, item fit and flags"),
        "reliability": table_context(validation.analysis.scales, table_id="table-reliability",
                                     caption="Reliability per scale (classical test theory)"),
        "factor": table_context(factor_table, table_id="table-factorability",
                                caption=f"Factorability and number of factors ({validation.correlation} correlations)"),
        "cfa": None if cfa_table is None else table_context(
            cfa_table, table_id="table-cfa",
            caption=f"CFA of the scale structure ({validation.cfa.estimator.upper()}), fit measures"),
        "irt": table_context(irt_table, table_id="table-irt", caption="IRT calibration per scale"),
        "dif": None if validation.dif is None else table_context(
            validation.dif[[c for c in DIF_COLUMNS if c in validation.dif.columns]], table_id="table-dif",
            caption=f"Differential item functioning by {validation.group} (Mantel-Haenszel, per scale)"),
        "dif_classes": _dif_classes(validation.dif),
        "profile": _profile_context(validation.profile, names),
        "charts": charts,
        "timings": validation.timings,
    }
    page = _environment().get_template("report.html.j2").render(**context)
    if path is not None:
        atomic_write_text(path, page)
    return page


def _profile_context(profile: Any, names: Mapping[str, str]) -> dict[str, Any] | None:
    """The correlated-factors model of ``validate --model mirt``: heat map and reliability table."""
    from psychometrics.report.profile_figures import correlation_heatmap

    if profile is None or profile.calibration is None:
        return None
    cal = profile.calibration
    reliability = profile.reliability[["marginal_profile", "marginal_alone", "profile", "alone", "se_profile",
                                       "se_alone"]]
    return {
        "note": (f"The {len(cal.factors)} scales calibrated together, one factor each, factor variances 1 and "
                 f"correlations estimated ({'converged' if cal.converged else 'NOT converged'} in {cal.n_iter} EM "
                 f"iterations, logLik {cal.loglik:.2f}, {cal.n_parameters} parameters). A scale's reliability in "
                 "this model borrows strength from the correlated scales."),
        "heatmap": _chart_context(correlation_heatmap(profile.factor_correlations, chart_id="fig-factor-correlations",
                                                      labels=names), narrow=True),
        "reliability": table_context(
            reliability, table_id="table-profile-reliability",
            caption="Reliability per scale in the correlated-factors model and alone",
            headings={"marginal_profile": "marginal rxx (model)", "marginal_alone": "marginal rxx (alone)",
                      "profile": "empirical rxx (model)", "alone": "empirical rxx (alone)",
                      "se_profile": "mean SE (model)", "se_alone": "mean SE (alone)"}),
    }


def _dif_classes(dif: pd.DataFrame | None) -> list[tuple[str, str]]:
    """The DIF classes that appear in the table, each with what it means."""
    from psychometrics.workflows.validation import DIF_CLASSES

    if dif is None or "dif_class" not in dif.columns:
        return []
    shown = {str(c).strip().upper() for c in dif["dif_class"].dropna()}
    return [(name, meaning) for name, meaning in DIF_CLASSES.items() if name in shown]


def write_report(validation: "Validation", path: str | os.PathLike[str]) -> Path:
    """Render the report and write it to ``path`` atomically (temporary file, then rename)."""
    return atomic_write_text(path, render(validation))


# =============================================================================== scores

def _t_scores(scores: pd.DataFrame, scales: Sequence[str] | None) -> tuple[pd.DataFrame, str]:
    """T-score columns of a score table, and where they came from."""
    t_columns = [c for c in scores.columns if isinstance(c, str) and (c.endswith("_T") or c.endswith("_t"))]
    if t_columns:
        frame = scores[t_columns].copy()
        frame.columns = [c[:-2] for c in t_columns]
        source = "T-scores from the instrument's norms"
    else:
        numeric = scores.select_dtypes("number")
        if numeric.empty:
            raise ResponseError("scores: no numeric scale columns to draw (expected '<scale>_T' columns or scale "
                                "scores)")
        mean = numeric.mean()
        sd = numeric.std(ddof=1)
        bad = sd.index[~(sd > 0)]
        if len(bad):
            raise ResponseError(f"scores: scale '{bad[0]}' has no spread, so it has no T-scores; give "
                                "'<scale>_T' columns")
        frame = 50.0 + 10.0 * (numeric - mean) / sd
        source = "T-scores standardized within this file (no norms given)"
    if scales is not None:
        missing = [s for s in scales if s not in frame.columns]
        if missing:
            raise ResponseError(f"scores: scale '{missing[0]}' has no T-score column; available: "
                                f"{', '.join(frame.columns)}")
        frame = frame[list(scales)]
    return frame.astype(np.float64), source


def render_scores(scores: pd.DataFrame, path: str | os.PathLike[str] | None = None, *,
                  respondent: Any = None, scales: Sequence[str] | None = None,
                  labels: Mapping[str, str] | None = None, title: str = "Skill profiles",
                  max_team: int = 60, norm_source: str | None = None, unfavourable: Sequence[str] = ()) -> str:
    """The HTML page of scored data: one respondent's radar chart and a team heat map.

    Parameters
    ----------
    scores : DataFrame
        Indexed by respondent id, e.g. from :meth:`Instrument.score`: ``<scale>_T`` columns are
        used; without them every numeric column is a scale, standardized within the file
        (T = 50 + 10 z).
    path : str or path, optional
        Where to write the page (atomically).
    respondent : optional
        Row label of the respondent of the radar chart; default the first row.
    scales : sequence of str, optional
        Scales to show, in this order.
    labels : mapping, optional
        Scale id -> display name.
    title : str
        Page title.
    max_team : int
        Rows of the team heat map (the first ``max_team`` respondents).
    norm_source : str, optional
        Where the T-scores come from (the instrument's norms, or the calibration sample of an
        item bank), stated at the top of the page; by default what the columns say.
    unfavourable : sequence of str
        Scales where a high score is unfavourable (an instrument's ``direction``); the heat map
        colours them the other way and says so.

    Returns
    -------
    str
        The HTML document.
    """
    from psychometrics import __version__
    from psychometrics.report import figures

    if not isinstance(scores, pd.DataFrame) or scores.empty:
        raise ResponseError("scores: expected a non-empty DataFrame of scale scores indexed by respondent id")
    frame, source = _t_scores(scores, scales)
    if respondent is None:
        respondent = frame.index[0]
    if respondent not in frame.index:
        raise ResponseError(f"scores: respondent '{respondent}' is not in the score table (ids such as "
                            f"{', '.join(map(str, frame.index[:3]))})")
    row = frame.loc[respondent]
    if isinstance(row, pd.DataFrame):
        raise ResponseError(f"scores: respondent '{respondent}' appears {len(row)} times")
    team = frame.iloc[:max_team]
    charts = [_chart_context(figures.radar_chart(row, chart_id="fig-radar", respondent=str(respondent),
                                                 labels=labels), narrow=True),
              _chart_context(figures.team_heatmap(team, chart_id="fig-team", labels=labels,
                                                  unfavourable=unfavourable))]
    context = {"title": title, "charts": charts, "source": norm_source or source, "version": __version__,
               "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "n_persons": len(frame), "n_team": len(team), "respondent": str(respondent)}
    page = _environment().get_template("scores.html.j2").render(**context)
    if path is not None:
        atomic_write_text(path, page)
    return page
