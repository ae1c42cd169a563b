"""The individual 360-degree page and the team heat map: what is shown is what the anonymity rule allows."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest

pytest.importorskip("jinja2")
pytest.importorskip("matplotlib")

from psychometrics.errors import ResponseError  # noqa: E402
from psychometrics.instrument import Instrument, bundled_sample  # noqa: E402
from psychometrics.raters import feedback  # noqa: E402
from psychometrics.report.feedback360 import render_feedback, render_team, write_feedback_reports  # noqa: E402

FORM = Instrument.bundled("feedback-360")


class _Page(HTMLParser):
    """Tables by id (header and rows of cell texts), list items by list id, figures, text by id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.lists: dict[str, list[str]] = {}
        self.texts: dict[str, str] = {}
        self.figures = 0
        self.urls: list[str] = []
        self._table = self._list = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._item: list[str] | None = None
        self._text: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[k] for k in ("src", "href") if k in attrs and attrs[k] and not attrs[k].startswith("#")]
        if tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "ul" and attrs.get("id"):
            self._list = attrs["id"]
            self.lists[self._list] = []
        elif tag == "li" and self._list:
            self._item = []
        elif tag == "figure":
            self.figures += 1
        elif tag == "p" and attrs.get("id"):
            self._text = attrs["id"]
            self.texts[self._text] = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "li" and self._item is not None:
            self.lists[self._list].append("".join(self._item).strip())
            self._item = None
        elif tag == "ul":
            self._list = None
        elif tag == "p":
            self._text = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._item is not None:
            self._item.append(data)
        if self._text:
            self.texts[self._text] += data


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def _table(page: _Page, table_id: str) -> pd.DataFrame:
    rows = page.tables[table_id]
    return pd.DataFrame(rows[1:], columns=rows[0]).set_index(rows[0][0])


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(bundled_sample("feedback-360"), comment="#")


@pytest.fixture(scope="module")
def result(sample):
    return feedback(sample, FORM)


def test_page_shows_only_groups_of_three_or_more(result):
    page = _parse(render_feedback(result, "t0001"))
    roles = _table(page, "table-roles")
    # manager (1 rater) and peers (withheld with it, so the manager cannot be recovered) are not shown
    assert list(roles.columns) == ["Self", "Others", "Direct report"]
    profile = result.profile.xs("t0001", level="target")
    assert roles.loc["Problem solving", "Others"] == f"{profile.loc['problem_solving', 'others']:.3f}"
    assert roles.loc["Teamwork", "Direct report"] == f"{profile.loc['teamwork', 'direct_report']:.3f}"
    rule = " ".join(page.texts["anonymity-rule"].split())
    assert "at least 3 raters" in rule and "Manager (1 rater), Peer (3 raters)" in rule
    assert "+0.5 or more" in " ".join(page.texts["gap-rule"].split())
    counts = _table(page, "table-counts")
    assert counts["raters"].tolist() == ["1", "1", "3", "3"]
    assert counts.loc["Manager", "shown"] == "included in Others only"
    # the spider chart's data table holds the same groups
    assert page.figures == 1
    spider = page.tables["fig-spider-data-0"]
    assert spider[0] == ["competency", "Self", "Others", "Direct report"]
    # nothing is loaded from anywhere: the page is self-contained
    assert page.urls == []


def test_page_lists_blind_spots_hidden_strengths_and_largest_gaps(result):
    for target in ("t0001", "t0013"):
        page = _parse(render_feedback(result, target))
        names = {s.id: s.name for s in FORM.scales}
        spots = [names[c] for _, c in result.blind_spots(target).sort_values("gap", ascending=False).index]
        strengths = [names[c] for _, c in result.hidden_strengths(target).sort_values("gap").index]
        assert [item.split(":")[0] for item in page.lists.get("list-blind-spots", [])] == spots
        assert [item.split(":")[0] for item in page.lists.get("list-hidden-strengths", [])] == strengths
        gaps = _table(page, "table-gaps")
        flagged = gaps[gaps["flagged"] != ""]
        assert sorted(flagged.index) == sorted(spots + strengths)
        largest = _table(page, "table-items")
        items = result.items.xs(target, level="target").dropna(subset=["gap"])
        expected = items["gap"].abs().sort_values(ascending=False).index[:5]
        assert list(largest.index) == list(expected)
        assert largest["item text"].iloc[0] == FORM.item(expected[0]).text


def test_every_target_and_the_team_page(result, tmp_path):
    paths = write_feedback_reports(result, tmp_path / "pages", targets=["t0001", "t0002"])
    assert [p.name for p in paths] == ["t0001.html", "t0002.html"]
    assert all("360-degree feedback: t000" in p.read_text() for p in paths)
    page = _parse(render_team(result, tmp_path / "team.html"))
    data = page.tables["fig-team-data-0"]
    assert len(data) == 61 and data[0][1:] == [s.name for s in FORM.scales]
    assert data[1][0] == "t0001" and data[1][2] == f"{result.team().loc['t0001', 'problem_solving']:.3f}"
    with pytest.raises(ResponseError, match="target 'nobody' is not in the ratings"):
        render_feedback(result, "nobody")
