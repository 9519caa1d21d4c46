"""Escalation step 1, second half: decide whether to page, page once per incident.

The incident state is a small JSON-able dict the caller persists between fleet checks
(the store, keyed per namespace). Everything here is pure: same inputs, same answer.

State machine::

    closed --(report escalates)--> open [page]
    open   --(report escalates, page not delivered yet)--> open [page again]
    open   --(report escalates)--> open                       (no page; healthy clock reset)
    open   --(some pod still failing, below the threshold)--> open (healthy clock reset)
    open   --(no pod failing, healthy clock < quiet_seconds)--> open (recovering)
    open   --(healthy clock >= quiet_seconds)--> closed        (the next escalation pages)

"Healthy" means no pod failing `docker info` at all: one workflow still failing is not the
end of the incident, only below the paging threshold. The healthy clock starts at the first
check with no failing pod and is taken to run until a check shows otherwise: with checks
sparser than ``quiet_seconds`` (on-demand `/codex fleet` only), a relapse after a long
healthy gap is a new incident.

An incident opens with ``page_pending`` set and ``paged_at`` empty; the caller records the
page with ``page_sent`` once it went out. While the page is pending, every escalating check
asks for it again, so a page that failed (Slack down, a wrong channel) is retried instead of
being taken for delivered until the quiet time has passed.

A report in which no daemon answered at all (every check refused by the API, or no pods)
is no evidence either way, so it leaves the state as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from config.settings import Policy
from handlers.fleet import FleetReport

EVENT_TYPE = "codex.docker-sidecar.escalation"
EVENT_VERSION = 1
MAX_EVENT_PODS = 50  # a paging service needs the gist, not 300 rows

OPEN = "open"
CLOSED = "closed"


def should_escalate(report: FleetReport, policy: Policy) -> bool:
    """Failing pods span at least the configured number of distinct workflows."""
    return len(report.failing_workflows) >= policy.escalation.failing_workflows_threshold


def next_incident_state(
    prev: dict[str, Any] | None, report: FleetReport, now: datetime, policy: Policy
) -> tuple[dict[str, Any], bool]:
    """The incident state after ``report``, and whether to page now.

    Keys the caller added to the state (e.g. the Slack message of the page) are kept
    while the incident stays open.
    """
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    state: dict[str, Any] = dict(prev) if prev else {"status": CLOSED}
    if report.checked == 0:
        return state, False
    stamp = now.isoformat()
    if state.get("status") == OPEN and _quiet_for(state, now) >= policy.escalation.quiet_seconds:
        state = _closed(state, state["healthy_since"])
    escalating = should_escalate(report, policy)
    if state.get("status") != OPEN:
        if not escalating:
            return {**state, "last_check_at": stamp}, False
        return _opened(report, now, policy), True
    if escalating:
        seen = set(state.get("workflows", [])) | set(report.failing_workflows)
        state.update(healthy_since=None, workflows=sorted(seen), last_check_at=stamp)
        return state, bool(state.get("page_pending"))
    if report.failing:
        state.update(healthy_since=None, last_check_at=stamp)
        return state, False
    state.update(healthy_since=state.get("healthy_since") or stamp, last_check_at=stamp)
    if _quiet_for(state, now) >= policy.escalation.quiet_seconds:
        return {**_closed(state, stamp), "last_check_at": stamp}, False
    return state, False


def _quiet_for(state: dict[str, Any], now: datetime) -> float:
    """Seconds since the fleet was first seen healthy again (health assumed to hold until seen otherwise)."""
    since = state.get("healthy_since")
    return (now - datetime.fromisoformat(since)).total_seconds() if since else -1.0


def _opened(report: FleetReport, now: datetime, policy: Policy) -> dict[str, Any]:
    stamp = now.isoformat()
    return {
        "status": OPEN,
        "incident_id": f"{policy.namespace}-{now.strftime('%Y%m%dT%H%M%SZ')}",
        "opened_at": stamp,
        "paged_at": None,  # set by page_sent once the page went out
        "page_pending": True,
        "last_check_at": stamp,
        "healthy_since": None,
        "workflows": list(report.failing_workflows),
    }


def page_sent(state: dict[str, Any], now: datetime, *, complete: bool) -> dict[str, Any]:
    """Record that the page reached at least one target (``paged_at``, kept from the first
    delivery); ``complete``: every target got it, so no later check needs to page again.
    Not called when nothing went out: the incident stays ``page_pending`` and is paged again."""
    stamp = (now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)).isoformat()
    return {**state, "paged_at": state.get("paged_at") or stamp, "page_pending": not complete}


def _closed(state: dict[str, Any], closed_at: str) -> dict[str, Any]:
    return {"status": CLOSED, "closed_at": closed_at, "last_incident_id": state.get("incident_id")}


def escalation_event(
    report: FleetReport, policy: Policy, *, incident: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body the bot POSTs to ``escalation.webhook_url``. Error excerpts are already redacted."""
    failing = report.failing
    workflows = report.failing_workflows
    summary = (
        f"Docker daemon failing in {len(failing)} Codex pod(s) across {len(workflows)} workflow(s) "
        f"in namespace {report.namespace}"
    )
    event: dict[str, Any] = {
        "type": EVENT_TYPE,
        "version": EVENT_VERSION,
        "severity": "critical",
        "summary": summary,
        "namespace": report.namespace,
        "threshold": policy.escalation.failing_workflows_threshold,
        "checked_at": report.finished_at.isoformat(),
        "totals": report.totals,
        "failing_workflows": list(workflows),
        "failing_pods": [
            {"pod": r.pod, "workflow": r.workflow, "stage": r.stage, "error": r.detail}
            for r in failing[:MAX_EVENT_PODS]
        ],
        "failing_pods_omitted": max(0, len(failing) - MAX_EVENT_PODS),
    }
    if incident and incident.get("incident_id"):
        # Paging services group alerts by this key, so a re-sent event cannot page twice.
        event["dedup_key"] = incident["incident_id"]
        event["opened_at"] = incident.get("opened_at")
    return event
