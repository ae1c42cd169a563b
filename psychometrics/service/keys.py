"""API keys: random secrets shown once, stored only as a scrypt hash.

A key reads ``pm_<key id>_<secret>``: the key id (12 hex digits) finds the row, the scrypt hash
of the whole key checks it. scrypt (RFC 7914; n = 2**14, r = 8, p = 1, 32-byte digest, 16-byte
salt) makes a stolen table useless for guessing; a running server remembers the SHA-256 of keys
it has already checked, so only the first request of a key pays the ~50 ms of scrypt; the key's
row (revocation) is read again after ``Settings.key_cache_seconds``, at once when the key is
revoked by :func:`revoke_key` in the server's process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from psychometrics.service.store.models import ApiKey, Tenant, utcnow

__all__ = ["CreatedKey", "create_key", "revoke_key", "hash_key", "verify_key", "parse_key", "KEY_PREFIX",
           "listen_for_revocations"]

KEY_PREFIX = "pm"

#: Key caches of running apps in this process (``deps.VerifiedKeys``), told of every revocation.
_LISTENERS: "weakref.WeakSet[Any]" = weakref.WeakSet()
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``key`` is shown once and never stored."""

    key: str
    key_id: str
    tenant: str


def hash_key(key: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$digest`` (base64) of a key."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(key.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_key(key: str, stored: str) -> bool:
    """Whether ``key`` matches a hash written by :func:`hash_key` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(key.encode("utf-8"), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def parse_key(key: str) -> str | None:
    """The key id of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    if any(c not in "0123456789abcdef" for c in parts[1]):
        return None
    return parts[1]


def create_key(session: Session, tenant: str) -> CreatedKey:
    """Create a key for ``tenant`` (creating the tenant when new); the caller commits."""
    tenant = tenant.strip()
    if not tenant or len(tenant) > 200:
        raise ValueError("a tenant name must have 1 to 200 characters")
    row = session.scalar(sa.select(Tenant).where(Tenant.name == tenant))
    if row is None:
        row = Tenant(name=tenant, created=utcnow())
        session.add(row)
        session.flush()
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(key_id=key_id, tenant_pk=row.pk, hash=hash_key(key), created=utcnow()))
    return CreatedKey(key=key, key_id=key_id, tenant=tenant)


def revoke_key(session: Session, key_or_id: str) -> str:
    """Revoke a key given whole or by its id; return the key id. The caller commits.

    Raises
    ------
    KeyError
        When no such key exists.
    """
    key_id = parse_key(key_or_id) or key_or_id.strip()
    row = session.scalar(sa.select(ApiKey).where(ApiKey.key_id == key_id))
    if row is None:
        raise KeyError(f"no API key with id {key_id!r}")
    if row.revoked is None:
        row.revoked = utcnow()
    for cache in list(_LISTENERS):
        cache.forget(key_id)
    return key_id


def listen_for_revocations(cache: Any) -> None:
    """Have ``cache.forget(key_id)`` called when :func:`revoke_key` revokes a key in this process."""
    _LISTENERS.add(cache)
