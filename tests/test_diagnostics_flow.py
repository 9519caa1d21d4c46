"""`/codex diagnostics` end to end: signed slash command in; Slack summary, files and a GitHub comment out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.seed import DAEMON_DOWN_POD, HEALTHY_POD
from tests.fakes.slack_models import Message
from tests.harness import OPS_CHANNEL, World, policy_for_tests, world
from tests.redaction_corpus import KEY_BODY, PEM_CASES, SECRET_CASES

REPO, ISSUE = "acme/widgets", 7
ARTIFACT_FILES = ("pod-status.txt", "daemon-logs.log", "workflow-logs.log", "volume-usage.txt", "kyverno.txt")


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async with world(tmp_path) as started:
        started.github.add_issue(REPO, ISSUE)
        yield started


async def summary(w: World, pod: str) -> Message:
    def done() -> Message | None:
        for m in w.slack.messages(OPS_CHANNEL):
            if m.thread_ts is None and f"Diagnostics for {pod}" in m.text:
                return m
        return None

    return await w.slack.wait_for(done)


async def thread_files(w: World, parent: Message, count: int = len(ARTIFACT_FILES)) -> dict[str, str]:
    def files() -> dict[str, str] | None:
        found = {f.filename: f.text for f in w.slack.files(OPS_CHANNEL, thread_ts=parent.ts)}
        return found if len(found) >= count else None

    return await w.slack.wait_for(files)


async def thread_note(w: World, parent: Message, needle: str) -> str:
    def note() -> str | None:
        msgs = [m.text for m in w.slack.messages(OPS_CHANNEL) if m.thread_ts == parent.ts]
        return next((t for t in msgs if needle in t), None)

    return await w.slack.wait_for(note)


async def test_summary_and_one_file_per_artifact_in_the_thread(w: World) -> None:
    response = await w.bot.command(f"diagnostics {HEALTHY_POD} --since 1h")
    assert response.status == 200 and response.elapsed < 3
    parent = await summary(w, HEALTHY_POD)
    assert "5 of 5 collected" in parent.text
    text = parent.visible_text
    assert "Key findings" in text and "`/var/lib/docker` uses 1.3G" in text
    assert "codex-privileged-guardrails`: admitted (3 pass)" in text
    assert "daemon log window 1h" in text
    files = await thread_files(w, parent)
    assert sorted(files) == sorted(f"{HEALTHY_POD}-{name}" for name in ARTIFACT_FILES)
    assert "API listen on 127.0.0.1:2375" in files[f"{HEALTHY_POD}-daemon-logs.log"]
    assert files[f"{HEALTHY_POD}-volume-usage.txt"] == "1.3G\t/var/lib/docker\n"
    assert w.github.comments(REPO, ISSUE) == []


async def test_broken_pod_summary_leads_with_the_daemon_errors(w: World) -> None:
    await w.bot.command(f"diagnostics {DAEMON_DOWN_POD}")
    parent = await summary(w, DAEMON_DOWN_POD)
    findings = parent.visible_text.split("Key findings", 1)[1]
    assert findings.index("error/fatal lines") < findings.index("uses 1.3G")
    assert "Warning events: Unhealthy ×7" in findings


async def test_issue_comment_is_created_then_updated_on_a_rerun(w: World) -> None:
    await w.bot.command(f"diagnostics {HEALTHY_POD} --issue {REPO}#{ISSUE}")
    parent = await summary(w, HEALTHY_POD)
    await thread_note(w, parent, "Posted to <")
    [comment] = w.github.comments(REPO, ISSUE)
    assert comment.body.startswith(f"<!-- codex-bot:diagnostics:{HEALTHY_POD} -->")
    assert comment.body.count("<details>") == 5 and len(comment.body) <= 65_536
    permalink = f"/archives/{OPS_CHANNEL}/p{parent.ts.replace('.', '')}"
    assert permalink in comment.body

    w.cluster.log(HEALTHY_POD, "docker", 'level=error msg="second run sees this"')
    await w.bot.command(f"diagnostics {HEALTHY_POD} --issue #{ISSUE}")  # default repo from config
    await w.github.wait_for(lambda: len(w.github.comments(REPO, ISSUE)[0].versions) == 2)
    [comment] = w.github.comments(REPO, ISSUE)
    assert "second run sees this" in comment.body


async def test_github_refusals_are_told_in_the_thread_and_the_files_still_arrive(w: World) -> None:
    await w.bot.command(f"diagnostics {HEALTHY_POD} --issue {REPO}#999")  # no such issue
    parent = await summary(w, HEALTHY_POD)
    note = await thread_note(w, parent, "GitHub")
    assert "999" in note and ("not found" in note.lower() or "404" in note)
    assert len(await thread_files(w, parent)) == len(ARTIFACT_FILES)

    w.github.deny_writes(REPO)
    await w.bot.command(f"diagnostics {DAEMON_DOWN_POD} --issue {REPO}#{ISSUE}")
    parent = await summary(w, DAEMON_DOWN_POD)
    note = await thread_note(w, parent, "GitHub")
    assert "write" in note.lower() or "403" in note
    assert len(await thread_files(w, parent)) == len(ARTIFACT_FILES)
    assert w.github.comments(REPO, ISSUE) == []


@pytest.mark.parametrize(
    ("method", "error", "told"),
    [
        ("files.getUploadURLExternal", "missing_scope", "reinstall it from the manifest"),
        ("upload", "upload failed", "network path to Slack"),
    ],
)
async def test_files_slack_refuses_are_told_and_the_github_comment_is_still_posted(
    w: World, method: str, error: str, told: str
) -> None:
    w.slack.fail(method, error, times=None)
    await w.bot.command(f"diagnostics {HEALTHY_POD} --issue {REPO}#{ISSUE}")
    parent = await summary(w, HEALTHY_POD)
    note = await thread_note(w, parent, "could not be attached")
    assert f"The diagnostics files of `{HEALTHY_POD}` could not be attached here: Slack" in note
    assert told in note and f"run `/codex diagnostics {HEALTHY_POD}` again" in note
    assert "|the GitHub issue>" in note
    [comment] = w.github.comments(REPO, ISSUE)
    assert comment.body.count("<details>") == 5 and "API listen on 127.0.0.1:2375" in comment.body
    assert w.slack.files(OPS_CHANNEL, thread_ts=parent.ts) == []
    assert "Posted to <" in await thread_note(w, parent, "Posted to")


def needle(text: str, secret: str) -> str:
    """What must not be seen: the secret, with what precedes it when it is short enough to occur
    by chance (a file id, a timestamp)."""
    at = text.index(secret)
    return secret if len(secret) >= 12 else text[max(0, at - 12) : at + len(secret)]


def slack_and_github_text(w: World) -> list[str]:
    """Everything the bot sent: every version of every message, replies, ephemerals, files, and
    every body every GitHub comment ever had."""
    seen = [str(v) for m in w.slack.messages(include_deleted=True) for v in m.versions]
    seen += [m.visible_text for m in w.slack.messages(include_deleted=True)]
    seen += [e.visible_text for e in w.slack.ephemerals()] + [str(r.body) for r in w.slack.responses()]
    seen += [f"{f.title}\n{f.initial_comment}\n{f.text}" for f in w.slack.files()]
    seen += [v for c in w.github.comments(REPO, ISSUE) for v in c.versions]
    return seen


async def test_no_secret_of_the_corpus_reaches_slack_or_github(w: World) -> None:
    c = w.cluster
    secrets = {case: needle(text, secret) for case, text, secret in SECRET_CASES}
    for n, (_, text, _) in enumerate(SECRET_CASES):  # labelled by number: a case's name may read as a key
        c.log(HEALTHY_POD, "docker", *f'level=error msg="case {n}" {text}'.split("\n"))
        c.add_event(HEALTHY_POD, "Failed", f"case {n}: {text}", type="Warning")
    for i, template in enumerate(PEM_CASES):
        c.log(HEALTHY_POD, "docker", *f"key {i}: {template.format(body=KEY_BODY)}".split("\n"))
        secrets[f"pem {i}"] = KEY_BODY[20:60]
    await w.bot.command(f"diagnostics {HEALTHY_POD} --issue {REPO}#{ISSUE}")
    parent = await summary(w, HEALTHY_POD)
    files = await thread_files(w, parent)
    await thread_note(w, parent, "Posted to")

    daemon, status = files[f"{HEALTHY_POD}-daemon-logs.log"], files[f"{HEALTHY_POD}-pod-status.txt"]
    [comment] = w.github.comments(REPO, ISSUE)
    for n in range(len(SECRET_CASES)):  # every case really went through each channel
        assert f'"case {n}"' in daemon and f"case {n}:" in status and f'"case {n}"' in comment.body
    assert daemon.count("PRIVATE KEY-----") >= len(PEM_CASES)
    seen = slack_and_github_text(w)
    leaked = [name for name, secret in secrets.items() if any(secret in text for text in seen)]
    assert leaked == [], f"secrets reached Slack or GitHub: {leaked}"


async def test_oversized_log_is_cut_in_slack_and_fitted_on_github(tmp_path: Path) -> None:
    cap = 256 * 1024
    async with world(tmp_path, policy=policy_for_tests(diagnostics={"artifact_cap_bytes": cap})) as w:
        w.github.add_issue(REPO, ISSUE)
        w.cluster.set_generated_log(HEALTHY_POD, "docker", 4_000_000, span_seconds=600)
        await w.bot.command(f"diagnostics {HEALTHY_POD} --issue {REPO}#{ISSUE}")
        parent = await summary(w, HEALTHY_POD)
        assert "kept of 3.8 MB" in parent.visible_text and "cut " in parent.visible_text
        daemon = (await thread_files(w, parent))[f"{HEALTHY_POD}-daemon-logs.log"]
        assert len(daemon.encode()) < cap + 200 and daemon.count("… [cut ") == 1
        await thread_note(w, parent, "Posted to")
        [comment] = w.github.comments(REPO, ISSUE)
        assert len(comment.body) <= 65_536 and "Trimmed to fit GitHub" in comment.body


async def test_unknown_pod_is_answered_privately(w: World) -> None:
    response = await w.bot.command("diagnostics codex-nope-1")

    def told() -> str | None:
        said = [str(r.body.get("text", "")) for r in w.slack.responses()] + [response.body]
        return next((s for s in said if "was not found" in s), None)

    await w.slack.wait_for(told)
    assert w.slack.messages(OPS_CHANNEL) == []
