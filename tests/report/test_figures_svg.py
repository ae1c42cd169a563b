"""The report figures written as SVG directly (category curves, information curves)."""

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
