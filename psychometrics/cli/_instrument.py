"""``instrument validate|schema|list``: instrument definitions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from psychometrics.cli._app import console, instrument_app, reports_errors
from psychometrics.storage import atomic_write_text


@instrument_app.command("validate")
@reports_errors
def instrument_validate(
    path: Annotated[Path, typer.Argument(help="Instrument file (YAML or JSON).", exists=True, dir_okay=False)],
) -> None:
    """Check an instrument file against the schema and its internal consistency."""
    from psychometrics.instrument import Instrument

    instrument = Instrument.load(path)
    n_items = len(instrument.items)
    console.print(f"[green]valid:[/] {instrument.id} {escape(str(instrument.version))}: "
                  f"{len(instrument.scales)} scales, "
                  f"{n_items} items", highlight=False)


@instrument_app.command("schema")
@reports_errors
def instrument_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the schema to this file.")] = None,
) -> None:
    """Print the JSON Schema of instrument files."""
    from psychometrics.instrument import Instrument

    text = json.dumps(Instrument.json_schema(), indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        atomic_write_text(output, text + "\n")


@instrument_app.command("list")
@reports_errors
def instrument_list() -> None:
    """List the bundled instruments."""
    from psychometrics.instrument import Instrument, list_bundled

    out = Table(title="Bundled instruments", title_justify="left", header_style="bold")
    for column in ("id", "version", "title", "scales", "items"):
        out.add_column(column)
    for name in list_bundled():
        inst = Instrument.bundled(name)
        out.add_row(inst.id, escape(str(inst.version)), escape(inst.title), str(len(inst.scales)), str(len(inst.items)))
    console.print(out)
