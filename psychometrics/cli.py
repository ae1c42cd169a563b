"""The ``psychometrics`` command line (typer + rich).

Commands print readable tables by default, machine-readable JSON with ``--json``, and exit
with 0 (ok), 1 (findings) or 2 (error). Errors print one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from psychometrics.errors import PsychometricsError

app = typer.Typer(
    name="psychometrics",
    help="Item analysis, reliability, factor structure and IRT for questionnaires and tests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
instrument_app = typer.Typer(help="Check, list and describe instrument definitions.", no_args_is_help=True)
app.add_typer(instrument_app, name="instrument")

# Piped output (files, CI logs) is not limited to rich's default 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
error_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _State:
    debug = False
    quiet = False


F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(func: F) -> F:
    """Turn expected failures (bad data, bad files) into one line on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (PsychometricsError, ValueError, FileNotFoundError, KeyError) as exc:
            if _State.debug:
                raise
            message = str(exc).strip().splitlines()
            head = message[0] if message else type(exc).__name__
            error_console.print(f"[bold red]error:[/] {type(exc).__name__}: {head}", highlight=False)
            for line in message[1:]:
                error_console.print(f"  {line}", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and errors.")] = False,
) -> None:
    _State.debug = debug
    _State.quiet = quiet


#: Short column headings for people; the JSON and CSV outputs keep the field names.
LABELS = {
    "n_items": "items", "n_persons": "persons", "alpha_ci_low": "CI low", "alpha_ci_high": "CI high",
    "standardized_alpha": "std. alpha", "lambda6": "lambda6", "split_half": "split-half", "sem": "SEM",
    "missing_rate": "missing", "difficulty": "difficulty", "r_drop": "r.drop",
    "alpha_if_deleted": "alpha if del.", "discrimination": "discr.",
}


def _table(frame: pd.DataFrame, title: str, *, index_name: str | None = None, digits: int = 3) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column(index_name or frame.index.name or "")
    for column in frame.columns:
        table.add_column(LABELS.get(str(column), str(column)), justify="right")
    for key, row in frame.iterrows():
        cells = [str(key)]
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (float, int)):
                cells.append(str(value))
            elif pd.isna(value):
                cells.append("")
            elif float(value).is_integer() and abs(value) >= 1:
                cells.append(f"{int(value)}")
            else:
                cells.append(f"{value:.{digits}f}")
        table.add_row(*cells)
    return table


def _load_instrument(path: str) -> Any:
    from psychometrics.instrument import Instrument

    candidate = Path(path)
    if candidate.exists():
        return Instrument.load(candidate)
    return Instrument.bundled(path)


def _read_table(path: Path) -> pd.DataFrame:
    from psychometrics.data import read_table

    return read_table(path)


ITEM_COLUMNS = ["scale", "n", "missing_rate", "mean", "sd", "difficulty", "r_drop", "alpha_if_deleted",
                "discrimination"]


def _run_analysis(responses_path: Path, instrument_path: str, *, as_json: bool, output: Path | None,
                  missing: str) -> int:
    from psychometrics.analysis import analyze_instrument

    instrument = _load_instrument(instrument_path)
    frame = _read_table(responses_path)
    result = analyze_instrument(instrument, frame, missing=missing)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        result.scales.to_csv(output / "scales.csv")
        result.items.to_csv(output / "items.csv")
        (output / "analysis.json").write_text(json.dumps(result.to_dict(), indent=2))
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        return EXIT_OK
    if not _State.quiet:
        console.print(f"[bold]{instrument.title}[/] ({instrument.id} {instrument.version}): "
                      f"{len(frame)} respondents, file {responses_path}")
    console.print(_table(result.scales, "Reliability per scale", index_name="scale"))
    columns = [c for c in ITEM_COLUMNS if c in result.items.columns]
    console.print(_table(result.items[columns], "Item analysis", index_name="item"))
    if result.messages and not _State.quiet:
        for message in result.messages:
            error_console.print(f"[yellow]warning:[/] {message}", highlight=False)
    if output is not None and not _State.quiet:
        console.print(f"Tables written to {output}/ (scales.csv, items.csv, analysis.json)")
    return EXIT_OK


@app.command()
@_reports_errors
def analyze(
    responses: Annotated[Path, typer.Argument(help="Response file: CSV, Parquet or SPSS .sav.", exists=True,
                                              dir_okay=False)],
    instrument: Annotated[str, typer.Option("--instrument", "-i",
                                            help="Instrument file (YAML/JSON) or a bundled instrument id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Folder for CSV/JSON tables.")] = None,
    missing: Annotated[str, typer.Option(help="Missing-data handling: pairwise or listwise.")] = "pairwise",
) -> None:
    """Item analysis and reliability per scale of an instrument."""
    raise typer.Exit(_run_analysis(responses, instrument, as_json=as_json, output=output, missing=missing))


@app.command()
@_reports_errors
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Folder for CSV/JSON tables.")] = None,
) -> None:
    """Analyse the bundled soft-skills-7 instrument on its simulated sample data."""
    from psychometrics.instrument import bundled_sample

    raise typer.Exit(_run_analysis(bundled_sample("soft-skills-7"), "soft-skills-7", as_json=as_json,
                                   output=output, missing="pairwise"))


@instrument_app.command("validate")
@_reports_errors
def instrument_validate(
    path: Annotated[Path, typer.Argument(help="Instrument file (YAML or JSON).", exists=True, dir_okay=False)],
) -> None:
    """Check an instrument file against the schema and its internal consistency."""
    from psychometrics.instrument import Instrument

    instrument = Instrument.load(path)
    n_items = len(instrument.items)
    console.print(f"[green]valid:[/] {instrument.id} {instrument.version}: {len(instrument.scales)} scales, "
                  f"{n_items} items", highlight=False)


@instrument_app.command("schema")
@_reports_errors
def instrument_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the schema to this file.")] = None,
) -> None:
    """Print the JSON Schema of instrument files."""
    from psychometrics.instrument import Instrument

    text = json.dumps(Instrument.json_schema(), indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text + "\n")


@instrument_app.command("list")
@_reports_errors
def instrument_list() -> None:
    """List the bundled instruments."""
    from psychometrics.instrument import Instrument, list_bundled

    table = Table(title="Bundled instruments", title_justify="left", header_style="bold")
    for column in ("id", "version", "title", "scales", "items"):
        table.add_column(column)
    for name in list_bundled():
        inst = Instrument.bundled(name)
        table.add_row(inst.id, str(inst.version), inst.title, str(len(inst.scales)), str(len(inst.items)))
    console.print(table)
