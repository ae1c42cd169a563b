"""``cat simulate``: simulate an adaptive test on an item bank, print its summary, write its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from psychometrics.cli._app import (
    JsonOption,
    QuietOption,
    _State,
    app,
    collected_warnings,
    console,
    dump_json,
    note,
    print_warnings,
    quiet,
    require_report_extra,
    reports_errors,
    table,
)

cat_app = typer.Typer(help="Computerized adaptive testing: simulate a design on an item bank.", no_args_is_help=True)
app.add_typer(cat_app, name="cat")


def _content(text: str | None) -> dict[str, float] | None:
    """``area=0.5,other=0.5`` -> {area: 0.5, other: 0.5}."""
    if text is None:
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"--content: expected area=proportion pairs separated by commas, got {part!r}")
    return out


@cat_app.command("simulate")
@reports_errors
def simulate_command(
    bank: Annotated[Path, typer.Option("--bank", "-b", help="Item bank written by 'psychometrics calibrate'.",
                                       exists=True, dir_okay=False)],
    n: Annotated[int, typer.Option("--n", min=1, help="Simulated examinees, theta ~ N(theta-mean, theta-sd).")] = 1000,
    stop_se: Annotated[float | None, typer.Option("--stop-se", help="Stop once the SE is at most this.")] = None,
    min_items: Annotated[int, typer.Option("--min-items", min=1, help="Items before any stopping rule.")] = 1,
    max_items: Annotated[int, typer.Option("--max-items", min=1, help="Longest test (capped at the pool).")] = 30,
    selection: Annotated[str, typer.Option(
        help="mfi, kl, mpwi, mepv, progressive, random or shadow.")] = "mfi",
    randomesque: Annotated[int, typer.Option(help="Exposure control: one of the k best items (0: off).")] = 0,
    content: Annotated[str | None, typer.Option(
        help="Content proportions over the bank's scales, e.g. 'teamwork=0.5,leadership=0.5'.")] = None,
    scale: Annotated[str | None, typer.Option(help="Use one scale of the bank as the pool.")] = None,
    cut: Annotated[float | None, typer.Option(help="Pass/fail cut score on theta (classification stop).")] = None,
    classification: Annotated[str, typer.Option(help="ci or sprt (with --cut).")] = "ci",
    scoring: Annotated[str, typer.Option(help="Reported score: eap, map, wle or ml.")] = "eap",
    theta_mean: Annotated[float, typer.Option(help="Mean of the simulated thetas.")] = 0.0,
    theta_sd: Annotated[float, typer.Option(min=0.0, help="SD of the simulated thetas.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of thetas, answers and random choices.")] = 0,
    report: Annotated[Path | None, typer.Option("--report", "-r", help="HTML report with plots to write.",
                                                dir_okay=False)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="CSV of the examinees to write.",
                                                dir_okay=False)] = None,
    as_json: JsonOption = False,
    quiet_: QuietOption = False,
) -> None:
    """Simulate a computerized adaptive test: bias, RMSE, test length, exposure, overlap, content.

    Example: psychometrics cat simulate --bank bank.json --n 1000 --stop-se 0.3 --report cat.html
    """
    from psychometrics import cat
    from psychometrics.bank import read_bank
    from psychometrics.storage import atomic_write_text

    _State.quiet = _State.quiet or quiet_
    if report is not None:
        require_report_extra()
    item_bank = read_bank(bank)
    pool: Any = item_bank
    if scale is not None:
        if scale not in item_bank.scales:
            raise ValueError(f"--scale: '{scale}' is not a scale of the bank ({', '.join(item_bank.scales)})")
        pool = item_bank.scales[scale]
    stop: dict[str, Any] = {"min_items": min_items, "max_items": max_items}
    if stop_se is not None:
        stop["se"] = stop_se
    if cut is not None:
        stop["classification"] = classification
    rng = np.random.default_rng(seed)
    thetas = pd.Series(rng.normal(theta_mean, theta_sd, n),
                       index=pd.Index([f"e{i:0{len(str(n))}d}" for i in range(1, n + 1)], name="examinee"))
    with collected_warnings() as caught:
        result = cat.simulate(pool, thetas, selection=selection, content=_content(content), stop=stop,
                              scoring=scoring, cut=cut,
                              exposure={"randomesque": randomesque} if randomesque else None, seed=rng)
    print_warnings(caught)
    if output is not None:
        frame = result.to_frame()
        frame["items"] = frame["items"].map(" ".join)
        atomic_write_text(output, frame.to_csv())
        note(f"examinees written to {output}", as_json=as_json)
    if report is not None:
        from psychometrics.report.cat import render_cat

        render_cat(result, report, bank_label=str(bank))
        note(f"report written to {report}", as_json=as_json)
    statistics = result.statistics()
    if as_json:
        payload = {"bank": str(bank), "options": {k: v for k, v in result.options.items() if k != "areas"},
                   "statistics": statistics,
                   "conditional": result.conditional().reset_index().to_dict(orient="records"),
                   "exposure": result.exposure.to_dict()}
        content_table = result.content_proportions()
        if content_table is not None:
            payload["content"] = content_table.reset_index().to_dict(orient="records")
        console.print_json(dump_json(payload))
        return
    numbers = pd.DataFrame({"value": pd.Series(statistics, dtype=object)})
    console.print(table(numbers, f"CAT simulation: {result.n_examinees} examinees, selection {selection}",
                        index_name="statistic"))
    console.print(table(result.conditional(), "By true theta", index_name="theta band"))
    content_table = result.content_proportions()
    if content_table is not None and not quiet(as_json):
        console.print(table(content_table, "Content areas", index_name="area"))
