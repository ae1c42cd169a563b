"""The typer application and what every command shares: consoles, errors, tables, progress, files."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

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

# Piped output (files, CI logs) is not limited to rich's default 80 columns. Progress bars and
# warnings go to stderr so that stdout carries only results (tables, JSON, CSV).
console = Console(width=None if sys.stdout.isatty() else 160)
error_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _State:
    debug = False
    quiet = False


class MissingExtra(PsychometricsError):
    """An optional dependency group (``pip install 'psychometrics[extra]'``) is not installed."""


F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn expected failures (bad data, bad files) into one line on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            # the reader went away (``| head``); stop quietly instead of failing on the next flush
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(EXIT_OK) from None
        except (PsychometricsError, ValueError, OSError, KeyError) as exc:
            if _State.debug:
                raise
            message = str(exc).strip().splitlines()
            head = message[0] if message else type(exc).__name__
            if isinstance(exc, KeyError) and len(exc.args) == 1:
                head = str(exc.args[0])  # str(KeyError) wraps the message in quotes
            error_console.print(f"[bold red]error:[/] {type(exc).__name__}: {escape(head)}", highlight=False)
            for line in message[1:]:
                error_console.print(f"  {escape(line)}", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None
        except Exception as exc:  # a bug, not bad input: still one line, and the way to see more
            if _State.debug or isinstance(exc, (typer.Exit, typer.Abort)) \
                    or type(exc).__module__.startswith(("click", "typer")):
                raise
            text = str(exc).strip().splitlines()
            head = f": {text[0]}" if text else ""
            error_console.print(f"[bold red]error:[/] unexpected {type(exc).__name__}{escape(head)} "
                                "(run with --debug for the traceback)", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress bars or notes: results and errors only.")] = False,
) -> None:
    _State.debug = debug
    _State.quiet = quiet


def quiet(as_json: bool = False) -> bool:
    """Whether progress bars and notes are off (``--quiet`` before or after the command, or ``--json``)."""
    return _State.quiet or as_json


# ------------------------------------------------------------------------------ options

QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or notes.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]
InstrumentOption = Annotated[str, typer.Option("--instrument", "-i",
                                               help="Instrument file (YAML/JSON) or a bundled instrument id.")]
SeedOption = Annotated[int, typer.Option(help="Seed of the parallel analysis.")]
ResponsesArgument = Annotated[Path, typer.Argument(help="Response file: CSV, Parquet or SPSS .sav.", exists=True,
                                                   dir_okay=False)]


# ------------------------------------------------------------------------------ output

#: Short column headings for people; the JSON and CSV outputs keep the field names.
LABELS = {
    "n_items": "items", "n_persons": "persons", "alpha_ci_low": "CI low", "alpha_ci_high": "CI high",
    "standardized_alpha": "std. alpha", "lambda6": "lambda6", "split_half": "split-half", "sem": "SEM",
    "missing_rate": "missing", "difficulty": "difficulty", "r_drop": "r.drop",
    "alpha_if_deleted": "alpha if del.", "discrimination": "discr.", "omega_cfa": "omega (CFA)",
    "marginal_reliability": "marginal rxx", "n_flagged_items": "flagged items",
}


def table(frame: pd.DataFrame, title: str, *, index_name: str | None = None, digits: int = 3) -> Table:
    """A rich table of a DataFrame, numbers rounded for reading only."""
    out = Table(title=title, title_justify="left", header_style="bold")
    out.add_column(index_name or frame.index.name or "")
    for column in frame.columns:
        out.add_column(LABELS.get(str(column), str(column)), justify="right")
    for key, row in frame.iterrows():
        cells: list[str | Text] = [escape(str(key))]
        for value in row:
            if isinstance(value, Text):
                cells.append(value)
            elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (float, int, np.number)):
                cells.append(escape(str(value)))
            elif isinstance(value, (int, np.integer)):
                cells.append(str(int(value)))
            elif pd.isna(value):
                cells.append("")
            elif math.isinf(value):
                cells.append("inf" if value > 0 else "-inf")
            elif float(value).is_integer() and abs(value) >= 1:
                cells.append(f"{int(value)}")
            else:
                text = f"{value:.{digits}f}"
                # a tiny negative mean is not a finding: show -0.000 as 0.000
                cells.append(text[1:] if text.startswith("-") and float(text) == 0 else text)
        out.add_row(*cells)
    return out


def _finite(value: Any) -> Any:
    """Plain JSON values: numpy scalars as Python ones, NaN and infinities (no estimate) as None."""
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dump_json(payload: Any) -> str:
    """Strict JSON text (NaN and infinities, which JSON lacks, become null)."""
    return json.dumps(_finite(payload), indent=2, allow_nan=False, default=str) + "\n"


def note(message: str, *, as_json: bool = False) -> None:
    """An informational line on stderr, silenced by ``--quiet`` and ``--json``."""
    if not quiet(as_json):
        error_console.print(escape(message), highlight=False)


def warn(message: str) -> None:
    """A warning line on stderr (kept under ``--quiet``: it may change how results are read)."""
    error_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


@contextlib.contextmanager
def collected_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Collect the library's warnings so they print as one ``warning:`` line each, not as Python's."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def print_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    for item in caught:
        text = str(item.message)
        if text not in seen:
            seen.add(text)
            warn(text)


def progress_bar(*, disable: bool) -> Progress:
    """The progress display of long steps, on stderr, erased when done.

    Off when stderr is not a terminal (CI logs, pipes): a bar redrawn into a log file is noise.
    """
    disable = disable or not error_console.is_terminal
    return Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                    TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=error_console,
                    transient=True, disable=disable)


@contextlib.contextmanager
def step_progress(label: str, *, disable: bool) -> Iterator[Callable[[str, float], None]]:
    """A progress bar over named steps; yields the ``progress(step, fraction)`` callback that
    :func:`psychometrics.validation.validate` and ``factor_structure`` take."""
    with progress_bar(disable=disable) as bar:
        task = bar.add_task(label, total=1.0, detail="")

        def progress(step: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=step, detail=f"{100 * fraction:3.0f}%")

        yield progress


# ------------------------------------------------------------------------------ files

def load_instrument(path: str) -> Any:
    """An instrument from a file, or a bundled one by id."""
    from psychometrics.instrument import Instrument

    candidate = Path(path)
    if candidate.exists():
        return Instrument.load(candidate)
    return Instrument.bundled(path)


def read_table(path: Path) -> pd.DataFrame:
    from psychometrics.data import read_table as _read

    return _read(path)


def require_report_extra() -> None:
    """Fail early, before a long computation, when the report cannot be rendered."""
    missing = []
    for module in ("jinja2", "matplotlib"):
        try:
            __import__(module)
        except ModuleNotFoundError:
            missing.append(module)
    if missing:
        raise MissingExtra(f"the HTML report needs {' and '.join(missing)}: "
                           "pip install 'psychometrics[report]' (or the 'cli' extra, which includes it)")
