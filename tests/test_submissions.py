"""pause / resume / status against an in-memory ClusterObjects with real merge-patch semantics."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from config.settings import Policy
from handlers.errors import ClusterError, Conflict
from handlers.submissions import PauseFailed, pause, resume, status
from tests.fakes.memory_objects import MemoryObjects

POLICY = Policy()
CODEX = {"app.kubernetes.io/part-of": "codex"}


def cron(name: str, suspend: bool | None, labels: dict[str, str] = CODEX) -> dict[str, Any]:
    spec: dict[str, Any] = {"schedule": "*/5 * * * *", "workflowSpec": {"entrypoint": "main"}}
    if suspend is not None:
        spec["suspend"] = suspend
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }


def flags(data: dict[str, str] | None) -> dict[str, Any]:
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "codex-bot-flags"}}
    if data is not None:
        cm["data"] = data
    return cm


def cluster(flag: dict[str, str] | None = None, with_cm: bool = True) -> MemoryObjects:
    objects = MemoryObjects()
    objects.add("cronworkflows", cron("nightly", None))  # no suspend key at all
    objects.add("cronworkflows", cron("hourly", False))  # explicit false
    objects.add("cronworkflows", cron("frozen", True))  # already suspended by someone
    objects.add("cronworkflows", cron("other-team", None, labels={"app.kubernetes.io/part-of": "other"}))
    if with_cm:
        objects.add("configmaps", flags(flag))
    return objects


def specs_and_data(objects: MemoryObjects) -> dict[str, Any]:
    """What the cluster holds, minus resourceVersions (which every write bumps)."""
    out = {}
    for kind, items in objects.objects.items():
        for name, obj in items.items():
            body = copy.deepcopy(obj)
            body["metadata"].pop("resourceVersion")
            out[f"{kind}/{name}"] = body
    return out


@pytest.mark.parametrize("flag", [None, {"other": "x"}, {"submissions_paused": "false"}])
async def test_pause_then_resume_restores_the_exact_prior_state(flag: dict[str, str] | None) -> None:
    objects = cluster(flag)
    before = specs_and_data(objects)

    paused = await pause(objects, POLICY, actor="U0ALICE", now=datetime(2025, 5, 1, tzinfo=UTC))
    crons = objects.objects["cronworkflows"]
    assert crons["nightly"]["spec"]["suspend"] is True
    assert crons["hourly"]["spec"]["suspend"] is True
    assert "suspend" not in crons["other-team"]["spec"]
    assert objects.objects["configmaps"]["codex-bot-flags"]["data"]["submissions_paused"] == "true"
    assert set(paused.changed) == {
        "cronworkflow/nightly",
        "cronworkflow/hourly",
        "configmap/codex-bot-flags:submissions_paused",
    }
    assert paused.unchanged == ("cronworkflow/frozen",)

    stored = json.loads(json.dumps(paused.prior_state))  # the caller keeps it in the store
    resumed = await resume(objects, stored)

    assert specs_and_data(objects) == before  # absent keys absent again, "false" is "false" again
    assert objects.objects["cronworkflows"]["frozen"]["spec"]["suspend"] is True
    assert set(resumed.restored) == set(paused.changed)
    assert resumed.kept == ("cronworkflow/frozen (was suspended before the pause)",)


async def test_resume_removes_keys_with_a_null_merge_patch() -> None:
    objects = cluster(None)
    paused = await pause(objects, POLICY, actor="U0ALICE")
    objects.writes.clear()
    await resume(objects, paused.prior_state)
    bodies = {(kind, name): body for _, kind, name, body in objects.writes}
    assert bodies[("cronworkflows", "nightly")]["spec"] == {"suspend": None}
    assert bodies[("cronworkflows", "hourly")]["spec"] == {"suspend": False}
    assert bodies[("configmaps", "codex-bot-flags")]["data"] == {"submissions_paused": None}


async def test_a_flag_already_true_is_not_changed_and_stays_true_after_resume() -> None:
    objects = cluster({"submissions_paused": "true"})
    paused = await pause(objects, POLICY, actor="U0ALICE")
    assert "configmap/codex-bot-flags:submissions_paused" in paused.unchanged
    await resume(objects, paused.prior_state)
    assert objects.objects["configmaps"]["codex-bot-flags"]["data"] == {"submissions_paused": "true"}


async def test_resume_leaves_alone_what_someone_changed_since_the_pause() -> None:
    objects = cluster({"submissions_paused": "false"})
    paused = await pause(objects, POLICY, actor="U0ALICE")
    await objects.patch("cronworkflows", "hourly", {"spec": {"suspend": False}})  # a human resumed it
    await objects.patch("configmaps", "codex-bot-flags", {"data": {"submissions_paused": "maybe"}})
    resumed = await resume(objects, paused.prior_state)
    assert objects.objects["configmaps"]["codex-bot-flags"]["data"]["submissions_paused"] == "maybe"
    assert "cronworkflow/hourly (already back to its prior state)" in resumed.kept
    assert any(
        "codex-bot-flags:submissions_paused was changed since the pause" in w for w in resumed.warnings
    )
    assert resumed.restored == ("cronworkflow/nightly",)


async def test_resume_twice_changes_nothing_more() -> None:
    objects = cluster(None)
    paused = await pause(objects, POLICY, actor="U0ALICE")
    await resume(objects, paused.prior_state)
    after = specs_and_data(objects)
    again = await resume(objects, paused.prior_state)
    assert specs_and_data(objects) == after and again.restored == ()


async def test_pause_refuses_while_a_pause_is_recorded() -> None:
    objects = cluster()
    paused = await pause(objects, POLICY, actor="U0ALICE")
    with pytest.raises(Conflict, match="already paused"):
        await pause(objects, POLICY, actor="U0BOB", stored=paused.prior_state)


async def test_a_failed_write_midway_undoes_what_pause_had_changed() -> None:
    objects = cluster({"submissions_paused": "false"})
    before = specs_and_data(objects)
    objects.fail_on[("cronworkflows", "nightly")] = ClusterError("forbidden", status=403)
    with pytest.raises(PauseFailed, match="stopped at cronworkflow/nightly") as caught:
        await pause(objects, POLICY, actor="U0ALICE")
    assert caught.value.partial is None
    assert specs_and_data(objects) == before


async def test_a_missing_flag_configmap_still_suspends_cronworkflows_and_says_so() -> None:
    objects = cluster(with_cm=False)
    paused = await pause(objects, POLICY, actor="U0ALICE")
    assert "cronworkflow/nightly" in paused.changed
    assert any("ConfigMap `codex-bot-flags` does not exist" in w for w in paused.warnings)
    await resume(objects, paused.prior_state)
    assert "suspend" not in objects.objects["cronworkflows"]["nightly"]["spec"]


async def test_status_shows_paused_since_and_by_whom() -> None:
    objects = cluster({"submissions_paused": "false"})
    before = await status(objects, POLICY, None)
    assert not before.paused and before.flag_value == "false"
    assert before.suspended == ("frozen",) and set(before.scheduling) == {"hourly", "nightly"}

    paused = await pause(objects, POLICY, actor="U0ALICE", now=datetime(2025, 5, 1, 9, 30, tzinfo=UTC))
    now = await status(objects, POLICY, paused.prior_state)
    assert now.paused and now.flag_value == "true"
    assert now.paused_by == "U0ALICE" and now.paused_at == "2025-05-01T09:30:00+00:00"
    assert set(now.suspended) == {"frozen", "hourly", "nightly"} and now.scheduling == ()
