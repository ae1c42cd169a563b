"""Wide report tables at 1400 px in headless Chromium: every table fits or scrolls inside its
own container, no element reaches past the viewport, the page itself never scrolls sideways,
and the DIF legend is visible (issue 9, part 9)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from test_report_browser import LAUNCH_FLAGS, _chromium, _sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "realfiles"))

WIDTH = 1400

# Every rendered element outside a scroll container must lie within the viewport; inside one,
# the container clips it and the user scrolls that table only.
_MEASURE = """() => {
    const viewport = document.documentElement.clientWidth;
    const outside = [];
    for (const el of document.body.querySelectorAll('*')) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 && box.height === 0) continue;      // not rendered (closed details...)
        const scroller = el.parentElement && el.parentElement.closest('.scroll');
        if (scroller) continue;
        if (box.left < -0.5 || box.right > viewport + 0.5) {
            outside.push({tag: el.tagName, id: el.id, cls: String(el.className), left: box.left, right: box.right});
        }
    }
    return {
        page: document.documentElement.scrollWidth,
        viewport: viewport,
        outside: outside.slice(0, 10),
        tables: [...document.querySelectorAll('table')].map(t => {
            const box = t.parentElement;
            const r = box.getBoundingClientRect();
            return {id: t.id, container: box.className, left: r.left, right: r.right,
                    overflowX: getComputedStyle(box).overflowX,
                    wide: t.scrollWidth > box.clientWidth + 1};
        }),
        legend: (() => { const d = document.getElementById('dif-legend');
                         return d ? d.getBoundingClientRect().height : 0; })(),
    };
}"""


def _measure(page_path: Path, tmp_path: Path) -> dict:
    sync_playwright = _sync_playwright()
    profile = tmp_path / f"chromium-profile-{page_path.stem}"
    profile.mkdir()
    with sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(profile), executable_path=_chromium(), headless=True, args=LAUNCH_FLAGS,
                viewport={"width": WIDTH, "height": 900})
        except Exception as exc:  # the browser binary exists but cannot start here
            pytest.skip(f"Chromium could not be started: {str(exc).splitlines()[0]}")
        try:
            page = context.new_page()
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            # open every "data table" disclosure so that the tables behind the figures count too
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            return page.evaluate(_MEASURE)
        finally:
            context.close()


def _assert_readable(measured: dict) -> None:
    assert measured["viewport"] == WIDTH
    assert measured["outside"] == [], measured["outside"]
    # the page never scrolls sideways
    assert measured["page"] <= measured["viewport"]
    for t in measured["tables"]:
        # every table sits in its scroll container, inside the viewport; a table wider than
        # the container scrolls there instead of widening the page
        assert t["container"] == "scroll", t
        assert t["overflowX"] == "auto", t
        assert 0 <= t["left"] and t["right"] <= measured["viewport"], t


@pytest.fixture(scope="module")
def dif_report(tmp_path_factory) -> Path:
    _chromium()
    _sync_playwright()
    from dif_data import frame_with_dif, two_scale_instrument
    from psychometrics.report import write_report
    from psychometrics.validation import validate

    validation = validate(two_scale_instrument(), frame_with_dif(), group="cohort", n_replications=2)
    return write_report(validation, tmp_path_factory.mktemp("report") / "report.html")


def test_validation_report_stays_inside_1400px(dif_report, tmp_path):
    measured = _measure(dif_report, tmp_path)
    _assert_readable(measured)
    ids = {t["id"] for t in measured["tables"]}
    assert {"table-dif", "table-irt", "table-items"} <= ids
    assert measured["legend"] > 0


def test_score_report_with_many_scales_stays_inside_1400px(tmp_path):
    _chromium()
    _sync_playwright()
    from psychometrics.report import render_scores

    # 16 scales with long names: the team table is far wider than the page
    rng = np.random.default_rng(3)
    scales = [f"scale_{j:02d}" for j in range(16)]
    scores = pd.DataFrame({f"{s}_T": rng.normal(50, 10, 40) for s in scales},
                          index=pd.Index([f"respondent-with-a-long-id-{i:03d}" for i in range(40)], name="id"))
    path = tmp_path / "scores.html"
    render_scores(scores, path, labels={s: f"{s.replace('_', ' ')}: conflict resolution under pressure"
                                        for s in scales})
    measured = _measure(path, tmp_path)
    _assert_readable(measured)
    assert measured["tables"], "the score report has data tables"
    assert any(t["wide"] for t in measured["tables"]), "the test needs a table wider than its container"
