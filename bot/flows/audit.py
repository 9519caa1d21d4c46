"""`/codex audit [pod]`: who ran what, when, with what result (ephemeral)."""

from __future__ import annotations

from bot.commands import Verb
from bot.flows.registry import Invocation, flow
from bot.render.audit import audit_message

AUDIT_ROWS = 20


@flow(Verb.AUDIT)
async def run_audit(inv: Invocation) -> None:
    pod = inv.command.pod
    entries = await inv.deps.store.recent(AUDIT_ROWS, pod=pod)
    await inv.reply(audit_message(entries, pod=pod, limit=AUDIT_ROWS))
