"""The simulated cluster behaves like the runbook's world, seen through the real adapter."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.adapters.kubernetes import KubeCluster
from bot.sandbox.cluster import FakeCluster
from bot.sandbox.seed import DAEMON_DOWN_POD, HEALTHY_POD, TLS_VERIFY_POD
from handlers.ports import ExecResult
from tests.fakes.kube import kube_env

INFO = ["docker", "info"]
KILL = ["pkill", "-f", "dockerd-rootless"]
RUNBOOK_START = [
    "/bin/sh",
    "-ec",
    'mkdir -p "$XDG_RUNTIME_DIR" && exec dockerd-rootless.sh --host tcp://127.0.0.1:2375',
]
DETACHED_START = [
    "/bin/sh",
    "-ec",
    'mkdir -p "$XDG_RUNTIME_DIR" && '
    "nohup dockerd-rootless.sh --host tcp://127.0.0.1:2375 >/proc/1/fd/1 2>&1 &",
]


async def _run(
    kube: KubeCluster, pod: str, container: str, argv: list[str], timeout: float = 5
) -> ExecResult:
    return await kube.exec.run(pod, container, argv, timeout)


async def _docker_log(kube: KubeCluster, pod: str) -> str:
    return b"".join([c async for c in kube.logs.stream(pod, "docker")]).decode()


async def _info_until_ok(kube: KubeCluster, pod: str, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if (await _run(kube, pod, "main", INFO)).ok:
            return time.monotonic() - started
    raise AssertionError(f"docker info did not pass within {within}s")


async def test_healthy_pod_passes_every_validation_step(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        k = env.kube
        env_out = await _run(k, HEALTHY_POD, "main", ["env"])
        version = await _run(k, HEALTHY_POD, "main", ["docker", "version"])
        info = await _run(k, HEALTHY_POD, "main", INFO)
        hello = await _run(k, HEALTHY_POD, "main", ["docker", "run", "--rm", "hello-world"])
        build = await _run(
            k,
            HEALTHY_POD,
            "main",
            [
                "docker",
                "build",
                "-f",
                "apps/froussard/Dockerfile.codex",
                "-t",
                "codex-universal:test",
                "/workspace/lab",
            ],
        )
    assert all(r.ok for r in (env_out, version, info, hello, build))
    assert "Server: Docker Engine - Community" in version.stdout
    assert "rootless" in info.stdout and f"Name: {HEALTHY_POD}" in info.stdout
    assert "Hello from Docker!" in hello.stdout
    assert "load build definition from Dockerfile.codex" in build.stderr
    assert "naming to docker.io/library/codex-universal:test done" in build.stderr


async def test_pod_with_daemon_down_fails_every_docker_step(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        version = await _run(env.kube, DAEMON_DOWN_POD, "main", ["docker", "version"])
        hello = await _run(env.kube, DAEMON_DOWN_POD, "main", ["docker", "run", "--rm", "hello-world"])
        log = await _docker_log(env.kube, DAEMON_DOWN_POD)
    assert version.exit_code == 1 and version.stdout.startswith("Client:")
    assert "Is the docker daemon running?" in version.stderr
    assert hello.exit_code == 125
    assert "failed to start daemon" in log and "API listen on" not in log


async def test_tls_verify_pod_shows_the_value_and_docker_cannot_verify(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        env_out = await _run(env.kube, TLS_VERIFY_POD, "main", ["env"])
        version = await _run(env.kube, TLS_VERIFY_POD, "main", ["docker", "version"])
    assert "DOCKER_TLS_VERIFY=1\n" in env_out.stdout
    assert version.exit_code == 1 and "could not read CA certificate" in version.stderr


async def test_runbook_restart_detached_brings_the_daemon_up(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox(daemon_start_delay=0.3)
    async with kube_env(tmp_path, cluster) as env:
        killed = await _run(env.kube, DAEMON_DOWN_POD, "docker", KILL)
        start = await _run(env.kube, DAEMON_DOWN_POD, "docker", DETACHED_START)
        first = await _run(env.kube, DAEMON_DOWN_POD, "main", INFO)
        waited = await _info_until_ok(env.kube, DAEMON_DOWN_POD, within=3)
        log = await _docker_log(env.kube, DAEMON_DOWN_POD)
    assert killed.exit_code == 1  # nothing to kill: the daemon had crashed
    assert start.ok and start.duration < 1
    assert not first.ok
    assert 0.1 < waited < 3
    assert log.rstrip().endswith('level=info msg="API listen on 127.0.0.1:2375"')
    assert [c.container for c in cluster.exec_calls[:2]] == ["docker", "docker"]


async def test_runbook_start_in_the_foreground_never_returns(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox(daemon_start_delay=0.1)
    async with kube_env(tmp_path, cluster) as env:
        start = await _run(env.kube, DAEMON_DOWN_POD, "docker", RUNBOOK_START, timeout=0.5)
        await _info_until_ok(env.kube, DAEMON_DOWN_POD, within=2)
    assert start.timed_out and 'msg="Starting up"' in start.stdout


async def test_hung_daemon_is_killed_then_restarted(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox(daemon_start_delay=0.1)
    cluster.break_daemon(HEALTHY_POD, hung=True)
    async with kube_env(tmp_path, cluster) as env:
        assert not (await _run(env.kube, HEALTHY_POD, "main", INFO)).ok
        assert (await _run(env.kube, HEALTHY_POD, "docker", KILL)).exit_code == 0
        assert (await _run(env.kube, HEALTHY_POD, "docker", KILL)).exit_code == 1
        assert (await _run(env.kube, HEALTHY_POD, "docker", DETACHED_START)).ok
        await _info_until_ok(env.kube, HEALTHY_POD, within=2)


async def test_a_daemon_that_never_starts_keeps_failing(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox(daemon_start_delay=0.05)
    cluster.set_daemon(DAEMON_DOWN_POD, never_starts=True)
    async with kube_env(tmp_path, cluster) as env:
        assert (await _run(env.kube, DAEMON_DOWN_POD, "docker", DETACHED_START)).ok
        with pytest.raises(AssertionError, match="did not pass"):
            await _info_until_ok(env.kube, DAEMON_DOWN_POD, within=0.4)
        log = await _docker_log(env.kube, DAEMON_DOWN_POD)
    assert log.count('msg="Starting up"') == 2 and "API listen on" not in log.split('msg="Starting up"')[-1]


async def test_killing_a_pid1_daemon_restarts_the_container(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox(daemon_start_delay=0.1)
    cluster.set_daemon(HEALTHY_POD, restart_on_kill=True)
    async with kube_env(tmp_path, cluster) as env:
        before = await env.kube.pods.get(HEALTHY_POD)
        assert (await _run(env.kube, HEALTHY_POD, "docker", KILL)).ok
        after = await env.kube.pods.get(HEALTHY_POD)
        await _info_until_ok(env.kube, HEALTHY_POD, within=2)
        log = await _docker_log(env.kube, HEALTHY_POD)
    assert before is not None and after is not None
    old, new = before.container("docker"), after.container("docker")
    assert old is not None and new is not None
    assert (old.restart_count, new.restart_count, new.last_termination_reason) == (0, 1, "Error")
    assert log.startswith("+ exec rootlesskit") and "Daemon shutdown complete" not in log  # a fresh log
    assert "Daemon shutdown complete" in cluster.log_text(HEALTHY_POD, "docker", previous=True)


async def test_other_commands(tmp_path: Path) -> None:
    async with kube_env(tmp_path) as env:
        du = await _run(env.kube, HEALTHY_POD, "docker", ["du", "-sh", "/var/lib/docker"])
        unknown = await _run(env.kube, HEALTHY_POD, "main", ["kubectl", "version"])
        kill_in_main = await _run(env.kube, HEALTHY_POD, "main", KILL)
    assert du.stdout == "1.3G\t/var/lib/docker\n" and du.ok
    assert unknown.exit_code == 127 and "command not found" in unknown.stderr
    assert kill_in_main.exit_code == 1  # the daemon runs in the sidecar, not in main


def test_sandbox_world() -> None:
    cluster = FakeCluster.sandbox()
    assert sorted(cluster.pod_names()) == sorted([HEALTHY_POD, DAEMON_DOWN_POD, TLS_VERIFY_POD])
    assert cluster.daemon_up(HEALTHY_POD) and not cluster.daemon_up(DAEMON_DOWN_POD)
    cluster.heal_daemon(DAEMON_DOWN_POD)
    assert cluster.daemon_up(DAEMON_DOWN_POD)
    workflows = {pod.workflow for pod in cluster.pods.values()}
    assert len(workflows) == 3 and all(cluster.get_object("workflows", w) for w in workflows if w)
    template = cluster.get_object("workflowtemplates", "codex-build")
    assert template is not None
    main = template["spec"]["templates"][0]["container"]
    assert {e["name"] for e in main["env"]} >= {"DOCKER_HOST", "DOCKER_ENABLED", "DOCKER_TLS_VERIFY"}
    assert cluster.get_object("cronworkflows", "codex-nightly") is not None
    assert cluster.get_object("configmaps", "codex-bot-flags") is not None
    assert len(cluster.objects_of("policyreports")) == 3
