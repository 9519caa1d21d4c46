"""Monospace tables for Slack and the terminal: aligned columns, split between whole rows."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.blocks import SECTION_TEXT_LIMIT, Block, section

TABLE_CHUNK = SECTION_TEXT_LIMIT - 100  # characters of table per section, fences and slack included


def text_table(heads: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last column is free text and never padded."""
    widths = [max(len(r[i]) for r in (heads, *rows)) for i in range(len(heads) - 1)]
    return "\n".join(
        ("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]).rstrip()
        for r in (heads, *rows)
    )


def table_blocks(table: str) -> list[Block]:
    """One section per run of whole rows; a row longer than a section is cut, never split."""
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in table.splitlines():
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > TABLE_CHUNK:
            blocks.append(section("```" + "\n".join(chunk) + "```"))
            chunk = []
        chunk.append(line[: TABLE_CHUNK - 10])
    blocks.append(section("```" + "\n".join(chunk) + "```"))
    return blocks
