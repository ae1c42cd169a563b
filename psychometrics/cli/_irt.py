"""``calibrate`` and ``score``: item banks from response data, and scores from an item bank."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from scipy.special import ndtr

from psychometrics.cli._app import (
    EXIT_FINDINGS,
    EXIT_OK,
    EncodingOption,
    ExcludeOption,
    IdColumnOption,
    ItemsOption,
    JsonOption,
    MaxCategoriesOption,
    MissingCodesOption,
    QuietOption,
    ResponsesArgument,
    SepOption,
    _State,
    app,
    check_output,
    collected_warnings,
    console,
    dump_json,
    load_data,
    load_instrument,
    note,
    print_warnings,
    progress_bar,
    quiet,
    read_options,
    reports_errors,
    require_report_extra,
    table,
)
from psychometrics.errors import DataWarning, InstrumentError, ResponseError
from psychometrics.storage import atomic_write
from psychometrics.validation import default_model

#: Name of the one scale of a bank calibrated without an instrument (unless --scale names it).
DEFAULT_SCALE = "all"


class EMProgress:
    """Drives a progress task from ``irt.calibrate``'s ``callback(iteration, loglik, max_change)``.

    EM stops when the largest parameter change falls below ``tol``; the bar shows how far the
    change has come on a log scale from the first iteration's change down to ``tol``.
    """

    def __init__(self, bar: Any, task: Any, tol: float) -> None:
        self.bar, self.task = bar, task
        self.log_tol = math.log10(tol)
        self.log_start: float | None = None
        self.iterations = 0

    def __call__(self, iteration: int, loglik: float, max_change: float) -> None:
        self.iterations = int(iteration)
        fraction = 0.0
        if math.isfinite(max_change) and max_change > 0:
            log_change = math.log10(max_change)
            if self.log_start is None:
                self.log_start = max(log_change, self.log_tol + 1.0)
            span = self.log_start - self.log_tol
            fraction = min(max((self.log_start - log_change) / span, 0.0), 1.0)
        elif math.isfinite(max_change):
            fraction = 1.0
        self.bar.update(self.task, completed=fraction,
                        detail=f"iteration {iteration}  loglik {loglik:,.2f}  max change {max_change:.2e}")


def _scales_to_calibrate(instrument: Any, responses: Any, requested: list[str] | None) -> dict[str, list[str]]:
    present = set(responses.item_ids)
    scales = {s: [i for i in items if i in present] for s, items in instrument.scale_items().items()}
    if requested:
        unknown = [s for s in requested if s not in scales]
        if unknown:
            raise InstrumentError(f"instrument '{instrument.id}' has no scale '{unknown[0]}'; its scales are "
                                  f"{', '.join(scales)}")
        scales = {s: scales[s] for s in requested}
    empty = [s for s, items in scales.items() if not items]
    if empty:
        raise ResponseError(f"scale '{empty[0]}' has none of its items in the data "
                            f"(items {', '.join(instrument.scale_items()[empty[0]])})")
    return scales


def _without_empty_items(prepared: Any, scales: dict[str, list[str]]) -> dict[str, list[str]]:
    """Items nobody answered, or everybody answered alike, are left out with a warning, as
    validate leaves them out with a finding (no item parameter exists without variance)."""
    values = prepared.values
    observed = ~np.isnan(values)
    answered = np.count_nonzero(observed, axis=0)
    spread = np.where(observed, values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN columns: the empty items
        constant = (answered > 0) & (np.nanmax(spread, axis=0) == np.nanmin(spread, axis=0))
    empty = {item for item, count in zip(prepared.item_ids, answered) if count == 0}
    alike = {item: values[observed[:, j], j][0] for j, item in enumerate(prepared.item_ids) if constant[j]}
    if not empty and not alike:
        return scales
    if empty:
        warnings.warn(f"item(s) {', '.join(sorted(empty))} have no responses; left out of the calibration",
                      DataWarning, stacklevel=2)
    if alike:
        shown = ", ".join(f"{item} (column {prepared.column_of(item)}, every answer {value:g})"
                          for item, value in sorted(alike.items()))
        warnings.warn(f"item(s) {shown} have no variance; left out of the calibration", DataWarning, stacklevel=2)
    unusable = empty | set(alike)
    kept = {s: [i for i in items if i not in unusable] for s, items in scales.items()}
    lost = [s for s, items in kept.items() if not items]
    if lost:
        raise ResponseError(f"scale '{lost[0]}' has no item with varying responses")
    return kept


@app.command()
@reports_errors
def calibrate(
    responses: Annotated[str, typer.Argument(
        help="Response file (CSV, Parquet or SPSS .sav), or a quoted glob of Parquet files (\"data/*.parquet\"), "
             "read by Dask.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Item bank file to write (JSON).", dir_okay=False)],
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="IRT model: graded, gpcm, pcm, rsm, nominal, rasch, 1pl, 2pl, 3pl, 4pl "
                              "(default: graded, or from each scale's response format).")] = None,
    instrument: Annotated[str | None, typer.Option(
        "--instrument", "-i", help="Instrument file or bundled id: keys the data and calibrates each scale.")] = None,
    scale: Annotated[list[str] | None, typer.Option(
        "--scale", "-s", help="Scale to calibrate (repeatable; default all). Without an instrument: the "
                              "name of the one scale.")] = None,
    se: Annotated[bool, typer.Option("--se", help="Compute standard errors of the parameters.")] = False,
    max_iter: Annotated[int, typer.Option(help="Most EM iterations.")] = 500,
    tol: Annotated[float, typer.Option(help="Convergence: largest parameter change below this.")] = 1e-4,
    quadrature_points: Annotated[int, typer.Option(help="Quadrature nodes on [-6, 6].")] = 61,
    id_column: IdColumnOption = None,
    items: ItemsOption = None,
    exclude: ExcludeOption = None,
    missing_codes: MissingCodesOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    max_categories: MaxCategoriesOption = 20,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Dask scheduler address (tcp://host:8786): the workers read the files and run the "
                            "E-steps.")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Start a local Dask cluster of N worker processes for the calibration.")] = None,
    as_json: JsonOption = False,
    quiet_: QuietOption = False,
) -> None:
    """Calibrate an IRT model per scale and write the item bank (one JSON file, written atomically).

    Exit code 0, or 1 when a scale's EM did not converge (the bank is still written).
    """
    from psychometrics import irt
    from psychometrics.bank import ItemBank, collapse_map
    from psychometrics.cli import _dask

    _State.quiet = _State.quiet or quiet_
    if not tol > 0:
        raise ValueError(f"--tol must be a positive number, got {tol:g}")
    if max_iter < 1:
        raise ValueError(f"--max-iter must be at least 1, got {max_iter}")
    if quadrature_points < 5:
        raise ValueError(f"--quadrature-points must be at least 5, got {quadrature_points}")
    check_output(output, what="item bank")
    options = read_options(id_column=id_column, items=items, exclude=exclude, missing_codes=missing_codes, sep=sep,
                           encoding=encoding, max_categories=max_categories)
    if _dask.wanted(responses, scheduler, workers):
        _dask.calibrate_files(responses, output, model=model, scale=scale, instrument=instrument,
                              scheduler=scheduler, workers=workers, progress=EMProgress, as_json=as_json,
                              se=se, max_iter=max_iter, tol=tol, quadrature_points=quadrature_points)
    responses = _dask.existing_file(responses)
    with collected_warnings() as caught:
        if instrument is not None:
            inst = load_instrument(instrument)
            prepared = load_data(responses, inst, options)
            scales = _scales_to_calibrate(inst, prepared, scale)
            models = {s: model or default_model(inst, items) for s, items in scales.items()}
        else:
            inst = None
            if scale and len(scale) > 1:
                raise ValueError("without --instrument all columns form one scale; give at most one --scale name")
            prepared = load_data(responses, None, options)
            name = scale[0] if scale else DEFAULT_SCALE
            scales = {name: prepared.item_ids}
            models = {name: model or "graded"}
        scales = _without_empty_items(prepared, scales)
    print_warnings(caught)

    calibrations: dict[str, Any] = {}
    with progress_bar(disable=quiet(as_json)) as bar:
        overall = bar.add_task("calibrating", total=len(scales), detail="") if len(scales) > 1 else None
        for position, (scale_id, items) in enumerate(scales.items(), start=1):
            task = bar.add_task(f"{scale_id} ({models[scale_id]}, {len(items)} items)",
                                total=1.0, detail="")
            with collected_warnings() as caught:
                calibrations[scale_id] = irt.calibrate(
                    prepared.subset(items), models[scale_id], se=se, max_iter=max_iter, tol=tol,
                    quadrature_points=quadrature_points, callback=EMProgress(bar, task, tol))
            print_warnings(caught)
            bar.remove_task(task)
            if overall is not None:
                bar.update(overall, completed=position)

    # categories the data declare (instrument) but nobody chose: scored as the category they were merged into
    collapsed = {s: {item: mapping for item in c.item_ids
                     if (mapping := collapse_map(tuple(prepared.categories.get(item, ())), tuple(c.categories[item])))}
                 for s, c in calibrations.items()}
    bank = ItemBank(scales=calibrations, models=models, collapsed=collapsed,
                    instrument_id=None if inst is None else inst.id,
                    instrument_version=None if inst is None else str(inst.version),
                    instrument_title=None if inst is None else inst.title)
    bank.save(output)

    rows = {s: {"model": models[s], "n_items": c.n_items, "n_persons": c.n_persons, "loglik": c.loglik,
                "aic": c.aic, "bic": c.bic, "n_iter": c.n_iter, "converged": bool(c.converged)}
            for s, c in calibrations.items()}
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "scale"
    if as_json:
        payload = {"bank": str(output.resolve()), "instrument": None if inst is None else inst.id,
                   "scales": rows}
        sys.stdout.write(dump_json(payload))
    else:
        console.print(table(summary, "Calibration per scale", index_name="scale"))
        note(f"Item bank written to {output.resolve()}")
    not_converged = [s for s, c in calibrations.items() if not c.converged]
    raise typer.Exit(EXIT_FINDINGS if not_converged else EXIT_OK)


# ------------------------------------------------------------------------------ score

#: Flag of a person who answered fewer of a scale's items than ``min_answered`` (but some).
TOO_FEW_ANSWERS = "too_few_answers"


def score_table(bank: Any, prepared: Any, *, method: str = "eap", min_answered: int = 1) -> pd.DataFrame:
    """IRT scores per scale of a bank: ``<scale>_theta``, ``_se``, ``_T``, ``_percentile``,
    ``_n_answered`` and ``_flag``.

    ``T = 50 + 10 theta`` and ``percentile = 100 Phi(theta)`` read theta on the calibration's
    latent scale (standard normal for all models but rasch/pcm/rsm, whose latent variance is
    estimated): they compare a person with the calibration sample, not with a norm sample.

    Nothing is invented: a person who answered none of a scale's items, or fewer than
    ``min_answered``, gets NaN theta, SE, T and percentile, with the flag ``no_responses`` or
    ``too_few_answers``. Other flags: ``all_lowest`` / ``all_highest`` (every answer in the
    extreme category: ML gives -inf/+inf, kept as such), ``unbounded``, ``not_converged``; an
    empty string when there is nothing to report.
    """
    from psychometrics import irt

    if min_answered < 1:
        raise ValueError(f"min_answered must be at least 1, got {min_answered}")
    present = set(prepared.item_ids)
    columns: dict[str, np.ndarray] = {}
    for scale_id, calibration in bank.scales.items():
        items = [i for i in calibration.item_ids if i in present]
        if not items:
            raise ResponseError(f"scale '{scale_id}': none of its items ({', '.join(calibration.item_ids[:5])}"
                                f"{', ...' if len(calibration.item_ids) > 5 else ''}) is in the data")
        absent = [i for i in calibration.item_ids if i not in present]
        if absent:
            warnings.warn(f"scale '{scale_id}': item(s) {', '.join(absent)} are not in the data and count as "
                          "unanswered", DataWarning, stacklevel=2)
        subset = prepared.subset(items)
        if hasattr(bank, "apply_collapse"):
            subset = bank.apply_collapse(scale_id, subset)
        scores = irt.score(calibration, subset, method=method)
        theta = scores["theta"].to_numpy(dtype=np.float64).copy()
        se = scores["se"].to_numpy(dtype=np.float64).copy()
        answered = scores["n_answered"].to_numpy()
        flag = scores["flag"].to_numpy(dtype=object).copy()
        too_few = (answered > 0) & (answered < min_answered)
        flag[too_few] = TOO_FEW_ANSWERS
        unusable = answered < min_answered
        theta[unusable] = np.nan
        se[unusable] = np.nan
        columns[f"{scale_id}_theta"] = theta
        columns[f"{scale_id}_se"] = se
        columns[f"{scale_id}_T"] = 50.0 + 10.0 * theta
        columns[f"{scale_id}_percentile"] = 100.0 * ndtr(theta)
        columns[f"{scale_id}_n_answered"] = answered
        columns[f"{scale_id}_flag"] = flag
        n_unscored = int(unusable.sum())
        if n_unscored:
            warnings.warn(f"scale '{scale_id}': {n_unscored} respondent(s) answered fewer than {min_answered} of its "
                          "items and have no score (NaN, flagged)", DataWarning, stacklevel=2)
    return pd.DataFrame(columns, index=prepared.person_ids)


def _classical_scores(instrument: Any, prepared: Any) -> pd.DataFrame:
    """The instrument's scale scores, renamed so they cannot be mistaken for the IRT columns."""
    classical = instrument.score(prepared)
    rename: dict[str, str] = {}
    for scale in instrument.scales:
        rename[scale.id] = f"{scale.id}_raw"
        for suffix in ("z", "T", "percentile"):
            rename[f"{scale.id}_{suffix}"] = f"{scale.id}_norm_{suffix}"
    return classical.rename(columns=rename)


@app.command()
@reports_errors
def score(
    responses: ResponsesArgument,
    bank: Annotated[Path, typer.Option("--bank", "-b", help="Item bank written by 'psychometrics calibrate'.",
                                       exists=True, dir_okay=False)],
    method: Annotated[str, typer.Option("--method", help="eap, map, ml or wle.")] = "eap",
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="'mirt': score the bank's scales as correlated traits (one multidimensional EAP; "
                              "the correlations are estimated from the file with the bank's item parameters), so "
                              "each scale's score borrows strength from the others.")] = None,
    instrument: Annotated[str | None, typer.Option(
        "--instrument", "-i", help="Instrument of the bank (file or bundled id): keys the data and adds "
                                   "classical scale scores.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="CSV file to write (default: stdout).",
                                                dir_okay=False)] = None,
    report: Annotated[Path | None, typer.Option("--report", "-r", help="HTML page with a radar chart and a "
                                                "team heat map of the T-scores.", dir_okay=False)] = None,
    respondent: Annotated[str | None, typer.Option(help="Respondent of the report's radar chart "
                                                        "(default: the first).")] = None,
    min_answered: Annotated[int, typer.Option(help="Fewest answered items of a scale for a score; fewer give "
                                                   "NaN and the flag too_few_answers.")] = 1,
    id_column: IdColumnOption = None,
    items: ItemsOption = None,
    exclude: ExcludeOption = None,
    missing_codes: MissingCodesOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    as_json: JsonOption = False,
    quiet_: QuietOption = False,
) -> None:
    """Score respondents with an item bank: theta, SE, T-score (50 + 10 theta), percentile per scale.

    Columns per scale: <scale>_theta, _se, _T, _percentile, _n_answered, _flag. A respondent with
    no answers (or fewer than --min-answered) on a scale gets empty values and a flag
    (no_responses, too_few_answers; all_lowest/all_highest mark extreme patterns, whose ML
    estimates are -inf/inf). T-scores and percentiles compare with the calibration sample. With
    the instrument, the classical scale scores are added as <scale>_raw (and <scale>_norm_z,
    _norm_T, _norm_percentile where the instrument has norms). The CSV is written atomically.
    With --model mirt the scales are scored together as correlated traits (same columns, smaller SEs).
    """
    from psychometrics.bank import read_bank
    from psychometrics.data import read_table

    _State.quiet = _State.quiet or quiet_
    if model is not None and model != "mirt":
        raise ValueError(f"--model {model!r}: the only scoring model to choose is 'mirt' (the bank's scales as "
                         "correlated traits); without --model each scale is scored on its own")
    if model == "mirt" and method.lower() != "eap":
        raise ValueError(f"--model mirt scores by EAP (the multidimensional posterior mean); --method {method} "
                         "is for scales scored on their own")
    if report is not None:
        require_report_extra()
    check_output(output, what="score file")
    check_output(report, what="report")
    item_bank = read_bank(bank)
    options = read_options(id_column=id_column, items=items, exclude=exclude, missing_codes=missing_codes, sep=sep,
                           encoding=encoding)
    inst = None
    with collected_warnings() as caught:
        if instrument is not None:
            inst = load_instrument(instrument)
            if item_bank.instrument_id is not None and item_bank.instrument_id != inst.id:
                raise InstrumentError(f"item bank {str(bank)!r} was calibrated for instrument "
                                      f"'{item_bank.instrument_id}', not '{inst.id}'")
            if item_bank.instrument_version is not None and item_bank.instrument_version != str(inst.version):
                warnings.warn(f"item bank calibrated with {inst.id} version {item_bank.instrument_version}, "
                              f"scoring with version {inst.version}", UserWarning, stacklevel=1)
            prepared = load_data(responses, inst, options, warn=False)
        elif item_bank.instrument_id is not None:
            raise InstrumentError(f"item bank {str(bank)!r} was calibrated on responses keyed by instrument "
                                  f"'{item_bank.instrument_id}'; pass --instrument {item_bank.instrument_id} "
                                  "(a file or a bundled id) so the data are keyed the same way")
        else:
            if options["items"] is None:
                # the bank says which columns are items; the others are kept as data
                known = {i for c in item_bank.scales.values() for i in c.item_ids}
                header = read_table(responses, sep=sep, encoding=encoding).columns
                options["items"] = [str(c) for c in header if str(c) in known and str(c) not in
                                    (options["exclude"] or ())]
                if not options["items"]:
                    raise ResponseError(f"none of the item bank's items is a column of {str(responses)!r}")
            prepared = load_data(responses, None, options, warn=False)
        profile = None
        if model == "mirt":
            from psychometrics.workflows.profile import score_profiles

            profile = score_profiles(item_bank, prepared, min_answered=min_answered)
            scores = profile.scores
        else:
            scores = score_table(item_bank, prepared, method=method, min_answered=min_answered)
        if inst is not None:
            scores = scores.join(_classical_scores(inst, prepared))
    print_warnings(caught)
    if scores.index.name is None:
        scores.index.name = (inst.id_column if inst is not None else None) or "respondent_id"

    if output is not None:
        atomic_write(output, lambda handle: scores.to_csv(handle))
    if report is not None:
        from psychometrics.report import render_scores

        labels = {s.id: s.name for s in inst.scales} if inst is not None else None
        scales = list(item_bank.scales)
        t_scores = scores[[f"{s}_T" for s in scales]]
        unfavourable = [s.id for s in inst.scales if s.direction == "higher_is_unfavourable"] \
            if inst is not None else []
        render_scores(t_scores, report, respondent=respondent, scales=scales, labels=labels,
                      title=f"Skill profiles: {inst.title}" if inst is not None else "Skill profiles",
                      norm_source=(f"T-scores = 50 + 10 theta: they compare each respondent with the calibration "
                                   f"sample of item bank {bank.name} ({method.upper()} estimates"
                                   f"{', the scales scored as correlated traits' if profile is not None else ''}), "
                                   "not with a norm sample"), unfavourable=unfavourable)

    if as_json:
        if output is None:
            sys.stdout.write(dump_json(scores.reset_index().to_dict(orient="records")))
        else:
            payload = {"scores": str(output.resolve()), "n_persons": len(scores), "method": method,
                       "scales": list(item_bank.scales),
                       "report": None if report is None else str(report.resolve())}
            if profile is not None:
                corr = profile.factor_correlations
                payload["model"] = "mirt"
                payload["factor_correlations"] = {a: {b: float(corr.loc[a, b]) for b in corr.columns}
                                                  for a in corr.index}
                payload["se"] = profile.comparison.reset_index().to_dict(orient="records")
            sys.stdout.write(dump_json(payload))
    elif output is None:
        scores.to_csv(sys.stdout)
    else:
        summary = pd.DataFrame({
            "n_persons": [int(scores[f"{s}_theta"].notna().sum()) for s in item_bank.scales],
            "mean_theta": [scores[f"{s}_theta"].replace([np.inf, -np.inf], np.nan).mean() for s in item_bank.scales],
            "sd_theta": [scores[f"{s}_theta"].replace([np.inf, -np.inf], np.nan).std() for s in item_bank.scales],
            "mean_se": [scores[f"{s}_se"].replace([np.inf, -np.inf], np.nan).mean() for s in item_bank.scales],
        }, index=pd.Index(list(item_bank.scales), name="scale"))
        console.print(table(summary, f"Scores ({method.upper()}"
                            + (", scales as correlated traits)" if profile is not None else ")"), index_name="scale"))
        if profile is not None:
            console.print(table(profile.factor_correlations, "Scale correlations (estimated from this file)"
                                if profile.estimated else "Scale correlations", index_name="scale"))
            console.print(table(profile.comparison, "Mean SE: each scale alone vs in the profile", index_name="scale"))
        note(f"Scores written to {output.resolve()}")
        if report is not None:
            note(f"Report written to {report.resolve()}")
    raise typer.Exit(EXIT_OK)
