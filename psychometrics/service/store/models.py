"""Tables of the scoring service (SQLAlchemy 2 declarative models).

Every row belongs to one tenant; every query of a request filters on the caller's tenant, so
another tenant's bank, response or score is indistinguishable from one that does not exist.
Public ids are random (``uuid4().hex``); the integer primary keys order rows for pagination
and never leave the server. Item banks and instruments are immutable versions: there is no
code path that updates them. The schema is created and changed only by the Alembic migrations
in :mod:`psychometrics.service.migrations` (a later migration can add, say, adaptive-testing
sessions beside these tables).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "Tenant", "ApiKey", "Instrument", "ItemBank", "Response", "Score", "CatSession", "utcnow"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    pk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, nullable=False)


class ApiKey(Base):
    """An API key: its public id (part of the key) and a scrypt hash of the whole key."""

    __tablename__ = "api_keys"

    pk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    tenant_pk: Mapped[int] = mapped_column(sa.ForeignKey("tenants.pk"), index=True)
    hash: Mapped[str] = mapped_column(sa.String(300))
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, nullable=False)
    revoked: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class Instrument(Base):
    """A tenant's copy of an instrument definition (keys the responses of banks calibrated on it)."""

    __tablename__ = "instruments"
    __table_args__ = (sa.UniqueConstraint("tenant_pk", "instrument_id", "version"),)

    pk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    tenant_pk: Mapped[int] = mapped_column(sa.ForeignKey("tenants.pk"))
    instrument_id: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[str] = mapped_column(sa.String(100))
    document: Mapped[str] = mapped_column(sa.Text)
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, nullable=False)


class ItemBank(Base):
    """One immutable version of a named item bank (the JSON ``psychometrics calibrate`` writes)."""

    __tablename__ = "item_banks"
    __table_args__ = (sa.UniqueConstraint("tenant_pk", "name", "version"),)

    pk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    tenant_pk: Mapped[int] = mapped_column(sa.ForeignKey("tenants.pk"))
    name: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[int] = mapped_column(sa.Integer)
    document: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    instrument_pk: Mapped[int | None] = mapped_column(sa.ForeignKey("instruments.pk"), nullable=True)
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, nullable=False)


class Response(Base):
    """A respondent's answers as received, under the idempotency key of the request that sent them."""

    __tablename__ = "responses"
    __table_args__ = (sa.UniqueConstraint("tenant_pk", "idempotency_key"),
                      sa.Index("ix_responses_tenant_bank", "tenant_pk", "bank_pk", "pk"))

    pk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    tenant_pk: Mapped[int] = mapped_column(sa.ForeignKey("tenants.pk"))
    idempotency_key: Mapped[str] = mapped_column(sa.String(255))
    request_sha256: Mapped[str] = mapped_column(sa.String(64))
    respondent: Mapped[str] = mapped_column(sa.String(200))
    answers: Mapped[str] = mapped_column(sa.Text)
    bank_pk: Mapped[int | None] = mapped_column(sa.ForeignKey("item_banks.pk"), nullable=True)
    method: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, nullable=False)


class Score(Base):
    """One scale's score of a stored response (``irt.score`` with the response's bank)."""

    __tablename__ = "scores"
    __table_args__ = (sa.UniqueConstraint("response_pk", "scale"),)

    pk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    response_pk: Mapped[int] = mapped_column(sa.ForeignKey("responses.pk"))
    scale: Mapped[str] = mapped_column(sa.String(200))
    theta: Mapped[float | None] = mapped_column(sa.Double, nullable=True)
    se: Mapped[float | None] = mapped_column(sa.Double, nullable=True)
    t_score: Mapped[float | None] = mapped_column(sa.Double, nullable=True)
    percentile: Mapped[float | None] = mapped_column(sa.Double, nullable=True)
    n_answered: Mapped[int] = mapped_column(sa.Integer)
    flags: Mapped[str] = mapped_column(sa.Text)


class CatSession(Base):
    """An adaptive test: the session document of ``cat.Session.to_json(include_bank=False)``.

    ``id`` is the public, unguessable session id (128 random bits); it is also the capability
    that opens the test-taker page ``/take/{id}``. ``state`` is ``"active"`` or ``"done"``;
    ``result`` holds the final scores (JSON) once done.
    """

    __tablename__ = "cat_sessions"

    pk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    tenant_pk: Mapped[int] = mapped_column(sa.ForeignKey("tenants.pk"))
    bank_pk: Mapped[int] = mapped_column(sa.ForeignKey("item_banks.pk"))
    respondent: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    state: Mapped[str] = mapped_column(sa.String(16))
    document: Mapped[str] = mapped_column(sa.Text)
    result: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, nullable=False)
    updated: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, nullable=False)
