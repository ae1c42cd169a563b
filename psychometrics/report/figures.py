"""Figures of the HTML report as inline SVG, each with the data table it shows.

Every function returns a :class:`Chart`: the SVG markup (written directly; the radar and
team charts by matplotlib, Agg backend; text kept as text so screen readers and search find
it), a title and a description that go into the
SVG's ``<title>``/``<desc>``, a caption, and the plotted numbers as tables, which the
report shows as the chart's text alternative. Colours come from the Okabe-Ito palette and
the colour-blind safe ``cividis``/``RdBu`` maps; lines also differ in dash pattern so the
figures read in grey scale.

matplotlib is imported here only, so ``import psychometrics`` stays light.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from psychometrics.irt import Calibration

__all__ = ["Chart", "PALETTE", "category_curves", "information_curves", "wright_map", "scree_plot",
           "loading_heatmap", "radar_chart", "team_heatmap"]

#: Okabe & Ito (2008) colour-blind safe palette.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
_DASHES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1))]
#: Theta points of the tables that stand in for the curves.
TABLE_THETA = np.arange(-3.0, 3.01, 1.0)
_THETA = np.linspace(-4.0, 4.0, 81)


@dataclass(frozen=True)
class Chart:
    """One figure of the report.

    Attributes
    ----------
    id : str
        HTML id (also prefixes every id inside the SVG, so several SVGs live on one page).
    title : str
        Short name, the SVG ``<title>`` and the figure's ``aria-label``.
    description : str
        What the figure shows, in words: the SVG ``<desc>``.
    caption : str
        The ``<figcaption>``.
    svg : str
        Inline ``<svg>`` markup.
    tables : list of (str, DataFrame)
        The plotted numbers (caption, table), shown as the text alternative.
    """

    id: str
    title: str
    description: str
    caption: str
    svg: str
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


_STYLE = {
    "svg.fonttype": "none",
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
}


def _to_svg(fig: Any, chart_id: str, title: str, description: str) -> str:
    plt = _pyplot()
    buffer = io.StringIO()
    # a fixed salt makes the generated ids (and so the page) reproducible
    with plt.rc_context({"svg.hashsalt": chart_id}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    # Prefix every id and the references to it: matplotlib names its elements figure_1,
    # axes_1, ... in each file, which would collide between figures on one page.
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    if ids:
        pattern = re.compile(r'(\bid="|url\(#|href="#)(' + "|".join(map(re.escape, sorted(ids, key=len, reverse=True)))
                             + r')(?=["\)])')
        text = pattern.sub(lambda m: f"{m.group(1)}{chart_id}-{m.group(2)}", text)
    head_end = text.index(">", text.index("<svg")) + 1
    opening = text[:head_end]
    opening = opening.replace("<svg", f'<svg role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"'
                              ' focusable="false"', 1)
    # Let the page size the figure: keep the viewBox, drop the fixed pt width/height.
    opening = re.sub(r'\s(width|height)="[^"]*pt"', "", opening)
    accessible = (f'<title id="{chart_id}-title">{html.escape(title)}</title>'
                  f'<desc id="{chart_id}-desc">{html.escape(description)}</desc>')
    return opening + accessible + text[head_end:]


def _figure(n_panels: int, columns: int, panel: tuple[float, float] = (2.2, 1.7), **kwargs: Any):
    plt = _pyplot()
    from cycler import cycler

    style = dict(_STYLE, **{"axes.prop_cycle": cycler(color=PALETTE)})
    rows = max(1, math.ceil(n_panels / columns))
    columns = min(columns, max(n_panels, 1))
    with plt.rc_context(style):
        fig, axes = plt.subplots(rows, columns, figsize=(panel[0] * columns, panel[1] * rows), squeeze=False,
                                 **kwargs)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, axes.flat[:n_panels], style


def _thresholds(calibration: "Calibration") -> pd.DataFrame:
    params = calibration.item_params
    columns = [c for c in params.columns if re.fullmatch(r"b\d*", c) and params[c].notna().any()]
    return params[columns]


# ------------------------------------------------------------------------------- IRT

def category_curves(calibration: "Calibration", *, chart_id: str, scale: str, columns: int = 4) -> Chart:
    """Category response curves of the items of one calibration, one small panel per item.

    The table gives :math:`P(X = k \\mid \\theta)` at theta -3, -2, ..., 3 for every item and
    category. The panels are written as SVG directly (:func:`_small_multiples_svg`): a report
    has one such figure per scale, and matplotlib's layout and drawing of their dozens of
    panels took most of a report's time.
    """
    items = list(calibration.item_ids)
    probabilities = calibration.probabilities(_THETA)
    at = calibration.probabilities(TABLE_THETA)
    rows = []
    panels = []
    names: list[str] = []
    for j, item in enumerate(items):
        codes = [str(code) for code in calibration.categories[item]]
        panels.append(_Panel(item, [_Line(probabilities[j, :, k], PALETTE[k % len(PALETTE)],
                                          dash=_SVG_DASHES[k % len(_SVG_DASHES)]) for k in range(len(codes))]))
        if len(codes) > len(names):
            names = codes  # the item with the most categories names them all
        for k, code in enumerate(codes):
            rows.append({"item": item, "category": code,
                         **{f"theta {t:+.0f}": at[j, q, k] for q, t in enumerate(TABLE_THETA)}})
    title = f"Category response curves, {scale}"
    description = (f"{len(items)} panels, one per item of scale {scale}; each shows the probability of every "
                   f"response category (lines) along theta from -4 to 4.")
    table = pd.DataFrame(rows).set_index(["item", "category"])
    legend = [(name, PALETTE[k % len(PALETTE)], 1.2, _SVG_DASHES[k % len(_SVG_DASHES)]) for k, name in enumerate(names)]
    svg = _small_multiples_svg(panels, _THETA, chart_id=chart_id, title=title, description=description,
                               columns=columns, x_ticks=(-4, -2, 0, 2, 4), x_label="theta", y_label="P(category)",
                               legend=legend, legend_title="category")
    return Chart(chart_id, title, description,
                 f"Category response curves of scale {scale}: where a category's curve peaks, that answer is the "
                 "most likely one. Well-functioning items have each category peaking in turn.",
                 svg, [(f"Probability of each category at selected theta values, scale {scale}", table)])


# SVG dash patterns (in points, for 1.2 pt lines) of the line styles in _DASHES
_SVG_DASHES = ["", "4.4 1.9", "7.7 1.9 1.2 1.9", "1.2 2", "5 1 1 1 1 1"]


@dataclass(frozen=True)
class _Line:
    """One line of a panel: values along the common x, and its look."""

    values: np.ndarray
    color: str
    width: float = 1.2
    dash: str = ""
    right: bool = False  # drawn against the panel's right axis


@dataclass(frozen=True)
class _Panel:
    title: str
    lines: Sequence[_Line]
    y_ticks: Sequence[float] = (0.0, 0.5, 1.0)
    right_ticks: Sequence[float] | None = None  # a right axis with these ticks
    y_top: float | None = None  # top of the left axis (default: its last tick)
    right_top: float | None = None


def _nice_ticks(top: float, count: int = 4) -> tuple[float, ...]:
    """0 and multiples of a round step (1, 2, 2.5 or 5 times a power of ten) up to ``top``."""
    if not (math.isfinite(top) and top > 0):
        return (0.0, 1.0)
    raw = top / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    return tuple(step * k for k in range(int(math.floor(top / step + 1e-9)) + 1))


def _small_multiples_svg(panels: Sequence[_Panel], x: np.ndarray, *, chart_id: str, title: str,
                         description: str, columns: int, x_ticks: Sequence[float], x_label: str, y_label: str,
                         legend: Sequence[tuple[str, str, float, str]], legend_title: str = "",
                         right_label: str = "", right_color: str = "#000000",
                         panel: tuple[float, float] = (2.2, 1.7)) -> str:
    """Inline SVG of a grid of line-chart panels sharing the x axis (from ``x_ticks[0]`` to
    ``x_ticks[-1]``), each with its own y axis from its first to its last tick (and optionally a
    right axis), in the style of the report's matplotlib figures: the palette and dash patterns,
    left and bottom spines, x tick labels on the bottom panels, y labels on the first column,
    text as text. ``legend``: (name, colour, width, dash) per entry, in the first empty grid cell
    (two columns, under ``legend_title``), else in a row below the grid.
    """
    n = len(panels)
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    spare = n < rows * columns
    width, height = panel[0] * 72.0, panel[1] * 72.0  # points
    legend_row = 0.0 if spare else 24.0
    has_right = any(p.right_ticks is not None for p in panels)
    left, right, top, bottom = 34.0, 34.0 if has_right else 6.0, 16.0, 26.0  # margins inside each cell
    total_w, total_h = columns * width, rows * height + legend_row
    x0, x1 = float(x_ticks[0]), float(x_ticks[-1])
    plot_w, plot_h = width - left - right, height - top - bottom
    esc = html.escape
    xs = (np.asarray(x, dtype=np.float64) - x0) / (x1 - x0) * plot_w
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total_w:.1f} {total_h:.1f}" role="img" '
           f'aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false" version="1.1">',
           f'<title id="{chart_id}-title">{esc(title)}</title><desc id="{chart_id}-desc">{esc(description)}</desc>',
           f'<g id="{chart_id}-figure" font-family="sans-serif" fill="#000000">']

    def fmt(value: float, ticks: Sequence[float]) -> str:
        # as many decimals as the ticks need, the same for all, and matplotlib's minus sign
        decimals = max(len(f"{t:g}".partition(".")[2]) for t in ticks)
        return f"{value:.{decimals}f}".replace("-", "\u2212")

    def stroke(color: str, line_width: float, dash: str) -> str:
        return (f'fill="none" stroke="{color}" stroke-width="{line_width:g}"'
                + (f' stroke-dasharray="{dash}"' if dash else ""))

    def y_axis(ticks: Sequence[float], top: float | None, at: float, outward: float, labelled: bool) -> list[str]:
        lo, hi = float(ticks[0]), float(ticks[-1] if top is None else top)
        parts = []
        for tick in ticks:
            ty = (1.0 - (tick - lo) / (hi - lo)) * plot_h
            parts.append(f'<line x1="{at:.1f}" y1="{ty:.1f}" x2="{at + outward:.1f}" y2="{ty:.1f}" '
                         'stroke="#000000" stroke-width="0.8"/>')
            if labelled:
                anchor = "end" if outward < 0 else "start"
                parts.append(f'<text x="{at + 1.5 * outward:.1f}" y="{ty + 2.5:.1f}" font-size="7" '
                             f'text-anchor="{anchor}">{fmt(tick, ticks)}</text>')
        return parts

    for index, spec in enumerate(panels):
        row, column = divmod(index, columns)
        ox, oy = column * width + left, row * height + top
        out.append(f'<g id="{chart_id}-panel{index + 1}" transform="translate({ox:.1f} {oy:.1f})">')
        out.append(f'<text x="{plot_w / 2:.1f}" y="-5" font-size="9" text-anchor="middle">{esc(str(spec.title))}</text>')
        for line in spec.lines:
            on_right = line.right and spec.right_ticks is not None
            ticks = spec.right_ticks if on_right else spec.y_ticks
            limit = spec.right_top if on_right else spec.y_top
            lo, hi = float(ticks[0]), float(ticks[-1] if limit is None else limit)
            ys = (1.0 - (np.clip(np.asarray(line.values, dtype=np.float64), lo, hi) - lo) / (hi - lo)) * plot_h
            points = " ".join(f"{a:.2f},{b:.2f}" for a, b in zip(xs, ys) if math.isfinite(b))
            out.append(f'<polyline points="{points}" {stroke(line.color, line.width, line.dash)} '
                       'stroke-linejoin="round"/>')
        out.append(f'<path d="M0 0V{plot_h:.1f}H{plot_w:.1f}" fill="none" stroke="#000000" stroke-width="0.8"/>')
        last_row = row == rows - 1 or index + columns >= n
        for tick in x_ticks:
            tx = (tick - x0) / (x1 - x0) * plot_w
            out.append(f'<line x1="{tx:.1f}" y1="{plot_h:.1f}" x2="{tx:.1f}" y2="{plot_h + 3.5:.1f}" '
                       'stroke="#000000" stroke-width="0.8"/>')
            if last_row:
                out.append(f'<text x="{tx:.1f}" y="{plot_h + 11:.1f}" font-size="7" '
                           f'text-anchor="middle">{fmt(tick, x_ticks)}</text>')
        out.extend(y_axis(spec.y_ticks, spec.y_top, 0.0, -3.5, column == 0 or spec.right_ticks is not None))
        if spec.right_ticks is not None:
            out.append(f'<path d="M{plot_w:.1f} 0V{plot_h:.1f}" fill="none" stroke="#000000" stroke-width="0.8"/>')
            out.extend(y_axis(spec.right_ticks, spec.right_top, plot_w, 3.5, True))
            if right_label and (column == columns - 1 or index == n - 1):
                out.append(f'<text transform="translate({plot_w + 30:.1f} {plot_h / 2:.1f}) rotate(-90)" '
                           f'font-size="8" text-anchor="middle" fill="{right_color}">{esc(right_label)}</text>')
        if last_row:
            out.append(f'<text x="{plot_w / 2:.1f}" y="{plot_h + 21:.1f}" font-size="8" '
                       f'text-anchor="middle">{esc(x_label)}</text>')
        if column == 0:
            out.append(f'<text transform="translate(-26 {plot_h / 2:.1f}) rotate(-90)" font-size="8" '
                       f'text-anchor="middle">{esc(y_label)}</text>')
        out.append("</g>")
    if spare:
        row, column = divmod(n, columns)
        lx, ly = column * width + 20.0, row * height + top + 8.0
        # two columns of short names, one of long ones
        per_column = math.ceil(len(legend) / 2) if max(len(e[0]) for e in legend) <= 8 else len(legend)
        entries = [(lx + (k // per_column) * 70.0, ly + 14.0 + (k % per_column) * 12.0) for k in range(len(legend))]
        title_at = (lx + 55.0, ly)
    else:
        ly = rows * height + 8.0
        step = min(110.0, total_w / max(len(legend) + 1, 1))
        start = total_w - step * len(legend) - 10.0
        entries = [(start + k * step, ly + 8.0) for k in range(len(legend))]
        title_at = (start - 30.0, ly + 8.0)
    out.append(f'<g id="{chart_id}-legend">')
    if legend_title:
        out.append(f'<text x="{title_at[0]:.1f}" y="{title_at[1]:.1f}" font-size="7" '
                   f'text-anchor="middle">{esc(legend_title)}</text>')
    for (name, color, line_width, dash), (ex, ey) in zip(legend, entries):
        out.append(f'<line x1="{ex:.1f}" y1="{ey - 2.5:.1f}" x2="{ex + 20:.1f}" y2="{ey - 2.5:.1f}" '
                   f'{stroke(color, line_width, dash)}/>')
        out.append(f'<text x="{ex + 25:.1f}" y="{ey:.1f}" font-size="7">{esc(name)}</text>')
    out.append("</g></g></svg>")
    return "\n".join(out)


def information_curves(calibrations: Mapping[str, "Calibration"], *, chart_id: str, columns: int = 4) -> Chart:
    """Item and test information with the standard error, one panel per scale.

    The table gives test information and :math:`SE(\\theta) = 1/\\sqrt{I(\\theta)}` per scale at
    theta -3, -2, ..., 3. Written as SVG directly, like :func:`category_curves`.
    """
    scales = list(calibrations)
    records = []
    panels = []
    for scale in scales:
        cal = calibrations[scale]
        info = cal.information(_THETA)
        total = info.sum(axis=1)
        se = np.full(total.shape, np.nan)
        np.divide(1.0, np.sqrt(total), out=se, where=total > 0)
        lines = [_Line(info[:, j], "#9a9a9a", 0.6) for j in range(info.shape[1])]
        lines.append(_Line(total, PALETTE[0], 1.6))
        lines.append(_Line(se, PALETTE[3], 1.4, _SVG_DASHES[1], right=True))
        se_top = min(2.0, float(np.nanmax(se)) * 1.05) if np.isfinite(se).any() else 1.0
        info_top = float(np.nanmax(total)) * 1.05 if total.size and np.nanmax(total) > 0 else 1.0
        panels.append(_Panel(scale, lines, _nice_ticks(info_top), _nice_ticks(se_top), info_top, se_top))
        at = cal.information(TABLE_THETA).sum(axis=1)
        for t, value in zip(TABLE_THETA, at):
            records.append({"scale": scale, "theta": t, "test_information": value,
                            "se": 1.0 / math.sqrt(value) if value > 0 else math.nan})
    title = "Item and test information with standard error"
    description = (f"{len(scales)} panels, one per scale: item information (thin grey lines), test "
                   "information (solid blue) and the standard error of theta (dashed orange, right axis) "
                   "along theta from -4 to 4.")
    table = pd.DataFrame(records).set_index(["scale", "theta"])
    legend = [("test information", PALETTE[0], 1.6, ""), ("SE (right axis)", PALETTE[3], 1.4, _SVG_DASHES[1])]
    svg = _small_multiples_svg(panels, _THETA, chart_id=chart_id, title=title, description=description,
                               columns=columns, x_ticks=(-4, -2, 0, 2, 4), x_label="theta", y_label="information",
                               legend=legend, right_label="SE", right_color=PALETTE[3], panel=(2.6, 1.9))
    return Chart(chart_id, title, description,
                 "Information and standard error per scale: a scale measures precisely where information is "
                 "high and the SE low.", svg,
                 [("Test information and SE at selected theta values", table)])


def wright_map(calibrations: Mapping[str, "Calibration"], scores: Mapping[str, pd.DataFrame], *,
               chart_id: str, columns: int = 4, bins: int = 24) -> Chart:
    """Persons and item thresholds on one theta axis, one panel per scale.

    Left of each panel: histogram of the persons' EAP estimates. Right: each item's
    thresholds (``b`` / ``b1..``) as markers in the item's column. Written as SVG directly,
    like :func:`category_curves`.
    """
    scales = list(calibrations)
    threshold_rows = []
    person_rows = []
    edges = np.linspace(-4.0, 4.0, bins + 1)
    n = len(scales)
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    width = height = 2.6 * 72.0
    left, right, top, bottom = 34.0, 6.0, 16.0, 22.0
    plot_w, plot_h = width - left - right, height - top - bottom
    x_low, x_high = -2.1, 4.1

    def px(value: float) -> float:
        return (value - x_low) / (x_high - x_low) * plot_w

    def py(value: float) -> float:
        return (1.0 - (value + 4.0) / 8.0) * plot_h

    title = "Wright map: persons and item thresholds"
    description = (f"{len(scales)} panels, one per scale, with a common theta axis from -4 to 4: on the left a "
                   "horizontal histogram of the persons' EAP estimates, on the right one column of markers per "
                   "item at its thresholds.")
    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {columns * width:.1f} {rows * height:.1f}" '
           f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false" version="1.1">',
           f'<title id="{chart_id}-title">{esc(title)}</title><desc id="{chart_id}-desc">{esc(description)}</desc>',
           f'<g id="{chart_id}-figure" font-family="sans-serif" fill="#000000">']
    for index, scale in enumerate(scales):
        cal = calibrations[scale]
        thresholds = _thresholds(cal)
        theta = scores[scale]["theta"].to_numpy(dtype=np.float64) if scale in scores else np.array([])
        theta = theta[np.isfinite(theta)]
        counts, _ = np.histogram(np.clip(theta, edges[0], edges[-1]), bins=edges)
        share = counts / max(counts.max(), 1)
        row, column = divmod(index, columns)
        out.append(f'<g id="{chart_id}-panel{index + 1}" transform="translate({column * width + left:.1f} '
                   f'{row * height + top:.1f})">')
        out.append(f'<text x="{plot_w / 2:.1f}" y="-5" font-size="9" text-anchor="middle">{esc(scale)}</text>')
        for k in range(bins):
            if share[k] > 0:
                x0, y0 = px(-share[k] * 2.0), py(edges[k + 1])
                out.append(f'<rect x="{x0:.2f}" y="{y0:.2f}" width="{px(0.0) - x0:.2f}" '
                           f'height="{py(edges[k]) - y0:.2f}" fill="{PALETTE[5]}" stroke="#ffffff" '
                           'stroke-width="0.3"/>')
        n_items = thresholds.shape[0]
        marks = []
        for j, item in enumerate(thresholds.index):
            values = thresholds.loc[item].to_numpy(dtype=np.float64)
            values = np.clip(values[np.isfinite(values)], -4, 4)
            x = px(0.4 + 3.6 * (j + 0.5) / max(n_items, 1))
            marks.extend(f"M{x - 3.5:.2f} {py(v):.2f}h7" for v in values)
            threshold_rows.append({"scale": scale, "item": item,
                                   **{name: thresholds.loc[item, name] for name in thresholds.columns}})
        if marks:
            out.append(f'<path d="{" ".join(marks)}" fill="none" stroke="{PALETTE[3]}" stroke-width="1.6"/>')
        out.append(f'<line x1="{px(0.0):.2f}" y1="0" x2="{px(0.0):.2f}" y2="{plot_h:.1f}" stroke="#000000" '
                   'stroke-width="0.6"/>')
        out.append(f'<path d="M0 0V{plot_h:.1f}H{plot_w:.1f}" fill="none" stroke="#000000" stroke-width="0.8"/>')
        for tick in (-4, -2, 0, 2, 4):
            out.append(f'<line x1="-3.5" y1="{py(tick):.1f}" x2="0" y2="{py(tick):.1f}" stroke="#000000" '
                       'stroke-width="0.8"/>')
            out.append(f'<text x="-5" y="{py(tick) + 2.5:.1f}" font-size="7" '
                       f'text-anchor="end">{str(tick).replace("-", chr(0x2212))}</text>')
        for position, label in ((-1.0, "persons"), (0.4 + 3.6 * 0.5, "item thresholds")):
            out.append(f'<line x1="{px(position):.1f}" y1="{plot_h:.1f}" x2="{px(position):.1f}" '
                       f'y2="{plot_h + 3.5:.1f}" stroke="#000000" stroke-width="0.8"/>')
            out.append(f'<text x="{px(position):.1f}" y="{plot_h + 11:.1f}" font-size="7" '
                       f'text-anchor="middle">{label}</text>')
        if column == 0:
            out.append(f'<text transform="translate(-22 {plot_h / 2:.1f}) rotate(-90)" font-size="8" '
                       'text-anchor="middle">theta</text>')
        out.append("</g>")
        person_rows.append({"scale": scale, "n": int(theta.size),
                            "mean": float(theta.mean()) if theta.size else math.nan,
                            "sd": float(theta.std(ddof=1)) if theta.size > 1 else math.nan,
                            "min": float(theta.min()) if theta.size else math.nan,
                            "max": float(theta.max()) if theta.size else math.nan})
    out.append("</g></svg>")
    tables = [("Persons' EAP estimates per scale", pd.DataFrame(person_rows).set_index("scale")),
              ("Item thresholds (theta where the next category becomes the more likely)",
               pd.DataFrame(threshold_rows).set_index(["scale", "item"]))]
    return Chart(chart_id, title, description,
                 "Wright map: items target the persons well when their thresholds spread over the range where "
                 "most persons are.", "\n".join(out), tables)


# ------------------------------------------------------------------------------- factors

def _axis_ticks(low: float, high: float, count: int = 5) -> tuple[float, ...]:
    """Round ticks (1, 2, 2.5 or 5 times a power of ten) covering ``low..high``."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return (low - 1.0, low, low + 1.0) if math.isfinite(low) else (0.0, 1.0)
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return tuple(step * k for k in range(first, last + 1))


def _svg_open(chart_id: str, title: str, description: str, width: float, height: float) -> list[str]:
    esc = html.escape
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.1f} {height:.1f}" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false" version="1.1">',
            f'<title id="{chart_id}-title">{esc(title)}</title><desc id="{chart_id}-desc">{esc(description)}</desc>',
            f'<g id="{chart_id}-figure" font-family="sans-serif" fill="#000000">']


def _tick_label(value: float, ticks: Sequence[float]) -> str:
    decimals = max(len(f"{round(t, 10):g}".partition(".")[2]) for t in ticks)
    return f"{value:.{decimals}f}".replace("-", "\u2212")


def scree_plot(parallel: Any, *, chart_id: str, n_scales: int | None = None) -> Chart:
    """Observed factor eigenvalues against the parallel-analysis reference.

    Written as SVG directly (like :func:`category_curves`): solid line with points for the
    observed eigenvalues, dashed line for the random-data reference, a dotted line after the
    suggested number of factors.
    """
    frame = parallel.to_frame()
    title = "Scree plot with parallel analysis"
    description = (f"Eigenvalues of the {len(frame)} factors of the reduced correlation matrix (solid line with "
                   f"points) and the mean eigenvalues of random data (dashed line); {parallel.n_factors} observed "
                   "eigenvalue(s) lie above the random ones"
                   + (f", for {n_scales} intended scale(s)." if n_scales is not None else "."))
    x = frame.index.to_numpy(dtype=np.float64)
    observed = frame["observed_fa"].to_numpy(dtype=np.float64)
    reference = frame["reference_fa"].to_numpy(dtype=np.float64)
    values = np.concatenate([observed, reference, [0.0]])
    values = values[np.isfinite(values)]
    y_ticks = _axis_ticks(float(values.min()), float(values.max()))
    x_low, x_high = (float(x.min()) - 0.5, float(x.max()) + 0.5) if x.size else (0.0, 1.0)
    x_ticks = _axis_ticks(max(x_low, 0.0), x_high, 8)
    x_ticks = tuple(t for t in x_ticks if x_low <= t <= x_high and float(t).is_integer()) or (1.0,)
    width, height = 5.2 * 72.0, 3.0 * 72.0
    left, right, top, bottom = 40.0, 8.0, 10.0, 30.0
    plot_w, plot_h = width - left - right, height - top - bottom
    y_low, y_high = y_ticks[0], y_ticks[-1]

    def px(value: float) -> float:
        return (value - x_low) / (x_high - x_low) * plot_w

    def py(value: float) -> float:
        return (1.0 - (value - y_low) / (y_high - y_low)) * plot_h

    def polyline(ys: np.ndarray, color: str, dash: str = "") -> str:
        points = " ".join(f"{px(a):.2f},{py(b):.2f}" for a, b in zip(x, ys) if math.isfinite(b))
        return (f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"'
                + (f' stroke-dasharray="{dash}"' if dash else "") + ' stroke-linejoin="round"/>')

    esc = html.escape
    out = _svg_open(chart_id, title, description, width, height)
    out.append(f'<g id="{chart_id}-panel1" transform="translate({left:.1f} {top:.1f})">')
    out.append(f'<line x1="0" y1="{py(0.0):.2f}" x2="{plot_w:.1f}" y2="{py(0.0):.2f}" stroke="#777777" '
               'stroke-width="0.5"/>')
    cut = px(parallel.n_factors + 0.5)
    if 0.0 <= cut <= plot_w:
        out.append(f'<line x1="{cut:.2f}" y1="0" x2="{cut:.2f}" y2="{plot_h:.1f}" stroke="{PALETTE[2]}" '
                   'stroke-width="1.2" stroke-dasharray="1.2,2"/>')
    out.append(polyline(reference, PALETTE[3], "5.5,2.4"))
    out.append(polyline(observed, PALETTE[0]))
    out.extend(f'<circle cx="{px(a):.2f}" cy="{py(b):.2f}" r="1.75" fill="{PALETTE[0]}"/>'
               for a, b in zip(x, observed) if math.isfinite(b))
    out.append(f'<path d="M0 0V{plot_h:.1f}H{plot_w:.1f}" fill="none" stroke="#000000" stroke-width="0.8"/>')
    for tick in x_ticks:
        tx = px(tick)
        out.append(f'<line x1="{tx:.1f}" y1="{plot_h:.1f}" x2="{tx:.1f}" y2="{plot_h + 3.5:.1f}" '
                   'stroke="#000000" stroke-width="0.8"/>')
        out.append(f'<text x="{tx:.1f}" y="{plot_h + 11:.1f}" font-size="7" '
                   f'text-anchor="middle">{int(tick)}</text>')
    for tick in y_ticks:
        ty = py(tick)
        out.append(f'<line x1="-3.5" y1="{ty:.1f}" x2="0" y2="{ty:.1f}" stroke="#000000" stroke-width="0.8"/>')
        out.append(f'<text x="-5" y="{ty + 2.5:.1f}" font-size="7" '
                   f'text-anchor="end">{_tick_label(tick, y_ticks)}</text>')
    out.append(f'<text x="{plot_w / 2:.1f}" y="{plot_h + 23:.1f}" font-size="8" text-anchor="middle">factor</text>')
    out.append(f'<text transform="translate(-30 {plot_h / 2:.1f}) rotate(-90)" font-size="8" '
               'text-anchor="middle">eigenvalue</text>')
    out.append("</g>")
    legend = [("observed (factors)", PALETTE[0], ""),
              (f"parallel analysis ({parallel.n_replications} random data sets)", PALETTE[3], "5.5,2.4"),
              (f"suggested: {parallel.n_factors} factor(s)", PALETTE[2], "1.2,2")]
    lx = left + plot_w - 190.0
    out.append(f'<g id="{chart_id}-legend">')
    for k, (name, color, dash) in enumerate(legend):
        ey = top + 12.0 + 11.0 * k
        out.append(f'<line x1="{lx:.1f}" y1="{ey - 2.5:.1f}" x2="{lx + 20:.1f}" y2="{ey - 2.5:.1f}" fill="none" '
                   f'stroke="{color}" stroke-width="1.5"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        out.append(f'<text x="{lx + 25:.1f}" y="{ey:.1f}" font-size="7">{esc(name)}</text>')
    out.append("</g></g></svg>")
    return Chart(chart_id, title, description,
                 "Scree plot: keep the factors whose observed eigenvalue is above the random-data line.",
                 "\n".join(out), [("Eigenvalues: observed and random-data reference", frame)])


#: ColorBrewer RdBu (11 classes), reversed: blue at -1, white at 0, red at +1 (matplotlib's RdBu_r).
_RDBU_R = np.array([(0x05, 0x30, 0x61), (0x21, 0x66, 0xac), (0x43, 0x93, 0xc3), (0x92, 0xc5, 0xde),
                    (0xd1, 0xe5, 0xf0), (0xf7, 0xf7, 0xf7), (0xfd, 0xdb, 0xc7), (0xf4, 0xa5, 0x82),
                    (0xd6, 0x60, 0x4d), (0xb2, 0x18, 0x2b), (0x67, 0x00, 0x1f)], dtype=np.float64)


def _rdbu_r(value: float) -> str:
    """Colour of ``value`` in -1..1 on the diverging RdBu_r map (linear between the 11 classes)."""
    if not math.isfinite(value):
        return "#ffffff"
    position = (min(max(value, -1.0), 1.0) + 1.0) / 2.0 * (len(_RDBU_R) - 1)
    low = min(int(position), len(_RDBU_R) - 2)
    rgb = _RDBU_R[low] + (_RDBU_R[low + 1] - _RDBU_R[low]) * (position - low)
    return "#" + "".join(f"{int(round(c)):02x}" for c in rgb)


def loading_heatmap(loadings: pd.DataFrame, *, chart_id: str, scales: Mapping[str, str] | None = None,
                    label: str = "EFA") -> Chart:
    """Items x factors loadings as a heat map (diverging, -1 blue to +1 red), |loading| >= .30 printed.

    Written as SVG directly (like :func:`category_curves`), with a colour bar on the right.
    """
    n_items, n_factors = loadings.shape
    values = loadings.to_numpy(dtype=np.float64)
    title = f"{label} loadings heat map"
    description = (f"Heat map of {n_items} items (rows) by {n_factors} factors (columns); colour runs from blue "
                   "(loading -1) through white (0) to red (+1); loadings of at least .30 in absolute value are "
                   "printed in their cells.")
    names = [f"{item} ({scales[item]})" if scales and item in scales else str(item) for item in loadings.index]
    label_w = 8.0 + 3.2 * max((len(n) for n in names), default=4)
    column_names = [str(c) for c in loadings.columns]
    cell_w, cell_h = 30.0, 11.5
    left, top = label_w, 8.0
    bottom = 10.0 + 3.0 * max((len(c) for c in column_names), default=4)
    plot_w, plot_h = cell_w * n_factors, cell_h * n_items
    bar_x = left + plot_w + 10.0
    width, height = bar_x + 46.0, top + plot_h + bottom
    esc = html.escape
    out = _svg_open(chart_id, title, description, width, height)
    out.append(f'<g id="{chart_id}-cells" transform="translate({left:.1f} {top:.1f})">')
    for i in range(n_items):
        for j in range(n_factors):
            value = values[i, j]
            out.append(f'<rect x="{j * cell_w:.1f}" y="{i * cell_h:.1f}" width="{cell_w:.1f}" height="{cell_h:.1f}" '
                       f'fill="{_rdbu_r(value)}"/>')
            if abs(value) >= 0.30:
                color = "#ffffff" if abs(value) > 0.6 else "#000000"
                out.append(f'<text x="{(j + 0.5) * cell_w:.1f}" y="{(i + 0.5) * cell_h + 2.0:.1f}" font-size="5.5" '
                           f'text-anchor="middle" fill="{color}">{f"{value:.2f}".replace("-", chr(0x2212))}</text>')
    for i, name in enumerate(names):
        out.append(f'<text x="-3" y="{(i + 0.5) * cell_h + 2.0:.1f}" font-size="6" text-anchor="end">'
                   f"{esc(name)}</text>")
    for j, name in enumerate(column_names):
        cx = (j + 0.5) * cell_w
        out.append(f'<text transform="translate({cx:.1f} {plot_h + 5:.1f}) rotate(-45)" font-size="7" '
                   f'text-anchor="end">{esc(name)}</text>')
    out.append("</g>")
    out.append(f'<defs><linearGradient id="{chart_id}-scale" x1="0" y1="1" x2="0" y2="0">'
               + "".join(f'<stop offset="{k / (len(_RDBU_R) - 1):.3f}" stop-color="{_rdbu_r(-1.0 + 2.0 * k / (len(_RDBU_R) - 1))}"/>'
                         for k in range(len(_RDBU_R)))
               + "</linearGradient></defs>")
    out.append(f'<g id="{chart_id}-colorbar" transform="translate({bar_x:.1f} {top:.1f})">')
    out.append(f'<rect x="0" y="0" width="10" height="{plot_h:.1f}" fill="url(#{chart_id}-scale)" '
               'stroke="#000000" stroke-width="0.5"/>')
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        ty = (1.0 - (tick + 1.0) / 2.0) * plot_h
        out.append(f'<line x1="10" y1="{ty:.1f}" x2="13" y2="{ty:.1f}" stroke="#000000" stroke-width="0.6"/>')
        out.append(f'<text x="15" y="{ty + 2.0:.1f}" font-size="6">{f"{tick:.1f}".replace("-", chr(0x2212))}</text>')
    out.append(f'<text transform="translate(38 {plot_h / 2:.1f}) rotate(-90)" font-size="7" '
               'text-anchor="middle">loading</text>')
    out.append("</g></g></svg>")
    return Chart(chart_id, title, description,
                 f"{label} loadings: each item should load mainly on one factor, together with the other items "
                 "of its scale.", "\n".join(out),
                 [(f"{label} loadings", loadings.rename_axis(loadings.index.name or "item"))])


# ------------------------------------------------------------------------------- scores

def radar_chart(t_scores: pd.Series, *, chart_id: str, respondent: str,
                labels: Mapping[str, str] | None = None) -> Chart:
    """Spider chart of one respondent's T-scores (mean 50, SD 10) across the scales."""
    plt = _pyplot()
    scales = list(t_scores.index)
    values = t_scores.to_numpy(dtype=np.float64)
    n = len(scales)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    closed = np.concatenate([angles, angles[:1]])
    fig, axes, style = _figure(1, 1, panel=(4.4, 4.0), subplot_kw={"projection": "polar"})
    ax = axes[0]
    with plt.rc_context(style):
        ax.set_theta_offset(np.pi / 2)
        ax.set_theta_direction(-1)
        ax.plot(closed, np.full(closed.shape, 50.0), color="#777777", linestyle="--", linewidth=0.8,
                label="norm mean (T = 50)")
        ax.fill_between(closed, 40.0, 60.0, color="#bbbbbb", alpha=0.3, label="average band (T 40-60)")
        # a missing score leaves a gap in the outline rather than a made-up point
        shown = np.clip(values, 20.0, 80.0)
        ax.plot(closed, np.concatenate([shown, shown[:1]]), color=PALETTE[0], linewidth=1.8, marker="o",
                markersize=4, label=f"respondent {respondent}")
        if np.isfinite(shown).all():
            ax.fill(closed, np.concatenate([shown, shown[:1]]), color=PALETTE[0], alpha=0.15)
        ax.set_xticks(angles)
        ax.set_xticklabels([labels.get(s, s) if labels else s for s in scales], fontsize=7)
        ax.set_ylim(20, 80)
        ax.set_yticks([30, 40, 50, 60, 70])
        ax.tick_params(axis="y", labelsize=6)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=1)
        fig.tight_layout()
    title = f"Skill profile of respondent {respondent}"
    shown_text = ", ".join(f"{labels.get(s, s) if labels else s} "
                           + (f"{v:.0f}" if math.isfinite(v) else "not scored") for s, v in zip(scales, values))
    description = (f"Radar chart of {n} scales on the T-score scale (mean 50, SD 10; axis 20 to 80) for respondent "
                   f"{respondent}: {shown_text}.")
    table = pd.DataFrame({"T": values}, index=pd.Index(scales, name="scale"))
    return Chart(chart_id, title, description,
                 f"Profile of respondent {respondent} across the scales (T-scores; the grey band is T 40-60).",
                 _to_svg(fig, chart_id, title, description), [(f"T-scores of respondent {respondent}", table)])


def team_heatmap(t_scores: pd.DataFrame, *, chart_id: str, labels: Mapping[str, str] | None = None,
                 unfavourable: Sequence[str] = ()) -> Chart:
    """Respondents x scales heat map of T-scores (cividis, 20 to 80), values printed.

    Scales in ``unfavourable`` (high is unfavourable, e.g. stress) are coloured on 100 - T, so
    light always means favourable; the printed numbers stay the T-scores.
    """
    plt = _pyplot()
    n_persons, n_scales = t_scores.shape
    printed = t_scores.to_numpy(dtype=np.float64)
    flip = np.array([column in set(unfavourable) for column in t_scores.columns])
    values = np.where(flip[None, :], 100.0 - printed, printed)
    fig, axes, style = _figure(1, 1, panel=(1.6 + 0.7 * n_scales, 1.0 + 0.2 * n_persons))
    ax = axes[0]
    with plt.rc_context(style):
        image = ax.imshow(np.ma.masked_invalid(values), cmap="cividis", vmin=20, vmax=80, aspect="auto")
        ax.set_xticks(range(n_scales))
        ax.set_xticklabels([labels.get(s, s) if labels else s for s in t_scores.columns], rotation=40, ha="right")
        ax.set_yticks(range(n_persons))
        ax.set_yticklabels([str(i) for i in t_scores.index], fontsize=6)
        if n_persons * n_scales <= 600:
            for i in range(n_persons):
                for j in range(n_scales):
                    if np.isfinite(values[i, j]):
                        ax.text(j, i, f"{printed[i, j]:.0f}", ha="center", va="center", fontsize=5.5,
                                color="black" if values[i, j] > 55 else "white")
        ax.spines[:].set_visible(False)
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        bar.set_label("T-score", fontsize=7)
        bar.ax.tick_params(labelsize=6)
        fig.tight_layout()
    title = "Team heat map of T-scores"
    description = (f"Heat map of {n_persons} respondents (rows) by {n_scales} scales (columns); colour runs from "
                   "dark blue (T 20) to yellow (T 80); each cell prints its T-score.")
    flipped = [labels.get(s, s) if labels else s for s in t_scores.columns[flip]]
    caption = ("Team heat map: rows are respondents, columns scales; light cells are strengths, dark cells "
               "development areas relative to the reference group.")
    if flipped:
        caption += (f" On {', '.join(flipped)} a high score is unfavourable, so there the colour runs the other "
                    "way (high T dark).")
    return Chart(chart_id, title, description, caption, _to_svg(fig, chart_id, title, description),
                 [("T-scores per respondent and scale", t_scores)])
