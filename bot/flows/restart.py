"""`/codex restart <pod> [reason…] [--dry-run]`: ask in the incident channel, decide, run, report."""

from __future__ import annotations

import logging
from typing import Any

from bot.approvals import AlreadyDecided, decide
from bot.commands import Verb
from bot.deps import Deps
from bot.flows.expiry import on_expired, sweep_once
from bot.flows.registry import ActionInvocation, FormSubmission, Invocation, action, flow, form
from bot.live import LiveMessage
from bot.render.restart import (
    REASON_LIMIT,
    RestartAction,
    approval_message,
    approval_payload,
    approved_outcome,
    denied_notice,
    denied_outcome,
    deny_form,
    dry_run_message,
    expired_notice,
    expired_outcome,
    progress_message,
    request_notice,
    result_attachments,
    result_message,
)
from bot.store import Approval, ApprovalConflict, ApprovalStatus, AuditEntry, utcnow
from bot.surface import Message, MessageRef, Surface
from handlers.errors import Conflict, ExternalError, NotAllowed, NotFound
from handlers.restart import execute_restart, inspect_for_restart
from handlers.results import Restarted, RestartTarget

log = logging.getLogger(__name__)

KIND = "restart"
BOT_USER = "codex-bot"


@flow(Verb.RESTART)
async def run_restart(inv: Invocation) -> bool | None:
    deps, policy = inv.deps, inv.deps.policy
    assert inv.command.pod is not None  # the parser guarantees it
    ctx = await inspect_for_restart(
        inv.command.pod, pods=deps.pods, exec=deps.exec, logs=deps.logs, policy=policy
    )
    if inv.command.dry_run:
        await inv.reply(dry_run_message(ctx, policy))
        return None
    try:
        approval = await deps.store.create_approval(
            KIND, {"pod": ctx.pod, "uid": ctx.uid}, inv.user, inv.channel, policy.approvals.ttl_seconds,
            approval_payload(ctx, inv.command.reason),
        )  # fmt: skip
    except ApprovalConflict as e:
        link = await _permalink(inv.surface, _message_ref(e.existing))
        raise Conflict(e.message, hint=f"See {link}" if link else e.hint) from e
    ref = await _post_request(deps, inv.surface, approval, policy.slack.incident_channel or inv.channel)
    link = await _permalink(inv.surface, ref)
    if ref.channel == inv.channel:
        return None  # asked in the incident channel: its thread is the requester's thread
    notice = await _try_post(inv.surface, inv.channel, request_notice(approval, link))
    if notice is None:
        await inv.reply(request_notice(approval, link))
    else:
        await deps.store.put_state(_notice_key(approval.id), {"channel": notice.channel, "ts": notice.ts})
    return None


async def _post_request(deps: Deps, surface: Surface, approval: Approval, channel: str) -> MessageRef:
    try:
        ref = await surface.post(channel, approval_message(approval, deps.policy))
    except Exception:
        # Free the pod again: a request nobody can see must not block the next one until it expires.
        await deps.store.decide(approval.id, approve=False, by=BOT_USER, reason="could not post the request")
        raise
    await deps.store.set_approval_message(approval.id, ref.channel, ref.ts)
    return ref


@action(RestartAction.APPROVE)
async def on_approve(act: ActionInvocation) -> None:
    deps = act.deps
    await _restart_approval(deps, act.value)
    try:
        approval = await decide(deps.store, deps.approvers, act.value, approve=True, by=act.user)
    except AlreadyDecided as e:
        await _show_if_expired(deps, act.surface, e.approval)
        raise
    await _audit(deps, approval, act.user, "approved")
    decided_at = approval.decided_at or approval.created_at
    await _redraw(deps, act.surface, approval, approved_outcome(act.user, decided_at))
    await run_approved(deps, act.surface, approval)


@action(RestartAction.DENY)
async def on_deny(act: ActionInvocation) -> None:
    deps = act.deps
    approval = await _restart_approval(deps, act.value)
    if act.user != approval.requester and not await deps.approvers.can_approve(act.user):
        raise NotAllowed(
            "You are not an approver for this restart.",
            hint="Approvers are set in the config under approvals.approvers.",
        )
    if approval.status is not ApprovalStatus.PENDING or approval.expired_at(utcnow()):
        await _show_if_expired(deps, act.surface, approval)
        raise AlreadyDecided(approval)
    if act.trigger_id and await act.surface.open_form(act.trigger_id, deny_form(approval)):
        return  # the decision comes with the form's submission
    await _deny(deps, act.surface, approval.id, by=act.user, reason=None)


@form(RestartAction.DENY_FORM)
async def on_deny_reason(sub: FormSubmission) -> None:
    reason = sub.values.get(RestartAction.DENY_REASON.value, "").strip()[:REASON_LIMIT] or None
    await _deny(sub.deps, sub.surface, sub.private_metadata, by=sub.user, reason=reason)


async def _deny(deps: Deps, surface: Surface, approval_id: str, *, by: str, reason: str | None) -> None:
    await _restart_approval(deps, approval_id)
    try:
        approval = await decide(deps.store, deps.approvers, approval_id, approve=False, by=by, reason=reason)
    except AlreadyDecided as e:
        await _show_if_expired(deps, surface, e.approval)
        raise
    await _audit(deps, approval, by, f"denied: {reason}" if reason else "denied")
    await _redraw(deps, surface, approval, denied_outcome(by, reason))
    await _tell_requester(deps, surface, approval, denied_notice(approval, by, reason))


@on_expired(KIND)
async def on_restart_expired(deps: Deps, surface: Surface, approval: Approval) -> None:
    await _audit(deps, approval, BOT_USER, "expired")
    await _redraw(deps, surface, approval, expired_outcome(approval))
    await _tell_requester(deps, surface, approval, expired_notice(approval))


async def _show_if_expired(deps: Deps, surface: Surface, approval: Approval) -> None:
    """A click on a request past its expiry (the sweeper may not have run, or the bot was down)."""
    if approval.status is ApprovalStatus.PENDING and approval.expired_at(utcnow()):
        await sweep_once(deps, surface)
    elif approval.status is ApprovalStatus.EXPIRED:
        await _redraw(deps, surface, approval, expired_outcome(approval))


async def run_approved(deps: Deps, surface: Surface, approval: Approval) -> Restarted | None:
    """Run the approved restart once: progress in the request's thread, result where both parties see it."""
    running = await deps.store.mark(approval.id, ApprovalStatus.RUNNING)
    if running is None:
        return None  # already run (or abandoned) by someone else
    thread = _message_ref(approval)
    live = LiveMessage(surface, thread.channel if thread else approval.channel, thread=thread)
    target = RestartTarget(
        approval.target["pod"], approval.target["uid"], int(approval.payload.get("restart_count_before", 0))
    )
    try:
        result = await execute_restart(
            target, pods=deps.pods, exec=deps.exec, logs=deps.logs, policy=deps.policy,
            progress=_LiveProgress(live),
        )  # fmt: skip
    except Exception as e:
        await deps.store.mark(approval.id, ApprovalStatus.FAILED, {"error": str(e) or type(e).__name__})
        await live.close()
        raise
    final = result_message(result, approved_by=approval.decided_by)
    await live.set(final)
    await live.close()
    status = ApprovalStatus.SUCCEEDED if result.ready else ApprovalStatus.FAILED
    await deps.store.mark(approval.id, status, {"state": result.state.value, "reason": result.reason})
    decided_at = approval.decided_at or approval.created_at
    outcome = f"{approved_outcome(approval.decided_by or '?', decided_at).removesuffix(' Restarting…')}"
    await _redraw(deps, surface, approval, f"{outcome}\n{final.text}")
    requester = await _tell_requester(deps, surface, approval, final)
    files = result_attachments(result)
    for parent in dict.fromkeys(p for p in (thread, requester) if p is not None):
        if files:
            await surface.upload(parent, files, comment="Last `docker info` output and sidecar log lines:")
    return result


class _LiveProgress:
    """``Progress`` port onto one live message."""

    def __init__(self, live: LiveMessage) -> None:
        self._live = live

    async def update(self, snapshot: Any) -> None:
        await self._live.set(progress_message(snapshot))


async def _restart_approval(deps: Deps, approval_id: str) -> Approval:
    approval = await deps.store.get_approval(approval_id)
    if approval is None or approval.kind != KIND:
        raise NotFound("That restart request does not exist (any more).")
    return approval


async def _redraw(deps: Deps, surface: Surface, approval: Approval, outcome: str) -> None:
    ref = _message_ref(approval)
    if ref is None:
        return
    try:
        await surface.update(ref, approval_message(approval, deps.policy, outcome=outcome))
    except ExternalError:
        log.warning("could not update the restart request message %s", approval.id, exc_info=True)


async def _tell_requester(
    deps: Deps, surface: Surface, approval: Approval, message: Message
) -> MessageRef | None:
    """In the requester's thread (their notice's, else the request's own when asked in the incident
    channel), else as a direct message. Returns where files for them belong (the thread's parent)."""
    saved = await deps.store.get_state(_notice_key(approval.id))
    thread = MessageRef(saved["channel"], saved["ts"]) if saved else None
    if thread is None and approval.message_channel == approval.channel:
        thread = _message_ref(approval)
    if thread is not None:
        posted = await _try_post(surface, thread.channel, message, thread=thread)
        return thread if posted is not None else None
    return await _try_post(surface, approval.requester, message)


async def _try_post(
    surface: Surface, channel: str, message: Message, *, thread: MessageRef | None = None
) -> MessageRef | None:
    try:
        return await surface.post(channel, message, thread=thread)
    except ExternalError:
        log.warning("could not post to %s", channel, exc_info=True)
        return None


async def _permalink(surface: Surface, ref: MessageRef | None) -> str | None:
    if ref is None:
        return None
    try:
        return await surface.permalink(ref)
    except ExternalError:
        return None


async def _audit(deps: Deps, approval: Approval, user: str, what: str) -> None:
    entry = AuditEntry(
        user=user, verb="restart.decision", pod=approval.target["pod"], detail=f"{what} ({approval.id})"
    )
    try:
        await deps.store.record(entry)
    except Exception:
        log.exception("could not write the audit row for a restart decision")


def _message_ref(approval: Approval) -> MessageRef | None:
    if approval.message_channel and approval.message_ts:
        return MessageRef(approval.message_channel, approval.message_ts)
    return None


def _notice_key(approval_id: str) -> str:
    return f"restart-notice/{approval_id}"
