"""`/codex validate` end to end: signed slash commands in, Slack messages/files and execs out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.execsim import ExecOutcome
from bot.sandbox.seed import DAEMON_DOWN_POD, HEALTHY_POD, TLS_VERIFY_POD
from tests.fakes.slack_models import Message
from tests.harness import OPS_CHANNEL, World, policy_for_tests, world

STEP_FILES = ("env", "docker-version", "docker-info", "hello-world", "docker-build")


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async with world(tmp_path) as started:
        yield started


async def verdict_message(w: World, pod: str) -> Message:
    """The parent message in the channel once it shows a verdict."""

    def done() -> Message | None:
        for m in w.slack.messages(OPS_CHANNEL):
            if m.thread_ts is None and pod in m.text and "Verdict" in m.visible_text:
                return m
        return None

    return await w.slack.wait_for(done)


async def step_files(w: World, parent: Message) -> dict[str, str]:
    def files() -> dict[str, str] | None:
        found = {f.filename: f.text for f in w.slack.files(OPS_CHANNEL, thread_ts=parent.ts)}
        return found or None

    return await w.slack.wait_for(files)


async def test_healthy_pod_passes_with_all_five_steps_and_their_files(w: World) -> None:
    status, _, elapsed = await w.bot.command(f"validate {HEALTHY_POD}")
    assert status == 200 and elapsed < 3

    parent = await verdict_message(w, HEALTHY_POD)
    assert "Docker sidecar healthy" in parent.text
    assert parent.visible_text.count("passed") == 5
    assert "Verdict: pass" in parent.visible_text
    assert len(parent.versions) > 1, "the checklist is updated in place as steps run"

    files = await step_files(w, parent)
    assert sorted(files) == sorted(f"{HEALTHY_POD}-{key}.log" for key in STEP_FILES)
    assert "Hello from Docker!" in files[f"{HEALTHY_POD}-hello-world.log"]
    assert "DOCKER_HOST=tcp://127.0.0.1:2375" in files[f"{HEALTHY_POD}-env.log"]

    argvs = [c.argv for c in w.cluster.execs(HEALTHY_POD)]
    assert argvs[:3] == [["env"], ["docker", "version"], ["docker", "info"]]
    assert argvs[4][:2] == ["docker", "build"]
    assert {c.container for c in w.cluster.execs(HEALTHY_POD)} == {"main"}


async def test_daemon_down_fails_at_docker_info_and_skips_later_steps(w: World) -> None:
    await w.bot.command(f"validate {DAEMON_DOWN_POD}")
    parent = await verdict_message(w, DAEMON_DOWN_POD)
    text = parent.visible_text
    assert "failed at docker info" in parent.text
    assert text.count("skipped") >= 2
    assert f"/codex restart {DAEMON_DOWN_POD}" in text
    ran = [c.argv for c in w.cluster.execs(DAEMON_DOWN_POD)]
    assert ["docker", "run", "--rm", "hello-world"] not in ran
    assert not any(a[:2] == ["docker", "build"] for a in ran)
    files = await step_files(w, parent)
    assert "Cannot connect to the Docker daemon" in files[f"{DAEMON_DOWN_POD}-docker-info.log"]


async def test_tls_verify_1_fails_the_env_check_showing_the_actual_value(w: World) -> None:
    await w.bot.command(f"validate {TLS_VERIFY_POD}")
    parent = await verdict_message(w, TLS_VERIFY_POD)
    assert "DOCKER_TLS_VERIFY is '1', expected '0'" in parent.visible_text
    assert "failed at Environment" in parent.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("validate codex-nope-1", "was not found in namespace `argo-workflows`"),
        ("validate not-a-codex-pod", "is not a Codex workflow pod"),
        ('validate "x; rm -rf /"', "is not a valid pod name"),
    ],
)
async def test_bad_targets_get_a_clear_error_and_no_exec(w: World, text: str, expected: str) -> None:
    w.cluster.add_codex_pod("not-a-codex-pod", workflow="other")
    w.cluster.pod("not-a-codex-pod").labels.pop("codex.stage")
    response = await w.bot.command(text)
    assert response.status == 200

    def told() -> str | None:
        said = [r.body.get("text", "") for r in w.slack.responses()] + [response.body]
        return next((s for s in said if expected in s), None)

    await w.slack.wait_for(told)
    assert w.cluster.exec_calls == []


async def test_bad_signature_is_refused_and_nothing_runs(w: World) -> None:
    response = await w.bot.command(f"validate {HEALTHY_POD}", bad_signature=True)
    stale = await w.bot.command(f"validate {HEALTHY_POD}", stale=True)
    assert (response.status, stale.status) == (401, 401)
    assert w.slack.messages(OPS_CHANNEL) == [] and w.cluster.exec_calls == []


async def test_a_redelivered_command_runs_once(w: World) -> None:
    first = await w.bot.command(f"validate {HEALTHY_POD}")
    again = await w.bot.retry(first, retry_num=1)
    assert again.status == 200
    await verdict_message(w, HEALTHY_POD)
    await step_files(w, (await verdict_message(w, HEALTHY_POD)))
    parents = [m for m in w.slack.messages(OPS_CHANNEL) if m.thread_ts is None and HEALTHY_POD in m.text]
    assert len(parents) == 1
    assert len([c for c in w.cluster.exec_calls if c.argv == ["env"]]) == 1


async def test_a_hanging_exec_is_reported_as_timed_out(tmp_path: Path) -> None:
    policy = policy_for_tests(timeouts={"docker_version": 0.5})
    async with world(tmp_path, policy=policy) as w:
        w.cluster.on_exec(HEALTHY_POD, ["docker", "version"], ExecOutcome.hanging())
        await w.bot.command(f"validate {HEALTHY_POD}")
        parent = await verdict_message(w, HEALTHY_POD)
        assert "timed out" in parent.visible_text
        assert "Verdict: fail" in parent.visible_text


async def test_help_and_usage_errors_are_ephemeral(w: World) -> None:
    help_response = await w.bot.command("help")
    usage = await w.bot.command("frobnicate")
    assert "Unknown command `frobnicate`" in usage.body
    replies = await w.slack.wait_for(
        lambda: [r for r in w.slack.responses() if "/codex validate" in str(r.body)]
    )
    assert help_response.status == 200 and replies
    assert w.slack.messages(OPS_CHANNEL) == []


async def test_pods_lists_each_codex_pod_with_stage_workflow_phase_and_restarts(w: World) -> None:
    w.cluster.add_codex_pod("codex-lint-pending-1", workflow="codex-lint", stage="lint", phase="Pending")
    w.cluster.add_codex_pod("not-a-codex-pod", workflow="other")
    w.cluster.pod("not-a-codex-pod").labels.pop("codex.stage")
    response = await w.bot.command("pods")
    assert response.status == 200

    reply = await w.slack.wait_for(
        lambda: next((r for r in w.slack.responses() if "Codex pod(s)" in r.text), None)
    )
    rows = {line.split()[0]: line.split() for line in reply.text.splitlines() if line.startswith("codex-")}
    assert set(rows) == {HEALTHY_POD, DAEMON_DOWN_POD, TLS_VERIFY_POD, "codex-lint-pending-1"}
    assert "POD" in reply.text and "RESTARTS" in reply.text
    assert rows["codex-lint-pending-1"][1:4] == ["lint", "codex-lint", "Pending"]
    assert rows[HEALTHY_POD][3] == "Running"
    assert w.slack.messages(OPS_CHANNEL) == [], "the listing is a reply to the asker, not a channel post"
    assert w.cluster.exec_calls == []
