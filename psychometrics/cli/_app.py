"""The typer application and what every command shares: consoles, errors, tables, progress, files."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import traceback
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
#: Exit status of a command stopped with Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


class _State:
    debug = False
    quiet = False


class MissingExtra(PsychometricsError):
    """An optional dependency group (``pip install 'psychometrics[extra]'``) is not installed."""


F = TypeVar("F", bound=Callable[..., Any])


def _print_error(head: str, rest: list[str], *, kind: str, as_json: bool) -> None:
    if as_json:
        # with --json, stdout carries JSON whatever happens: a caller parses it, not a person
        sys.stdout.write(json.dumps({"error": {"type": kind, "message": "\n".join([head, *rest]),
                                               "exit_code": EXIT_ERROR}}, indent=2) + "\n")
        return
    error_console.print(f"[bold red]error:[/] {kind}: {escape(head)}", highlight=False)
    for line in rest:
        error_console.print(f"  {escape(line)}", highlight=False)


def reports_errors(func: F) -> F:
    """Turn expected failures (bad data, bad files) into one line on stderr and exit code 2.

    With ``--json`` the error is a JSON object on stdout (``{"error": {"type", "message",
    "exit_code"}}``). Ctrl-C prints "interrupted" and exits 130; results are written
    atomically, so no partial file is left. ``--debug`` adds the traceback and keeps the exit
    codes.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json", False))
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            # the reader went away (``| head``); stop quietly instead of failing on the next flush
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(EXIT_OK) from None
        except KeyboardInterrupt:
            error_console.print("interrupted", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (PsychometricsError, ValueError, OSError, KeyError) as exc:
            if _State.debug:
                traceback.print_exc(file=sys.stderr)
            message = str(exc).strip().splitlines()
            head = message[0] if message else type(exc).__name__
            if isinstance(exc, KeyError) and len(exc.args) == 1:
                head = str(exc.args[0])  # str(KeyError) wraps the message in quotes
            _print_error(head, message[1:], kind=type(exc).__name__, as_json=as_json)
            raise typer.Exit(EXIT_ERROR) from None
        except Exception as exc:  # a bug, not bad input: still one line, and the way to see more
            if isinstance(exc, (typer.Exit, typer.Abort)) or type(exc).__module__.startswith(("click", "typer")):
                raise
            if _State.debug:
                traceback.print_exc(file=sys.stderr)
            text = str(exc).strip().splitlines()
            head = f"{text[0]}" if text else ""
            _print_error(head + ("" if _State.debug else " (run with --debug for the traceback)"), [],
                         kind=f"unexpected {type(exc).__name__}", as_json=as_json)
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
IdColumnOption = Annotated[str | None, typer.Option(
    "--id-column", help="Column of respondent ids (default: the instrument's, or the one column that looks "
                        "like ids).", rich_help_panel="Reading the file")]
ItemsOption = Annotated[str | None, typer.Option(
    "--items", help="Comma-separated item columns; the other columns are kept as data, not items.",
    rich_help_panel="Reading the file")]
ExcludeOption = Annotated[str | None, typer.Option(
    "--exclude", help="Comma-separated columns that are not items (demographics, dates, comments).",
    rich_help_panel="Reading the file")]
MissingCodesOption = Annotated[str | None, typer.Option(
    "--missing-codes", help="Comma-separated codes meaning no answer, e.g. -9,99 (added to the instrument's).",
    rich_help_panel="Reading the file")]
SepOption = Annotated[str | None, typer.Option(
    "--sep", help="Field separator of a text file (default: comma, tab for .tsv); '\\t' for tab.",
    rich_help_panel="Reading the file")]
EncodingOption = Annotated[str | None, typer.Option(
    "--encoding", help="Text encoding of the file (default UTF-8), e.g. latin-1 or cp1252.",
    rich_help_panel="Reading the file")]
MaxCategoriesOption = Annotated[int, typer.Option(
    "--max-categories", help="Widest category range inferred from the data; raise it for sliders (101 for 0-100).",
    rich_help_panel="Reading the file")]


# ------------------------------------------------------------------------------ output

#: Short column headings for people; the JSON and CSV outputs keep the field names.
LABELS = {
    "n_items": "items", "n_persons": "persons", "alpha_ci_low": "CI low", "alpha_ci_high": "CI high",
    "standardized_alpha": "std. alpha", "lambda6": "lambda6", "split_half": "split-half", "sem": "SEM",
    "missing_rate": "missing", "difficulty": "difficulty", "r_drop": "r.drop",
    "alpha_if_deleted": "alpha if del.", "discrimination": "discr.", "omega_cfa": "omega (CFA)",
    "marginal_reliability": "marginal rxx", "n_flagged_items": "flagged items",
    "marginal_reliability_mirt": "marginal rxx (MIRT)", "marginal_profile": "marginal rxx (MIRT)",
    "marginal_alone": "marginal rxx (alone)", "se_profile": "mean SE (MIRT)", "se_alone": "mean SE (alone)",
    "se_gain": "SE gain",
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
    """Plain JSON values: numpy scalars as Python ones, NaN (no estimate) as None, infinities as
    the strings ``"inf"`` and ``"-inf"`` (an ML estimate of a perfect pattern is not "no estimate")."""
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def dump_json(payload: Any) -> str:
    """Strict JSON text (NaN, which JSON lacks, becomes null; infinities become "inf"/"-inf")."""
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
    if candidate.suffix.lower() in {".yaml", ".yml", ".json"} or os.sep in path or "/" in path:
        raise FileNotFoundError(f"instrument file {path!r} does not exist")
    return Instrument.bundled(path)


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    return [part for part in parts if part]


def _code(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def read_options(*, id_column: str | None = None, items: str | None = None, exclude: str | None = None,
                 missing_codes: str | None = None, sep: str | None = None, encoding: str | None = None,
                 max_categories: int | None = None, also_exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The reading options of a command as keyword arguments of ``load_responses``."""
    excluded = (_split(exclude) or []) + [name for name in also_exclude if name]
    options: dict[str, Any] = {"id_column": id_column, "items": _split(items), "exclude": excluded or None,
                               "missing_codes": [_code(c) for c in _split(missing_codes) or []],
                               "sep": sep, "encoding": encoding}
    if max_categories is not None:
        options["max_categories"] = max_categories
    return options


def load_data(path: Path, instrument: Any, options: dict[str, Any], *, warn: bool = True) -> Any:
    """Responses from a file: keyed by ``instrument`` when there is one, with the reading options."""
    from psychometrics.data import load_responses

    options = dict(options)
    if instrument is not None:
        options.pop("max_categories", None)
        options["missing_codes"] = list(instrument.missing_codes) + list(options["missing_codes"])
        return instrument.prepare(path, warn=warn, **options)
    return load_responses(path, warn=warn, **options)


def check_output(path: Path | None, *, what: str = "output file", folder: bool = False) -> None:
    """Fail before computing when ``path`` cannot be written: no such folder, a folder in the way..."""
    if path is None:
        return
    if folder:
        if path.exists() and not path.is_dir():
            raise OSError(f"{what} {str(path)!r} exists and is not a folder")
        parent = path if path.exists() else path.parent
    else:
        if path.is_dir():
            raise OSError(f"{what} {str(path)!r} is a folder; give a file name")
        parent = path.parent
    parent = parent if str(parent) else Path(".")
    if not folder and not parent.is_dir():
        raise OSError(f"cannot write {what} {str(path)!r}: folder {str(parent)!r} does not exist")
    while folder and not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise OSError(f"cannot write {what} {str(path)!r}: folder {str(parent)!r} is not writable")


def read_table(path: Path) -> pd.DataFrame:
    from psychometrics.data import read_table as _read

    return _read(path)


def require_report_extra() -> None:
    """Fail early, before a long computation, when the report cannot be rendered."""
    import importlib.util

    missing = []
    try:
        import jinja2  # noqa: F401
    except ModuleNotFoundError:
        missing.append("jinja2")
    # looked up, not imported: importing matplotlib takes ~1 s, and the validation report's
    # figures are written as SVG without it
    if importlib.util.find_spec("matplotlib") is None:
        missing.append("matplotlib")
    if missing:
        raise MissingExtra(f"the HTML report needs {' and '.join(missing)}: "
                           "pip install 'psychometrics[report]' (or the 'cli' extra, which includes it)")
