"""Wide report tables at 1400 px in headless Chromium: every table fits or scrolls inside its
own container, the page itself never scrolls sideways, and the DIF legend is visible."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from test_report_browser import LAUNCH_FLAGS, _chromium, _sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "realfiles"))


@pytest.fixture(scope="module")
def dif_report(tmp_path_factory) -> Path:
    _chromium()
    _sync_playwright()
    from dif_data import frame_with_dif, two_scale_instrument
    from psychometrics.report import write_report
    from psychometrics.validation import validate

    validation = validate(two_scale_instrument(), frame_with_dif(), group="cohort", n_replications=2)
    return write_report(validation, tmp_path_factory.mktemp("report") / "report.html")


def test_tables_stay_inside_their_containers_at_1400px(dif_report, tmp_path):
    sync_playwright = _sync_playwright()
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(profile), executable_path=_chromium(), headless=True, args=LAUNCH_FLAGS,
                viewport={"width": 1400, "height": 900})
        except Exception as exc:  # the browser binary exists but cannot start here
            pytest.skip(f"Chromium could not be started: {str(exc).splitlines()[0]}")
        try:
            page = context.new_page()
            page.goto(dif_report.resolve().as_uri(), wait_until="load")
            measured = page.evaluate("""() => ({
                page: document.documentElement.scrollWidth,
                viewport: document.documentElement.clientWidth,
                tables: [...document.querySelectorAll('table')].map(t => {
                    const box = t.parentElement;
                    const r = box.getBoundingClientRect();
                    return {id: t.id, container: box.className, left: r.left, right: r.right,
                            overflowX: getComputedStyle(box).overflowX,
                            fits: t.scrollWidth <= box.clientWidth + 1};
                }),
                legend: (() => { const d = document.getElementById('dif-legend');
                                 return d ? d.getBoundingClientRect().height : 0; })(),
            })""")
        finally:
            context.close()
    assert measured["viewport"] == 1400
    # the page never scrolls sideways
    assert measured["page"] <= measured["viewport"]
    ids = {t["id"] for t in measured["tables"]}
    assert {"table-dif", "table-irt", "table-items"} <= ids
    for t in measured["tables"]:
        # every table sits in its scroll container, inside the viewport; a table wider than
        # the container scrolls there instead of widening the page
        assert t["container"] == "scroll", t
        assert t["overflowX"] == "auto", t
        assert 0 <= t["left"] and t["right"] <= measured["viewport"], t
    assert measured["legend"] > 0
