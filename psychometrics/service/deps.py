"""What every request needs: a database session and the caller's tenant (authenticated, rate limited)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from psychometrics.service.keys import parse_key, verify_key
from psychometrics.service.store.models import ApiKey

__all__ = ["Caller", "authenticate", "read_session", "write_session", "VerifiedKeys"]


@dataclass(frozen=True)
class Caller:
    tenant_pk: int
    key_id: str


class VerifiedKeys:
    """SHA-256 of keys whose scrypt hash was checked in this process (bounded, least recent out)."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[str, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def known(self, key: str, key_id: str) -> bool:
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            if self._seen.get(digest) == key_id:
                self._seen.move_to_end(digest)
                return True
        return False

    def add(self, key: str, key_id: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            self._seen[digest] = key_id
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def read_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def write_session(request: Request) -> Iterator[Session]:
    """A session whose transactions take SQLite's write lock at BEGIN (see ``store.writer``)."""
    with Session(request.app.state.writer, expire_on_commit=False) as session:
        yield session


def authenticate(request: Request) -> Caller:
    """The tenant of the request's ``Authorization: Bearer <key>``: 401 without a valid key, 429 over the rate."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise _unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    key_id = parse_key(key)
    if key_id is None:
        raise _unauthorized("invalid API key")
    state: Any = request.app.state
    with Session(state.engine) as session:
        row = session.execute(sa.select(ApiKey.tenant_pk, ApiKey.hash, ApiKey.revoked)
                              .where(ApiKey.key_id == key_id)).first()
    if row is None or row.revoked is not None:
        raise _unauthorized("invalid API key")
    if not state.verified.known(key, key_id):
        if not verify_key(key, row.hash):
            raise _unauthorized("invalid API key")
        state.verified.add(key, key_id)
    wait = state.limiter.acquire(key_id)
    if wait > 0:
        raise HTTPException(429, f"rate limit of {state.settings.rate_limit:g} requests per second for this key "
                                 "exceeded; retry later",
                            headers={"Retry-After": str(max(1, int(wait + 0.999)))})
    return Caller(tenant_pk=int(row.tenant_pk), key_id=key_id)
