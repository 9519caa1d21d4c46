"""Bounded-memory capture of a log stream: the first and last halves of a cap, on line boundaries.

Chunks are kept as they arrive (no per-line Python work), so a gigabyte streams through at
memory speed. Only what is kept is decoded and redacted, once, at the end: lines cut from the
middle never leave the bot, so they need no redaction. A private key is the one secret that
spans lines, so the capture tracks whether the kept tail starts inside a PEM block.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from handlers.artifacts import Cut
from handlers.redact import MASK, redact

_PEM_MARK = re.compile(rb"-----(BEGIN|END) [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END_TEXT = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[^\n]*\n?")
_PEM_NEEDLE = b"PRIVATE KEY"
_CARRY = 80  # longer than any PEM marker, so one split across chunks is still seen


class _PemTracker:
    """Whether the bytes seen so far end inside a private-key block."""

    def __init__(self) -> None:
        self.open = False
        self._carry = b""

    def scan(self, data: bytes) -> None:
        edge = self._carry + data[:_CARRY]
        if _PEM_NEEDLE in data or _PEM_NEEDLE in edge:
            for m in _PEM_MARK.finditer(self._carry + data):
                self.open = m.group(1) == b"BEGIN"
        self._carry = (self._carry + data)[-_CARRY:] if len(data) < _CARRY else data[-_CARRY:]


@dataclass(frozen=True)
class Captured:
    text: str  # redacted; the cut marker line sits between head and tail
    cut: Cut | None
    source_bytes: int
    source_lines: int


class LogCapture:
    """Feed bytes in chunks; ``finish()`` returns redacted text of at most ~``cap_bytes``."""

    def __init__(self, cap_bytes: int) -> None:
        if cap_bytes < 2:
            raise ValueError("cap_bytes must be at least 2")
        self._cap = cap_bytes
        self._head_cap = cap_bytes // 2
        self._tail_cap = cap_bytes - self._head_cap
        self._head = bytearray()
        self._head_full = False
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0
        self._cut_bytes = 0
        self._cut_lines = 0
        self._pem = _PemTracker()
        self._newlines = 0
        self._ends_with_newline = True
        self.source_bytes = 0

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.source_bytes += len(data)
        self._newlines += data.count(b"\n")
        self._ends_with_newline = data.endswith(b"\n")
        if not self._head_full:
            data = self._fill_head(data)
            if not data:
                return
        self._tail.append(data)
        self._tail_bytes += len(data)
        while self._tail_bytes - len(self._tail[0]) >= self._tail_cap:
            self._drop(self._tail.popleft())

    def _fill_head(self, data: bytes) -> bytes:
        room = self._head_cap - len(self._head)
        if len(data) <= room:
            self._head += data
            return b""
        nl = data.rfind(b"\n", 0, room)
        if nl >= 0:
            take = nl + 1
        else:
            last = self._head.rfind(b"\n")
            if last >= 0:  # the head ends mid-line: give that partial line to the tail
                data = bytes(self._head[last + 1 :]) + data
                del self._head[last + 1 :]
                take = 0
            else:  # not one newline in the whole head: cut the giant line
                take = room
        self._head += data[:take]
        self._head_full = True
        self._tail_cap = self._cap - len(self._head)
        self._pem.scan(bytes(self._head))
        return data[take:]

    def _drop(self, block: bytes) -> None:
        self._tail_bytes -= len(block)
        self._cut_bytes += len(block)
        self._cut_lines += block.count(b"\n")
        self._pem.scan(block)

    def _final_tail(self) -> bytes:
        tail = b"".join(self._tail)
        self._tail.clear()
        self._tail_bytes = len(tail)
        excess = len(tail) - self._tail_cap
        if excess <= 0:
            return tail
        nl = tail.find(b"\n", excess - 1)
        start = nl + 1 if 0 <= nl < len(tail) - 1 else excess
        self._drop(tail[:start])
        return tail[start:]

    @property
    def source_lines(self) -> int:
        return self._newlines + (0 if self._ends_with_newline or not self.source_bytes else 1)

    def finish(self) -> Captured:
        """Decode, redact and join. The capture is spent afterwards."""
        tail = self._final_tail()
        head_text = redact(self._head.decode("utf-8", "replace"))
        head_len = len(self._head)
        self._head = bytearray()
        cut = None
        parts = [head_text]
        if self._cut_bytes:
            cut = Cut(self._cut_bytes, self._cut_lines, head_bytes=head_len, tail_bytes=len(tail))
            if head_text and not head_text.endswith("\n"):
                parts.append("\n")
            parts.append(cut.marker + "\n")
        tail_text = tail.decode("utf-8", "replace")
        del tail
        parts.append(redact(_close_open_pem(tail_text) if self._pem.open else tail_text))
        return Captured("".join(parts), cut, self.source_bytes, self.source_lines)


def _close_open_pem(text: str) -> str:
    """The text starts inside a private key whose BEGIN was cut: mask up to its END line."""
    end = _PEM_END_TEXT.search(text)
    if end is None:
        return f"{MASK} (private key material)\n"
    return f"{MASK} -----END PRIVATE KEY-----\n" + text[end.end() :]
