"""``calibrate`` on Parquet files read by Dask: a glob of files, a scheduler or a local cluster."""

from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import typer

from psychometrics.cli._app import (
    EXIT_FINDINGS,
    EXIT_OK,
    collected_warnings,
    console,
    dump_json,
    note,
    print_warnings,
    progress_bar,
    quiet,
    table,
)


def wanted(responses: str, scheduler: str | None, workers: int | None) -> bool:
    """Dask reads the data when asked for a scheduler or workers, or given a glob of files."""
    return scheduler is not None or workers is not None or glob.has_magic(responses)


def existing_file(responses: str) -> Path:
    path = Path(responses)
    if not path.is_file():
        raise typer.BadParameter(f"file {responses!r} does not exist (a glob of Parquet files must match some)",
                                 param_hint="'RESPONSES'")
    return path


def calibrate_files(responses: str, output: Path, *, model: str | None, scale: list[str] | None,
                    instrument: str | None, scheduler: str | None, workers: int | None,
                    progress: Any, as_json: bool, **settings: Any) -> None:
    """Calibrate one scale from Parquet files on Dask and write the item bank."""
    from psychometrics import irt
    from psychometrics.bank import ItemBank
    from psychometrics.distributed.cluster import connect, read_responses

    if instrument is not None:
        raise ValueError("--instrument keys the data in memory; it cannot be combined with Dask input "
                         "(--scheduler, --workers or a glob of files): key the files first")
    if scale and len(scale) > 1:
        raise ValueError("Dask input forms one scale; give at most one --scale name")
    if glob.has_magic(responses) and not glob.glob(responses):
        raise typer.BadParameter(f"no file matches {responses!r}", param_hint="'RESPONSES'")
    name = scale[0] if scale else "all"
    model = model or "graded"
    with connect(scheduler, workers):
        data = read_responses(responses)
        with progress_bar(disable=quiet(as_json)) as bar:
            task = bar.add_task(f"{name} ({model}, {data.npartitions} partitions)", total=1.0, detail="")
            with collected_warnings() as caught:
                calibration = irt.calibrate(data, model, callback=progress(bar, task, settings["tol"]),
                                            **settings)
            print_warnings(caught)
    ItemBank(scales={name: calibration}, models={name: model}).save(output)
    row = {"model": model, "n_items": calibration.n_items, "n_persons": calibration.n_persons,
           "loglik": calibration.loglik, "aic": calibration.aic, "bic": calibration.bic,
           "n_iter": calibration.n_iter, "converged": bool(calibration.converged)}
    if as_json:
        sys.stdout.write(dump_json({"bank": str(output.resolve()), "instrument": None, "scales": {name: row}}))
    else:
        summary = pd.DataFrame.from_dict({name: row}, orient="index")
        summary.index.name = "scale"
        console.print(table(summary, "Calibration per scale", index_name="scale"))
        note(f"Item bank written to {output.resolve()}")
    raise typer.Exit(EXIT_OK if calibration.converged else EXIT_FINDINGS)
