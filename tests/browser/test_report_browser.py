"""The demo report in headless Chromium: every figure renders, no console errors, screenshot.

Needs Debian's ``chromium`` (``/usr/bin/chromium``, or ``$CHROMIUM``) and the ``playwright``
Python package; playwright's own browser download is not used. Skips with the reason when
either is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("jinja2")
pytest.importorskip("matplotlib")


def _chromium() -> str:
    candidates = [os.environ.get("CHROMIUM", ""), "/usr/bin/chromium", shutil.which("chromium") or "",
                  shutil.which("chromium-browser") or ""]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("Chromium not found (install Debian's 'chromium' package, or set $CHROMIUM)")


def _sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the 'playwright' Python package is not installed (pip install playwright)")
    return sync_playwright


LAUNCH_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    # skip before the (slow) validation when there is no browser to look at its report
    _chromium()
    _sync_playwright()
    from psychometrics.instrument import Instrument, bundled_sample
    from psychometrics.report import write_report
    from psychometrics.validation import validate

    validation = validate(Instrument.bundled("soft-skills-7"), bundled_sample("soft-skills-7"), n_replications=5)
    return write_report(validation, tmp_path_factory.mktemp("report") / "report.html")


def _open(page_path: Path, screenshot: Path, tmp_path: Path) -> dict:
    executable = _chromium()
    sync_playwright = _sync_playwright()
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with sync_playwright() as playwright:
        try:
            # a persistent context is how playwright takes a user-data-dir: a new, empty one
            context = playwright.chromium.launch_persistent_context(
                str(profile), executable_path=executable, headless=True, args=LAUNCH_FLAGS,
                viewport={"width": 1280, "height": 900})
        except Exception as exc:  # the browser binary exists but cannot start here
            pytest.skip(f"Chromium at {executable} could not be started: {str(exc).splitlines()[0]}")
        try:
            page = context.new_page()
            messages: list[str] = []
            page.on("console", lambda m: messages.append(f"{m.type}: {m.text}") if m.type in ("error",) else None)
            page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            boxes = page.eval_on_selector_all(
                "figure", """figures => figures.map(f => {
                    const svg = f.querySelector('svg');
                    const box = svg ? svg.getBoundingClientRect() : null;
                    return {id: f.id, role: f.getAttribute('role'), hasSvg: !!svg,
                            width: box ? box.width : 0, height: box ? box.height : 0,
                            shapes: svg ? svg.querySelectorAll('path, rect, use, text, line').length : 0};
                })""")
            title = page.title()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()
    return {"boxes": boxes, "messages": messages, "failed": failed, "requests": requests, "title": title}


def _keep(screenshot: Path) -> None:
    """Copy the screenshot to $REPORT_SCREENSHOT_DIR when set (CI artifacts)."""
    target = os.environ.get("REPORT_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(target) / screenshot.name)


def test_demo_report_renders_in_chromium(demo_report, tmp_path):
    screenshot = tmp_path / "report.png"
    result = _open(demo_report, screenshot, tmp_path)
    boxes = result["boxes"]
    # scree, loadings, seven category-curve sets, information, Wright map
    assert len(boxes) == 11, [b["id"] for b in boxes]
    for box in boxes:
        assert box["hasSvg"] and box["role"] == "img", box
        assert box["width"] > 100 and box["height"] > 100, box
        assert box["shapes"] > 10, box
    assert result["messages"] == []
    assert result["failed"] == []
    # nothing but the file itself is requested: the page is self-contained
    assert all(url.startswith("file://") for url in result["requests"]), result["requests"]
    assert result["title"].startswith("Validation report")
    assert screenshot.stat().st_size > 50_000
    _keep(screenshot)


def test_score_report_renders_in_chromium(tmp_path):
    from psychometrics.data import read_table
    from psychometrics.instrument import Instrument, bundled_sample
    from psychometrics.report import render_scores

    instrument = Instrument.bundled("soft-skills-7")
    scores = instrument.score(read_table(bundled_sample("soft-skills-7")))
    path = tmp_path / "scores.html"
    render_scores(scores.iloc[:15], path, labels={s.id: s.name for s in instrument.scales})
    result = _open(path, tmp_path / "scores.png", tmp_path)
    assert len(result["boxes"]) == 2
    assert all(b["width"] > 100 and b["height"] > 100 and b["shapes"] > 10 for b in result["boxes"])
    assert result["messages"] == [] and result["failed"] == []
    _keep(tmp_path / "scores.png")
