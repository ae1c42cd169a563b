"""The HTML report of a simulated adaptive test (:func:`psychometrics.cat.simulate`).

One self-contained page, like the validation report: the design, the summary numbers, and
three figures with their data tables: the distribution of test lengths, item exposure
rates, and bias and RMSE conditional on theta (with the mean SE). Content proportions are
shown when the pool has content areas.

jinja2 and matplotlib (``pip install 'psychometrics[report]'``) are imported here only.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from psychometrics.report import _chart_context, _environment, table_context
from psychometrics.report.figures import PALETTE, Chart, _figure, _pyplot, _to_svg
from psychometrics.storage import atomic_write_text

if TYPE_CHECKING:
    from psychometrics.cat import SimulationResult

__all__ = ["render_cat", "length_histogram", "exposure_plot", "conditional_plot"]


def length_histogram(result: "SimulationResult", *, chart_id: str) -> Chart:
    """Bar chart of how many examinees took tests of each length."""
    plt = _pyplot()
    counts = result.length.value_counts().sort_index()
    fig, axes, style = _figure(1, 1, panel=(5.2, 2.8))
    ax = axes[0]
    with plt.rc_context(style):
        ax.bar(counts.index.to_numpy(), counts.to_numpy(), color=PALETTE[0], width=0.8)
        ax.axvline(result.mean_length, color=PALETTE[3], linestyle="--", linewidth=1.2,
                   label=f"mean {result.mean_length:.1f} items")
        ax.set_xlabel("items given")
        ax.set_ylabel("examinees")
        ax.legend(loc="best")
        fig.tight_layout()
    title = "Test length distribution"
    description = (f"Number of examinees (bars) by the number of items they were given, from "
                   f"{int(counts.index.min())} to {int(counts.index.max())}; the dashed line marks the mean "
                   f"of {result.mean_length:.2f} items.")
    table = pd.DataFrame({"examinees": counts.to_numpy(), "share": counts.to_numpy() / result.n_examinees},
                         index=pd.Index(counts.index, name="items given"))
    return Chart(chart_id, title, description,
                 "Test lengths: a stopping rule on the standard error gives shorter tests where the pool "
                 "measures well and longer ones where it does not.",
                 _to_svg(fig, chart_id, title, description), [("Examinees by test length", table)])


def exposure_plot(result: "SimulationResult", *, chart_id: str) -> Chart:
    """Exposure rate of every item, sorted from the most to the least exposed."""
    plt = _pyplot()
    exposure = result.exposure.sort_values(ascending=False)
    fig, axes, style = _figure(1, 1, panel=(5.2, 2.8))
    ax = axes[0]
    rank = np.arange(1, exposure.size + 1)
    with plt.rc_context(style):
        ax.plot(rank, exposure.to_numpy(), color=PALETTE[0], linewidth=1.4, label="exposure rate")
        ax.axhline(result.mean_length / len(result.item_ids), color=PALETTE[2], linestyle=":", linewidth=1.2,
                   label="even use (mean length / pool size)")
        ax.set_xlabel("items, most exposed first")
        ax.set_ylabel("share of examinees")
        ax.set_ylim(0, max(1.0, float(exposure.max())) * 1.02)
        ax.legend(loc="best")
        fig.tight_layout()
    title = "Item exposure"
    description = (f"Exposure rate (share of examinees given the item) of the {exposure.size} items, sorted "
                   f"from the highest ({exposure.iloc[0]:.3f}) down; {int((exposure == 0).sum())} items were "
                   "given to nobody.")
    top = exposure.head(30).to_frame("exposure")
    return Chart(chart_id, title, description,
                 "Item exposure: a steep curve means a few items are seen by most examinees (a security risk) "
                 "and many are never used.",
                 _to_svg(fig, chart_id, title, description), [("The 30 most exposed items", top)])


def conditional_plot(result: "SimulationResult", *, chart_id: str) -> Chart:
    """Bias, RMSE and mean SE by band of the true theta."""
    plt = _pyplot()
    table = result.conditional()
    shown = table[table["n"] > 0]
    fig, axes, style = _figure(1, 1, panel=(5.2, 3.0))
    ax = axes[0]
    x = shown["mean_theta"].to_numpy()
    with plt.rc_context(style):
        ax.plot(x, shown["rmse"], marker="o", markersize=3.5, color=PALETTE[0], label="RMSE")
        ax.plot(x, shown["mean_se"], marker="s", markersize=3.0, linestyle="--", color=PALETTE[2], label="mean SE")
        ax.plot(x, shown["bias"], marker="^", markersize=3.5, linestyle="-.", color=PALETTE[3], label="bias")
        ax.axhline(0, color="#777777", linewidth=0.5)
        ax.set_xlabel("true theta (band mean)")
        ax.set_ylabel("theta units")
        ax.legend(loc="best", ncol=3)
        fig.tight_layout()
    title = "Conditional RMSE and bias"
    description = (f"RMSE (solid), mean standard error (dashed) and bias (dash-dot) of the final estimate in "
                   f"{len(shown)} bands of the true theta; overall RMSE {result.rmse:.3f}, bias {result.bias:.3f}.")
    return Chart(chart_id, title, description,
                 "Conditional precision: where RMSE rises at the extremes the pool lacks items there; bias "
                 "toward the mean is expected of EAP estimates.",
                 _to_svg(fig, chart_id, title, description), [("Bias, RMSE, SE and length by theta band", table)])


def render_cat(result: "SimulationResult", path: str | os.PathLike[str] | None = None, *,
               title: str = "Adaptive test simulation", bank_label: str = "") -> str:
    """The HTML page of a CAT simulation; also written (atomically) to ``path`` when given.

    Parameters
    ----------
    result : SimulationResult
        From :func:`psychometrics.cat.simulate`.
    path : str or path, optional
        Where to write the page.
    title : str
        Page title.
    bank_label : str
        How to name the item pool on the page (e.g. the bank file).

    Returns
    -------
    str
        The complete HTML document.
    """
    from psychometrics import __version__

    stats = result.statistics()
    numbers = pd.DataFrame({"value": pd.Series(stats, dtype=object)})
    numbers.index.name = "statistic"
    options = result.options
    stop = options["stop"]
    design_rows: dict[str, Any] = {
        "items in the pool": len(result.item_ids), "selection": options["selection"],
        "scoring": options["scoring"], "start theta": options["start_theta"],
        "stop: SE": stop["se"], "stop: min items": stop["min_items"], "stop: max items": stop["max_items"],
    }
    if stop.get("cut") is not None:
        design_rows.update({"cut": stop["cut"], "classification": stop["classification"]})
    exposure = options.get("exposure")
    if exposure is None:
        design_rows["exposure control"] = "none"
    elif "randomesque" in exposure:
        design_rows["exposure control"] = f"randomesque ({exposure['randomesque']} best)"
    else:
        design_rows["exposure control"] = "Sympson-Hetter"
    if options.get("enemies"):
        design_rows["enemy sets"] = len(options["enemies"])
    design = pd.DataFrame({"value": pd.Series(design_rows, dtype=object)})
    design.index.name = "setting"
    charts = [_chart_context(length_histogram(result, chart_id="fig-length"), narrow=True),
              _chart_context(exposure_plot(result, chart_id="fig-exposure"), narrow=True),
              _chart_context(conditional_plot(result, chart_id="fig-conditional"), narrow=True)]
    content = result.content_proportions()
    context = {
        "title": title, "version": __version__, "bank": bank_label,
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "n_examinees": result.n_examinees,
        "design": table_context(design, table_id="table-design", caption="Design of the simulated test"),
        "numbers": table_context(numbers, table_id="table-summary", caption="Summary of the simulation"),
        "content": None if content is None else table_context(
            content, table_id="table-content", caption="Content areas: target and observed proportions, items "
                                                       "per examinee"),
        "charts": charts,
    }
    page = _environment().get_template("cat.html.j2").render(**context)
    if path is not None:
        atomic_write_text(path, page)
    return page
