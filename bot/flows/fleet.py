"""`/codex fleet`, the escalation it may trigger, and the opt-in periodic fleet check."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bot.adapters.webhook import post_json
from bot.commands import Verb
from bot.deps import Deps
from bot.flows.diagnostics import collect_for
from bot.flows.registry import ActionInvocation, Actor, Invocation, action, background, current_actor, flow
from bot.render.diagnostics import attachments
from bot.render.fleet import (
    EscalationAction,
    already_open_note,
    escalation_message,
    fleet_attachment,
    fleet_message,
    needs_attachment,
)
from bot.store.models import AuditEntry
from bot.surface import Message, MessageRef, Surface
from handlers.errors import CodexError, ExternalError, NotFound
from handlers.escalation import escalation_event, next_incident_state, should_escalate
from handlers.fleet import FleetReport, check_fleet

log = logging.getLogger(__name__)

BOT_USER = "codex-bot"
MAX_DIAGNOSTIC_PODS = 50  # failing pods remembered for the "Collect diagnostics" button
MAX_BUNDLE_PODS = 5  # bundles the button collects at once; `/codex diagnostics <pod>` does the rest
_LOCK_TTL = 60.0
_LOCK_WAIT = 30.0


def incident_key(deps: Deps) -> str:
    return f"escalation/{deps.policy.namespace}"


@flow(Verb.FLEET)
async def run_fleet(inv: Invocation) -> bool:
    deps = inv.deps
    report = await check_fleet(pods=deps.pods, exec=deps.exec, policy=deps.policy)
    ref = await inv.surface.post(inv.channel, fleet_message(report, requested_by=inv.user))
    if needs_attachment(report):
        await inv.surface.upload(ref, [fleet_attachment(report)], comment="Every pod's row:")
    await escalate_if_needed(deps, inv.surface, report, origin=ref)
    return not report.failing


async def escalate_if_needed(
    deps: Deps, surface: Surface, report: FleetReport, *, origin: MessageRef | None
) -> dict[str, Any]:
    """Advance the incident state; page (incident channel + optional webhook) only when it says so."""
    holder = uuid.uuid4().hex
    key = incident_key(deps)
    await _acquire(deps, key, holder)
    try:
        prev = await deps.store.get_state(key)
        state, page = next_incident_state(prev, report, datetime.now(UTC), deps.policy)
        if state.get("status") == "open" and report.failing:
            state["failing_pods"] = [r.pod for r in report.failing][:MAX_DIAGNOSTIC_PODS]
        if page:
            await deps.store.put_state(key, state)  # the page's buttons work from the moment it shows
            await _page(deps, surface, report, state, origin)
        elif origin is not None and state.get("status") == "open" and should_escalate(report, deps.policy):
            await surface.post(origin.channel, already_open_note(state), thread=origin)
        await deps.store.put_state(key, state)
        return state
    finally:
        await deps.store.release_lock(key, holder)


async def _acquire(deps: Deps, key: str, holder: str) -> None:
    """One escalation decision at a time (a manual check and the periodic one may race)."""
    deadline = time.monotonic() + _LOCK_WAIT
    while await deps.store.acquire_lock(key, holder, _LOCK_TTL) is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the escalation lock {key} stayed busy for {_LOCK_WAIT:g}s")
        await asyncio.sleep(0.05)


async def _page(
    deps: Deps, surface: Surface, report: FleetReport, state: dict[str, Any], origin: MessageRef | None
) -> None:
    policy = deps.policy
    channel = policy.slack.incident_channel or (origin.channel if origin else "")
    ref = None
    if channel:
        ref = await surface.post(channel, escalation_message(report, state, policy))
        state["message"] = {"channel": ref.channel, "ts": ref.ts}
    else:
        log.warning("escalation: slack.incident_channel is not set; paging by webhook only")
    detail = f"paged: incident {state['incident_id']}, workflows {', '.join(report.failing_workflows)}"
    await _audit(deps, detail)
    if policy.escalation.webhook_url:
        event = escalation_event(report, policy, incident=state)
        try:
            status = await post_json(
                policy.escalation.webhook_url, event, timeout_seconds=policy.timeouts.api
            )
            note = f":satellite_antenna: Escalation event sent to the webhook (HTTP {status})."
        except ExternalError as e:
            note = f":warning: {e.for_user()}"
        if ref is not None:
            await surface.post(ref.channel, Message(text=note), thread=ref)
        else:
            log.warning("escalation webhook: %s", note)
    if ref is None:
        return
    if origin is not None and origin.channel != ref.channel:
        link = await surface.permalink(ref)
        text = f":rotating_light: Escalated in <#{ref.channel}>" + (f": <{link}|the page>" if link else ".")
        await surface.post(origin.channel, Message(text=text), thread=origin)


async def _audit(deps: Deps, detail: str) -> None:
    actor = current_actor.get()
    try:
        await deps.store.record(
            AuditEntry(user=actor.user if actor else BOT_USER, verb="escalate", detail=detail)
        )
    except Exception:
        log.exception("could not write the audit row for an escalation")


@action(EscalationAction.DIAGNOSTICS)
async def on_collect_diagnostics(act: ActionInvocation) -> None:
    """The page's "Collect diagnostics" button: the runbook's bundle for the failing pods, in its thread."""
    deps = act.deps
    await deps.access.check(Verb.DIAGNOSTICS.value, user=act.user, channel=act.channel)
    state = await deps.store.get_state(incident_key(deps)) or {}
    if state.get("incident_id") != act.value or act.message is None:
        raise NotFound(
            "That incident is closed.", hint="Run `/codex fleet`, then `/codex diagnostics <pod>` for a pod."
        )
    chosen = list(state.get("failing_pods", []))[:MAX_BUNDLE_PODS]
    thread = act.message
    text = f":mag: <@{act.user}> asked for diagnostics of {len(chosen)} failing pod(s): collecting…"
    await act.surface.post(thread.channel, Message(text=text), thread=thread)
    bundles = await asyncio.gather(*(collect_for(deps, pod, None) for pod in chosen), return_exceptions=True)
    for pod, d in zip(chosen, bundles, strict=True):
        if isinstance(d, CodexError):
            await act.surface.post(
                thread.channel, Message(text=f":warning: `{pod}`: {d.for_user()}"), thread=thread
            )
            continue
        if isinstance(d, BaseException):
            raise d
        findings = "; ".join(f.text for f in d.findings[:3]) or "no findings"
        await act.surface.upload(thread, attachments(d), comment=f"`{d.pod}`: {findings}")


@background("fleet-periodic")
async def periodic_fleet(deps: Deps, surface: Surface) -> None:
    """Opt-in (escalation.periodic_check_seconds > 0). One replica checks per round (a store lock)."""
    interval = deps.policy.escalation.periodic_check_seconds
    if interval <= 0:
        return
    holder = f"periodic-{uuid.uuid4().hex}"
    while True:
        started = time.monotonic()
        await periodic_round(deps, surface, holder=holder, lease_seconds=interval)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


async def periodic_round(
    deps: Deps, surface: Surface, *, holder: str, lease_seconds: float
) -> FleetReport | None:
    """One periodic check, unless another replica holds this round. Errors are logged, never raised."""
    if await deps.store.acquire_lock("fleet-periodic", holder, lease_seconds * 0.9) is not None:
        return None
    token = current_actor.set(Actor(BOT_USER, "fleet"))
    try:
        report = await check_fleet(pods=deps.pods, exec=deps.exec, policy=deps.policy)
        await escalate_if_needed(deps, surface, report, origin=None)
        return report
    except Exception:
        log.exception("periodic fleet check failed")
        return None
    finally:
        current_actor.reset(token)
