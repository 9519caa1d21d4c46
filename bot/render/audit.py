"""The audit log as a table: newest first, one row per command, decision or exec."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from bot.render.blocks import Block, capped, context, fit, section
from bot.render.tables import table_blocks, text_table
from bot.store.models import AuditEntry
from bot.surface import Message

WHAT_LIMIT = 160  # characters of argv and detail per row; the store keeps them whole


def _what(e: AuditEntry) -> str:
    parts = [shlex.join(e.argv)] if e.argv else []
    if e.detail:
        parts.append(e.detail)
    return fit(" — ".join(parts), WHAT_LIMIT)


def audit_table(entries: Sequence[AuditEntry]) -> str:
    heads = ("TIME (UTC)", "USER", "ACTION", "POD", "CONTAINER", "EXIT", "SECS", "WHAT")
    rows = [
        (
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.user,
            e.verb,
            e.pod or "-",
            e.container or "-",
            "-" if e.exit_code is None else str(e.exit_code),
            "-" if e.duration is None else f"{e.duration:.1f}",
            _what(e),
        )
        for e in entries
    ]
    return text_table(heads, rows)


def audit_message(entries: Sequence[AuditEntry], *, pod: str | None, limit: int) -> Message:
    about = f" for `{pod}`" if pod else ""
    if not entries:
        text = f"The audit log has no entries{about} yet."
        return Message(text=text, blocks=[section(text)], terminal=text.replace("`", ""))
    title = f"Audit log{about}: the last {len(entries)} entries, newest first"
    table = audit_table(entries)
    blocks: list[Block] = [section(f"*{title}*"), *table_blocks(table)]
    if len(entries) >= limit:
        blocks.append(
            context(f"Only the last {limit} are shown; `codex-bot audit` in the bot's pod reads the same.")
        )
    return Message(
        text=title,
        blocks=capped(blocks, "see `codex-bot audit`"),
        terminal=f"{title.replace('`', '')}\n{table}",
    )
