"""Fleet report and escalation -> Slack blocks and terminal text."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from bot.render.blocks import Block, actions, button, capped, context, header, section
from bot.render.tables import table_blocks, text_table
from bot.surface import Attachment, Message
from config.settings import Policy
from handlers.fleet import FleetReport, FleetRow, FleetState

MAX_TABLE_ROWS = 40  # rows shown in Slack; all rows are in the attached file


class EscalationAction(enum.StrEnum):
    PAUSE = "escalation.pause_submissions"
    DIAGNOSTICS = "escalation.collect_diagnostics"


_ORDER = {FleetState.FAILING: 0, FleetState.UNCHECKED: 1, FleetState.NOT_RUNNING: 2, FleetState.HEALTHY: 3}
_MARK = {
    FleetState.HEALTHY: "ok",
    FleetState.FAILING: "FAILING",
    FleetState.NOT_RUNNING: "not running",
    FleetState.UNCHECKED: "unchecked",
}


def _rows_first_bad(report: FleetReport) -> list[FleetRow]:
    return sorted(report.rows, key=lambda r: (_ORDER[r.state], r.workflow or "", r.pod))


def fleet_table(rows: list[FleetRow]) -> str:
    heads = ("POD", "WORKFLOW", "STAGE", "STATE", "TIME", "ERROR")
    cells = [
        (r.pod, r.workflow or "-", r.stage or "-", _MARK[r.state], _secs(r.duration), r.detail or "")
        for r in rows
    ]
    return text_table(heads, cells)


def _secs(duration: float | None) -> str:
    return f"{duration:.1f}s" if duration is not None else "-"


def headline(report: FleetReport) -> str:
    t = report.totals
    if not report.rows:
        return f"Fleet: no Codex pods in {report.namespace}"
    if t["failing"]:
        wfs = len(report.failing_workflows)
        return f"Fleet: Docker failing in {t['failing']} of {t['pods']} pods ({wfs} workflow(s))"
    return f"Fleet: {t['healthy']} of {t['pods']} pods healthy"


def totals_line(report: FleetReport) -> str:
    t = report.totals
    parts = [f"{t['healthy']} healthy", f"{t['failing']} failing", f"{t['not running']} not running"]
    if t["unchecked"]:
        parts.append(f"{t['unchecked']} unchecked (the API refused the exec)")
    return f"{t['pods']} pods: " + ", ".join(parts)


def _table_blocks(rows: list[FleetRow]) -> list[Block]:
    return table_blocks(fleet_table(rows))


def fleet_message(report: FleetReport, *, requested_by: str | None = None) -> Message:
    icon = ":x:" if report.failing else ":white_check_mark:"
    meta = [
        f"namespace `{report.namespace}`",
        f"`{report.selector}`",
        f"{report.concurrency} at once",
        f"took {report.wall_seconds:.1f}s",
    ]
    if requested_by:
        meta.append(f"requested by <@{requested_by}>")
    blocks: list[Block] = [header(headline(report)), context(" · ".join(meta)), section(totals_line(report))]
    rows = _rows_first_bad(report)
    if rows:
        blocks += _table_blocks(rows[:MAX_TABLE_ROWS])
    if len(rows) > MAX_TABLE_ROWS:
        blocks.append(
            context(f"{len(rows) - MAX_TABLE_ROWS} more rows (healthy last) are in the attached file.")
        )
    terminal = f"{headline(report)}\n{totals_line(report)}\n{fleet_table(rows)}" if rows else headline(report)
    text = f"{icon} {headline(report)}"
    return Message(text=text, blocks=capped(blocks, "see the attached file"), terminal=terminal)


def needs_attachment(report: FleetReport) -> bool:
    return len(report.rows) > MAX_TABLE_ROWS


def fleet_attachment(report: FleetReport) -> Attachment:
    body = f"{headline(report)}\n{totals_line(report)}\n\n{fleet_table(_rows_first_bad(report))}\n"
    return Attachment(filename="fleet.txt", content=body.encode(), title="Fleet report (all pods)")


def escalation_message(report: FleetReport, incident: Mapping[str, Any], policy: Policy) -> Message:
    group = policy.slack.oncall_group
    mention = f"<!subteam^{group}>" if group else "On-call"
    wfs = ", ".join(f"`{w}`" for w in report.failing_workflows)
    lead = (
        f":rotating_light: {mention}: the Docker sidecar is failing `docker info` in "
        f"{len(report.failing)} pod(s) across {len(report.failing_workflows)} workflow(s): {wfs}. "
        "Runbook: pause new submissions and collect diagnostics before any rollback."
    )
    value = str(incident.get("incident_id", ""))
    blocks: list[Block] = [
        section(lead, block_id="escalation"),
        section(totals_line(report)),
        *_table_blocks(_rows_first_bad(report)[: min(MAX_TABLE_ROWS, max(1, len(report.failing)))]),
        actions(
            button("Pause submissions", EscalationAction.PAUSE, value, style="danger"),
            button("Collect diagnostics", EscalationAction.DIAGNOSTICS, value),
            block_id="escalation-actions",
        ),
        context(
            f"Incident `{value}` · threshold {policy.escalation.failing_workflows_threshold} workflows · "
            f"no new page until healthy for {policy.escalation.quiet_seconds:g}s"
        ),
    ]
    text = (
        f"{mention}: Docker failing in {len(report.failing_workflows)} Codex workflows ({report.namespace})"
    )
    terminal = f"{lead}\n{totals_line(report)}\n{fleet_table(list(report.failing))}"
    return Message(text=text, blocks=capped(blocks, "see the fleet report"), terminal=terminal)


def already_open_note(incident: Mapping[str, Any]) -> Message:
    text = (
        f":information_source: Incident `{incident.get('incident_id')}` is already open "
        f"(paged at {incident.get('paged_at')}); not paging again until the fleet has been healthy "
        "for the configured quiet time."
    )
    return Message(text=text, blocks=[context(text)])


def page_failed_note(failed: list[str], delivered: list[str], *, user: str | None = None) -> Message:
    """For whoever ran the check: the page (or part of it) did not go out, why, and what to do."""
    who = f"<@{user}> " if user else ""
    lines = [f":warning: {who}The escalation page did not go out everywhere:"]
    lines += [f"• {f}" for f in failed]
    lines.append(f"Delivered: {', '.join(delivered)}." if delivered else "Nobody has been paged.")
    lines.append(
        "Page the on-call manually now. The bot tries the page again on the next `/codex fleet` "
        "(or periodic check) while the fleet still escalates."
    )
    text = "\n".join(lines)
    return Message(text=text, blocks=[section(text)])
