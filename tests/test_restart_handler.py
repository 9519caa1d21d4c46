"""The restart runbook logic against tiny in-memory fakes of the ports, on a fake clock."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.settings import Policy
from handlers.errors import ClusterError, ExternalError, NotFound
from handlers.ports import ContainerInfo, ExecResult, PodInfo
from handlers.restart import START_SCRIPT, execute_restart, inspect_for_restart, restart_plan
from handlers.results import RestartProgress, RestartStage, RestartState, RestartTarget, StepState

POLICY = Policy()
HOST = "tcp://127.0.0.1:2375"
PKILL = ("docker", ("pkill", "-f", "dockerd-rootless"))
START = ("docker", ("/bin/sh", "-ec", START_SCRIPT, "sh", HOST))
INFO = ("main", ("docker", "info"))
DOWN = "Cannot connect to the Docker daemon at tcp://127.0.0.1:2375. Is the docker daemon running?"


def make_pod(
    uid: str = "uid-1", phase: str = "Running", docker_restarts: int = 0, state: str = "running"
) -> PodInfo:
    labels = {"codex.stage": "build", "workflows.argoproj.io/workflow": "codex-wf-1"}
    containers = (
        ContainerInfo("main", ready=True, state="running"),
        ContainerInfo("docker", ready=state == "running", restart_count=docker_restarts, state=state),
    )
    return PodInfo("codex-build-1", "argo-workflows", uid, phase, labels=labels, containers=containers)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime(2024, 5, 1, tzinfo=UTC) + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@dataclass
class Sim:
    """One Codex pod with a rootless daemon, seen through the Pods, PodExec and PodLogs ports."""

    clock: FakeClock
    pod: PodInfo | None = field(default_factory=make_pod)
    daemon_running: bool = False  # is there a dockerd-rootless process for pkill to find
    info_failures: int = 0  # `docker info` fails this many more times
    after_pkill: list[PodInfo | None] = field(default_factory=list)  # pod states seen after pkill, in turn
    exec_errors: dict[str, ClusterError] = field(default_factory=dict)  # by argv[0]: the exec is refused
    log_text: str = "\n".join(f"dockerd line {i}" for i in range(1, 31)) + "\n"
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    async def get(self, name: str) -> PodInfo | None:
        if self.pkill_ran and self.after_pkill:
            self.pod = self.after_pkill.pop(0)
        return self.pod if self.pod is not None and self.pod.name == name else None

    @property
    def pkill_ran(self) -> bool:
        return PKILL in self.calls

    async def run(self, pod: str, container: str, argv: Sequence[str], timeout: float) -> ExecResult:
        self.calls.append((container, tuple(argv)))
        self.clock.t += 0.1
        if argv[0] in self.exec_errors:
            raise self.exec_errors[argv[0]]
        if argv[0] == "pkill":
            found, self.daemon_running = self.daemon_running, False
            return ExecResult("", "", 0 if found else 1, 0.1)
        if argv[0] == "/bin/sh":
            return ExecResult("", "", 0, 0.1)
        if self.info_failures > 0:
            self.info_failures -= 1
            return ExecResult("Client:\n Version: 27.3.1\n", f"{DOWN}\nerrors pretty printing info\n", 1, 0.1)
        return ExecResult("Server Version: 27.3.1\n", "", 0, 0.1)

    async def stream(
        self, pod: str, container: str, *, since_seconds: int | None = None, tail_lines: int | None = None
    ) -> AsyncIterator[bytes]:
        lines = self.log_text.splitlines(keepends=True)
        for line in lines[-tail_lines:] if tail_lines else lines:
            yield line.encode()


class Snapshots:
    def __init__(self, error: Exception | None = None) -> None:
        self.seen: list[RestartProgress] = []
        self.error = error

    async def update(self, snapshot: Any) -> None:
        self.seen.append(snapshot)
        if self.error is not None:
            raise self.error


async def restart(
    sim: Sim, progress: Snapshots | None = None, restarts_before: int = 0, **timeouts: float
) -> Any:
    policy = POLICY.model_copy(update={"timeouts": POLICY.timeouts.model_copy(update=timeouts)})
    return await execute_restart(
        RestartTarget("codex-build-1", "uid-1", restarts_before),
        pods=sim, exec=sim, logs=sim, policy=policy, progress=progress or Snapshots(), clock=sim.clock,
    )  # fmt: skip


@pytest.fixture
def sim() -> Sim:
    return Sim(FakeClock())


def test_plan_is_the_runbook_in_order_with_containers() -> None:
    plan = restart_plan(POLICY)
    assert [(p.container, p.argv) for p in plan] == [PKILL, START, INFO]
    assert plan[0].ok_exit_codes == (0, 1)


def test_start_command_passes_the_host_as_a_parameter_never_inside_the_script() -> None:
    hostile = "tcp://127.0.0.1:2375; rm -rf / #"
    policy = POLICY.model_copy(update={"docker": POLICY.docker.model_copy(update={"host": hostile})})
    start = restart_plan(policy)[1]
    assert start.argv == ("/bin/sh", "-ec", START_SCRIPT, "sh", hostile)
    assert "127.0.0.1" not in START_SCRIPT and '--host "$1"' in START_SCRIPT
    # Detached, output to PID 1's stdout/stderr (what `kubectl logs -c docker` shows), runtime dir first.
    assert START_SCRIPT.startswith('mkdir -p "$XDG_RUNTIME_DIR" && nohup dockerd-rootless.sh')
    assert START_SCRIPT.endswith(">/proc/1/fd/1 2>/proc/1/fd/2 </dev/null &")
    subprocess.run(["/bin/sh", "-n", "-c", START_SCRIPT], check=True, timeout=5)


async def test_ready_on_third_poll_runs_exactly_the_runbook(sim: Sim) -> None:
    sim.daemon_running, sim.info_failures = True, 2
    progress = Snapshots()
    result = await restart(sim, progress)
    assert sim.calls == [PKILL, START, INFO, INFO, INFO]
    assert result.state is RestartState.READY and result.ready
    assert result.attempts == 3 and result.reason == "ready after 4.1 s"
    assert result.ready_after == pytest.approx(4.1)
    assert sim.clock.sleeps == pytest.approx([1.9, 1.9])  # one poll every 2 s, counted from its start
    assert [s.key for s in result.execs] == ["stop-daemon", "start-daemon", *["docker-info"] * 3]
    assert [s.exit_code for s in result.execs] == [0, 0, 1, 1, 0]
    waiting = [p for p in progress.seen if p.stage is RestartStage.WAITING]
    assert [(p.attempts, p.last_error) for p in waiting] == [
        (1, f"exit 1: {DOWN}"), (2, f"exit 1: {DOWN}"), (3, "")
    ]  # fmt: skip
    assert [p.stage for p in progress.seen[:2]] == [RestartStage.STOPPING, RestartStage.STARTING]


async def test_pkill_finding_no_process_is_fine(sim: Sim) -> None:
    result = await restart(sim)
    assert sim.calls == [PKILL, START, INFO]
    stop = result.steps[0]
    assert (stop.state, stop.exit_code, stop.detail) == (
        StepState.PASSED,
        1,
        "exit 1 (no process found) is fine",
    )
    assert result.reason == "ready after 0.1 s"


async def test_never_ready_times_out_with_last_docker_info_and_redacted_logs(sim: Sim) -> None:
    sim.info_failures = 10_000
    sim.log_text += 'level=error msg="login failed" token=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n'
    progress = Snapshots()
    result = await restart(sim, progress)
    assert result.state is RestartState.FAILED and not result.ready
    assert result.reason.startswith(
        f"`docker info` did not succeed within 120 s ({result.attempts} attempts)"
    )
    assert result.reason.endswith(DOWN)
    assert result.attempts == 61  # t = 0, 2, …, 120
    assert sim.calls == [PKILL, START] + [INFO] * 61
    assert sim.clock.t - 1000.0 == pytest.approx(120.3)
    assert DOWN in result.last_docker_info and "Client:" in result.last_docker_info
    tail = result.log_tail.splitlines()
    assert len(tail) == 20 and tail[0] == "dockerd line 12"
    assert "ghp_" not in result.log_tail and "[REDACTED]" in tail[-1]
    assert len([p for p in progress.seen if p.stage is RestartStage.WAITING]) == 61


@pytest.mark.parametrize(
    ("pod", "why"),
    [
        (make_pod(uid="uid-2"), "was replaced (UID uid-1 is now uid-2)"),
        (None, "no longer exists"),
        (make_pod(phase="Succeeded"), "is Succeeded, not Running"),
    ],
)
async def test_target_changed_since_approval_runs_nothing(sim: Sim, pod: PodInfo | None, why: str) -> None:
    sim.pod = pod
    progress = Snapshots()
    result = await restart(sim, progress)
    assert sim.calls == [] and progress.seen == []
    assert result.state is RestartState.ABORTED and result.execs == ()
    assert result.reason == f"pod `codex-build-1` {why}; nothing was run"


async def test_container_restarted_by_pkill_is_waited_for_and_reported_ready(sim: Sim) -> None:
    sim.daemon_running, sim.info_failures = True, 1
    sim.after_pkill = [
        make_pod(state="terminated"),  # PID 1 was the daemon: the container exited
        make_pod(state="waiting", docker_restarts=1),
        make_pod(docker_restarts=1),
    ]
    progress = Snapshots()
    result = await restart(sim, progress)
    assert sim.calls == [PKILL, INFO, INFO]  # no second daemon next to the entrypoint's own
    assert result.steps[1].state is StepState.SKIPPED
    assert result.state is RestartState.READY and result.container_restarted
    assert result.reason == "container restarted; ready after 4.1 s"
    assert result.attempts == 3
    waiting = [p for p in progress.seen if p.stage is RestartStage.WAITING]
    assert waiting[0].last_error == "the `docker` container is waiting" and waiting[0].container_restarted


async def test_start_failing_because_the_container_restarted_still_waits_for_it(sim: Sim) -> None:
    sim.exec_errors["/bin/sh"] = ClusterError('container "docker" is not running', status=0)
    sim.after_pkill = [make_pod(), make_pod(docker_restarts=1)]
    result = await restart(sim)
    assert sim.calls == [PKILL, START, INFO]
    assert result.steps[1].state is StepState.FAILED
    assert result.reason == "container restarted; ready after 0.1 s"


async def test_start_failing_in_a_healthy_container_stops_with_the_reason(sim: Sim) -> None:
    sim.exec_errors["/bin/sh"] = ClusterError("pods/exec is forbidden", status=403)
    result = await restart(sim)
    assert sim.calls == [PKILL, START]
    assert result.state is RestartState.FAILED
    assert result.reason == "could not start the daemon: pods/exec is forbidden"
    assert result.log_tail.endswith("dockerd line 30")


async def test_pod_replaced_while_waiting_fails_at_once(sim: Sim) -> None:
    sim.info_failures = 10_000
    sim.after_pkill = [make_pod(), make_pod(), make_pod(), make_pod(uid="uid-9")]
    result = await restart(sim)
    assert sim.calls == [PKILL, START, INFO, INFO]
    assert result.state is RestartState.FAILED
    assert result.reason == "pod `codex-build-1` was replaced during the restart (new UID uid-9)"


async def test_earlier_container_restart_is_not_taken_for_ours(sim: Sim) -> None:
    sim.pod = make_pod(docker_restarts=3)  # restarted between the request and the approval
    result = await restart(sim, restarts_before=2)
    assert result.reason == "ready after 0.1 s" and not result.container_restarted


async def test_progress_failure_does_not_stop_the_restart(sim: Sim) -> None:
    result = await restart(sim, Snapshots(ExternalError("message_not_found", service="slack")))
    assert sim.calls == [PKILL, START, INFO] and result.ready


async def test_inspect_shows_a_down_daemon_as_information(sim: Sim) -> None:
    sim.info_failures = 1
    sim.log_text = "starting\nAuthorization: Bearer abcdefghijklmnop\n"
    ctx = await inspect_for_restart("codex-build-1", pods=sim, exec=sim, logs=sim, policy=POLICY)
    assert (ctx.pod, ctx.uid, ctx.workflow, ctx.namespace) == (
        "codex-build-1",
        "uid-1",
        "codex-wf-1",
        "argo-workflows",
    )
    assert sim.calls == [INFO]
    assert not ctx.daemon_ok and ctx.docker_info.detail == f"exit 1: {DOWN}"
    assert ctx.log_tail == "starting\nAuthorization: [REDACTED]" and ctx.log_error is None
    assert ctx.target == RestartTarget("codex-build-1", "uid-1", 0)
    assert [(p.container, p.argv) for p in ctx.plan] == [PKILL, START, INFO]


async def test_inspect_reports_exec_errors_instead_of_raising(sim: Sim) -> None:
    sim.exec_errors["docker"] = ClusterError("pods/exec is forbidden", status=403)
    ctx = await inspect_for_restart("codex-build-1", pods=sim, exec=sim, logs=sim, policy=POLICY)
    assert ctx.docker_info.state is StepState.FAILED and ctx.docker_info.detail == "pods/exec is forbidden"


async def test_inspect_refuses_a_pod_that_is_not_a_codex_pod(sim: Sim) -> None:
    sim.pod = replace(make_pod(), labels={})
    with pytest.raises(NotFound):
        await inspect_for_restart("codex-build-1", pods=sim, exec=sim, logs=sim, policy=POLICY)
    assert sim.calls == []
