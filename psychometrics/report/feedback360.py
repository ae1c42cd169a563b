"""The individual 360-degree feedback report and the team heat map, as self-contained HTML.

:func:`render_feedback` writes one page per target from a
:class:`psychometrics.raters.FeedbackResult`: a spider chart of self against others (and each
role shown) by competency, the role breakdown, the gap table with the agreement among the
other raters, blind spots and hidden strengths, the items with the largest gaps and how many
raters of each role answered. Only what the result's anonymity rule lets through is drawn:
a role with fewer than ``min_raters`` raters never appears separately, and the page states
the rule. :func:`render_team` draws targets x competencies (others' mean, or
severity-adjusted measures) as a heat map.

jinja2 and matplotlib (``pip install 'psychometrics[report]'``) are imported here only.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from psychometrics.errors import ResponseError
from psychometrics.report import _chart_context, _environment, _slug, table_context
from psychometrics.report.figures import PALETTE, Chart, _figure, _pyplot, _to_svg
from psychometrics.storage import atomic_write_text

if TYPE_CHECKING:
    from psychometrics.raters._feedback import FeedbackResult

__all__ = ["render_feedback", "write_feedback_reports", "render_team", "spider_chart", "heatmap"]

#: Items listed under "largest gaps".
N_LARGEST_GAPS = 5
_DASHES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1))]


def _label(result: "FeedbackResult", key: str) -> str:
    if key == "others":
        return "Others"
    return result.labels.get(key, key.replace("_", " ").capitalize())


def spider_chart(series: dict[str, pd.Series], *, chart_id: str, title: str, scale_range: tuple[float, float],
                 labels: dict[str, str]) -> Chart:
    """Radar chart of several rater groups' competency means on the rating scale."""
    plt = _pyplot()
    first = next(iter(series.values()))
    competencies = list(first.index)
    n = len(competencies)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    closed = np.concatenate([angles, angles[:1]])
    low, high = scale_range
    fig, axes, style = _figure(1, 1, panel=(4.8, 4.4), subplot_kw={"projection": "polar"})
    ax = axes[0]
    with plt.rc_context(style):
        ax.set_theta_offset(np.pi / 2)
        ax.set_theta_direction(-1)
        for k, (name, values) in enumerate(series.items()):
            shown = values.reindex(competencies).to_numpy(dtype=np.float64)
            # a withheld or missing mean leaves a gap in the outline, never a made-up point
            ax.plot(closed, np.concatenate([shown, shown[:1]]), color=PALETTE[k % len(PALETTE)],
                    linestyle=_DASHES[k % len(_DASHES)], linewidth=2.0 if k < 2 else 1.3, marker="o",
                    markersize=3.5, label=name)
            if k == 1 and np.isfinite(shown).all():
                ax.fill(closed, np.concatenate([shown, shown[:1]]), color=PALETTE[1], alpha=0.12)
        ax.set_xticks(angles)
        ax.set_xticklabels([labels.get(c, c) for c in competencies], fontsize=7)
        ax.set_ylim(low, high)
        ax.set_yticks(np.arange(math.ceil(low), math.floor(high) + 1))
        ax.tick_params(axis="y", labelsize=6)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=min(len(series), 3))
        fig.tight_layout()
    table = pd.DataFrame({name: values.reindex(competencies) for name, values in series.items()})
    table.index = pd.Index([labels.get(c, c) for c in competencies], name="competency")
    text = "; ".join(f"{name}: " + ", ".join(f"{labels.get(c, c)} {v:.2f}" if math.isfinite(v) else
                                              f"{labels.get(c, c)} not shown" for c, v in values.items())
                     for name, values in series.items())
    description = (f"Radar chart of {n} competencies on the rating scale ({low:g} to {high:g}) for "
                   f"{', '.join(series)}. {text}.")
    return Chart(chart_id, title, description,
                 "Self against others by competency (mean ratings; a gap in a line is a mean not shown).",
                 _to_svg(fig, chart_id, title, description), [("Mean rating by competency and rater group", table)])


def heatmap(values: pd.DataFrame, *, chart_id: str, title: str, what: str, labels: dict[str, str],
            vmin: float, vmax: float) -> Chart:
    """Rows x competencies heat map (cividis), values printed in the cells."""
    plt = _pyplot()
    n_rows, n_cols = values.shape
    array = values.to_numpy(dtype=np.float64)
    fig, axes, style = _figure(1, 1, panel=(1.8 + 0.75 * n_cols, 1.2 + 0.2 * n_rows))
    ax = axes[0]
    with plt.rc_context(style):
        image = ax.imshow(np.ma.masked_invalid(array), cmap="cividis", vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(n_cols))
        ax.set_xticklabels([labels.get(c, c) for c in values.columns], rotation=40, ha="right")
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels([str(i) for i in values.index], fontsize=6)
        middle = (vmin + vmax) / 2
        if n_rows * n_cols <= 800:
            for i in range(n_rows):
                for j in range(n_cols):
                    if np.isfinite(array[i, j]):
                        ax.text(j, i, f"{array[i, j]:.1f}", ha="center", va="center", fontsize=5.5,
                                color="black" if array[i, j] > middle else "white")
        ax.spines[:].set_visible(False)
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        bar.set_label(what, fontsize=7)
        bar.ax.tick_params(labelsize=6)
        fig.tight_layout()
    description = (f"Heat map of {n_rows} targets (rows) by {n_cols} competencies (columns) of the {what}; colour "
                   f"runs from dark blue ({vmin:.1f}) to yellow ({vmax:.1f}); each cell prints its value, blank "
                   "cells are not shown (too few raters) or missing.")
    frame = values.copy()
    frame.columns = [labels.get(c, c) for c in values.columns]
    return Chart(chart_id, title, description,
                 f"Targets x competencies: {what}. Light cells are strengths, dark cells development areas.",
                 _to_svg(fig, chart_id, title, description), [(f"{what} per target and competency", frame)])


# ------------------------------------------------------------------------------ one target

def _context(result: "FeedbackResult", target: Any) -> dict[str, Any]:
    from psychometrics import __version__

    if target not in result.rater_counts.index:
        raise ResponseError(f"report360: target {target!r} is not in the ratings (targets such as "
                            f"{', '.join(map(str, result.targets[:3]))})")
    profile = result.profile.xs(target, level="target")
    competencies = result.competencies
    names = {c: _label(result, c) for c in competencies}
    shown_roles = [r for r in result.roles if profile[r].notna().any()]
    withheld = [r for r in result.roles if r not in shown_roles and profile[f"n_{r}"].max() > 0]

    series = {"Self": profile["self"], "Others": profile["others"]}
    series.update({_label(result, r): profile[r] for r in shown_roles})
    chart = spider_chart(series, chart_id="fig-spider", title=f"Self and others: {target}",
                         scale_range=result.scale_range, labels=names)

    breakdown = pd.DataFrame({"Self": profile["self"], "Others": profile["others"]})
    for r in shown_roles:
        breakdown[_label(result, r)] = profile[r]
    breakdown.index = pd.Index([names[c] for c in competencies], name="competency")

    gaps = pd.DataFrame({"self": profile["self"], "others": profile["others"], "gap": profile["gap"],
                         "flag": profile["flag"], "rwg_j": profile["rwg_j"], "n_others": profile["n_others"]})
    gaps.index = pd.Index([names[c] for c in competencies], name="competency")

    def listed(flag: str) -> list[dict[str, Any]]:
        rows = profile[profile["flag"] == flag].sort_values("gap", key=np.abs, ascending=False)
        return [{"name": names[c], "self": f"{row['self']:.2f}", "others": f"{row['others']:.2f}",
                 "gap": f"{row['gap']:+.2f}"} for c, row in rows.iterrows()]

    items = result.items.xs(target, level="target")
    items = items[items["gap"].notna()]
    largest = items.reindex(items["gap"].abs().sort_values(ascending=False).index[:N_LARGEST_GAPS])
    largest_table = pd.DataFrame({
        "item text": [result.labels.get(i, i) for i in largest.index],
        "competency": [names.get(c, c) for c in largest["competency"]],
        "self": largest["self"], "others": largest["others"], "gap": largest["gap"],
        "n_others": largest["n_others"]}, index=pd.Index(largest.index, name="item"))

    counts = result.rater_counts.loc[target]
    count_rows = []
    for r in [result.self_role] + result.roles:
        n = int(counts.get(r, 0))
        if r == result.self_role:
            status = "shown (the target's own rating)"
        elif r in shown_roles:
            status = "shown separately"
        elif n == 0:
            status = "no raters"
        else:
            status = "included in Others only"
        count_rows.append({"role": _label(result, r), "raters": n, "shown": status})
    count_table = pd.DataFrame(count_rows).set_index("role")

    n_others = int(sum(int(counts.get(r, 0)) for r in result.roles))
    return {
        "title": f"360-degree feedback: {target}",
        "target": str(target),
        "version": __version__,
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "n_others": n_others,
        "min_raters": result.min_raters,
        "threshold": f"{result.threshold:g}",
        "scale_low": f"{result.scale_range[0]:g}", "scale_high": f"{result.scale_range[1]:g}",
        "withheld": [f"{_label(result, r)} ({int(counts.get(r, 0))} rater{'s' if int(counts.get(r, 0)) != 1 else ''})"
                     for r in withheld],
        "charts": [_chart_context(chart, narrow=True)],
        "breakdown": table_context(breakdown, table_id="table-roles", caption="Mean rating by competency and rater "
                                   "group (each rater counts once)"),
        "gaps": table_context(gaps, table_id="table-gaps", caption="Self against others by competency",
                              headings={"gap": "gap (self - others)", "rwg_j": "agreement of others (rwg(J))",
                                        "n_others": "other raters"}),
        "blind_spots": listed("blind spot"),
        "hidden_strengths": listed("hidden strength"),
        "largest": table_context(largest_table, table_id="table-items",
                                 caption=f"The {len(largest_table)} items with the largest gaps",
                                 headings={"n_others": "other raters"}),
        "counts": table_context(count_table, table_id="table-counts", caption="Raters who answered, by role"),
    }


def render_feedback(result: "FeedbackResult", target: Any, path: str | os.PathLike[str] | None = None) -> str:
    """The individual 360-degree report of one target; written atomically to ``path`` when given.

    Parameters
    ----------
    result : FeedbackResult
        From :func:`psychometrics.raters.feedback`.
    target : label
        The target id.
    path : str or path, optional

    Returns
    -------
    str
        The self-contained HTML page.
    """
    page = _environment().get_template("feedback360.html.j2").render(**_context(result, target))
    if path is not None:
        atomic_write_text(path, page)
    return page


def write_feedback_reports(result: "FeedbackResult", folder: str | os.PathLike[str],
                           targets: list[Any] | None = None) -> list[Path]:
    """One page per target (``<target>.html``) in ``folder``; returns the paths written."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    seen: set[str] = set()
    for target in (result.targets if targets is None else targets):
        name = _slug(str(target))
        if name in seen:
            raise ResponseError(f"report360: targets {target!r} and another map to the same file name {name}.html")
        seen.add(name)
        path = out / f"{name}.html"
        render_feedback(result, target, path)
        paths.append(path)
    return paths


def render_team(result: "FeedbackResult", path: str | os.PathLike[str] | None = None, *,
                measure: Literal["others", "adjusted"] = "others", title: str = "Team heat map") -> str:
    """Targets x competencies heat map of the others' mean ratings or severity-adjusted measures."""
    from psychometrics import __version__

    values = result.team(measure)
    labels = {c: _label(result, c) for c in result.competencies}
    if measure == "others":
        what, vmin, vmax = "others' mean rating", *result.scale_range
    else:
        finite = values.to_numpy(dtype=np.float64)
        bound = float(np.nanmax(np.abs(finite))) if np.isfinite(finite).any() else 1.0
        what, vmin, vmax = "severity-adjusted measure (logits)", -bound, bound
    chart = heatmap(values, chart_id="fig-team", title=title, what=what, labels=labels, vmin=vmin, vmax=vmax)
    context = {"title": title, "version": __version__, "measure": measure, "what": what,
               "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "n_targets": len(values), "min_raters": result.min_raters,
               "charts": [_chart_context(chart)]}
    page = _environment().get_template("team360.html.j2").render(**context)
    if path is not None:
        atomic_write_text(path, page)
    return page
