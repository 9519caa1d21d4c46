"""The store keeps its promises on SQLite and PostgreSQL: exactly-once claims and decisions,
one active approval per target, state that survives a restart of the bot."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.store import ApprovalConflict, ApprovalStatus, AuditEntry, Store, normalize_url
from bot.store.schema import metadata
from config.settings import Environment
from tests.conftest import PG_ENV

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POD = {"pod": "codex-run-1", "uid": "uid-1"}


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def opened(url: str, **kwargs: object) -> AsyncIterator[Store]:
    store = await Store.open(url, **kwargs)  # type: ignore[arg-type]
    try:
        yield store
    finally:
        await store.close()


async def request_restart(store: Store, pod: str = "codex-run-1", ttl: float = 900) -> str:
    approval = await store.create_approval(
        "restart", {"pod": pod, "uid": f"uid-{pod}"}, "U0REQ", "C0ASK", ttl, {"reason": "daemon down"}
    )
    return approval.id


async def test_redelivered_request_is_claimed_once_under_concurrency(database_url: str) -> None:
    async with opened(database_url) as one, opened(database_url) as two:
        results = await asyncio.gather(
            *(replica.claim_delivery("slack:Ev1:retry") for replica in (one, two) for _ in range(10))
        )
        assert results.count(True) == 1
        assert await two.claim_delivery("slack:Ev2") is True


async def test_old_deliveries_are_pruned_so_the_table_does_not_grow(database_url: str) -> None:
    clock = FakeClock()
    async with opened(database_url, clock=clock) as store:
        assert await store.claim_delivery("old") is True
        clock.now += timedelta(days=2)
        assert await store.claim_delivery("new") is True
        # Pruned: the key is gone, so it counts as unseen again.
        assert await store.claim_delivery("old") is True
        assert await store.claim_delivery("new") is False


async def test_created_approval_reads_back_with_aware_utc_times(store: Store) -> None:
    created = await store.create_approval(
        "restart", POD, "U0REQ", "C0ASK", 900, {"reason": "daemon down"}, now=T0
    )
    await store.set_approval_message(created.id, "C0INCIDENT", "1700000000.000100")
    got = await store.get_approval(created.id)
    assert got is not None
    assert (got.kind, got.target, got.target_key) == ("restart", POD, "pod/codex-run-1")
    assert (got.requester, got.channel, got.status) == ("U0REQ", "C0ASK", ApprovalStatus.PENDING)
    assert (got.message_channel, got.message_ts) == ("C0INCIDENT", "1700000000.000100")
    assert got.payload == {"reason": "daemon down"}
    assert got.created_at == T0 and got.created_at.tzinfo is not None
    assert got.expires_at == T0 + timedelta(seconds=900)
    assert 6 <= len(got.id) <= 16 and got.id.isalnum()
    assert await store.get_approval("nope") is None


async def test_second_request_for_same_pod_is_refused_with_the_first(store: Store) -> None:
    first = await request_restart(store)
    with pytest.raises(ApprovalConflict) as refused:
        await request_restart(store)
    assert refused.value.existing.id == first
    assert "already pending" in str(refused.value)
    assert (await store.pending_for("restart", "pod/codex-run-1")) is not None
    assert await request_restart(store, pod="codex-run-2")  # another pod is independent

    await store.decide(first, approve=True, by="U0SRE")
    await store.mark(first, "running")
    with pytest.raises(ApprovalConflict, match="already running"):
        await request_restart(store)
    await store.mark(first, "succeeded", {"ready_after": 4.0})
    assert await store.pending_for("restart", "pod/codex-run-1") is None
    assert await request_restart(store)


async def test_concurrent_requests_for_one_pod_create_exactly_one(database_url: str) -> None:
    async with opened(database_url) as one, opened(database_url) as two:
        outcomes = await asyncio.gather(
            *(request_restart(replica) for replica in (one, two) for _ in range(5)),
            return_exceptions=True,
        )
    created = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, ApprovalConflict)]
    assert len(created) == 1 and len(refused) == 9
    assert {r.existing.id for r in refused} == set(created)


async def test_two_concurrent_decisions_exactly_one_wins(database_url: str) -> None:
    async with opened(database_url) as one, opened(database_url) as two:
        for round_ in range(5):
            approval_id = await request_restart(one, pod=f"codex-run-{round_}")
            results = await asyncio.gather(
                one.decide(approval_id, approve=True, by="U0SRE1"),
                two.decide(approval_id, approve=False, by="U0SRE2", reason="not now"),
            )
            winners = [r for r in results if r is not None]
            assert len(winners) == 1
            final = await two.get_approval(approval_id)
            assert final is not None and final.status == winners[0].status
            assert final.decided_by == winners[0].decided_by


async def test_decide_after_expiry_does_nothing(store: Store) -> None:
    approval = await store.create_approval("restart", POD, "U0REQ", "C0ASK", 60, now=T0)
    assert await store.decide(approval.id, approve=True, by="U0SRE", now=T0 + timedelta(seconds=61)) is None
    got = await store.get_approval(approval.id)
    assert got is not None and got.status is ApprovalStatus.PENDING and got.decided_by is None


async def test_expiry_is_reported_exactly_once_across_replicas(database_url: str) -> None:
    async with opened(database_url) as one, opened(database_url) as two:
        due = [
            (await one.create_approval("restart", {"pod": f"p{i}"}, "U0REQ", "C0ASK", 60, now=T0)).id
            for i in range(3)
        ]
        later = await one.create_approval("restart", {"pod": "p-later"}, "U0REQ", "C0ASK", 600, now=T0)
        at = T0 + timedelta(seconds=120)
        batches = await asyncio.gather(one.expire_due(at), two.expire_due(at), one.expire_due(at))
        expired = [a.id for batch in batches for a in batch]
        assert sorted(expired) == sorted(due)
        assert all(a.status is ApprovalStatus.EXPIRED for batch in batches for a in batch)
        assert await two.expire_due(at + timedelta(hours=1)) != []  # the later one, now due
        assert (await one.get_approval(later.id)).status is ApprovalStatus.EXPIRED  # type: ignore[union-attr]
        assert await one.expire_due(at + timedelta(hours=2)) == []


async def test_expired_but_unswept_request_does_not_block_and_is_still_reported(store: Store) -> None:
    old = await store.create_approval("restart", POD, "U0REQ", "C0ASK", 60, now=T0)
    new = await store.create_approval("restart", POD, "U0OTHER", "C0ASK", 60, now=T0 + timedelta(minutes=5))
    assert new.id != old.id
    reported = await store.expire_due(T0 + timedelta(minutes=5))
    assert [a.id for a in reported] == [old.id]


async def test_run_abandoned_by_a_crashed_bot_stops_blocking_after_stale_time(database_url: str) -> None:
    clock = FakeClock()
    async with opened(database_url, clock=clock, stale_after_seconds=600) as store:
        first = await request_restart(store)
        await store.decide(first, approve=True, by="U0SRE")
        await store.mark(first, "running")
        clock.now += timedelta(seconds=300)
        with pytest.raises(ApprovalConflict):
            await request_restart(store)
        clock.now += timedelta(seconds=400)
        assert await request_restart(store)
        old = await store.get_approval(first)
        assert old is not None and old.status is ApprovalStatus.FAILED
        assert "abandoned" in str(old.result)


async def test_run_whose_bot_stopped_heartbeating_fails_once_across_replicas(database_url: str) -> None:
    clock = FakeClock()
    gone = {"error": "interrupted by a bot restart"}
    async with opened(database_url, clock=clock) as one, opened(database_url, clock=clock) as two:
        running = await request_restart(one, pod="codex-run-1")
        await one.decide(running, approve=True, by="U0SRE")
        await one.mark(running, "running")
        approved = await request_restart(one, pod="codex-run-2")
        await one.decide(approved, approve=True, by="U0SRE")  # its bot died before running it
        pending = await request_restart(one, pod="codex-run-3")
        other_kind = await one.create_approval("pause", {"submissions": "ns"}, "U0REQ", "C0ASK", 900)
        await one.decide(other_kind.id, approve=True, by="U0SRE")
        idle = timedelta(seconds=60)

        clock.now += timedelta(seconds=50)
        assert await one.heartbeat(running) is not None  # its bot is alive
        clock.now += timedelta(seconds=20)  # 70 s since approved's last sign of life, 20 s for running
        batches = await asyncio.gather(*(r.fail_abandoned(["restart"], idle, gone) for r in (one, two, one)))
        assert [a.id for batch in batches for a in batch] == [approved]
        failed = await two.get_approval(approved)
        assert failed is not None and failed.status is ApprovalStatus.FAILED and failed.result == gone
        assert await one.heartbeat(approved) is None  # a late heartbeat does not revive it
        assert await request_restart(two, pod="codex-run-2")  # the pod is free

        clock.now += timedelta(seconds=61)
        assert [a.id for a in await two.fail_abandoned(["restart"], idle, gone)] == [running]
        for untouched, status in (
            (pending, ApprovalStatus.PENDING),
            (other_kind.id, ApprovalStatus.APPROVED),
        ):
            got = await one.get_approval(untouched)
            assert got is not None and got.status is status


async def test_blocking_names_the_active_request_and_ignores_an_expired_one(store: Store) -> None:
    first = await store.create_approval("restart", POD, "U0REQ", "C0ASK", 60, now=T0)
    held = await store.blocking("pod/codex-run-1", now=T0 + timedelta(seconds=30))
    assert held is not None and held.id == first.id
    assert "A restart of `codex-run-1` is already pending" in str(ApprovalConflict(held))
    assert await store.blocking("pod/codex-run-2", now=T0) is None
    assert await store.blocking("pod/codex-run-1", now=T0 + timedelta(seconds=61)) is None
    assert [a.id for a in await store.expire_due(T0 + timedelta(seconds=61))] == [first.id]  # still told


async def test_mark_only_moves_forward_from_approved(store: Store) -> None:
    approval_id = await request_restart(store)
    assert await store.mark(approval_id, "running") is None  # still pending: nothing may run
    await store.decide(approval_id, approve=True, by="U0SRE")
    running = await store.mark(approval_id, ApprovalStatus.RUNNING)
    assert running is not None and running.status is ApprovalStatus.RUNNING
    assert await store.mark(approval_id, "running") is None  # exactly one runner
    done = await store.mark(approval_id, "failed", {"error": "daemon never ready"})
    assert done is not None and done.result == {"error": "daemon never ready"}
    assert await store.mark(approval_id, "succeeded") is None
    with pytest.raises(ValueError, match="running, succeeded or failed"):
        await store.mark(approval_id, "approved")


async def test_pending_approval_survives_bot_restart(database_url: str) -> None:
    async with opened(database_url) as before:
        live = await request_restart(before, pod="codex-run-live")
        dying = (await before.create_approval("restart", {"pod": "p-old"}, "U0REQ", "C0ASK", 60, now=T0)).id
    async with opened(database_url) as after:
        decided = await after.decide(live, approve=True, by="U0SRE")
        assert decided is not None and decided.status is ApprovalStatus.APPROVED
        expired = await after.expire_due(T0 + timedelta(minutes=2))
        assert [a.id for a in expired] == [dying]


async def test_lock_conflict_names_the_holder(database_url: str) -> None:
    clock = FakeClock()
    async with opened(database_url, clock=clock) as store:
        assert await store.acquire_lock("watcher", "replica-a", 30) is None
        assert await store.acquire_lock("watcher", "replica-b", 30) == "replica-a"
        assert await store.acquire_lock("watcher", "replica-a", 30) is None  # refresh own
        assert await store.release_lock("watcher", "replica-b") is False
        clock.now += timedelta(seconds=31)
        assert await store.acquire_lock("watcher", "replica-b", 30) is None  # expired: taken over
        assert await store.release_lock("watcher", "replica-a") is False
        assert await store.release_lock("watcher", "replica-b") is True
        assert await store.acquire_lock("watcher", "replica-a", 30) is None


async def test_concurrent_lock_attempts_have_one_winner(database_url: str) -> None:
    async with opened(database_url) as one, opened(database_url) as two:
        results = await asyncio.gather(
            *(replica.acquire_lock("pod/p1", f"h{i}", 60) for i, replica in enumerate([one, two] * 5))
        )
    winners = [f"h{i}" for i, r in enumerate(results) if r is None]
    assert len(winners) == 1
    assert {r for r in results if r is not None} == set(winners)


async def test_audit_is_newest_first_and_filters_by_pod(store: Store) -> None:
    for minute, pod in enumerate(["p1", "p2", "p1", None, "p1"]):
        await store.record(
            AuditEntry(
                user="U0ONCALL",
                verb="validate" if pod else "fleet",
                pod=pod,
                container="main",
                argv=("docker", "info"),
                exit_code=minute,
                duration=1.5,
                at=T0 + timedelta(minutes=minute),
            )
        )
    latest = await store.recent()
    assert [e.exit_code for e in latest] == [4, 3, 2, 1, 0]
    assert latest[0].argv == ("docker", "info") and latest[0].at == T0 + timedelta(minutes=4)
    assert [e.exit_code for e in await store.recent(pod="p1")] == [4, 2, 0]
    assert [e.exit_code for e in await store.recent(limit=2)] == [4, 3]


async def test_state_and_claim_once_survive_restart(database_url: str) -> None:
    async with opened(database_url) as store:
        await store.put_state("escalation", {"paged_at": "2026-01-05T09:00:00Z"})
        await store.put_state("escalation", {"paged_at": "2026-01-05T10:00:00Z", "count": 2})
        await store.put_state("gone", {"x": 1})
        await store.delete_state("gone")
        assert await store.claim_once("watcher:wf-1") is True
    async with opened(database_url) as store:
        assert await store.get_state("escalation") == {"paged_at": "2026-01-05T10:00:00Z", "count": 2}
        assert await store.get_state("gone") is None
        assert await store.claim_once("watcher:wf-1") is False
        assert await store.claim_once("watcher:wf-2") is True


async def test_replicas_starting_together_migrate_once(empty_database_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(empty_database_url) for _ in range(3)))
    try:
        assert await stores[0].claim_once("x") is True
        assert await stores[2].claim_once("x") is False
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_migrations_create_exactly_the_schema_the_queries_use(store: Store) -> None:
    def diff(connection: sa.Connection) -> list[Any]:
        found: list[Any] = compare_metadata(MigrationContext.configure(connection), metadata)
        return found

    async with store._engine.connect() as conn:
        assert await conn.run_sync(diff) == []


def test_database_urls_are_given_the_async_driver() -> None:
    assert normalize_url("postgres://u:p@db:5432/bot").drivername == "postgresql+asyncpg"
    assert normalize_url("postgresql://u@db/bot").drivername == "postgresql+asyncpg"
    assert dict(normalize_url("postgres://u@db/bot?sslmode=require").query) == {"ssl": "require"}
    assert normalize_url("sqlite:////var/lib/bot.db").drivername == "sqlite+aiosqlite"
    with pytest.raises(ValueError, match="unsupported"):
        normalize_url("mysql://u@db/bot")
    with pytest.raises(ValueError, match="file path"):
        normalize_url("sqlite+aiosqlite:///:memory:")


async def test_default_database_is_a_sqlite_file_in_the_state_dir(tmp_path: Path) -> None:
    env = Environment(state_dir=str(tmp_path / "not" / "yet"))
    async with opened(env.resolved_database_url()) as store:
        assert store.backend == "sqlite"
        assert await store.claim_once("k") is True
    assert (tmp_path / "not" / "yet" / "codex-bot.db").is_file()


def test_a_plain_run_says_why_the_postgresql_cases_are_skipped() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", PG_ENV))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "tests/test_store.py::test_created_approval_reads_back_with_aware_utc_times"],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SKIPPED [1] " in done.stdout and f"{PG_ENV} is not set" in done.stdout, done.stdout


async def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.expire_due(datetime(2026, 1, 5, 9, 0))
