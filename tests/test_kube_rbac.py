"""The declared Kubernetes calls (bot/adapters/rbac.py) match what the adapters really send."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.rbac import KUBE_CALLS, NON_RESOURCE_CALLS, POD_EXEC_LEGACY, KubeCall, role_rules
from handlers.errors import CodexError
from tests.fakes.kube import KubeEnv, kube_env

POD = "codex-build-healthy-7f9c2"


async def _every_adapter_method(env: KubeEnv) -> None:
    kube = env.kube
    await kube.ping()
    await kube.pods.list("codex.stage")
    await kube.pods.get(POD)
    await kube.pods.events(POD)
    await kube.exec.run(POD, "main", ["env"], timeout=5)
    async for _ in kube.logs.stream(POD, "docker", tail_lines=5):
        pass
    for kind in ("workflows", "workflowtemplates", "cronworkflows", "policyreports"):
        await kube.objects.list(kind)
    for kind, name in [
        ("workflows", "codex-build-healthy"),
        ("workflowtemplates", "codex-build"),
        ("cronworkflows", "codex-nightly"),
        ("configmaps", "codex-bot-flags"),
    ]:
        await kube.objects.get(kind, name)
    await kube.objects.get("policyreports", env.cluster.pod(POD).uid)
    await kube.objects.patch("cronworkflows", "codex-nightly", {"spec": {"suspend": True}})
    await kube.objects.patch("configmaps", "codex-bot-flags", {"data": {"submissions_paused": "true"}})
    template = await kube.objects.patch(
        "workflowtemplates", "codex-build", {"metadata": {"labels": {"x": "y"}}}
    )
    await kube.objects.replace("workflowtemplates", "codex-build", template)
    elector = kube.leases.elector("codex-bot-watcher", lease_seconds=5, identity="me")
    await elector.is_leader()  # create
    await elector.is_leader()  # get + update


async def test_adapters_send_only_declared_calls_and_use_every_one(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        await _every_adapter_method(env)
    sent = {
        KubeCall(r.info.group, r.info.resource, r.info.verb)
        for r in env.cluster.requests
        if r.info.is_resource
    }
    non_resource = {(r.path.rstrip("/"), r.info.verb) for r in env.cluster.requests if not r.info.is_resource}
    assert sent <= set(KUBE_CALLS), f"undeclared: {sent - set(KUBE_CALLS)}"
    assert non_resource <= set(NON_RESOURCE_CALLS)
    unused = set(KUBE_CALLS) - sent - {POD_EXEC_LEGACY}
    assert not unused, f"declared but never used (drop them from KUBE_CALLS and the Role): {unused}"


async def test_every_call_is_bounded_by_a_timeout_even_when_the_api_hangs(tmp_path: Path) -> None:
    async with kube_env(tmp_path, api_timeout=0.3) as env:
        env.cluster.stall("*", r".", 5.0)
        calls = (env.kube.pods.get(POD), env.kube.objects.list("workflows"), env.kube.ping())
        failures = 0
        for call in calls:
            try:
                await call
            except CodexError as e:
                failures += 1
                assert "did not answer" in e.message
        assert failures == len(calls)


def test_role_rules_group_the_declared_calls() -> None:
    rules = role_rules()
    core_exec = next(r for r in rules if "pods/exec" in r["resources"])
    assert core_exec["apiGroups"] == [""] and core_exec["verbs"] == ["create", "get"]
    argo = [r for r in rules if r["apiGroups"] == ["argoproj.io"]]
    assert {"resources": ["workflowtemplates"], "verbs": ["get", "list", "patch", "update"]} in [
        {"resources": r["resources"], "verbs": r["verbs"]} for r in argo
    ]
    flattened = {
        KubeCall(r["apiGroups"][0], resource, verb)
        for r in rules
        for resource in r["resources"]
        for verb in r["verbs"]
    }
    assert flattened == set(KUBE_CALLS)
