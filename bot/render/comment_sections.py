"""One part of a shared GitHub comment (e.g. the issue's progress comment) that the bot owns.

The part sits between a start and an end marker; replacing it leaves everything else in the
comment as it was, so the bot never erases what a person or another tool wrote there.
"""

from __future__ import annotations

import re

from bot.render.markdown_fit import COMMENT_LIMIT, NoRoom
from handlers.errors import ExternalError
from handlers.ports import CommentBody


def _markers(key: str) -> tuple[str, str]:
    if not re.fullmatch(r"[A-Za-z0-9_.:/~-]+", key) or "--" in key:
        raise ValueError(f"unusable comment section key {key!r}")
    return f"<!-- codex-bot:section:{key} -->", f"<!-- /codex-bot:section:{key} -->"


def wrap_section(key: str, body: str) -> str:
    start, end = _markers(key)
    return f"{start}\n{body.rstrip()}\n{end}"


def splice_section(existing: str, key: str, body: str) -> str:
    """``existing`` with the section ``key`` replaced by ``body``, or appended when absent."""
    start, end = _markers(key)
    section = wrap_section(key, body)
    begin = existing.find(start)
    if begin >= 0:
        stop = existing.find(end, begin)
        if stop >= 0:
            return existing[:begin] + section + existing[stop + len(end) :]
    return existing.rstrip() + "\n\n" + section + "\n"


def write_within(what: str, body: CommentBody, room: int) -> str:
    """``body``'s text for a section with ``room`` characters left in the comment on ``what``;
    a section that cannot fit even without its outputs is refused with what to do instead."""
    if isinstance(body, str):
        return body
    try:
        return body(room)
    except NoRoom as e:
        raise ExternalError(
            f"the shared comment on {what} is nearly full: {max(room, 0):,} of GitHub's "
            f"{COMMENT_LIMIT:,} characters are left, and this section needs at least {e.needed:,}",
            service="github",
            status=422,
            hint="nothing was changed on GitHub; the full output is in the Slack thread. Remove "
            "sections that are no longer needed from that comment, or post to another issue",
        ) from e
