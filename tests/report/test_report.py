"""Tests of psychometrics.report: the numbers in the HTML tables are the API's results.

The page is parsed with the standard library's html.parser; no snapshot is compared.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("jinja2")
pytest.importorskip("matplotlib")

from psychometrics.errors import ResponseError  # noqa: E402
from psychometrics.instrument import Instrument  # noqa: E402
from psychometrics.report import ITEM_COLUMNS, format_value, render, render_scores, write_report  # noqa: E402
from psychometrics.validation import Validation, validate  # noqa: E402


class _Page(HTMLParser):
    """Tables (by id: header row and body rows of cell texts), figures, ids and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, dict[str, list]] = {}
        self.ids: list[str] = []
        self.figures: list[dict] = []
        self.elements: list[tuple[str, dict]] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self._figure: dict | None = None
        self._svg_depth = 0
        self._text_target: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "table":
            self._table = attrs.get("id", f"anonymous-{len(self.tables)}")
            self.tables[self._table] = {"head": [], "rows": []}
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "figure":
            self._figure = {"attrs": attrs, "svg": 0, "title": "", "desc": "", "caption": ""}
        elif self._figure is not None:
            if tag == "svg":
                self._figure["svg"] += 1
                self._figure["svg_attrs"] = attrs
            elif tag in ("title", "desc") and "svg_attrs" in self._figure and not self._figure[tag]:
                self._text_target = tag
            elif tag == "figcaption":
                self._text_target = "caption"

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table]["head" if self._in_head else "rows"].append(self._row)
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table":
            self._table = None
        elif tag == "figure" and self._figure is not None:
            self.figures.append(self._figure)
            self._figure = None
        if tag in ("title", "desc", "figcaption"):
            self._text_target = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._figure is not None and self._text_target:
            self._figure[self._text_target] += data


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def table_frame(page: _Page, table_id: str) -> pd.DataFrame:
    table = page.tables[table_id]
    header = table["head"][0]
    return pd.DataFrame(table["rows"], columns=header)


# ----------------------------------------------------------------------------- a small validation

def _instrument() -> Instrument:
    items = [{"id": f"a{j}", "text": f"a {j}", "scale": "alpha_scale", "response": "agree4"} for j in range(1, 6)]
    items += [{"id": f"b{j}", "text": f"b {j}", "scale": "beta_scale", "response": "agree4"} for j in range(1, 5)]
    return Instrument.from_dict({
        "id": "report-test", "version": "1", "title": "Report <test> & check",
        "formats": {"agree4": {"type": "likert", "options": [{"code": c, "label": str(c)} for c in range(1, 5)]}},
        "scales": [{"id": "alpha_scale", "name": "Alpha scale"}, {"id": "beta_scale", "name": "Beta scale"}],
        "items": items,
    })


def _frame(seed: int = 7, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n, 2))
    columns = {}
    for j in range(1, 6):
        columns[f"a{j}"] = 1 + ((1.5 * theta[:, 0] + rng.normal(size=n))[:, None] > [-1.5, 0.0, 1.5]).sum(axis=1)
    for j in range(1, 5):
        columns[f"b{j}"] = 1 + ((1.0 * theta[:, 1] + rng.normal(size=n))[:, None] > [-1.2, 0.2, 1.4]).sum(axis=1)
    frame = pd.DataFrame(columns).astype(float)
    frame.iloc[rng.random(frame.shape) < 0.05] = np.nan
    frame.insert(0, "respondent_id", [f"r{i:03d}" for i in range(n)])
    frame["site"] = np.where(np.arange(n) % 2 == 0, "north", "south")
    frame.loc[frame["site"] == "south", "a3"] = np.minimum(frame.loc[frame["site"] == "south", "a3"] + 2, 4)
    return frame


@pytest.fixture(scope="module")
def validation() -> Validation:
    return validate(_instrument(), _frame(), group="site", n_replications=3)


@pytest.fixture(scope="module")
def page_text(validation) -> str:
    return render(validation)


@pytest.fixture(scope="module")
def page(page_text) -> _Page:
    return parse(page_text)


# ----------------------------------------------------------------------------- numbers

def test_item_table_equals_api(validation, page):
    shown = table_frame(page, "table-items")
    expected = validation.item_table()
    columns = [c for c in ITEM_COLUMNS if c in expected.columns]
    assert shown["item"].tolist() == expected.index.tolist()
    assert {"r_drop", "a", "b1", "b3", "flags"} <= set(columns)
    header = page.tables["table-items"]["head"][0]
    assert len(header) == len(columns) + 1
    for k, column in enumerate(columns, start=1):
        texts = shown.iloc[:, k].tolist()
        assert texts == [format_value(v, column) for v in expected[column]], column
    # spot check against the underlying results, independent of format_value
    a2 = validation.irt["alpha_scale"].calibration.item_params.loc["a2", "a"]
    row = shown.set_index("item").loc["a2"]
    assert row.iloc[columns.index("a")] == f"{a2:.3f}"
    r_drop = validation.analysis.items.loc["b4", "r_drop"]
    assert shown.set_index("item").loc["b4"].iloc[columns.index("r_drop")] == f"{r_drop:.3f}"


def test_scale_and_reliability_tables_equal_api(validation, page):
    scales = table_frame(page, "table-scales").set_index("scale")
    api = validation.scale_table()
    assert scales.index.tolist() == api.index.tolist()
    for scale in api.index:
        assert scales.loc[scale, "alpha"] == f"{api.loc[scale, 'alpha']:.3f}"
        assert scales.loc[scale, "marginal rxx"] == f"{validation.irt[scale].marginal_reliability:.3f}"
        assert scales.loc[scale, "verdict"] == validation.verdicts[scale]
        assert scales.loc[scale, "name"] == {"alpha_scale": "Alpha scale", "beta_scale": "Beta scale"}[scale]
    reliability = table_frame(page, "table-reliability").set_index("scale")
    for scale in api.index:
        assert reliability.loc[scale, "lambda6"] == f"{validation.analysis.scales.loc[scale, 'lambda6']:.3f}"


def test_factor_tables_equal_api(validation, page):
    factor = table_frame(page, "table-factorability").set_index("statistic")["value"]
    assert factor["KMO (overall MSA)"] == f"{validation.kmo.overall:.3f}"
    assert factor["parallel analysis: factors"] == str(validation.parallel.n_factors)
    cfa = table_frame(page, "table-cfa").set_index("statistic")["value"]
    assert cfa["srmr"] == f"{validation.cfa.srmr:.3f}"
    assert cfa["df"] == str(validation.cfa.df)
    assert cfa["p_scaled"] == f"{validation.cfa.p_scaled:.4f}"
    loadings = table_frame(page, "fig-loadings-data-0").set_index("item")
    efa = validation.efa.loadings
    assert loadings.loc["a1", efa.columns[0]] == f"{efa.loc['a1', efa.columns[0]]:.3f}"


def test_dif_table_and_findings(validation, page, page_text):
    assert validation.dif is not None
    assert "table-dif" in page.tables
    shown = table_frame(page, "table-dif")
    assert len(shown) == len(validation.dif)
    assert "p (Holm)" in shown.columns
    first = validation.dif.iloc[0]
    assert shown["p (Holm)"].iloc[0] == f"{first['p_adjusted']:.4f}"
    assert shown["class"].tolist() == validation.dif["dif_class"].tolist()
    a3 = shown[shown["item"] == "a3"].iloc[0]
    assert a3["flagged"] == "yes" and a3["chi2"] == f"{validation.dif.loc['a3', 'chi2']:.3f}"
    for finding in validation.findings:
        assert finding.message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in page_text


def test_information_table_matches_calibration(validation, page):
    from psychometrics.information import test_information

    shown = table_frame(page, "fig-information-data-0")
    cal = validation.irt["beta_scale"].calibration
    rows = shown[shown["scale"] == "beta_scale"]
    theta = rows["theta"].astype(float).to_numpy()
    expected = test_information(cal, theta)
    assert rows["test_information"].tolist() == [f"{v:.3f}" for v in expected]
    assert rows["se"].tolist() == [f"{1 / np.sqrt(v):.3f}" for v in expected]


def test_category_curve_table_matches_probabilities(validation, page):
    shown = table_frame(page, "fig-crc-alpha-scale-data-0")
    cal = validation.irt["alpha_scale"].calibration
    probabilities = cal.probabilities(np.array([-1.0]))
    j = cal.item_ids.index("a4")
    row = shown[(shown["item"] == "a4") & (shown["category"] == "2")].iloc[0]
    assert row["theta -1"] == f"{probabilities[j, 0, 1]:.3f}"


# ----------------------------------------------------------------------------- self-contained, accessible

def test_page_is_self_contained(page_text, page):
    for tag, attrs in page.elements:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"(https?:)?//", value), (tag, name, value)
        assert tag not in ("script", "link", "iframe", "img"), tag
    assert "@import" not in page_text
    assert not re.search(r"url\((?!#)", page_text)


def test_every_figure_is_accessible(page):
    assert len(page.figures) == 6  # scree, loadings, 2 category-curve sets, information, Wright map
    for figure in page.figures:
        attrs = figure["attrs"]
        assert attrs.get("role") == "img"
        assert attrs.get("aria-label", "").strip()
        assert figure["svg"] == 1
        assert figure["title"].strip() and figure["desc"].strip() and figure["caption"].strip()
        described = attrs["aria-describedby"]
        assert described in page.ids
        assert any(table_id.startswith(described) for table_id in page.tables)


def test_ids_are_unique(page):
    duplicates = [name for name, count in Counter(page.ids).items() if count > 1]
    assert not duplicates


def test_user_text_is_escaped(page_text):
    assert "Report &lt;test&gt; &amp; check" in page_text
    assert "Report <test>" not in page_text


def test_missing_values_show_as_dash():
    assert format_value(float("nan")) == "–"
    assert format_value(None) == "–"
    assert format_value(np.float64(0.12345)) == "0.123"
    assert format_value(0.012345, "p") == "0.0123"
    assert format_value(12.0, "df") == "12"
    assert format_value(np.int64(3)) == "3"
    assert format_value(True) == "yes"
    assert format_value("x") == "x"


def test_write_report_is_atomic(validation, page_text, tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    assert write_report(validation, path) == path
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # the same numbers as render(); only the time stamp in the footer may differ
    strip = re.compile(r"Generated [^<]* by")
    assert strip.sub("", text) == strip.sub("", page_text)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]

    import psychometrics.report as report
    from psychometrics.storage import atomic_write_text

    def broken(*args, **kwargs):
        raise OSError("disk full")

    # a failure while writing leaves the previous report in place and no temporary file
    monkeypatch.setattr(report.os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "<html>partial")
    assert path.read_text(encoding="utf-8") == text
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# ----------------------------------------------------------------------------- scored data

def _scores() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    t = 50 + 10 * rng.normal(size=(12, 3))
    t[4, 1] = np.nan
    frame = pd.DataFrame(t, columns=["comm_T", "team_T", "lead_T"],
                         index=pd.Index([f"r{i:02d}" for i in range(12)], name="respondent_id"))
    frame.insert(0, "comm", rng.normal(size=12))
    return frame


def test_render_scores_tables_equal_input(tmp_path):
    scores = _scores()
    path = tmp_path / "scores.html"
    text = render_scores(scores, path, respondent="r03", labels={"comm": "Communication"})
    assert path.read_text(encoding="utf-8") == text
    page = parse(text)
    assert len(page.figures) == 2
    radar = table_frame(page, "fig-radar-data-0").set_index("scale")["T"]
    assert radar.to_dict() == {s: f"{scores.loc['r03', s + '_T']:.3f}" for s in ("comm", "team", "lead")}
    team = table_frame(page, "fig-team-data-0").set_index("respondent_id")
    assert team.loc["r04", "team"] == "–"  # missing score stays missing
    assert team.loc["r07", "lead"] == f"{scores.loc['r07', 'lead_T']:.3f}"
    assert "Communication" in page.figures[0]["desc"]


def test_radar_of_respondent_with_a_missing_score():
    scores = _scores()
    page = parse(render_scores(scores, respondent="r04"))
    radar = table_frame(page, "fig-radar-data-0").set_index("scale")["T"]
    assert radar["team"] == "–"
    assert "team not scored" in page.figures[0]["desc"]


def test_render_scores_without_norms_standardizes():
    raw = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 2.5, 1.0, 4.0]}, index=list("abcd"))
    page = parse(render_scores(raw))
    team = table_frame(page, "fig-team-data-0").set_index(page.tables["fig-team-data-0"]["head"][0][0])
    z = (raw["x"] - raw["x"].mean()) / raw["x"].std(ddof=1)
    assert team["x"].tolist() == [f"{50 + 10 * v:.3f}" for v in z]


def test_render_scores_rejects_bad_input():
    scores = _scores()
    with pytest.raises(ResponseError, match="respondent 'nobody'"):
        render_scores(scores, respondent="nobody")
    with pytest.raises(ResponseError, match="scale 'grit'"):
        render_scores(scores, scales=["grit"])
    with pytest.raises(ResponseError, match="no spread"):
        render_scores(pd.DataFrame({"x": [1.0, 1.0, 1.0]}))
    with pytest.raises(ResponseError, match="non-empty DataFrame"):
        render_scores(pd.DataFrame())
