"""The service's store: SQLAlchemy engine, sessions, tables and the Alembic upgrade.

SQLite (the default, ``sqlite:///./psychometrics.db``) runs in WAL mode with
``synchronous=FULL``, so a transaction that has committed survives a killed process and a
power cut; PostgreSQL (``postgresql+psycopg://user:password@host/db``) commits durably with its
default ``synchronous_commit=on``.
"""

from __future__ import annotations

from psychometrics.service.store._engine import DEFAULT_DATABASE_URL, make_engine, normalize_url, writer
from psychometrics.service.store._migrate import current_revision, head_revision, upgrade

__all__ = ["DEFAULT_DATABASE_URL", "make_engine", "normalize_url", "writer", "upgrade", "current_revision",
           "head_revision"]
