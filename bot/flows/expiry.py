"""Expiry of pending approvals, for every kind: one sweeper, a handler per kind.

``store.expire_due`` hands each newly expired approval to exactly one caller (across
replicas), so there must be one sweeper for all kinds; a per-kind sweeper would swallow
the other kinds' expiries. Flows register what an expiry looks like for their kind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.deps import Deps
from bot.flows.registry import background
from bot.store import Approval
from bot.surface import Surface

log = logging.getLogger(__name__)

ExpiryHandler = Callable[[Deps, Surface, Approval], Awaitable[None]]
EXPIRY_HANDLERS: dict[str, ExpiryHandler] = {}

# Expiry is announced within a tenth of the TTL, bounded so short test TTLs stay prompt and a
# long TTL does not leave an expired request looking clickable for minutes.
_MIN_SWEEP, _MAX_SWEEP = 0.2, 10.0


def on_expired(kind: str) -> Callable[[ExpiryHandler], ExpiryHandler]:
    def register(fn: ExpiryHandler) -> ExpiryHandler:
        EXPIRY_HANDLERS[kind] = fn
        return fn

    return register


def sweep_interval(ttl_seconds: float) -> float:
    return min(_MAX_SWEEP, max(_MIN_SWEEP, ttl_seconds / 10))


async def sweep_once(deps: Deps, surface: Surface) -> list[Approval]:
    """Expire what is due and tell each kind's handler; a failing handler does not stop the others."""
    expired = await deps.store.expire_due()
    for approval in expired:
        handler = EXPIRY_HANDLERS.get(approval.kind)
        if handler is None:
            log.warning("approval %s (%s) expired; no handler shows it", approval.id, approval.kind)
            continue
        try:
            await asyncio.wait_for(handler(deps, surface, approval), deps.policy.timeouts.api * 4)
        except Exception:
            log.exception("could not announce the expiry of approval %s", approval.id)
    return expired


@background("approval-expiry")
async def expire_approvals(deps: Deps, surface: Surface) -> None:
    interval = sweep_interval(deps.policy.approvals.ttl_seconds)
    while True:
        try:
            await sweep_once(deps, surface)
        except Exception:
            log.exception("approval expiry sweep failed; retrying")
        await asyncio.sleep(interval)
