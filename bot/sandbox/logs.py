"""Container logs: explicit lines, plus optional huge generated logs that never sit in memory."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

CHUNK_BYTES = 256 * 1024
GENERATED_LINE_BYTES = 200  # including the newline; the last line may be shorter


def kube_timestamp(ns: int) -> str:
    """RFC3339 with nanoseconds, as the kubelet prefixes lines when ``timestamps=true``."""
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


@dataclass(frozen=True)
class GeneratedLog:
    """``size_bytes`` of deterministic dockerd-like lines, spread evenly over [start, end]."""

    size_bytes: int
    seed: int
    start_ns: int
    end_ns: int

    @property
    def count(self) -> int:
        return -(-self.size_bytes // GENERATED_LINE_BYTES)

    def ts_ns(self, index: int) -> int:
        return self.start_ns + (self.end_ns - self.start_ns) * index // max(self.count - 1, 1)

    def first_since(self, since_ns: int) -> int:
        """The first line index whose timestamp is at or after ``since_ns``."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if self.ts_ns(mid) < since_ns:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _filler(self) -> str:
        rng = random.Random(self.seed)
        return "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(GENERATED_LINE_BYTES)
        )

    def line(self, index: int) -> str:
        """Line ``index`` without timestamp, newline included."""
        head = f'level=info msg="synthetic line {index:010d}" seed={self.seed} pad='
        length = GENERATED_LINE_BYTES
        if index == self.count - 1:
            length = self.size_bytes - (self.count - 1) * GENERATED_LINE_BYTES
        return (head + self._filler())[: max(length - 1, 0)] + "\n"

    def chunks(self, first: int, last: int, *, timestamps: bool) -> Iterator[bytes]:
        """Lines [first, last) in chunks of about CHUNK_BYTES, built a chunk at a time."""
        head = f'level=info msg="synthetic line %010d" seed={self.seed} pad='
        pad = self._filler()[: max(GENERATED_LINE_BYTES - 1 - len(head % 0), 0)]
        plain = (head + pad + "\n").encode()
        stamped = b"%s.%09dZ " + plain
        base, span, denom = self.start_ns, self.end_ns - self.start_ns, max(self.count - 1, 1)
        per = max(CHUNK_BYTES // GENERATED_LINE_BYTES, 1)
        cached, prefix = -1, b""
        for start in range(first, last, per):
            stop = min(start + per, last)
            if not timestamps:
                lines = [plain % i for i in range(start, stop)]
            else:
                lines = []
                for i in range(start, stop):
                    second, frac = divmod(base + span * i // denom, 1_000_000_000)
                    if second != cached:
                        cached, prefix = (
                            second,
                            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode(),
                        )
                    lines.append(stamped % (prefix, frac, i))
            if stop == self.count:  # the last line is cut so the size is exact
                cut = self.line(self.count - 1).encode()
                lines[-1] = lines[-1][: len(lines[-1]) - GENERATED_LINE_BYTES] + cut
            yield b"".join(lines)


@dataclass
class ContainerLog:
    lines: list[tuple[datetime, str]] = field(default_factory=list)
    generated: GeneratedLog | None = None
    previous: list[tuple[datetime, str]] = field(default_factory=list)

    def append(self, line: str, at: datetime | None = None) -> None:
        self.lines.append((at or datetime.now(UTC), line))

    def rotate(self) -> None:
        """The container restarted: what it logged so far is now the ``previous`` log."""
        self.previous, self.lines, self.generated = self.lines, [], None

    def chunks(
        self,
        *,
        since_seconds: int | None = None,
        tail_lines: int | None = None,
        timestamps: bool = False,
        previous: bool = False,
    ) -> Iterator[bytes]:
        lines = self.previous if previous else self.lines
        gen = None if previous else self.generated
        since_ns = time.time_ns() - since_seconds * 1_000_000_000 if since_seconds is not None else None
        if since_ns is not None:
            lines = [(t, s) for t, s in lines if _ns(t) >= since_ns]
        first = gen.first_since(since_ns) if gen and since_ns is not None else 0
        count = gen.count if gen else 0
        if tail_lines is not None:
            if tail_lines <= len(lines):
                lines, first = lines[len(lines) - tail_lines :] if tail_lines else [], count
            else:
                first = max(first, count - (tail_lines - len(lines)))
        if gen and first < count:
            yield from gen.chunks(first, count, timestamps=timestamps)
        yield from _line_chunks(lines, timestamps)


def _line_chunks(lines: list[tuple[datetime, str]], timestamps: bool) -> Iterator[bytes]:
    batch: list[str] = []
    size = 0
    for at, text in lines:
        line = f"{kube_timestamp(_ns(at))} {text}\n" if timestamps else f"{text}\n"
        batch.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(batch).encode()
            batch, size = [], 0
    if batch:
        yield "".join(batch).encode()
