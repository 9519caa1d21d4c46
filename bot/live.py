"""One Slack message that follows a long operation, without flooding chat.update."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.surface import Message, MessageRef, Surface

log = logging.getLogger(__name__)


class LiveMessage:
    """Posted on the first ``set``; later states are coalesced to at most one update per
    ``min_interval`` seconds. ``close`` always sends the latest state."""

    def __init__(
        self, surface: Surface, channel: str, *, thread: MessageRef | None = None, min_interval: float = 1.0
    ) -> None:
        self._surface = surface
        self._channel = channel
        self._thread = thread
        self._min_interval = min_interval
        self._latest: Message | None = None
        self._sent: Message | None = None
        self._last_send = 0.0
        self._flush: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.ref: MessageRef | None = None

    async def set(self, message: Message) -> None:
        self._latest = message
        if self.ref is None:
            async with self._lock:
                if self.ref is None:
                    self.ref = await self._surface.post(self._channel, message, thread=self._thread)
                    self._sent, self._last_send = message, time.monotonic()
            return
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._send_later())

    async def _send_later(self) -> None:
        wait = self._min_interval - (time.monotonic() - self._last_send)
        if wait > 0:
            await asyncio.sleep(wait)
        await self._send()

    async def _send(self) -> None:
        async with self._lock:
            latest = self._latest
            if self.ref is None or latest is None or latest is self._sent:
                return
            try:
                await self._surface.update(self.ref, latest)
                self._sent, self._last_send = latest, time.monotonic()
            except Exception:
                # Progress is best effort; the final state is sent again by close().
                log.warning("could not update the progress message", exc_info=True)

    async def close(self) -> MessageRef | None:
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()
        await self._send()
        return self.ref
