"""KubePodExec: the official client against the fake API server's exec WebSocket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.adapters.kube_exec import HANDSHAKES_AT_ONCE
from bot.sandbox.cluster import V4_PROTOCOL, V5_PROTOCOL, FakeCluster
from bot.sandbox.execsim import ExecOutcome
from handlers.errors import ClusterError, NotFound
from tests.fakes.kube import kube_env, wait_for

POD = "codex-build-healthy-7f9c2"
DOWN = "codex-build-nodaemon-4kq8d"


async def test_env_in_main_shows_the_docker_variables_and_exit_0(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        result = await env.kube.exec.run(POD, "main", ["env"], timeout=5)
    assert result.ok and result.exit_code == 0 and not result.timed_out
    assert "DOCKER_HOST=tcp://127.0.0.1:2375\n" in result.stdout
    assert "DOCKER_TLS_VERIFY=0\n" in result.stdout
    call = env.cluster.exec_calls[-1]
    assert (call.pod, call.container, call.argv, call.protocol) == (POD, "main", ["env"], V5_PROTOCOL)
    assert call.query == "command=env&container=main&stderr=true&stdin=false&stdout=true&tty=false"


async def test_daemon_down_gives_exit_1_and_the_error_on_stderr(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        result = await env.kube.exec.run(DOWN, "main", ["docker", "info"], timeout=5)
    assert result.exit_code == 1 and not result.ok
    assert (
        "Cannot connect to the Docker daemon at tcp://127.0.0.1:2375. Is the docker daemon running?"
        in result.stderr
    )
    assert result.stdout.startswith("Client:")
    assert "Cannot connect" not in result.stdout


@pytest.mark.parametrize("protocols", [(V5_PROTOCOL, V4_PROTOCOL), (V4_PROTOCOL,)], ids=["v5", "v4"])
@pytest.mark.parametrize("close_frames", [False, True], ids=["plain", "v5-close-frames"])
async def test_stdout_stderr_and_exit_code_arrive_apart(
    tmp_path: Path, protocols: tuple[str, ...], close_frames: bool
) -> None:
    cluster = FakeCluster.sandbox()
    cluster.exec_protocols, cluster.v5_close_frames = protocols, close_frames
    cluster.on_exec(POD, ["check"], ExecOutcome(stdout="out line\n", stderr="err line\n", exit_code=3))
    async with kube_env(tmp_path, cluster) as env:
        result = await env.kube.exec.run(POD, "main", ["check"], timeout=5)
    assert (result.stdout, result.stderr, result.exit_code) == ("out line\n", "err line\n", 3)
    assert cluster.exec_calls[-1].protocol == protocols[0]


async def test_large_output_split_across_frames_is_whole_and_decoded(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    text = "€uro " * 60_000  # 3-byte characters cut by the 32 KiB frame boundaries
    cluster.on_exec(POD, ["big"], ExecOutcome(stdout=text))
    async with kube_env(tmp_path, cluster) as env:
        result = await env.kube.exec.run(POD, "main", ["big"], timeout=5)
    assert result.stdout == text and result.exit_code == 0


async def test_argv_reaches_the_container_verbatim(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        result = await env.kube.exec.run(POD, "main", ["echo", "a b", "x; rm -rf /", "$(id)"], timeout=5)
    assert result.stdout == "a b x; rm -rf / $(id)\n"
    assert env.cluster.exec_calls[-1].argv == ["echo", "a b", "x; rm -rf /", "$(id)"]


async def test_a_hanging_exec_is_abandoned_at_its_timeout(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.on_exec(POD, ["docker", "info"], ExecOutcome.hanging(stdout="Client:\n"))
    async with kube_env(tmp_path, cluster) as env:
        started = time.monotonic()
        result = await env.kube.exec.run(POD, "main", ["docker", "info"], timeout=0.5)
        elapsed = time.monotonic() - started
        await wait_for(lambda: env.server.open_execs == 0)  # the WebSocket was really closed
    assert result.timed_out and result.exit_code is None and not result.ok
    assert result.stdout == "Client:\n"
    assert 0.5 <= elapsed < 2.0


@pytest.mark.parametrize(
    ("reset", "says"),
    [(False, "ended without an exit status"), (True, "broke off")],
    ids=["close-frame", "tcp-reset"],
)
async def test_a_connection_dropped_without_status_is_an_error(
    tmp_path: Path, reset: bool, says: str
) -> None:
    cluster = FakeCluster.sandbox()
    cluster.on_exec(POD, ["docker", "info"], ExecOutcome.dropped(stdout="Client:\n", reset=reset))
    async with kube_env(tmp_path, cluster) as env:
        with pytest.raises(ClusterError) as caught:
            await env.kube.exec.run(POD, "main", ["docker", "info"], timeout=5)
    assert caught.value.status == 0
    assert says in caught.value.message and f"`main` in `{POD}`" in caught.value.message


async def test_forbidden_exec_names_the_missing_permission(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.fail("GET", r"/pods/[^/]+/exec$", 403)
    async with kube_env(tmp_path, cluster) as env:
        with pytest.raises(ClusterError) as caught:
            await env.kube.exec.run(POD, "main", ["env"], timeout=5)
    error = caught.value
    assert error.status == 403
    assert (
        error.hint
        == "the bot's ServiceAccount lacks `create pods/exec` in argo-workflows; grant it in the bot's Role."
    )
    user = "system:serviceaccount:argo-workflows:codex-bot"
    assert (
        f'pods "{POD}" is forbidden: User "{user}" cannot create resource "pods/exec" in API group "" '
        'in the namespace "argo-workflows"'
    ) in error.message
    assert cluster.exec_calls == []


async def test_exec_into_a_missing_pod_is_not_found(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        with pytest.raises(NotFound, match='pods "gone" not found'):
            await env.kube.exec.run("gone", "main", ["env"], timeout=5)


async def test_exec_into_a_container_not_started_is_refused(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.add_codex_pod("codex-pending-1", workflow="wf-pending", phase="Pending")
    async with kube_env(tmp_path, cluster) as env:
        with pytest.raises(ClusterError, match='container not found \\("main"\\)') as caught:
            await env.kube.exec.run("codex-pending-1", "main", ["env"], timeout=5)
    assert caught.value.status == 400


async def test_32_execs_of_200ms_run_concurrently(tmp_path: Path) -> None:
    cluster = FakeCluster("argo-workflows", exec_delay=0.2)
    names = [f"codex-par-{i:02d}" for i in range(32)]
    for name in names:
        cluster.add_codex_pod(name, workflow=f"wf-{name}")
    async with kube_env(tmp_path, cluster, pool_size=32) as env:
        await env.kube.exec.run(names[0], "main", ["true"], timeout=5)  # warm up imports and connections
        started = time.monotonic()
        results = await asyncio.gather(*(env.kube.exec.run(n, "main", ["docker", "info"], 5) for n in names))
        wall = time.monotonic() - started
    assert all(r.ok for r in results)
    assert wall < 3.0, f"32 x 200 ms took {wall:.2f}s; sequential would be 6.4s"


async def test_cancelling_the_caller_closes_the_exec(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.on_exec(POD, ["sleep"], ExecOutcome.hanging())
    async with kube_env(tmp_path, cluster) as env:
        task = asyncio.create_task(env.kube.exec.run(POD, "main", ["sleep", "600"], timeout=600))
        await wait_for(lambda: env.server.open_execs == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_for(lambda: env.server.open_execs == 0, within=3)


async def test_an_exec_that_times_out_waiting_to_connect_never_runs(tmp_path: Path) -> None:
    """Past the bound on handshakes in progress, an exec waits its turn; one whose timeout passes
    meanwhile is reported timed out and its command never reaches the pod."""
    cluster = FakeCluster.sandbox()
    busy = HANDSHAKES_AT_ONCE
    cluster.stall("GET", r"/pods/[^/]+/exec$", 1.0, times=busy)  # upgrades the API server is slow to answer
    async with kube_env(tmp_path, cluster, pool_size=busy + 4) as env:
        slow = [asyncio.create_task(env.kube.exec.run(POD, "main", ["env"], timeout=10)) for _ in range(busy)]
        await wait_for(lambda: sum(r.path.endswith("/exec") for r in cluster.requests) == busy)
        late = await env.kube.exec.run(POD, "docker", ["pkill", "-f", "dockerd-rootless"], timeout=0.3)
        assert late.timed_out and not late.ok
        assert all(r.ok for r in await asyncio.gather(*slow))
    assert [c.argv for c in cluster.exec_calls] == [["env"]] * busy  # the pkill never ran
