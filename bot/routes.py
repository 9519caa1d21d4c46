"""Bolt listeners: ack first (Slack's 3 s rule), parse, hand over. No work before the ack."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.commands import Command, parse
from bot.deps import Deps
from bot.flows import dispatch, dispatch_action, dispatch_form
from bot.flows.registry import ActionInvocation, FormSubmission, Invocation, Reply
from bot.lazy import LazyWork
from bot.surface import Message, MessageRef, Surface
from handlers.errors import UsageError

log = logging.getLogger(__name__)


def _responder(respond: AsyncRespond | None, surface: Surface, channel: str, user: str) -> Reply:
    """Ephemeral replies go through response_url (works even where the bot is not a member)."""

    async def reply(message: Message) -> None:
        if respond is not None:
            await respond(
                text=message.text, blocks=message.blocks, response_type="ephemeral", replace_original=False
            )
        else:
            await surface.ephemeral(channel, user, message)

    return reply


def _delivery_key(body: dict[str, Any], raw: str) -> str:
    trigger = body.get("trigger_id")
    return f"cmd:{trigger}" if trigger else "cmd-body:" + hashlib.sha256(raw.encode()).hexdigest()


def register(app: AsyncApp, deps: Deps, surface: Surface, work: LazyWork) -> None:
    """Each listener is an ack function only: Bolt sends its HTTP 200 when it returns, and the work
    it hands to ``work`` starts after that. (Bolt's own lazy listeners deep-copy the whole request
    before the ack goes out, which was most of the cost of an ack.) Listeners close over ``deps``
    (Bolt would pass None for unknown keyword names)."""

    async def ack_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, request: Any) -> None:
        try:
            command = parse(str(body.get("text", "")))
        except UsageError as e:
            await ack(response_type="ephemeral", text=f":warning: {e.for_user()}")
            return
        await ack()
        raw = str(request.raw_body)
        work.start(lambda: run_command(command, body, respond, raw), name=f"command {command.verb.value}")

    async def run_command(command: Command, body: dict[str, Any], respond: AsyncRespond, raw: str) -> None:
        if not await deps.store.claim_delivery(_delivery_key(body, raw)):
            log.info("redelivered command ignored: %s", body.get("trigger_id"))
            return
        user, channel = str(body.get("user_id", "")), str(body.get("channel_id", ""))
        inv = Invocation(
            command=command,
            user=user,
            channel=channel,
            surface=surface,
            deps=deps,
            reply=_responder(respond, surface, channel, user),
            trigger_id=body.get("trigger_id"),
        )
        await dispatch(inv)

    async def run_action(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        user = str(body.get("user", {}).get("id", ""))
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
        ts = container.get("message_ts")
        act = ActionInvocation(
            action_id=str(action.get("action_id", "")),
            value=str(action.get("value", "")),
            user=user,
            channel=channel,
            message=MessageRef(channel, str(ts)) if ts else None,
            surface=surface,
            deps=deps,
            reply=_responder(respond, surface, channel, user),
            trigger_id=body.get("trigger_id"),
        )
        await dispatch_action(act)

    async def run_view(body: dict[str, Any], view: dict[str, Any]) -> None:
        user = str(body.get("user", {}).get("id", ""))
        values = {
            action_id: str(field.get("value") or "")
            for block in (view.get("state") or {}).get("values", {}).values()
            for action_id, field in block.items()
        }

        async def dm(message: Message) -> None:
            await surface.post(user, message)

        sub = FormSubmission(
            callback_id=str(view.get("callback_id", "")),
            user=user,
            private_metadata=str(view.get("private_metadata", "")),
            values=values,
            surface=surface,
            deps=deps,
            reply=dm,
        )
        await dispatch_form(sub)

    async def ack_action(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        work.start(lambda: run_action(body, action, respond), name="action")

    async def ack_view(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        work.start(lambda: run_view(body, view), name="view")

    app.command(deps.settings.policy.slack.command)(ack_command)
    app.action(re.compile(r".+"))(ack_action)
    app.view(re.compile(r".+"))(ack_view)
