"""The validate runbook logic against in-memory ports: order, skips, verdicts, redaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from config.settings import Policy
from handlers.errors import NotFound, UsageError
from handlers.ports import ContainerInfo, ExecResult, PodEvent, PodInfo
from handlers.results import StepState, Validation
from handlers.validate import ValidateRequest, check_env, validate

HEALTHY_ENV = "PATH=/usr/bin\nDOCKER_HOST=tcp://127.0.0.1:2375\nDOCKER_ENABLED=1\nDOCKER_TLS_VERIFY=0\n"


def pod(
    name: str = "codex-build-1", *, phase: str = "Running", labels: dict[str, str] | None = None
) -> PodInfo:
    return PodInfo(
        name=name,
        namespace="argo-workflows",
        uid="u1",
        phase=phase,
        labels={"codex.stage": "build", "workflows.argoproj.io/workflow": "wf-1"}
        if labels is None
        else labels,
        containers=(
            ContainerInfo("main", ready=True, state="running"),
            ContainerInfo("docker", ready=True, state="running"),
        ),
    )


@dataclass
class MemoryPods:
    pods: dict[str, PodInfo] = field(default_factory=dict)

    async def get(self, name: str) -> PodInfo | None:
        return self.pods.get(name)

    async def list(self, selector: str) -> list[PodInfo]:
        return list(self.pods.values())

    async def events(self, name: str) -> list[PodEvent]:
        return []


@dataclass
class ScriptedExec:
    """Answers by argv prefix; records every call."""

    answers: dict[tuple[str, ...], ExecResult]
    calls: list[tuple[str, tuple[str, ...], float]] = field(default_factory=list)

    async def run(self, pod: str, container: str, argv: Sequence[str], timeout: float) -> ExecResult:
        self.calls.append((container, tuple(argv), timeout))
        for prefix, result in self.answers.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return result
        return ExecResult("", "not scripted", 127, 0.01)


def ok(out: str = "fine\n") -> ExecResult:
    return ExecResult(out, "", 0, 0.05)


def healthy() -> dict[tuple[str, ...], ExecResult]:
    return {("env",): ok(HEALTHY_ENV), ("docker",): ok()}


async def run(
    answers: dict[tuple[str, ...], ExecResult], p: PodInfo | None = None
) -> tuple[Validation, ScriptedExec]:
    p = p or pod()
    ex = ScriptedExec(answers)
    v = await validate(ValidateRequest(p.name), pods=MemoryPods({p.name: p}), exec=ex, policy=Policy())
    return v, ex


async def test_healthy_pod_runs_the_five_runbook_steps_in_main_in_order() -> None:
    v, ex = await run(healthy())
    assert v.passed and v.suggestion is None
    assert [c[1] for c in ex.calls] == [
        ("env",),
        ("docker", "version"),
        ("docker", "info"),
        ("docker", "run", "--rm", "hello-world"),
        (
            "docker",
            "build",
            "-f",
            "apps/froussard/Dockerfile.codex",
            "-t",
            "codex-universal:test",
            "/workspace/lab",
        ),
    ]
    assert {c[0] for c in ex.calls} == {"main"}
    assert ex.calls[-1][2] > ex.calls[2][2]  # the build gets a much longer timeout than docker info


async def test_daemon_down_fails_at_docker_info_and_skips_the_rest() -> None:
    down = ExecResult("", "Cannot connect to the Docker daemon at tcp://127.0.0.1:2375.", 1, 0.1)
    v, ex = await run({("env",): ok(HEALTHY_ENV), ("docker", "info"): down, ("docker",): ok()})
    states = {s.key: s.state for s in v.steps}
    assert states["docker-info"] is StepState.FAILED
    assert states["hello-world"] is states["docker-build"] is StepState.SKIPPED
    assert len(ex.calls) == 3
    assert v.failed_step is not None and v.failed_step.key == "docker-info"
    assert "/codex restart codex-build-1" in (v.suggestion or "")


async def test_tls_verify_1_fails_the_env_check_showing_the_actual_value() -> None:
    env = HEALTHY_ENV.replace("DOCKER_TLS_VERIFY=0", "DOCKER_TLS_VERIFY=1")
    v, _ = await run({("env",): ok(env), ("docker",): ok()})
    step = v.steps[0]
    assert step.state is StepState.FAILED
    assert "DOCKER_TLS_VERIFY is '1', expected '0'" in step.detail
    assert not v.passed


async def test_env_output_keeps_only_docker_variables_and_redacts() -> None:
    env = HEALTHY_ENV + "GITHUB_TOKEN=ghp_" + "a" * 36 + "\nDOCKER_AUTH=password=hunter22\n"
    v, _ = await run({("env",): ok(env), ("docker",): ok()})
    assert "PATH=" not in v.steps[0].output and "ghp_" not in v.steps[0].output
    assert "hunter22" not in v.steps[0].output
    others = len([ln for ln in env.splitlines() if "=" in ln and not ln.startswith("DOCKER_")])
    assert f"({others} other variable(s) not shown: only DOCKER_* is checked)" in v.steps[0].output


async def test_timeout_is_reported_as_timed_out() -> None:
    hung = ExecResult("", "", None, 30.0, timed_out=True)
    v, _ = await run({("env",): ok(HEALTHY_ENV), ("docker", "version"): hung, ("docker",): ok()})
    assert v.steps[1].state is StepState.TIMED_OUT
    assert not v.passed


@pytest.mark.parametrize(
    ("p", "error", "text"),
    [
        (pod(labels={}), NotFound, "not a Codex workflow pod"),
        (pod(phase="Pending"), NotFound, "is Pending, not Running"),
    ],
)
async def test_unfit_pods_are_refused_before_any_exec(p: PodInfo, error: type[Exception], text: str) -> None:
    ex = ScriptedExec(healthy())
    with pytest.raises(error, match=text):
        await validate(ValidateRequest(p.name), pods=MemoryPods({p.name: p}), exec=ex, policy=Policy())
    assert ex.calls == []


async def test_unknown_and_malformed_pods_are_refused() -> None:
    ex = ScriptedExec(healthy())
    with pytest.raises(NotFound, match="was not found in namespace `argo-workflows`"):
        await validate(ValidateRequest("nope"), pods=MemoryPods(), exec=ex, policy=Policy())
    with pytest.raises(UsageError):
        await validate(ValidateRequest("x; rm -rf /"), pods=MemoryPods(), exec=ex, policy=Policy())
    assert ex.calls == []


def test_check_env_reports_missing_variables() -> None:
    good, detail = check_env("DOCKER_HOST=tcp://127.0.0.1:2375\n", {"DOCKER_ENABLED": "1"})
    assert not good and detail == "DOCKER_ENABLED is not set (expected '1')"
