"""Stored responses (idempotent writes) and their scores."""

from __future__ import annotations

import json
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from psychometrics.service.bodies import json_body, parse_body
from psychometrics.service.deps import Caller, authenticate, read_session
from psychometrics.service.repository import canonical_sha256, iso, new_id, response_out, score_out
from psychometrics.service.routers.banks import After, Limit, _page
from psychometrics.service.schemas import Page, ResponseOut, ResponseRequest
from psychometrics.service.scoring import score_answers, stored_number
from psychometrics.service.store.models import ItemBank as BankRow, Response, Score, utcnow

router = APIRouter(prefix="/v1", tags=["responses"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                              description="Unique per logical submission; a retry with the "
                                                          "same key returns the first result.")]


def _replay(session: Session, row: Response, request_sha256: str) -> JSONResponse:
    if row.request_sha256 != request_sha256:
        raise HTTPException(422, "this Idempotency-Key was already used for a different request body; use a new "
                                 "key for a new submission")
    return JSONResponse(response_out(session, row, answers=False), status_code=201,
                        headers={"Idempotent-Replayed": "true"})


def _existing(session: Session, tenant_pk: int, key: str) -> Response | None:
    return session.scalar(sa.select(Response).where(Response.tenant_pk == tenant_pk,
                                                    Response.idempotency_key == key))


@router.post("/responses", status_code=201, response_model=ResponseOut, openapi_extra=json_body(ResponseRequest))
async def create_response(request: Request, idempotency_key: IdempotencyKey = None,
                          caller: Caller = Depends(authenticate)) -> JSONResponse:
    """Store one respondent's answers (scored when ``bank`` is given); 201 only once committed.

    Body: :class:`ResponseRequest`. The same ``Idempotency-Key`` again returns the first result
    (header ``Idempotent-Replayed: true``) and stores nothing; the same key with another body is
    422. The store's work runs in a worker thread: the event loop never waits for a commit.
    """
    body = await parse_body(request, ResponseRequest)
    if idempotency_key is None or not idempotency_key.strip():
        raise HTTPException(400, "the Idempotency-Key header is required: a unique value per submission, "
                                 "reused when the same submission is retried")
    return await run_in_threadpool(_store, request.app.state, caller, body, idempotency_key)


def _store(state: Any, caller: Caller, body: ResponseRequest, idempotency_key: str) -> JSONResponse:
    fingerprint = canonical_sha256(body.model_dump(mode="json"))
    with Session(state.engine, expire_on_commit=False) as session:
        existing = _existing(session, caller.tenant_pk, idempotency_key)
        if existing is not None:
            return _replay(session, existing, fingerprint)
        scales = None
        bank_pk = None
        if body.bank is not None:
            loaded = state.banks.get(session, caller.tenant_pk, body.bank)
            bank_pk = loaded.pk
            scores = score_answers(loaded.bank, [(body.respondent, body.answers)], method=body.method,
                                   instrument=loaded.instrument, loc=("body",), indexed=False)
            scales = scores[0]
    # the reads are done; the write below takes its own (on SQLite, locking) transaction
    row = Response(id=new_id(), tenant_pk=caller.tenant_pk, idempotency_key=idempotency_key,
                   request_sha256=fingerprint, respondent=body.respondent,
                   answers=json.dumps(body.answers, ensure_ascii=False), bank_pk=bank_pk,
                   method=body.method if bank_pk is not None else None, created=utcnow())
    with Session(state.writer, expire_on_commit=False) as writer:
        try:
            _write(writer, row, scales)
        except sa.exc.IntegrityError:
            # a concurrent request with the same key committed first: answer as that one did
            writer.rollback()
            existing = _existing(writer, caller.tenant_pk, idempotency_key)
            if existing is None:
                raise
            return _replay(writer, existing, fingerprint)
    # built from what was just committed (a replay reads the same values back from the store)
    return JSONResponse({"id": row.id, "respondent": row.respondent, "bank": body.bank if bank_pk else None,
                         "method": row.method, "created": iso(row.created), "scales": scales}, status_code=201)


def _write(session: Session, row: Response, scales: dict[str, dict[str, Any]] | None) -> None:
    """Insert the response and its scores in one transaction and commit (durably: see ``store``)."""
    session.add(row)
    session.flush()
    for scale, value in (scales or {}).items():
        session.add(Score(response_pk=row.pk, scale=scale, theta=stored_number(value["theta"]),
                          se=stored_number(value["se"]), t_score=stored_number(value["T"]),
                          percentile=stored_number(value["percentile"]),
                          n_answered=value["n_answered"], flags=json.dumps(value["flags"])))
    session.commit()


@router.get("/responses/{response_id}", response_model=ResponseOut)
def get_response(response_id: str, caller: Caller = Depends(authenticate),
                 session: Session = Depends(read_session)) -> dict[str, Any]:
    row = session.scalar(sa.select(Response).where(Response.id == response_id,
                                                    Response.tenant_pk == caller.tenant_pk))
    if row is None:
        raise HTTPException(404, f"response '{response_id}' not found")
    return response_out(session, row, answers=True)


@router.get("/scores", response_model=Page)
def list_scores(caller: Caller = Depends(authenticate), session: Session = Depends(read_session),
                bank: Annotated[str | None, Query(max_length=64, description="Only responses scored with "
                                                                             "this bank version.")] = None,
                limit: Limit = 100, after: After = None) -> dict[str, Any]:
    """Scores of stored responses, oldest first: one item per response with its scales."""
    query = sa.select(Response).where(Response.tenant_pk == caller.tenant_pk, Response.bank_pk.is_not(None))
    bank_ids: dict[int, str] = {}
    if bank is not None:
        bank_row = session.execute(sa.select(BankRow.pk, BankRow.id).where(
            BankRow.id == bank, BankRow.tenant_pk == caller.tenant_pk)).first()
        if bank_row is None:
            raise HTTPException(404, f"item bank '{bank}' not found")
        query = query.where(Response.bank_pk == bank_row.pk)
        bank_ids[bank_row.pk] = bank_row.id
    rows, next_cursor = _page(session, Response, query, limit, after, caller.tenant_pk)
    by_response: dict[int, dict[str, Any]] = {row.pk: {} for row in rows}
    if rows:
        for score in session.scalars(sa.select(Score).where(Score.response_pk.in_(list(by_response)))
                                     .order_by(Score.pk)):
            by_response[score.response_pk][score.scale] = score_out(score)
        missing = {row.bank_pk for row in rows} - set(bank_ids)
        if missing:
            bank_ids.update(dict(session.execute(sa.select(BankRow.pk, BankRow.id)
                                                 .where(BankRow.pk.in_(missing))).tuples().all()))
    items = [{"response": row.id, "respondent": row.respondent, "bank": bank_ids.get(row.bank_pk),
              "method": row.method, "created": iso(row.created),
              "scales": by_response[row.pk]} for row in rows]
    return {"items": items, "next": next_cursor}
