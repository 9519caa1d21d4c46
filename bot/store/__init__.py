"""Persistence: ``store = await Store.open(settings.env.resolved_database_url())``."""

from bot.store.engine import normalize_url
from bot.store.models import (
    ACTIVE_STATUSES,
    Approval,
    ApprovalConflict,
    ApprovalStatus,
    AuditEntry,
    utcnow,
)
from bot.store.store import DELIVERY_RETENTION, Store

__all__ = [
    "ACTIVE_STATUSES",
    "DELIVERY_RETENTION",
    "Approval",
    "ApprovalConflict",
    "ApprovalStatus",
    "AuditEntry",
    "Store",
    "normalize_url",
    "utcnow",
]
