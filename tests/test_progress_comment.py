"""`/codex validate <pod> --issue`: the checklist becomes the pod's section of the issue's progress
comment, leaving what others wrote there untouched; without one, the bot starts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.render.comment_sections import splice_section, wrap_section
from bot.sandbox.execsim import ExecOutcome
from bot.sandbox.seed import DAEMON_DOWN_POD, HEALTHY_POD
from tests.harness import OPS_CHANNEL, World, world

REPO = "acme/widgets"
PROGRESS = "<!-- codex-bot:progress -->"


async def validate(w: World, pod: str, issue: str) -> None:
    before = len([m for m in w.slack.messages(OPS_CHANNEL) if "Posted to" in m.text or "GitHub" in m.text])
    response = await w.bot.command(f"validate {pod} --issue {issue}")
    assert response.status == 200

    def noted() -> bool:
        said = [m for m in w.slack.messages(OPS_CHANNEL) if "Posted to" in m.text or "GitHub" in m.text]
        return len(said) > before

    await w.slack.wait_for(noted, timeout=20)


async def test_checklist_is_spliced_into_the_existing_progress_comment(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.github.add_issue(REPO, 9)
        w.github.add_comment(REPO, 9, "unrelated chatter")
        plan = f"{PROGRESS}\n## Codex run\n- [x] plan\n- [ ] build"
        w.github.add_comment(REPO, 9, plan, user="codex-runner")

        await validate(w, HEALTHY_POD, f"{REPO}#9")
        await validate(w, DAEMON_DOWN_POD, "#9")
        await validate(w, HEALTHY_POD, f"{REPO}#9")

        chatter, progress = w.github.comments(REPO, 9)
        assert chatter.body == "unrelated chatter"
        body = progress.body
        assert body.startswith(plan)
        assert body.count(f"Sidecar validation passed for `{HEALTHY_POD}`") == 1
        assert f"Sidecar validation failed for `{DAEMON_DOWN_POD}` at docker info" in body
        assert body.index(HEALTHY_POD) < body.index(DAEMON_DOWN_POD), "each pod keeps its place"
        assert len(body) <= 65_536


async def test_pods_with_large_build_logs_share_a_nearly_full_progress_comment(tmp_path: Path) -> None:
    second = "codex-build-second-5m2pz"
    async with world(tmp_path) as w:
        w.github.add_issue(REPO, 11)
        plan = f"{PROGRESS}\n## Codex run\n" + "".join(f"- [x] step {i} of the plan\n" for i in range(1_600))
        w.github.add_comment(REPO, 11, plan, user="codex-runner")
        w.cluster.add_codex_pod(second, workflow="codex-build-second")
        for pod in (HEALTHY_POD, second):
            log = "".join(f"#{i % 40} [build {i}/9000] RUN make layer-{i} ({pod})\n" for i in range(9_000))
            w.cluster.on_exec(pod, ["docker", "build"], ExecOutcome(stderr=log))

        await validate(w, HEALTHY_POD, f"{REPO}#11")
        await validate(w, second, f"{REPO}#11")

        notes = [m.text for m in w.slack.messages(OPS_CHANNEL) if "GitHub" in m.text]
        assert notes == [], f"a validate was refused: {notes}"
        [progress] = w.github.comments(REPO, 11)
        body = progress.body
        assert len(body) <= 65_536 and body.startswith(plan)
        assert f"Sidecar validation passed for `{HEALTHY_POD}`" in body
        assert f"Sidecar validation passed for `{second}`" in body
        assert body.count("characters this section may use of the shared comment") == 2
        assert f"RUN make layer-8999 ({second})" in body, "the tail of the build log is kept"


async def test_without_a_progress_comment_the_bot_starts_one(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.github.add_issue(REPO, 10)
        await validate(w, HEALTHY_POD, f"{REPO}#10")
        [comment] = w.github.comments(REPO, 10)
        assert comment.body.startswith(PROGRESS) and "Sidecar validation passed" in comment.body
        thread_notes = [m.text for m in w.slack.messages(OPS_CHANNEL) if "Posted to" in m.text]
        assert thread_notes and f"{REPO}#10" in thread_notes[0]


def test_splice_replaces_only_its_own_section() -> None:
    shared = (
        "intro\n\n" + wrap_section("validate:a", "old a") + "\n\nmiddle\n\n" + wrap_section("validate:b", "b")
    )
    spliced = splice_section(shared, "validate:a", "new a")
    assert spliced == shared.replace("old a", "new a")
    appended = splice_section(spliced, "validate:c", "c")
    assert appended.startswith(spliced.rstrip()) and appended.rstrip().endswith(
        "<!-- /codex-bot:section:validate:c -->"
    )


@pytest.mark.parametrize("key", ["", "a--b", "a b", "x>y"])
def test_section_keys_that_could_break_the_html_comment_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        wrap_section(key, "x")


async def test_slack_refusing_the_files_still_leaves_the_checklist_on_github(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.github.add_issue(REPO, 12)
        w.slack.fail("files.getUploadURLExternal", "missing_scope", times=None)
        await validate(w, HEALTHY_POD, f"{REPO}#12")

        (progress,) = w.github.comments(REPO, 12)
        assert f"Sidecar validation passed for `{HEALTHY_POD}`" in progress.body
        told = await w.slack.wait_for(
            lambda: [m for m in w.slack.messages(OPS_CHANNEL) if "could not be attached" in m.text]
        )
        assert "The output of each step could not be attached here: Slack" in told[0].text
        assert told[0].thread_ts is not None, "said in the checklist's thread"
        assert f"Run `/codex validate {HEALTHY_POD}` again" in told[0].text
