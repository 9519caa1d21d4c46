"""`/codex fleet` and escalation end to end: signed commands through the real app, the fake Kubernetes
API server (real client), the fake Slack, and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.render.fleet import EscalationAction
from bot.sandbox.cluster import FakeCluster
from bot.sandbox.seed import DAEMON_DOWN_POD
from bot.shell import run_line, session
from config.settings import Environment, Policy, Settings
from tests.fakes.slack_models import Message
from tests.harness import INCIDENT_CHANNEL, OPS_CHANNEL, REQUESTER, World, policy_for_tests, world

ONCALL = "<!subteam^S0ONCALL>"


def fleet_cluster() -> FakeCluster:
    cluster = FakeCluster()
    cluster.add_codex_pod("codex-a-1", workflow="codex-a")
    cluster.add_codex_pod("codex-b-1", workflow="codex-b", daemon_up=False)
    cluster.add_codex_pod("codex-c-1", workflow="codex-c", daemon_up=False)
    cluster.add_codex_pod("codex-c-2", workflow="codex-c", daemon_up=False, stage="test")
    cluster.add_codex_pod("codex-d-1", workflow="codex-d", phase="Pending")
    return cluster


class Receiver:
    """A paging service stand-in: records every JSON body POSTed to /events."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_post("/events", self._post)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.url = ""

    async def _post(self, request: web.Request) -> web.Response:
        self.events.append(json.loads(await request.read()))
        return web.json_response({"status": "accepted"}, status=202)

    async def __aenter__(self) -> Receiver:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/events"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as r:
        yield r


def reports(w: World) -> list[Message]:
    return [
        m
        for m in w.slack.messages(OPS_CHANNEL)
        if m.text.startswith((":x: Fleet", ":white_check_mark: Fleet"))
    ]


def pages(w: World) -> list[Message]:
    return [m for m in w.slack.messages(INCIDENT_CHANNEL) if ONCALL in m.visible_text and not m.thread_ts]


def buttons(m: Message) -> list[str]:
    return [e["action_id"] for b in m.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


async def until(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 10.0) -> Any:
    """Poll ``check`` (for effects the fake Slack does not see) until it is truthy."""
    async with asyncio.timeout(seconds):
        while not (result := await check()):  # noqa: ASYNC110  (no event to await for these effects)
            await asyncio.sleep(0.02)
    assert result, what
    return result


async def fleet(w: World, count: int) -> Message:
    status, _, elapsed = await w.bot.command("fleet", user_id=REQUESTER, channel_id=OPS_CHANNEL)
    assert status == 200 and elapsed < 3
    return (await w.slack.wait_for(lambda: reports(w)[count - 1 :] or None, timeout=20))[0]


async def test_fleet_reports_each_pod_and_escalates_once_per_incident(
    tmp_path: Path, receiver: Receiver
) -> None:
    policy = policy_for_tests(escalation={"webhook_url": receiver.url, "quiet_seconds": 600})
    async with world(tmp_path, policy=policy, cluster=fleet_cluster()) as w:
        first = await fleet(w, 1)
        table = first.visible_text
        assert "Docker failing in 3 of 5 pods (2 workflow(s))" in table
        assert "5 pods: 1 healthy, 3 failing, 1 not running" in table
        rows = {line.split()[0]: line for line in table.splitlines() if line.startswith("codex-")}
        assert "FAILING" in rows["codex-b-1"] and "Cannot connect to the Docker daemon" in rows["codex-b-1"]
        assert "not running" in rows["codex-d-1"] and "Pending" in rows["codex-d-1"]
        assert " ok " in rows["codex-a-1"]
        assert {c.pod for c in w.exec_calls} == {"codex-a-1", "codex-b-1", "codex-c-1", "codex-c-2"}
        assert all(c.container == "main" and list(c.argv) == ["docker", "info"] for c in w.exec_calls)

        page = (await w.slack.wait_for(lambda: pages(w), timeout=10))[0]
        assert "`codex-b`, `codex-c`" in page.visible_text
        assert buttons(page) == [EscalationAction.PAUSE, EscalationAction.DIAGNOSTICS]
        await w.slack.wait_for(lambda: receiver.events, timeout=10)
        event = receiver.events[0]
        assert event["failing_workflows"] == ["codex-b", "codex-c"]
        assert {p["pod"] for p in event["failing_pods"]} == {"codex-b-1", "codex-c-1", "codex-c-2"}
        assert event["dedup_key"].startswith("argo-workflows-")
        note = await w.slack.wait_for(
            lambda: [m for m in w.slack.thread(page.channel, page.ts)[1:] if "webhook" in m.text]
        )
        assert "HTTP 202" in note[0].text

        second = await fleet(w, 2)
        already = await w.slack.wait_for(
            lambda: [m for m in w.slack.thread(OPS_CHANNEL, second.ts)[1:] if "already open" in m.text]
        )
        assert already
        assert len(pages(w)) == 1 and len(receiver.events) == 1
        await finished(w, 2)


async def test_one_failing_workflow_does_not_page(tmp_path: Path) -> None:
    cluster = FakeCluster()
    cluster.add_codex_pod("codex-a-1", workflow="codex-a")
    cluster.add_codex_pod("codex-b-1", workflow="codex-b", daemon_up=False)
    cluster.add_codex_pod("codex-b-2", workflow="codex-b", daemon_up=False)
    async with world(tmp_path, cluster=cluster) as w:
        report = await fleet(w, 1)
        assert "2 of 3 pods (1 workflow(s))" in report.visible_text
        state = await finished(w, 1)  # the escalation decision is stored after any page is sent
        assert state["status"] == "closed"
        assert pages(w) == []


async def test_periodic_check_escalates_by_itself_and_only_once(tmp_path: Path) -> None:
    policy = policy_for_tests(escalation={"periodic_check_seconds": 0.2})
    async with world(tmp_path, policy=policy, cluster=fleet_cluster(), background=True) as w:
        await w.slack.wait_for(lambda: pages(w), timeout=15)

        async def three_rounds() -> bool:
            return len([c for c in w.exec_calls if c.pod == "codex-a-1"]) >= 3

        await until(three_rounds, "three periodic rounds", seconds=15)
        assert len(pages(w)) == 1
        # Let the job finish what it is doing before the store closes (the harness only cancels it).
        jobs, w._tasks = w._tasks, []
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)


async def test_webhook_failure_is_told_in_the_page_thread(tmp_path: Path) -> None:
    policy = policy_for_tests(escalation={"webhook_url": "http://127.0.0.1:9/events"})
    async with world(tmp_path, policy=policy, cluster=fleet_cluster()) as w:
        await fleet(w, 1)
        page = (await w.slack.wait_for(lambda: pages(w), timeout=10))[0]
        note = await w.slack.wait_for(
            lambda: [m for m in w.slack.thread(page.channel, page.ts)[1:] if "webhook" in m.text]
        )
        assert "could not be reached" in note[0].text


async def test_pause_button_on_the_page_asks_for_approval_of_a_pause(tmp_path: Path) -> None:
    cluster = fleet_cluster()
    cluster.add_configmap("codex-bot-flags", {"submissions_paused": "false"})
    async with world(tmp_path, cluster=cluster) as w:
        await fleet(w, 1)
        page = (await w.slack.wait_for(lambda: pages(w), timeout=10))[0]
        status, _, _ = await w.bot.click(page, EscalationAction.PAUSE, user_id="U0SRE2")
        assert status == 200
        request = await w.slack.wait_for(
            lambda: [m for m in w.slack.messages(INCIDENT_CHANNEL) if "pause.approve" in buttons(m)]
        )
        assert "<@U0SRE2> asks to *pause new submissions*" in request[0].visible_text
        assert "set `configmap/codex-bot-flags:submissions_paused` to `true`" in request[0].visible_text


async def test_collect_diagnostics_button_attaches_the_bundle_of_each_failing_pod(tmp_path: Path) -> None:
    async with world(tmp_path, cluster=fleet_cluster()) as w:
        await fleet(w, 1)
        page = (await w.slack.wait_for(lambda: pages(w), timeout=10))[0]
        status, _, _ = await w.bot.click(page, EscalationAction.DIAGNOSTICS, user_id="U0SRE2")
        assert status == 200

        def bundles() -> set[str]:
            return {f.filename for f in w.slack.files(INCIDENT_CHANNEL, thread_ts=page.ts)}

        failing = ("codex-b-1", "codex-c-1", "codex-c-2")
        names = await w.slack.wait_for(
            lambda: all(f"{p}-daemon-logs.log" in bundles() for p in failing) and bundles(), timeout=30
        )
        for pod in failing:
            assert f"{pod}-pod-status.txt" in names and f"{pod}-volume-usage.txt" in names
        assert not [n for n in names if n.startswith("codex-a-1")]


def notes(w: World, report: Message, words: str) -> list[Message]:
    return [m for m in w.slack.thread(OPS_CHANNEL, report.ts)[1:] if words in m.text]


async def test_a_page_slack_refuses_still_goes_to_the_webhook_is_told_and_is_retried(
    tmp_path: Path, receiver: Receiver
) -> None:
    policy = policy_for_tests(escalation={"webhook_url": receiver.url, "quiet_seconds": 600})
    async with world(tmp_path, policy=policy, cluster=fleet_cluster()) as w:
        w.slack.fail("chat.postMessage", "channel_not_found", channel=INCIDENT_CHANNEL)
        first = await fleet(w, 1)
        told = (await w.slack.wait_for(lambda: notes(w, first, "did not go out"), timeout=10))[0].text
        assert f"<@{REQUESTER}>" in told
        assert f"The page in <#{INCIDENT_CHANNEL}> was not posted" in told and "`channel_not_found`" in told
        assert "Delivered: the webhook (HTTP 202)" in told and "Page the on-call manually" in told
        assert len(receiver.events) == 1 and receiver.events[0]["failing_workflows"] == ["codex-b", "codex-c"]
        assert pages(w) == []

        w.slack.clear_failures()  # the channel works again: the next check pages, the webhook is not re-sent
        second = await fleet(w, 2)
        page = (await w.slack.wait_for(lambda: pages(w), timeout=10))[0]
        assert "`codex-b`, `codex-c`" in page.visible_text
        await w.slack.wait_for(lambda: notes(w, second, "Escalated in"), timeout=10)
        assert len(receiver.events) == 1 and not notes(w, second, "already open")

        third = await fleet(w, 3)
        await w.slack.wait_for(lambda: notes(w, third, "already open"), timeout=10)
        assert len(pages(w)) == 1 and len(receiver.events) == 1
        await finished(w, 3)


async def finished(w: World, count: int) -> dict[str, Any]:
    """The incident state once the ``count``-th `/codex fleet` has ended (its audit row is its last act)."""
    assert w.runtime is not None
    store = w.runtime.deps.store

    async def done() -> bool:
        return len([e for e in await store.recent(100) if e.verb == "fleet"]) >= count

    await until(done, f"/codex fleet number {count} to end")
    state = await store.get_state("escalation/argo-workflows")
    assert state is not None
    return state


async def test_the_incident_lasts_while_any_workflow_still_fails(tmp_path: Path) -> None:
    policy = policy_for_tests(escalation={"quiet_seconds": 0})  # closes on the first healthy check
    async with world(tmp_path, policy=policy, cluster=fleet_cluster()) as w:
        await fleet(w, 1)
        await finished(w, 1)
        assert len(pages(w)) == 1

        for pod in ("codex-c-1", "codex-c-2"):  # codex-b still fails: below the threshold, not healthy
            w.cluster.heal_daemon(pod)
        await fleet(w, 2)
        assert (await finished(w, 2))["status"] == "open"

        w.cluster.break_daemon("codex-c-1")
        third = await fleet(w, 3)
        await w.slack.wait_for(lambda: notes(w, third, "already open"), timeout=10)
        await finished(w, 3)
        assert len(pages(w)) == 1

        for pod in ("codex-b-1", "codex-c-1"):  # every daemon answers: the incident ends
            w.cluster.heal_daemon(pod)
        await fleet(w, 4)
        assert (await finished(w, 4))["status"] == "closed"
        for pod in ("codex-b-1", "codex-c-1"):
            w.cluster.break_daemon(pod)
        await fleet(w, 5)
        await w.slack.wait_for(lambda: pages(w)[1:], timeout=10)  # a new incident, a new page
        await finished(w, 5)


async def test_collect_diagnostics_clicked_in_the_terminal_answers_under_the_stored_page(
    tmp_path: Path,
) -> None:
    """The shell's clicks carry no message: the bundle goes in the page's thread all the same."""
    out = io.StringIO()
    settings = Settings(env=Environment.model_validate({"state_dir": str(tmp_path)}), policy=Policy())
    async with session(settings, sandbox=True, out=out) as s:
        assert await run_line(s, "/codex fleet") == "failed"
        state = await s.runtime.deps.store.get_state("escalation/argo-workflows")
        assert state is not None and state["status"] == "open" and state["message"]["channel"] == "C0INCIDENT"
        shown = len(out.getvalue())
        assert await run_line(s, f"/click {EscalationAction.DIAGNOSTICS} {state['incident_id']}") == "ok"
        said = out.getvalue()[shown:]
        assert "That incident is closed" not in said
        assert "[#C0INCIDENT] :mag: @U0ONCALL asked for diagnostics of 2 failing pod(s)" in said
        assert f"{DAEMON_DOWN_POD}-daemon-logs.log" in said and f"{DAEMON_DOWN_POD}-pod-status.txt" in said
