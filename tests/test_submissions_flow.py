"""`/codex pause`, `/codex resume`, `/codex status` end to end, approvals included."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.cluster import FakeCluster
from bot.sandbox.seed import CRON, FLAG_CONFIGMAP, PART_OF
from tests.fakes.slack_models import Message
from tests.harness import APPROVER, INCIDENT_CHANNEL, OPS_CHANNEL, REQUESTER, World, world


def cron(name: str, suspend: bool | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"schedule": "0 * * * *", "workflowSpec": {"entrypoint": "build"}}
    if suspend is not None:
        spec["suspend"] = suspend
    return {"metadata": {"name": name, "labels": dict(PART_OF)}, "spec": spec}


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    cluster = FakeCluster.sandbox()
    cluster.add_object("cronworkflows", cron("codex-hourly", None))  # no suspend key at all
    cluster.add_object("cronworkflows", cron("codex-frozen", True))
    async with world(tmp_path, cluster=cluster) as started:
        yield started


def specs(w: World) -> dict[str, Any]:
    """CronWorkflow specs and the flag ConfigMap's data: the state pause/resume must round-trip."""
    out = {c["metadata"]["name"]: copy.deepcopy(c["spec"]) for c in w.cluster.objects_of("cronworkflows")}
    flag = w.cluster.get_object("configmaps", FLAG_CONFIGMAP)
    out["flag"] = copy.deepcopy((flag or {}).get("data"))
    return out


def buttons(m: Message) -> list[str]:
    return [e["action_id"] for b in m.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


async def request(w: World, text: str, approve_id: str) -> Message:
    status, _, elapsed = await w.bot.command(text, user_id=REQUESTER, channel_id=OPS_CHANNEL)
    assert status == 200 and elapsed < 3
    found = await w.slack.wait_for(
        lambda: [m for m in w.slack.messages(INCIDENT_CHANNEL) if approve_id in buttons(m)], timeout=15
    )
    return found[-1]


async def approve(w: World, m: Message, approve_id: str, expect: str) -> Message:
    status, _, _ = await w.bot.click(m, approve_id, user_id=APPROVER)
    assert status == 200
    said = await w.slack.wait_for(
        lambda: [r for r in w.slack.thread(m.channel, m.ts)[1:] if expect in r.text], timeout=15
    )
    return said[0]


async def status_text(w: World) -> str:
    before = len(w.slack.ephemerals(user=REQUESTER))
    await w.bot.command("status", user_id=REQUESTER, channel_id=OPS_CHANNEL)
    found = await w.slack.wait_for(lambda: w.slack.ephemerals(user=REQUESTER)[before:], timeout=10)
    return found[0].visible_text


async def test_pause_then_resume_restores_exactly_the_prior_state(w: World) -> None:
    before = specs(w)
    assert before["flag"] == {"submissions_paused": "false"}
    assert before[CRON]["suspend"] is False and "suspend" not in before["codex-hourly"]

    m = await request(w, "pause", "pause.approve")
    assert "suspend CronWorkflow `codex-hourly`" in m.visible_text
    assert "codex-frozen" not in m.visible_text  # already suspended: pause leaves it alone
    assert specs(w) == before  # nothing changes before the approval
    done = await approve(w, m, "pause.approve", "Submissions paused")
    assert "codex-frozen" in done.visible_text
    assert f"paused by <@{REQUESTER}> (approved by <@{APPROVER}>)" in done.visible_text
    now = specs(w)
    assert now[CRON]["suspend"] is True and now["codex-hourly"]["suspend"] is True
    assert now["flag"] == {"submissions_paused": "true"}

    shown = await status_text(w)
    assert "Submissions are paused since" in shown and f"by <@{REQUESTER}>" in shown

    m = await request(w, "resume", "resume.approve")
    await approve(w, m, "resume.approve", "Submissions resumed")
    assert specs(w) == before  # key absent again on codex-hourly, false on codex-nightly, frozen stays
    assert "Submissions are running" in await status_text(w)


async def test_pause_needs_an_approver_and_a_denial_changes_nothing(w: World) -> None:
    before = specs(w)
    m = await request(w, "pause", "pause.approve")
    status, _, _ = await w.bot.click(m, "pause.approve", user_id=REQUESTER)  # own request
    assert status == 200
    refusal = await w.slack.wait_for(
        lambda: [e for e in w.slack.ephemerals(user=REQUESTER) if "cannot approve your own" in e.text]
    )
    assert refusal
    await w.bot.click(m, "pause.deny", user_id=APPROVER)
    await w.slack.wait_for(lambda: [r for r in w.slack.thread(m.channel, m.ts)[1:] if "denied" in r.text])
    assert specs(w) == before


async def test_pause_dry_run_and_resume_without_a_pause(w: World) -> None:
    before = specs(w)
    await w.bot.command("pause --dry-run", user_id=REQUESTER, channel_id=OPS_CHANNEL)
    dry = await w.slack.wait_for(
        lambda: [e for e in w.slack.ephemerals(user=REQUESTER) if "Dry run" in e.text]
    )
    assert "suspend CronWorkflow `codex-nightly`" in dry[0].text and specs(w) == before
    await w.bot.command("resume", user_id=REQUESTER, channel_id=OPS_CHANNEL)
    nothing = await w.slack.wait_for(
        lambda: [e for e in w.slack.ephemerals(user=REQUESTER) if "nothing to resume" in e.text]
    )
    assert nothing
