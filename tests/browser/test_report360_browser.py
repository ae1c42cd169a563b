"""The individual 360-degree page in headless Chromium: the spider chart renders, nothing is fetched,
the anonymity rule holds on screen.

Needs Debian's ``chromium`` (``/usr/bin/chromium``, or ``$CHROMIUM``) and the ``playwright``
Python package; skips with the reason, before building the page, when either is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("jinja2")
pytest.importorskip("matplotlib")

LAUNCH_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    candidates = [os.environ.get("CHROMIUM", ""), "/usr/bin/chromium", shutil.which("chromium") or "",
                  shutil.which("chromium-browser") or ""]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("Chromium not found (install Debian's 'chromium' package, or set $CHROMIUM)")


def test_report360_renders_in_chromium(tmp_path):
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the 'playwright' Python package is not installed (pip install playwright)")
    from psychometrics.instrument import Instrument, bundled_sample
    from psychometrics.raters import feedback
    from psychometrics.report.feedback360 import render_feedback

    result = feedback(bundled_sample("feedback-360"), Instrument.bundled("feedback-360"))
    page_path = tmp_path / "t0001.html"
    render_feedback(result, "t0001", page_path)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(profile), executable_path=executable, headless=True, args=LAUNCH_FLAGS,
                viewport={"width": 1280, "height": 900})
        except Exception as exc:  # the browser binary exists but cannot start here
            pytest.skip(f"Chromium at {executable} could not be started: {str(exc).splitlines()[0]}")
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            box = page.eval_on_selector("#fig-spider svg", """svg => {
                const b = svg.getBoundingClientRect();
                return {width: b.width, height: b.height, lines: svg.querySelectorAll('path, line, text').length};
            }""")
            headers = page.eval_on_selector_all("#table-roles thead th", "ths => ths.map(t => t.textContent.trim())")
            rule = page.inner_text("#anonymity-rule")
            visible = page.is_visible("#anonymity-rule")
            spots = page.eval_on_selector_all("#list-blind-spots li", "lis => lis.map(l => l.textContent)")
            title = page.title()
            page.screenshot(path=str(tmp_path / "report360.png"), full_page=True)
        finally:
            context.close()
    assert box["width"] > 200 and box["height"] > 200 and box["lines"] > 20, box
    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests
    assert title == "360-degree feedback: t0001"
    assert headers == ["competency", "Self", "Others", "Direct report"]   # manager (1 rater) never on its own
    assert visible and "at least 3 raters" in rule
    assert [s.split(":")[0] for s in spots] == ["Problem solving", "Adaptability"]
    assert (tmp_path / "report360.png").stat().st_size > 30_000
    target = os.environ.get("REPORT_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "report360.png", Path(target) / "report360.png")
