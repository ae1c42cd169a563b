"""The test-taker page: ``/take/{session}``, one item per page, plain HTML forms.

Authorization: the session id is the capability. It is 128 random bits created by
``POST /v1/banks/{id}/cat`` (an API-key call by the platform), which hands the link to the
respondent; the page never needs or sees an API key, shows no scores, and can only answer the
pending item of that one session. An unknown id is 404, like another tenant's session in the API.
No JavaScript, no external resources (inline CSS only), real radio buttons with labels.
"""

from __future__ import annotations

import functools
import math
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from psychometrics.service.cat_sessions import bank_of, load_row, resume, step
from psychometrics.service.scoring import AnswerError

router = APIRouter(tags=["test-taker page"], include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>{{ title }}</title>
<style>
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;line-height:1.5;
color:#1a1a1a;background:#fafafa}
main{max-width:40rem;margin:0 auto;background:#fff;padding:1.25rem;border-radius:.5rem;border:1px solid #ddd}
h1{font-size:1.25rem;margin:0 0 .75rem}
.progress{margin:0 0 1rem;color:#444}
progress{width:100%;height:.75rem}
fieldset{border:0;padding:0;margin:0 0 1rem}
legend{font-size:1.15rem;font-weight:600;margin-bottom:.75rem;padding:0}
.option{display:flex;align-items:center;gap:.6rem;padding:.6rem .75rem;margin:.35rem 0;border:1px solid #bbb;
border-radius:.4rem;cursor:pointer;min-height:2.75rem}
.option input{width:1.25rem;height:1.25rem;margin:0;flex:none}
.option:hover{background:#f0f4ff}
input:focus-visible,button:focus-visible{outline:3px solid #1a56db;outline-offset:2px}
.option:focus-within{border-color:#1a56db;background:#eef3ff}
button{font:inherit;font-size:1.05rem;padding:.65rem 1.5rem;border-radius:.4rem;border:0;background:#1a56db;color:#fff;
cursor:pointer;width:100%}
.error{color:#a00;font-weight:600}
@media (min-width:40rem){button{width:auto}body{padding:2rem}}
</style>
</head>
<body>
<main>
<h1>{{ title }}</h1>
{% if done %}
<p role="status">Thank you: the test is complete. You answered {{ answered }} question{{ "" if answered == 1 else "s" }}.
You can close this page.</p>
{% else %}
<p class="progress" id="progress">Question {{ position }}{% if max_items %} of at most {{ max_items }}{% endif %}
{% if max_items %}<br><progress max="{{ max_items }}" value="{{ position - 1 }}" aria-labelledby="progress">
{{ position - 1 }} of {{ max_items }}</progress>{% endif %}</p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/take/{{ session }}">
<input type="hidden" name="item" value="{{ item }}">
<fieldset>
<legend>{{ text }}</legend>
{% for option in options %}
<label class="option"><input type="radio" name="response" value="{{ option.value }}" required
{% if loop.first %}autofocus{% endif %}> {{ option.label }}</label>
{% endfor %}
</fieldset>
<button type="submit">Next</button>
</form>
{% endif %}
</main>
</body>
</html>
"""


@functools.cache
def _template() -> Any:
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(_PAGE)


def _presentation(loaded: Any, item: str) -> tuple[str, list[dict[str, Any]], str]:
    """The item's text and options (value = the bank's category code), and the page language.

    With an instrument: its item text and Likert labels; a reverse-keyed item's label for raw
    code c is posted as the keyed code lo + hi - c (the bank is calibrated on keyed codes).
    Otherwise (or for formats without labels per code): the item id and the category codes.
    """
    bank = loaded.bank
    categories = next(list(c.categories[item]) for c in bank.scales.values() if item in c.item_ids)
    fallback = (item, [{"value": code, "label": str(code)} for code in categories], "en")
    instrument = loaded.instrument
    if instrument is None or item not in instrument.item_ids:
        return fallback
    spec = instrument.item(item)
    response_format = instrument.formats.get(spec.response) if isinstance(spec.response, str) else spec.response
    lang = getattr(instrument, "language", None) or "en"
    if getattr(response_format, "type", None) != "likert":
        return spec.text, fallback[1], lang
    codes = [option.code for option in response_format.options]
    low, high = min(codes), max(codes)
    options = []
    for option in response_format.options:
        keyed = low + high - option.code if spec.keying == "-" else option.code
        if keyed not in categories:  # the bank does not match the instrument: show plain codes
            return spec.text, fallback[1], lang
        options.append({"value": keyed, "label": option.label})
    return spec.text, options, lang


def _render(request: Request, db: Session, session_id: str, *, error: str | None = None,
            status_code: int = 200) -> HTMLResponse:
    row = load_row(db, session_id, None)
    loaded = bank_of(db, request.app.state.banks, row)
    cat_session = resume(row, loaded)
    status = cat_session.status()
    title = (loaded.bank.instrument_title if loaded.instrument is not None and loaded.bank.instrument_title
             else "Questionnaire")
    context: dict[str, Any] = {"title": title, "session": row.id, "done": status["done"], "error": error,
                               "answered": status["n_items"], "lang": "en"}
    if not status["done"]:
        text, options, lang = _presentation(loaded, status["item"])
        max_items = cat_session._design.stop.max_items  # the upper bound: a CAT may stop earlier
        context.update(item=status["item"], position=status["position"], text=text, options=options, lang=lang,
                       max_items=max_items)
    html = _template().render(**context)
    return HTMLResponse(html, status_code=status_code, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                   "base-uri 'none'; frame-ancestors 'none'"})


@router.get("/take/{session_id}", response_class=HTMLResponse)
def take(session_id: str, request: Request) -> HTMLResponse:
    with Session(request.app.state.engine, expire_on_commit=False) as db:
        return _render(request, db, session_id)


@router.post("/take/{session_id}", response_class=HTMLResponse)
async def answer(session_id: str, request: Request) -> Any:
    form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    item = (form.get("item") or [""])[0]
    raw = (form.get("response") or [None])[0]
    return await _answer_sync(request, session_id, item, raw)


async def _answer_sync(request: Request, session_id: str, item: str, raw: str | None) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_answer, request, session_id, item, raw)


def _answer(request: Request, session_id: str, item: str, raw: str | None) -> Any:
    with Session(request.app.state.writer, expire_on_commit=False) as db:
        row = load_row(db, session_id, None, lock=True)
        if raw is None or raw == "":
            db.rollback()
            return _render(request, db, session_id, error="Please choose an answer.", status_code=422)
        try:
            response = float(raw)
            if not math.isfinite(response):
                raise ValueError
        except ValueError:
            db.rollback()
            return _render(request, db, session_id, error="That answer is not one of the options.",
                           status_code=422)
        try:
            step(db, request.app.state.banks, row, item, response)
        except AnswerError:
            # typically the back button: an earlier item posted again; show the pending one
            db.rollback()
            return _render(request, db, session_id, status_code=409,
                           error="That question was already answered or is not the current one; "
                                 "please answer the question below.")
        except HTTPException:
            raise
    return RedirectResponse(f"/take/{session_id}", status_code=303)
