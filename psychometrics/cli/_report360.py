"""``report360``: the individual 360-degree feedback report of one target, or of every target."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from psychometrics.cli._app import (
    EXIT_OK,
    InstrumentOption,
    JsonOption,
    QuietOption,
    ResponsesArgument,
    _State,
    app,
    collected_warnings,
    console,
    dump_json,
    load_instrument,
    print_warnings,
    progress_bar,
    quiet,
    read_table,
    reports_errors,
    require_report_extra,
)


@app.command()
@reports_errors
def report360(
    ratings: ResponsesArgument,
    instrument: InstrumentOption,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Target id of the report.")] = None,
    all_targets: Annotated[bool, typer.Option("--all", help="One report per target, written into the folder "
                                                            "given by --output.")] = False,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file (with --target) or folder (with --all).")]
    = Path("report360.html"),  # with --all: give a folder
    team: Annotated[Path | None, typer.Option("--team", help="Also write the team heat map (targets x "
                                                             "competencies) to this HTML file.", dir_okay=False)]
    = None,
    adjusted: Annotated[bool, typer.Option("--adjusted", help="Team heat map of severity-adjusted measures "
                                                              "(many-facet Rasch model) instead of others' means.")]
    = False,
    threshold: Annotated[float, typer.Option(help="Gap (rating points) that flags a blind spot or hidden "
                                                  "strength.")] = 0.5,
    min_raters: Annotated[int, typer.Option(help="Smallest rater group shown separately (at least 3).")] = 3,
    as_json: JsonOption = False,
    quiet_: QuietOption = False,
) -> None:
    """Individual 360-degree feedback report: self against others by competency, rater groups, gaps, blind spots,
    hidden strengths; rater groups of fewer than --min-raters raters are never shown separately."""
    _State.quiet = _State.quiet or quiet_
    if (target is None) == (not all_targets):
        raise typer.BadParameter("give either --target T or --all")
    if all_targets and output.suffix.lower() in (".html", ".htm"):
        raise typer.BadParameter(f"with --all, --output is a folder for one page per target, got {output}")
    require_report_extra()
    from psychometrics.raters import feedback
    from psychometrics.report.feedback360 import render_feedback, render_team, write_feedback_reports

    form = load_instrument(instrument)
    frame = read_table(ratings)
    with collected_warnings() as caught:
        result = feedback(frame, form, threshold=threshold, min_raters=min_raters)
        with progress_bar(disable=quiet(as_json)) as bar:
            bar.add_task("writing reports", total=None, detail=str(output))
            if all_targets:
                paths = write_feedback_reports(result, output)
            else:
                # ids in a CSV may read as numbers; the command line gives text
                labels = {str(t): t for t in result.targets}
                if target not in labels:
                    raise KeyError(f"target {target!r} is not in {ratings.name} (targets such as "
                                   f"{', '.join(list(labels)[:3])})")
                render_feedback(result, labels[target], output)
                paths = [output]
            if team is not None:
                render_team(result, team, measure="adjusted" if adjusted else "others")
    if not as_json:
        print_warnings(caught)
    profile = result.profile
    flagged = profile[profile["flag"] != ""]
    if not all_targets:
        flagged = flagged.xs(labels[target], level="target", drop_level=False)
    if as_json:
        payload = {"reports": [str(p.resolve()) for p in paths], "team": None if team is None else str(team.resolve()),
                   "threshold": result.threshold, "min_raters": result.min_raters,
                   "flags": [{"target": str(t), "competency": c, "flag": row["flag"], "gap": row["gap"]}
                             for (t, c), row in flagged.iterrows()]}
        sys.stdout.write(dump_json(payload))
    else:
        console.print(f"{len(paths)} report(s) written to {escape(str(output.resolve()))}; "
                      f"{int((flagged['flag'] == 'blind spot').sum())} blind spot(s), "
                      f"{int((flagged['flag'] == 'hidden strength').sum())} hidden strength(s) "
                      f"(gap threshold {result.threshold:g})", highlight=False)
        if team is not None:
            console.print(f"Team heat map written to {escape(str(team.resolve()))}", highlight=False)
    raise typer.Exit(EXIT_OK)
