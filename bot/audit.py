"""Every exec is recorded: who (the acting user), verb, pod, container, argv, exit code, duration."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.flows.registry import current_actor
from bot.store import Store
from bot.store.models import AuditEntry
from handlers.errors import ClusterError
from handlers.ports import ExecResult, PodExec

log = logging.getLogger(__name__)


class AuditingPodExec:
    """A PodExec that records each call in the store, then returns the inner result unchanged."""

    def __init__(self, inner: PodExec, store: Store) -> None:
        self._inner = inner
        self._store = store

    async def run(self, pod: str, container: str, argv: Sequence[str], timeout: float) -> ExecResult:
        actor = current_actor.get()
        entry = AuditEntry(
            user=actor.user if actor else "system",
            verb=f"exec:{actor.verb}" if actor else "exec",
            pod=pod,
            container=container,
            argv=tuple(argv),
        )
        try:
            result = await self._inner.run(pod, container, argv, timeout)
        except ClusterError as e:
            await self._record(entry, exit_code=None, duration=None, detail=f"error: {e.message}")
            raise
        detail = "timed out" if result.timed_out else None
        await self._record(entry, exit_code=result.exit_code, duration=result.duration, detail=detail)
        return result

    async def _record(
        self, entry: AuditEntry, *, exit_code: int | None, duration: float | None, detail: str | None
    ) -> None:
        try:
            await self._store.record(
                AuditEntry(
                    user=entry.user,
                    verb=entry.verb,
                    pod=entry.pod,
                    container=entry.container,
                    argv=entry.argv,
                    exit_code=exit_code,
                    duration=duration,
                    detail=detail,
                    at=entry.at,
                )
            )
        except Exception:
            # The exec happened; losing its audit row must be loud, but must not hide the result.
            log.exception("could not write the audit row for an exec")
