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
    def failed_step(self) -> StepResult | None:
        return next((s for s in self.steps if s.state.bad), None)

    @property
    def suggestion(self) -> str | None:
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
