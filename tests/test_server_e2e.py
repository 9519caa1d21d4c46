"""What operators and Kubernetes probes see: health, readiness, metrics; RBAC problems explained."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.sandbox.seed import HEALTHY_POD
from tests.harness import OPS_CHANNEL, World, world


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async with world(tmp_path) as started:
        yield started


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as r:
        return r.status, await r.text()


async def test_healthz_readyz_and_metrics(w: World) -> None:
    assert await get(f"{w.url}/healthz") == (200, "ok\n")
    assert (await get(f"{w.url}/readyz"))[0] == 200
    await w.bot.command("pods")
    await w.slack.wait_for(lambda: w.slack.responses())
    status, text = await get(f"{w.url}/metrics")
    assert status == 200
    assert 'codex_commands_total{outcome="ok",verb="pods"} 1.0' in text
    assert 'codex_slack_requests_total{status="200"}' in text


async def test_readyz_says_why_when_kubernetes_does_not_answer(w: World) -> None:
    await w.kube.stop()
    status, text = await get(f"{w.url}/readyz")
    assert status == 503
    assert "kubernetes:" in text


async def test_forbidden_exec_names_the_missing_permission(w: World) -> None:
    w.cluster.fail("GET", r"/pods/[^/]+/exec", 403)
    await w.bot.command(f"validate {HEALTHY_POD}")

    def verdict() -> str | None:
        done = [m for m in w.slack.messages(OPS_CHANNEL) if "Verdict" in m.visible_text]
        return done[0].visible_text if done else None

    text = await w.slack.wait_for(verdict)
    assert "could not run the checks" in text
    assert "ServiceAccount lacks `create pods/exec` in argo-workflows" in text
    assert text.count("skipped: the bot cannot run commands") == 4
