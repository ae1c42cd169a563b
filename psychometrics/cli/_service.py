"""``psychometrics serve``, ``psychometrics db upgrade`` and ``psychometrics keys create|revoke``.

They need the ``service`` extra (FastAPI, uvicorn, SQLAlchemy, Alembic, psycopg); without it
they say which extra to install.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from psychometrics.cli._app import EXIT_OK, MissingExtra, app, console, note, reports_errors

db_app = typer.Typer(help="The scoring service's database.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of the scoring service.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

#: Read when --database is not given.
DATABASE_ENV = "PSYCHOMETRICS_DATABASE_URL"

DatabaseOption = Annotated[str | None, typer.Option(
    "--database", help=f"SQLAlchemy URL of the store: sqlite:///path.db or postgresql+psycopg://user:pw@host/db "
                       f"(default: ${DATABASE_ENV}, else sqlite:///./psychometrics.db).")]


def _require_service_extra() -> None:
    missing = []
    for module in ("fastapi", "uvicorn", "sqlalchemy", "alembic"):
        try:
            __import__(module)
        except ModuleNotFoundError:
            missing.append(module)
    if missing:
        raise MissingExtra(f"the scoring service needs {', '.join(missing)}: pip install 'psychometrics[service]'")


def _database(database: str | None) -> str:
    from psychometrics.service.store import DEFAULT_DATABASE_URL, normalize_url

    return normalize_url(database or os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE_URL)


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
@reports_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    database: DatabaseOption = None,
    rate_limit: Annotated[float, typer.Option(help="Requests per second per API key (0: no limit).",
                                              min=0)] = 100.0,
    rate_burst: Annotated[int | None, typer.Option(help="Requests a key may send at once (default: one "
                                                        "second's worth, at least 10).", min=1)] = None,
    workers: Annotated[int, typer.Option(help="Server processes (scoring is CPU-bound: about one per core). "
                                              "Each enforces its share of the rate limit.", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log one line per request (method, path, status; never "
                                                  "keys or answers). Off by default: it costs about a "
                                                  "tenth of a single scoring request.")] = False,
    key_cache_seconds: Annotated[float, typer.Option(help="Seconds a checked API key is trusted before its "
                                                          "revocation is read again.", min=0, max=3600)] = 5.0,
) -> None:
    """Run the HTTP scoring service (migrating its database first); OpenAPI at /openapi.json."""
    _require_service_extra()
    import dataclasses
    import json

    import uvicorn

    from psychometrics.service import Settings, create_app
    from psychometrics.service.app import SETTINGS_ENV, quiet_scoring_warnings, tune_garbage_collection
    from psychometrics.service.store import upgrade

    url = _database(database)
    revision = upgrade(url)
    note(f"database {_shown(url)} at revision {revision}")
    quiet_scoring_warnings()
    burst = rate_burst if rate_burst is not None else max(10, int(round(rate_limit)))
    # the kernel spreads connections over the workers; each limits its share of a key's rate
    settings = Settings(database_url=url, rate_limit=rate_limit / workers,
                        rate_burst=max(1, burst // workers), migrate=False, key_cache_seconds=key_cache_seconds)
    if workers == 1:
        application = create_app(settings)
        tune_garbage_collection()
        uvicorn.run(application, host=host, port=port, log_level=log_level, access_log=access_log)
    else:
        os.environ[SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))
        # each worker accepts a new connection the sooner the fewer it holds (balance.py)
        uvicorn.run("psychometrics.service.app:app_from_environment", factory=True, workers=workers, host=host,
                    port=port, log_level=log_level, access_log=access_log,
                    loop="psychometrics.service.balance:balanced_loop")
    raise typer.Exit(EXIT_OK)


@db_app.command("upgrade")
@reports_errors
def db_upgrade(database: DatabaseOption = None) -> None:
    """Create or migrate the service's tables to the newest schema (safe to run again)."""
    _require_service_extra()
    from psychometrics.service.store import upgrade

    url = _database(database)
    revision = upgrade(url)
    console.print(f"database {_shown(url)} is at revision {revision}", highlight=False)
    raise typer.Exit(EXIT_OK)


@contextlib.contextmanager
def _store_session(database: str | None) -> Iterator[Any]:
    """One committed transaction on the store at ``database``, migrated first."""
    from sqlalchemy.orm import Session

    from psychometrics.service.store import make_engine, upgrade

    url = _database(database)
    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


@keys_app.command("create")
@reports_errors
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant the key acts for (created when new).")],
    database: DatabaseOption = None,
) -> None:
    """Create an API key and print it once: only its hash is stored."""
    _require_service_extra()
    from psychometrics.service.keys import create_key

    with _store_session(database) as session:
        created = create_key(session, tenant)
    sys.stdout.write(created.key + "\n")
    note(f"API key {created.key_id} for tenant '{created.tenant}': store it now, it cannot be shown again")
    raise typer.Exit(EXIT_OK)


@keys_app.command("revoke")
@reports_errors
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key, or its id (the 12 hex digits after 'pm_').")],
    database: DatabaseOption = None,
) -> None:
    """Revoke an API key: requests with it get 401 from then on."""
    _require_service_extra()
    from psychometrics.service.keys import revoke_key

    with _store_session(database) as session:
        key_id = revoke_key(session, key)
    console.print(f"API key {key_id} revoked", highlight=False)
    raise typer.Exit(EXIT_OK)
