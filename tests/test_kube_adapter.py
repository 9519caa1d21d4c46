"""KubePods, KubePodLogs and API failures: the official client against the fake API server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.kubernetes import LOG_CHUNK_BYTES, KubeCluster
from bot.sandbox.cluster import FakeCluster
from handlers.errors import ClusterError, NotFound
from tests.fakes.kube import kube_env

HEALTHY = "codex-build-healthy-7f9c2"
DOWN = "codex-build-nodaemon-4kq8d"
TLS = "codex-build-tlsverify-9x2mw"


async def _read(kube: KubeCluster, pod: str, container: str, **kwargs: object) -> list[bytes]:
    return [chunk async for chunk in kube.logs.stream(pod, container, **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("codex.stage", {HEALTHY, DOWN, TLS}),
        ("codex.stage=validate", {TLS}),
        ("codex.stage!=validate", {HEALTHY, DOWN, "plain-pod"}),  # != also matches pods without the key
        ("codex.stage,workflows.argoproj.io/workflow=codex-build-healthy", {HEALTHY}),
        ("codex.stage in (build)", {HEALTHY, DOWN}),
    ],
)
async def test_list_pods_by_label_selector(tmp_path: Path, selector: str, expected: set[str]) -> None:
    cluster = FakeCluster.sandbox()
    cluster.add_codex_pod("plain-pod", workflow="other", labels={})
    del cluster.pod("plain-pod").labels["codex.stage"]
    async with kube_env(tmp_path, cluster) as env:
        pods = await env.kube.pods.list(selector)
    assert {p.name for p in pods} == expected


async def test_get_pod_reports_phase_containers_and_times(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.restart_container(DOWN, "docker")
    async with kube_env(tmp_path, cluster) as env:
        pod = await env.kube.pods.get(DOWN)
        missing = await env.kube.pods.get("no-such-pod")
    assert missing is None
    assert pod is not None
    assert (pod.name, pod.namespace, pod.phase, pod.node) == (DOWN, "argo-workflows", "Running", "worker-1")
    assert pod.uid == cluster.pod(DOWN).uid
    assert pod.labels["workflows.argoproj.io/workflow"] == "codex-build-nodaemon"
    assert [c.name for c in pod.containers] == ["wait", "main", "docker"]
    docker = pod.container("docker")
    assert docker is not None
    assert (docker.state, docker.restart_count, docker.last_termination_reason) == ("running", 1, "Error")
    assert pod.created_at is not None and pod.created_at.tzinfo is not None
    assert timedelta(minutes=20) < datetime.now(UTC) - pod.created_at < timedelta(minutes=30)


async def test_pending_pod_has_waiting_containers(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.add_codex_pod("codex-pending-1", workflow="wf-pending", phase="Pending")
    async with kube_env(tmp_path, cluster) as env:
        pod = await env.kube.pods.get("codex-pending-1")
    assert pod is not None and pod.phase == "Pending" and pod.started_at is None
    main = pod.container("main")
    assert main is not None and (main.state, main.state_reason, main.ready) == (
        "waiting",
        "ContainerCreating",
        False,
    )


async def test_events_of_a_pod_oldest_first(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.add_event(DOWN, "BackOff", "Back-off restarting failed container docker", type="Warning", count=4)
    async with kube_env(tmp_path, cluster) as env:
        events = await env.kube.pods.events(DOWN)
        others = await env.kube.pods.events("no-such-pod")
    assert others == []
    assert events[0].reason == "Scheduled"
    warnings = [(e.reason, e.count) for e in events if e.type == "Warning"]
    assert warnings == [("Unhealthy", 7), ("BackOff", 4)]
    assert all(e.last_seen is not None for e in events)


async def test_logs_tail_since_and_timestamps(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    now = datetime.now(UTC)
    cluster.log(HEALTHY, "main", "an hour ago", at=now - timedelta(hours=1))
    cluster.log(HEALTHY, "main", "a minute ago", at=now - timedelta(minutes=1))
    cluster.log(HEALTHY, "main", "just now", at=now)
    async with kube_env(tmp_path, cluster) as env:
        tail = b"".join(await _read(env.kube, HEALTHY, "main", tail_lines=2)).decode()
        since = b"".join(await _read(env.kube, HEALTHY, "main", since_seconds=600)).decode()
        stamped = b"".join(await _read(env.kube, HEALTHY, "main", tail_lines=1, timestamps=True)).decode()
    assert tail == "a minute ago\njust now\n"
    assert since == "a minute ago\njust now\n"
    stamp, text = stamped.rstrip("\n").split(" ", 1)
    assert (
        text == "just now"
        and stamp.endswith("Z")
        and abs(datetime.fromisoformat(stamp[:26] + "+00:00") - now) < timedelta(seconds=1)
    )


async def test_a_big_log_arrives_in_bounded_chunks(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    size = 3 * 1024 * 1024 + 17
    generated = cluster.set_generated_log(HEALTHY, "docker", size, seed=7)
    async with kube_env(tmp_path, cluster) as env:
        chunks = await _read(env.kube, HEALTHY, "docker")
        last = b"".join(await _read(env.kube, HEALTHY, "docker", tail_lines=1)).decode()
    assert len(chunks) >= size // LOG_CHUNK_BYTES
    assert max(len(c) for c in chunks) <= LOG_CHUNK_BYTES
    body = b"".join(chunks)
    assert len(body) == size
    assert body.startswith(generated.line(0).encode())
    assert last == generated.line(generated.count - 1)


async def test_stopping_early_releases_the_stream(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.set_generated_log(HEALTHY, "docker", 50 * 1024 * 1024)
    async with kube_env(tmp_path, cluster, pool_size=2) as env:
        for _ in range(3):  # a leaked connection or thread would stall the later rounds
            stream = env.kube.logs.stream(HEALTHY, "docker")
            first = await anext(stream)
            await stream.aclose()
            assert first
        assert await env.kube.pods.get(HEALTHY) is not None


async def test_log_of_unknown_container_or_pod(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        with pytest.raises(ClusterError, match='container "sidecar" is not valid for pod') as caught:
            await _read(env.kube, HEALTHY, "sidecar")
        assert caught.value.status == 400
        with pytest.raises(NotFound):
            await _read(env.kube, "no-such-pod", "main")


async def test_forbidden_list_names_verb_and_resource(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.fail("GET", r"/pods$", 403)
    async with kube_env(tmp_path, cluster) as env:
        with pytest.raises(ClusterError) as caught:
            await env.kube.pods.list("codex.stage")
    assert caught.value.status == 403
    assert "lacks `list pods` in argo-workflows" in (caught.value.hint or "")
    assert 'cannot list resource "pods" in API group ""' in caught.value.message


async def test_a_stalled_api_call_times_out(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.stall("GET", r"/pods/", 3.0)
    async with kube_env(tmp_path, cluster, api_timeout=0.5) as env:
        started = time.monotonic()
        with pytest.raises(ClusterError, match="did not answer") as caught:
            await env.kube.pods.get(HEALTHY)
        elapsed = time.monotonic() - started
    assert caught.value.status == 0
    assert elapsed < 2.0


async def test_api_server_gone_is_reported_as_not_answering(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        await env.kube.ping()
        await env.server.stop()
        with pytest.raises(ClusterError, match="did not answer"):
            await env.kube.ping()
        with pytest.raises(ClusterError, match="did not answer"):
            await env.kube.pods.list("codex.stage")
        with pytest.raises(ClusterError, match="did not answer"):
            await env.kube.exec.run(HEALTHY, "main", ["env"], timeout=2)


async def test_wrong_token_is_refused_with_a_hint(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        env.server.token = "rotated"
        with pytest.raises(ClusterError, match="401") as caught:
            await env.kube.pods.get(HEALTHY)
    assert caught.value.status == 401 and caught.value.hint


def test_unreadable_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="Cannot load Kubernetes credentials") as caught:
        KubeCluster.connect("argo-workflows", str(tmp_path / "missing"))
    assert "KUBECONFIG" in (caught.value.hint or "")
