"""The bot's memory: approvals, locks, audit, dedupe of redelivered requests, small named state."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.approval_table import ApprovalRows
from bot.store.base import Clock
from bot.store.engine import create_engine, normalize_url, upgrade_to_head
from bot.store.models import AuditEntry, utcnow
from bot.store.schema import audit, claims, deliveries, locks, state

log = logging.getLogger(__name__)

# Slack retries within minutes; a day keeps any redelivery out with room to spare.
DELIVERY_RETENTION = timedelta(days=1)
_PRUNE_EVERY = timedelta(minutes=10)
_LOCK_ATTEMPTS = 5


class Store(ApprovalRows):
    """Open with ``await Store.open(url)``; every method is one atomic transaction."""

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        clock: Clock = utcnow,
        stale_after_seconds: float = 3600,
        echo: bool = False,
    ) -> Store:
        """Connect and migrate to head. ``stale_after_seconds``: an approved/running approval not
        updated for this long is taken to be abandoned by a crashed bot and stops blocking its target."""
        parsed = normalize_url(url)
        engine = create_engine(parsed, echo=echo)
        try:
            await upgrade_to_head(engine)
        except BaseException:
            await engine.dispose()
            raise
        log.info("store ready at %s", parsed.render_as_string(hide_password=True))
        store = cls(engine, clock)
        store.stale_after = timedelta(seconds=stale_after_seconds)
        return store

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        super().__init__(engine, clock)
        self._next_prune: datetime | None = None

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    async def close(self) -> None:
        await self._engine.dispose()

    async def claim_delivery(self, key: str) -> bool:
        """True only the first time ``key`` is seen (a redelivered Slack request gets False)."""
        now = self._now()
        if self._next_prune is None or now >= self._next_prune:
            self._next_prune = now + _PRUNE_EVERY
            await self.prune_deliveries(now - DELIVERY_RETENTION)
        return await self._insert_once(deliveries, "key", {"key": key, "created_at": now})

    async def prune_deliveries(self, older_than: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(deliveries).where(deliveries.c.created_at < older_than))
        return result.rowcount

    async def acquire_lock(self, key: str, holder: str, ttl_seconds: float) -> str | None:
        """None when ``holder`` now holds ``key`` (taken, expired, or already its own: refreshed);
        otherwise the current holder."""
        for _ in range(_LOCK_ATTEMPTS):
            now = self._now()
            expires = now + timedelta(seconds=ttl_seconds)
            stmt = (
                self._insert(locks)
                .values(key=key, holder=holder, expires_at=expires)
                .on_conflict_do_update(
                    index_elements=[locks.c.key],
                    set_={"holder": holder, "expires_at": expires},
                    where=sa.or_(locks.c.expires_at <= now, locks.c.holder == holder),
                )
                .returning(locks.c.holder)
            )
            async with self._engine.begin() as conn:
                if (await conn.execute(stmt)).first() is not None:
                    return None
                current = (
                    await conn.execute(sa.select(locks.c.holder).where(locks.c.key == key))
                ).scalar_one_or_none()
            if current is not None:
                return str(current)
        raise RuntimeError(f"lock {key} changed hands {_LOCK_ATTEMPTS} times while acquiring it")

    async def release_lock(self, key: str, holder: str) -> bool:
        """False when ``holder`` did not hold it (expired and taken by someone else)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(locks).where(locks.c.key == key, locks.c.holder == holder))
        return result.rowcount == 1

    async def record(self, entry: AuditEntry) -> None:
        values = {
            "at": self._now(entry.at),
            "user": entry.user,
            "verb": entry.verb,
            "pod": entry.pod,
            "container": entry.container,
            "argv": list(entry.argv),
            "exit_code": entry.exit_code,
            "duration": entry.duration,
            "detail": entry.detail,
        }
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(audit).values(**values))

    async def recent(self, limit: int = 20, pod: str | None = None) -> list[AuditEntry]:
        """Newest first; only entries about ``pod`` when given."""
        stmt = sa.select(audit).order_by(audit.c.at.desc(), audit.c.id.desc()).limit(limit)
        if pod is not None:
            stmt = stmt.where(audit.c.pod == pod)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [
            AuditEntry(
                user=r["user"],
                verb=r["verb"],
                pod=r["pod"],
                container=r["container"],
                argv=tuple(r["argv"]),
                exit_code=r["exit_code"],
                duration=r["duration"],
                detail=r["detail"],
                at=r["at"],
            )
            for r in rows
        ]

    async def put_state(self, key: str, value: Mapping[str, Any]) -> None:
        now = self._now()
        stmt = (
            self._insert(state)
            .values(key=key, value=dict(value), updated_at=now)
            .on_conflict_do_update(
                index_elements=[state.c.key], set_={"value": dict(value), "updated_at": now}
            )
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def get_state(self, key: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(sa.select(state.c.value).where(state.c.key == key))
            ).scalar_one_or_none()
        return None if value is None else dict(value)

    async def delete_state(self, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(state).where(state.c.key == key))

    async def claim_once(self, key: str) -> bool:
        """True for exactly one caller ever, across restarts and replicas."""
        return await self._insert_once(claims, "key", {"key": key, "claimed_at": self._now()})

    async def claimed_at(self, key: str) -> datetime | None:
        """When ``claim_once(key)`` was won; None when nobody claimed ``key``."""
        async with self._engine.connect() as conn:
            stmt = sa.select(claims.c.claimed_at).where(claims.c.key == key)
            value: datetime | None = (await conn.execute(stmt)).scalar_one_or_none()
        return value
