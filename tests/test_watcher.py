"""The failed-workflow watcher end to end: Workflows and Leases on the fake Kubernetes API server
(real client), comments on the fake GitHub (PyGithub), the note and files on the fake Slack."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.adapters.slack import make_client
from bot.app import slack_surface
from bot.flows.watcher import failed_linked, watch_round
from bot.leadership import Leadership
from bot.sandbox.cluster import FakeCluster
from config.settings import Policy
from tests.harness import BOT_TOKEN, World, policy_for_tests, world

REPO, ISSUE = "acme/widgets", 42
WATCH_CHANNEL = "C0CODEXOPS"
ANNOTATION = "codex.github/issue"


def failed_cluster() -> FakeCluster:
    """``codex-x`` failed (its build pod errored, its lint pod completed) and names an issue;
    ``codex-ok`` succeeded; ``codex-quiet`` failed without naming an issue."""
    c = FakeCluster()
    c.add_workflow("codex-x", phase="Failed", annotations={ANNOTATION: f"{REPO}#{ISSUE}"})
    c.add_codex_pod("codex-x-lint", workflow="codex-x", stage="lint", phase="Succeeded", age=900)
    c.add_codex_pod("codex-x-build", workflow="codex-x", stage="build", phase="Failed", age=600)
    c.log("codex-x-build", "docker", 'level=error msg="failed to start daemon"')
    c.add_workflow("codex-ok", phase="Succeeded", annotations={ANNOTATION: f"{REPO}#{ISSUE}"})
    c.add_codex_pod("codex-ok-build", workflow="codex-ok", phase="Succeeded")
    c.add_workflow("codex-quiet", phase="Failed")
    c.add_codex_pod("codex-quiet-build", workflow="codex-quiet", phase="Failed")
    return c


def watcher_policy(**watcher: object) -> Policy:
    return policy_for_tests(
        watcher={"enabled": True, "channel": WATCH_CHANNEL, "interval_seconds": 0.05, **watcher}
    )


async def one_round(w: World, identity: str = "replica-a") -> list[str]:
    assert w.runtime is not None
    deps = w.runtime.deps
    surface = slack_surface(w.settings, make_client(BOT_TOKEN, w.slack.url))
    elector = w.runtime.kube.leases.elector("codex-bot-watcher", lease_seconds=30, identity=identity)
    leader = Leadership(elector, renew_seconds=10)
    await leader.renew()  # one try at the Lease, then the round (no background renewals needed)
    return await watch_round(deps, surface, leader)


def comment_writes(w: World) -> int:
    return len(w.github.calls("POST", "*/comments")) + len(w.github.calls("PATCH", "*/comments/*"))


async def test_failed_linked_workflow_gets_one_comment_and_a_note_with_files(tmp_path: Path) -> None:
    async with world(tmp_path, policy=watcher_policy(), cluster=failed_cluster()) as w:
        w.github.add_issue(REPO, ISSUE)
        urls = await one_round(w)
        assert len(urls) == 1
        [comment] = w.github.comments(REPO, ISSUE)
        assert "Workflow `codex-x` ended **Failed**" in comment.body
        assert "Pod `codex-x-build`" in comment.body and "Pod `codex-x-lint`" not in comment.body
        assert "codex-ok" not in comment.body and "codex-quiet" not in comment.body
        assert "<details>" in comment.body and len(comment.body) <= 65_536

        [note] = [m for m in w.slack.messages(WATCH_CHANNEL) if not m.thread_ts]
        assert "codex-x" in note.text and f"{REPO}#{ISSUE}" in note.text and urls[0] in note.text
        files = {f.filename for f in w.slack.files(WATCH_CHANNEL, thread_ts=note.ts)}
        assert {"codex-x-build-daemon-logs.log", "codex-x-build-pod-status.txt"} <= files

        writes = comment_writes(w)
        assert await one_round(w) == []
        assert comment_writes(w) == writes and len(w.github.comments(REPO, ISSUE)) == 1
        assert len([m for m in w.slack.messages(WATCH_CHANNEL) if not m.thread_ts]) == 1


def add_failed(w: World, workflow: str) -> None:
    w.cluster.add_workflow(workflow, phase="Error", annotations={ANNOTATION: f"{REPO}#{ISSUE}"})
    w.cluster.add_codex_pod(f"{workflow}-build", workflow=workflow, phase="Failed")


async def test_a_restarted_bot_does_not_comment_again(tmp_path: Path) -> None:
    async with world(tmp_path, policy=watcher_policy(), cluster=failed_cluster()) as w:
        w.github.add_issue(REPO, ISSUE)
        assert len(await one_round(w)) == 1
        writes = comment_writes(w)
        await w.restart_bot()
        add_failed(w, "codex-y")  # proves the round after the restart ran, as the Lease holder
        urls = await one_round(w)
        assert len(urls) == 1 and comment_writes(w) == writes + 1
        bodies = [c.body for c in w.github.comments(REPO, ISSUE)]
        assert len(bodies) == 2 and "`codex-x`" in bodies[0] and "`codex-y`" in bodies[1]


async def test_only_the_lease_holder_comments(tmp_path: Path) -> None:
    async with world(tmp_path, policy=watcher_policy(), cluster=failed_cluster()) as w:
        w.github.add_issue(REPO, ISSUE)
        assert len(await one_round(w, identity="replica-b")) == 1
        lease = w.cluster.get_object("leases", "codex-bot-watcher")
        assert lease is not None and lease["spec"]["holderIdentity"] == "replica-b"
        add_failed(w, "codex-y")
        assert await one_round(w, identity="replica-a") == []
        assert len(w.github.comments(REPO, ISSUE)) == 1
        assert not [m for m in w.slack.messages(WATCH_CHANNEL) if "codex-y" in m.text]
        assert len(await one_round(w, identity="replica-b")) == 1
        assert len(w.github.comments(REPO, ISSUE)) == 2


async def test_the_background_watcher_comments_by_itself(tmp_path: Path) -> None:
    async with world(tmp_path, policy=watcher_policy(), cluster=failed_cluster(), start=False) as w:
        w.github.add_issue(REPO, ISSUE)
        await w.start_bot(background=True)
        comments = await w.github.wait_for(lambda: w.github.comments(REPO, ISSUE), timeout=20)
        assert "Workflow `codex-x` ended **Failed**" in comments[0].body
        await w.slack.wait_for(lambda: [m for m in w.slack.messages(WATCH_CHANNEL) if ":memo:" in m.text])
        assert len(w.github.comments(REPO, ISSUE)) == 1


async def test_a_missing_issue_is_tried_three_times_then_the_channel_is_told_once(tmp_path: Path) -> None:
    async with world(tmp_path, policy=watcher_policy(), cluster=failed_cluster()) as w:
        for _ in range(5):
            assert await one_round(w) == []
        posts = len(w.github.calls("POST", "*/comments"))
        notes = [m.text for m in w.slack.messages(WATCH_CHANNEL) if "Gave up" in m.text]
        assert len(notes) == 1 and f"{REPO}#{ISSUE}" in notes[0]
        assert posts <= 3


def wf(name: str, phase: str, **meta: object) -> dict[str, object]:
    return {"metadata": {"name": name, "uid": f"uid-{name}", **meta}, "status": {"phase": phase}}


def test_the_issue_link_may_be_an_annotation_a_label_or_a_parameter() -> None:
    policy = policy_for_tests(watcher={"issue_label": "codex-issue", "issue_parameter": "github-issue"})
    params = [
        {"name": "other", "value": "x"},
        {"name": "github-issue", "value": "https://github.com/acme/c/issues/3"},
    ]
    items = [
        wf("by-annotation", "Failed", annotations={ANNOTATION: "acme/a#1"}),
        wf("by-label", "Error", labels={"codex-issue": "2"}),
        {**wf("by-parameter", "Failed"), "spec": {"arguments": {"parameters": params}}},
        wf("succeeded", "Succeeded", annotations={ANNOTATION: "acme/a#1"}),
        wf("unlinked", "Failed"),
        wf("garbled", "Failed", annotations={ANNOTATION: "not an issue"}),
    ]
    found = failed_linked(items, policy, datetime.now(UTC))
    assert [(f.name, str(f.issue)) for f in found] == [
        ("by-annotation", "acme/a#1"),
        ("by-label", "acme/widgets#2"),
        ("by-parameter", "acme/c#3"),
    ]


def test_failures_older_than_a_day_are_left_alone() -> None:
    old = {**wf("old", "Failed", annotations={ANNOTATION: "acme/a#1"})}
    old["status"] = {"phase": "Failed", "finishedAt": "2020-01-01T00:00:00Z"}
    assert failed_linked([old], policy_for_tests(), datetime.now(UTC)) == []
