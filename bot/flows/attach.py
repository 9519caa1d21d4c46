"""Files into a thread without letting Slack's refusal stop the rest of a flow.

A missing `files:write` scope or an upload timeout must not cost the page, the GitHub comment
or the verdict that come after the files: the refusal is told in the thread instead.
"""

from __future__ import annotations

import logging

from bot.flows.side_notes import try_post
from bot.surface import Attachment, Message, MessageRef, Surface
from handlers.errors import ExternalError

log = logging.getLogger(__name__)


async def try_attach(
    surface: Surface, thread: MessageRef, files: list[Attachment], *, comment: str
) -> ExternalError | None:
    """Upload ``files`` into ``thread``; Slack's refusal is returned, not raised."""
    if not files:
        return None
    try:
        await surface.upload(thread, files, comment=comment)
    except ExternalError as e:
        log.warning("files not attached in %s: %s", thread.channel, e.message)
        return e
    return None


def not_attached(what: str, e: ExternalError, *, then: str = "") -> Message:
    hint = f" {e.hint}" if e.hint else ""
    return Message(
        text=f":warning: {what} could not be attached here: {e.message}{hint}{' ' + then if then else ''}"
    )


async def attach(
    surface: Surface, thread: MessageRef, files: list[Attachment], *, comment: str, what: str, then: str = ""
) -> bool:
    """Upload ``files``; when Slack refuses, say so in the thread. True when they are attached."""
    refused = await try_attach(surface, thread, files, comment=comment)
    if refused is None:
        return True
    await try_post(surface, thread.channel, not_attached(what, refused, then=then), thread=thread)
    return False
