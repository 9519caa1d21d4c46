"""Rollback in patch mode against an in-memory ClusterObjects: plan, capture gate, apply, 409, undo."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from config.settings import Policy
from handlers.errors import ClusterError
from handlers.rollback import (
    Capture,
    CaptureRequired,
    RollbackPlan,
    apply_rollback,
    ensure_captured,
    plan_rollback,
    undo_rollback,
)
from tests.fakes.memory_objects import MemoryObjects
from tests.test_rollback_edit import TEMPLATE

POLICY = Policy()
CAPTURED = Capture(ok=True, location="https://github.example/acme/widgets/issues/7#issuecomment-1")


def template(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    obj = copy.deepcopy(TEMPLATE)
    obj["metadata"] = {"name": name, "namespace": "argo-workflows", "uid": f"uid-{name}"}
    obj["metadata"]["labels"] = labels if labels is not None else {"app.kubernetes.io/part-of": "codex"}
    return obj


def cluster() -> MemoryObjects:
    objects = MemoryObjects()
    objects.add("workflowtemplates", template("codex-a"))
    objects.add("workflowtemplates", template("codex-b"))
    objects.add("workflowtemplates", template("not-codex", {"app.kubernetes.io/part-of": "other"}))
    plain = template("codex-plain")
    plain["spec"] = {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "x"}}]}
    objects.add("workflowtemplates", plain)
    return objects


def stored(objects: MemoryObjects, name: str) -> dict[str, Any]:
    return objects.objects["workflowtemplates"][name]


async def test_plan_changes_nothing_and_shows_the_diff() -> None:
    objects = cluster()
    plan = await plan_rollback(objects, POLICY)
    assert [c.name for c in plan.changes] == ["codex-a", "codex-b"]
    assert plan.unchanged == ("codex-plain",)
    assert objects.writes == []
    diff = plan.changes[0].diff
    assert "--- workflowtemplate/codex-a (cluster)" in diff
    assert "-    - name: DOCKER_HOST" in diff or "-        - name: DOCKER_HOST" in diff
    removed_lines = [ln for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added_lines = [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert all("OPENAI_MODEL" not in ln for ln in removed_lines + added_lines)
    assert not [ln for ln in added_lines if "DOCKER_" in ln]


async def test_rollback_refuses_before_diagnostics_are_captured() -> None:
    objects = cluster()
    plan = await plan_rollback(objects, POLICY)
    with pytest.raises(CaptureRequired, match="were not captured"):
        await apply_rollback(plan, objects, capture=None)
    with pytest.raises(CaptureRequired, match="could not be captured: GitHub said 404"):
        await apply_rollback(plan, objects, capture=Capture(ok=False, error="GitHub said 404"))
    assert objects.writes == []
    ensure_captured(Capture(ok=False, error="x"), force=True)  # an approved --force goes ahead


async def test_apply_patches_exactly_the_docker_bits_conditionally_and_undo_restores_byte_for_byte() -> None:
    objects = cluster()
    before = {n: json.dumps(stored(objects, n)["spec"]) for n in ("codex-a", "codex-b", "not-codex")}
    plan = await plan_rollback(objects, POLICY)

    applied = await apply_rollback(plan, objects, capture=CAPTURED)
    assert applied.complete and applied.applied == ("codex-a", "codex-b")
    for verb, _, name, body in objects.writes:
        assert verb == "patch"
        assert (
            body["metadata"]["resourceVersion"]
            == plan.changes[["codex-a", "codex-b"].index(name)].resource_version
        )
    assert stored(objects, "codex-a")["spec"] == plan.changes[0].edited_spec
    assert json.dumps(stored(objects, "not-codex")["spec"]) == before["not-codex"]
    assert "DOCKER_" not in json.dumps(stored(objects, "codex-a")["spec"]).replace("DOCKERFILE_PATH", "")

    state = json.loads(json.dumps({"originals": applied.originals, "specs": applied.applied_specs}))
    undone = await undo_rollback(state["originals"], objects, applied_specs=state["specs"])
    assert undone.restored == ("codex-a", "codex-b")
    for name in ("codex-a", "codex-b"):
        assert json.dumps(stored(objects, name)["spec"]) == before[name]  # same keys, same order, same bytes


async def test_a_template_changed_since_the_plan_is_reported_and_nothing_more_is_applied() -> None:
    objects = cluster()
    approved = json.loads(json.dumps((await plan_rollback(objects, POLICY)).to_payload()))
    plan = RollbackPlan.from_payload(approved)  # as stored with the approval request
    await objects.patch("workflowtemplates", "codex-a", {"spec": {"entrypoint": "other"}})  # someone else
    objects.writes.clear()

    applied = await apply_rollback(plan, objects, capture=CAPTURED)
    assert applied.conflict == "codex-a"
    assert applied.applied == () and applied.not_applied == ("codex-a", "codex-b")
    assert "changed by someone else since the plan" in (applied.error or "")
    assert [w[2] for w in objects.writes] == ["codex-a"]  # codex-b never attempted
    assert stored(objects, "codex-a")["spec"]["entrypoint"] == "other"
    assert "sidecars" in stored(objects, "codex-a")["spec"]["templates"][1]


async def test_a_refusal_midway_keeps_the_originals_of_what_was_applied() -> None:
    objects = cluster()
    plan = await plan_rollback(objects, POLICY)
    objects.fail_on[("workflowtemplates", "codex-b")] = ClusterError("forbidden", status=403)
    applied = await apply_rollback(plan, objects, capture=CAPTURED)
    assert applied.applied == ("codex-a",) and applied.not_applied == ("codex-b",)
    assert applied.conflict is None and "codex-b: forbidden" in (applied.error or "")
    undone = await undo_rollback(applied.originals, objects, applied_specs=applied.applied_specs)
    assert undone.restored == ("codex-a",)
    assert stored(objects, "codex-a")["spec"] == TEMPLATE["spec"]


async def test_undo_skips_a_template_edited_since_the_rollback_unless_forced() -> None:
    objects = cluster()
    applied = await apply_rollback(await plan_rollback(objects, POLICY), objects, capture=CAPTURED)
    await objects.patch("workflowtemplates", "codex-b", {"spec": {"entrypoint": "hotfix"}})

    undone = await undo_rollback(applied.originals, objects, applied_specs=applied.applied_specs)
    assert undone.restored == ("codex-a",)
    assert undone.skipped == ("codex-b (changed since the rollback; `--force` to overwrite)",)
    assert stored(objects, "codex-b")["spec"]["entrypoint"] == "hotfix"

    forced = await undo_rollback(applied.originals, objects, applied_specs=applied.applied_specs, force=True)
    assert "codex-b" in forced.restored and stored(objects, "codex-b")["spec"] == TEMPLATE["spec"]


async def test_undo_keeps_metadata_set_since_and_reports_a_vanished_template() -> None:
    objects = cluster()
    applied = await apply_rollback(await plan_rollback(objects, POLICY), objects, capture=CAPTURED)
    await objects.patch("workflowtemplates", "codex-a", {"metadata": {"annotations": {"argocd": "synced"}}})
    del objects.objects["workflowtemplates"]["codex-b"]
    undone = await undo_rollback(applied.originals, objects, applied_specs=applied.applied_specs)
    assert undone.restored == ("codex-a",) and undone.skipped == ("codex-b (no longer exists)",)
    assert stored(objects, "codex-a")["metadata"]["annotations"] == {"argocd": "synced"}
