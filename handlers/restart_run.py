"""The restart's moving parts: bounded execs, the log tail, and the stop/start/poll state machine.

``handlers.restart`` is the public entry point; this module keeps it within its size budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from config.settings import Policy
from handlers.errors import CodexError, ExecTimedOut
from handlers.ports import ExecResult, PodExec, PodInfo, PodLogs, Pods, Progress
from handlers.redact import redact
from handlers.results import (
    PlannedExec,
    Restarted,
    RestartProgress,
    RestartStage,
    RestartState,
    RestartTarget,
    StepResult,
    StepState,
)

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 20  # sidecar log lines shown in the approval request and failure report
LOG_TAIL_MAX_BYTES = 256 * 1024  # memory bound while reading them, in case of very long lines
EXEC_GRACE = 5.0  # s on top of an exec's own timeout, in case an adapter overruns it
MIN_POLL_TIMEOUT = 1.0  # s; the last poll before the deadline still gets this long


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


def _step(planned: PlannedExec, result: ExecResult) -> StepResult:
    output = redact(result.output)
    done = planned.pending().with_(exit_code=result.exit_code, duration=result.duration, output=output)
    if result.timed_out:
        return done.with_(state=StepState.TIMED_OUT, detail=f"no answer within {planned.timeout:g} s")
    if result.exit_code in planned.ok_exit_codes:
        return done.with_(state=StepState.PASSED, detail=planned.note if result.exit_code else "")
    code = "no exit status" if result.exit_code is None else f"exit {result.exit_code}"
    # The error is usually stderr's first line ("Cannot connect to the Docker daemon …"), not the
    # last line of the combined output ("errors pretty printing info").
    lines = [ln for ln in redact(result.stderr).splitlines() if ln.strip()]
    why = lines[0] if lines else next((ln for ln in reversed(output.splitlines()) if ln.strip()), "")
    return done.with_(state=StepState.FAILED, detail=f"{code}: {why[:200]}" if why else code)


async def run_planned(exec: PodExec, pod: str, planned: PlannedExec, clock: Clock) -> StepResult:
    """Run one planned exec, bounded even if the adapter overruns; errors become a failed step."""
    started = clock.monotonic()
    try:
        result = await asyncio.wait_for(
            exec.run(pod, planned.container, planned.argv, planned.timeout), planned.timeout + EXEC_GRACE
        )
    except (TimeoutError, ExecTimedOut):
        took = clock.monotonic() - started
        detail = f"no answer within {planned.timeout:g} s"
        return planned.pending().with_(state=StepState.TIMED_OUT, duration=took, detail=detail)
    except CodexError as e:
        took = clock.monotonic() - started
        return planned.pending().with_(state=StepState.FAILED, duration=took, detail=e.message)
    return _step(planned, result)


async def read_log_tail(
    logs: PodLogs, pod: str, container: str, *, seconds: float, lines: int = LOG_TAIL_LINES
) -> tuple[str, str | None]:
    """(last ``lines`` lines redacted, error or None). Partial text is kept when reading fails."""
    buf = bytearray()
    error: str | None = None
    try:
        async with asyncio.timeout(seconds):
            async for chunk in logs.stream(pod, container, tail_lines=lines):
                buf += chunk
                del buf[:-LOG_TAIL_MAX_BYTES]
    except TimeoutError:
        error = f"reading the `{container}` logs took over {seconds:g} s"
    except CodexError as e:
        error = e.message
    text = redact(buf.decode("utf-8", errors="replace"))
    return "\n".join(text.splitlines()[-lines:]), error


def target_problem(target: RestartTarget, pod: PodInfo | None, policy: Policy) -> str | None:
    """Why the approved target can no longer be restarted, or None when it still can."""
    if pod is None:
        return f"pod `{target.pod}` no longer exists"
    if pod.uid != target.uid:
        return f"pod `{target.pod}` was replaced (UID {target.uid} is now {pod.uid})"
    if pod.phase != "Running":
        return f"pod `{target.pod}` is {pod.phase}, not Running"
    if pod.container(policy.pods.docker_container) is None:
        return f"pod `{target.pod}` has no `{policy.pods.docker_container}` container"
    return None


@dataclass(frozen=True)
class _Seen:
    """What one look at the pod (and maybe one `docker info`) told us."""

    fatal: str | None = None  # stop now: the pod is gone, replaced or ended
    waiting: str | None = None  # cannot exec yet: the pod or a container is not running
    ready: bool = False


class RestartRun:
    """One restart's bookkeeping; frozen into a ``Restarted`` at the end."""

    def __init__(
        self,
        target: RestartTarget,
        ports: tuple[Pods, PodExec, PodLogs, Progress],
        plan: tuple[PlannedExec, PlannedExec, PlannedExec],
        policy: Policy,
        clock: Clock,
    ) -> None:
        self.target, self.plan, self.policy, self.clock = target, plan, policy, clock
        self.pods, self.exec, self.logs, self.progress = ports
        self.started_at = clock.now()
        self.steps: list[StepResult] = []
        self.polls: list[StepResult] = []
        self.attempts = 0
        self.last_error = ""
        self.baseline = target.restart_count_before
        self.container_restarted = False

    async def run(self) -> Restarted:
        problem = await self._precheck()
        if problem is not None:
            return self._finish(RestartState.ABORTED, f"{problem}; nothing was run")
        stop, start, info = self.plan
        await self._report(RestartStage.STOPPING)
        stopped = await self._exec(stop)
        failure = await self._start_daemon(stopped, start)
        if failure is not None:
            return await self._fail(failure)
        return await self._wait_ready(info)

    async def _get_pod(self) -> PodInfo | None:
        return await asyncio.wait_for(self.pods.get(self.target.pod), self.policy.timeouts.api)

    async def _precheck(self) -> str | None:
        try:
            pod = await self._get_pod()
        except (CodexError, TimeoutError) as e:
            return f"could not re-read pod `{self.target.pod}` ({_why(e, self.policy.timeouts.api)})"
        problem = target_problem(self.target, pod, self.policy)
        sidecar = pod.container(self.policy.pods.docker_container) if pod else None
        if problem is None and sidecar is not None:
            # A restart between the request and now is not ours; count only those from here on.
            self.baseline = max(self.baseline, sidecar.restart_count)
        return problem

    async def _observe(self) -> _Seen:
        try:
            pod = await self._get_pod()
        except (CodexError, TimeoutError) as e:
            log.warning("restart %s: could not read the pod: %s", self.target.pod, _why(e, 0))
            return _Seen()  # unknown; the next exec will tell
        name = self.target.pod
        if pod is None:
            return _Seen(fatal=f"pod `{name}` disappeared during the restart")
        if pod.uid != self.target.uid:
            return _Seen(fatal=f"pod `{name}` was replaced during the restart (new UID {pod.uid})")
        if pod.phase in ("Succeeded", "Failed"):
            return _Seen(fatal=f"pod `{name}` ended ({pod.phase}) during the restart")
        sidecar = pod.container(self.policy.pods.docker_container)
        if sidecar is not None and sidecar.restart_count > self.baseline:
            self.container_restarted = True
        if pod.phase != "Running":
            return _Seen(waiting=f"pod is {pod.phase}")
        for container in (self.policy.pods.main_container, self.policy.pods.docker_container):
            c = pod.container(container)
            if c is None or c.state != "running":
                why = f" ({c.state_reason})" if c is not None and c.state_reason else ""
                return _Seen(waiting=f"the `{container}` container is {c.state if c else 'missing'}{why}")
        return _Seen()

    async def _start_daemon(self, stopped: StepResult, start: PlannedExec) -> str | None:
        """Start the daemon unless the container restarted instead; why to give up, or None."""
        seen = await self._observe()
        if seen.fatal is not None:
            return seen.fatal
        if self.container_restarted or seen.waiting is not None:
            why = seen.waiting or "the container restarted"
            detail = f"skipped: {why}; the container's own entrypoint starts the daemon"
            self.steps.append(start.pending().with_(state=StepState.SKIPPED, detail=detail))
            return None
        if stopped.state is not StepState.PASSED:
            return f"could not stop the daemon: {stopped.detail}"
        await self._report(RestartStage.STARTING)
        started = await self._exec(start)
        if started.state is StepState.PASSED:
            return None
        seen = await self._observe()
        if seen.fatal is not None:
            return seen.fatal
        if self.container_restarted or seen.waiting is not None:
            return None  # the exec failed because the container was restarting; wait for it
        return f"could not start the daemon: {started.detail}"

    async def _wait_ready(self, info: PlannedExec) -> Restarted:
        t = self.policy.timeouts
        begun = self.clock.monotonic()
        deadline = begun + t.restart_ready
        while True:
            attempt_at = self.clock.monotonic()
            seen = await self._poll(info, deadline)
            elapsed = self.clock.monotonic() - begun
            await self._report(RestartStage.WAITING, elapsed)
            if seen.fatal is not None:
                return await self._fail(seen.fatal)
            if seen.ready:
                prefix = "container restarted; " if self.container_restarted else ""
                reason = f"{prefix}ready after {_seconds(elapsed)}"
                return self._finish(RestartState.READY, reason, ready_after=elapsed)
            now = self.clock.monotonic()
            if now >= deadline:
                return await self._fail(
                    f"`docker info` did not succeed within {t.restart_ready:g} s "
                    f"({self.attempts} attempts); last error: {self.last_error}"
                )
            await self.clock.sleep(max(0.0, min(attempt_at + t.restart_poll_interval, deadline) - now))

    async def _poll(self, info: PlannedExec, deadline: float) -> _Seen:
        self.attempts += 1
        seen = await self._observe()
        if seen.fatal is not None or seen.waiting is not None:
            self.last_error = seen.waiting or ""
            return seen
        remaining = deadline - self.clock.monotonic()
        probe = replace(info, timeout=min(info.timeout, max(remaining, MIN_POLL_TIMEOUT)))
        step = await run_planned(self.exec, self.target.pod, probe, self.clock)
        self.polls.append(step)
        ready = step.state is StepState.PASSED
        self.last_error = "" if ready else (step.detail or "`docker info` failed")
        return _Seen(ready=ready)

    async def _exec(self, planned: PlannedExec) -> StepResult:
        step = await run_planned(self.exec, self.target.pod, planned, self.clock)
        self.steps.append(step)
        return step

    async def _report(self, stage: RestartStage, elapsed: float = 0.0) -> None:
        snapshot = RestartProgress(
            pod=self.target.pod,
            stage=stage,
            steps=tuple(self.steps),
            elapsed=elapsed,
            attempts=self.attempts,
            timeout=self.policy.timeouts.restart_ready,
            last_error=self.last_error,
            container_restarted=self.container_restarted,
        )
        try:
            await asyncio.wait_for(self.progress.update(snapshot), self.policy.timeouts.api)
        except (CodexError, TimeoutError) as e:
            # Progress is a courtesy; the restart goes on and the final result still gets posted.
            log.warning("restart %s: progress update failed: %s", self.target.pod, _why(e, 0))

    async def _fail(self, reason: str) -> Restarted:
        docker = self.policy.pods.docker_container
        tail, error = await read_log_tail(
            self.logs, self.target.pod, docker, seconds=self.policy.timeouts.api
        )
        if error is not None:
            tail = f"{tail}\n(could not read all of the `{docker}` logs: {error})".lstrip("\n")
        return self._finish(RestartState.FAILED, reason, log_tail=tail)

    def _finish(
        self, state: RestartState, reason: str, *, ready_after: float | None = None, log_tail: str = ""
    ) -> Restarted:
        return Restarted(
            pod=self.target.pod,
            namespace=self.policy.namespace,
            uid=self.target.uid,
            state=state,
            reason=reason,
            started_at=self.started_at,
            finished_at=self.clock.now(),
            steps=tuple(self.steps),
            polls=tuple(self.polls),
            attempts=self.attempts,
            ready_after=ready_after,
            container_restarted=self.container_restarted,
            log_tail=log_tail,
        )


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _why(e: Exception, timeout: float) -> str:
    return e.message if isinstance(e, CodexError) else f"no answer within {timeout:g} s"
