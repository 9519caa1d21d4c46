"""KubeClusterObjects and LeaseElector against the fake API server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.adapters.rbac import UndeclaredKubeCall
from bot.sandbox.cluster import FakeCluster
from handlers.errors import ClusterError, Conflict, NotFound
from tests.fakes.kube import kube_env

PART_OF = "app.kubernetes.io/part-of=codex"


async def test_list_and_get_custom_objects(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        templates = await env.kube.objects.list("workflowtemplates", PART_OF)
        crons = await env.kube.objects.list("cronworkflows", "app.kubernetes.io/part-of=other")
        workflow = await env.kube.objects.get("workflows", "codex-build-healthy")
        missing = await env.kube.objects.get("workflows", "no-such-workflow")
        reports = await env.kube.objects.list("policyreports")
    assert [t["metadata"]["name"] for t in templates] == ["codex-build"]
    sidecars = templates[0]["spec"]["templates"][0]["sidecars"]
    assert sidecars[0]["name"] == "docker"
    assert crons == []
    assert workflow is not None and workflow["status"]["phase"] == "Running"
    assert missing is None
    assert {r["scope"]["name"] for r in reports} == set(env.cluster.pod_names())


async def test_patch_suspends_a_cronworkflow_with_merge_patch(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        before = env.cluster.get_object("cronworkflows", "codex-nightly")
        patched = await env.kube.objects.patch("cronworkflows", "codex-nightly", {"spec": {"suspend": True}})
    stored = env.cluster.get_object("cronworkflows", "codex-nightly")
    assert before is not None and stored is not None
    assert stored["spec"]["suspend"] is True and patched["spec"]["suspend"] is True
    assert stored["spec"]["schedule"] == before["spec"]["schedule"]  # the rest untouched
    assert int(stored["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    request = env.cluster.requests[-1]
    assert request.method == "PATCH" and request.body == {"spec": {"suspend": True}}


async def test_patch_with_a_stale_resource_version_is_a_conflict(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        template = await env.kube.objects.get("workflowtemplates", "codex-build")
        assert template is not None
        env.cluster.update_object(
            "workflowtemplates", "codex-build", {"metadata": {"labels": {"touched": "yes"}}}
        )
        stale = {
            "metadata": {"resourceVersion": template["metadata"]["resourceVersion"]},
            "spec": {"entrypoint": "x"},
        }
        with pytest.raises(Conflict, match="the object has been modified"):
            await env.kube.objects.patch("workflowtemplates", "codex-build", stale)
    stored = env.cluster.get_object("workflowtemplates", "codex-build")
    assert stored is not None and stored["spec"]["entrypoint"] == "build"


async def test_replace_restores_exactly_and_refuses_stale_versions(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        original = await env.kube.objects.get("workflowtemplates", "codex-build")
        assert original is not None
        edited = await env.kube.objects.patch("workflowtemplates", "codex-build", {"spec": {"templates": []}})
        restored_body = {
            **original,
            "metadata": {**original["metadata"], "resourceVersion": edited["metadata"]["resourceVersion"]},
        }
        restored = await env.kube.objects.replace("workflowtemplates", "codex-build", restored_body)
        assert restored["spec"] == original["spec"]
        with pytest.raises(Conflict):
            await env.kube.objects.replace("workflowtemplates", "codex-build", restored_body)


async def test_configmap_flag_get_and_patch(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        flags = await env.kube.objects.get("configmaps", "codex-bot-flags")
        patched = await env.kube.objects.patch(
            "configmaps", "codex-bot-flags", {"data": {"submissions_paused": "true"}}
        )
        missing = await env.kube.objects.get("configmaps", "nope")
        with pytest.raises(NotFound):
            await env.kube.objects.patch("configmaps", "nope", {"data": {"a": "b"}})
    assert flags is not None and flags["data"] == {"submissions_paused": "false"}
    assert patched["data"] == {"submissions_paused": "true"}
    assert missing is None
    stored = env.cluster.get_object("configmaps", "codex-bot-flags")
    assert stored is not None and stored["data"]["submissions_paused"] == "true"


async def test_absent_crd_is_not_found_on_list_and_none_on_get(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.set_crd_installed("policyreports", False)
    async with kube_env(tmp_path, cluster) as env:
        with pytest.raises(NotFound, match="does not serve `policyreports`"):
            await env.kube.objects.list("policyreports")
        assert await env.kube.objects.get("policyreports", "anything") is None


async def test_forbidden_patch_names_verb_resource_and_group(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.fail("PATCH", r"/workflowtemplates/", 403)
    async with kube_env(tmp_path, cluster) as env:
        with pytest.raises(ClusterError) as caught:
            await env.kube.objects.patch("workflowtemplates", "codex-build", {"spec": {}})
    assert caught.value.status == 403
    assert caught.value.hint == (
        "the bot's ServiceAccount lacks `patch workflowtemplates (API group argoproj.io)` in argo-workflows; "
        "grant it in the bot's Role."
    )


async def test_undeclared_calls_are_refused_before_reaching_the_api(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        seen = len(env.cluster.requests)
        with pytest.raises(UndeclaredKubeCall, match="update configmaps"):
            await env.kube.objects.replace("configmaps", "codex-bot-flags", {"data": {}})
        with pytest.raises(UndeclaredKubeCall, match="patch policyreports"):
            await env.kube.objects.patch("policyreports", "x", {})
        with pytest.raises(UndeclaredKubeCall, match="unknown object kind 'secrets'"):
            await env.kube.objects.list("secrets")
        assert len(env.cluster.requests) == seen


async def test_exactly_one_of_two_electors_leads(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        a = env.kube.leases.elector("codex-bot-watcher", lease_seconds=1, identity="replica-a")
        b = env.kube.leases.elector("codex-bot-watcher", lease_seconds=1, identity="replica-b")
        first = await asyncio.gather(a.is_leader(), b.is_leader())
        assert sorted(first) == [False, True]
        leader, follower = (a, b) if first[0] else (b, a)
        for _ in range(3):  # the holder renews; the other keeps waiting
            assert await leader.is_leader() and not await follower.is_leader()
        lease = env.cluster.get_object("leases", "codex-bot-watcher")
        assert lease is not None and lease["spec"]["holderIdentity"] == leader.identity
        assert lease["spec"]["leaseDurationSeconds"] == 1


async def test_a_silent_leader_is_replaced_after_the_lease_expires(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        a = env.kube.leases.elector("codex-bot-watcher", lease_seconds=1, identity="replica-a")
        b = env.kube.leases.elector("codex-bot-watcher", lease_seconds=1, identity="replica-b")
        assert await a.is_leader()
        assert not await b.is_leader()
        took_over: list[bool] = []

        async def poll() -> None:
            while not took_over:
                if await b.is_leader():
                    took_over.append(True)
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(), timeout=5)
        assert not await a.is_leader()
        lease = env.cluster.get_object("leases", "codex-bot-watcher")
        assert lease is not None and lease["spec"]["holderIdentity"] == "replica-b"
        assert lease["spec"]["leaseTransitions"] == 1


async def test_release_hands_over_at_once(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        a = env.kube.leases.elector("codex-bot-watcher", lease_seconds=30, identity="replica-a")
        b = env.kube.leases.elector("codex-bot-watcher", lease_seconds=30, identity="replica-b")
        assert await a.is_leader() and not await b.is_leader()
        await a.release()
        assert await b.is_leader()
