"""The report figures written as SVG directly (category and information curves, Wright map, scree, loadings)."""

from __future__ import annotations

import importlib
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from psychometrics.irt import Calibration

figures = importlib.import_module("psychometrics.report.figures")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def calibration() -> Calibration:
    params = pd.DataFrame({"a": [1.0, 1.5, 2.0], "b1": [-1.0, -0.5, 0.0], "b2": [0.0, 0.5, 1.0],
                           "b3": [1.0, 1.5, 2.0]}, index=["q1", "q2", "q3"])
    return Calibration.from_item_params(params, "graded")


def _points(line: ET.Element) -> np.ndarray:
    return np.array([[float(v) for v in pair.split(",")] for pair in line.get("points").split()])


def test_category_curves_svg_is_well_formed_and_draws_every_curve(calibration):
    chart = figures.category_curves(calibration, chart_id="fig-crc-x", scale="x")
    root = ET.fromstring(chart.svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == chart.title and root.find(f"{SVG}desc").text == chart.description
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    lines = root.iter(f"{SVG}polyline")
    curves = list(lines)
    assert len(curves) == 3 * 4  # items x categories
    for panel in root.iter(f"{SVG}g"):
        if re.fullmatch(r"fig-crc-x-panel\d", panel.get("id", "")):
            dx, dy = (float(v) for v in re.findall(r"[\d.]+", panel.get("transform")))
            for line in panel.iter(f"{SVG}polyline"):
                xy = _points(line) + [dx, dy]
                assert (xy >= 0).all() and (xy[:, 0] <= width).all() and (xy[:, 1] <= height).all()
    # the first curve of the first panel is P(lowest category), falling from near 1 to near 0:
    # its y (down the page) rises
    first = _points(curves[0])
    assert first[0, 1] < first[-1, 1]
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for word in ("q1", "q2", "q3", "theta", "P(category)", "category"):
        assert word in text
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and all(i.startswith("fig-crc-x") for i in ids)


def test_information_curves_svg_has_a_right_axis_and_the_table(calibration):
    chart = figures.information_curves({"x": calibration, "y": calibration}, chart_id="fig-information")
    root = ET.fromstring(chart.svg)
    # per panel: 3 item curves, test information, SE
    assert len(list(root.iter(f"{SVG}polyline"))) == 2 * 5
    text = [t.text for t in root.iter(f"{SVG}text")]
    assert "SE" in text and "test information" in text and "SE (right axis)" in text
    table = chart.tables[0][1]
    assert table.loc[("x", 0.0), "se"] == pytest.approx(1.0 / np.sqrt(table.loc[("x", 0.0), "test_information"]))


def test_nice_ticks():
    assert figures._nice_ticks(4.9) == pytest.approx((0.0, 2.0, 4.0))
    assert figures._nice_ticks(1.6) == pytest.approx((0.0, 0.5, 1.0, 1.5))
    assert figures._nice_ticks(0.0) == (0.0, 1.0)


def test_wright_map_svg_draws_persons_and_thresholds(calibration):
    rng = np.random.default_rng(0)
    scores = {"x": pd.DataFrame({"theta": rng.normal(size=300)})}
    chart = figures.wright_map({"x": calibration}, scores, chart_id="fig-wright")
    root = ET.fromstring(chart.svg)
    assert len(list(root.iter(f"{SVG}rect"))) > 10  # histogram bars
    marks = [p for p in root.iter(f"{SVG}path") if p.get("stroke") == figures.PALETTE[3]]
    assert len(marks) == 1 and marks[0].get("d").count("M") == 3 * 3  # items x thresholds
    assert chart.tables[0][1].loc["x", "n"] == 300


class _Parallel:
    n_factors = 2
    n_replications = 20

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"observed_fa": [2.5, 1.2, 0.1, -0.05], "reference_fa": [0.4, 0.2, 0.05, -0.1]},
                            index=pd.Index([1, 2, 3, 4], name="factor"))


def test_scree_plot_svg_draws_both_lines_inside_the_view(calibration):
    chart = figures.scree_plot(_Parallel(), chart_id="fig-scree", n_scales=2)
    root = ET.fromstring(chart.svg)
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 2 and all(len(_points(line)) == 4 for line in lines)
    observed = _points(lines[1])
    assert observed[0, 1] < observed[-1, 1]  # falling eigenvalues: y (down the page) rises
    assert len(list(root.iter(f"{SVG}circle"))) == 4
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "parallel analysis (20 random data sets)" in text and "suggested: 2 factor(s)" in text
    assert "\u22121" in text.split()  # the y axis reaches below zero (the last eigenvalues are negative)
    panel = root.find(f".//{SVG}g[@id='fig-scree-panel1']")
    dx, dy = (float(v) for v in re.findall(r"[\d.]+", panel.get("transform")))
    for line in lines:
        xy = _points(line) + [dx, dy]
        assert (xy >= 0).all() and (xy[:, 0] <= width).all() and (xy[:, 1] <= height).all()
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and all(i.startswith("fig-scree") for i in ids)
    assert chart.tables[0][1].shape == (4, 2)


def test_loading_heatmap_svg_cells_colours_and_printed_loadings():
    loadings = pd.DataFrame({"F1": [0.8, 0.1, -0.7], "F2": [0.0, 0.45, 0.2]}, index=["q1", "q2", "q3"])
    chart = figures.loading_heatmap(loadings, chart_id="fig-loadings", scales={"q1": "a", "q2": "b"})
    root = ET.fromstring(chart.svg)
    cells = [r for r in root.iter(f"{SVG}rect") if r.get("fill", "").startswith("#")]
    assert len(cells) == 6
    assert cells[0].get("fill") != cells[1].get("fill")
    assert figures._rdbu_r(0.0) == "#f7f7f7" and figures._rdbu_r(-1.0) == "#053061" and figures._rdbu_r(1.0) == "#67001f"
    printed = [t.text for t in root.iter(f"{SVG}text")]
    assert {"0.80", "0.45", "\u22120.70"} <= set(printed) and "0.10" not in printed and "0.20" not in printed
    assert "q1 (a)" in printed and "q3" in printed and "loading" in printed
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and all(i.startswith("fig-loadings") for i in ids)
