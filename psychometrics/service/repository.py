"""Reading and writing the store's rows for one tenant; parsed banks are cached (they never change)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException
from sqlalchemy.orm import Session

from psychometrics.bank import ItemBank
from psychometrics.service.scoring import json_number
from psychometrics.service.store.models import Instrument, ItemBank as BankRow, Response, Score

__all__ = ["LoadedBank", "BankCache", "new_id", "iso", "bank_out", "response_out", "canonical_sha256"]


def new_id() -> str:
    return uuid.uuid4().hex


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.isoformat(timespec="microseconds")


def canonical_sha256(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class LoadedBank:
    """A stored bank version, parsed, with the instrument that keys its responses (if any)."""

    pk: int
    id: str
    name: str
    version: int
    created: dt.datetime
    bank: ItemBank
    instrument: Any = None

    @functools.cached_property
    def bank_items(self) -> frozenset[str]:
        """Every item id of the bank (adaptive tests check answers against it)."""
        return frozenset(item for calibration in self.bank.scales.values() for item in calibration.item_ids)


class BankCache:
    """Parsed banks by tenant and id (bank versions are immutable and never deleted: no entry goes stale)."""

    def __init__(self, size: int = 256) -> None:
        self._by_id: OrderedDict[tuple[int, str], LoadedBank] = OrderedDict()
        self._by_pk: dict[tuple[int, int], tuple[int, str]] = {}
        self._size = size
        self._lock = threading.Lock()

    def cached(self, tenant_pk: int, bank_id: str) -> LoadedBank | None:
        """The tenant's bank if this process has it already (no store access), else None."""
        with self._lock:
            loaded = self._by_id.get((tenant_pk, bank_id))
            if loaded is not None:
                self._by_id.move_to_end((tenant_pk, bank_id))
            return loaded

    def cached_pk(self, tenant_pk: int, bank_pk: int) -> LoadedBank | None:
        """The tenant's bank by its row's primary key, if this process has it already."""
        with self._lock:
            key = self._by_pk.get((tenant_pk, bank_pk))
            loaded = self._by_id.get(key) if key is not None else None
            if loaded is not None:
                self._by_id.move_to_end(key)
            return loaded

    def get(self, session: Session, tenant_pk: int, bank_id: str) -> LoadedBank:
        """The tenant's bank ``bank_id``; 404 when it does not exist *for this tenant*."""
        with self._lock:
            cached = self._by_id.get((tenant_pk, bank_id))
            if cached is not None:
                self._by_id.move_to_end((tenant_pk, bank_id))
                return cached
        row = session.execute(sa.select(BankRow.pk).where(BankRow.id == bank_id, BankRow.tenant_pk == tenant_pk)
                              ).first()
        if row is None:
            raise HTTPException(404, f"item bank '{bank_id}' not found")
        loaded = self._load(session, row.pk)
        with self._lock:
            # keyed by tenant and id: a hit is a bank this tenant owns (rows are never deleted)
            self._by_id[(tenant_pk, bank_id)] = loaded
            self._by_pk[(tenant_pk, loaded.pk)] = (tenant_pk, bank_id)
            while len(self._by_id) > self._size:
                (dropped_tenant, _), dropped = self._by_id.popitem(last=False)
                self._by_pk.pop((dropped_tenant, dropped.pk), None)
        return loaded

    @staticmethod
    def _load(session: Session, pk: int) -> LoadedBank:
        from psychometrics.instrument import Instrument as InstrumentModel

        row = session.get(BankRow, pk)
        assert row is not None  # found by the query above; rows are never deleted
        bank = ItemBank.from_json(row.document, source=f"item bank '{row.id}'")
        instrument = None
        if row.instrument_pk is not None:
            document = session.get(Instrument, row.instrument_pk)
            assert document is not None
            instrument = InstrumentModel.from_dict(json.loads(document.document),
                                                   source=f"instrument '{document.instrument_id}'")
        return LoadedBank(pk=row.pk, id=row.id, name=row.name, version=row.version, created=row.created,
                          bank=bank, instrument=instrument)


def bank_out(row: BankRow | LoadedBank, bank: ItemBank | None = None) -> dict[str, Any]:
    """The API's view of a bank version (scales and their items when the bank is at hand)."""
    out: dict[str, Any] = {"id": row.id, "name": row.name, "version": row.version, "created": iso(row.created)}
    bank = bank if bank is not None else getattr(row, "bank", None)
    if bank is not None:
        out["instrument"] = None if bank.instrument_id is None else {
            "id": bank.instrument_id, "version": bank.instrument_version, "title": bank.instrument_title}
        out["scales"] = {scale: {"model": bank.model_of(scale), "items": list(calibration.item_ids)}
                         for scale, calibration in bank.scales.items()}
    return out


def score_out(row: Score) -> dict[str, Any]:
    return {"theta": json_number(row.theta), "se": json_number(row.se), "T": json_number(row.t_score),
            "percentile": json_number(row.percentile),
            "n_answered": row.n_answered, "flags": json.loads(row.flags)}


def response_out(session: Session, row: Response, *, answers: bool) -> dict[str, Any]:
    """A stored response with its scores (read back from the store, so a replay equals the first answer)."""
    bank_id = None
    if row.bank_pk is not None:
        bank_id = session.scalar(sa.select(BankRow.id).where(BankRow.pk == row.bank_pk))
    scales = None
    if row.bank_pk is not None:
        scores = session.scalars(sa.select(Score).where(Score.response_pk == row.pk).order_by(Score.pk)).all()
        scales = {score.scale: score_out(score) for score in scores}
    out = {"id": row.id, "respondent": row.respondent, "bank": bank_id, "method": row.method,
           "created": iso(row.created), "scales": scales}
    if answers:
        out["answers"] = json.loads(row.answers)
    return out
