"""`/codex restart` end to end: signed slash commands and block_actions through the real app,
the fake Kubernetes API server (real client), the fake Slack, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.flows.restart_recovery import ABANDONED_AFTER
from bot.sandbox.seed import DAEMON_DOWN_POD, HEALTHY_POD
from bot.store import ApprovalStatus, Store, utcnow
from handlers.restart import START_SCRIPT
from tests.fakes.slack_models import Message
from tests.harness import APPROVER, INCIDENT_CHANNEL, OPS_CHANNEL, REQUESTER, World, policy_for_tests, world

POD = DAEMON_DOWN_POD
SRE2 = "U0SRE2"  # an approver through the S0SRE user group
STRANGER = "U0STRANGER"
CLOCK_SLACK = 0.05  # seconds past an expiry, so "now >= expires_at" holds for the bot too
HOST = "tcp://127.0.0.1:2375"
INFO = ("main", ["docker", "info"])
PKILL = ("docker", ["pkill", "-f", "dockerd-rootless"])
START = ("docker", ["/bin/sh", "-ec", START_SCRIPT, "sh", HOST])


def execs(w: World, pod: str = POD) -> list[tuple[str, list[str]]]:
    return [(c.container, list(c.argv)) for c in w.exec_calls if c.pod == pod]


def buttons(m: Message) -> list[str]:
    return [e["action_id"] for b in m.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


def ephemeral_texts(w: World, user: str) -> list[str]:
    return [e.visible_text for e in w.slack.ephemerals(user=user)]


async def requested(w: World, text: str = f"restart {POD} docker info hangs", **kw: Any) -> Message:
    """Ask as REQUESTER in #ops; the approval request with buttons in the incident channel."""
    status, _, elapsed = await w.bot.command(text, user_id=REQUESTER, channel_id=OPS_CHANNEL, **kw)
    assert status == 200 and elapsed < 3
    found = await w.slack.wait_for(lambda: [m for m in w.slack.messages(INCIDENT_CHANNEL) if buttons(m)])
    await w.slack.wait_for(lambda: [m for m in w.slack.messages(OPS_CHANNEL) if "asked to restart" in m.text])
    return found[-1]


async def until(w: World, predicate: Callable[[], Any], within: float = 15.0) -> Any:
    """Until something shows in Slack (re-checked on every request the fake receives)."""
    return await w.slack.wait_for(predicate, timeout=within)


async def expired(expires_at: datetime) -> None:
    """Until the clock passes an expiry: time passing is the event waited for."""
    await asyncio.sleep(max(0.0, (expires_at - utcnow()).total_seconds()) + CLOCK_SLACK)


async def stale_click(w: World, request: Message, action_id: str, user_id: str) -> None:
    """A click on buttons the user still sees although the message lost them (a slow client)."""
    value = next(
        e["value"] for b in request.versions[0]["blocks"] if b.get("type") == "actions" for e in b["elements"]
    )
    message = {"type": "message", "ts": request.ts, "text": request.text}
    await w.bot.action(action_id, value, user_id=user_id, channel_id=request.channel, message=message)


def current(w: World, m: Message) -> Message:
    latest = w.slack.message(m.channel, m.ts)
    assert latest is not None
    return latest


def requester_thread(w: World) -> list[Message]:
    notices = [m for m in w.slack.messages(OPS_CHANNEL) if "asked to restart" in m.text and not m.thread_ts]
    assert len(notices) == 1
    return w.slack.thread(OPS_CHANNEL, notices[0].ts)[1:]


@pytest.fixture
async def w(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    policy = policy_for_tests(timeouts={"restart_ready": 3, "restart_poll_interval": 0.05})
    async with world(tmp_path, policy=policy, database_url=database_url) as started:
        yield started


async def test_approved_restart_runs_the_runbook_and_the_pod_then_validates(w: World) -> None:
    request = await requested(w)
    text = request.visible_text
    for shown in (POD, "codex-build-nodaemon", f"<@{REQUESTER}>", "docker info hangs", "not answering"):
        assert shown in text
    assert "failed to start daemon" in text  # the sidecar's log tail
    notice = [m for m in w.slack.messages(OPS_CHANNEL) if "asked to restart" in m.text]
    assert (
        len(notice) == 1 and f"archives/{INCIDENT_CHANNEL}/p{request.ts.replace('.', '')}" in notice[0].text
    )
    assert execs(w) == [INFO]  # only the status check so far

    status, _, elapsed = await w.bot.click(request, "restart.approve", user_id=APPROVER)
    assert status == 200 and elapsed < 3
    done = await until(w, lambda: [m for m in requester_thread(w) if "is back" in m.text])
    assert "ready after" in done[0].text
    ran = execs(w)
    assert ran[:4] == [INFO, PKILL, START, INFO] and set(map(str, ran[3:])) == {str(INFO)}
    final = current(w, request)
    assert buttons(final) == []
    assert f"*Approved* by <@{APPROVER}>" in final.visible_text and "ready after" in final.visible_text
    progress = w.slack.thread(INCIDENT_CHANNEL, request.ts)[1:]
    assert len(progress) == 1 and "is back" in progress[0].text  # one message, updated in place
    assert w.cluster.daemon_up(POD)

    assert w.runtime is not None
    audit = await w.runtime.deps.store.recent(50, pod=POD)
    audited = [(a.container, list(a.argv), a.exit_code) for a in reversed(audit) if a.argv]
    assert audited[:3] == [(*INFO, 1), (*PKILL, 1), (*START, 0)]
    decisions = [a for a in audit if a.verb == "restart.decision"]
    assert [(a.user, (a.detail or "").split()[0]) for a in decisions] == [(APPROVER, "approved")]

    await w.bot.command(f"validate {POD}", user_id=REQUESTER, channel_id=OPS_CHANNEL)
    verdict = await until(
        w, lambda: [m for m in w.slack.messages(OPS_CHANNEL) if "Verdict" in m.visible_text]
    )
    assert "Verdict: pass" in verdict[-1].visible_text


async def test_deny_asks_a_reason_and_tells_the_requester(w: World) -> None:
    request = await requested(w)
    await w.bot.click(request, "restart.deny", user_id=APPROVER)
    view = (await until(w, lambda: w.slack.views()))[-1]
    await w.bot.submit(view, {"deny": {"reason": "a build is running, wait 10 min"}}, user_id=APPROVER)
    told = await until(w, lambda: [m for m in requester_thread(w) if "denied" in m.text])
    assert f"denied by <@{APPROVER}>: a build is running, wait 10 min" in told[0].text
    final = current(w, request)
    assert buttons(final) == [] and f"*Denied* by <@{APPROVER}>: a build is running" in final.visible_text
    await stale_click(w, request, "restart.approve", SRE2)
    late = await until(w, lambda: ephemeral_texts(w, SRE2))
    assert f"already denied by <@{APPROVER}>" in late[0]
    assert execs(w) == [INFO]


async def test_requester_withdrawing_is_told_it_was_withdrawn(w: World) -> None:
    request = await requested(w)
    await w.bot.click(request, "restart.deny", user_id=REQUESTER)
    view = (await until(w, lambda: w.slack.views()))[-1]
    await w.bot.submit(view, {"deny": {"reason": "it came back by itself"}}, user_id=REQUESTER)
    told = await until(w, lambda: [m for m in requester_thread(w) if "withdrew" in m.text])
    assert f"<@{REQUESTER}>, you withdrew your restart of `{POD}`: it came back by itself" in told[0].text
    assert not [m for m in requester_thread(w) if "denied" in m.text]
    final = current(w, request)
    assert buttons(final) == [] and f"*Withdrawn* by <@{REQUESTER}>" in final.visible_text
    assert execs(w) == [INFO]


async def test_requester_cannot_approve_and_strangers_cannot_decide(w: World) -> None:
    request = await requested(w)
    await w.bot.click(request, "restart.approve", user_id=REQUESTER)
    own = await until(w, lambda: ephemeral_texts(w, REQUESTER))
    assert "You cannot approve your own request." in own[0]
    for action in ("restart.approve", "restart.deny"):
        await w.bot.click(request, action, user_id=STRANGER)
    refused = await until(w, lambda: ephemeral_texts(w, STRANGER)[1:] and ephemeral_texts(w, STRANGER))
    assert all("not an approver" in t for t in refused)
    assert buttons(current(w, request)) == ["restart.approve", "restart.deny"] and w.slack.views() == []
    assert execs(w) == [INFO]


async def test_two_approvers_at_once_and_a_redelivered_click_restart_once(w: World) -> None:
    request = await requested(w)
    first, _ = await asyncio.gather(
        w.bot.click(request, "restart.approve", user_id=APPROVER),
        w.bot.click(request, "restart.approve", user_id=SRE2),
    )
    await w.bot.retry(first)
    await until(w, lambda: [m for m in requester_thread(w) if "is back" in m.text])
    loser = await until(w, lambda: ephemeral_texts(w, APPROVER) + ephemeral_texts(w, SRE2))
    assert any("already approved" in t for t in loser)
    assert execs(w).count(PKILL) == 1 and execs(w).count(START) == 1


async def test_one_restart_per_pod_second_request_links_the_first(w: World) -> None:
    request = await requested(w)
    await w.bot.command(f"restart {POD}", user_id=SRE2, channel_id=OPS_CHANNEL)
    refused = await until(w, lambda: ephemeral_texts(w, SRE2))
    assert f"A restart of `{POD}` is already pending" in refused[0] and f"<@{REQUESTER}>" in refused[0]
    assert "pod/" not in refused[0]  # the pod's name, not the store's key
    assert f"p{request.ts.replace('.', '')}" in refused[0]  # the link to the first request
    assert len([m for m in w.slack.messages(INCIDENT_CHANNEL) if buttons(m)]) == 1
    # Refused before looking at the pod: no second `docker info`, no exec in SRE2's name.
    assert execs(w) == [INFO]
    assert w.runtime is not None
    assert [a for a in await w.runtime.deps.store.recent(50, pod=POD) if a.argv and a.user == SRE2] == []


async def test_dry_run_shows_exactly_what_would_run_and_changes_nothing(w: World) -> None:
    await w.bot.command(f"restart {POD} --dry-run", user_id=REQUESTER, channel_id=OPS_CHANNEL)
    shown = (await until(w, lambda: ephemeral_texts(w, REQUESTER)))[0]
    assert "Nothing was changed" in shown
    assert "in `docker`: `pkill -f dockerd-rootless`" in shown
    assert f"in `docker`: `/bin/sh -ec '{START_SCRIPT}' sh {HOST}`" in shown
    assert "in `main`: `docker info`" in shown
    assert f"<@{APPROVER}>, <!subteam^S0SRE>" in shown
    assert w.slack.messages(INCIDENT_CHANNEL) == [] and execs(w) == [INFO]
    assert w.runtime is not None and await w.runtime.deps.store.pending_for("restart", f"pod/{POD}") is None
    await w.settle()  # the command's audit row is written after the reply
    await w.bot.command(f"audit {POD}", user_id=REQUESTER, channel_id=OPS_CHANNEL)
    log = await until(w, lambda: [t for t in ephemeral_texts(w, REQUESTER) if "Audit log" in t])
    assert "dry run: ok" in log[0]  # not audited like a real request


async def test_pod_replaced_after_the_request_runs_nothing(w: World) -> None:
    request = await requested(w)
    w.cluster.replace_pod(POD)
    await w.bot.click(request, "restart.approve", user_id=APPROVER)
    told = await until(w, lambda: [m for m in requester_thread(w) if "did not run" in m.text])
    assert "was replaced" in told[0].text and "nothing was run" in told[0].text
    assert execs(w) == [INFO]


async def test_daemon_never_ready_reports_timeout_with_files(w: World) -> None:
    w.cluster.set_daemon(POD, never_starts=True)
    request = await requested(w)
    await w.bot.click(request, "restart.approve", user_id=APPROVER)
    failed = await until(w, lambda: [m for m in requester_thread(w) if "failed" in m.text], within=20)
    assert "did not succeed within 3 s" in failed[0].text
    for channel, ts in ((INCIDENT_CHANNEL, request.ts), (OPS_CHANNEL, failed[0].thread_ts)):
        files = await until(w, lambda c=channel, t=ts: len(w.slack.files(c, t)) == 2 and w.slack.files(c, t))
        by_name = {f.filename: f.text for f in files}
        assert "Cannot connect to the Docker daemon" in by_name[f"{POD}-docker-info.log"]
        assert "dockerd" in by_name[f"{POD}-docker-sidecar.log"]
    assert "failed" in current(w, request).visible_text


async def test_container_restarted_instead_is_reported_ready(w: World) -> None:
    w.cluster.set_daemon(HEALTHY_POD, restart_on_kill=True)
    request = await requested(w, f"restart {HEALTHY_POD}")
    await w.bot.click(request, "restart.approve", user_id=APPROVER)
    done = await until(w, lambda: [m for m in requester_thread(w) if "is back" in m.text])
    assert "container restarted; ready after" in done[0].text
    assert START not in execs(w, HEALTHY_POD) and PKILL in execs(w, HEALTHY_POD)


async def test_pending_approval_survives_a_bot_restart(w: World) -> None:
    request = await requested(w)
    await w.settle()  # the request is filed and its notice remembered
    await w.restart_bot()
    await w.bot.click(request, "restart.approve", user_id=APPROVER)
    await until(w, lambda: [m for m in requester_thread(w) if "is back" in m.text])
    assert execs(w).count(PKILL) == 1


async def test_expired_request_is_shown_as_expired_and_cannot_be_approved(
    tmp_path: Path, database_url: str
) -> None:
    policy = policy_for_tests(approvals={"ttl_seconds": 1})
    async with world(tmp_path, policy=policy, database_url=database_url, background=True) as w:
        request = await requested(w)
        told = await until(w, lambda: [m for m in requester_thread(w) if "expired" in m.text])
        assert "Nothing was run" in told[0].text
        final = current(w, request)
        assert buttons(final) == [] and "*Expired*" in final.visible_text
        await stale_click(w, request, "restart.approve", APPROVER)
        late = await until(w, lambda: ephemeral_texts(w, APPROVER))
        assert "expired" in late[0]
        assert execs(w) == [INFO]


async def test_expiry_is_noticed_on_click_when_no_sweeper_ran(tmp_path: Path, database_url: str) -> None:
    policy = policy_for_tests(approvals={"ttl_seconds": 1})
    async with world(tmp_path, policy=policy, database_url=database_url) as w:
        request = await requested(w)
        assert w.runtime is not None
        store: Store = w.runtime.deps.store
        pending = await store.pending_for("restart", f"pod/{POD}")
        assert pending is not None and pending.status is ApprovalStatus.PENDING
        await expired(pending.expires_at)
        await w.bot.click(request, "restart.approve", user_id=APPROVER)
        late = await until(w, lambda: ephemeral_texts(w, APPROVER))
        assert "expired" in late[0]
        await until(w, lambda: "*Expired*" in current(w, request).visible_text)
        assert buttons(current(w, request)) == [] and execs(w) == [INFO]


async def test_who_may_ask_is_checked_before_anything_runs(tmp_path: Path, database_url: str) -> None:
    policy = policy_for_tests(permissions={"restart": {"groups": ["S0SRE"]}})
    async with world(tmp_path, policy=policy, database_url=database_url) as w:
        await w.bot.command(f"restart {POD}", user_id=STRANGER, channel_id=OPS_CHANNEL)
        refused = await until(w, lambda: ephemeral_texts(w, STRANGER))
        assert "not allowed to run `restart`" in refused[0]
        assert execs(w) == [] and w.slack.messages(INCIDENT_CHANNEL) == []


def approval_id(request: Message) -> str:
    return str(
        next(
            e["value"]
            for b in request.versions[0]["blocks"]
            if b.get("type") == "actions"
            for e in b["elements"]
        )
    )


async def last_heard_long_ago(database_url: str, approval: str) -> None:
    """The bot that handled ``approval`` went quiet longer than a live one ever does."""
    store = await Store.open(database_url)
    try:
        assert await store.heartbeat(approval, now=utcnow() - 2 * ABANDONED_AFTER) is not None
    finally:
        await store.close()


async def test_restart_cut_by_a_bot_crash_is_reported_interrupted_and_not_rerun(
    tmp_path: Path, database_url: str
) -> None:
    policy = policy_for_tests(timeouts={"restart_ready": 60, "restart_poll_interval": 0.05})
    async with world(tmp_path, policy=policy, database_url=database_url) as w:
        w.cluster.set_daemon(POD, never_starts=True)
        request = await requested(w)
        await w.bot.click(request, "restart.approve", user_id=APPROVER)
        await until(
            w, lambda: [m for m in w.slack.thread(INCIDENT_CHANNEL, request.ts) if "attempt" in m.text]
        )
        await w.stop_bot()  # the process dies while polling `docker info`
        assert "Restarting…" in current(w, request).visible_text
        await last_heard_long_ago(database_url, approval_id(request))
        ran = len(execs(w))

        await w.start_bot(background=True)
        told = await until(w, lambda: [m for m in requester_thread(w) if "interrupted" in m.text])
        hint = f"the daemon may or may not have been restarted — run `/codex validate {POD}`"
        assert "interrupted by a bot restart" in told[0].text and hint in told[0].text
        final = current(w, request)
        assert "Interrupted by a bot restart" in final.visible_text and hint in final.visible_text
        assert "Restarting…" not in final.visible_text and buttons(final) == []
        in_thread = await until(
            w, lambda: [m for m in w.slack.thread(INCIDENT_CHANNEL, request.ts) if "interrupted" in m.text]
        )
        assert len(in_thread) == 1 and hint in in_thread[0].text
        assert len(execs(w)) == ran and execs(w).count(PKILL) == 1  # nothing re-run

        # The pod is free again at once, not after an hour.
        await w.bot.command(f"restart {POD}", user_id=SRE2, channel_id=OPS_CHANNEL)
        await until(w, lambda: len([m for m in w.slack.messages(INCIDENT_CHANNEL) if buttons(m)]) == 1)
        assert w.runtime is not None
        audit = await w.runtime.deps.store.recent(50, pod=POD)
        assert [a.user for a in audit if "interrupted" in (a.detail or "")] == ["codex-bot"]


async def test_approved_restart_never_started_by_a_crashed_bot_is_reported(
    tmp_path: Path, database_url: str
) -> None:
    async with world(tmp_path, database_url=database_url) as w:
        request = await requested(w)
        await w.settle()
        await w.stop_bot()
        store = await Store.open(database_url)  # the approval went in; the bot died before running it
        try:
            assert await store.decide(approval_id(request), approve=True, by=APPROVER) is not None
        finally:
            await store.close()
        await last_heard_long_ago(database_url, approval_id(request))

        await w.start_bot(background=True)
        await until(w, lambda: [m for m in requester_thread(w) if "interrupted by a bot restart" in m.text])
        assert "Interrupted by a bot restart" in current(w, request).visible_text
        assert execs(w) == [INFO]


async def test_a_restart_still_heard_from_is_left_to_its_bot(tmp_path: Path, database_url: str) -> None:
    async with world(tmp_path, database_url=database_url) as w:
        request = await requested(w)
        await w.settle()
        await w.stop_bot()
        store = await Store.open(database_url)  # approved by a replica that is still running it
        try:
            assert await store.decide(approval_id(request), approve=True, by=APPROVER) is not None
            assert await store.heartbeat(approval_id(request), now=utcnow() - ABANDONED_AFTER / 2)
        finally:
            await store.close()
        await w.start_bot(background=True)
        await w.bot.command(f"restart {POD}", user_id=SRE2, channel_id=OPS_CHANNEL)
        refused = await until(w, lambda: ephemeral_texts(w, SRE2))
        assert "is already approved" in refused[0]
        assert "Interrupted" not in current(w, request).visible_text
