"""What the store hands out: frozen values, timezone-aware UTC times."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from handlers.errors import Conflict


def utcnow() -> datetime:
    return datetime.now(UTC)


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: While an approval is in one of these, no other approval may hold its target_key.
ACTIVE_STATUSES = (ApprovalStatus.PENDING, ApprovalStatus.APPROVED, ApprovalStatus.RUNNING)


@dataclass(frozen=True)
class Approval:
    """A two-person operation on one target (a pod, the submissions flag, …)."""

    id: str
    kind: str  # restart | pause | resume | rollback …
    target: Mapping[str, Any]  # e.g. {"pod": name, "uid": uid}
    target_key: str  # one active approval per key, e.g. "pod/<name>"
    requester: str  # Slack user ID
    channel: str  # where it was requested (the requester is answered there)
    status: ApprovalStatus
    created_at: datetime
    expires_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    message_channel: str | None = None  # where the approval message with the buttons is
    message_ts: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    result: Mapping[str, Any] | None = None

    @property
    def target_name(self) -> str:
        """What people call the target: the pod's name for a pod, else the internal key."""
        pod = self.target.get("pod")
        return f"`{pod}`" if pod else self.target_key

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def expired_at(self, now: datetime) -> bool:
        """True when still pending but past its expiry (the sweeper may not have run yet)."""
        return self.status is ApprovalStatus.PENDING and now >= self.expires_at


@dataclass(frozen=True)
class AuditEntry:
    """One command, decision or exec: who ran what, where, with what result."""

    user: str
    verb: str
    pod: str | None = None
    container: str | None = None
    argv: tuple[str, ...] = ()
    exit_code: int | None = None
    duration: float | None = None  # seconds
    detail: str | None = None
    at: datetime = field(default_factory=utcnow)


class ApprovalConflict(Conflict):
    """Another approval already holds the target; ``existing`` says which, to link to it."""

    def __init__(self, existing: Approval) -> None:
        super().__init__(
            f"A {existing.kind} of {existing.target_name} is already {existing.status.value}"
            f" (requested by <@{existing.requester}>).",
            hint="Wait for it to finish, or ask an approver to deny it.",
        )
        self.existing = existing
