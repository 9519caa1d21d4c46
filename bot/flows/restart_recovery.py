"""Restarts whose bot process died after the approval: noticed, reported, never re-run.

While a process handles an approved restart it touches the approval every HEARTBEAT_SECONDS
(``alive``). One left approved or running and untouched for ABANDONED_AFTER lost its process (a
crash, an OOM kill, a redeploy): whichever replica notices first marks it failed in one conditional
UPDATE (so exactly one reports it), which frees the pod, and says so on the request and to the
requester. A heartbeat rather than "older than the restart timeout": a run's length depends on
timeouts, Slack and the store, while a heartbeat only has to keep beating, so a crash is noticed
within about a minute and a slow live run is never taken from its process. The margin covers a
heartbeat write queued behind the store's busy timeout (30 s) and clock skew between replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from bot.deps import Deps
from bot.flows.registry import background
from bot.flows.restart_notify import BOT_USER, KIND, audit, message_ref, redraw, tell_requester
from bot.flows.side_notes import try_post
from bot.render.restart import interrupted_notice, interrupted_outcome
from bot.store import Approval
from bot.surface import Surface

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
ABANDONED_AFTER = timedelta(seconds=60)
INTERRUPTED = "interrupted by a bot restart"


@contextlib.asynccontextmanager
async def alive(deps: Deps, approval_id: str) -> AsyncIterator[None]:
    """Heartbeats for the approval while the block runs."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                if await deps.store.heartbeat(approval_id) is None:
                    return  # finished, or another replica took it for abandoned
            except Exception:
                log.warning("could not record the heartbeat of restart %s", approval_id, exc_info=True)

    task = asyncio.create_task(beat(), name=f"restart-heartbeat {approval_id}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def recover_abandoned(deps: Deps, surface: Surface) -> list[Approval]:
    """Fail the abandoned restarts (freeing their pods) and say so where the request and the
    requester are. Never re-run: the daemon may have been killed, restarted, or left alone."""
    found = await deps.store.fail_abandoned(
        [KIND], ABANDONED_AFTER, {"error": INTERRUPTED, "interrupted": True}
    )
    for approval in found:
        try:
            await asyncio.wait_for(_report(deps, surface, approval), deps.policy.timeouts.api * 4)
        except Exception:
            log.exception("could not report the interrupted restart %s", approval.id)
    return found


async def _report(deps: Deps, surface: Surface, approval: Approval) -> None:
    await audit(deps, approval, BOT_USER, INTERRUPTED, verb=KIND)
    await redraw(deps, surface, approval, interrupted_outcome(approval))
    notice = interrupted_notice(approval)
    thread = message_ref(approval)
    told = await tell_requester(deps, surface, approval, notice)
    if thread is not None and thread != told:
        await try_post(surface, thread.channel, notice, thread=thread)


@background("restart-recovery")
async def recover_interrupted_restarts(deps: Deps, surface: Surface) -> None:
    """At start-up, then every heartbeat: a replica that died mid-restart is noticed by the others too."""
    while True:
        try:
            await recover_abandoned(deps, surface)
        except Exception:
            log.exception("looking for interrupted restarts failed; retrying")
        await asyncio.sleep(HEARTBEAT_SECONDS)
