"""Socket Mode on the fake Slack: ``apps.connections.open`` hands out a WebSocket URL on the fake;
the app connects, gets ``hello``, and answers every envelope pushed to it with an ack carrying the
same ``envelope_id`` (and, for slash commands, an optional response payload)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

PATH = "/socket-mode/{ticket}"


class SocketModeEndpoint:
    def __init__(self, app_token: str, notify: Callable[[], Awaitable[None]]) -> None:
        self.app_token = app_token
        self.acks: list[dict[str, Any]] = []
        self._notify = notify
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []

    def register(self, app: web.Application) -> None:
        app.router.add_get(PATH, self._connect)

    def open_connection(self, root: str, token: str) -> dict[str, Any] | str:
        """``apps.connections.open``: the URL, or the error Slack gives for a non-app token."""
        if token != self.app_token:
            return "not_allowed_token_type" if token.startswith("xox") else "invalid_auth"
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        return {"url": root.replace("http://", "ws://") + PATH.format(ticket=ticket).lstrip("/")}

    @property
    def connected(self) -> int:
        return sum(not ws.closed for ws in self._sockets)

    async def send(self, envelope_type: str, payload: dict[str, Any]) -> str:
        """Push one envelope to the newest open connection; returns its ``envelope_id``."""
        live = [ws for ws in self._sockets if not ws.closed]
        if not live:
            raise RuntimeError("no Socket Mode connection is open")
        envelope_id = secrets.token_hex(8)
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": envelope_type == "slash_commands",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await live[-1].send_str(json.dumps(envelope))
        return envelope_id

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="unknown ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        await self._notify()
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                self.acks.append(json.loads(msg.data))
                await self._notify()
        await self._notify()
        return ws
