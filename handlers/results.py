"""Frozen result objects returned by handlers; renderers turn them into Slack/Markdown/terminal."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime


class StepState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMED_OUT = "timed out"

    @property
    def finished(self) -> bool:
        return self not in (StepState.PENDING, StepState.RUNNING)

    @property
    def bad(self) -> bool:
        return self in (StepState.FAILED, StepState.TIMED_OUT)


@dataclass(frozen=True)
class StepResult:
    """One runbook step: what ran where, how it ended, and all of its (redacted) output."""

    key: str  # stable id, also the attachment's file stem: "env", "docker-info", …
    title: str
    container: str
    argv: tuple[str, ...]
    state: StepState = StepState.PENDING
    exit_code: int | None = None
    duration: float | None = None
    output: str = ""
    detail: str = ""  # one line for the user: "DOCKER_TLS_VERIFY is '1', expected '0'"
    api_error_hint: str | None = None  # set when the bot could not run the step at all (RBAC, API down)

    def with_(self, **changes: object) -> StepResult:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def command(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class Validation:
    pod: str
    namespace: str
    workflow: str | None
    steps: tuple[StepResult, ...]
    started_at: datetime
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def passed(self) -> bool:
        return self.finished and all(s.state in (StepState.PASSED,) for s in self.steps)

    @property
    def failed_steps(self) -> tuple[StepResult, ...]:
        return tuple(s for s in self.steps if s.state.bad)

    @property
    def api_error(self) -> StepResult | None:
        return next((s for s in self.steps if s.api_error_hint is not None), None)

    @property
    def failed_step(self) -> StepResult | None:
        """The root cause to act on: a wrong environment explains every later failure; else a dead
        daemon (`docker info`) explains the other docker steps; else the first failure."""
        if self.api_error is not None:
            return self.api_error
        failed = {s.key: s for s in self.failed_steps}
        for key in ("env", "docker-info"):
            if key in failed:
                return failed[key]
        return self.failed_steps[0] if self.failed_steps else None

    @property
    def suggestion(self) -> str | None:
        blocked = self.api_error
        if blocked is not None:
            hint = blocked.api_error_hint or ""
            return f"The bot could not run commands in the pod. {hint[:1].upper()}{hint[1:]}".strip()
        failed = self.failed_step
        if failed is None:
            return None
        if failed.key == "docker-info":
            return f"The Docker daemon does not answer. Try `/codex restart {self.pod}` (needs approval)."
        if failed.key == "env":
            return "Fix the pod's environment in its WorkflowTemplate, then re-run the workflow."
        if failed.state is StepState.TIMED_OUT:
            return f"`{failed.command}` did not finish in time; check `/codex diagnostics {self.pod}`."
        return f"See the attached output of `{failed.command}` and `/codex diagnostics {self.pod}`."


@dataclass(frozen=True)
class PodRow:
    name: str
    stage: str
    workflow: str | None
    phase: str
    age_seconds: float | None
    restarts: int
    node: str | None


@dataclass(frozen=True)
class PodListing:
    namespace: str
    selector: str
    pods: tuple[PodRow, ...] = field(default_factory=tuple)


# --- Restart (runbook "Restarting the Rootless Daemon"; handlers/restart.py) -------------------


@dataclass(frozen=True)
class PlannedExec:
    """One command the restart runs, exactly as it will be sent (what `--dry-run` shows)."""

    key: str
    title: str
    container: str
    argv: tuple[str, ...]
    timeout: float  # seconds
    ok_exit_codes: tuple[int, ...] = (0,)
    note: str = ""

    def pending(self) -> StepResult:
        return StepResult(key=self.key, title=self.title, container=self.container, argv=self.argv)


@dataclass(frozen=True)
class RestartTarget:
    """What an approval is bound to: the pod by UID, and its sidecar's restart count when asked."""

    pod: str
    uid: str
    restart_count_before: int


@dataclass(frozen=True)
class RestartContext:
    """What approvers see before saying yes, and what `--dry-run` shows."""

    pod: str
    namespace: str
    uid: str
    workflow: str | None
    docker_restart_count: int
    docker_info: StepResult  # current status; a failure here is information, not an error
    log_tail: str  # last sidecar log lines, redacted
    log_error: str | None  # why the log tail could not be read, if it could not
    plan: tuple[PlannedExec, ...]

    @property
    def target(self) -> RestartTarget:
        return RestartTarget(self.pod, self.uid, self.docker_restart_count)

    @property
    def daemon_ok(self) -> bool:
        return self.docker_info.state is StepState.PASSED


class RestartState(enum.StrEnum):
    READY = "ready"
    FAILED = "failed"
    ABORTED = "aborted"  # nothing was run


class RestartStage(enum.StrEnum):
    STOPPING = "stopping the daemon"
    STARTING = "starting the daemon"
    WAITING = "waiting for docker info"


@dataclass(frozen=True)
class RestartProgress:
    """Snapshot passed to ``Progress.update`` while a restart runs."""

    pod: str
    stage: RestartStage
    steps: tuple[StepResult, ...]  # stop and start, as far as they ran
    elapsed: float  # seconds since polling began (0 before)
    attempts: int  # polls so far
    timeout: float  # seconds the polling may take
    last_error: str = ""
    container_restarted: bool = False


@dataclass(frozen=True)
class Restarted:
    pod: str
    namespace: str
    uid: str
    state: RestartState
    reason: str  # one sentence for the user, whatever the state
    started_at: datetime
    finished_at: datetime
    steps: tuple[StepResult, ...] = ()  # stop and start (start is SKIPPED if the container restarted)
    polls: tuple[StepResult, ...] = ()  # every `docker info` exec, in order
    attempts: int = 0  # polls, including those that found the container not running
    ready_after: float | None = None  # seconds from the first poll to success
    container_restarted: bool = False
    log_tail: str = ""  # sidecar's last log lines (redacted), collected on failure

    @property
    def ready(self) -> bool:
        return self.state is RestartState.READY

    @property
    def execs(self) -> tuple[StepResult, ...]:
        """Every command actually sent to the pod, in order (for the audit log)."""
        return tuple(s for s in self.steps if s.state is not StepState.SKIPPED) + self.polls

    @property
    def last_docker_info(self) -> str:
        return self.polls[-1].output if self.polls else ""
