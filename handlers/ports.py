"""The only ways handlers reach the world. Each port is 1–3 methods so a fake is tiny.

Adapters in ``bot/adapters`` implement these on the official SDKs; tests use in-memory
fakes or the fake servers. Every method is bounded by a timeout in the adapter.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class ExecResult:
    """One finished (or abandoned) command in a container."""

    stdout: str
    stderr: str
    exit_code: int | None  # None when timed out or the Status frame was missing
    duration: float  # seconds
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def output(self) -> str:
        return self.stdout + (self.stderr if not self.stdout else ("\n" + self.stderr if self.stderr else ""))


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    ready: bool = False
    restart_count: int = 0
    state: str = "waiting"  # running | waiting | terminated
    state_reason: str | None = None
    last_termination_reason: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class PodInfo:
    name: str
    namespace: str
    uid: str
    phase: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    node: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    containers: tuple[ContainerInfo, ...] = ()

    def container(self, name: str) -> ContainerInfo | None:
        return next((c for c in self.containers if c.name == name), None)

    @property
    def restarts(self) -> int:
        return sum(c.restart_count for c in self.containers)


@dataclass(frozen=True)
class PodEvent:
    type: str  # Normal | Warning
    reason: str
    message: str
    count: int = 1
    last_seen: datetime | None = None


class PodExec(Protocol):
    async def run(self, pod: str, container: str, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run ``argv`` (never a shell string built from user text). Raises ClusterError."""
        ...


class Pods(Protocol):
    async def get(self, name: str) -> PodInfo | None:
        """The pod in the configured namespace, or None when it does not exist."""
        ...

    async def list(self, selector: str) -> list[PodInfo]: ...

    async def events(self, name: str) -> builtins.list[PodEvent]:
        """Recent Events whose involvedObject is this pod."""
        ...


class PodLogs(Protocol):
    def stream(
        self, pod: str, container: str, *, since_seconds: int | None = None, tail_lines: int | None = None
    ) -> AsyncIterator[bytes]:
        """Log bytes in chunks, so callers hold bounded memory."""
        ...


class ClusterObjects(Protocol):
    """Custom objects and ConfigMaps, as plain JSON-like dicts."""

    async def list(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        """kind: workflows | workflowtemplates | cronworkflows | policyreports | configmaps.
        Raises NotFound when the resource type (CRD) is not installed."""
        ...

    async def get(self, kind: str, name: str) -> dict[str, Any] | None: ...

    async def patch(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Merge patch. A ``metadata.resourceVersion`` in body makes it conditional (409 -> Conflict)."""
        ...

    async def replace(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT the whole object (resourceVersion required; stale -> Conflict). Used to restore exactly."""
        ...


# A comment's text, or a function that writes it within the room given (characters) — how a
# section of a shared comment fits into what the rest of that comment leaves.
CommentBody = str | Callable[[int], str]


class IssueTracker(Protocol):
    async def upsert_comment(
        self, repo: str, number: int, marker: str, body: CommentBody, *, section: str | None = None
    ) -> str:
        """Create the comment, or edit the one carrying ``marker``. Returns its URL.

        With ``section``, only that delimited part of the marked comment is replaced (or appended):
        the rest of a shared comment, such as the issue's progress comment, is kept. A callable
        ``body`` is given the room left (characters) once the rest of the comment is known."""
        ...


@dataclass(frozen=True)
class PullRequestRef:
    number: int
    url: str  # html_url, for people


class PullRequests(Protocol):
    """A GitOps repository: read template files, propose a change as a pull request."""

    async def read_files(self, repo: str, ref: str, folder: str) -> dict[str, str]: ...

    async def open_pull_request(
        self, repo: str, base: str, branch: str, files: Mapping[str, str], title: str, body: str
    ) -> PullRequestRef: ...


class Progress(Protocol):
    """Live progress of a long operation (one Slack message, a terminal line, …)."""

    async def update(self, snapshot: Any) -> None: ...
