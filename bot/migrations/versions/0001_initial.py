"""Initial schema: deliveries, approvals, locks, audit, state, claims.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ACTIVE = sa.text("status IN ('pending', 'approved', 'running')")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(255), primary_key=True),
        _time("created_at"),
    )
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target", _json(), nullable=False),
        sa.Column("target_key", sa.String(255), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("message_channel", sa.String(64), nullable=True),
        sa.Column("message_ts", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        _time("decided_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _time("created_at"),
        _time("expires_at"),
        _time("updated_at"),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("result", _json(), nullable=True),
        sa.Column("expiry_reported", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_approvals_status_expires_at", "approvals", ["status", "expires_at"])
    op.create_index(
        "uq_approvals_active_target",
        "approvals",
        ["target_key"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )
    op.create_table(
        "locks",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        _time("expires_at"),
    )
    op.create_table(
        "audit",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        _time("at"),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("verb", sa.String(64), nullable=False),
        sa.Column("pod", sa.String(255), nullable=True),
        sa.Column("container", sa.String(255), nullable=True),
        sa.Column("argv", _json(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_pod_at", "audit", ["pod", "at"])
    op.create_table(
        "state",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", _json(), nullable=False),
        _time("updated_at"),
    )
    op.create_table(
        "claims",
        sa.Column("key", sa.String(255), primary_key=True),
        _time("claimed_at"),
    )


def downgrade() -> None:
    for table in ("claims", "state", "audit", "locks", "approvals", "deliveries"):
        op.drop_table(table)
