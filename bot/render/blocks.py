"""Block Kit building blocks shared by every renderer, with Slack's size limits."""

from __future__ import annotations

from typing import Any

SECTION_TEXT_LIMIT = 3000  # Slack: section.text max characters
HEADER_TEXT_LIMIT = 150  # Slack: header max characters
CONTEXT_TEXT_LIMIT = 2000
MAX_BLOCKS = 50  # Slack: blocks per message
TEXT_LIMIT = 4000  # our cap for the fallback text; Slack truncates at 40k
CUT = "…"

Block = dict[str, Any]


def fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": fit(text, HEADER_TEXT_LIMIT), "emoji": True},
    }


def section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": fit(text, SECTION_TEXT_LIMIT)}}
    if block_id:
        block["block_id"] = block_id
    return block


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": fit(t, CONTEXT_TEXT_LIMIT)} for t in texts if t],
    }


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    b: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": fit(text, 75), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def actions(*buttons: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(buttons)}
    if block_id:
        block["block_id"] = block_id
    return block


def code(text: str, limit: int = SECTION_TEXT_LIMIT - 8) -> str:
    """A fenced block that never breaks Slack's fence (``` inside is defused)."""
    body = text.replace("```", "`\u200b``")
    return "```" + fit(body, limit) + "```"


def capped(blocks: list[Block], note: str) -> list[Block]:
    """Keep whole blocks within Slack's per-message cap, saying what was left out."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return [*kept, context(f"{len(blocks) - len(kept)} more blocks not shown: {note}")]
