"""Approvals: every state change is one conditional UPDATE, so exactly one caller wins it."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.base import StoreBase
from bot.store.models import ACTIVE_STATUSES, Approval, ApprovalConflict, ApprovalStatus
from bot.store.schema import approvals

_ID_ALPHABET = string.ascii_lowercase + string.digits
_ID_LENGTH = 10
_CREATE_ATTEMPTS = 5
_ACTIVE = [s.value for s in ACTIVE_STATUSES]

# Which statuses ``mark`` may move from, per target status.
_MARK_FROM: dict[ApprovalStatus, tuple[ApprovalStatus, ...]] = {
    ApprovalStatus.RUNNING: (ApprovalStatus.APPROVED,),
    ApprovalStatus.SUCCEEDED: (ApprovalStatus.APPROVED, ApprovalStatus.RUNNING),
    ApprovalStatus.FAILED: (ApprovalStatus.APPROVED, ApprovalStatus.RUNNING),
}


def new_approval_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def default_target_key(target: Mapping[str, Any]) -> str:
    """``{"pod": "p1", "uid": …}`` -> ``"pod/p1"``: the first item names the target."""
    if not target:
        raise ValueError("an approval needs a target")
    name, value = next(iter(target.items()))
    return f"{name}/{value}"


def _to_approval(row: sa.Row[Any]) -> Approval:
    m = row._mapping
    return Approval(
        id=m["id"],
        kind=m["kind"],
        target=dict(m["target"]),
        target_key=m["target_key"],
        requester=m["requester"],
        channel=m["channel"],
        status=ApprovalStatus(m["status"]),
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        payload=dict(m["payload"]),
        message_channel=m["message_channel"],
        message_ts=m["message_ts"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
        reason=m["reason"],
        result=None if m["result"] is None else dict(m["result"]),
    )


class ApprovalRows(StoreBase):
    stale_after: timedelta = timedelta(hours=1)

    async def create_approval(
        self,
        kind: str,
        target: Mapping[str, Any],
        requester: str,
        channel: str,
        ttl_seconds: float,
        payload: Mapping[str, Any] | None = None,
        *,
        target_key: str | None = None,
        now: datetime | None = None,
    ) -> Approval:
        """A new pending approval, or ApprovalConflict naming the one that holds the target."""
        at = self._now(now)
        key = target_key or default_target_key(target)
        values = {
            "kind": kind,
            "target": dict(target),
            "target_key": key,
            "requester": requester,
            "channel": channel,
            "status": ApprovalStatus.PENDING.value,
            "created_at": at,
            "updated_at": at,
            "expires_at": at + timedelta(seconds=ttl_seconds),
            "payload": dict(payload or {}),
            "expiry_reported": False,
        }
        return await self._insert_approval(key, values, at)

    async def _insert_approval(self, key: str, values: dict[str, Any], at: datetime) -> Approval:
        for _ in range(_CREATE_ATTEMPTS):
            stmt = (
                self._insert(approvals)
                .values(id=new_approval_id(), **values)
                .on_conflict_do_nothing()
                .returning(*approvals.c)
            )
            async with self._engine.begin() as conn:
                row = (await conn.execute(stmt)).first()
                if row is not None:
                    return _to_approval(row)
                existing = await self._active(conn, None, key)
                if existing is not None and not await self._retire_stale(conn, existing, at):
                    raise ApprovalConflict(existing)
        raise RuntimeError(f"could not create an approval for {key} after {_CREATE_ATTEMPTS} attempts")

    async def _active(self, conn: AsyncConnection, kind: str | None, target_key: str) -> Approval | None:
        stmt = sa.select(approvals).where(
            approvals.c.target_key == target_key, approvals.c.status.in_(_ACTIVE)
        )
        if kind is not None:
            stmt = stmt.where(approvals.c.kind == kind)
        row = (await conn.execute(stmt)).first()
        return None if row is None else _to_approval(row)

    async def _retire_stale(self, conn: AsyncConnection, existing: Approval, now: datetime) -> bool:
        """Free the target from a pending one past expiry, or a run abandoned by a crashed bot."""
        where = [approvals.c.id == existing.id, approvals.c.status == existing.status.value]
        if existing.status is ApprovalStatus.PENDING and now >= existing.expires_at:
            # expiry_reported stays false: expire_due still announces it, exactly once.
            update: dict[str, Any] = {"status": ApprovalStatus.EXPIRED.value, "updated_at": now}
        elif existing.status is not ApprovalStatus.PENDING:
            where.append(approvals.c.updated_at <= now - self.stale_after)
            update = {
                "status": ApprovalStatus.FAILED.value,
                "updated_at": now,
                "result": {"error": f"abandoned: still {existing.status.value} after {self.stale_after}"},
            }
        else:
            return False
        result = await conn.execute(sa.update(approvals).where(*where).values(**update))
        return result.rowcount == 1

    async def blocking(self, target_key: str, *, now: datetime | None = None) -> Approval | None:
        """The approval a new request for ``target_key`` would be refused for (ApprovalConflict),
        after freeing the target from a stale one, as ``create_approval`` does. A cheap check
        before the work a request does; ``create_approval`` stays the atomic one."""
        at = self._now(now)
        async with self._engine.begin() as conn:
            existing = await self._active(conn, None, target_key)
            if existing is None or await self._retire_stale(conn, existing, at):
                return None
            return existing

    async def get_approval(self, approval_id: str) -> Approval | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(approvals).where(approvals.c.id == approval_id))).first()
        return None if row is None else _to_approval(row)

    async def pending_for(self, kind: str | None, target_key: str) -> Approval | None:
        """The pending, approved or running approval holding ``target_key`` (any kind when None)."""
        async with self._engine.connect() as conn:
            return await self._active(conn, kind, target_key)

    async def _update(self, where: list[sa.ColumnElement[bool]], values: dict[str, Any]) -> Approval | None:
        stmt = sa.update(approvals).where(*where).values(**values).returning(*approvals.c)
        async with self._engine.begin() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _to_approval(row)

    async def set_approval_message(self, approval_id: str, channel: str, ts: str) -> Approval | None:
        """Remember where the message with the buttons is, to update it later."""
        return await self._update(
            [approvals.c.id == approval_id], {"message_channel": channel, "message_ts": ts}
        )

    async def decide(
        self,
        approval_id: str,
        *,
        approve: bool,
        by: str,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> Approval | None:
        """Pending and unexpired -> approved/denied. None when already decided, expired or unknown."""
        at = self._now(now)
        status = ApprovalStatus.APPROVED if approve else ApprovalStatus.DENIED
        return await self._update(
            [
                approvals.c.id == approval_id,
                approvals.c.status == ApprovalStatus.PENDING.value,
                approvals.c.expires_at > at,
            ],
            {"status": status.value, "decided_by": by, "decided_at": at, "reason": reason, "updated_at": at},
        )

    async def mark(
        self,
        approval_id: str,
        status: ApprovalStatus | str,
        result: Mapping[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> Approval | None:
        """approved -> running; approved|running -> succeeded|failed. None when not in a from-state."""
        target = ApprovalStatus(status)
        if target not in _MARK_FROM:
            raise ValueError(f"mark() moves to running, succeeded or failed, not {target.value}")
        values: dict[str, Any] = {"status": target.value, "updated_at": self._now(now)}
        if result is not None:
            values["result"] = dict(result)
        sources = [s.value for s in _MARK_FROM[target]]
        return await self._update([approvals.c.id == approval_id, approvals.c.status.in_(sources)], values)

    async def heartbeat(self, approval_id: str, *, now: datetime | None = None) -> Approval | None:
        """The process running an approved operation is alive: touch ``updated_at`` while it is
        approved or running. None when it is not (finished, or declared abandoned by another)."""
        at = self._now(now)
        running = [ApprovalStatus.APPROVED.value, ApprovalStatus.RUNNING.value]
        return await self._update(
            [approvals.c.id == approval_id, approvals.c.status.in_(running)], {"updated_at": at}
        )

    async def fail_abandoned(
        self,
        kinds: list[str],
        idle_for: timedelta,
        result: Mapping[str, Any],
        *,
        now: datetime | None = None,
    ) -> list[Approval]:
        """Approved/running approvals of ``kinds`` with no heartbeat for ``idle_for`` -> failed with
        ``result``, freeing their target. One conditional UPDATE: each is returned to exactly one
        caller, across replicas, and a heartbeat that lands first keeps its approval out."""
        at = self._now(now)
        stmt = (
            sa.update(approvals)
            .where(
                approvals.c.kind.in_(kinds),
                approvals.c.status.in_([ApprovalStatus.APPROVED.value, ApprovalStatus.RUNNING.value]),
                approvals.c.updated_at <= at - idle_for,
            )
            .values(status=ApprovalStatus.FAILED.value, updated_at=at, result=dict(result))
            .returning(*approvals.c)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        return sorted((_to_approval(r) for r in rows), key=lambda a: a.created_at)

    async def expire_due(self, now: datetime | None = None) -> list[Approval]:
        """Pending past expiry -> expired. Each expired approval is returned once, to one caller."""
        at = self._now(now)
        due = [approvals.c.status == ApprovalStatus.PENDING.value, approvals.c.expires_at <= at]
        unreported = [
            approvals.c.status == ApprovalStatus.EXPIRED.value,
            approvals.c.expiry_reported.is_(False),
        ]
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(approvals).where(*due).values(status=ApprovalStatus.EXPIRED.value, updated_at=at)
            )
            rows = await conn.execute(
                sa.update(approvals).where(*unreported).values(expiry_reported=True).returning(*approvals.c)
            )
            return sorted((_to_approval(r) for r in rows), key=lambda a: a.expires_at)
