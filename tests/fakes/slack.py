"""Fake Slack Web API on 127.0.0.1 for the unmodified ``AsyncWebClient(base_url=fake.url)``.

Usage::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.url)
        await client.chat_postMessage(channel="C1", text="hi")
        msg = await slack.wait_for(lambda: slack.messages("C1"))

Params are read from the query string, a form body and a JSON body alike (protocols §3.5).
Unknown methods answer ``{"ok": false, "error": "unknown_method"}`` and are listed in
``unknown_methods`` so a test notices a call the fake (and maybe real Slack) does not know.
Inspection (``messages``, ``thread``, ``files``, ``ephemerals``, ``views``) lives in
``SlackWorkspace``; this module adds HTTP, auth, failure injection and waiting.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.slack_models import Call, ResponsePost
from tests.fakes.slack_socket import SocketModeEndpoint
from tests.fakes.slack_workspace import ApiFailure, SlackWorkspace

T = TypeVar("T")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass
class _Injected:
    method: str
    error: str | None  # None: rate limit
    retry_after: int
    remaining: int | None  # None: every call until clear_failures()
    channel: str | None


class FakeSlack(SlackWorkspace):
    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        team_id: str = "T0001",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
    ) -> None:
        super().__init__(team_id=team_id, bot_user_id=bot_user_id, bot_id=bot_id)
        self.token = token
        self.socket = SocketModeEndpoint(app_token, self._notify)
        self.unknown_methods: list[str] = []
        self._calls: list[Call] = []
        self._responses: list[ResponsePost] = []
        self._bindings: dict[str, tuple[str, str, str | None]] = {}
        self._injected: list[_Injected] = []
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_post("/response/{name}", self._response)
        self.socket.register(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.root = f"http://127.0.0.1:{port}/"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Web API base URL for ``AsyncWebClient(base_url=...)``, e.g. http://127.0.0.1:P/api/."""
        if not self.root:
            raise RuntimeError("FakeSlack is not started")
        return f"{self.root}api/"

    def response_url(
        self, name: str, *, channel: str | None = None, user: str | None = None, message_ts: str | None = None
    ) -> str:
        """A ``response_url`` on this fake; JSON POSTed to it shows up in ``responses(name)``.

        Bound to ``channel``/``user`` (and the clicked message), a POST also acts as on Slack:
        ``delete_original`` deletes and ``replace_original`` (default for a clicked message, as
        on Slack) replaces that message; otherwise ``response_type: in_channel`` posts to the
        channel and anything else is an ephemeral reply to ``user``."""
        if not self.root:
            raise RuntimeError("FakeSlack is not started")
        if channel:
            self._bindings[name] = (channel, user or "", message_ts)
        return f"{self.root}response/{name}"

    # ---- failure injection ---------------------------------------------------------------
    def fail(
        self,
        method: str,
        error: str = "channel_not_found",
        *,
        times: int | None = None,
        channel: str | None = None,
    ) -> None:
        """Answer ``method`` with ``{"ok": false, "error": error}`` (HTTP 200, as Slack does).
        ``times=None`` keeps failing until ``clear_failures()``; ``channel`` limits it to one channel."""
        self._injected.append(_Injected(method, error, 0, times, channel))

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer ``method`` with HTTP 429, ``Retry-After: retry_after`` and ``error: ratelimited``."""
        self._injected.append(_Injected(method, None, retry_after, times, None))

    def clear_failures(self) -> None:
        self._injected.clear()

    def _take_injected(self, method: str, params: dict[str, Any]) -> _Injected | None:
        for inj in self._injected:
            if inj.method != method or (
                inj.channel and params.get("channel", params.get("channel_id")) != inj.channel
            ):
                continue
            if inj.remaining is not None:
                inj.remaining -= 1
                if inj.remaining <= 0:
                    self._injected.remove(inj)
            return inj
        return None

    # ---- inspection ----------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[Call]:
        """Requests received, oldest first (``"upload"`` and ``"response_url"`` for non-API posts)."""
        return [c for c in self._calls if method is None or c.method == method]

    def responses(self, name: str | None = None) -> list[ResponsePost]:
        return [r for r in self._responses if name is None or r.name == name]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Wait until ``predicate()`` is truthy and return its value; re-checked on every request."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result
        except TimeoutError:
            seen = ", ".join(c.method for c in self._calls[-20:]) or "none"
            raise AssertionError(f"fake Slack: not seen within {timeout}s; last calls: {seen}") from None

    async def _record(self, call: Call) -> None:
        self._calls.append(call)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---- HTTP ----------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        status, body, headers = self._dispatch(method, params, request.headers.get("Authorization", ""))
        await self._record(Call(method, params, status, body))
        return web.json_response(body, status=status, headers=headers)

    def _dispatch(
        self, method: str, params: dict[str, Any], authorization: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        token = authorization.removeprefix("Bearer ").strip() or str(params.get("token") or "")
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method == "apps.connections.open":
            opened = self.socket.open_connection(self.root, token)
            return (
                200,
                ({"ok": False, "error": opened} if isinstance(opened, str) else {"ok": True, **opened}),
                {},
            )
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        injected = self._take_injected(method, params)
        if injected and injected.error is None:
            headers = {"Retry-After": str(injected.retry_after)}
            return 429, {"ok": False, "error": "ratelimited"}, headers
        if injected:
            return 200, {"ok": False, "error": injected.error}, {}
        handler = self.methods().get(method)
        if handler is None:
            self.unknown_methods.append(method)
            return 200, {"ok": False, "error": "unknown_method"}, {}
        try:
            return 200, {"ok": True, **handler(params)}, {}
        except ApiFailure as e:
            body: dict[str, Any] = {"ok": False, "error": e.error}
            if e.detail:
                body["response_metadata"] = {"messages": [e.detail]}
            return 200, body, {}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        injected = self._take_injected("upload", {})
        ok = injected is None and self.receive_upload(file_id, data)
        status = 200 if ok else (500 if injected else 404)
        await self._record(Call("upload", {"file_id": file_id, "length": len(data)}, status, None))
        return web.Response(status=status, text=f"OK - {len(data)}" if ok else "upload failed")

    async def _response(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            body = await request.json()
        except ValueError:
            body = {"text": await request.text()}
        self._responses.append(ResponsePost(name, body))
        if name in self._bindings and isinstance(body, dict):
            self.apply_response(*self._bindings[name], body)
        await self._record(Call("response_url", {"name": name, **body}, 200, "ok"))
        return web.Response(text="ok")


async def _read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = {key: request.query[key] for key in request.query}
    if request.content_type == "application/json":
        raw = await request.text()
        if raw.strip():
            body = json.loads(raw)
            if isinstance(body, dict):
                params.update(body)
    elif request.content_type in _FORM_TYPES:
        form = await request.post()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params
