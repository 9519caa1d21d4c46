"""Head+tail log capture: bounded memory, whole lines, exact cut accounting, redaction across chunks."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from handlers.artifacts import human_bytes
from handlers.logcapture import LogCapture
from handlers.workflow_logs import LinePrefixer

GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def capture(data: bytes, cap: int, chunk: int | None = None) -> tuple[str, LogCapture]:
    c = LogCapture(cap)
    step = chunk or max(len(data), 1)
    for i in range(0, len(data), step):
        c.feed(data[i : i + step])
    return c.finish().data.decode(), c


def numbered(n: int) -> bytes:
    return b"".join(b"line %06d of the daemon log\n" % i for i in range(n))


def test_small_log_is_kept_whole_and_unmarked() -> None:
    data = numbered(100)
    c = LogCapture(10_000)
    c.feed(data)
    got = c.finish()
    assert got.data.decode() == data.decode()
    assert got.cut is None
    assert (got.source_bytes, got.source_lines) == (len(data), 100)


def test_log_just_under_the_cap_is_not_cut_even_when_the_head_ends_early() -> None:
    data = numbered(100)  # 28 bytes a line
    got, _ = capture(data, len(data), chunk=7)
    assert got == data.decode()


def test_oversized_log_keeps_whole_head_and_tail_lines_around_one_clear_marker() -> None:
    data = numbered(10_000)  # 280,000 bytes
    text, c = capture(data, 20_000, chunk=4096)
    lines = text.splitlines()
    markers = [line for line in lines if line.startswith("… [cut ")]
    assert len(markers) == 1
    head = lines[: lines.index(markers[0])]
    tail = lines[lines.index(markers[0]) + 1 :]
    assert head[0] == "line 000000 of the daemon log"
    assert tail[-1] == "line 009999 of the daemon log"
    assert all(line.startswith("line ") and line.endswith(" log") for line in head + tail)  # whole lines
    kept = len(head) + len(tail)
    assert int(tail[0][5:11]) == len(head) + (10_000 - kept)  # nothing lost between marker and tail
    assert c.source_lines == 10_000
    assert len(text.encode()) <= 20_000 + len(markers[0].encode()) + 1


def test_cut_marker_states_exactly_what_was_cut() -> None:
    data = numbered(10_000)
    c = LogCapture(20_000)
    for i in range(0, len(data), 1000):
        c.feed(data[i : i + 1000])
    got = c.finish()
    assert got.cut is not None
    kept_lines = got.data.decode().count("\n") - 1
    assert got.cut.cut_lines == 10_000 - kept_lines
    assert got.cut.cut_bytes == len(data) - got.cut.head_bytes - got.cut.tail_bytes
    assert got.cut.head_bytes <= 10_000 and got.cut.tail_bytes <= 10_000
    assert f"cut {human_bytes(got.cut.cut_bytes)} ({got.cut.cut_lines:,} lines)" in got.data.decode()
    assert "kept first 9.8 KB and last 9.8 KB" in got.data.decode()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunking_never_changes_the_result(seed: int) -> None:
    rng = random.Random(seed)
    data = b"".join(b"x" * rng.randint(0, 300) + b"\n" for _ in range(3000)) + b"no newline at the end"
    whole, _ = capture(data, 50_000)
    c = LogCapture(50_000)
    i = 0
    while i < len(data):
        n = rng.randint(1, 5000)
        c.feed(data[i : i + n])
        i += n
    assert c.finish().data.decode() == whole
    assert whole.endswith("no newline at the end")


def test_a_token_split_across_chunks_is_still_redacted() -> None:
    line = f'time=1 level=info msg="login with {GHP}"\n'.encode()
    data = numbered(50) + line + numbered(50)
    cut_at = len(numbered(50)) + line.index(b"ghp_") + 10
    c = LogCapture(1_000_000)
    c.feed(data[:cut_at])
    c.feed(data[cut_at:])
    text = c.finish().data.decode()
    assert GHP not in text and "ghp_" not in text
    assert "login with [REDACTED]" in text


def _pem(body_lines: int, kind: bytes = b"RSA PRIVATE KEY") -> bytes:
    body = b"".join(
        b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC%04d\n" % i for i in range(body_lines)
    )
    return b"-----BEGIN " + kind + b"-----\n" + body + b"-----END " + kind + b"-----\n"


@pytest.mark.parametrize("kind", [b"RSA PRIVATE KEY", b"OPENSSH PRIVATE KEY", b"PGP PRIVATE KEY BLOCK"])
def test_private_key_whose_begin_was_cut_is_masked_in_the_tail(kind: bytes) -> None:
    data = numbered(2000) + _pem(400, kind) + b"after the key\n"  # key body straddles the cut and the tail
    text, _ = capture(data, 20_000, chunk=1000)
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC" not in text
    assert text.endswith("[REDACTED] -----END PRIVATE KEY-----\nafter the key\n")


def test_private_key_running_into_the_end_of_the_log_is_masked_entirely() -> None:
    data = numbered(2000) + _pem(400)[:-32]  # END marker never arrives
    text, _ = capture(data, 20_000, chunk=999)
    assert "MIIEvQ" not in text
    assert text.rstrip().endswith("[REDACTED] (private key material)")


def test_private_key_between_head_and_tail_without_a_cut_is_masked() -> None:
    data = numbered(10) + _pem(40) + b"after\n"
    text, _ = capture(data, len(data) + 10, chunk=64)
    assert "MIIEvQ" not in text and text.endswith("after\n")


def test_a_giant_line_without_newlines_is_cut_mid_line() -> None:
    data = b"A" * 100_000
    text, _ = capture(data, 10_000, chunk=3333)
    head, marker, tail = text.split("\n")
    assert head == "A" * 5000 and tail == "A" * 5000
    assert marker.startswith("… [cut 87.9 KB (0 lines)")


def test_memory_stays_bounded_by_the_cap_while_streaming_much_more() -> None:
    cap = 4 << 20
    chunk = numbered(2400)  # ~67 KB, like one read from the API server
    tracemalloc.start()
    try:
        c = LogCapture(cap)
        for _ in range(1500):  # ~100 MB through the capture
            c.feed(chunk)
        _, streaming_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        data = c.finish().data
        _, finish_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert c.source_bytes == 1500 * len(chunk)
    assert len(data) < cap + 200
    assert streaming_peak < 1.2 * cap  # the head and the ring buffer, nothing per chunk
    assert finish_peak < 2.5 * cap  # the kept bytes, their redacted copy, and one block being redacted


def test_prefixer_prefixes_every_line_whatever_the_chunking() -> None:
    p = LinePrefixer(b"wf-a-1: ")
    out = p(b"one\ntw") + p(b"o\n") + p(b"\nthree") + p.close()
    assert out == b"wf-a-1: one\nwf-a-1: two\nwf-a-1: \nwf-a-1: three\n"
