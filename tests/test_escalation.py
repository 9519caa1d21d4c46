"""Escalation decision, page-once incident state, webhook payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from config.settings import EscalationPolicy, Policy
from handlers.escalation import escalation_event, next_incident_state, page_sent, should_escalate
from handlers.fleet import FleetReport, FleetRow, FleetState

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
POLICY = Policy(escalation=EscalationPolicy(failing_workflows_threshold=2, quiet_seconds=600))


def report(failing: dict[str, str | None], healthy: int = 3, unchecked: int = 0) -> FleetReport:
    """``failing`` maps pod -> workflow."""
    rows = [
        FleetRow(p, wf, "build", FleetState.FAILING, "ERROR: Cannot connect", 0.1)
        for p, wf in failing.items()
    ]
    rows += [FleetRow(f"ok-{i}", f"wf-ok-{i}", "build", FleetState.HEALTHY, "", 0.1) for i in range(healthy)]
    rows += [
        FleetRow(f"u-{i}", "wf-u", "build", FleetState.UNCHECKED, "forbidden", 0.1) for i in range(unchecked)
    ]
    return FleetReport("argo-workflows", "codex.stage", tuple(rows), T0, T0 + timedelta(seconds=2), 16)


BROKEN = report({"a-1": "wf-a", "b-1": "wf-b"})
ONE_WORKFLOW = report({"a-1": "wf-a", "a-2": "wf-a"})
HEALTHY = report({})


def test_escalates_only_when_failing_pods_span_the_threshold_of_workflows() -> None:
    assert should_escalate(BROKEN, POLICY)
    assert not should_escalate(ONE_WORKFLOW, POLICY)
    assert not should_escalate(HEALTHY, POLICY)
    assert should_escalate(ONE_WORKFLOW, Policy(escalation=EscalationPolicy(failing_workflows_threshold=1)))


def run(sequence: list[tuple[float, FleetReport]], *, delivered: bool = True) -> list[bool]:
    """Feed reports at T0+seconds through the state machine, round-tripping state through JSON;
    each page asked for is recorded as sent when ``delivered``, as the caller does."""
    state = None
    pages = []
    for seconds, rep in sequence:
        now = T0 + timedelta(seconds=seconds)
        state, page = next_incident_state(state, rep, now, POLICY)
        if page and delivered:
            state = page_sent(state, now, complete=True)
        state = json.loads(json.dumps(state))
        pages.append(page)
    return pages


def test_one_incident_pages_once_while_it_lasts() -> None:
    assert run([(0, BROKEN), (60, BROKEN), (120, ONE_WORKFLOW), (180, BROKEN), (3600, BROKEN)]) == [
        True,
        False,
        False,
        False,
        False,
    ]


def test_pages_again_only_after_healthy_for_quiet_seconds() -> None:
    # healthy from 60 s; at 600 s that is 540 s < 600 s of quiet, so the relapse is the same incident
    assert run([(0, BROKEN), (60, HEALTHY), (300, HEALTHY), (600, BROKEN)]) == [True, False, False, False]
    # healthy from 60 s to 660 s (600 s of quiet) closes the incident; the next one pages
    assert run([(0, BROKEN), (60, HEALTHY), (660, HEALTHY), (700, BROKEN)]) == [True, False, False, True]
    # a relapse restarts the healthy clock
    seq = [(0, BROKEN), (60, HEALTHY), (500, BROKEN), (560, HEALTHY), (700, HEALTHY), (800, BROKEN)]
    assert run(seq) == [True, False, False, False, False, False]


def test_a_workflow_still_failing_below_the_threshold_is_not_healthy() -> None:
    # one workflow keeps failing for far longer than the quiet time: the incident lasts
    seq = [(0, BROKEN), (60, ONE_WORKFLOW), (700, ONE_WORKFLOW), (800, BROKEN)]
    assert run(seq) == [True, False, False, False]
    # the quiet clock starts only once no pod fails at all
    seq = [(0, BROKEN), (60, ONE_WORKFLOW), (700, HEALTHY), (1000, BROKEN), (1300, HEALTHY), (1900, BROKEN)]
    assert run(seq) == [True, False, False, False, False, True]


def test_a_page_that_did_not_go_out_is_asked_for_again_until_it_does() -> None:
    assert run([(0, BROKEN), (60, BROKEN), (120, BROKEN)], delivered=False) == [True, True, True]
    state, page = next_incident_state(None, BROKEN, T0, POLICY)
    assert page and state["page_pending"] and state["paged_at"] is None
    later = T0 + timedelta(seconds=60)
    partly = page_sent(state, later, complete=False)  # e.g. the webhook got it, Slack did not
    assert partly["paged_at"] == later.isoformat()
    again, page = next_incident_state(partly, BROKEN, T0 + timedelta(seconds=120), POLICY)
    assert page and again["paged_at"] == later.isoformat()
    done = page_sent(again, T0 + timedelta(seconds=120), complete=True)
    assert done["paged_at"] == later.isoformat()  # the first delivery is when the on-call heard
    _, page = next_incident_state(done, BROKEN, T0 + timedelta(seconds=180), POLICY)
    assert not page


def test_a_relapse_after_a_long_unobserved_healthy_gap_is_a_new_incident() -> None:
    # on-demand checks only: healthy at 60 s, nobody looked until 2 h later
    assert run([(0, BROKEN), (60, HEALTHY), (7200, BROKEN)]) == [True, False, True]


def test_zero_quiet_seconds_closes_on_the_first_healthy_check() -> None:
    policy = Policy(escalation=EscalationPolicy(quiet_seconds=0))
    state, page = next_incident_state(None, BROKEN, T0, policy)
    state, _ = next_incident_state(state, HEALTHY, T0 + timedelta(seconds=1), policy)
    _, page = next_incident_state(state, BROKEN, T0 + timedelta(seconds=2), policy)
    assert page


def test_a_report_where_no_daemon_answered_changes_nothing() -> None:
    state, _ = next_incident_state(None, BROKEN, T0, POLICY)
    blind = report({}, healthy=0, unchecked=5)
    later = T0 + timedelta(hours=2)
    same, page_again = next_incident_state(state, blind, later, POLICY)
    assert same == state and not page_again
    # nor does it start the healthy clock
    assert run([(0, BROKEN), (60, blind), (601, blind), (700, BROKEN)]) == [True, False, False, False]


def test_open_incident_keeps_caller_keys_and_collects_workflows() -> None:
    state, _ = next_incident_state(None, BROKEN, T0, POLICY)
    state["slack_ts"] = "1714565012.000200"
    state, _ = next_incident_state(
        state, report({"c-1": "wf-c", "a-1": "wf-a"}), T0 + timedelta(seconds=60), POLICY
    )
    assert state["slack_ts"] == "1714565012.000200"
    assert state["workflows"] == ["wf-a", "wf-b", "wf-c"]
    assert state["status"] == "open" and state["opened_at"] == T0.isoformat()


def test_webhook_event_carries_what_the_on_call_needs_and_is_json() -> None:
    incident, _ = next_incident_state(None, BROKEN, T0, POLICY)
    event = json.loads(json.dumps(escalation_event(BROKEN, POLICY, incident=incident)))
    assert event["type"] == "codex.docker-sidecar.escalation"
    assert event["severity"] == "critical"
    assert event["failing_workflows"] == ["wf-a", "wf-b"]
    assert event["threshold"] == 2
    assert event["totals"] == {"pods": 5, "healthy": 3, "failing": 2, "not running": 0, "unchecked": 0}
    assert {p["pod"] for p in event["failing_pods"]} == {"a-1", "b-1"}
    assert event["failing_pods"][0]["error"] == "ERROR: Cannot connect"
    assert event["dedup_key"] == incident["incident_id"] == "argo-workflows-20250501T120000Z"
    assert "2 Codex pod(s) across 2 workflow(s)" in event["summary"]


def test_webhook_event_caps_the_pod_list_and_says_how_many_were_left_out() -> None:
    many = report({f"p-{i}": f"wf-{i}" for i in range(80)})
    event = escalation_event(many, POLICY)
    assert len(event["failing_pods"]) == 50
    assert event["failing_pods_omitted"] == 30
    assert "dedup_key" not in event
