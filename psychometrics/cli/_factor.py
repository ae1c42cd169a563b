"""``factor``: factorability, number of factors, EFA and a CFA of the instrument's scales."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape

from psychometrics.cli._app import (
    InstrumentOption,
    JsonOption,
    QuietOption,
    ResponsesArgument,
    SeedOption,
    _State,
    app,
    collected_warnings,
    console,
    dump_json,
    load_instrument,
    print_warnings,
    quiet,
    read_table,
    reports_errors,
    step_progress,
    table,
)


def _fit_table(structure: Any) -> pd.DataFrame:
    rows: dict[str, dict[str, Any]] = {}
    if structure.kmo is not None:
        rows["KMO"] = {"value": structure.kmo.overall}
    if structure.bartlett is not None:
        rows["Bartlett chi2"] = {"value": structure.bartlett.chi2, "df": structure.bartlett.df,
                                 "p": structure.bartlett.p}
    if structure.parallel is not None:
        rows["parallel analysis: factors"] = {"value": int(structure.parallel.n_factors)}
    if structure.cfa is not None:
        fit = structure.cfa
        scaled = structure.correlation == "polychoric"
        suffix = " (scaled)" if scaled else ""
        rows[f"CFA chi2{suffix}"] = {"value": fit.chi2_scaled if scaled else fit.chi2, "df": fit.df,
                                     "p": fit.p_scaled if scaled else fit.p}
        rows[f"CFA CFI{suffix}"] = {"value": fit.cfi_scaled if scaled else fit.cfi}
        rows[f"CFA TLI{suffix}"] = {"value": fit.tli_scaled if scaled else fit.tli}
        rows[f"CFA RMSEA{suffix}"] = {"value": fit.rmsea_scaled if scaled else fit.rmsea}
        rows["CFA SRMR"] = {"value": fit.srmr}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["value", "df", "p"])


@app.command()
@reports_errors
def factor(
    responses: ResponsesArgument,
    instrument: InstrumentOption,
    correlation: Annotated[str | None, typer.Option(
        help="polychoric or pearson (default: polychoric for items with 2-10 categories).")] = None,
    parallel_iter: Annotated[int, typer.Option(help="Random data sets of the parallel analysis.")] = 20,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
    quiet_: QuietOption = False,
) -> None:
    """Factor structure: KMO, Bartlett, parallel analysis, EFA and a CFA of the instrument's scales.

    Exit code 0 when nothing was flagged, 1 when a finding is a warning or a problem (notes
    are informational), 2 on errors.
    """
    from psychometrics.validation import factor_structure

    _State.quiet = _State.quiet or quiet_
    if correlation not in (None, "polychoric", "pearson"):
        raise ValueError(f"--correlation must be polychoric or pearson, got {correlation!r}")
    inst = load_instrument(instrument)
    frame = read_table(responses)
    with step_progress("factor structure", disable=quiet(as_json)) as progress:
        with collected_warnings() as caught:
            prepared = inst.prepare(frame)
            structure = factor_structure(prepared, inst.scale_items(), correlation=correlation,
                                         n_replications=parallel_iter, seed=seed, progress=progress)
    if as_json:
        sys.stdout.write(dump_json(structure.to_dict()))
        raise typer.Exit(structure.exit_code)
    print_warnings(caught)
    if not _State.quiet:
        console.print(f"[bold]{escape(inst.title)}[/]: {prepared.n_persons} rows, {prepared.n_items} items, "
                      f"{structure.correlation} correlations", highlight=False)
    console.print(table(_fit_table(structure), "Factorability and fit", index_name="statistic"))
    if structure.efa is not None:
        console.print(table(structure.efa.loadings, f"EFA loadings ({structure.efa.loadings.shape[1]} factors, "
                                                    "oblimin)", index_name="item", digits=2))
    if structure.cfa is not None:
        console.print(table(structure.cfa.loadings, "CFA standardized loadings", index_name="item", digits=2))
    for finding in structure.findings:
        console.print(f"  [yellow]{finding.severity:<7}[/] {escape(finding.message)}", highlight=False)
    raise typer.Exit(structure.exit_code)
