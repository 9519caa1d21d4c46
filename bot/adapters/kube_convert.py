"""Pod and Event JSON (as the API server sends it) into the port's dataclasses."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from handlers.ports import ContainerInfo, PodEvent, PodInfo

_FRACTION = re.compile(r"\.(\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """RFC3339 (``Z``, offsets, up to nanoseconds) as an aware datetime; None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(_FRACTION.sub(r".\1", value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _container(name: str, status: dict[str, Any] | None) -> ContainerInfo:
    if status is None:
        return ContainerInfo(name=name)
    state = status.get("state") or {}
    kind = next((k for k in ("running", "terminated", "waiting") if k in state), "waiting")
    detail = state.get(kind) or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    return ContainerInfo(
        name=name,
        ready=bool(status.get("ready")),
        restart_count=int(status.get("restartCount") or 0),
        state=kind,
        state_reason=detail.get("reason"),
        last_termination_reason=last.get("reason"),
        started_at=parse_time(detail.get("startedAt")),
    )


def pod_info(pod: dict[str, Any]) -> PodInfo:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
    names = [c.get("name") for c in spec.get("containers") or []]
    names += [n for n in statuses if n not in names]
    return PodInfo(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        uid=meta.get("uid", ""),
        phase=status.get("phase") or "Unknown",
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        node=spec.get("nodeName"),
        created_at=parse_time(meta.get("creationTimestamp")),
        started_at=parse_time(status.get("startTime")),
        containers=tuple(_container(n, statuses.get(n)) for n in names if n),
    )


def pod_event(event: dict[str, Any]) -> PodEvent:
    meta = event.get("metadata") or {}
    series = event.get("series") or {}
    last_seen = (
        parse_time(event.get("lastTimestamp"))
        or parse_time(series.get("lastObservedTime"))
        or parse_time(event.get("eventTime"))
        or parse_time(event.get("firstTimestamp"))
        or parse_time(meta.get("creationTimestamp"))
    )
    return PodEvent(
        type=event.get("type") or "Normal",
        reason=event.get("reason") or "",
        message=event.get("message") or "",
        count=int(event.get("count") or series.get("count") or 1),
        last_seen=last_seen,
    )
