"""The pod-status artifact: phase, container states, restarts, last terminations, recent Events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from handlers.artifacts import Finding, Severity
from handlers.ports import PodEvent, PodInfo
from handlers.redact import redact

RECENT_EVENTS = 50  # the newest Events shown; older ones rarely matter in an incident
_BAD_WAITING = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
}


def _when(ts: datetime | None) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "-"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def render_pod_status(pod: PodInfo, events: list[PodEvent] | None, *, workflow_label: str) -> str:
    lines = [
        f"Pod:        {pod.name}",
        f"Namespace:  {pod.namespace}",
        f"Phase:      {pod.phase}",
        f"Node:       {pod.node or '-'}",
        f"Workflow:   {pod.labels.get(workflow_label, '-')}",
        f"Created:    {_when(pod.created_at)}",
        f"Started:    {_when(pod.started_at)}",
        "",
        "Containers:",
    ]
    if pod.containers:
        rows: list[tuple[str, ...]] = [
            ("  NAME", "STATE", "REASON", "READY", "RESTARTS", "LAST TERMINATION", "STARTED")
        ]
        rows += [
            (
                f"  {c.name}",
                c.state,
                c.state_reason or "-",
                "yes" if c.ready else "no",
                str(c.restart_count),
                c.last_termination_reason or "-",
                _when(c.started_at),
            )
            for c in pod.containers
        ]
        lines += _table(rows)
    else:
        lines.append("  (no container statuses reported yet)")
    lines += ["", f"Events (newest {RECENT_EVENTS}, oldest first):"]
    if events is None:
        lines.append("  (could not be read)")
    elif not events:
        lines.append("  (none)")
    else:
        events_rows: list[tuple[str, ...]] = [("  LAST SEEN", "TYPE", "REASON", "COUNT", "MESSAGE")]
        events_rows += [
            (f"  {_when(e.last_seen)}", e.type, e.reason, str(e.count), e.message.replace("\n", " "))
            for e in recent_events(events)
        ]
        lines += _table(events_rows)
    return redact("\n".join(lines) + "\n")


def recent_events(events: list[PodEvent]) -> list[PodEvent]:
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(events, key=lambda e: e.last_seen or floor)[-RECENT_EVENTS:]


def pod_findings(pod: PodInfo, events: list[PodEvent] | None) -> list[Finding]:
    found: list[Finding] = []
    if pod.phase in ("Failed", "Unknown"):
        found.append(Finding(Severity.ERROR, f"Pod phase is {pod.phase}."))
    for c in pod.containers:
        if c.state == "terminated" and c.state_reason not in (None, "Completed"):
            found.append(Finding(Severity.ERROR, f"`{c.name}` terminated: {c.state_reason}."))
        elif c.state == "waiting" and c.state_reason in _BAD_WAITING:
            found.append(Finding(Severity.ERROR, f"`{c.name}` is waiting: {c.state_reason}."))
        if c.restart_count:
            last = f" (last termination: {c.last_termination_reason})" if c.last_termination_reason else ""
            times = "time" if c.restart_count == 1 else "times"
            found.append(Finding(Severity.WARNING, f"`{c.name}` restarted {c.restart_count} {times}{last}."))
    warnings: Counter[str] = Counter()
    for e in events or []:
        if e.type == "Warning":
            warnings[e.reason] += max(e.count, 1)
    if warnings:
        listed = ", ".join(f"{reason} ×{n}" if n > 1 else reason for reason, n in warnings.most_common(5))
        found.append(Finding(Severity.WARNING, f"Warning events: {listed}."))
    return found
