"""Where news of a restart request goes: its message in the incident channel (redrawn as it is
decided and run), the requester's thread (or a direct message), and the audit log."""

from __future__ import annotations

import logging

from bot.deps import Deps
from bot.flows.side_notes import try_post
from bot.render.restart import approval_message
from bot.store import Approval, AuditEntry
from bot.surface import Message, MessageRef, Surface
from handlers.errors import ExternalError

log = logging.getLogger(__name__)

KIND = "restart"
BOT_USER = "codex-bot"


def message_ref(approval: Approval) -> MessageRef | None:
    """The request message (with the buttons while pending); its thread holds the progress."""
    if approval.message_channel and approval.message_ts:
        return MessageRef(approval.message_channel, approval.message_ts)
    return None


def notice_key(approval_id: str) -> str:
    """Store key of the requester's notice, whose thread gets the outcome."""
    return f"restart-notice/{approval_id}"


async def redraw(deps: Deps, surface: Surface, approval: Approval, outcome: str) -> None:
    ref = message_ref(approval)
    if ref is None:
        return
    try:
        await surface.update(ref, approval_message(approval, deps.policy, outcome=outcome))
    except ExternalError:
        log.warning("could not update the restart request message %s", approval.id, exc_info=True)


async def tell_requester(
    deps: Deps, surface: Surface, approval: Approval, message: Message
) -> MessageRef | None:
    """In the requester's thread (their notice's, else the request's own when asked in the incident
    channel), else as a direct message. Returns where files for them belong (the thread's parent)."""
    saved = await deps.store.get_state(notice_key(approval.id))
    thread = MessageRef(saved["channel"], saved["ts"]) if saved else None
    if thread is None and approval.message_channel == approval.channel:
        thread = message_ref(approval)
    if thread is not None:
        posted = await try_post(surface, thread.channel, message, thread=thread)
        return thread if posted is not None else None
    return await try_post(surface, approval.requester, message)


async def permalink(surface: Surface, ref: MessageRef | None) -> str | None:
    if ref is None:
        return None
    try:
        return await surface.permalink(ref)
    except ExternalError:
        return None


async def audit(
    deps: Deps, approval: Approval, user: str, what: str, *, verb: str = "restart.decision"
) -> None:
    entry = AuditEntry(user=user, verb=verb, pod=approval.target["pod"], detail=f"{what} ({approval.id})")
    try:
        await deps.store.record(entry)
    except Exception:
        log.exception("could not write the audit row for a restart decision")
