"""``analyze``, ``validate`` and ``demo``: classical analysis and the whole validation of an instrument."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from psychometrics.cli._app import (
    EXIT_FINDINGS,
    EXIT_OK,
    InstrumentOption,
    JsonOption,
    QuietOption,
    EncodingOption,
    ExcludeOption,
    IdColumnOption,
    ItemsOption,
    MissingCodesOption,
    ResponsesArgument,
    SeedOption,
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
    step_progress,
    table,
    warn,
)
from psychometrics.storage import atomic_write_text

ITEM_COLUMNS = ["scale", "n", "missing_rate", "mean", "sd", "difficulty", "r_drop", "alpha_if_deleted",
                "discrimination"]


# ------------------------------------------------------------------------------ analyze

def _run_analysis(responses_path: Path, instrument_path: str, *, as_json: bool, output: Path | None,
                  missing: str, options: dict[str, Any]) -> int:
    from psychometrics.analysis import analyze_instrument

    check_output(output, what="output folder", folder=True)
    instrument = load_instrument(instrument_path)
    with collected_warnings() as caught:
        prepared = load_data(responses_path, instrument, options)
    if not as_json:
        print_warnings(caught)
    result = analyze_instrument(instrument, prepared, missing=missing)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        atomic_write_text(output / "scales.csv", result.scales.to_csv())
        atomic_write_text(output / "items.csv", result.items.to_csv())
        atomic_write_text(output / "analysis.json", json.dumps(result.to_dict(), indent=2))
    if as_json:
        sys.stdout.write(dump_json(result.to_dict()))
        return EXIT_OK
    if not _State.quiet:
        console.print(f"[bold]{escape(instrument.title)}[/] ({instrument.id} {escape(str(instrument.version))}): "
                      f"{prepared.n_persons} respondents, file {escape(str(responses_path))}", highlight=False)
    console.print(table(result.scales, "Reliability per scale", index_name="scale"))
    columns = [c for c in ITEM_COLUMNS if c in result.items.columns]
    console.print(table(result.items[columns], "Item analysis", index_name="item"))
    if result.messages and not _State.quiet:
        for message in result.messages:
            warn(message)
    if output is not None and not _State.quiet:
        console.print(f"Tables written to {escape(str(output))}/ (scales.csv, items.csv, analysis.json)",
                      highlight=False)
    return EXIT_OK


@app.command()
@reports_errors
def analyze(
    responses: ResponsesArgument,
    instrument: InstrumentOption,
    as_json: JsonOption = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Folder for CSV/JSON tables.")] = None,
    missing: Annotated[str, typer.Option(help="Missing-data handling: pairwise or listwise.")] = "pairwise",
    id_column: IdColumnOption = None,
    items: ItemsOption = None,
    exclude: ExcludeOption = None,
    missing_codes: MissingCodesOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    quiet_: QuietOption = False,
) -> None:
    """Item analysis and reliability per scale of an instrument (fast, classical only)."""
    _State.quiet = _State.quiet or quiet_
    options = read_options(id_column=id_column, items=items, exclude=exclude, missing_codes=missing_codes, sep=sep,
                           encoding=encoding)
    raise typer.Exit(_run_analysis(responses, instrument, as_json=as_json, output=output, missing=missing,
                                   options=options))


# ------------------------------------------------------------------------------ validate

_SEVERITY_STYLE = {"problem": "red", "warning": "yellow", "note": "cyan"}
_VERDICT_STYLE = {"ok": "green", "review": "yellow", "poor": "red"}


def _run_validation(frame: Any, instrument: Any, *, source: str, group: str | None, model: str | None,
                    as_json: bool, seed: int, options: dict[str, Any] | None = None) -> Any:
    """validation.validate with a progress bar that follows its steps."""
    from psychometrics.validation import validate

    with step_progress(f"validating {Path(source).name}", disable=quiet(as_json)) as progress:
        with collected_warnings() as caught:
            result = validate(instrument, frame, group=group, model=model, progress=progress, seed=seed,
                              load_options=options)
    if not as_json:
        # data warnings are findings already; anything else (convergence...) is shown once
        reported = {finding.message for finding in result.findings}
        print_warnings([w for w in caught if str(w.message) not in reported])
    return result


def _print_validation(result: Any, *, source: str) -> None:
    instrument, data = result.instrument, result.data
    if not _State.quiet:
        console.print(f"[bold]{escape(instrument.title)}[/] ({instrument.id} {escape(str(instrument.version))}): "
                      f"{data.n_persons} rows, {data.n_items} items, {100 * data.missing_rate:.1f}% missing, "
                      f"file {escape(source)}",
                      highlight=False)
        console.print(table(result.analysis.scales, "Reliability per scale", index_name="scale"))
    scales = result.scale_table()
    if "verdict" in scales.columns:
        scales["verdict"] = [Text(v, style=_VERDICT_STYLE.get(v, "")) for v in scales["verdict"]]
    console.print(table(scales, "Verdict per scale", index_name="scale"))
    _print_profile(result.profile)
    if result.findings:
        console.print(f"[bold]{len(result.findings)} finding(s):[/]")
        for finding in result.findings:
            style = _SEVERITY_STYLE.get(finding.severity, "white")
            console.print(f"  [{style}]{finding.severity:<7}[/] {escape(finding.message)}", highlight=False)
    else:
        console.print("[green]No findings.[/]")


def _print_profile(profile: Any) -> None:
    """The correlated-factors model of ``--model mirt``: factor correlations and reliabilities."""
    if profile is None or profile.calibration is None:
        return
    cal = profile.calibration
    state = "converged" if cal.converged else "NOT converged"
    console.print(table(profile.factor_correlations,
                        f"Factor correlations (the scales as one correlated-factors model, {state}, "
                        f"logLik {cal.loglik:.2f})", index_name="scale"))
    console.print(table(profile.reliability[["marginal_profile", "marginal_alone", "se_profile", "se_alone"]],
                        "Reliability in the multidimensional model (marginal rxx) and alone", index_name="scale"))


def _validate_command(frame: Any, instrument: Any, *, source: str, group: str | None, model: str | None,
                      report_path: Path | None, as_json: bool, seed: int,
                      options: dict[str, Any] | None = None) -> int:
    if report_path is not None:
        require_report_extra()
        from psychometrics.report import write_report
    check_output(report_path, what="report")
    result = _run_validation(frame, instrument, source=source, group=group, model=model, as_json=as_json,
                             seed=seed, options=options)
    if report_path is not None:
        with progress_bar(disable=quiet(as_json)) as bar:
            bar.add_task("writing the report", total=None, detail=str(report_path))
            with collected_warnings() as caught:
                write_report(result, report_path)
        if not as_json:
            print_warnings(caught)
    if as_json:
        payload = result.to_dict()
        if report_path is not None:
            payload["report"] = str(report_path.resolve())
        sys.stdout.write(dump_json(payload))
    else:
        _print_validation(result, source=source)
        if report_path is not None:
            console.print(f"Report written to {escape(str(report_path.resolve()))}", highlight=False)
    return int(result.exit_code)


@app.command()
@reports_errors
def validate(
    responses: ResponsesArgument,
    instrument: InstrumentOption,
    group: Annotated[str | None, typer.Option("--group", "-g",
                                              help="Column defining groups for DIF (e.g. gender, language).")] = None,
    report: Annotated[Path | None, typer.Option("--report", "-r", help="Write the HTML report to this file.",
                                                dir_okay=False)] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="IRT model of every scale (default: from the response format); 'mirt': also fit "
                              "the scales as one correlated-factors model (factor correlations, reliability per "
                              "scale in that model; also set by 'analysis: {model: mirt}' in the "
                              "instrument).")] = None,
    seed: SeedOption = 0,
    id_column: IdColumnOption = None,
    items: ItemsOption = None,
    exclude: ExcludeOption = None,
    missing_codes: MissingCodesOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    as_json: JsonOption = False,
    quiet_: QuietOption = False,
) -> None:
    """The whole validation: data checks, item analysis, reliability, factor structure, IRT, item fit, DIF.

    Exit code 0 when nothing was flagged, 1 when a finding is a warning or a problem (notes
    are informational), 2 on errors.
    """
    _State.quiet = _State.quiet or quiet_
    inst = load_instrument(instrument)
    options = read_options(id_column=id_column, items=items, exclude=exclude, missing_codes=missing_codes, sep=sep,
                           encoding=encoding)
    options["missing_codes"] = list(inst.missing_codes) + options["missing_codes"]
    raise typer.Exit(_validate_command(responses, inst, source=str(responses), group=group, model=model,
                                       report_path=report, as_json=as_json, seed=seed, options=options))


@app.command()
@reports_errors
def demo(
    report: Annotated[Path, typer.Option("--report", "-r", help="Where to write the HTML report.",
                                         dir_okay=False)] = Path("report.html"),
    as_json: JsonOption = False,
    quiet_: QuietOption = False,
) -> None:
    """Validate the bundled soft-skills-7 instrument on its simulated sample data and write report.html.

    Exits 0 when the demo ran, whatever it found (findings are listed, not failures here).
    """
    from psychometrics.instrument import Instrument, bundled_sample

    _State.quiet = _State.quiet or quiet_
    require_report_extra()
    sample = bundled_sample("soft-skills-7")
    note(f"Demo: the bundled soft-skills-7 instrument on its simulated sample ({sample.name})", as_json=as_json)
    _validate_command(sample, Instrument.bundled("soft-skills-7"), source=sample.name, group=None,
                      model=None, report_path=report, as_json=as_json, seed=0)
    raise typer.Exit(EXIT_OK)


__all__ = ["analyze", "validate", "demo", "EXIT_FINDINGS"]
