"""collect_diagnostics against in-memory ports: every artifact, each failure isolated, findings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config.settings import Policy, load_policy
from handlers.artifacts import ArtifactKey, ArtifactStatus, Diagnostics, Severity
from handlers.diagnostics import DiagnosticsRequest, collect_diagnostics
from handlers.errors import ClusterError, NotFound
from handlers.ports import ContainerInfo, ExecResult, PodEvent, PodInfo

WF = "codex-run-7k2xq"
POD = f"{WF}-codex-stage-1791874650"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
K = ArtifactKey


def pod(
    name: str = POD, *, phase: str = "Running", start: int = 0, docker: ContainerInfo | None = None
) -> PodInfo:
    return PodInfo(
        name=name,
        namespace="argo-workflows",
        uid=f"uid-{name}",
        phase=phase,
        labels={"codex.stage": "build", "workflows.argoproj.io/workflow": WF},
        node="node-a",
        created_at=T0,
        started_at=T0 + timedelta(seconds=start) if phase != "Pending" else None,
        containers=(
            ContainerInfo("main", ready=True, state="running"),
            docker or ContainerInfo("docker", ready=True, state="running"),
        ),
    )


@dataclass
class MemoryPods:
    pods: dict[str, PodInfo]
    events_by_pod: dict[str, list[PodEvent]] = field(default_factory=dict)
    fail_get: Exception | None = None

    async def get(self, name: str) -> PodInfo | None:
        if self.fail_get:
            raise self.fail_get
        return self.pods.get(name)

    async def list(self, selector: str) -> list[PodInfo]:
        key, _, value = selector.partition("=")
        return [p for p in self.pods.values() if p.labels.get(key) == value]

    async def events(self, name: str) -> list[PodEvent]:
        return self.events_by_pod.get(name, [])


@dataclass
class MemoryLogs:
    """(pod, container) -> bytes, served in small chunks, or an exception to raise."""

    logs: dict[tuple[str, str], bytes | Exception]
    chunk: int = 7
    calls: list[tuple[str, str, int | None]] = field(default_factory=list)
    gate: asyncio.Event | None = None

    async def stream(
        self, pod: str, container: str, *, since_seconds: int | None = None, tail_lines: int | None = None
    ) -> AsyncIterator[bytes]:
        self.calls.append((pod, container, since_seconds))
        data = self.logs.get(
            (pod, container), ClusterError(f'container "{container}" is not valid', status=400)
        )
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(data, Exception):
            raise data
        for i in range(0, len(data), self.chunk):
            yield data[i : i + self.chunk]


@dataclass
class ScriptedExec:
    result: ExecResult | Exception
    calls: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)

    async def run(self, pod: str, container: str, argv: Sequence[str], timeout: float) -> ExecResult:
        self.calls.append((pod, container, tuple(argv)))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@dataclass
class MemoryObjects:
    reports: list[dict[str, Any]] | Exception
    listed: asyncio.Event = field(default_factory=asyncio.Event)

    async def list(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        assert kind == "policyreports"
        self.listed.set()
        if isinstance(self.reports, Exception):
            raise self.reports
        return self.reports

    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        raise AssertionError("diagnostics only lists")

    async def patch(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("diagnostics never writes")

    async def replace(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("diagnostics never writes")


def guardrail_report(outcome: str) -> dict[str, Any]:
    return {
        "scope": {"kind": "Pod", "name": POD, "uid": f"uid-{POD}"},
        "results": [
            {
                "policy": "codex-privileged-guardrails",
                "rule": "docker-sidecar-only",
                "result": outcome,
                "message": "only the docker sidecar may be privileged",
            }
        ],
    }


@dataclass
class World:
    pods: MemoryPods
    logs: MemoryLogs
    exec: ScriptedExec
    objects: MemoryObjects
    policy: Policy = field(default_factory=Policy)

    async def collect(self, since: int = 1800, cap: int | None = None) -> Diagnostics:
        return await collect_diagnostics(
            DiagnosticsRequest(POD, since_seconds=since),
            pods=self.pods,
            exec=self.exec,
            logs=self.logs,
            objects=self.objects,
            policy=self.policy,
            cap_bytes=cap,
        )


def healthy_world() -> World:
    step1, step2, pending = (
        pod(f"{WF}-prepare-1", start=0),
        pod(POD, start=60),
        pod(f"{WF}-later-3", phase="Pending"),
    )
    return World(
        pods=MemoryPods({p.name: p for p in (step2, pending, step1)}),
        logs=MemoryLogs(
            {
                (POD, "docker"): b'time="t1" level=info msg="API listen on 127.0.0.1:2375"\n',
                (f"{WF}-prepare-1", "main"): b"cloning repo\ndone",
                (POD, "main"): b"building image\npushed\n",
            }
        ),
        exec=ScriptedExec(ExecResult("1.2G\t/var/lib/docker\n", "", 0, 0.3)),
        objects=MemoryObjects([guardrail_report("pass")]),
    )


async def test_healthy_pod_yields_every_artifact_ok_with_runbook_content() -> None:
    w = healthy_world()
    d = await w.collect(since=600)
    assert [a.key for a in d.artifacts] == [
        K.POD_STATUS,
        K.DAEMON_LOGS,
        K.WORKFLOW_LOGS,
        K.VOLUME_USAGE,
        K.KYVERNO,
    ]
    assert all(a.status is ArtifactStatus.OK for a in d.artifacts), [(a.key, a.reason) for a in d.artifacts]
    assert d.workflow == WF and d.phase == "Running"
    daemon = d.artifact(K.DAEMON_LOGS)
    assert daemon is not None and "API listen on 127.0.0.1:2375" in daemon.text
    assert (POD, "docker", 600) in w.logs.calls
    assert daemon.command == f"kubectl logs -n argo-workflows {POD} -c docker --since=10m"
    assert w.exec.calls == [(POD, "docker", ("du", "-sh", "/var/lib/docker"))]
    assert d.volume is not None and d.volume.human == "1.2G" and d.volume.bytes == int(1.2 * 1024**3)
    assert (
        d.kyverno is not None and d.kyverno.guardrail is not None and d.kyverno.guardrail.count("pass") == 1
    )
    status = d.artifact(K.POD_STATUS)
    assert status is not None and "Phase:      Running" in status.text and "docker" in status.text
    assert not [f for f in d.findings if f.severity is not Severity.INFO]


async def test_the_configured_data_root_and_guardrail_policy_are_what_diagnostics_use(tmp_path: Path) -> None:
    config = tmp_path / "codex-bot.yaml"
    config.write_text(
        "docker:\n  data_root: /data/docker\ndiagnostics:\n  guardrail_policy: acme-guardrails\n"
    )
    w = healthy_world()
    w.policy = load_policy(config)
    w.exec = ScriptedExec(ExecResult("3.4G\t/data/docker\n", "", 0, 0.1))
    ours = guardrail_report("fail")
    ours["results"][0]["policy"] = "acme-guardrails"
    w.objects.reports = [ours, guardrail_report("pass")]  # the default name is just another policy now
    d = await w.collect()
    assert w.exec.calls == [(POD, "docker", ("du", "-sh", "/data/docker"))]
    volume = d.artifact(K.VOLUME_USAGE)
    assert volume is not None and volume.command.endswith("-- du -sh /data/docker") and "3.4G" in volume.text
    errors = [f.text for f in d.findings if f.severity is Severity.ERROR]
    assert any(t.startswith("Kyverno `acme-guardrails`") and "1 fail" in t for t in errors), errors


async def test_workflow_logs_are_argo_logs_ordered_by_start_and_prefixed_per_pod() -> None:
    d = await healthy_world().collect()
    wf = d.artifact(K.WORKFLOW_LOGS)
    assert wf is not None and wf.command == f"argo logs {WF} --namespace argo-workflows"
    assert wf.text == (
        f"{WF}-prepare-1: cloning repo\n{WF}-prepare-1: done\n{POD}: building image\n{POD}: pushed\n"
    )


async def test_broken_pod_findings_name_the_failures() -> None:
    w = healthy_world()
    dead = ContainerInfo(
        "docker",
        state="terminated",
        state_reason="Error",
        restart_count=3,
        last_termination_reason="OOMKilled",
    )
    w.pods.pods[POD] = pod(POD, phase="Failed", start=60, docker=dead)
    w.pods.events_by_pod[POD] = [
        PodEvent("Warning", "BackOff", "Back-off restarting failed container", 4, T0)
    ]
    w.logs.logs[(POD, "docker")] = (
        b'time="t1" level=info msg="starting"\n'
        b'time="t2" level=error msg="failed to mount overlay: permission denied"\n'
        b'time="t3" level=fatal msg="Error starting daemon: rootless mode requires newuidmap"\n'
    )
    w.objects.reports = [guardrail_report("fail")]
    d = await w.collect()
    texts = [f.text for f in d.findings if f.severity is Severity.ERROR]
    assert "Pod phase is Failed." in texts
    assert "`docker` terminated: Error." in texts
    assert any(
        t.startswith("2 error/fatal lines in the last 200 daemon log lines") and "newuidmap" in t
        for t in texts
    )
    assert any(
        "codex-privileged-guardrails" in t and "1 fail" in t and "docker-sidecar-only" in t for t in texts
    )
    warnings = [f.text for f in d.findings if f.severity is Severity.WARNING]
    assert "`docker` restarted 3 times (last termination: OOMKilled)." in warnings
    assert "Warning events: BackOff ×4." in warnings
    volume = d.artifact(K.VOLUME_USAGE)
    assert volume is not None and volume.status is ArtifactStatus.UNAVAILABLE
    assert volume.reason == "`docker` is not running (terminated: Error); volume usage cannot be measured."
    assert w.exec.calls == []
    assert d.findings[0].severity is Severity.ERROR


async def test_each_artifact_fails_alone_and_says_why() -> None:
    w = healthy_world()
    w.logs.logs[(POD, "docker")] = ClusterError(
        "pods/log is forbidden for codex-bot", status=403, hint="grant get on pods/log"
    )
    w.exec.result = ClusterError("pods/exec is forbidden", status=403)
    w.objects.reports = ClusterError("policyreports.wgpolicyk8s.io is forbidden", status=403)
    d = await w.collect()
    by = {a.key: a for a in d.artifacts}
    assert by[K.DAEMON_LOGS].status is ArtifactStatus.FAILED
    assert by[K.DAEMON_LOGS].reason == "pods/log is forbidden for codex-bot"
    assert by[K.VOLUME_USAGE].status is ArtifactStatus.FAILED and "pods/exec" in (
        by[K.VOLUME_USAGE].reason or ""
    )
    assert by[K.KYVERNO].status is ArtifactStatus.FAILED and "policyreports" in (by[K.KYVERNO].reason or "")
    assert by[K.POD_STATUS].ok and by[K.WORKFLOW_LOGS].ok
    assert "cloning repo" in by[K.WORKFLOW_LOGS].text
    assert {a.key for a in d.problems} == {K.DAEMON_LOGS, K.VOLUME_USAGE, K.KYVERNO}
    assert sum("collection failed" in f.text for f in d.findings) == 3


async def test_missing_policyreport_crd_is_unavailable_not_failed() -> None:
    w = healthy_world()
    w.objects.reports = NotFound("the server could not find the requested resource")
    d = await w.collect()
    kyverno = d.artifact(K.KYVERNO)
    assert kyverno is not None and kyverno.status is ArtifactStatus.UNAVAILABLE
    assert kyverno.reason is not None and kyverno.reason.startswith("Kyverno reports not available")
    assert d.kyverno is None and not d.problems


async def test_unreadable_pod_still_collects_what_needs_only_its_name() -> None:
    w = healthy_world()
    w.pods.fail_get = ClusterError("pods is forbidden: cannot get resource pods", status=403)
    d = await w.collect()
    by = {a.key: a for a in d.artifacts}
    assert by[K.POD_STATUS].status is ArtifactStatus.FAILED and "forbidden" in (by[K.POD_STATUS].reason or "")
    assert by[K.DAEMON_LOGS].ok and "API listen" in by[K.DAEMON_LOGS].text
    assert by[K.WORKFLOW_LOGS].status is ArtifactStatus.UNAVAILABLE
    assert by[K.VOLUME_USAGE].ok and by[K.KYVERNO].ok


async def test_a_pod_that_does_not_exist_is_the_users_error() -> None:
    w = healthy_world()
    del w.pods.pods[POD]
    with pytest.raises(NotFound, match="was not found"):
        await w.collect()


async def test_a_stalled_log_stream_keeps_what_arrived_and_fails_the_artifact() -> None:
    w = healthy_world()
    w.policy = Policy.model_validate({"timeouts": {"api": 0.2}})

    async def stall(pod: str, container: str, **_: Any) -> AsyncIterator[bytes]:
        yield b"first line\n"
        await asyncio.Event().wait()
        yield b"never"

    w.logs.stream = stall  # type: ignore[method-assign]
    d = await asyncio.wait_for(w.collect(), 5)
    daemon = d.artifact(K.DAEMON_LOGS)
    assert daemon is not None and daemon.status is ArtifactStatus.FAILED
    assert daemon.text == "first line\n" and "stalled" in (daemon.reason or "")


async def test_artifacts_are_collected_concurrently() -> None:
    w = healthy_world()
    w.logs.gate = w.objects.listed  # logs answer only once Kyverno has been asked: sequential code would hang
    d = await asyncio.wait_for(w.collect(), 5)
    assert all(a.ok for a in d.artifacts)


async def test_oversized_daemon_log_is_cut_and_the_finding_says_so() -> None:
    w = healthy_world()
    w.logs.chunk = 4096
    w.logs.logs[(POD, "docker")] = b"".join(b'time="%d" level=info msg="tick"\n' % i for i in range(20_000))
    d = await w.collect(cap=64 * 1024)
    daemon = d.artifact(K.DAEMON_LOGS)
    assert daemon is not None and daemon.cut is not None and daemon.ok
    assert daemon.source_lines == 20_000 and len(daemon.text) < 64 * 1024 + 200
    assert daemon.cut.marker in daemon.text
    assert any(f.text.startswith("Daemon logs: ") and "over the cap" in f.text for f in d.findings)


async def test_secrets_in_any_artifact_are_redacted() -> None:
    w = healthy_world()
    token = "ghp_" + "Z" * 36
    w.logs.logs[(POD, "docker")] = f'level=info msg="auth with {token}"\n'.encode()
    w.logs.logs[(POD, "main")] = b"export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    d = await w.collect()
    everything = "\n".join(a.text for a in d.artifacts)
    assert token not in everything and "wJalrXUtnFEMI" not in everything
    assert "[REDACTED]" in everything
