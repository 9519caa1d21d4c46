"""Work that runs after an ack, scheduled so that it does not delay the acks of other requests.

Acks and work share one event loop, and Slack retries a request whose HTTP 200 takes over 3 s.
A burst of commands is exactly when many flows would start at once, so work waits for its turn:

- it starts only once no Slack request has been in flight for ``quiet`` seconds (or after
  ``max_delay``, so steady traffic cannot starve it);
- at most ``slots`` flows are starting at once; a flow gives its slot back when it ends or after
  ``hold`` seconds, so the flows already running when the next burst comes are few and long
  flows (a restart waiting for readiness) do not block the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

log = logging.getLogger(__name__)

QUIET_SECONDS = 0.02
MAX_DELAY_SECONDS = 1.0
SLOTS = 8
HOLD_SECONDS = 0.5


class LazyWork:
    def __init__(
        self,
        *,
        quiet: float = QUIET_SECONDS,
        max_delay: float = MAX_DELAY_SECONDS,
        slots: int = SLOTS,
        hold: float = HOLD_SECONDS,
    ) -> None:
        self._quiet_seconds = quiet
        self._max_delay = max_delay
        self._hold = hold
        self._slots = asyncio.Semaphore(slots)
        self._in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the loop only holds weak references

    @property
    def pending(self) -> int:
        """Work started and not finished (waiting for its turn or running)."""
        return len(self._tasks)

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Marks a Slack request in flight until the block ends (nests)."""
        self._in_flight += 1
        self._quiet.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._timer = asyncio.get_running_loop().call_later(self._quiet_seconds, self._quiet.set)

    def start(self, work: Callable[[], Awaitable[None]], *, name: str) -> None:
        """Run ``work()`` as its own task once it is its turn. Failures are logged."""
        task = asyncio.get_running_loop().create_task(self._in_turn(work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _in_turn(self, work: Callable[[], Awaitable[None]]) -> None:
        await self._slots.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._slots.release()

        try:
            if not self._quiet.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._max_delay):
                        await self._quiet.wait()
            timer = asyncio.get_running_loop().call_later(self._hold, release)
            try:
                await work()
            except Exception:
                log.exception("work after an ack failed")
            finally:
                timer.cancel()
        finally:
            release()

    async def idle(self) -> None:
        """Until the work started so far, and any started meanwhile, has finished."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def close(self) -> None:
        """Cancel what is still waiting or running (the process is stopping)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
