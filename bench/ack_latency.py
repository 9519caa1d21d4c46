"""Benchmark: how fast Slack gets its HTTP 200 for `/codex validate`, against the machine's floor.

Fires N concurrent signed slash commands at a running `codex-bot serve` (fake Kubernetes and
Slack behind it, in their own process) and, in the same run, the same requests at a do-nothing
aiohttp server (the floor: what any HTTP server on this machine costs). Prints p50/p99 for both
and their ratio. Target: bot p99 ≤ 1.5 × floor p99. Exit 1 when missed.

    .venv/bin/python bench/ack_latency.py [--requests 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bench.bot_process import SIGNING_SECRET, free_port, running_bot, wait_ready
from bot.sandbox.seed import HEALTHY_POD

TARGET_RATIO = 1.5


def _floor_server(port: int) -> None:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="")

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="ready")

    app = web.Application()
    app.router.add_post("/slack/events", ok)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body),
    }


def _command(i: int, response_url: str) -> str:
    return urlencode(
        {
            "token": "x",
            "team_id": "T0001",
            "team_domain": "bench",
            "channel_id": "C0BENCH",
            "channel_name": "bench",
            "user_id": f"U0BENCH{i % 7}",
            "user_name": "bench",
            "command": "/codex",
            "text": os.environ.get("BENCH_TEXT", f"validate {HEALTHY_POD}"),
            "api_app_id": "A0CODEX",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"bench.{time.monotonic_ns()}.{i}",
        }
    )


async def _fire(url: str, n: int, response_url: str) -> list[float]:
    bodies = [_command(i, response_url) for i in range(n)]
    limits = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=limits) as session:

        async def one(body: str) -> float:
            started = time.perf_counter()
            async with session.post(f"{url}/slack/events", data=body, headers=_signed(body)) as r:
                await r.read()
                if r.status != 200:
                    raise SystemExit(f"{url} answered {r.status}")
            return time.perf_counter() - started

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def _pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    port = free_port()
    floor = mp.get_context("spawn").Process(target=_floor_server, args=(port,), daemon=True)
    floor.start()
    wait_ready(f"http://127.0.0.1:{port}/readyz")
    floor_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp, running_bot(Path(tmp)) as (bot_url, response_url):
        asyncio.run(_fire(bot_url, 20, response_url))  # warm-up: auth.test cached, pools open
        floor_lat: list[float] = []
        bot_lat: list[float] = []
        for _ in range(args.rounds):
            floor_lat += asyncio.run(_fire(floor_url, args.requests, response_url))
            bot_lat += asyncio.run(_fire(bot_url, args.requests, response_url))
    floor.terminate()
    fp50, fp99, bp50, bp99 = _pct(floor_lat, 50), _pct(floor_lat, 99), _pct(bot_lat, 50), _pct(bot_lat, 99)
    ratio = bp99 / fp99
    print(f"{args.requests} concurrent signed /codex validate requests x {args.rounds} rounds")
    print(f"floor (do-nothing aiohttp): p50 {fp50:7.1f} ms   p99 {fp99:7.1f} ms")
    print(f"codex-bot serve           : p50 {bp50:7.1f} ms   p99 {bp99:7.1f} ms")
    print(f"p99 ratio bot/floor: {ratio:.2f} (target <= {TARGET_RATIO}); every ack < 3 s: {max(bot_lat) < 3}")
    return 0 if ratio <= TARGET_RATIO and max(bot_lat) < 3 else 1


if __name__ == "__main__":
    sys.exit(main())
