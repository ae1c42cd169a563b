"""Engines for SQLite (WAL, durable commits, busy timeout) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

DEFAULT_DATABASE_URL = "sqlite:///./psychometrics.db"

#: How long a SQLite writer waits for another writer's lock before failing (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Connections per process: enough for every thread of the server's thread pool (40) to hold one,
#: few enough that two workers stay under PostgreSQL's default 100 connections.
POOL_SIZE, POOL_OVERFLOW = 10, 30


def normalize_url(url: str) -> str:
    """The SQLAlchemy URL to use: ``postgresql://`` and ``postgres://`` mean psycopg 3.

    Raises
    ------
    ValueError
        For a URL that is neither SQLite nor PostgreSQL.
    """
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("sqlite:", "postgresql+psycopg:")):
        return url
    raise ValueError(f"database URL must start with sqlite:/// or postgresql+psycopg://, got "
                     f"{url.split(':', 1)[0]!r}:...")


def writer(engine: sa.Engine) -> sa.Engine:
    """The engine to write with: on SQLite its transactions begin with ``BEGIN IMMEDIATE``."""
    return engine.execution_options(sqlite_immediate=True)


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine for ``url`` with the settings the service relies on for durability.

    SQLite: WAL journal, ``synchronous=FULL`` (a commit is on disk before it returns),
    foreign keys on, a 30 s busy timeout so concurrent writers queue instead of failing.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                  pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # the driver's own implicit BEGIN is turned off so that SQLAlchemy's "begin" below
            # decides: a writer takes the write lock at BEGIN IMMEDIATE (and waits its turn under
            # the busy timeout) instead of failing when a read transaction later tries to write
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(connection: sa.Connection) -> None:
            immediate = connection.get_execution_options().get("sqlite_immediate", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return sa.create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_pre_ping=True, **kwargs)
