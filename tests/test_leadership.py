"""Leadership's bookkeeping with an in-memory elector and clock; the real Lease is in test_watcher_lease."""

from __future__ import annotations

import asyncio

import pytest

from bot.leadership import Leadership
from handlers.errors import ClusterError


class Elector:
    name = "codex-bot-watcher"
    lease_seconds = 30

    def __init__(self) -> None:
        self.answer: bool | Exception = True
        self.released = 0

    async def is_leader(self) -> bool:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def release(self) -> bool:
        self.released += 1
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_leading_ends_before_others_could_take_the_lease_when_renewals_stop() -> None:
    elector, clock = Elector(), Clock()
    leader = Leadership(elector, renew_seconds=10, clock=clock)
    assert not leader.leading
    assert await leader.renew() and leader.leading
    clock.now += 19.9  # lease 30 s minus one renewal period: a renewal that hangs must not stretch it
    assert leader.leading
    clock.now += 0.2
    assert not leader.leading


async def test_a_failed_renewal_or_another_holder_ends_leading_at_once() -> None:
    elector, clock = Elector(), Clock()
    leader = Leadership(elector, renew_seconds=10, clock=clock)
    assert await leader.renew()
    elector.answer = ClusterError("the API server is unreachable")
    assert not await leader.renew() and not leader.leading
    elector.answer = True
    assert await leader.renew() and leader.leading
    elector.answer = False  # another replica holds it
    assert not await leader.renew() and not leader.leading


async def test_holding_releases_the_lease_when_its_job_is_cancelled() -> None:
    elector, entered = Elector(), asyncio.Event()

    async def job() -> None:
        async with Leadership(elector, renew_seconds=10).holding() as leader:
            assert leader.leading
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(job())
    await entered.wait()
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled() and elector.released == 1


def test_renewals_must_fit_twice_in_the_lease() -> None:
    with pytest.raises(ValueError, match="at most half"):
        Leadership(Elector(), renew_seconds=16)
