"""Item banks (immutable versions), the instruments that key them, and scoring with a bank."""

from __future__ import annotations

import json
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from psychometrics.bank import ItemBank
from psychometrics.service.bodies import json_body, json_reply, parse_body, read_score_body
from psychometrics.service.deps import Caller, authenticate, read_session, write_session
from psychometrics.service.repository import bank_out, canonical_sha256, iso, new_id
from psychometrics.service.schemas import BankOut, InstrumentOut, Page, ScoreRequest, ScoreResult
from psychometrics.service.scoring import score_table
from psychometrics.service.store.models import Instrument, ItemBank as BankRow, utcnow

router = APIRouter(prefix="/v1", tags=["item banks"])

Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page.")]
After = Annotated[str | None, Query(max_length=64, description="Cursor: the `next` of the previous page.")]


def _plain_json(document: Any, what: str) -> str:
    try:
        return json.dumps(document, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise HTTPException(422, f"the {what} must be plain JSON (NaN and Infinity are not JSON)") from None


@router.post("/instruments", status_code=201, response_model=InstrumentOut)
def create_instrument(document: Annotated[dict[str, Any], Body()], caller: Caller = Depends(authenticate),
                      session: Session = Depends(write_session)) -> dict[str, Any]:
    """Store an instrument definition (the library's instrument document, as JSON).

    Needed before uploading a bank calibrated through an instrument that is not bundled with
    the package: its reverse keying and option scoring are applied to the answers when scoring.
    """
    from psychometrics.instrument import Instrument as InstrumentModel

    text = _plain_json(document, "instrument")
    try:
        instrument = InstrumentModel.from_dict(json.loads(text), source="uploaded instrument")
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    version = str(instrument.version)
    existing = session.scalar(sa.select(Instrument).where(
        Instrument.tenant_pk == caller.tenant_pk, Instrument.instrument_id == instrument.id,
        Instrument.version == version))
    if existing is not None:
        if json.loads(existing.document) != json.loads(text):
            raise HTTPException(409, f"instrument '{instrument.id}' version {version} is already stored with "
                                     "other content; give the changed instrument a new version")
        return _instrument_out(existing)
    row = Instrument(id=new_id(), tenant_pk=caller.tenant_pk, instrument_id=instrument.id, version=version,
                     document=text, created=utcnow())
    session.add(row)
    session.commit()
    return _instrument_out(row)


def _instrument_out(row: Instrument) -> dict[str, Any]:
    return {"id": row.id, "instrument_id": row.instrument_id, "version": row.version, "created": iso(row.created)}


@router.get("/instruments", response_model=Page)
def list_instruments(caller: Caller = Depends(authenticate), session: Session = Depends(read_session),
                     limit: Limit = 100, after: After = None) -> dict[str, Any]:
    query = sa.select(Instrument).where(Instrument.tenant_pk == caller.tenant_pk)
    rows, next_cursor = _page(session, Instrument, query, limit, after, caller.tenant_pk)
    return {"items": [_instrument_out(row) for row in rows], "next": next_cursor}


def _page(session: Session, table: Any, query: Any, limit: int, after: str | None, tenant_pk: int):
    """Keyset pagination on the hidden primary key; the cursor is the last row's public id."""
    if after is not None:
        start = session.scalar(sa.select(table.pk).where(table.id == after, table.tenant_pk == tenant_pk))
        if start is None:
            raise HTTPException(422, f"unknown page cursor {after!r}: pass the 'next' value of the previous page")
        query = query.where(table.pk > start)
    rows = session.scalars(query.order_by(table.pk).limit(limit + 1)).all()
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


def _bank_instrument(session: Session, tenant_pk: int, bank: ItemBank) -> int | None:
    """The instrument row keying ``bank``: the tenant's copy, else a copy of the bundled one."""
    if bank.instrument_id is None:
        return None
    from psychometrics.instrument import Instrument as InstrumentModel, list_bundled

    rows = session.scalars(sa.select(Instrument).where(Instrument.tenant_pk == tenant_pk,
                                                       Instrument.instrument_id == bank.instrument_id)).all()
    for row in rows:
        if row.version == str(bank.instrument_version):
            return row.pk
    if bank.instrument_id in list_bundled():
        bundled = InstrumentModel.bundled(bank.instrument_id)
        if str(bundled.version) == str(bank.instrument_version):
            row = Instrument(id=new_id(), tenant_pk=tenant_pk, instrument_id=bundled.id,
                             version=str(bundled.version), document=json.dumps(bundled.to_dict()),
                             created=utcnow())
            session.add(row)
            session.flush()
            return row.pk
    raise HTTPException(422, f"the bank was calibrated on responses keyed by instrument '{bank.instrument_id}' "
                             f"version {bank.instrument_version}, which this tenant has not stored; upload it "
                             "first with POST /v1/instruments")


@router.post("/banks", status_code=201, response_model=BankOut)
def create_bank(document: Annotated[dict[str, Any], Body()],
                name: Annotated[str | None, Query(min_length=1, max_length=200,
                                                  description="Bank name (default: its instrument id).")] = None,
                caller: Caller = Depends(authenticate),
                session: Session = Depends(write_session)) -> dict[str, Any]:
    """Upload an item bank as ``psychometrics calibrate`` writes it; the same name again is a new version."""
    text = _plain_json(document, "item bank")
    try:
        bank = ItemBank.from_json(text, source="uploaded item bank")
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    name = name or bank.instrument_id
    if not name:
        raise HTTPException(422, "name the bank: POST /v1/banks?name=... (it has no instrument to take a name from)")
    for attempt in range(5):
        try:
            instrument_pk = _bank_instrument(session, caller.tenant_pk, bank)
            latest = session.scalar(sa.select(sa.func.max(BankRow.version)).where(
                BankRow.tenant_pk == caller.tenant_pk, BankRow.name == name))
            row = BankRow(id=new_id(), tenant_pk=caller.tenant_pk, name=name, version=(latest or 0) + 1,
                          document=text, sha256=canonical_sha256(document), instrument_pk=instrument_pk,
                          created=utcnow())
            session.add(row)
            session.commit()
            return bank_out(row, bank)
        except sa.exc.IntegrityError:  # another upload took this version number: take the next one
            session.rollback()
    raise HTTPException(409, f"could not allocate a version of bank '{name}' (too many concurrent uploads); retry")


@router.get("/banks", response_model=Page)
def list_banks(caller: Caller = Depends(authenticate), session: Session = Depends(read_session),
               limit: Limit = 100, after: After = None,
               name: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    """The tenant's bank versions, oldest first."""
    query = sa.select(BankRow).where(BankRow.tenant_pk == caller.tenant_pk)
    if name is not None:
        query = query.where(BankRow.name == name)
    rows, next_cursor = _page(session, BankRow, query, limit, after, caller.tenant_pk)
    return {"items": [bank_out(row) for row in rows], "next": next_cursor}


@router.get("/banks/{bank_id}", response_model=BankOut)
def get_bank(bank_id: str, request: Request, caller: Caller = Depends(authenticate),
             session: Session = Depends(read_session)) -> dict[str, Any]:
    loaded = request.app.state.banks.get(session, caller.tenant_pk, bank_id)
    return bank_out(loaded)


#: Up to this many respondents are scored on the event loop (a few ms); larger calls in a worker thread.
INLINE_RESPONDENTS = 20
#: A body up to this size is scored without waiting for a large call of the same process.
INLINE_BYTES = 32_768


@router.post("/banks/{bank_id}/score", response_model=ScoreResult, openapi_extra=json_body(ScoreRequest))
async def score(bank_id: str, request: Request, caller: Caller = Depends(authenticate)) -> Response:
    """Theta, SE, T, percentile and flags per respondent and scale: ``irt.score`` with the stored bank.

    Body: :class:`ScoreRequest` (read from the raw bytes in one validation pass).
    """
    raw = await request.body()
    large_calls = getattr(request.app.state, "large_calls", None)
    if len(raw) <= INLINE_BYTES or large_calls is None:
        return await _score(bank_id, request, caller, raw)
    # one large call at a time in a process: two at once fight for the GIL (the next one's body
    # parsed on the event loop while a worker thread scores and encodes the other), which
    # measured about 15% more CPU per respondent; waiting here, the event loop stays free for
    # small calls
    async with large_calls:
        return await _score(bank_id, request, caller, raw)


async def _score(bank_id: str, request: Request, caller: Caller, raw: bytes) -> Response:
    # the usual body is read by orjson and checked over all answers at once; anything else
    # (option labels, any error) by the model, which gives the exact 422
    fast = read_score_body(raw)
    if fast is not None:
        method, uniform = fast.method, fast.uniform
        respondents = list(zip(fast.respondents, fast.answers))
    else:
        body = await parse_body(request, ScoreRequest)
        method, uniform = body.method, None
        respondents = [(entry.respondent, entry.answers) for entry in body.responses]
    state = request.app.state
    if len(respondents) > state.settings.max_respondents:
        raise HTTPException(413, f"{len(respondents)} respondents in one call; the limit is "
                                 f"{state.settings.max_respondents}: split the batch")
    loaded = await bank_for(request, caller.tenant_pk, bank_id)

    def scored() -> bytes:
        # plain JSON straight out, encoded once: the numbers are already checked, and
        # re-validating 1,000 x scales score objects would cost more than scoring them
        table = score_table(loaded.bank, respondents, method=method, instrument=loaded.instrument,
                            uniform=uniform)
        head = json_reply({"bank": {"id": loaded.id, "name": loaded.name, "version": loaded.version},
                           "method": method}).body
        return table.json_rows(head[:-1] + b',"scores":', b"}")

    # scoring and encoding in one worker thread for a large call, on the event loop for a few
    return json_reply(scored() if len(respondents) <= INLINE_RESPONDENTS else await run_in_threadpool(scored))


async def bank_for(request: Request, tenant_pk: int, bank_id: str) -> Any:
    """The tenant's parsed bank: from the process's cache, else read from the store in a worker thread."""
    banks = request.app.state.banks
    loaded = banks.cached(tenant_pk, bank_id)
    if loaded is not None:
        return loaded

    def load() -> Any:
        with Session(request.app.state.engine, expire_on_commit=False) as session:
            return banks.get(session, tenant_pk, bank_id)

    return await run_in_threadpool(load)
