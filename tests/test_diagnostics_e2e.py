"""collect_diagnostics through the real Kubernetes adapter against the fake API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.sandbox.cluster import FakeCluster
from bot.sandbox.seed import DAEMON_DOWN_POD, GUARDRAILS, HEALTHY_POD
from config.settings import Policy
from handlers.artifacts import ArtifactKey, ArtifactStatus, Diagnostics, Severity
from handlers.diagnostics import DiagnosticsRequest, collect_diagnostics
from tests.fakes.kube import KubeEnv, kube_env

K = ArtifactKey
GHP = "ghp_" + "e2eTokenValue0123456789abcdefABCDEF01"


async def collect(env: KubeEnv, pod: str, *, since: int = 1800, cap: int | None = None) -> Diagnostics:
    kube = env.kube
    return await collect_diagnostics(
        DiagnosticsRequest(pod, since_seconds=since),
        pods=kube.pods,
        exec=kube.exec,
        logs=kube.logs,
        objects=kube.objects,
        policy=Policy(namespace=env.cluster.namespace),
        cap_bytes=cap,
    )


def text(d: Diagnostics, key: ArtifactKey) -> str:
    a = d.artifact(key)
    assert a is not None
    return a.text


async def test_healthy_pod_bundle_has_every_artifact_right(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    async with kube_env(tmp_path, cluster) as env:
        d = await collect(env, HEALTHY_POD, since=1200)
    assert [(a.key, a.status) for a in d.artifacts] == [(k, ArtifactStatus.OK) for k in K]
    assert "API listen on 127.0.0.1:2375" in text(d, K.DAEMON_LOGS)
    log_requests = [r for r in cluster.requests if r.path.endswith(f"/pods/{HEALTHY_POD}/log")]
    assert any("container=docker" in r.query and "sinceSeconds=1200" in r.query for r in log_requests)
    assert text(d, K.WORKFLOW_LOGS) == f"{HEALTHY_POD}: codex: preparing workspace /workspace/lab\n"
    assert d.volume is not None and d.volume.human == cluster.pod(HEALTHY_POD).disk_usage
    assert text(d, K.VOLUME_USAGE) == f"{cluster.pod(HEALTHY_POD).disk_usage}\t/var/lib/docker\n"
    assert [c.argv for c in cluster.execs(HEALTHY_POD, "docker")] == [["du", "-sh", "/var/lib/docker"]]
    assert d.kyverno is not None and d.kyverno.guardrail is not None
    assert dict(d.kyverno.guardrail.counts) == {"pass": 3}
    assert f"{GUARDRAILS}: admitted (3 pass)" in text(d, K.KYVERNO)
    status = text(d, K.POD_STATUS)
    assert "Phase:      Running" in status and "Started container docker" in status
    assert not [f for f in d.findings if f.severity is not Severity.INFO]


async def test_a_quiet_window_says_there_were_no_lines(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        d = await collect(env, HEALTHY_POD, since=60)  # the pod logged when it started, 15 min ago
    daemon = d.artifact(K.DAEMON_LOGS)
    assert daemon is not None and daemon.ok and daemon.content == b""
    assert daemon.notes == ("No log lines in the last 1m.",)


async def test_broken_daemon_pod_findings_show_the_error_lines_and_warning_events(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        d = await collect(env, DAEMON_DOWN_POD)
    errors = [f.text for f in d.findings if f.severity is Severity.ERROR]
    assert any(
        "error/fatal lines in the last 200 daemon log lines" in e and "exit status 1" in e for e in errors
    )
    warnings = [f.text for f in d.findings if f.severity is Severity.WARNING]
    assert "Warning events: Unhealthy ×7." in warnings
    assert "Readiness probe failed" in text(d, K.POD_STATUS)


async def test_workflow_logs_follow_argo_logs_order_and_prefixes(tmp_path: Path) -> None:
    cluster = FakeCluster("argo-workflows")
    wf = "codex-run-7k2xq"
    for name, age in (("codex-run-7k2xq-b", 300), ("codex-run-7k2xq-a", 600), ("codex-run-7k2xq-c", 60)):
        cluster.add_codex_pod(name, workflow=wf, age=age)
        cluster.log(name, "main", f"{name} step one", f"{name} step two")
    cluster.add_codex_pod("codex-run-7k2xq-pending", workflow=wf, phase="Pending")
    cluster.add_codex_pod("other-run-x", workflow="other-run", age=900)
    async with kube_env(tmp_path, cluster) as env:
        d = await collect(env, "codex-run-7k2xq-c")
    lines = text(d, K.WORKFLOW_LOGS).splitlines()
    pods = [line.split(": ", 1)[0] for line in lines]
    assert pods == [
        p for p in ("codex-run-7k2xq-a", "codex-run-7k2xq-b", "codex-run-7k2xq-c") for _ in range(3)
    ]
    assert lines[1:3] == [
        "codex-run-7k2xq-a: codex-run-7k2xq-a step one",
        "codex-run-7k2xq-a: codex-run-7k2xq-a step two",
    ]
    assert not any(r.path.endswith("/pods/codex-run-7k2xq-pending/log") for r in cluster.requests)
    assert not any(
        r.path.endswith("/pods/codex-run-7k2xq-a/log") and "container=docker" in r.query
        for r in cluster.requests
    )


def legacy_report(pod: str, uid: str, outcome: str) -> dict[str, Any]:
    ref = {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": "argo-workflows", "uid": uid}
    return {
        "metadata": {"name": "polr-ns-argo-workflows"},
        "results": [
            {"policy": GUARDRAILS, "rule": "privileged-sidecar-only", "result": outcome,
             "message": "only the docker sidecar may run privileged", "resources": [ref]},
            {"policy": "disallow-latest-tag", "rule": "require-image-tag", "result": "fail",
             "message": "an image tag is required", "resources": [{**ref, "name": "other", "uid": "x"}]},
        ],
        "summary": {"pass": 0, "fail": 2, "warn": 0, "error": 0, "skip": 0},
    }  # fmt: skip


async def test_legacy_report_shape_and_a_guardrail_fail(tmp_path: Path) -> None:
    cluster = FakeCluster("argo-workflows")
    pod = cluster.add_codex_pod("codex-legacy-1", workflow="codex-legacy")
    cluster.add_object("policyreports", legacy_report(pod.name, pod.uid, "fail"))
    async with kube_env(tmp_path, cluster) as env:
        d = await collect(env, pod.name)
    assert d.kyverno is not None and d.kyverno.reports == 1
    assert [p.policy for p in d.kyverno.policies] == [GUARDRAILS]  # the other pod's fail is not ours
    assert any(f.severity is Severity.ERROR and GUARDRAILS in f.text and "privileged-sidecar-only" in f.text
               for f in d.findings)  # fmt: skip


async def test_missing_policyreport_crd_is_reported_as_not_available(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.set_crd_installed("policyreports", False)
    async with kube_env(tmp_path, cluster) as env:
        d = await collect(env, HEALTHY_POD)
    kyverno = d.artifact(K.KYVERNO)
    assert kyverno is not None and kyverno.status is ArtifactStatus.UNAVAILABLE
    assert (kyverno.reason or "").startswith("Kyverno reports not available")
    assert all(a.ok for a in d.artifacts if a.key is not K.KYVERNO)


async def test_forbidden_exec_fails_only_volume_usage_and_names_the_permission(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.fail("GET", r"/pods/[^/]+/exec$", 403)
    async with kube_env(tmp_path, cluster) as env:
        d = await collect(env, HEALTHY_POD)
    volume = d.artifact(K.VOLUME_USAGE)
    assert volume is not None and volume.status is ArtifactStatus.FAILED
    assert "pods/exec" in (volume.reason or "") + (volume.hint or "")
    assert all(a.ok for a in d.artifacts if a.key is not K.VOLUME_USAGE)


async def test_oversized_daemon_log_keeps_head_and_tail_around_the_marker(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    gen = cluster.set_generated_log(HEALTHY_POD, "docker", 3_000_000, span_seconds=600)
    cluster.log(HEALTHY_POD, "docker", f'level=info msg="late line with {GHP}"', "the very last line")
    async with kube_env(tmp_path, cluster) as env:
        d = await collect(env, HEALTHY_POD, cap=256 * 1024)
    daemon = d.artifact(K.DAEMON_LOGS)
    assert daemon is not None and daemon.ok and daemon.cut is not None
    assert daemon.source_bytes > 3_000_000 and daemon.size_bytes < 256 * 1024 + 200
    lines = daemon.text.splitlines()
    assert lines[0] == gen.line(0).rstrip("\n")
    assert lines[-1] == "the very last line" and "late line with [REDACTED]" in lines[-2]
    assert sum(line.startswith("… [cut ") for line in lines) == 1
    assert GHP not in daemon.text
    assert any(f.text.startswith("Daemon logs: ") and "over the cap" in f.text for f in d.findings)
