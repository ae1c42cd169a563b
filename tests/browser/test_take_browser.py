"""The test-taker page in headless Chromium: a whole adaptive test with the keyboard, phone-sized.

Needs Debian's ``chromium`` (``/usr/bin/chromium``, or ``$CHROMIUM``), ``playwright`` and the
service extra; skips cleanly without them. The server runs in this process on a free loopback port.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the 'service' extra is not installed")
pytest.importorskip("jinja2")
uvicorn = pytest.importorskip("uvicorn")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report_browser import LAUNCH_FLAGS, _chromium, _sync_playwright  # noqa: E402



def _service_fixtures():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "service" / "conftest.py"
    spec = importlib.util.spec_from_file_location("service_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_fixtures = _service_fixtures()
create_keys, soft_skills_bank = _fixtures.create_keys, _fixtures.soft_skills_bank

PHONE = {"width": 375, "height": 667}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    from psychometrics.service import Settings, create_app

    url = f"sqlite:///{tmp_path / 'store.db'}"
    keys = create_keys(url, "acme")
    port = _free_port()
    config = uvicorn.Config(create_app(Settings(database_url=url, rate_limit=0)), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {keys['acme']}"}
    finally:
        instance.should_exit = True
        thread.join(10)


def test_take_a_whole_test_with_the_keyboard_on_a_phone(server, tmp_path):
    import httpx

    executable = _chromium()
    sync_playwright = _sync_playwright()
    base, headers = server
    options = {"stop": {"se": 0.5, "min_items": 3, "max_items": 5}, "seed": 11}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
        bank_id = api.post("/v1/banks?name=ss7", json=soft_skills_bank()).json()["id"]
        session_id = api.post(f"/v1/banks/{bank_id}/cat", json=options).json()["session"]

        profile = tmp_path / "chromium-profile"
        profile.mkdir()
        answers: list[tuple[str, int]] = []
        requests: list[str] = []
        with sync_playwright() as playwright:
            try:
                context = playwright.chromium.launch_persistent_context(
                    str(profile), executable_path=executable, headless=True, args=LAUNCH_FLAGS,
                    viewport=PHONE, java_script_enabled=False)
            except Exception as exc:
                pytest.skip(f"Chromium at {executable} could not be started: {str(exc).splitlines()[0]}")
            try:
                page = context.new_page()
                page.on("request", lambda r: requests.append(r.url))
                page.goto(f"{base}/take/{session_id}", wait_until="load")
                for step in range(1, 6):
                    if page.locator("form").count() == 0:
                        break
                    assert f"Question {step}" in page.inner_text(".progress")
                    item = page.get_attribute("input[name=item]", "value")
                    legend = page.inner_text("legend")
                    assert legend and legend != item  # the instrument's text, not the id
                    labels = page.locator("label.option")
                    assert labels.count() == 5 and "agree" in labels.first.inner_text().lower()
                    # nothing fits wider than the phone: no sideways scrolling
                    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
                    # keyboard only: the first option has focus; Space checks it, arrows move the choice
                    page.keyboard.press("Space")
                    for _ in range(step % 3):
                        page.keyboard.press("ArrowDown")
                    checked = page.locator("input[name=response]:checked")
                    value = int(checked.get_attribute("value"))
                    page.keyboard.press("Tab")
                    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
                    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                    assert outline != "none"  # focus is visible
                    with page.expect_navigation():
                        page.keyboard.press("Enter")
                    answers.append((item, value))
                text = page.inner_text("main")
                assert "test is complete" in text and "You answered" in text
                page.screenshot(path=str(tmp_path / "take-done.png"))
            finally:
                context.close()
        assert all(url.startswith(base) for url in requests)  # no external resources
        assert 3 <= len(answers) <= 5

        stored = api.get(f"/v1/cat/{session_id}").json()
        assert stored["state"] == "done"
        assert [(a["item"], a["response"]) for a in stored["answers"]] == answers
        # the same test through the API, same seed and answers: the same final scores
        state = api.post(f"/v1/banks/{bank_id}/cat", json=options).json()
        for item, value in answers:
            assert state["item"] == item
            state = api.post(f"/v1/cat/{state['session']}/answers", json={"item": item, "response": value}).json()
        assert state["done"]
        assert stored["scores"] == state["scores"]
        assert stored["scores"]["theta"] is not None and stored["scores"]["n_answered"] == len(answers)

        # the page: an unknown session is 404; a stale answer (back button) is refused, not recorded
        assert httpx.get(f"{base}/take/{'0' * 32}").status_code == 404
        stale = httpx.post(f"{base}/take/{session_id}", data={"item": answers[0][0], "response": "3"})
        assert stale.status_code == 409
        assert api.get(f"/v1/cat/{session_id}").json()["scores"] == stored["scores"]
