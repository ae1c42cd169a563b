"""Alembic migrations of the service's store; run with ``psychometrics db upgrade``."""
