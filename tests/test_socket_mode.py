"""`codex-bot serve` with SLACK_APP_TOKEN: Socket Mode through the real Bolt handler and Slack's
WebSocket client, against the fake Slack's `apps.connections.open` and envelope socket."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp

from bot.sandbox.cluster import FakeCluster
from bot.sandbox.kube_server import FakeKubeServer
from bot.sandbox.seed import HEALTHY_POD
from bot.serve import serve
from config.settings import Environment, Settings
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_payloads import Team, command_fields
from tests.harness import BOT_TOKEN, OPS_CHANNEL, policy_for_tests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command(slack: FakeSlack, text: str, trigger: str) -> dict[str, str]:
    return command_fields(
        Team(),
        ("U0USER", "alice"),
        (OPS_CHANNEL, "ops"),
        command="/codex",
        text=text,
        response_url=slack.response_url(trigger, channel=OPS_CHANNEL, user="U0USER"),
        trigger_id=trigger,
    )


async def test_socket_mode_acks_each_envelope_and_runs_the_command(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    async with FakeKubeServer(cluster) as kube, FakeSlack(token=BOT_TOKEN) as slack:
        port = _free_port()
        env = Environment.model_validate(
            {
                "slack_bot_token": BOT_TOKEN,
                "slack_app_token": slack.socket.app_token,  # no signing secret: Socket Mode needs none
                "slack_api_url": slack.url,
                "kubeconfig": str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
                "state_dir": str(tmp_path / "state"),
                "port": port,
            }
        )
        stop = asyncio.Event()
        bot = asyncio.create_task(serve(Settings(env=env, policy=policy_for_tests()), stop))
        try:
            await slack.wait_for(lambda: slack.socket.connected, timeout=20)
            helped = await slack.socket.send("slash_commands", _command(slack, "help", "t.help"))
            validated = await slack.socket.send(
                "slash_commands", _command(slack, f"validate {HEALTHY_POD}", "t.validate")
            )

            acked = await slack.wait_for(
                lambda: {a["envelope_id"] for a in slack.socket.acks} >= {helped, validated}
            )
            assert acked
            await slack.wait_for(
                lambda: [r for r in slack.responses("t.help") if "/codex validate" in r.text]
            )
            verdict = await slack.wait_for(
                lambda: [m for m in slack.messages(OPS_CHANNEL) if "Verdict: pass" in m.visible_text]
            )
            assert HEALTHY_POD in verdict[0].text
            # Health and metrics are still served over HTTP in Socket Mode.
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
        finally:
            stop.set()
            assert await asyncio.wait_for(bot, 20) == 0
        assert slack.socket.connected == 0, "stopping closes the Socket Mode connection"
