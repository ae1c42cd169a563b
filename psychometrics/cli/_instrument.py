"""``instrument validate|schema|list``: instrument definitions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from psychometrics.cli._app import (
    EncodingOption,
    ExcludeOption,
    IdColumnOption,
    ItemsOption,
    MaxCategoriesOption,
    MissingCodesOption,
    ResponsesArgument,
    SepOption,
    check_output,
    collected_warnings,
    console,
    instrument_app,
    print_warnings,
    read_options,
    reports_errors,
)
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


@instrument_app.command("init")
@reports_errors
def instrument_init(
    responses: ResponsesArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="Instrument file to write (.yaml or .json).",
                                         dir_okay=False)],
    instrument_id: Annotated[str, typer.Option("--id", help="Id of the drafted instrument.")] = "draft",
    title: Annotated[str | None, typer.Option(help="Title of the drafted instrument.")] = None,
    id_column: IdColumnOption = None,
    items: ItemsOption = None,
    exclude: ExcludeOption = None,
    missing_codes: MissingCodesOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    max_categories: MaxCategoriesOption = 20,
) -> None:
    """Draft an instrument from a data file: id column, items with their observed codes, other
    columns as data columns, scales from item-name prefixes, TODO placeholders for the texts.

    The draft is accepted by 'psychometrics validate DATA -i DRAFT' as written.
    """
    from psychometrics.authoring import draft_instrument

    check_output(output, what="instrument file")
    options = read_options(id_column=id_column, items=items, exclude=exclude, missing_codes=missing_codes, sep=sep,
                           encoding=encoding, max_categories=max_categories)
    with collected_warnings() as caught:
        draft = draft_instrument(responses, instrument_id=instrument_id, title=title, **options)
    print_warnings(caught)
    draft.save(output)
    console.print(f"[green]drafted:[/] {escape(str(output))}: {len(draft.scales)} scale(s), {len(draft.items)} "
                  f"items, id column {escape(str(draft.id_column))}; fill in the TODOs (texts, keying)",
                  highlight=False)
