"""Restart request, decision, progress and result -> Slack blocks and terminal text."""

from __future__ import annotations

import enum
import shlex
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.render.blocks import Block, actions, button, code, context, header, section
from bot.store import Approval
from bot.surface import Attachment, Message
from config.settings import Policy
from handlers.results import (
    PlannedExec,
    RestartContext,
    Restarted,
    RestartProgress,
    RestartState,
    StepResult,
    StepState,
)

REASON_LIMIT = 500  # characters of the deny reason kept (Slack modal input cap is larger)
LOG_TAIL_SHOWN = 1500  # characters of sidecar log shown in a message; the file has all of it


class RestartAction(enum.StrEnum):
    APPROVE = "restart.approve"
    DENY = "restart.deny"
    DENY_FORM = "restart.deny_reason"  # the modal's callback_id
    DENY_REASON = "reason"  # the modal's text input action_id


_STEP_MARK = {StepState.PASSED: "✔", StepState.FAILED: "✘", StepState.TIMED_OUT: "⏱", StepState.SKIPPED: "»"}


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"


def who_may_approve(policy: Policy) -> str:
    approvers = policy.approvals.approvers
    names = [f"<@{u}>" for u in approvers.users] + [f"<!subteam^{g}>" for g in approvers.groups]
    return ", ".join(names) or "nobody is configured (approvals.approvers)"


def _daemon_line(ok: bool, detail: str) -> str:
    return (
        "answering (`docker info` passed)" if ok else f"*not answering*: {detail or '`docker info` failed'}"
    )


def _plan_lines(plan: tuple[PlannedExec, ...] | list[PlannedExec]) -> list[str]:
    return [
        f"{i}. in `{p.container}`: `{shlex.join(p.argv)}`" + (f"\n    _{p.note}_" if p.note else "")
        for i, p in enumerate(plan, 1)
    ]


def _plain(text: str) -> str:
    return text.replace("*", "").replace("`", "")


def approval_payload(ctx: RestartContext, reason: str | None) -> dict[str, Any]:
    """What the request message shows, kept with the approval so it can be redrawn after a bot restart."""
    return {
        "workflow": ctx.workflow,
        "reason": reason,
        "restart_count_before": ctx.docker_restart_count,
        "daemon_ok": ctx.daemon_ok,
        "daemon_detail": ctx.docker_info.detail,
        "log_tail": ctx.log_tail or (f"(logs unavailable: {ctx.log_error})" if ctx.log_error else ""),
    }


def approval_message(approval: Approval, policy: Policy, *, outcome: str | None = None) -> Message:
    """The request in the incident channel: with buttons while pending, ``outcome`` instead after."""
    p: Mapping[str, Any] = approval.payload
    pod = approval.target["pod"]
    facts = [
        f"*Pod:* `{pod}` (namespace `{policy.namespace}`, UID `{approval.target['uid']}`)",
        f"*Workflow:* `{p.get('workflow') or '—'}`",
        f"*Requested by:* <@{approval.requester}>",
        f"*Reason:* {p.get('reason') or '_none given_'}",
        f"*Docker daemon now:* {_daemon_line(bool(p.get('daemon_ok')), str(p.get('daemon_detail') or ''))}",
    ]
    title = f"Restart the Docker daemon in {pod}?"
    blocks: list[Block] = [header(title), section("\n".join(facts), block_id="facts")]
    tail = str(p.get("log_tail") or "")
    if tail:
        blocks.append(section(f"*Last sidecar log lines:*\n{code(tail[-LOG_TAIL_SHOWN:])}", block_id="logs"))
    if outcome is None:
        blocks.append(context(f"Approvers: {who_may_approve(policy)} · expires {_when(approval.expires_at)}"))
        blocks.append(
            actions(
                button("Approve", RestartAction.APPROVE, approval.id, style="primary"),
                button("Deny", RestartAction.DENY, approval.id, style="danger"),
                block_id="decision",
            )
        )
        status = "awaiting approval"
    else:
        blocks.append(section(outcome, block_id="outcome"))
        status = _plain(outcome)
    terminal = "\n".join([title, *(_plain(f) for f in facts), *([tail] if tail else []), status])
    return Message(text=f"Restart of {pod}: {status}", blocks=blocks, terminal=terminal)


def approved_outcome(by: str, at: datetime) -> str:
    return f":white_check_mark: *Approved* by <@{by}> at {_when(at)}. Restarting…"


def denied_outcome(by: str, reason: str | None, *, withdrawn: bool = False) -> str:
    verdict = "Withdrawn" if withdrawn else "Denied"
    return f":no_entry: *{verdict}* by <@{by}>" + (f": {reason}" if reason else ".")


def _validate_hint(pod: str) -> str:
    return f"the daemon may or may not have been restarted — run `/codex validate {pod}`"


def interrupted_outcome(approval: Approval) -> str:
    """A restart whose bot process died after the approval; nothing re-runs it."""
    by = f" after approval by <@{approval.decided_by}>" if approval.decided_by else ""
    return f":warning: *Interrupted by a bot restart*{by}; {_validate_hint(approval.target['pod'])}."


def expired_outcome(approval: Approval) -> str:
    return f":hourglass: *Expired* at {_when(approval.expires_at)} without a decision. Nothing was run."


def request_notice(approval: Approval, link: str | None) -> Message:
    pod = approval.target["pod"]
    where = f"<{link}|the incident channel>" if link else "the incident channel"
    text = f":arrows_counterclockwise: <@{approval.requester}> asked to restart the Docker daemon in `{pod}`."
    text += f" Waiting for an approver in {where}; the result will be posted in this thread."
    return Message(text=text, blocks=[section(text)], terminal=_plain(text) + (f"\n{link}" if link else ""))


def denied_notice(approval: Approval, by: str, reason: str | None) -> Message:
    pod = approval.target["pod"]
    text = f":no_entry: <@{approval.requester}>, your restart of `{pod}` was denied by <@{by}>"
    text += f": {reason}" if reason else " (no reason given)."
    return Message(text=text, blocks=[section(text)], terminal=_plain(text))


def withdrawn_notice(approval: Approval, reason: str | None) -> Message:
    pod = approval.target["pod"]
    text = f":no_entry: <@{approval.requester}>, you withdrew your restart of `{pod}`"
    text += f": {reason}" if reason else ". Nothing was run."
    return Message(text=text, blocks=[section(text)], terminal=_plain(text))


def interrupted_notice(approval: Approval) -> Message:
    pod = approval.target["pod"]
    text = (
        f":warning: <@{approval.requester}>, your restart of `{pod}` was interrupted by a bot restart; "
        f"{_validate_hint(pod)}. It is not re-run automatically: ask again with `/codex restart {pod}` "
        "if it is still needed."
    )
    return Message(text=text, blocks=[section(text)], terminal=_plain(text))


def expired_notice(approval: Approval) -> Message:
    pod = approval.target["pod"]
    text = f":hourglass: <@{approval.requester}>, your restart of `{pod}` expired without a decision."
    text += " Nothing was run; ask again if it is still needed."
    return Message(text=text, blocks=[section(text)], terminal=_plain(text))


def dry_run_message(ctx: RestartContext, policy: Policy) -> Message:
    title = f"Dry run: restart of the Docker daemon in {ctx.pod}. Nothing was changed."
    facts = [
        f"*Pod:* `{ctx.pod}` (namespace `{ctx.namespace}`, UID `{ctx.uid}`)",
        f"*Workflow:* `{ctx.workflow or '—'}`",
        f"*Docker daemon now:* {_daemon_line(ctx.daemon_ok, ctx.docker_info.detail)}",
        f"*Approval:* asked in <#{policy.slack.incident_channel}>" if policy.slack.incident_channel else
        "*Approval:* asked in this channel (no incident channel configured)",
        f"*Who may approve:* {who_may_approve(policy)} (expires after {policy.approvals.ttl_seconds} s)",
    ]  # fmt: skip
    plan = _plan_lines(ctx.plan)
    blocks: list[Block] = [
        header(f"Dry run: restart {ctx.pod}"),
        section("\n".join(facts)),
        section("*Would run, in order:*\n" + "\n".join(plan)),
        context(
            "Just before running, the pod is re-read: if its UID changed or it is not Running, nothing runs."
        ),
    ]
    terminal = "\n".join([title, *(_plain(f) for f in facts), "Would run, in order:", *map(_plain, plan)])
    return Message(text=title, blocks=blocks, terminal=terminal)


def _step_line(step: StepResult) -> str:
    mark = _STEP_MARK.get(step.state, "·")
    took = f" {step.duration:.1f}s" if step.duration is not None else ""
    code_ = "" if step.exit_code is None else f" exit {step.exit_code}"
    detail = f" — {step.detail}" if step.detail else ""
    return f"{mark} {step.title} (`{step.container}`){code_}{took}{detail}"


def progress_message(snap: RestartProgress) -> Message:
    lines = [_step_line(s) for s in snap.steps]
    line = f":hourglass_flowing_sand: Restarting the Docker daemon in `{snap.pod}`: {snap.stage.value}"
    if snap.attempts:
        line += f" (attempt {snap.attempts}, {snap.elapsed:.0f} s of {snap.timeout:g} s)"
    if snap.container_restarted:
        lines.append("The `docker` container restarted; waiting for it.")
    if snap.last_error:
        lines.append(f"Last error: {snap.last_error}")
    text = "\n".join([line, *lines])
    return Message(text=_plain(line), blocks=[section(text)], terminal=_plain(text))


def result_message(result: Restarted, *, approved_by: str | None) -> Message:
    pod = result.pod
    if result.state is RestartState.READY:
        head = f":white_check_mark: Docker daemon in `{pod}` is back: {result.reason}."
    elif result.state is RestartState.ABORTED:
        head = f":no_entry_sign: Restart of `{pod}` did not run: {result.reason}."
    else:
        head = f":x: Restart of `{pod}` failed: {result.reason}."
    lines = [_step_line(s) for s in result.steps]
    if result.polls:
        last = result.polls[-1]
        lines.append(f"`docker info` polled {result.attempts} times; last: {_step_line(last)}")
    meta = f"approved by <@{approved_by}>" if approved_by else ""
    blocks: list[Block] = [section(head), *([section("\n".join(lines))] if lines else [])]
    if result.state is RestartState.FAILED:
        blocks.append(context("The last `docker info` output and the sidecar's last log lines are attached."))
    elif result.state is RestartState.READY:
        blocks.append(context(f"Check it with `/codex validate {pod}`."))
    if meta:
        blocks.append(context(meta))
    terminal = "\n".join([_plain(head), *map(_plain, lines), *([_plain(meta)] if meta else [])])
    return Message(text=_plain(head), blocks=blocks, terminal=terminal)


def result_attachments(result: Restarted) -> list[Attachment]:
    """On failure: the last `docker info` output and the sidecar's last log lines (both redacted)."""
    if result.state is not RestartState.FAILED:
        return []
    files = []
    if result.polls:
        last = result.polls[-1]
        head = f"# {shlex.join(last.argv)} in {last.container}: {last.state.value}, exit {last.exit_code}\n"
        body = head + (f"# {last.detail}\n" if last.detail else "") + "\n" + last.output
        files.append(Attachment(f"{result.pod}-docker-info.log", body.encode(), title="Last docker info"))
    files.append(
        Attachment(
            f"{result.pod}-docker-sidecar.log", (result.log_tail + "\n").encode(), title="Sidecar log tail"
        )
    )
    return files


def deny_form(approval: Approval) -> dict[str, Any]:
    """The modal asking an optional reason; ``private_metadata`` carries the approval id."""
    return {
        "type": "modal",
        "callback_id": RestartAction.DENY_FORM.value,
        "private_metadata": approval.id,
        "title": {"type": "plain_text", "text": "Deny restart"},
        "submit": {"type": "plain_text", "text": "Deny"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"Deny the restart of `{approval.target['pod']}` asked by <@{approval.requester}>?"),
            {
                "type": "input",
                "block_id": "deny",
                "optional": True,
                "label": {"type": "plain_text", "text": "Reason (shown to the requester)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": RestartAction.DENY_REASON.value,
                    "multiline": True,
                    "max_length": REASON_LIMIT,
                },
            },
        ],
    }
