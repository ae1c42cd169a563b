"""Alembic environment: runs on the connection handed over by :func:`psychometrics.service.store.upgrade`."""

from __future__ import annotations

from alembic import context

from psychometrics.service.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the service always passes its connection
    raise RuntimeError("run migrations with 'psychometrics db upgrade' (psychometrics.service.store.upgrade)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
