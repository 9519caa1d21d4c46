"""Work after an ack waits for Slack requests in flight, but never indefinitely and never silently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from bot.lazy import LazyWork


def _recorder(log: list[str], name: str, done: asyncio.Event | None = None) -> Callable[[], Awaitable[None]]:
    async def work() -> None:
        log.append(name)
        if done is not None:
            done.set()

    return work


async def test_work_waits_until_no_request_is_being_answered() -> None:
    ran: list[str] = []
    done = asyncio.Event()
    work = LazyWork(quiet=0.01, max_delay=30)
    with work.answering():
        work.start(_recorder(ran, "validate", done), name="validate")
        with work.answering():  # a second request arrives while the first is answered
            await asyncio.sleep(0)
        with pytest.raises(TimeoutError):  # must not compete with a request still being answered
            await asyncio.wait_for(done.wait(), 0.05)
        assert ran == []
    await asyncio.wait_for(done.wait(), 5)
    assert ran == ["validate"]


async def test_steady_traffic_cannot_starve_work() -> None:
    ran: list[str] = []
    done = asyncio.Event()
    work = LazyWork(quiet=0.01, max_delay=0.05)
    with work.answering():  # a request that never ends, as under steady traffic
        work.start(_recorder(ran, "restart", done), name="restart")
        await asyncio.wait_for(done.wait(), 5)
    assert ran == ["restart"]


async def test_failed_work_is_logged_and_later_work_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []
    done = asyncio.Event()
    work = LazyWork(quiet=0.0, slots=1)

    async def broken() -> None:
        raise RuntimeError("cluster unreachable")

    work.start(broken, name="broken")
    work.start(_recorder(ran, "after", done), name="after")
    with caplog.at_level(logging.ERROR, logger="bot.lazy"):
        await asyncio.wait_for(done.wait(), 5)
    assert ran == ["after"]
    assert "cluster unreachable" in caplog.text


async def test_long_work_gives_its_slot_back_after_hold() -> None:
    ran: list[str] = []
    done = asyncio.Event()
    work = LazyWork(quiet=0.0, slots=1, hold=0.01)
    never = asyncio.Event()

    async def waiting_for_readiness() -> None:
        await never.wait()

    work.start(waiting_for_readiness, name="long")
    work.start(_recorder(ran, "next", done), name="next")
    await asyncio.wait_for(done.wait(), 5)
    assert ran == ["next"] and work.pending == 1
    await work.close()
    assert work.pending == 0
