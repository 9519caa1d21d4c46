"""Result objects of "Collecting Diagnostics": one Artifact per runbook item, and the bundle."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class ArtifactStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"  # the bot tried and the cluster refused, timed out or broke off
    UNAVAILABLE = "unavailable"  # nothing to collect (CRD absent, container not started, …)


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class ArtifactKey(enum.StrEnum):
    """Stable ids; also the stem of the file attached in Slack."""

    POD_STATUS = "pod-status"
    DAEMON_LOGS = "daemon-logs"
    WORKFLOW_LOGS = "workflow-logs"
    VOLUME_USAGE = "volume-usage"
    KYVERNO = "kyverno"


def human_bytes(n: float) -> str:
    """1024-based, one decimal, trailing .0 dropped: 812.4 MB, 10 MB, 512 B."""
    units = ("B", "KB", "MB", "GB", "TB")
    value = float(n)
    for unit in units:
        if abs(value) < 1024 or unit == units[-1]:
            text = f"{value:.1f}".removesuffix(".0") if unit != "B" else str(int(value))
            return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Cut:
    """What the head+tail capture dropped from the middle of a stream."""

    cut_bytes: int
    cut_lines: int
    head_bytes: int
    tail_bytes: int

    @property
    def marker(self) -> str:
        return (
            f"… [cut {human_bytes(self.cut_bytes)} ({self.cut_lines:,} lines) — kept first "
            f"{human_bytes(self.head_bytes)} and last {human_bytes(self.tail_bytes)}] …"
        )


@dataclass(frozen=True)
class Artifact:
    """One collected item. ``content`` is redacted UTF-8, at most the cap (plus a cut marker line).

    Bytes, not str: a log with one non-ASCII character would make a str 2–4 bytes a character.
    """

    key: ArtifactKey
    title: str
    command: str  # what the runbook would have you type
    status: ArtifactStatus
    content: bytes = b""
    reason: str | None = None  # why failed/unavailable, one sentence
    hint: str | None = None
    source_bytes: int = 0  # bytes read from the cluster, before any cut
    source_lines: int = 0
    cut: Cut | None = None
    notes: tuple[str, ...] = ()  # partial problems that did not fail the artifact

    @property
    def ok(self) -> bool:
        return self.status is ArtifactStatus.OK

    @property
    def filename(self) -> str:
        ext = "log" if self.key in (ArtifactKey.DAEMON_LOGS, ArtifactKey.WORKFLOW_LOGS) else "txt"
        return f"{self.key.value}.{ext}"

    @property
    def size_bytes(self) -> int:
        """Size of what is kept (what gets attached)."""
        return len(self.content)

    @property
    def text(self) -> str:
        """The whole content decoded; for small artifacts (tests, summaries), not for logs."""
        return self.content.decode("utf-8", "replace")

    def last_lines(self, count: int) -> list[str]:
        """The last ``count`` lines, decoding only them."""
        data, end = self.content, len(self.content)
        while end and data[end - 1] == 0x0A:
            end -= 1
        start = end
        for _ in range(count):
            start = data.rfind(b"\n", 0, start)
            if start < 0:
                break
        return data[start + 1 : end].decode("utf-8", "replace").split("\n") if end else []


@dataclass(frozen=True)
class Finding:
    severity: Severity
    text: str  # one line, redacted, Markdown-safe enough for Slack mrkdwn and GitHub


@dataclass(frozen=True)
class VolumeUsage:
    path: str
    human: str  # as du printed it: "1.2G"
    bytes: int | None  # du's rounded value in bytes, None when unparsable


@dataclass(frozen=True)
class PolicyProblem:
    policy: str
    rule: str
    result: str  # fail | warn | error
    message: str
    severity: str | None = None


@dataclass(frozen=True)
class PolicyTally:
    policy: str
    counts: Mapping[str, int] = field(default_factory=dict)  # pass/fail/warn/error/skip

    def count(self, result: str) -> int:
        return self.counts.get(result, 0)

    @property
    def failing(self) -> bool:
        return self.count("fail") > 0 or self.count("error") > 0


@dataclass(frozen=True)
class KyvernoSummary:
    reports: int  # PolicyReports that concern the pod
    policies: tuple[PolicyTally, ...]
    problems: tuple[PolicyProblem, ...]
    guardrail_policy: str

    @property
    def guardrail(self) -> PolicyTally | None:
        return next((p for p in self.policies if p.policy == self.guardrail_policy), None)

    def total(self, result: str) -> int:
        return sum(p.count(result) for p in self.policies)


@dataclass(frozen=True)
class Diagnostics:
    pod: str
    namespace: str
    workflow: str | None
    phase: str | None
    since_seconds: int
    started_at: datetime
    finished_at: datetime
    artifacts: tuple[Artifact, ...]
    findings: tuple[Finding, ...] = ()
    volume: VolumeUsage | None = None
    kyverno: KyvernoSummary | None = None

    def artifact(self, key: ArtifactKey) -> Artifact | None:
        return next((a for a in self.artifacts if a.key is key), None)

    @property
    def problems(self) -> tuple[Artifact, ...]:
        return tuple(a for a in self.artifacts if a.status is ArtifactStatus.FAILED)

    @property
    def cut_artifacts(self) -> tuple[Artifact, ...]:
        return tuple(a for a in self.artifacts if a.cut is not None)
