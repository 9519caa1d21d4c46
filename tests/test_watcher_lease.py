"""The watcher with several replicas: one fake cluster (its Lease), one store, one fake GitHub.

Each replica is a bot runtime of its own, wired as in production; the Lease is renewed in the
background every ``renew_seconds``, so these tests use short ones and wait for what the fakes see.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.slack import make_client
from bot.app import Runtime, open_runtime, slack_surface
from bot.flows.watcher import comment_once, failed_linked, watch_failed_workflows, watch_round
from bot.leadership import Leadership
from bot.store import Store
from bot.surface import Surface
from tests.fakes.kube import wait_for
from tests.harness import BOT_TOKEN, World, policy_for_tests, world
from tests.test_watcher import ANNOTATION, ISSUE, REPO, WATCH_CHANNEL, add_failed, failed_cluster

LEASE = "codex-bot-watcher"


def lease_policy(lease_seconds: int = 30) -> Any:
    watcher = {"enabled": True, "channel": WATCH_CHANNEL, "interval_seconds": 0.1}
    return policy_for_tests(watcher={**watcher, "lease_seconds": lease_seconds, "renew_seconds": 0.05})


def surface_of(w: World) -> Surface:
    return slack_surface(w.settings, make_client(BOT_TOKEN, w.slack.url))


@contextlib.asynccontextmanager
async def replica(w: World, *, watching: bool = True) -> AsyncIterator[Runtime]:
    """Another bot process: its own clients, the same store, cluster and GitHub; ``watching``: its
    watcher runs in the background (else only what the test calls runs)."""
    surface = surface_of(w)
    runtime = await open_runtime(w.settings, group_members=surface.group_members)
    if watching:
        runtime.background = [asyncio.create_task(watch_failed_workflows(runtime.deps, surface))]
    try:
        yield runtime
    finally:
        await runtime.close()


def holder(w: World) -> str | None:
    lease = w.cluster.get_object("leases", LEASE)
    return None if lease is None else lease["spec"].get("holderIdentity")


def bodies_by_workflow(w: World) -> dict[str, int]:
    counts: dict[str, int] = {}
    for comment in w.github.comments(REPO, ISSUE):
        name = comment.body.split("Workflow `", 1)[1].split("`", 1)[0]
        counts[name] = counts.get(name, 0) + 1
    return counts


def workflow_lists(w: World) -> int:
    return len([r for r in w.cluster.requests if r.method == "GET" and r.path.endswith("/workflows")])


async def test_two_replicas_comment_exactly_once_per_workflow(tmp_path: Path) -> None:
    cluster = failed_cluster()
    async with world(tmp_path, policy=lease_policy(lease_seconds=1), cluster=cluster, start=False) as w:
        w.github.add_issue(REPO, ISSUE)
        for name in ("codex-y", "codex-z"):
            add_failed(w, name)
        await w.start_bot(background=True)
        async with replica(w):
            await w.github.wait_for(lambda: len(bodies_by_workflow(w)) == 3, timeout=20)
            rounds = workflow_lists(w)
            await wait_for(lambda: workflow_lists(w) >= rounds + 5, within=10)  # later rounds: nothing new
        assert bodies_by_workflow(w) == {"codex-x": 1, "codex-y": 1, "codex-z": 1}
        assert len(w.github.calls("POST", "*/comments")) == 3
        notes = [m for m in w.slack.messages(WATCH_CHANNEL) if not m.thread_ts]
        assert sorted(n.text.split("`")[1] for n in notes) == ["codex-x", "codex-y", "codex-z"]


class Leads:
    """A replica that believes it holds the Lease, as two briefly may while it changes hands."""

    leading = True


async def test_two_replicas_that_both_believe_they_lead_still_comment_once(tmp_path: Path) -> None:
    async with world(tmp_path, policy=lease_policy(), cluster=failed_cluster()) as w:
        w.github.add_issue(REPO, ISSUE)
        assert w.runtime is not None
        items = await w.runtime.deps.objects.list("workflows")
        [wf] = failed_linked(items, w.settings.policy, datetime.now(UTC))
        async with replica(w, watching=False) as other:  # a background round would be a third party
            both = await asyncio.gather(
                comment_once(w.runtime.deps, surface_of(w), wf, Leads()),
                comment_once(other.deps, surface_of(w), wf, Leads()),
            )
            assert sorted(both, key=bool)[0] is None and sorted(both, key=bool)[1]
            assert await comment_once(other.deps, surface_of(w), wf, Leads()) is None
        assert len(w.github.comments(REPO, ISSUE)) == 1
        assert len(w.github.calls("POST", "*/comments")) == 1


async def test_an_attempt_claimed_by_a_replica_that_died_is_taken_over_later(tmp_path: Path) -> None:
    async with world(tmp_path, policy=lease_policy(), cluster=failed_cluster()) as w:
        w.github.add_issue(REPO, ISSUE)
        add_failed(w, "codex-y")
        assert w.runtime is not None
        deps = w.runtime.deps
        found = failed_linked(await deps.objects.list("workflows"), w.settings.policy, datetime.now(UTC))
        x, y = sorted(found, key=lambda f: f.name)
        ns = w.settings.policy.namespace
        assert await deps.store.claim_once(f"{x.state_key(ns)}:attempt:1")  # a replica at it now
        url = w.settings.env.resolved_database_url()
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        dead = await Store.open(url, clock=lambda: an_hour_ago)  # a replica that died an hour ago
        try:
            assert await dead.claim_once(f"{y.state_key(ns)}:attempt:1")
        finally:
            await dead.close()
        assert await comment_once(deps, surface_of(w), x, Leads()) is None
        assert await comment_once(deps, surface_of(w), y, Leads())
        assert bodies_by_workflow(w) == {"codex-y": 1}
        state = await deps.store.get_state(y.state_key(ns))
        assert state is not None and state["seq"] == 2 and state["attempts"] == 0


def take_lease(w: World, identity: str, seconds: int = 30) -> None:
    """Another holder takes the Lease in the cluster (what a replica does once it has lapsed)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    spec = {"holderIdentity": identity, "renewTime": now, "leaseDurationSeconds": seconds}
    w.cluster.update_object("leases", LEASE, {"spec": spec})


async def test_a_leader_that_loses_the_lease_mid_round_stops_before_commenting(tmp_path: Path) -> None:
    async with world(tmp_path, policy=lease_policy(), cluster=failed_cluster()) as w:
        w.github.add_issue(REPO, ISSUE)
        add_failed(w, "codex-y")
        assert w.runtime is not None
        deps = w.runtime.deps
        held = w.cluster.hold("GET", r"/pods/codex-x-build/log$")  # codex-x's diagnostics wait
        elector = w.runtime.kube.leases.elector(LEASE, lease_seconds=30, identity="replica-a")
        async with Leadership(elector, renew_seconds=0.05).holding() as leader:
            assert leader.leading and holder(w) == "replica-a"
            one_round = asyncio.create_task(watch_round(deps, surface_of(w), leader))
            await wait_for(lambda: held.used > 0)
            take_lease(w, "replica-z")
            await wait_for(lambda: not leader.leading)  # a background renewal found the new holder
            assert held.gate is not None
            held.gate.set()
            assert await one_round == []
            assert w.github.comments(REPO, ISSUE) == [] and w.slack.messages(WATCH_CHANNEL) == []
            assert not [r for r in w.cluster.requests if "codex-y" in r.path]  # the round stopped
            uid = w.cluster.get_object("workflows", "codex-x")["metadata"]["uid"]
            state = await deps.store.get_state(f"watcher:{w.cluster.namespace}:{uid}")
            assert state is not None and state["attempts"] == 0 and "started_at" not in state

            take_lease(w, "")  # replica-z let go: replica-a leads again and does both
            await wait_for(lambda: leader.leading)
            assert len(await watch_round(deps, surface_of(w), leader)) == 2
        assert sorted(bodies_by_workflow(w)) == ["codex-x", "codex-y"]
        assert not holder(w), "released on the way out"


async def test_shutdown_releases_the_lease_and_another_replica_takes_over_at_once(tmp_path: Path) -> None:
    async with world(
        tmp_path, policy=lease_policy(lease_seconds=30), cluster=failed_cluster(), start=False
    ) as w:
        w.github.add_issue(REPO, ISSUE)
        await w.start_bot(background=True)
        await w.github.wait_for(lambda: w.github.comments(REPO, ISSUE), timeout=20)
        first = holder(w)
        assert first
        async with replica(w):
            tries = len(w.cluster.requests)
            await wait_for(lambda: len(w.cluster.requests) > tries + 10)  # both replicas keep trying
            assert holder(w) == first  # the other one waits: the Lease is valid for 30 s
            await w.stop_bot()
            lease = w.cluster.get_object("leases", LEASE)
            assert lease is not None and not lease["spec"].get("holderIdentity")
            assert lease["spec"]["leaseDurationSeconds"] == 1
            await wait_for(lambda: holder(w) not in (None, "", first), within=3)  # not after 30 s
            w.cluster.add_workflow("codex-y", phase="Failed", annotations={ANNOTATION: f"{REPO}#{ISSUE}"})
            w.cluster.add_codex_pod("codex-y-build", workflow="codex-y", phase="Failed")
            await w.github.wait_for(lambda: len(w.github.comments(REPO, ISSUE)) == 2, timeout=20)
        assert sorted(bodies_by_workflow(w)) == ["codex-x", "codex-y"]
