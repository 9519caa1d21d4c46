"""Surface on the Slack Web API (slack_sdk AsyncWebClient)."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.render.blocks import TEXT_LIMIT, fit
from bot.surface import Attachment, Message, MessageRef
from handlers.errors import ExternalError
from handlers.redact import redact

_HINTS = {
    "not_in_channel": "Invite the bot to the channel first: `/invite @codex-bot`.",
    "channel_not_found": "The bot cannot see that channel; invite it, or check the channel ID in the config.",
    "is_archived": "The channel is archived.",
    "missing_scope": "The Slack app lacks a scope; reinstall it from the manifest in helm/codex-bot.",
    "invalid_auth": "SLACK_BOT_TOKEN is wrong or revoked.",
    "ratelimited": "Slack is rate-limiting the bot; try again in a minute.",
}


def make_client(token: str, base_url: str, *, timeout: int = 15) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


def _error(what: str, e: Exception) -> ExternalError:
    if isinstance(e, SlackApiError):
        code = str(e.response.get("error", "unknown_error"))
        return ExternalError(
            f"Slack refused to {what}: `{code}`.",
            service="slack",
            status=e.response.status_code,
            hint=_HINTS.get(code),
        )
    return ExternalError(
        f"Slack did not answer when trying to {what}.",
        service="slack",
        hint="Check the bot's network path to Slack; the work itself was not lost.",
    )


def _redacted(value: Any) -> Any:
    """Redact every string in a Block Kit tree (button values and IDs are ours, not user data)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: v if k in ("action_id", "block_id", "value") else _redacted(v) for k, v in value.items()}
    return value


def _payload(message: Message) -> dict[str, Any]:
    """Text and blocks are redacted here, at the edge; attachments are redacted by their producers
    (they can be megabytes, and are redacted line by line while being collected)."""
    body: dict[str, Any] = {"text": fit(redact(message.text), TEXT_LIMIT)}
    if message.blocks is not None:
        body["blocks"] = _redacted(message.blocks)
    return body


class SlackSurface:
    """Everything goes through ``call`` so each API call is bounded and errors become ExternalError."""

    def __init__(self, client: AsyncWebClient, *, timeout: float = 30) -> None:
        self.client = client
        self._timeout = timeout

    async def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await getattr(self.client, method)(**kwargs)
        except (SlackApiError, SlackClientError, TimeoutError, OSError) as e:
            raise _error(what, e) from e

    async def post(self, channel: str, message: Message, *, thread: MessageRef | None = None) -> MessageRef:
        extra = {"thread_ts": thread.ts} if thread else {}
        resp = await self._call(
            "post a message", "chat_postMessage", channel=channel, **_payload(message), **extra
        )
        return MessageRef(channel=str(resp["channel"]), ts=str(resp["ts"]))

    async def update(self, ref: MessageRef, message: Message) -> None:
        await self._call(
            "update a message", "chat_update", channel=ref.channel, ts=ref.ts, **_payload(message)
        )

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        await self._call("reply", "chat_postEphemeral", channel=channel, user=user, **_payload(message))

    async def upload(self, thread: MessageRef, files: list[Attachment], *, comment: str = "") -> None:
        if not files:
            return
        uploads = [
            {"filename": f.filename, "content": f.content, "title": f.title or f.filename} for f in files
        ]
        await self._call(
            "attach files",
            "files_upload_v2",
            file_uploads=uploads,
            channel=thread.channel,
            thread_ts=thread.ts,
            initial_comment=comment or None,
        )

    async def permalink(self, ref: MessageRef) -> str | None:
        try:
            resp = await self._call(
                "link the thread", "chat_getPermalink", channel=ref.channel, message_ts=ref.ts
            )
        except ExternalError:
            return None
        link = resp.get("permalink")
        return str(link) if link else None

    async def group_members(self, group: str) -> set[str]:
        resp = await self._call(f"read user group {group}", "usergroups_users_list", usergroup=group)
        return {str(u) for u in resp.get("users", [])}

    async def auth_check(self) -> None:
        """Readiness: the token works (``auth.test``)."""
        await self._call("check the bot token", "auth_test")

    async def open_form(self, trigger_id: str, view: dict[str, Any]) -> bool:
        await self._call("open a form", "views_open", trigger_id=trigger_id, view=view)
        return True
