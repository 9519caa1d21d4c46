"""Table definitions used by queries. The migrations create them; a test keeps both in step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out. SQLite stores naive text, so naive results are UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_type() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


ACTIVE_WHERE = sa.text("status IN ('pending', 'approved', 'running')")

metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target", json_type(), nullable=False),
    sa.Column("target_key", sa.String(255), nullable=False),
    sa.Column("requester", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("message_channel", sa.String(64), nullable=True),
    sa.Column("message_ts", sa.String(64), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("payload", json_type(), nullable=False),
    sa.Column("result", json_type(), nullable=True),
    sa.Column("expiry_reported", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index("ix_approvals_status_expires_at", "status", "expires_at"),
    sa.Index(
        "uq_approvals_active_target",
        "target_key",
        unique=True,
        sqlite_where=ACTIVE_WHERE,
        postgresql_where=ACTIVE_WHERE,
    ),
)

locks = sa.Table(
    "locks",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("verb", sa.String(64), nullable=False),
    sa.Column("pod", sa.String(255), nullable=True),
    sa.Column("container", sa.String(255), nullable=True),
    sa.Column("argv", json_type(), nullable=False),
    sa.Column("exit_code", sa.Integer(), nullable=True),
    sa.Column("duration", sa.Float(), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    sa.Index("ix_audit_at", "at"),
    sa.Index("ix_audit_pod_at", "pod", "at"),
)

state = sa.Table(
    "state",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", json_type(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

claims = sa.Table(
    "claims",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("claimed_at", UTCDateTime(), nullable=False),
)
