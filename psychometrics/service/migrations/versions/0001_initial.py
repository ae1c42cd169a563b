"""Tenants, API keys, instruments, item banks, responses and scores.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _created() -> sa.Column:
    return sa.Column("created", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        _created(),
    )
    op.create_table(
        "api_keys",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("tenant_pk", sa.Integer, sa.ForeignKey("tenants.pk"), nullable=False, index=True),
        sa.Column("hash", sa.String(300), nullable=False),
        _created(),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "instruments",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("tenant_pk", sa.Integer, sa.ForeignKey("tenants.pk"), nullable=False),
        sa.Column("instrument_id", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        _created(),
        sa.UniqueConstraint("tenant_pk", "instrument_id", "version"),
    )
    op.create_table(
        "item_banks",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("tenant_pk", sa.Integer, sa.ForeignKey("tenants.pk"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("instrument_pk", sa.Integer, sa.ForeignKey("instruments.pk"), nullable=True),
        _created(),
        sa.UniqueConstraint("tenant_pk", "name", "version"),
    )
    op.create_table(
        "responses",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("tenant_pk", sa.Integer, sa.ForeignKey("tenants.pk"), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("respondent", sa.String(200), nullable=False),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("bank_pk", sa.Integer, sa.ForeignKey("item_banks.pk"), nullable=True),
        sa.Column("method", sa.String(8), nullable=True),
        _created(),
        sa.UniqueConstraint("tenant_pk", "idempotency_key"),
    )
    op.create_index("ix_responses_tenant_bank", "responses", ["tenant_pk", "bank_pk", "pk"])
    op.create_table(
        "scores",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("response_pk", sa.Integer, sa.ForeignKey("responses.pk"), nullable=False),
        sa.Column("scale", sa.String(200), nullable=False),
        sa.Column("theta", sa.Double, nullable=True),
        sa.Column("se", sa.Double, nullable=True),
        sa.Column("t_score", sa.Double, nullable=True),
        sa.Column("percentile", sa.Double, nullable=True),
        sa.Column("n_answered", sa.Integer, nullable=False),
        sa.Column("flags", sa.Text, nullable=False),
        sa.UniqueConstraint("response_pk", "scale"),
    )


def downgrade() -> None:
    op.drop_table("scores")
    op.drop_index("ix_responses_tenant_bank", table_name="responses")
    op.drop_table("responses")
    op.drop_table("item_banks")
    op.drop_table("instruments")
    op.drop_table("api_keys")
    op.drop_table("tenants")
