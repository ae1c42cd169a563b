"""What every request needs: a database session and the caller's tenant (authenticated, rate limited)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from psychometrics.service.keys import listen_for_revocations, parse_key, verify_key
from psychometrics.service.store.models import ApiKey

__all__ = ["Caller", "authenticate", "read_session", "write_session", "VerifiedKeys"]


@dataclass(frozen=True)
class Caller:
    tenant_pk: int
    key_id: str


class VerifiedKeys:
    """Keys this process has checked: SHA-256 of the key -> its caller, for ``ttl`` seconds.

    scrypt is slow on purpose, and a store read per request costs more than scoring one
    respondent, so a checked key is trusted for ``ttl`` seconds; then its row is read again
    (revocation), without repeating scrypt. Only the digest is held, never the key. A key
    revoked through :func:`psychometrics.service.keys.revoke_key` in this process is
    forgotten at once; one revoked by another process (``psychometrics keys revoke``) is
    refused at the latest ``ttl`` seconds later. Bounded: least recently used out.
    """

    def __init__(self, size: int = 10_000, ttl: float = 5.0) -> None:
        self._seen: OrderedDict[str, tuple[Caller, float]] = OrderedDict()
        self._size = size
        self.ttl = float(ttl)
        self._lock = threading.Lock()
        listen_for_revocations(self)

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def fresh(self, digest: str) -> Caller | None:
        """The caller of a key checked less than ``ttl`` seconds ago, else None."""
        with self._lock:
            entry = self._seen.get(digest)
            if entry is None or time.monotonic() - entry[1] >= self.ttl:
                return None
            self._seen.move_to_end(digest)
            return entry[0]

    def known(self, digest: str, key_id: str) -> bool:
        """Whether the key's scrypt hash was already checked here (whatever its age)."""
        with self._lock:
            entry = self._seen.get(digest)
            return entry is not None and entry[0].key_id == key_id

    def add(self, digest: str, caller: Caller) -> None:
        with self._lock:
            self._seen[digest] = (caller, time.monotonic())
            self._seen.move_to_end(digest)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def forget(self, key_id: str) -> None:
        """Drop every entry of ``key_id`` (the key was revoked)."""
        with self._lock:
            for digest in [d for d, (caller, _) in self._seen.items() if caller.key_id == key_id]:
                del self._seen[digest]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def read_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def write_session(request: Request) -> Iterator[Session]:
    """A session whose transactions take SQLite's write lock at BEGIN (see ``store.writer``)."""
    with Session(request.app.state.writer, expire_on_commit=False) as session:
        yield session


async def authenticate(request: Request) -> Caller:
    """The tenant of the request's ``Authorization: Bearer <key>``: 401 without a valid key, 429 over the rate.

    A key checked in the last ``key_cache_seconds`` costs a hash and a dictionary look-up on
    the event loop; otherwise its row is read (and, the first time, scrypt checked) in a
    worker thread, so the loop never waits for the store.
    """
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise _unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    key_id = parse_key(key)
    if key_id is None:
        raise _unauthorized("invalid API key")
    state: Any = request.app.state
    digest = VerifiedKeys.digest(key)
    caller = state.verified.fresh(digest)
    if caller is None or caller.key_id != key_id:
        caller = await run_in_threadpool(_check_key, state, key, key_id, digest)
    wait = state.limiter.acquire(key_id)
    if wait > 0:
        raise HTTPException(429, f"rate limit of {state.settings.rate_limit:g} requests per second for this key "
                                 "exceeded; retry later",
                            headers={"Retry-After": str(max(1, int(wait + 0.999)))})
    return caller


def _check_key(state: Any, key: str, key_id: str, digest: str) -> Caller:
    """Read the key's row (revocation) and check its scrypt hash unless this process already did."""
    with Session(state.engine) as session:
        row = session.execute(sa.select(ApiKey.tenant_pk, ApiKey.hash, ApiKey.revoked)
                              .where(ApiKey.key_id == key_id)).first()
    if row is None or row.revoked is not None:
        state.verified.forget(key_id)
        raise _unauthorized("invalid API key")
    if not state.verified.known(digest, key_id) and not verify_key(key, row.hash):
        raise _unauthorized("invalid API key")
    caller = Caller(tenant_pk=int(row.tenant_pk), key_id=key_id)
    state.verified.add(digest, caller)
    return caller
