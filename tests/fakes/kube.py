"""The fake Kubernetes API server plus the real adapter, wired through a kubeconfig file."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.adapters.kubernetes import KubeCluster
from bot.sandbox.cluster import FakeCluster
from bot.sandbox.kube_server import FakeKubeServer


@dataclass
class KubeEnv:
    cluster: FakeCluster
    server: FakeKubeServer
    kube: KubeCluster
    kubeconfig: Path


@contextlib.asynccontextmanager
async def kube_env(
    tmp: Path, cluster: FakeCluster | None = None, *, pool_size: int = 8, api_timeout: float = 5.0
) -> AsyncIterator[KubeEnv]:
    cluster = cluster or FakeCluster.sandbox()
    async with FakeKubeServer(cluster) as server:
        path = server.write_kubeconfig(tmp / "kubeconfig")
        kube = KubeCluster.connect(cluster.namespace, str(path), pool_size=pool_size, api_timeout=api_timeout)
        try:
            yield KubeEnv(cluster, server, kube, path)
        finally:
            kube.close()


async def wait_for(predicate: Callable[[], bool], within: float = 5.0, interval: float = 0.02) -> None:
    """Poll until ``predicate()`` holds; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)
