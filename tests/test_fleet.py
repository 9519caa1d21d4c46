"""check_fleet against tiny in-memory fakes of Pods and PodExec."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

import pytest

from config.settings import FleetPolicy, Policy
from handlers.errors import ClusterError, ExecTimedOut
from handlers.fleet import FleetState, check_fleet, error_excerpt
from handlers.ports import ContainerInfo, ExecResult, PodEvent, PodInfo

DAEMON_DOWN = ExecResult(
    stdout="Client:\n Version: 27.1.1\n\nServer:\nERROR: Cannot connect to the Docker daemon at "
    "tcp://127.0.0.1:2375. Is the docker daemon running?\n",
    stderr="errors pretty printing info\n",
    exit_code=1,
    duration=0.1,
)
HEALTHY = ExecResult(stdout="Server Version: 27.1.1\n", stderr="", exit_code=0, duration=0.05)


def pod(name: str, workflow: str | None = "wf-a", phase: str = "Running", main: str = "running") -> PodInfo:
    labels = {"codex.stage": "build"}
    if workflow:
        labels["workflows.argoproj.io/workflow"] = workflow
    containers = (ContainerInfo("main", state=main), ContainerInfo("docker", state="running"))
    return PodInfo(
        name=name, namespace="argo-workflows", uid=name, phase=phase, labels=labels, containers=containers
    )


class FakePods:
    def __init__(self, pods: list[PodInfo]) -> None:
        self.pods = pods
        self.selectors: list[str] = []

    async def get(self, name: str) -> PodInfo | None:
        return next((p for p in self.pods if p.name == name), None)

    async def list(self, selector: str) -> list[PodInfo]:
        self.selectors.append(selector)
        return list(self.pods)

    async def events(self, name: str) -> list[PodEvent]:
        return []


class FakeExec:
    """Answers per pod: an ExecResult or an exception; optionally takes ``delay`` seconds."""

    def __init__(self, answers: dict[str, ExecResult | Exception], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.calls: list[tuple[str, str, tuple[str, ...], float]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def run(self, pod: str, container: str, argv: Sequence[str], timeout: float) -> ExecResult:
        self.calls.append((pod, container, tuple(argv), timeout))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            answer = self.answers.get(pod, HEALTHY)
            if isinstance(answer, Exception):
                raise answer
            return answer
        finally:
            self.in_flight -= 1


async def test_rows_distinguish_healthy_failing_and_not_running() -> None:
    pods = FakePods(
        [
            pod("a-1", "wf-a"),
            pod("b-1", "wf-b"),
            pod("c-1", "wf-c", phase="Pending"),
            pod("d-1", "wf-d", main="terminated"),
            pod("e-1", "wf-e"),
        ]
    )
    exec = FakeExec({"b-1": DAEMON_DOWN, "e-1": ExecTimedOut("exec timed out")})
    report = await check_fleet(pods=pods, exec=exec, policy=Policy())

    by_pod = {r.pod: r for r in report.rows}
    assert by_pod["a-1"].state is FleetState.HEALTHY
    assert by_pod["b-1"].state is FleetState.FAILING
    assert by_pod["b-1"].detail.startswith("ERROR: Cannot connect to the Docker daemon")
    assert by_pod["c-1"].state is FleetState.NOT_RUNNING and by_pod["c-1"].detail == "Pending"
    assert by_pod["d-1"].state is FleetState.NOT_RUNNING and "terminated" in by_pod["d-1"].detail
    assert by_pod["e-1"].state is FleetState.FAILING and "no answer within 20s" in by_pod["e-1"].detail
    assert report.totals == {"pods": 5, "healthy": 1, "failing": 2, "not running": 2, "unchecked": 0}
    assert report.failing_workflows == ("wf-b", "wf-e")
    # Only Running pods were exec'd, with docker info in main and the per-pod timeout.
    assert sorted(c[0] for c in exec.calls) == ["a-1", "b-1", "e-1"]
    assert {c[1:] for c in exec.calls} == {("main", ("docker", "info"), 20.0)}
    assert pods.selectors == ["codex.stage"]


async def test_api_refusals_are_unchecked_not_daemon_failures() -> None:
    pods = FakePods([pod("a-1", "wf-a"), pod("b-1", "wf-b"), pod("gone-1", "wf-c")])
    forbidden = ClusterError("pods/exec is forbidden for the bot", status=403)
    exec = FakeExec({"a-1": forbidden, "b-1": forbidden, "gone-1": ClusterError("not found", status=404)})
    report = await check_fleet(pods=pods, exec=exec, policy=Policy())

    assert report.failing_workflows == ()
    assert report.count(FleetState.UNCHECKED) == 2
    assert {r.state for r in report.rows if r.pod == "gone-1"} == {FleetState.NOT_RUNNING}


async def test_failing_workflows_are_distinct_and_pods_without_label_count_alone() -> None:
    pods = FakePods([pod("a-1", "wf-a"), pod("a-2", "wf-a"), pod("lone", None)])
    exec = FakeExec({"a-1": DAEMON_DOWN, "a-2": DAEMON_DOWN, "lone": DAEMON_DOWN})
    report = await check_fleet(pods=pods, exec=exec, policy=Policy())
    assert report.failing_workflows == ("lone", "wf-a")


async def test_error_excerpt_is_redacted_and_bounded() -> None:
    secret = ExecResult(
        stdout="", stderr="\n  Authorization: Bearer abcdefghijklmnop\n", exit_code=1, duration=0
    )
    assert "abcdefghijklmnop" not in error_excerpt(secret)
    long = ExecResult(stdout="", stderr="x" * 1000, exit_code=1, duration=0)
    assert len(error_excerpt(long)) == 200
    silent = ExecResult(stdout="", stderr="", exit_code=7, duration=0)
    assert error_excerpt(silent) == "exit code 7"


@pytest.mark.parametrize("concurrency", [8, 32])
async def test_checks_run_concurrently_up_to_the_bound_and_no_further(concurrency: int) -> None:
    count, delay = 300, 0.02
    pods = FakePods([pod(f"p-{i:03}", f"wf-{i % 40}") for i in range(count)])
    exec = FakeExec({}, delay=delay)
    policy = Policy(fleet=FleetPolicy(concurrency=concurrency))

    started = time.monotonic()
    report = await check_fleet(pods=pods, exec=exec, policy=policy)
    wall = time.monotonic() - started

    ideal = math.ceil(count / concurrency) * delay
    assert exec.max_in_flight == concurrency
    # The bound is loose because CI machines are shared; bench/fleet.py holds the 1.2 x target.
    assert ideal * 0.9 <= wall <= ideal * 2 + 0.3
    assert report.count(FleetState.HEALTHY) == count
    assert report.concurrency == concurrency


async def test_explicit_concurrency_overrides_policy() -> None:
    pods = FakePods([pod(f"p-{i}") for i in range(10)])
    exec = FakeExec({}, delay=0.01)
    report = await check_fleet(pods=pods, exec=exec, policy=Policy(), concurrency=3)
    assert exec.max_in_flight == 3 and report.concurrency == 3


async def test_an_adapter_that_ignores_its_timeout_cannot_stall_the_fleet() -> None:
    class Hanging(FakeExec):
        async def run(self, pod: str, container: str, argv: Sequence[str], timeout: float) -> ExecResult:
            if pod == "stuck":
                await asyncio.Event().wait()
            return await super().run(pod, container, argv, timeout)

    policy = Policy(fleet=FleetPolicy(per_pod_timeout=0.05))
    report = await asyncio.wait_for(
        check_fleet(pods=FakePods([pod("stuck"), pod("ok")]), exec=Hanging({}), policy=policy), 2
    )
    states = {r.pod: r.state for r in report.rows}
    assert states == {"stuck": FleetState.FAILING, "ok": FleetState.HEALTHY}
