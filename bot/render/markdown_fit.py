"""Fitting collapsible sections of text under GitHub's comment limit.

The largest sections are trimmed first (water-filling: every section above a common level is
cut down to it), always by whole lines, keeping each section's head and tail around a marker.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from handlers.artifacts import human_bytes
from handlers.redact import redact

COMMENT_LIMIT = 65_536  # GitHub: issue comment body, characters
SAFETY_MARGIN = 256  # slack for counting differences; we already count UTF-16 code units
MIN_SECTION_CHARS = 400  # below this a section body is dropped rather than trimmed further
_MARKER_RESERVE = 160  # room for the trim marker line inside a trimmed body
_BACKTICKS = re.compile(r"`{3,}")


def utf16_len(text: str) -> int:
    """Characters as GitHub/JavaScript count them: astral symbols count twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


@dataclass(frozen=True)
class Section:
    title: str  # how the trim note names it
    summary: str  # plain text; escaped here
    body: bytes  # redacted UTF-8 for the fenced block; empty: no block
    preface: str = ""  # Markdown shown above the block (reason, notes)


@dataclass(frozen=True)
class Trimmed:
    title: str
    kept_lines: int
    total_lines: int
    dropped: bool = False


def fence(body: str, lang: str = "text") -> str:
    """A fenced block no line of ``body`` can close: longer than any backtick run inside."""
    longest = max((len(m) for m in _BACKTICKS.findall(body)), default=0)
    bar = "`" * max(3, longest + 1)
    return f"{bar}{lang}\n{body.rstrip(chr(10))}\n{bar}"


def render_section(s: Section, body: str) -> str:
    parts = [f"<details><summary>{html.escape(s.summary, quote=False)}</summary>", ""]
    if s.preface:
        parts += [s.preface, ""]
    if body:
        parts += [fence(body), ""]
    parts.append("</details>")
    return "\n".join(parts) + "\n\n"


def _line_count(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


def trim_lines(data: bytes, limit: int) -> tuple[bytes, int]:
    """Head and tail of ``data`` in whole lines around a marker, within ``limit``; (bytes, lines kept)."""
    total = len(data)
    keep = max(limit - _MARKER_RESERVE, 0)
    head_end = data.rfind(b"\n", 0, keep // 2) + 1 or keep // 2
    tail_start = total - (keep - head_end)
    if tail_start > 0 and data[tail_start - 1] != 0x0A:
        nl = data.find(b"\n", tail_start)
        if 0 <= nl < total - 1:
            tail_start = nl + 1
    cut_lines = data.count(b"\n", head_end, tail_start)
    marker = (
        f"… [{cut_lines:,} lines ({human_bytes(tail_start - head_end)}) trimmed here to fit GitHub; "
        "the whole file is in the Slack thread] …\n"
    ).encode()
    head, tail = data[:head_end], data[tail_start:]
    if head and not head.endswith(b"\n"):
        head += b"\n"
    return head + marker + tail, _line_count(head) + _line_count(tail)


def _levels(sizes: list[int], room: int) -> int:
    """The largest level L with sum(min(size, L)) <= room (water-filling)."""
    remaining, left = room, len(sizes)
    for size in sorted(sizes):
        if size * left <= remaining:
            remaining -= size
            left -= 1
        else:
            return max(remaining // left, 0)
    return max(sizes, default=0)


def _bodies(sections: list[Section], level: int) -> tuple[list[str], list[Trimmed]]:
    bodies, trimmed = [], []
    for s in sections:
        if len(s.body) <= level:
            bodies.append(redact(s.body.decode("utf-8", "replace")))
        elif level < MIN_SECTION_CHARS:
            bodies.append("")
            trimmed.append(Trimmed(s.title, 0, _line_count(s.body), dropped=True))
        else:
            body, kept = trim_lines(s.body, level)
            bodies.append(redact(body.decode("utf-8", "replace")))
            trimmed.append(Trimmed(s.title, kept, _line_count(s.body)))
    return bodies, trimmed


class NoRoom(ValueError):
    """Even with every section's body left out, the text needs ``needed`` characters; ``limit`` allowed."""

    def __init__(self, needed: int, limit: int) -> None:
        super().__init__(f"the text needs at least {needed:,} characters; {limit:,} allowed")
        self.needed, self.limit = needed, limit


def fit_sections(
    head: str,
    sections: list[Section],
    tail: str,
    *,
    trim_note: Callable[[str], str],
    limit: int = COMMENT_LIMIT,
) -> str:
    """``head`` + sections + ``tail``, under ``limit`` characters (the whole comment, or the room a
    shared comment leaves). When something had to be trimmed, ``trim_note(what)`` goes before
    ``tail``. Raises NoRoom when even the frame does not fit."""
    budget = limit - SAFETY_MARGIN
    frames = [render_section(s, "x") for s in sections]
    reserve = utf16_len(trim_note("")) + 200 * len(sections)
    room = budget - utf16_len(head) - utf16_len(tail) - sum(utf16_len(f) + 8 for f in frames) - reserve
    level = _levels([len(s.body) for s in sections], room)
    while True:
        bodies, trimmed = _bodies(sections, level)
        note = trim_note(describe(trimmed)) if trimmed else ""
        out = (
            head + "".join(render_section(s, b) for s, b in zip(sections, bodies, strict=True)) + note + tail
        )
        over = utf16_len(out) - budget
        if over <= 0:
            return out
        if level == 0:
            raise NoRoom(utf16_len(out) + SAFETY_MARGIN, limit)
        level = max(level - over - level // 10, 0)


def describe(trimmed: list[Trimmed]) -> str:
    parts = []
    for t in trimmed:
        if t.dropped:
            parts.append(f"**{t.title}** (omitted, {t.total_lines:,} lines)")
        else:
            parts.append(f"**{t.title}** (kept {t.kept_lines:,} of {t.total_lines:,} lines)")
    return ", ".join(parts)
