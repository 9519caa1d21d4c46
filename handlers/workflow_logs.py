"""Runbook "Workflow logs": what `argo logs <workflow>` prints, read straight from the pods.

Like argo (util/logs/workflow-logger.go): the workflow's pods by label, Pending ones skipped,
ordered by start time, the `main` container only, each line as ``<pod>: <line>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

from config.settings import Policy
from handlers.errors import CodexError
from handlers.logcapture import LogCapture
from handlers.ports import PodInfo, PodLogs, Pods


class LinePrefixer:
    """Prefixes every line of a chunked stream with ``prefix``, in C-speed bulk operations."""

    def __init__(self, prefix: bytes) -> None:
        self._prefix = prefix
        self._glue = b"\n" + prefix
        self._at_line_start = True
        self.wrote = False

    def __call__(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        self.wrote = True
        body, newline = (chunk[:-1], b"\n") if chunk.endswith(b"\n") else (chunk, b"")
        out = body.replace(b"\n", self._glue) + newline
        if self._at_line_start:
            out = self._prefix + out
        self._at_line_start = bool(newline)
        return out

    def close(self) -> bytes:
        """End of this pod's stream: terminate a last line that had no newline."""
        return b"" if self._at_line_start else b"\n"


def _start_key(pod: PodInfo) -> tuple[datetime, str]:
    started = pod.started_at or pod.created_at or datetime.max
    return (started.replace(tzinfo=None), pod.name)


def workflow_pods(pods: list[PodInfo]) -> list[PodInfo]:
    """Non-Pending pods ordered by start, as argo streams them."""
    return sorted((p for p in pods if p.phase != "Pending"), key=_start_key)


async def list_workflow_pods(workflow: str, *, pods: Pods, policy: Policy) -> list[PodInfo]:
    async with asyncio.timeout(policy.timeouts.api):
        found = await pods.list(f"{policy.pods.workflow_label}={workflow}")
    return workflow_pods(found)


async def stream_into(
    capture: LogCapture, chunks: AsyncIterator[bytes], *, idle_timeout: float, prefixer: LinePrefixer | None
) -> None:
    """Copy a log stream into the capture. A stall longer than ``idle_timeout`` raises TimeoutError."""
    it = aiter(chunks)
    try:
        while True:
            try:
                async with asyncio.timeout(idle_timeout):
                    chunk = await anext(it)
            except StopAsyncIteration:
                break
            capture.feed(prefixer(chunk) if prefixer else chunk)
    finally:
        if prefixer is not None:
            capture.feed(prefixer.close())
        close = getattr(it, "aclose", None)
        if close is not None:
            await close()


async def collect_workflow_logs(
    workflow: str, *, pods: Pods, logs: PodLogs, policy: Policy, capture: LogCapture
) -> tuple[int, list[str]]:
    """Stream every started pod's main log into ``capture``; returns (pods streamed, per-pod problems)."""
    ordered = await list_workflow_pods(workflow, pods=pods, policy=policy)
    container = policy.pods.main_container
    problems: list[str] = []
    streamed = 0
    for pod in ordered:
        prefixer = LinePrefixer(f"{pod.name}: ".encode())
        try:
            await stream_into(
                capture,
                logs.stream(pod.name, container),
                idle_timeout=policy.timeouts.api,
                prefixer=prefixer,
            )
            streamed += 1
        except CodexError as e:
            problems.append(f"{pod.name}: {e.message}")
        except TimeoutError:
            problems.append(f"{pod.name}: log stream stalled for {policy.timeouts.api:g}s; kept what arrived")
    return streamed, problems
