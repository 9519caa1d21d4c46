"""The whole bot, wired as in production, against fake Kubernetes, Slack and GitHub servers.

Tests drive it the way Slack does (signed requests to /slack/events) and look at what users
would see (the fake Slack's messages and files) and what the cluster received (exec calls).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.adapters.slack import make_client
from bot.app import CodexApp, Runtime, build_app, open_runtime, slack_surface
from bot.flows.registry import BACKGROUND
from bot.sandbox.cluster import FakeCluster
from bot.sandbox.kube_server import FakeKubeServer
from bot.server import Readiness, build_web_app
from config.settings import Environment, Policy, Settings
from tests.fakes.github import FakeGithub
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_driver import SlackDriver

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
GITHUB_TOKEN = "ghp_testtoken0000000000000000000000000000"
OPS_CHANNEL = "C0OPS"
INCIDENT_CHANNEL = "C0INCIDENT"
REQUESTER = "U0USER"
APPROVER = "U0APPROVER"
SRE_GROUP = "S0SRE"


def policy_for_tests(**overrides: Any) -> Policy:
    """Runbook defaults, an incident channel and approvers, and timeouts short enough for tests."""
    base: dict[str, Any] = {
        "slack": {"incident_channel": INCIDENT_CHANNEL, "oncall_group": "S0ONCALL"},
        "approvals": {"approvers": {"users": [APPROVER], "groups": [SRE_GROUP]}, "ttl_seconds": 900},
        "github": {"default_repo": "acme/widgets", "seconds_between_writes": 0},
        "timeouts": {
            "env": 5,
            "docker_version": 5,
            "docker_info": 5,
            "hello_world": 5,
            "build": 10,
            "api": 5,
            "restart_ready": 5,
            "restart_poll_interval": 0.05,
            "diagnostics_exec": 5,
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return Policy.model_validate(base)


@dataclass
class World:
    cluster: FakeCluster
    kube: FakeKubeServer
    slack: FakeSlack
    github: FakeGithub
    settings: Settings
    tmp: Path
    runtime: Runtime | None = None
    driver: SlackDriver | None = None
    url: str = ""
    _runner: web.AppRunner | None = None
    _app: CodexApp | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def bot(self) -> SlackDriver:
        assert self.driver is not None, "bot not started"
        return self.driver

    @property
    def exec_calls(self) -> list[Any]:
        return list(self.cluster.exec_calls)

    async def start_bot(self, *, background: bool = False) -> None:
        surface = slack_surface(self.settings, make_client(BOT_TOKEN, self.slack.url))
        self.runtime = await open_runtime(self.settings, group_members=surface.group_members)
        self._app = app = build_app(self.settings, self.runtime.deps, surface)
        readiness = Readiness({"slack": surface.auth_check, "kubernetes": self.runtime.kube.ping})
        self._runner = web.AppRunner(
            build_web_app(app, readiness, self.runtime.deps.metrics), access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self.driver = SlackDriver(self.url, SIGNING_SECRET, response_urls=self.slack.response_url)
        if background:
            self._tasks = [
                asyncio.create_task(job(self.runtime.deps, surface)) for job in BACKGROUND.values()
            ]
            self.runtime.background = list(self._tasks)  # closing the runtime stops them, as in serve

    async def settle(self) -> None:
        """Until the work the requests so far started has finished (before a restart that must not cut it)."""
        if self._app is not None:
            await self._app.work.idle()

    async def stop_bot(self) -> None:
        """Like the process ending: in-flight work is cut, clients are closed. Background jobs are
        stopped by ``runtime.close()``, as in serve: cancelled once, then given time to clean up."""
        self._tasks = []
        if self.driver is not None:
            await self.driver.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._app is not None:
            # Flows still running would go on with the closed clients and reopen the store's engine
            # (a connection nobody closes: "Event loop is closed" from its thread at the loop's end).
            await self._app.work.close()
        if self.runtime is not None:
            await self.runtime.close()
        self.runtime = self.driver = self._runner = self._app = None

    async def restart_bot(self, *, background: bool = False) -> None:
        await self.stop_bot()
        await self.start_bot(background=background)


@contextlib.asynccontextmanager
async def world(
    tmp: Path,
    *,
    policy: Policy | None = None,
    cluster: FakeCluster | None = None,
    database_url: str | None = None,
    start: bool = True,
    background: bool = False,
) -> AsyncIterator[World]:
    cluster = cluster or FakeCluster.sandbox()
    async with FakeKubeServer(cluster) as kube, FakeSlack(token=BOT_TOKEN) as slack, FakeGithub() as github:
        kubeconfig = tmp / "kubeconfig"
        kube.write_kubeconfig(kubeconfig)
        env = Environment.model_validate(
            {
                "slack_bot_token": BOT_TOKEN,
                "slack_signing_secret": SIGNING_SECRET,
                "slack_api_url": slack.url,
                "github_token": GITHUB_TOKEN,
                "github_api_url": github.url,
                "kubeconfig": str(kubeconfig),
                "state_dir": str(tmp / "state"),
                "database_url": database_url,
            }
        )
        slack.set_group(SRE_GROUP, [APPROVER, "U0SRE2"])
        w = World(
            cluster=cluster,
            kube=kube,
            slack=slack,
            github=github,
            settings=Settings(env=env, policy=policy or policy_for_tests()),
            tmp=tmp,
        )
        try:
            if start:
                await w.start_bot(background=background)
            yield w
        finally:
            await w.stop_bot()
