"""Runbook "Restarting the Rootless Daemon": inspect the pod, plan, restart, prove `docker info` answers."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from config.settings import Policy
from handlers.pods import resolve_codex_pod
from handlers.ports import PodExec, PodLogs, Pods, Progress
from handlers.restart_run import (
    SYSTEM_CLOCK,
    Clock,
    RestartRun,
    SystemClock,
    read_log_tail,
    run_planned,
    target_problem,
)
from handlers.results import PlannedExec, RestartContext, Restarted, RestartTarget

__all__ = [
    "SYSTEM_CLOCK",
    "Clock",
    "SystemClock",
    "execute_restart",
    "inspect_for_restart",
    "restart_plan",
    "target_problem",
]

INSPECT_INFO_TIMEOUT = 10.0  # s; the approval request must not wait long on a dead daemon
STOP_TIMEOUT = 15.0  # s; pkill returns at once
START_TIMEOUT = 15.0  # s; the start command backgrounds the daemon and returns at once

# The daemon is detached (nohup … &) so the exec returns at once, and writes to PID 1's
# stdout/stderr, which is what `kubectl logs -c docker` reads. The host is "$1", a
# positional parameter: config text never becomes part of the script.
START_SCRIPT = (
    'mkdir -p "$XDG_RUNTIME_DIR" && '
    'nohup dockerd-rootless.sh --host "$1" >/proc/1/fd/1 2>/proc/1/fd/2 </dev/null &'
)


def restart_plan(policy: Policy) -> list[PlannedExec]:
    pods, t = policy.pods, policy.timeouts
    return [
        PlannedExec(
            "stop-daemon", "Stop the daemon", pods.docker_container, ("pkill", "-f", "dockerd-rootless"),
            STOP_TIMEOUT, ok_exit_codes=(0, 1), note="exit 1 (no process found) is fine",
        ),
        PlannedExec(
            "start-daemon", "Start the daemon (detached)", pods.docker_container,
            ("/bin/sh", "-ec", START_SCRIPT, "sh", policy.docker.host), START_TIMEOUT,
            note="returns at once; the daemon logs to the container's output",
        ),
        PlannedExec(
            "docker-info", "docker info", pods.main_container, ("docker", "info"), t.docker_info,
            note=f"every {t.restart_poll_interval:g} s until it succeeds, for up to {t.restart_ready:g} s",
        ),
    ]  # fmt: skip


async def inspect_for_restart(
    name: str, *, pods: Pods, exec: PodExec, logs: PodLogs, policy: Policy, clock: Clock = SYSTEM_CLOCK
) -> RestartContext:
    """The pod (a pod whose daemon is down is still Running), its daemon status and log tail."""
    pod = await resolve_codex_pod(name, pods=pods, policy=policy)
    plan = restart_plan(policy)
    probe = replace(plan[-1], timeout=min(INSPECT_INFO_TIMEOUT, plan[-1].timeout))
    docker = policy.pods.docker_container
    info, (tail, log_error) = await asyncio.gather(
        run_planned(exec, pod.name, probe, clock),
        read_log_tail(logs, pod.name, docker, seconds=policy.timeouts.api),
    )
    sidecar = pod.container(docker)
    return RestartContext(
        pod=pod.name,
        namespace=pod.namespace,
        uid=pod.uid,
        workflow=pod.labels.get(policy.pods.workflow_label),
        docker_restart_count=sidecar.restart_count if sidecar else 0,
        docker_info=info,
        log_tail=tail,
        log_error=log_error,
        plan=tuple(plan),
    )


async def execute_restart(
    target: RestartTarget,
    *,
    pods: Pods,
    exec: PodExec,
    logs: PodLogs,
    policy: Policy,
    progress: Progress,
    clock: Clock = SYSTEM_CLOCK,
) -> Restarted:
    """Re-check the target, stop and start the daemon, then poll `docker info` until ready or timeout.

    Every exec and wait is bounded. The result always comes back (never raises for cluster
    trouble): aborted when nothing ran, failed with the last output and log tail, or ready.
    """
    stop, start, info = restart_plan(policy)
    return await RestartRun(target, (pods, exec, logs, progress), (stop, start, info), policy, clock).run()
