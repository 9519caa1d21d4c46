"""Runbook "Collecting Diagnostics": daemon logs, workflow logs, volume usage, Kyverno, pod status.

All five are collected concurrently; each ends ok, failed or unavailable with its reason, so
one refusal (403, a timeout, a container that is gone) never costs the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from config.settings import Policy
from handlers.artifacts import Artifact, ArtifactKey, ArtifactStatus, Diagnostics, KyvernoSummary, VolumeUsage
from handlers.errors import ClusterError, CodexError, NotFound
from handlers.findings import diagnostics_findings
from handlers.kyverno import render_text, summarise
from handlers.logcapture import LogCapture
from handlers.pod_status import render_pod_status
from handlers.pods import resolve_codex_pod
from handlers.ports import ClusterObjects, ContainerInfo, PodEvent, PodExec, PodInfo, PodLogs, Pods
from handlers.redact import redact
from handlers.volume import parse_du
from handlers.workflow_logs import collect_workflow_logs, stream_into

log = logging.getLogger(__name__)


def format_since(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"


@dataclass(frozen=True)
class DiagnosticsRequest:
    pod: str
    since_seconds: int = 1800


class Unavailable(Exception):
    """Nothing to collect for this artifact; not a failure."""


@dataclass
class _Ctx:
    req: DiagnosticsRequest
    pod: PodInfo | None
    pod_error: CodexError | None
    pods: Pods
    exec: PodExec
    logs: PodLogs
    objects: ClusterObjects
    policy: Policy
    cap: int
    volume: VolumeUsage | None = None
    kyverno: KyvernoSummary | None = None
    events: list[PodEvent] | None = None

    @property
    def ns(self) -> str:
        return self.policy.namespace

    @property
    def docker(self) -> str:
        return self.policy.pods.docker_container

    @property
    def data_root(self) -> str:
        return self.policy.docker.data_root

    @property
    def workflow(self) -> str | None:
        return self.pod.labels.get(self.policy.pods.workflow_label) if self.pod else None

    def docker_state(self) -> ContainerInfo | None:
        return self.pod.container(self.docker) if self.pod else None


@dataclass(frozen=True)
class _Spec:
    key: ArtifactKey
    title: str
    command: str

    def artifact(self, status: ArtifactStatus, **fields: Any) -> Artifact:
        return replace(
            Artifact(key=self.key, title=self.title, command=self.command, status=status), **fields
        )


async def _guard(spec: _Spec, work: Awaitable[Artifact]) -> Artifact:
    try:
        return await work
    except Unavailable as e:
        return spec.artifact(ArtifactStatus.UNAVAILABLE, reason=str(e))
    except CodexError as e:
        return spec.artifact(ArtifactStatus.FAILED, reason=redact(e.message), hint=e.hint)
    except TimeoutError:
        return spec.artifact(ArtifactStatus.FAILED, reason="The Kubernetes API did not answer in time.")
    except Exception as e:  # one broken artifact must not lose the bundle; the traceback goes to the log
        log.exception("diagnostics artifact %s failed", spec.key.value)
        return spec.artifact(
            ArtifactStatus.FAILED, reason=f"Internal error ({type(e).__name__}); see the bot's log."
        )


async def _pod_status(spec: _Spec, ctx: _Ctx) -> Artifact:
    if ctx.pod is None:
        raise ctx.pod_error or ClusterError("The pod could not be read.")
    notes: tuple[str, ...] = ()
    try:
        async with asyncio.timeout(ctx.policy.timeouts.api):
            ctx.events = await ctx.pods.events(ctx.pod.name)
    except (CodexError, TimeoutError) as e:
        notes = (f"Events could not be read: {e.message if isinstance(e, CodexError) else 'timed out'}",)
    text = render_pod_status(ctx.pod, ctx.events, workflow_label=ctx.policy.pods.workflow_label)
    data = text.encode()
    return spec.artifact(ArtifactStatus.OK, content=data, notes=notes, source_bytes=len(data))


async def _from_capture(spec: _Spec, capture: LogCapture, error: str | None, notes: list[str]) -> Artifact:
    got = await asyncio.to_thread(capture.finish)  # redacting ~cap bytes takes seconds of CPU
    return spec.artifact(
        ArtifactStatus.FAILED if error else ArtifactStatus.OK,
        content=got.data,
        reason=error,
        source_bytes=got.source_bytes,
        source_lines=got.source_lines,
        cut=got.cut,
        notes=tuple(notes),
    )


async def _daemon_logs(spec: _Spec, ctx: _Ctx) -> Artifact:
    state = ctx.docker_state()
    if ctx.pod is not None and state is None and ctx.pod.containers:
        raise Unavailable(f"Pod `{ctx.pod.name}` has no `{ctx.docker}` container.")
    if state is not None and state.state == "waiting" and not state.restart_count:
        raise Unavailable(f"`{ctx.docker}` has not started yet ({state.state_reason or 'waiting'}).")
    capture = LogCapture(ctx.cap)
    error: str | None = None
    stream = ctx.logs.stream(ctx.req.pod, ctx.docker, since_seconds=ctx.req.since_seconds)
    try:
        await stream_into(capture, stream, idle_timeout=ctx.policy.timeouts.api, prefixer=None)
    except CodexError as e:
        error = redact(e.message)
    except TimeoutError:
        error = f"The log stream stalled for {ctx.policy.timeouts.api:g}s; kept what arrived."
    quiet = (
        [] if capture.source_bytes else [f"No log lines in the last {format_since(ctx.req.since_seconds)}."]
    )
    return await _from_capture(spec, capture, error, quiet)


async def _workflow_logs(spec: _Spec, ctx: _Ctx) -> Artifact:
    wf = ctx.workflow
    if wf is None:
        why = (
            "the pod could not be read" if ctx.pod is None else f"no `{ctx.policy.pods.workflow_label}` label"
        )
        raise Unavailable(f"The pod's workflow is unknown ({why}).")
    capture = LogCapture(ctx.cap)
    streamed, problems = await collect_workflow_logs(
        wf, pods=ctx.pods, logs=ctx.logs, policy=ctx.policy, capture=capture
    )
    if streamed == 0 and not problems:
        raise Unavailable(f"Workflow `{wf}` has no started pods.")
    error = "No pod's log could be read." if streamed == 0 else None
    return await _from_capture(spec, capture, error, [redact(p) for p in problems])


async def _volume(spec: _Spec, ctx: _Ctx) -> Artifact:
    state = ctx.docker_state()
    if ctx.pod is not None and (state is None or state.state != "running"):
        how = (
            f"{state.state}: {state.state_reason}"
            if state and state.state_reason
            else (state.state if state else "absent")
        )
        raise Unavailable(f"`{ctx.docker}` is not running ({how}); volume usage cannot be measured.")
    limit = ctx.policy.timeouts.diagnostics_exec
    async with asyncio.timeout(limit + ctx.policy.timeouts.api):
        result = await ctx.exec.run(ctx.req.pod, ctx.docker, ["du", "-sh", ctx.data_root], limit)
    text = redact(result.output).encode()
    if result.timed_out:
        return spec.artifact(
            ArtifactStatus.FAILED, content=text, reason=f"`du` did not finish within {limit:g}s."
        )
    ctx.volume = parse_du(result.stdout, ctx.data_root)
    if ctx.volume is None:
        why = f"`du` exited {result.exit_code} without a total for `{ctx.data_root}`."
        return spec.artifact(ArtifactStatus.FAILED, content=text, reason=why)
    notes = (
        ()
        if result.ok
        else (f"`du` exited {result.exit_code}: some files were unreadable; the total may be low.",)
    )
    return spec.artifact(ArtifactStatus.OK, content=text, notes=notes, source_bytes=len(text))


async def _kyverno(spec: _Spec, ctx: _Ctx) -> Artifact:
    try:
        async with asyncio.timeout(ctx.policy.timeouts.api):
            reports = await ctx.objects.list("policyreports")
    except NotFound as e:
        raise Unavailable("Kyverno reports not available (no PolicyReport CRD in this cluster).") from e
    uid = ctx.pod.uid if ctx.pod else None
    guardrail = ctx.policy.diagnostics.guardrail_policy
    ctx.kyverno = summarise(reports, pod=ctx.req.pod, uid=uid, guardrail_policy=guardrail)
    text = render_text(ctx.kyverno, pod=ctx.req.pod, namespace=ctx.ns, reports_in_namespace=len(reports))
    data = text.encode()
    return spec.artifact(ArtifactStatus.OK, content=data, source_bytes=len(data))


def _specs(ctx: _Ctx) -> dict[ArtifactKey, _Spec]:
    ns, pod, docker = ctx.ns, ctx.req.pod, ctx.docker
    k = ArtifactKey
    return {
        k.POD_STATUS: _Spec(k.POD_STATUS, "Pod status", f"kubectl describe pod -n {ns} {pod}"),
        k.DAEMON_LOGS: _Spec(
            k.DAEMON_LOGS,
            "Daemon logs",
            f"kubectl logs -n {ns} {pod} -c {docker} --since={format_since(ctx.req.since_seconds)}",
        ),
        k.WORKFLOW_LOGS: _Spec(
            k.WORKFLOW_LOGS, "Workflow logs", f"argo logs {ctx.workflow or '<workflow>'} --namespace {ns}"
        ),
        k.VOLUME_USAGE: _Spec(
            k.VOLUME_USAGE,
            "Volume usage",
            f"kubectl exec -n {ns} {pod} -c {docker} -- du -sh {ctx.data_root}",
        ),
        k.KYVERNO: _Spec(k.KYVERNO, "Kyverno decisions", f"kubectl get polr -n {ns}"),
    }


async def _lookup(
    req: DiagnosticsRequest, pods: Pods, policy: Policy
) -> tuple[PodInfo | None, CodexError | None]:
    """The pod, or the cluster's refusal. A missing or non-Codex pod is the user's error (raised)."""
    try:
        async with asyncio.timeout(policy.timeouts.api):
            return await resolve_codex_pod(req.pod, pods=pods, policy=policy, need_running=False), None
    except NotFound:
        raise
    except ClusterError as e:
        return None, e
    except TimeoutError:
        return None, ClusterError("Reading the pod timed out.")


async def collect_diagnostics(
    req: DiagnosticsRequest,
    *,
    pods: Pods,
    exec: PodExec,
    logs: PodLogs,
    objects: ClusterObjects,
    policy: Policy,
    cap_bytes: int | None = None,
) -> Diagnostics:
    """Everything the runbook's "Collecting Diagnostics" gathers, redacted and bounded by ``cap_bytes``."""
    started = datetime.now(UTC)
    pod, pod_error = await _lookup(req, pods, policy)
    cap = cap_bytes or policy.diagnostics.artifact_cap_bytes
    ctx = _Ctx(req, pod, pod_error, pods, exec, logs, objects, policy, cap)
    specs = _specs(ctx)
    k = ArtifactKey
    artifacts = await asyncio.gather(
        _guard(specs[k.POD_STATUS], _pod_status(specs[k.POD_STATUS], ctx)),
        _guard(specs[k.DAEMON_LOGS], _daemon_logs(specs[k.DAEMON_LOGS], ctx)),
        _guard(specs[k.WORKFLOW_LOGS], _workflow_logs(specs[k.WORKFLOW_LOGS], ctx)),
        _guard(specs[k.VOLUME_USAGE], _volume(specs[k.VOLUME_USAGE], ctx)),
        _guard(specs[k.KYVERNO], _kyverno(specs[k.KYVERNO], ctx)),
    )
    return Diagnostics(
        pod=req.pod,
        namespace=policy.namespace,
        workflow=ctx.workflow,
        phase=pod.phase if pod else None,
        since_seconds=req.since_seconds,
        started_at=started,
        finished_at=datetime.now(UTC),
        artifacts=tuple(artifacts),
        findings=tuple(
            diagnostics_findings(
                tuple(artifacts), pod=pod, events=ctx.events, volume=ctx.volume, kyverno=ctx.kyverno
            )
        ),
        volume=ctx.volume,
        kyverno=ctx.kyverno,
    )
