"""Sends what Slack sends to the bot's ``POST /slack/events``: signed slash commands,
``block_actions`` clicks and ``view_submission`` payloads (protocols §3.1-3.4).

Every call returns a ``DriverResponse`` that unpacks as ``status, body, elapsed``::

    async with SlackDriver(bot_url, secret, response_urls=fake_slack.response_url) as slack:
        status, body, elapsed = await slack.command("validate codex-pod", user_id="U1")
        msg = await fake_slack.wait_for(lambda: fake_slack.messages("C0OPS"))
        await slack.click(msg[-1], "restart.approve", user_id="U0APPROVER")

``bot_url`` is either the bot's root (``http://127.0.0.1:P``, ``/slack/events`` is added) or
the full events URL.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, TypedDict, Unpack, cast
from urllib.parse import urlencode, urlsplit

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_payloads import (
    Team,
    block_actions,
    button,
    command_fields,
    find_button,
    modal,
    view_submission,
)

FORM = "application/x-www-form-urlencoded"
STALE_SECONDS = 10 * 60  # beyond Slack's 5-minute window


class Signing(TypedDict, total=False):
    """How a request is signed and marked; every key is optional."""

    bad_signature: bool  # sign with the wrong secret
    unsigned: bool  # no signature headers at all
    stale: bool  # timestamp 10 minutes old (signed correctly)
    timestamp: int  # explicit X-Slack-Request-Timestamp
    retry_num: int  # X-Slack-Retry-Num
    retry_reason: str  # X-Slack-Retry-Reason (default http_timeout when retry_num is set)


class Delivery(Signing, total=False):
    trigger_id: str  # default: a fresh one per request
    response_url: str  # default: from ``response_urls(name)`` or a hooks.slack.com-like URL


class MessageLike(Protocol):
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None


class ViewLike(Protocol):
    id: str
    view: dict[str, Any]


class ResponseUrls(Protocol):
    """Hands out a ``response_url`` bound to where the request came from (``FakeSlack.response_url``)."""

    def __call__(self, name: str, *, channel: str, user: str, message_ts: str | None) -> str: ...


@dataclass(frozen=True)
class DriverResponse:
    status: int
    body: str
    elapsed: float  # seconds from sending to the full response
    headers: Mapping[str, str] = field(default_factory=dict)
    trigger_id: str = ""
    response_url: str = ""
    request_body: str = ""

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.body, self.elapsed))

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class SlackDriver:
    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        *,
        team_id: str = "T0001",
        team_domain: str = "fake",
        api_app_id: str = "A0CODEX",
        response_urls: ResponseUrls | None = None,
        timeout: float = 10.0,
    ) -> None:
        path = urlsplit(bot_url).path
        self.url = bot_url.rstrip("/") + "/slack/events" if path in ("", "/") else bot_url
        self.signing_secret = signing_secret
        self.team = Team(team_id, team_domain, api_app_id)
        self._response_urls = response_urls
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._seq = itertools.count(1)

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- what users do -------------------------------------------------------------------
    async def command(
        self,
        text: str,
        *,
        user_id: str = "U0USER",
        user_name: str = "alice",
        channel_id: str = "C0OPS",
        channel_name: str = "ops",
        command: str = "/codex",
        **opts: Unpack[Delivery],
    ) -> DriverResponse:
        """A slash command ``/codex <text>`` typed by ``user_id`` in ``channel_id``."""
        trigger_id, response_url, signing = self._ids("command", opts, channel_id, user_id, None)
        fields = command_fields(
            self.team,
            (user_id, user_name),
            (channel_id, channel_name),
            command=command,
            text=text,
            response_url=response_url,
            trigger_id=trigger_id,
        )
        return await self.send(urlencode(fields), trigger_id=trigger_id, response_url=response_url, **signing)

    async def action(
        self,
        action_id: str,
        value: str = "",
        *,
        user_id: str = "U0USER",
        user_name: str = "alice",
        channel_id: str = "C0OPS",
        message: Mapping[str, Any] | None = None,
        block_id: str = "actions",
        button_text: str = "",
        is_ephemeral: bool = False,
        state_values: Mapping[str, Any] | None = None,
        **opts: Unpack[Delivery],
    ) -> DriverResponse:
        """A ``block_actions`` button click on ``message`` (API message JSON with at least ``ts``)."""
        message = dict(message or {"type": "message", "ts": f"{int(time.time())}.000100", "text": ""})
        original = None if is_ephemeral else str(message["ts"])
        trigger_id, response_url, signing = self._ids("action", opts, channel_id, user_id, original)
        payload = block_actions(
            self.team,
            self.team.user(user_id, user_name),
            channel_id,
            message,
            button(action_id, value, block_id, button_text),
            trigger_id=trigger_id,
            response_url=response_url,
            is_ephemeral=is_ephemeral,
            state_values=state_values,
        )
        body = urlencode({"payload": json.dumps(payload)})
        return await self.send(body, trigger_id=trigger_id, response_url=response_url, **signing)

    async def click(
        self, message: MessageLike, action_id: str, *, user_id: str = "U0USER", **opts: Unpack[Delivery]
    ) -> DriverResponse:
        """Click the button ``action_id`` that ``message`` (e.g. from ``FakeSlack.messages()``) shows."""
        block_id, element = find_button(message.blocks, action_id)
        api_message: dict[str, Any] = {
            "type": "message",
            "ts": message.ts,
            "text": message.text,
            "blocks": message.blocks,
            "bot_id": "B0BOT",
        }
        if message.thread_ts:
            api_message["thread_ts"] = message.thread_ts
        return await self.action(
            action_id,
            str(element.get("value", "")),
            user_id=user_id,
            channel_id=message.channel,
            message=api_message,
            block_id=block_id,
            button_text=str(element.get("text", {}).get("text", "")),
            **opts,
        )

    async def view_submission(
        self,
        callback_id: str,
        values: Mapping[str, Mapping[str, Any]],
        *,
        user_id: str = "U0USER",
        user_name: str = "alice",
        private_metadata: str = "",
        view_id: str = "V0FAKE",
        blocks: list[dict[str, Any]] | None = None,
        **opts: Unpack[Delivery],
    ) -> DriverResponse:
        """Submit a modal. ``values``: {block_id: {action_id: "typed text" | element state dict}}."""
        trigger_id, _, signing = self._ids("view", opts, "", user_id, None)
        view = modal(
            self.team, callback_id, values, view_id=view_id, private_metadata=private_metadata, blocks=blocks
        )
        payload = view_submission(self.team, self.team.user(user_id, user_name), view, trigger_id)
        return await self.send(urlencode({"payload": json.dumps(payload)}), trigger_id=trigger_id, **signing)

    async def submit(
        self, view: ViewLike, values: Mapping[str, Mapping[str, Any]], **kwargs: Any
    ) -> DriverResponse:
        """Submit a modal the bot opened (e.g. from ``FakeSlack.views()``)."""
        return await self.view_submission(
            str(view.view.get("callback_id", "")),
            values,
            private_metadata=str(view.view.get("private_metadata", "")),
            view_id=view.id,
            blocks=list(view.view.get("blocks", [])),
            **kwargs,
        )

    async def retry(
        self, first: DriverResponse, retry_num: int = 1, reason: str = "http_timeout"
    ) -> DriverResponse:
        """Deliver the same request again, as Slack does when the first answer was late."""
        return await self.send(
            first.request_body,
            trigger_id=first.trigger_id,
            response_url=first.response_url,
            retry_num=retry_num,
            retry_reason=reason,
        )

    # ---- the wire ------------------------------------------------------------------------
    def signed_headers(self, body: str, **opts: Unpack[Signing]) -> dict[str, str]:
        headers = {"Content-Type": FORM}
        if opts.get("unsigned"):
            return headers
        now = int(time.time())
        timestamp = str(opts.get("timestamp", now - STALE_SECONDS if opts.get("stale") else now))
        secret = "not-the-" + self.signing_secret if opts.get("bad_signature") else self.signing_secret
        signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
        headers["X-Slack-Request-Timestamp"] = timestamp
        headers["X-Slack-Signature"] = signature or ""
        if "retry_num" in opts:
            headers["X-Slack-Retry-Num"] = str(opts["retry_num"])
            headers["X-Slack-Retry-Reason"] = opts.get("retry_reason", "http_timeout")
        return headers

    async def send(
        self, body: str, *, trigger_id: str = "", response_url: str = "", **opts: Unpack[Signing]
    ) -> DriverResponse:
        """POST a raw form body to the bot, signed as ``opts`` say."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = self.signed_headers(body, **opts)
        started = time.perf_counter()
        async with self._session.post(self.url, data=body.encode(), headers=headers) as resp:
            text = await resp.text()
        elapsed = time.perf_counter() - started
        return DriverResponse(resp.status, text, elapsed, dict(resp.headers), trigger_id, response_url, body)

    def _ids(
        self, kind: str, opts: Delivery, channel: str, user: str, message_ts: str | None
    ) -> tuple[str, str, Signing]:
        n = next(self._seq)
        signing = cast(Signing, {k: v for k, v in opts.items() if k not in ("trigger_id", "response_url")})
        trigger_id = opts.get("trigger_id", f"{n}.{int(time.time())}.{secrets.token_hex(8)}")
        if "response_url" in opts:
            return trigger_id, opts["response_url"], signing
        if self._response_urls is None:
            return (
                trigger_id,
                f"https://hooks.slack.com/{kind}s/{self.team.team_id}/{n}/{secrets.token_hex(6)}",
                signing,
            )
        return (
            trigger_id,
            self._response_urls(f"{kind}-{n}", channel=channel, user=user, message_ts=message_ts),
            signing,
        )
