"""Adaptive tests: start a session on a bank, answer item by item, read where it stands."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from psychometrics.service.cat_sessions import (AnswerIn, CatOptions, bank_of, load_row, new_session, resume,
                                                session_out, step)
from psychometrics.service.bodies import json_body, parse_body
from psychometrics.service.deps import Caller, authenticate, read_session

router = APIRouter(prefix="/v1", tags=["adaptive tests"])


@router.post("/banks/{bank_id}/cat", status_code=201, openapi_extra=json_body(CatOptions))
async def start_cat(bank_id: str, request: Request, caller: Caller = Depends(authenticate)) -> dict[str, Any]:
    """Start an adaptive test on the bank: the session id (also the test-taker page's
    capability, ``/take/{session}``) and the first item. Stored before the reply.

    Body: :class:`CatOptions`.
    """
    body = await parse_body(request, CatOptions)

    def start() -> dict[str, Any]:
        with Session(request.app.state.writer, expire_on_commit=False) as session:
            row, status, loaded = new_session(session, request.app.state.banks, caller.tenant_pk, bank_id, body)
            return session_out(row, status, loaded)

    return await run_in_threadpool(start)


@router.post("/cat/{session_id}/answers", openapi_extra=json_body(AnswerIn))
async def answer_cat(session_id: str, request: Request, caller: Caller = Depends(authenticate)) -> dict[str, Any]:
    """Answer the pending item: the next item, or (``done``) the final ``scores``. Committed before the reply.

    Body: :class:`AnswerIn`. 422 names the item for an unknown item, an item that is not the
    pending one, or a response outside the item's categories (codes of the bank's calibration).
    The store's work (one locked read, one write, the commit) runs in one worker thread.
    """
    body = await parse_body(request, AnswerIn)

    def answer() -> dict[str, Any]:
        with Session(request.app.state.writer, expire_on_commit=False) as session:
            row = load_row(session, session_id, caller.tenant_pk, lock=True)
            status, loaded = step(session, request.app.state.banks, row, body.item, body.response)
            return session_out(row, status, loaded)

    return await run_in_threadpool(answer)


@router.get("/cat/{session_id}")
def get_cat(session_id: str, request: Request, caller: Caller = Depends(authenticate),
            session: Session = Depends(read_session)) -> dict[str, Any]:
    """Where the session stands: pending item, answers given, interim or final scores."""
    row = load_row(session, session_id, caller.tenant_pk)
    loaded = bank_of(session, request.app.state.banks, row)
    cat_session = resume(row, loaded)
    out = session_out(row, _peek(cat_session), loaded)
    out["answers"] = [{"item": item, "response": value} for item, value in cat_session.responses.items()]
    return out


def _peek(cat_session: Any) -> dict[str, Any]:
    # status() selects a pending item when none is; a stored session always has one unless done
    return cat_session.status()
