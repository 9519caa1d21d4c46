"""`codex-bot serve`: HTTP mode on $PORT, or Socket Mode when SLACK_APP_TOKEN is set."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import build_app, open_runtime, slack_surface
from bot.flows.registry import BACKGROUND
from bot.server import Readiness, build_web_app
from config.settings import Settings
from handlers.errors import CodexError

log = logging.getLogger(__name__)


def _missing(settings: Settings) -> str | None:
    env = settings.env
    if env.slack_bot_token is None:
        return "SLACK_BOT_TOKEN is not set"
    if env.slack_app_token is None and env.slack_signing_secret is None:
        return (
            "SLACK_SIGNING_SECRET is not set (needed for HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)"
        )
    return None


async def _until_stopped(stop: asyncio.Event | None) -> None:
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Runs until SIGTERM/SIGINT, or until ``stop`` is set (tests)."""
    problem = _missing(settings)
    if problem:
        print(f"codex-bot serve: {problem}. Without Slack, try `codex-bot shell --sandbox`.", file=sys.stderr)
        return 2
    surface = slack_surface(settings)
    try:
        runtime = await open_runtime(settings, group_members=surface.group_members)
    except CodexError as e:
        print(f"codex-bot serve: {e.for_user()}", file=sys.stderr)
        return 1
    app = build_app(settings, runtime.deps, surface)
    readiness = Readiness({"slack": surface.auth_check, "kubernetes": runtime.kube.ping})
    # No access log: a log line per request costs as much as the rest of an ack; Slack requests are
    # counted by status in /metrics, and what they start is logged and audited.
    runner = web.AppRunner(build_web_app(app, readiness, runtime.deps.metrics), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host="0.0.0.0", port=settings.env.port).start()
    runtime.background = [
        asyncio.create_task(job(runtime.deps, surface), name=name) for name, job in BACKGROUND.items()
    ]
    # Everything allocated so far (modules, clients, the Kubernetes models) lives as long as the
    # process; frozen, full collections skip it instead of pausing the loop for ~100 ms in a burst.
    gc.collect()
    gc.freeze()
    socket_mode = None
    if settings.env.slack_app_token is not None:
        socket_mode = AsyncSocketModeHandler(app, settings.env.slack_app_token.get_secret_value())
        await socket_mode.connect_async()
        log.info("Socket Mode connected; health and metrics on :%d", settings.env.port)
    else:
        log.info("HTTP mode: POST /slack/events on :%d", settings.env.port)
    try:
        await _until_stopped(stop)
    finally:
        if socket_mode is not None:
            await socket_mode.close_async()
        await runner.cleanup()
        await app.work.close()
        await runtime.close()
    return 0
