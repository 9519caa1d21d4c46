"""`/codex restart <pod> [reason…] [--dry-run]`: ask in the incident channel, decide, run, report."""

from __future__ import annotations

import logging
from typing import Any

from bot.approvals import AlreadyDecided, decide
from bot.commands import Verb
from bot.deps import Deps
from bot.flows.attach import attach
from bot.flows.expiry import on_expired, sweep_once
from bot.flows.registry import ActionInvocation, FormSubmission, Invocation, action, flow, form
from bot.flows.restart_notify import (
    BOT_USER,
    KIND,
    audit,
    message_ref,
    notice_key,
    permalink,
    redraw,
    tell_requester,
)
from bot.flows.restart_recovery import alive
from bot.flows.side_notes import try_post
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
    withdrawn_notice,
)
from bot.store import Approval, ApprovalConflict, ApprovalStatus, utcnow
from bot.surface import MessageRef, Surface
from handlers.errors import Conflict, NotAllowed, NotFound
from handlers.restart import execute_restart, inspect_for_restart
from handlers.results import Restarted, RestartTarget

log = logging.getLogger(__name__)


@flow(Verb.RESTART)
async def run_restart(inv: Invocation) -> bool | None:
    deps, policy = inv.deps, inv.deps.policy
    assert inv.command.pod is not None  # the parser guarantees it
    if not inv.command.dry_run:
        # Refuse before the inspection: a second request must not exec in the pod at all.
        existing = await deps.store.blocking(_target_key(inv.command.pod))
        if existing is not None:
            raise await _conflict(inv.surface, ApprovalConflict(existing))
    ctx = await inspect_for_restart(
        inv.command.pod, pods=deps.pods, exec=deps.exec, logs=deps.logs, policy=policy
    )
    if inv.command.dry_run:
        await inv.reply(dry_run_message(ctx, policy))
        return None
    try:
        approval = await deps.store.create_approval(
            KIND, {"pod": ctx.pod, "uid": ctx.uid}, inv.user, inv.channel, policy.approvals.ttl_seconds,
            approval_payload(ctx, inv.command.reason), target_key=_target_key(ctx.pod),
        )  # fmt: skip
    except ApprovalConflict as e:
        raise await _conflict(inv.surface, e) from e
    ref = await _post_request(deps, inv.surface, approval, policy.slack.incident_channel or inv.channel)
    link = await permalink(inv.surface, ref)
    if ref.channel == inv.channel:
        return None  # asked in the incident channel: its thread is the requester's thread
    notice = await try_post(inv.surface, inv.channel, request_notice(approval, link))
    if notice is None:
        await inv.reply(request_notice(approval, link))
    else:
        await deps.store.put_state(notice_key(approval.id), {"channel": notice.channel, "ts": notice.ts})
    return None


async def _conflict(surface: Surface, e: ApprovalConflict) -> Conflict:
    """The refusal, naming the pod and linking the request that holds it."""
    link = await permalink(surface, message_ref(e.existing))
    return Conflict(e.message, hint=f"The first request: {link}" if link else e.hint)


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
    async with alive(deps, approval.id):
        await audit(deps, approval, act.user, "approved")
        decided_at = approval.decided_at or approval.created_at
        await redraw(deps, act.surface, approval, approved_outcome(act.user, decided_at))
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
    withdrawn = by == approval.requester
    verdict = "withdrawn" if withdrawn else "denied"
    await audit(deps, approval, by, f"{verdict}: {reason}" if reason else verdict)
    await redraw(deps, surface, approval, denied_outcome(by, reason, withdrawn=withdrawn))
    notice = withdrawn_notice(approval, reason) if withdrawn else denied_notice(approval, by, reason)
    await tell_requester(deps, surface, approval, notice)


@on_expired(KIND)
async def on_restart_expired(deps: Deps, surface: Surface, approval: Approval) -> None:
    await audit(deps, approval, BOT_USER, "expired")
    await redraw(deps, surface, approval, expired_outcome(approval))
    await tell_requester(deps, surface, approval, expired_notice(approval))


async def _show_if_expired(deps: Deps, surface: Surface, approval: Approval) -> None:
    """A click on a request past its expiry (the sweeper may not have run, or the bot was down)."""
    if approval.status is ApprovalStatus.PENDING and approval.expired_at(utcnow()):
        await sweep_once(deps, surface)
    elif approval.status is ApprovalStatus.EXPIRED:
        await redraw(deps, surface, approval, expired_outcome(approval))


async def run_approved(deps: Deps, surface: Surface, approval: Approval) -> Restarted | None:
    """Run the approved restart once: progress in the request's thread, result where both parties see it."""
    running = await deps.store.mark(approval.id, ApprovalStatus.RUNNING)
    if running is None:
        return None  # already run (or abandoned) by someone else
    thread = message_ref(approval)
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
    await redraw(deps, surface, approval, f"{outcome}\n{final.text}")
    requester = await tell_requester(deps, surface, approval, final)
    files = result_attachments(result)
    comment, what = "Last `docker info` output and sidecar log lines:", "The last `docker info` and log lines"
    for parent in dict.fromkeys(p for p in (thread, requester) if p is not None):
        await attach(surface, parent, files, comment=comment, what=what)
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


def _target_key(pod: str) -> str:
    return f"pod/{pod}"
