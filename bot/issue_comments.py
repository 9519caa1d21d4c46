"""Posting results as one idempotent GitHub comment, and saying in the thread how it went."""

from __future__ import annotations

from bot.flows.registry import Invocation
from bot.render.markdown import PROGRESS_SECTION_LIMIT, validation_comment
from bot.surface import Message, MessageRef
from handlers.errors import ExternalError
from handlers.issue_ref import parse_issue_ref
from handlers.ports import CommentBody
from handlers.results import Validation


async def upsert_issue_comment(
    inv: Invocation, thread: MessageRef, marker: str, body: CommentBody, *, section: str | None = None
) -> str | None:
    """Create or update the marked comment; problems are told in the thread, never raised."""
    deps = inv.deps
    assert inv.command.issue is not None
    ref = parse_issue_ref(inv.command.issue, default_repo=deps.policy.github.default_repo)
    if deps.issues is None:
        await inv.surface.post(
            thread.channel,
            Message(text=f":warning: Not commented on {ref}: GITHUB_TOKEN is not set for the bot."),
            thread=thread,
        )
        return None
    try:
        url = await deps.issues.upsert_comment(ref.repo, ref.number, marker, body, section=section)
    except ExternalError as e:
        await inv.surface.post(
            thread.channel, Message(text=f":warning: GitHub: {e.for_user()}"), thread=thread
        )
        return None
    await inv.surface.post(thread.channel, Message(text=f":memo: Posted to <{url}|{ref}>."), thread=thread)
    return url


async def publish_validation(inv: Invocation, v: Validation, parent: MessageRef) -> None:
    """The checklist as this pod's section of the issue's progress comment (created when absent),
    fitted into the room the rest of that comment leaves, at most PROGRESS_SECTION_LIMIT."""
    marker = inv.deps.policy.github.progress_marker
    link = await inv.surface.permalink(parent)

    def body(room: int) -> str:
        limit = min(room, PROGRESS_SECTION_LIMIT)
        return validation_comment(v, marker=None, permalink=link, limit=limit)

    await upsert_issue_comment(inv, parent, marker, body, section=f"validate:{v.pod}")
