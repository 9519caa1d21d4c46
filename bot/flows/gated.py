"""Operations that need an approver's click: pause, resume, rollback and its undo.

``request`` files the approval (one active per target), posts it in the incident channel
with Approve / Deny buttons, and tells the requester where. ``approved`` turns a click
into a decision exactly once (bot.approvals.decide), updates the request message, and on
approval marks it running; ``finish`` records the outcome (approval row, audit, thread).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.approvals import decide
from bot.deps import Deps
from bot.flows.attach import attach
from bot.flows.expiry import on_expired
from bot.flows.registry import ActionInvocation, Invocation
from bot.render.blocks import Block, actions, button, capped, context, section
from bot.store import Approval, ApprovalStatus
from bot.store.models import AuditEntry
from bot.surface import Attachment, Message, MessageRef, Surface
from handlers.errors import CodexError, NotFound

log = logging.getLogger(__name__)

BOT_USER = "codex-bot"


def approve_id(kind: str) -> str:
    return f"{kind}.approve"


def deny_id(kind: str) -> str:
    return f"{kind}.deny"


def request_message(approval: Approval, preview: Message, *, title: str) -> Message:
    who = f"<@{approval.requester}> asks to *{title}* (request `{approval.id}`)."
    blocks: list[Block] = [section(who), *(preview.blocks or [section(preview.text)])]
    blocks.append(
        actions(
            button("Approve", approve_id(approval.kind), approval.id, style="primary"),
            button("Deny", deny_id(approval.kind), approval.id, style="danger"),
            block_id=f"approval-{approval.id}",
        )
    )
    expires = approval.expires_at.strftime("%H:%M UTC")
    blocks.append(context(f"Needs one approver other than the requester · expires {expires}"))
    terminal = f"{who}\n{preview.plain}".replace("*", "")
    return Message(
        text=f"Approval needed: {title}", blocks=capped(blocks, "see the thread"), terminal=terminal
    )


async def request(
    inv: Invocation,
    *,
    kind: str,
    target: Mapping[str, Any],
    target_key: str,
    title: str,
    preview: Message,
    payload: Mapping[str, Any],
    files: list[Attachment] | None = None,
) -> Approval:
    """File the approval and post the request; ApprovalConflict (a CodexError) if one is active."""
    deps = inv.deps
    policy = deps.policy
    approval = await deps.store.create_approval(
        kind, target, inv.user, inv.channel, policy.approvals.ttl_seconds, payload, target_key=target_key
    )
    channel = policy.slack.incident_channel or inv.channel
    try:
        ref = await inv.surface.post(channel, request_message(approval, preview, title=title))
    except Exception:
        # A request nobody can see must not hold the target until it expires.
        await deps.store.decide(approval.id, approve=False, by=BOT_USER, reason="could not post the request")
        raise
    await deps.store.set_approval_message(approval.id, ref.channel, ref.ts)
    await attach(inv.surface, ref, files or [], comment="The whole diff:", what="The whole diff")
    link = await inv.surface.permalink(ref)
    where = f"<{link}|the request>" if link else f"<#{channel}>"
    await inv.reply(Message(text=f":hourglass_flowing_sand: Asked for approval to {title}: {where}."))
    await _audit(deps, inv.user, kind, f"requested {approval.id}")
    return approval


async def approved(act: ActionInvocation, *, kind: str, approve: bool) -> Approval | None:
    """Decide on the click's approval; the running approval when approved, None when denied."""
    deps = act.deps
    found = await deps.store.get_approval(act.value)
    if found is None or found.kind != kind:
        raise NotFound(f"That {kind} request does not exist (any more).")
    decided = await decide(deps.store, deps.approvers, act.value, approve=approve, by=act.user)
    verdict = "approved" if approve else "denied"
    await _audit(deps, act.user, decided.kind, f"{verdict} {decided.id}")
    await _close_request(act.surface, decided, f"{verdict.capitalize()} by <@{act.user}>.")
    if not approve:
        await tell(act.surface, decided, Message(text=f":no_entry: <@{act.user}> denied this request."))
        return None
    running = await deps.store.mark(decided.id, ApprovalStatus.RUNNING)
    return running or decided


async def _close_request(surface: Surface, approval: Approval, note: str) -> None:
    """Replace the buttons with who decided, so nobody clicks a spent request."""
    if approval.message_channel is None or approval.message_ts is None:
        return
    text = f"Request `{approval.id}` ({approval.kind}) by <@{approval.requester}>: {note}"
    try:
        await surface.update(
            MessageRef(approval.message_channel, approval.message_ts),
            Message(text=text, blocks=[section(text)]),
        )
    except Exception:
        log.warning("could not update approval message %s", approval.id, exc_info=True)


def thread_of(approval: Approval) -> MessageRef | None:
    if approval.message_channel is None or approval.message_ts is None:
        return None
    return MessageRef(approval.message_channel, approval.message_ts)


async def tell(surface: Surface, approval: Approval, message: Message) -> MessageRef | None:
    """In the request's thread, and in the requester's channel when that is elsewhere."""
    thread = thread_of(approval)
    ref = None
    if thread is not None:
        ref = await surface.post(thread.channel, message, thread=thread)
    if thread is None or approval.channel != thread.channel:
        await surface.post(approval.channel, message)
    return ref


async def finish(
    act: ActionInvocation, approval: Approval, message: Message, *, ok: bool, result: Mapping[str, Any]
) -> None:
    deps = act.deps
    status = ApprovalStatus.SUCCEEDED if ok else ApprovalStatus.FAILED
    await deps.store.mark(approval.id, status, dict(result))
    summary = str(result.get("summary", status.value))
    await _audit(deps, act.user, approval.kind, f"{status.value} {approval.id}: {summary}")
    await tell(act.surface, approval, message)


class OperationFailed(CodexError):
    """The approved operation ran but did not complete; ``rendered`` tells what it did do."""

    def __init__(self, rendered: Message, summary: str) -> None:
        super().__init__(summary)
        self.rendered = rendered
        self.summary = summary


Op = Callable[[Approval], Awaitable[tuple[Message, dict[str, Any]]]]


async def run_approved(act: ActionInvocation, kind: str, op: Op) -> None:
    """Decide; on approval run ``op`` and record its outcome. Failures are recorded, then told."""
    approval = await approved(act, kind=kind, approve=True)
    if approval is None:
        return
    try:
        message, result = await op(approval)
    except OperationFailed as e:
        await finish(act, approval, e.rendered, ok=False, result={"summary": e.summary})
        return
    except CodexError as e:
        failure = Message(text=f":x: {approval.kind} failed: {e.for_user()}")
        await finish(act, approval, failure, ok=False, result={"summary": e.message})
        return
    except Exception as e:
        failure = Message(text=f":boom: {approval.kind} failed with an internal error; see the bot's logs.")
        await finish(
            act, approval, failure, ok=False, result={"summary": f"internal error: {type(e).__name__}"}
        )
        raise
    await finish(act, approval, message, ok=True, result=result)


async def _audit(deps: Deps, user: str, verb: str, detail: str) -> None:
    try:
        await deps.store.record(AuditEntry(user=user, verb=verb, detail=detail))
    except Exception:
        log.exception("could not write the audit row for %s", verb)


def expire_as_shown(kind: str) -> None:
    """Show an expired request of ``kind`` as such and tell its requester (one sweeper for all kinds)."""

    @on_expired(kind)
    async def shown(deps: Deps, surface: Surface, approval: Approval) -> None:
        await _audit(deps, BOT_USER, approval.kind, f"expired {approval.id}")
        await _close_request(surface, approval, "expired before anyone approved it; nothing was changed.")
        await tell(surface, approval, Message(text=f":hourglass: Request `{approval.id}` ({kind}) expired."))
