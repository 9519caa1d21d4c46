"""The dependencies every flow receives, built once by the composition root."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.metrics import Metrics
from bot.store import Store
from bot.store.models import AuditEntry
from config.settings import Policy, Settings
from handlers.ports import ClusterObjects, IssueTracker, PodExec, PodLogs, Pods, PullRequests

if TYPE_CHECKING:
    from bot.access import Access
    from bot.approvals import Approvers
    from bot.flows.registry import Invocation

log = logging.getLogger(__name__)


@dataclass
class Deps:
    settings: Settings
    pods: Pods
    exec: PodExec  # audited: every call is recorded with the acting user
    logs: PodLogs
    objects: ClusterObjects
    store: Store
    access: Access
    approvers: Approvers
    metrics: Metrics
    issues: IssueTracker | None = None
    pulls: PullRequests | None = None  # for rollback --mode pull-request
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def policy(self) -> Policy:
        return self.settings.policy

    async def audit_command(self, inv: Invocation, outcome: str, duration: float) -> None:
        c = inv.command
        self.metrics.commands.labels(verb=c.verb.value, outcome=outcome).inc()
        self.metrics.command_seconds.labels(verb=c.verb.value).observe(duration)
        if c.verb.value in ("help", "audit"):
            return  # reading the help or the log is not an action worth a row
        detail = " ".join(x for x in (c.reason or "", f"issue={c.issue}" if c.issue else "") if x)
        try:
            await self.store.record(
                AuditEntry(
                    user=inv.user,
                    verb=c.verb.value,
                    pod=c.pod,
                    duration=duration,
                    detail=f"{'dry run: ' if c.dry_run else ''}{outcome}{': ' + detail if detail else ''}",
                )
            )
        except Exception:
            log.exception("could not write the audit row for a command")
