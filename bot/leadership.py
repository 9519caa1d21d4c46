"""Holding a ``coordination.k8s.io`` Lease the way client-go's leaderelection does.

The Lease is renewed in the background every ``renew_seconds`` while held (and tried as often while
not), independent of how long the work it guards takes. This replica stops counting as the leader
the moment a renewal fails or finds another holder, and in any case ``lease_seconds -
renew_seconds`` after the start of its last successful renewal (a renewal that hangs cannot keep it
leading until others may take over). Leaving ``holding()`` releases the Lease, so another replica
takes over at once instead of waiting for it to lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from handlers.errors import CodexError

log = logging.getLogger(__name__)


class Elector(Protocol):
    """One try at a Lease (``bot.adapters.kube_objects.LeaseElector``)."""

    @property
    def name(self) -> str: ...

    @property
    def lease_seconds(self) -> int: ...

    async def is_leader(self) -> bool: ...

    async def release(self) -> bool: ...


class Leadership:
    def __init__(
        self, elector: Elector, *, renew_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if renew_seconds * 2 > elector.lease_seconds:
            raise ValueError(f"renew_seconds {renew_seconds} must be at most half of the lease")
        self._elector, self.renew_seconds, self._clock = elector, renew_seconds, clock
        self._until = 0.0  # on self._clock: from then on this replica does not count as leading

    @property
    def leading(self) -> bool:
        """True while the Lease is ours and was renewed recently enough that nobody else can hold it."""
        return self._clock() < self._until

    async def renew(self) -> bool:
        """One try to acquire or renew the Lease; whether this replica leads now."""
        started, was = self._clock(), self.leading
        try:
            held = await self._elector.is_leader()
        except CodexError as e:
            log.warning("Lease %s: could not renew it: %s", self._elector.name, e.for_user())
            held = False
        except Exception:
            log.exception("Lease %s: could not renew it", self._elector.name)
            held = False
        self._until = started + self._elector.lease_seconds - self.renew_seconds if held else 0.0
        if held != was:
            log.info("Lease %s: %s", self._elector.name, "now the leader" if held else "no longer the leader")
        return held

    async def _keep_renewing(self) -> None:
        while True:
            await asyncio.sleep(self.renew_seconds)
            await self.renew()

    @contextlib.asynccontextmanager
    async def holding(self) -> AsyncIterator[Leadership]:
        """Try once now, then keep renewing in the background; on leaving, release the Lease."""
        await self.renew()
        renewing = asyncio.create_task(self._keep_renewing(), name=f"lease-{self._elector.name}")
        try:
            yield self
        finally:
            renewing.cancel()
            await asyncio.wait([renewing])
            await self.release()

    async def release(self) -> None:
        """Give the Lease up (when this replica holds it) so another replica takes over at once."""
        self._until = 0.0
        try:
            if await self._elector.release():
                log.info("Lease %s: released", self._elector.name)
        except CodexError as e:
            log.warning("Lease %s: could not release it: %s", self._elector.name, e.for_user())
