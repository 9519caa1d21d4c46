"""Posting a side note (a notice, a link, a "not attached" warning) without letting Slack's
refusal stop the flow that is telling it: the refusal is logged, and the caller learns it from
the missing ``MessageRef``."""

from __future__ import annotations

import logging

from bot.surface import Message, MessageRef, Surface
from handlers.errors import CodexError

log = logging.getLogger(__name__)


async def try_post(
    surface: Surface, channel: str, message: Message, *, thread: MessageRef | None = None
) -> MessageRef | None:
    """Post ``message``; None (logged) when Slack refuses."""
    try:
        return await surface.post(channel, message, thread=thread)
    except CodexError:
        log.warning("could not post to %s", channel, exc_info=True)
        return None
