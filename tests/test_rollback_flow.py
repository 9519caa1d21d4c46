"""`/codex rollback` end to end: approval with the diff, capture first, patch with resourceVersion,
exact undo, 409 reported, pull-request mode on the fake GitHub."""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.sandbox.seed import DAEMON_DOWN_POD, TEMPLATE
from tests.fakes.slack_models import Message
from tests.harness import APPROVER, INCIDENT_CHANNEL, OPS_CHANNEL, REQUESTER, World, policy_for_tests, world

ISSUE = ("acme/widgets", 7)
GITOPS = "acme/gitops"
TEMPLATE_FILE = f"argo/workflowtemplates/{TEMPLATE}.yaml"


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    policy = policy_for_tests(rollback={"gitops_repo": GITOPS})
    async with world(tmp_path, policy=policy) as started:
        started.github.add_issue(*ISSUE)
        template = started.cluster.get_object("workflowtemplates", TEMPLATE)
        assert template is not None
        doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
               "metadata": {"name": TEMPLATE, "labels": template["metadata"]["labels"]},
               "spec": template["spec"]}  # fmt: skip
        text = "# Codex build template\n" + yaml.safe_dump(doc, sort_keys=False)
        started.github.add_repo(GITOPS, files={TEMPLATE_FILE: text, "README.md": "templates\n"})
        yield started


def spec(w: World) -> dict[str, Any]:
    found = w.cluster.get_object("workflowtemplates", TEMPLATE)
    assert found is not None
    return copy.deepcopy(found["spec"])


def without_docker(original: dict[str, Any]) -> dict[str, Any]:
    """What the runbook's rollback leaves of the seeded template, written out by hand."""
    out = copy.deepcopy(original)
    build = out["templates"][0]
    build["container"]["env"] = [e for e in build["container"]["env"] if not e["name"].startswith("DOCKER_")]
    del build["sidecars"]
    return out


def removed(diff: str) -> set[str]:
    return {ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")}


def added(diff: str) -> list[str]:
    return [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]


def only_deletions(old: str, new: str) -> bool:
    """``new`` is ``old`` with some lines taken out and nothing else changed, byte for byte."""
    ops = difflib.SequenceMatcher(None, old.splitlines(True), new.splitlines(True), autojunk=False)
    return all(tag in ("equal", "delete") for tag, *_ in ops.get_opcodes())


def buttons(m: Message) -> list[str]:
    return [e["action_id"] for b in m.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


async def request(w: World, text: str, approve_id: str = "rollback.approve") -> Message:
    status, _, elapsed = await w.bot.command(text, user_id=REQUESTER, channel_id=OPS_CHANNEL)
    assert status == 200 and elapsed < 3
    found = await w.slack.wait_for(
        lambda: [m for m in w.slack.messages(INCIDENT_CHANNEL) if approve_id in buttons(m)], timeout=15
    )
    return found[-1]


async def approve(w: World, m: Message, expect: str, approve_id: str = "rollback.approve") -> Message:
    status, _, _ = await w.bot.click(m, approve_id, user_id=APPROVER)
    assert status == 200
    said = await w.slack.wait_for(
        lambda: [r for r in w.slack.thread(m.channel, m.ts)[1:] if expect in r.text], timeout=30
    )
    return said[0]


async def test_patch_captures_first_removes_only_docker_bits_and_undo_restores_exactly(w: World) -> None:
    original = spec(w)
    m = await request(w, "rollback --issue acme/widgets#7")
    diff = m.visible_text
    assert {"- name: DOCKER_HOST", "- name: docker", "sidecars:"} <= removed(diff)
    assert not [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert "first, diagnostics of the failing pods go to acme/widgets#7" in diff
    assert spec(w) == original  # nothing before the approval

    await approve(w, m, "Rolled back codex-build")
    assert spec(w) == without_docker(original)
    bodies = [c.body for c in w.github.comments(*ISSUE)]
    assert any("Before rollback: diagnostics captured" in b and DAEMON_DOWN_POD in b for b in bodies)
    [summary] = [c for c in w.github.comments(*ISSUE) if "Before rollback" in c.body]
    url = f"https://github.com/acme/widgets/issues/7#issuecomment-{summary.id}"
    told = [r for r in w.slack.thread(m.channel, m.ts)[1:] if url in r.visible_text]
    assert told and "captured first" in told[0].visible_text
    assert any(f"Diagnostics for `{DAEMON_DOWN_POD}`" in b for b in bodies)
    patches = [r for r in w.cluster.requests if r.method == "PATCH" and "workflowtemplates" in r.path]
    assert len(patches) == 1 and patches[0].body["metadata"]["resourceVersion"]

    undo = await request(w, "rollback --undo", "rollback-undo.approve")
    assert "Restores the original spec of `codex-build`" in undo.visible_text
    await approve(w, undo, "Rollback undone", "rollback-undo.approve")
    assert json.dumps(spec(w)) == json.dumps(original)  # same keys, same order, same values


async def test_rollback_stops_when_the_capture_fails_and_without_an_issue(w: World) -> None:
    original = spec(w)
    await w.bot.command("rollback", user_id=REQUESTER, channel_id=OPS_CHANNEL)
    told = await w.slack.wait_for(
        lambda: [e for e in w.slack.ephemerals(user=REQUESTER) if "--issue owner/repo#N" in e.visible_text]
    )
    assert told
    m = await request(w, "rollback --issue acme/missing#1")
    said = await approve(w, m, "Rollback stopped")
    assert "could not be captured" in said.text
    assert spec(w) == original


async def test_a_template_changed_after_the_request_is_reported_not_overwritten(w: World) -> None:
    m = await request(w, "rollback --issue acme/widgets#7")
    w.cluster.update_object("workflowtemplates", TEMPLATE, {"spec": {"entrypoint": "hotfix"}})
    said = await approve(w, m, "Rollback stopped")
    assert "codex-build was changed by someone else since the plan" in said.text
    now = spec(w)
    assert now["entrypoint"] == "hotfix" and "sidecars" in now["templates"][0]


async def test_dry_run_shows_the_diff_and_changes_nothing(w: World) -> None:
    original = spec(w)
    await w.bot.command("rollback --dry-run", user_id=REQUESTER, channel_id=OPS_CHANNEL)
    shown = await w.slack.wait_for(
        lambda: [m for m in w.slack.messages(OPS_CHANNEL) if "Dry run: nothing was changed" in m.visible_text]
    )
    assert "- name: DOCKER_ENABLED" in removed(shown[0].visible_text)
    assert spec(w) == original
    assert not [m for m in w.slack.messages(INCIDENT_CHANNEL) if "rollback.approve" in buttons(m)]


async def test_pull_request_mode_opens_a_branch_commit_and_pull_request(w: World) -> None:
    original, before = spec(w), w.github.files(GITOPS)
    m = await request(w, "rollback --mode pull-request --issue acme/widgets#7")
    diff = m.visible_text
    assert {
        "- name: DOCKER_HOST",
        "- name: DOCKER_ENABLED",
        "- name: DOCKER_TLS_VERIFY",
        "sidecars:",
    } <= removed(diff)
    assert "- name: docker" in removed(diff) and "- name: CODEX_LOG_LEVEL" not in removed(diff)
    assert added(diff) == []
    said = await approve(w, m, "Opened")
    pulls = w.github.pulls(GITOPS)
    assert len(pulls) == 1 and pulls[0].base == "main" and pulls[0].head.startswith("codex-bot/rollback-")
    assert pulls[0].head in said.text or f"pull request #{pulls[0].number}" in said.text
    changed = w.github.files(GITOPS, pulls[0].head)
    assert changed["README.md"] == before["README.md"]
    new = changed[TEMPLATE_FILE]
    assert new.startswith("# Codex build template\n")
    assert yaml.safe_load(new)["spec"] == without_docker(original)
    assert only_deletions(before[TEMPLATE_FILE], new)
    assert "name: DOCKER_" not in new and "name: docker\n" not in new
    # one commit on the branch, on top of main
    assert w.github.commits(GITOPS, pulls[0].head)[1:] == w.github.commits(GITOPS, "main")
    assert len(w.github.commits(GITOPS, pulls[0].head)) == len(w.github.commits(GITOPS, "main")) + 1
    assert w.github.files(GITOPS) == before  # main untouched until someone merges
    assert spec(w) == original  # the cluster is Argo CD's to change


async def test_force_without_an_issue_says_plainly_that_nothing_was_captured(w: World) -> None:
    original = spec(w)
    m = await request(w, "rollback --force")
    assert "diagnostics are NOT captured first (no `--issue` was given)" in m.visible_text
    assert "a failed capture does not stop it" not in m.visible_text
    said = await approve(w, m, "Rolled back codex-build")
    assert (
        "Diagnostics were NOT captured: no GitHub issue was given (`--issue owner/repo#N`); "
        "rolled back anyway because `--force` was approved."
    ) in said.visible_text
    assert spec(w) == without_docker(original)


async def test_force_rolls_back_after_a_failed_capture_and_says_so(w: World) -> None:
    original = spec(w)
    m = await request(w, "rollback --force --issue acme/missing#1")
    assert "because of `--force`, the rollback goes ahead even if that capture fails" in m.visible_text
    said = await approve(w, m, "Rolled back codex-build")
    text = said.visible_text
    assert "Diagnostics were NOT captured: " in text and "acme/missing" in text
    assert "rolled back anyway because `--force` was approved" in text
    early = [r for r in w.slack.thread(m.channel, m.ts)[1:] if "rolling back anyway" in r.text]
    assert early and early[0].ts < said.ts  # said before the templates changed, too
    assert spec(w) == without_docker(original)


PATCHED = "codex-patched"
MAIN_PATCH = """containers:
  - name: main
    env:
      - {name: DOCKER_HOST, value: "tcp://127.0.0.1:2375"}
      - {name: CODEX_LOG_LEVEL, value: debug}
      - {name: DOCKER_ENABLED, value: "1"}
  - name: docker
    image: docker:27-dind-rootless
    securityContext: {privileged: true}
"""


async def test_rollback_removes_the_sidecar_and_env_held_in_pod_spec_patch(w: World) -> None:
    build = {"name": "build", "container": {"image": "codex-universal:1", "command": ["codex"]}}
    original = {
        "entrypoint": "build",
        "podSpecPatch": '{"containers":[{"name":"docker","resources":{"limits":{"memory":"4Gi"}}}]}',
        "templates": [{**build, "podSpecPatch": MAIN_PATCH}],
    }
    labels = {"app.kubernetes.io/part-of": "codex"}
    w.cluster.add_object(
        "workflowtemplates", {"metadata": {"name": PATCHED, "labels": labels}, "spec": original}
    )
    m = await request(w, "rollback --issue acme/widgets#7")
    assert {"- name: docker", '- {name: DOCKER_HOST, value: "tcp://127.0.0.1:2375"}'} <= removed(
        m.visible_text
    )
    await approve(w, m, "Rolled back")
    found = w.cluster.get_object("workflowtemplates", PATCHED)
    assert found is not None
    now = found["spec"]
    assert "podSpecPatch" not in now  # it patched only the docker container
    [template] = now["templates"]
    assert yaml.safe_load(template["podSpecPatch"]) == {
        "containers": [{"name": "main", "env": [{"name": "CODEX_LOG_LEVEL", "value": "debug"}]}]
    }
    assert {k: v for k, v in template.items() if k != "podSpecPatch"} == build
    assert now["entrypoint"] == "build" and list(now) == ["entrypoint", "templates"]
