"""HTTP scoring service and item-bank store for platforms (the ``service`` extra).

``psychometrics serve`` runs :func:`create_app` under uvicorn; ``psychometrics db upgrade``
migrates the store; ``psychometrics keys create --tenant NAME`` issues API keys. The layout:

- :mod:`~psychometrics.service.app`: the FastAPI application, one ``APIRouter`` per concern in
  :mod:`~psychometrics.service.routers` (health, item banks and scoring, responses and scores);
- :mod:`~psychometrics.service.store`: SQLAlchemy engine and tables, Alembic migrations in
  :mod:`~psychometrics.service.migrations`;
- :mod:`~psychometrics.service.scoring`: requests -> the library's :func:`psychometrics.irt.score`
  (the service computes nothing itself);
- :mod:`~psychometrics.service.keys`, :mod:`~psychometrics.service.limits`: API keys (scrypt
  hashes), body-size and rate limits.

FastAPI, SQLAlchemy and Alembic are imported only inside this package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "Settings"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from psychometrics.service.app import create_app

        return create_app
    if name == "Settings":
        from psychometrics.service.settings import Settings

        return Settings
    raise AttributeError(f"module 'psychometrics.service' has no attribute {name!r}")
