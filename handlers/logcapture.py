"""Bounded-memory capture of a log stream: the first and last halves of a cap, on line boundaries.

The head is kept as it arrives; the tail lives in a ring buffer allocated once, so streaming a
gigabyte holds no chunk longer than one ``feed`` call and does no per-line Python work. Only
what is kept is decoded and redacted, at the end, a block at a time: lines cut from the middle
never leave the bot, so they need no redaction. A private key is the one secret that spans
lines, so the capture tracks whether the kept tail starts inside a PEM block.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from handlers.artifacts import Cut
from handlers.redact import MASK, redact

_PEM_MARK = re.compile(rb"-----(BEGIN|END) [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END_TEXT = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[^\n]*\n?")
_PEM_NEEDLE = b"PRIVATE KEY"
_CARRY = 80  # longer than any PEM marker, so one split between two regions is still seen
REDACT_BLOCK = 1 << 20  # bytes decoded and redacted at a time: bounds the str copies whatever the cap

Buffer = bytes | bytearray
Evict = Callable[[Buffer, int, int], None]


class _PemTracker:
    """Whether the bytes seen so far end inside a private-key block."""

    def __init__(self) -> None:
        self.open = False
        self._carry = b""

    def scan(self, buf: Buffer, start: int, end: int) -> None:
        if end <= start:
            return
        edge = self._carry + bytes(buf[start : min(end, start + _CARRY)])
        if buf.find(_PEM_NEEDLE, start, end) >= 0 or _PEM_NEEDLE in edge:
            for m in _PEM_MARK.finditer(self._carry + bytes(buf[start:end])):
                self.open = m.group(1) == b"BEGIN"
        self._carry = (self._carry + bytes(buf[max(start, end - _CARRY) : end]))[-_CARRY:]


class _Ring:
    """The last ``size`` bytes written, in one buffer; what falls out goes to ``evict`` in order."""

    def __init__(self, size: int, evict: Evict) -> None:
        self._buf = bytearray(size)
        self._size = size
        self._pos = 0  # next write index
        self._filled = 0
        self._evict = evict

    def _evict_oldest(self, count: int) -> None:
        start = (self._pos - self._filled) % self._size
        first = min(count, self._size - start)
        self._evict(self._buf, start, start + first)
        if count > first:
            self._evict(self._buf, 0, count - first)
        self._filled -= count

    def write(self, data: bytes) -> None:
        n, size = len(data), self._size
        if n >= size:
            self._evict_oldest(self._filled)
            self._evict(data, 0, n - size)
            self._buf[:] = memoryview(data)[n - size :]
            self._pos, self._filled = 0, size
            return
        if self._filled + n > size:
            self._evict_oldest(self._filled + n - size)
        first = min(n, size - self._pos)
        with memoryview(data) as view:
            self._buf[self._pos : self._pos + first] = view[:first]
            if n > first:
                self._buf[: n - first] = view[first:]
        self._pos = (self._pos + n) % size
        self._filled += n

    def ordered(self) -> bytes:
        """The held bytes, oldest first, as one copy; the ring is spent afterwards."""
        start = (self._pos - self._filled) % self._size
        with memoryview(self._buf) as view:
            if start + self._filled <= self._size:
                data = bytes(view[start : start + self._filled])
            else:
                data = b"".join((view[start:], view[: self._pos]))
        self._buf = bytearray()
        return data


@dataclass(frozen=True)
class Captured:
    data: bytes  # UTF-8, redacted; the cut marker line sits between head and tail
    cut: Cut | None
    source_bytes: int
    source_lines: int


class LogCapture:
    """Feed bytes in chunks; ``finish()`` returns redacted UTF-8 of at most ~``cap_bytes``."""

    def __init__(self, cap_bytes: int) -> None:
        if cap_bytes < 2:
            raise ValueError("cap_bytes must be at least 2")
        self._cap = cap_bytes
        self._head_cap = cap_bytes // 2
        self._head = bytearray()
        self._ring: _Ring | None = None  # created when the head is full
        self._cut_bytes = 0
        self._cut_lines = 0
        self._cut_ends_line = True  # the last byte cut was a newline: the tail starts a line
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
        if self._ring is None:
            data = self._fill_head(data)
        if data and self._ring is not None:
            self._ring.write(data)

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
        self._head += memoryview(data)[:take]
        self._pem.scan(self._head, 0, len(self._head))
        self._ring = _Ring(self._cap - len(self._head), self._drop)  # all of a log within the cap is kept
        return data[take:]

    def _drop(self, buf: Buffer, start: int, end: int) -> None:
        if end <= start:
            return
        self._cut_bytes += end - start
        self._cut_lines += buf.count(b"\n", start, end)
        self._cut_ends_line = buf[end - 1] == 0x0A
        self._pem.scan(buf, start, end)

    def _final_tail(self) -> tuple[bytes, int]:
        """The tail and the offset of its first whole line."""
        if self._ring is None:
            return b"", 0
        tail = self._ring.ordered()
        self._ring = None
        start = 0
        if not self._cut_ends_line and 0 <= (nl := tail.find(b"\n")) < len(tail) - 1:
            start = nl + 1
            self._drop(tail, 0, start)
        return tail, start

    @property
    def source_lines(self) -> int:
        return self._newlines + (0 if self._ends_with_newline or not self.source_bytes else 1)

    def finish(self) -> Captured:
        """Redact what is kept and join it around the cut marker. The capture is spent afterwards."""
        tail, start = self._final_tail()
        out = bytearray()
        head_len = len(self._head)
        _redact_into(out, self._head, 0, pem_open=False)
        self._head = bytearray()
        cut = None
        if self._cut_bytes:
            cut = Cut(self._cut_bytes, self._cut_lines, head_bytes=head_len, tail_bytes=len(tail) - start)
            if out and not out.endswith(b"\n"):
                out += b"\n"
            out += cut.marker.encode() + b"\n"
        _redact_into(out, tail, start, pem_open=self._pem.open)
        del tail
        return Captured(bytes(out), cut, self.source_bytes, self.source_lines)


def _pem_after(block: bytes, pem_open: bool) -> bool:
    if _PEM_NEEDLE in block:
        for m in _PEM_MARK.finditer(block):
            pem_open = m.group(1) == b"BEGIN"
    return pem_open


def _redact_into(out: bytearray, data: Buffer, start: int, *, pem_open: bool) -> None:
    """Append ``data[start:]`` redacted, a line-aligned block at a time, so decoded copies stay small."""
    with memoryview(data) as view:
        while start < len(data):
            end = min(start + REDACT_BLOCK, len(data))
            if end < len(data) and (nl := data.rfind(b"\n", start, end)) >= start:
                end = nl + 1
            block = bytes(view[start:end])
            text = block.decode("utf-8", "replace")
            out += redact(_close_open_pem(text) if pem_open else text).encode()
            pem_open = _pem_after(block, pem_open)
            start = end


def _close_open_pem(text: str) -> str:
    """The text starts inside a private key whose BEGIN was cut: mask up to its END line."""
    end = _PEM_END_TEXT.search(text)
    if end is None:
        return f"{MASK} (private key material)\n"
    return f"{MASK} -----END PRIVATE KEY-----\n" + text[end.end() :]
