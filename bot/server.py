"""HTTP mode: aiohttp serving /slack/events, /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from bot.app import CodexApp
from bot.metrics import Metrics

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]  # raises with a reason when not ready
READY_CACHE_SECONDS = 10.0


class Readiness:
    """Ready once every check passed; re-checked at most every READY_CACHE_SECONDS."""

    def __init__(self, checks: dict[str, ReadinessCheck], timeout: float = 5.0) -> None:
        self._checks = checks
        self._timeout = timeout
        self._last: tuple[float, list[str]] | None = None

    async def problems(self) -> list[str]:
        now = time.monotonic()
        if self._last and now - self._last[0] < READY_CACHE_SECONDS:
            return self._last[1]
        results = await asyncio.gather(*(self._run(n, c) for n, c in self._checks.items()))
        found = [p for p in results if p]
        self._last = (now, found)
        return found

    async def _run(self, name: str, check: ReadinessCheck) -> str | None:
        try:
            async with asyncio.timeout(self._timeout):
                await check()
        except Exception as e:
            return f"{name}: {e or type(e).__name__}"
        return None


def build_web_app(bolt: CodexApp, readiness: Readiness, metrics: Metrics) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        with bolt.work.answering():  # from reading the body on, not just Bolt's dispatch
            bolt_resp = await bolt.async_dispatch(await to_bolt_request(request))
            metrics.slack_requests.labels(status=str(bolt_resp.status)).inc()
            return await to_aiohttp_response(bolt_resp)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        problems = await readiness.problems()
        if problems:
            return web.Response(status=503, text="not ready\n" + "\n".join(problems) + "\n")
        return web.Response(text="ready\n")

    async def prometheus(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", prometheus)
    return app
