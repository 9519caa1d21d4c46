"""Escalation step 1, first half: `docker info` in `main` on every Codex pod at once.

Checks run concurrently, at most ``policy.fleet.concurrency`` in flight, each bounded by
``policy.fleet.per_pod_timeout``. A pod that is not Running is reported as such and never
counted as a daemon failure, and neither is a check the API refused (403, 5xx): only a
daemon that answered badly, or not at all, makes a pod *failing*.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from config.settings import Policy
from handlers.errors import ClusterError, ExecTimedOut
from handlers.ports import ExecResult, PodExec, PodInfo, Pods
from handlers.redact import redact

DOCKER_INFO = ("docker", "info")
EXCERPT_LIMIT = 200  # one table cell; the whole output belongs to `/codex validate`
# Lines docker prints around the real error; they say nothing about the cause.
_NOISE = ("errors pretty printing info", "client:", "server:", "warning:")


def _hard_limit(timeout: float) -> float:
    """The exec's own timeout plus grace, so an adapter that overruns still cannot stall the fleet."""
    return timeout * 1.25 + 0.1


class FleetState(enum.StrEnum):
    HEALTHY = "healthy"
    FAILING = "failing"
    NOT_RUNNING = "not running"
    UNCHECKED = "unchecked"  # the API refused the exec; says nothing about the daemon


@dataclass(frozen=True)
class FleetRow:
    pod: str
    workflow: str | None
    stage: str
    state: FleetState
    detail: str = ""  # redacted error excerpt, or the phase of a pod that is not Running
    duration: float | None = None  # seconds the check took; None when none ran


@dataclass(frozen=True)
class FleetReport:
    namespace: str
    selector: str
    rows: tuple[FleetRow, ...]
    started_at: datetime
    finished_at: datetime
    concurrency: int

    def count(self, state: FleetState) -> int:
        return sum(1 for r in self.rows if r.state is state)

    @property
    def totals(self) -> dict[str, int]:
        counts = {state.value: self.count(state) for state in FleetState}
        return {"pods": len(self.rows), **counts}

    @property
    def failing(self) -> tuple[FleetRow, ...]:
        return tuple(r for r in self.rows if r.state is FleetState.FAILING)

    @property
    def failing_workflows(self) -> tuple[str, ...]:
        """Distinct workflows with a failing pod; a pod without the Argo label stands for itself."""
        return tuple(sorted({r.workflow or r.pod for r in self.failing}))

    @property
    def checked(self) -> int:
        """Pods whose daemon answered one way or the other."""
        return self.count(FleetState.HEALTHY) + self.count(FleetState.FAILING)

    @property
    def wall_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def error_excerpt(result: ExecResult) -> str:
    """The first line that says what went wrong, redacted and cut to one table cell."""
    if result.timed_out:
        return f"no answer within {result.duration:.0f}s"
    candidates = [*result.stderr.splitlines(), *(ln for ln in result.stdout.splitlines() if "ERROR" in ln)]
    for line in candidates:
        text = line.strip()
        if text and not text.lower().startswith(_NOISE):
            return _cut(redact(text))
    return f"exit code {result.exit_code}"


def _cut(text: str) -> str:
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1] + "…"


def _not_running_reason(pod: PodInfo, main: str) -> str | None:
    if pod.phase != "Running":
        return pod.phase or "Unknown"
    container = pod.container(main)
    if pod.containers and container is None:
        return f"no `{main}` container"
    if container is not None and container.state != "running":
        reason = f" ({container.state_reason})" if container.state_reason else ""
        return f"`{main}` is {container.state}{reason}"
    return None


async def _check_one(pod: PodInfo, *, exec: PodExec, policy: Policy, gate: asyncio.Semaphore) -> FleetRow:
    row = FleetRow(
        pod=pod.name,
        workflow=pod.labels.get(policy.pods.workflow_label),
        stage=pod.labels.get(policy.pods.stage_label, ""),
        state=FleetState.NOT_RUNNING,
    )
    reason = _not_running_reason(pod, policy.pods.main_container)
    if reason is not None:
        return _with(row, FleetState.NOT_RUNNING, reason, None)
    timeout = policy.fleet.per_pod_timeout
    async with gate:
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(
                exec.run(pod.name, policy.pods.main_container, DOCKER_INFO, timeout),
                _hard_limit(timeout),
            )
        except (ExecTimedOut, TimeoutError):
            return _with(
                row, FleetState.FAILING, f"no answer within {timeout:g}s", time.monotonic() - started
            )
        except ClusterError as e:
            elapsed = time.monotonic() - started
            if e.status == 404:
                return _with(row, FleetState.NOT_RUNNING, "gone", elapsed)
            return _with(row, FleetState.UNCHECKED, _cut(redact(e.message)), elapsed)
    if result.ok:
        return _with(row, FleetState.HEALTHY, "", result.duration)
    return _with(row, FleetState.FAILING, error_excerpt(result), result.duration)


def _with(row: FleetRow, state: FleetState, detail: str, duration: float | None) -> FleetRow:
    return replace(row, state=state, detail=detail, duration=duration)


async def check_fleet(
    *, pods: Pods, exec: PodExec, policy: Policy, concurrency: int | None = None
) -> FleetReport:
    """Check every Codex pod's daemon; rows sorted by workflow, then pod."""
    limit = concurrency or policy.fleet.concurrency
    if limit < 1:
        raise ValueError("concurrency must be at least 1")
    started_at = datetime.now(UTC)
    found = await pods.list(policy.pods.selector)
    gate = asyncio.Semaphore(limit)
    # Every check is its own task from the start; the semaphore alone decides how many exec at once.
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_check_one(p, exec=exec, policy=policy, gate=gate)) for p in found]
    except BaseExceptionGroup as eg:
        raise eg.exceptions[0] from None
    rows = [t.result() for t in tasks]
    return FleetReport(
        namespace=policy.namespace,
        selector=policy.pods.selector,
        rows=tuple(sorted(rows, key=lambda r: (r.workflow or "", r.pod))),
        started_at=started_at,
        finished_at=datetime.now(UTC),
        concurrency=limit,
    )
