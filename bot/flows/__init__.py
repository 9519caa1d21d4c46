"""Flows: one module per verb family. Importing this package registers them all.

Add a flow module: decorate its entry point with ``@flow(Verb.X)`` (and buttons with
``@action(ActionId...)``) and list the module in ``_MODULES``.
"""

from __future__ import annotations

import importlib
import time

from bot.flows.registry import (
    ACTIONS,
    FLOWS,
    FORMS,
    ActionInvocation,
    Actor,
    FormSubmission,
    Invocation,
    current_actor,
    guarded,
)
from handlers.errors import UsageError

_MODULES = (
    "basic",
    "validate",
    "diagnostics",
    "restart",
    "fleet",
    "submissions",
    "rollback",
    "watcher",
    "audit",
)

for _name in _MODULES:
    importlib.import_module(f"bot.flows.{_name}")


async def dispatch(inv: Invocation) -> str:
    """Run the verb's flow with permission check, audit and metrics. Never raises."""
    verb = inv.command.verb
    token = current_actor.set(Actor(inv.user, verb.value))
    started = time.monotonic()

    async def run() -> bool | None:
        fn = FLOWS.get(verb)
        if fn is None:
            raise UsageError(f"`{verb}` is not available in this version.", hint="See `/codex help`.")
        await inv.deps.access.check(verb.value, user=inv.user, channel=inv.channel)
        return await fn(inv)

    try:
        outcome = await guarded(run, inv.reply)
    finally:
        current_actor.reset(token)
    await inv.deps.audit_command(inv, outcome, time.monotonic() - started)
    return outcome


async def dispatch_action(act: ActionInvocation) -> str:
    handler = ACTIONS.get(act.action_id)
    if handler is None:
        return "unknown"
    token = current_actor.set(Actor(act.user, act.action_id))
    try:
        return await guarded(lambda: handler(act), act.reply)
    finally:
        current_actor.reset(token)


async def dispatch_form(sub: FormSubmission) -> str:
    handler = FORMS.get(sub.callback_id)
    if handler is None:
        return "unknown"

    token = current_actor.set(Actor(sub.user, sub.callback_id))
    try:
        return await guarded(lambda: handler(sub), sub.reply)
    finally:
        current_actor.reset(token)


__all__ = ["ACTIONS", "FLOWS", "FORMS", "dispatch", "dispatch_action", "dispatch_form"]
