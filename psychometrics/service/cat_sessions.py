"""Adaptive tests in the service: start, step and read stored ``cat.Session`` documents.

Shared by the API (``routers/cat.py``) and the test-taker page (``routers/take.py``). A step
is one session load (``Session.from_json`` with the process's cached bank), one selection and
one write, committed before the answer is acknowledged. Nothing statistical happens here:
theta and SE are the session's, T and percentile come from :func:`psychometrics.norms.norm_scores`
(mean 0, SD 1) as the scoring endpoint gives them.
"""

from __future__ import annotations

import json
import math
import secrets
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session as DbSession

from psychometrics.service.repository import BankCache, LoadedBank, iso
from psychometrics.service.scoring import AnswerError, json_number
from psychometrics.service.store.models import CatSession, ItemBank as BankRow, utcnow

__all__ = ["CatOptions", "AnswerIn", "new_session", "load_row", "step", "session_out"]


#: Largest pool a Sympson-Hetter parameter set may describe (the body limit bounds it too).
MAX_EXPOSURE_ITEMS = 10_000

ItemId = Annotated[str, Field(min_length=1, max_length=200)]


class Randomesque(BaseModel):
    """``{"randomesque": k}``: one of the ``k`` best items at random (Kingsbury & Zara 1989)."""

    model_config = ConfigDict(extra="forbid")

    randomesque: int = Field(ge=1, le=1000)


class SympsonHetter(BaseModel):
    """``{"sympson_hetter": {item: K, ...}}``: Sympson-Hetter exposure parameters, one probability
    per item of the pool (``cat.exposure_parameters(bank, thetas).parameters.to_dict()``)."""

    model_config = ConfigDict(extra="forbid")

    sympson_hetter: dict[ItemId, Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]] = Field(
        min_length=1, max_length=MAX_EXPOSURE_ITEMS)


class CatOptions(BaseModel):
    """Body of ``POST /v1/banks/{id}/cat``: the options of :class:`psychometrics.cat.Session`."""

    model_config = ConfigDict(extra="forbid")

    selection: Literal["mfi", "kl", "mpwi", "mepv", "progressive", "random", "shadow"] = "mfi"
    stop: dict[str, Any] | None = Field(None, description='e.g. {"se": 0.3, "min_items": 5, "max_items": 30}')
    content: dict[str, float] | None = Field(None, description="Scale (content area) -> target proportion.")
    exposure: Literal["randomesque"] | Randomesque | SympsonHetter | None = Field(
        None, description='"randomesque", {"randomesque": k}, or Sympson-Hetter parameters '
                          '{"sympson_hetter": {item: probability, ...}} for every item of the pool.')
    scoring: Literal["eap", "map", "wle", "ml"] = "eap"
    start_theta: float = 0.0
    cut: float | None = None
    enemies: list[list[str]] | None = None
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    respondent: str | None = Field(None, min_length=1, max_length=200)


class AnswerIn(BaseModel):
    """Body of ``POST /v1/cat/{session}/answers``: the pending item and its response code (null: omitted)."""

    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=200)
    response: int | float | None


def _problem(msg: str, *, item: str | None = None, loc: tuple[str, ...] = ("body",)) -> AnswerError:
    return AnswerError([{"loc": list(loc), "respondent": None, "item": item, "msg": msg}])


def final_scores(session: Any) -> dict[str, Any]:
    """Theta, SE, T, percentile, n_answered and flags of a finished session (JSON values)."""
    from psychometrics.norms import norm_scores

    theta, se = float(session.theta), float(session.se)
    answered = sum(value is not None for value in session.responses.values())
    flags = []
    if answered == 0:
        flags.append("no_responses")
    elif not math.isfinite(theta):
        flags.append("infinite_estimate")
    converted = norm_scores([theta], mean=0.0, sd=1.0) if math.isfinite(theta) else None
    return {"theta": json_number(theta), "se": json_number(se),
            "T": None if converted is None else json_number(float(converted["t"].iloc[0])),
            "percentile": None if converted is None else json_number(float(converted["percentile"].iloc[0])),
            "n_answered": answered, "n_items": len(session.administered), "flags": flags,
            "stop_reason": session.stop_reason or None, "classification": session.classification}


def session_out(row: CatSession, status: dict[str, Any], bank: LoadedBank) -> dict[str, Any]:
    """The API's view of a session: where it stands, and the final scores once done."""
    out = {"session": row.id, "bank": {"id": bank.id, "name": bank.name, "version": bank.version},
           "respondent": row.respondent, "state": row.state, **status,
           "created": iso(row.created), "updated": iso(row.updated)}
    out["scores"] = json.loads(row.result) if row.result is not None else None
    return out


def new_session(db: DbSession, banks: BankCache, tenant_pk: int, bank_id: str,
                options: CatOptions) -> tuple[CatSession, dict[str, Any], LoadedBank]:
    """Create, store (committed) and return a session with its first item."""
    from psychometrics import cat

    loaded = banks.get(db, tenant_pk, bank_id)
    settings = options.model_dump(exclude={"respondent"}, exclude_none=True)
    if isinstance(options.exposure, SympsonHetter):
        unknown = [item for item in options.exposure.sympson_hetter if item not in loaded.bank_items]
        if unknown:
            raise _problem(f"exposure: Sympson-Hetter parameters name item(s) {unknown[:5]} that are not in the bank",
                           item=unknown[0], loc=("body", "exposure", "sympson_hetter", unknown[0]))
    try:
        session = cat.Session(loaded.bank, **settings)
        status = session.start()
    except (ValueError, TypeError) as exc:
        raise HTTPException(422, f"invalid CAT options: {exc}") from None
    row = CatSession(id=secrets.token_hex(16), tenant_pk=tenant_pk, bank_pk=loaded.pk,
                     respondent=options.respondent, state="active", document=session.to_json(include_bank=False),
                     created=utcnow(), updated=utcnow())
    _finish(row, session, status)
    db.add(row)
    db.commit()
    return row, status, loaded


def load_row(db: DbSession, session_id: str, tenant_pk: int | None, *, lock: bool = False) -> CatSession:
    """The stored session (of ``tenant_pk``, unless None: the page's capability id); 404 otherwise."""
    query = sa.select(CatSession).where(CatSession.id == session_id)
    if tenant_pk is not None:
        query = query.where(CatSession.tenant_pk == tenant_pk)
    if lock:
        query = query.with_for_update()  # PostgreSQL: concurrent answers to one session queue up
    row = db.scalar(query)
    if row is None:
        raise HTTPException(404, f"CAT session '{session_id}' not found")
    return row


def bank_of(db: DbSession, banks: BankCache, row: CatSession) -> LoadedBank:
    loaded = banks.cached_pk(row.tenant_pk, row.bank_pk)
    if loaded is not None:
        return loaded
    bank_id = db.scalar(sa.select(BankRow.id).where(BankRow.pk == row.bank_pk))
    return banks.get(db, row.tenant_pk, bank_id)


def resume(row: CatSession, loaded: LoadedBank) -> Any:
    from psychometrics import cat

    return cat.Session.from_json(row.document, bank=loaded.bank)


def step(db: DbSession, banks: BankCache, row: CatSession, item: str, response: Any,
         ) -> tuple[dict[str, Any], LoadedBank]:
    """Answer the pending item of a locked ``row``, store the session (committed) and return its status."""
    loaded = bank_of(db, banks, row)
    session = resume(row, loaded)
    if session.done:
        raise _problem(f"the test is over ({session.stop_reason}); item '{item}' cannot be answered",
                       item=item, loc=("body", "item"))
    pending = session.next_item()
    if item not in loaded.bank_items:
        raise _problem(f"item '{item}' is not in the bank; the pending item is '{pending}'", item=item,
                       loc=("body", "item"))
    if item != pending:
        raise _problem(f"item '{item}' is not the pending item '{pending}'", item=item, loc=("body", "item"))
    if isinstance(response, float) and not math.isfinite(response):
        response = None if math.isnan(response) else response
    try:
        status = session.submit(item, response)
    except ValueError as exc:
        raise _problem(str(exc).removeprefix("session: "), item=item, loc=("body", "response")) from None
    row.document = session.to_json(include_bank=False)
    row.updated = utcnow()
    _finish(row, session, status)
    db.commit()
    return status, loaded


def _finish(row: CatSession, session: Any, status: dict[str, Any]) -> None:
    if status["done"]:
        row.state = "done"
        row.result = json.dumps(final_scores(session), allow_nan=False)
