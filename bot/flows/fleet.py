"""`/codex fleet`, the escalation it may trigger, and the opt-in periodic fleet check."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.adapters.webhook import post_json
from bot.commands import Verb
from bot.deps import Deps
from bot.flows.attach import attach
from bot.flows.diagnostics import collect_for
from bot.flows.registry import ActionInvocation, Actor, Invocation, action, background, current_actor, flow
from bot.flows.side_notes import try_post
from bot.render.diagnostics import attachments
from bot.render.fleet import (
    EscalationAction,
    already_open_note,
    escalation_message,
    fleet_attachment,
    fleet_message,
    needs_attachment,
    page_failed_note,
)
from bot.store.models import AuditEntry
from bot.surface import Message, MessageRef, Surface
from handlers.errors import CodexError, ExternalError, NotFound
from handlers.escalation import escalation_event, next_incident_state, page_sent, should_escalate
from handlers.fleet import FleetReport, check_fleet

log = logging.getLogger(__name__)

BOT_USER = "codex-bot"
MAX_DIAGNOSTIC_PODS = 50  # failing pods remembered for the "Collect diagnostics" button
MAX_BUNDLE_PODS = 5  # bundles the button collects at once; `/codex diagnostics <pod>` does the rest
_LOCK_TTL = 60.0
_LOCK_WAIT = 30.0


def incident_key(deps: Deps) -> str:
    return f"escalation/{deps.policy.namespace}"


@dataclass
class Escalated:
    """One escalation decision: the incident state after it, and what paging it did."""

    state: dict[str, Any]
    delivered: list[str] = field(default_factory=list)  # where the page went, for the user
    failed: list[str] = field(default_factory=list)  # sentences: where it did not go, and why


@flow(Verb.FLEET)
async def run_fleet(inv: Invocation) -> bool:
    deps = inv.deps
    report = await check_fleet(pods=deps.pods, exec=deps.exec, policy=deps.policy)
    ref = await inv.surface.post(inv.channel, fleet_message(report, requested_by=inv.user))
    if needs_attachment(report):
        await attach(
            inv.surface, ref, [fleet_attachment(report)], comment="Every pod's row:", what="The whole table"
        )
    escalated = await escalate_if_needed(deps, inv.surface, report, origin=ref)
    if escalated.failed:
        note = page_failed_note(escalated.failed, escalated.delivered, user=inv.user)
        try:
            await inv.surface.post(ref.channel, note, thread=ref)
        except CodexError:
            await inv.reply(note)  # the channel refuses too: at least the person who asked hears it
    return not report.failing


async def escalate_if_needed(
    deps: Deps, surface: Surface, report: FleetReport, *, origin: MessageRef | None
) -> Escalated:
    """Advance the incident state; page (incident channel + optional webhook) only when it says so.

    The incident counts as paged only once the page went out; a page that did not is retried
    by the next escalating check (``page_pending``)."""
    holder = uuid.uuid4().hex
    key = incident_key(deps)
    await _acquire(deps, key, holder)
    try:
        prev = await deps.store.get_state(key)
        state, page = next_incident_state(prev, report, datetime.now(UTC), deps.policy)
        if state.get("status") == "open" and report.failing:
            state["failing_pods"] = [r.pod for r in report.failing][:MAX_DIAGNOSTIC_PODS]
        escalated = Escalated(state)
        if page:
            await deps.store.put_state(key, state)  # the page's buttons work from the moment it shows
            escalated = await _page(deps, surface, report, state, origin)
        elif origin is not None and state.get("status") == "open" and should_escalate(report, deps.policy):
            await surface.post(origin.channel, already_open_note(state), thread=origin)
        await deps.store.put_state(key, escalated.state)
        return escalated
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
) -> Escalated:
    """Page every target not reached yet: the incident channel, then the webhook. One failing never
    stops the other; Slack and webhook refusals come back in ``failed``, never raised."""
    out = Escalated(state)
    channel = deps.policy.slack.incident_channel or (origin.channel if origin else "")
    ref = page_ref(state)
    posted = None
    if ref is None and channel:
        try:
            ref = posted = await surface.post(channel, escalation_message(report, state, deps.policy))
            state["message"] = {"channel": ref.channel, "ts": ref.ts}
            out.delivered.append(f"<#{ref.channel}>")
        except CodexError as e:
            out.failed.append(f"The page in <#{channel}> was not posted: {e.for_user()}")
    elif not channel:
        log.warning("escalation: slack.incident_channel is not set; paging by webhook only")
    await _send_webhook(deps, surface, report, out, ref)
    if out.delivered:
        out.state = page_sent(state, datetime.now(UTC), complete=not out.failed)
    elif not out.failed:
        state["page_pending"] = False  # nowhere to page: nothing to retry
    detail = f"incident {state['incident_id']}, workflows {', '.join(report.failing_workflows)}"
    sent = f"paged ({', '.join(out.delivered)})" if out.delivered else "page NOT delivered"
    await _audit(deps, f"{sent}: {detail}" + (f"; failed: {' '.join(out.failed)}" if out.failed else ""))
    if posted is not None and origin is not None and origin.channel != posted.channel:
        link = await surface.permalink(posted)
        where = f"<#{posted.channel}>" + (f": <{link}|the page>" if link else ".")
        text = f":rotating_light: Escalated in {where}"
        await try_post(surface, origin.channel, Message(text=text), thread=origin)
    return out


async def _send_webhook(
    deps: Deps, surface: Surface, report: FleetReport, out: Escalated, ref: MessageRef | None
) -> None:
    """POST the event unless an earlier attempt for this incident got through; say how it went
    in the page's thread (when there is a page)."""
    policy = deps.policy
    if not policy.escalation.webhook_url or out.state.get("webhook_sent_at"):
        return
    event = escalation_event(report, policy, incident=out.state)
    try:
        status = await post_json(policy.escalation.webhook_url, event, timeout_seconds=policy.timeouts.api)
        out.state["webhook_sent_at"] = datetime.now(UTC).isoformat()
        out.delivered.append(f"the webhook (HTTP {status})")
        note = f":satellite_antenna: Escalation event sent to the webhook (HTTP {status})."
    except ExternalError as e:
        out.failed.append(e.for_user())
        note = f":warning: {e.for_user()}"
    if ref is not None:
        await try_post(surface, ref.channel, Message(text=note), thread=ref)
    else:
        log.warning("escalation webhook: %s", note)


def page_ref(state: dict[str, Any]) -> MessageRef | None:
    """The incident channel's page message, once it was posted."""
    msg = state.get("message")
    return MessageRef(str(msg["channel"]), str(msg["ts"])) if isinstance(msg, dict) else None


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
    if state.get("incident_id") != act.value or state.get("status") != "open":
        raise NotFound(
            "That incident is closed.", hint="Run `/codex fleet`, then `/codex diagnostics <pod>` for a pod."
        )
    chosen = list(state.get("failing_pods", []))[:MAX_BUNDLE_PODS]
    # The clicked page; a click that carries no message (the terminal shell) answers under the stored page.
    thread = act.message or page_ref(state)
    text = f":mag: <@{act.user}> asked for diagnostics of {len(chosen)} failing pod(s): collecting…"
    if thread is None:  # paged by webhook only: start a thread where the button was pressed
        thread = await act.surface.post(act.channel, Message(text=text))
    else:
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
        await attach(
            act.surface,
            thread,
            attachments(d),
            comment=f"`{d.pod}`: {findings}",
            what=f"The diagnostics of `{d.pod}`",
            then=f"Run `/codex diagnostics {d.pod}` to collect them again.",
        )


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
