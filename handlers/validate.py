"""Runbook "Validating the Sidecar", steps 2–3: env check and Docker smoke tests in `main`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from config.settings import Policy
from handlers.errors import ClusterError
from handlers.pods import resolve_codex_pod
from handlers.ports import ExecResult, PodExec, Pods
from handlers.redact import redact
from handlers.results import StepResult, StepState, Validation

OnChange = Callable[[Validation], Awaitable[None]]


@dataclass(frozen=True)
class ValidateRequest:
    pod: str


def planned_steps(policy: Policy) -> tuple[StepResult, ...]:
    main = policy.pods.main_container
    build = policy.build
    specs = (
        ("env", "Environment", ("env",)),
        ("docker-version", "docker version", ("docker", "version")),
        ("docker-info", "docker info", ("docker", "info")),
        ("hello-world", "docker run hello-world", ("docker", "run", "--rm", "hello-world")),
        (
            "docker-build",
            "docker build",
            ("docker", "build", "-f", build.dockerfile, "-t", build.tag, build.context),
        ),
    )
    return tuple(StepResult(key=k, title=t, container=main, argv=a) for k, t, a in specs)


def _timeout(policy: Policy, key: str) -> float:
    t = policy.timeouts
    return {
        "env": t.env,
        "docker-version": t.docker_version,
        "docker-info": t.docker_info,
        "hello-world": t.hello_world,
        "docker-build": t.build,
    }[key]


def parse_env(output: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in output.splitlines():
        name, sep, value = line.partition("=")
        if sep and name and name not in env:
            env[name] = value
    return env


def check_env(output: str, expected: dict[str, str]) -> tuple[bool, str]:
    """Compare the DOCKER_* variables; the detail shows the actual values, never other env."""
    actual = parse_env(output)
    problems = []
    for name, want in expected.items():
        got = actual.get(name)
        if got is None:
            problems.append(f"{name} is not set (expected '{want}')")
        elif got != want:
            problems.append(f"{name} is '{got}', expected '{want}'")
    if problems:
        return False, "; ".join(problems)
    return True, ", ".join(f"{k}={actual[k]}" for k in expected)


def _finished(step: StepResult, result: ExecResult, expected: dict[str, str]) -> StepResult:
    output = redact(result.output)
    common = {"exit_code": result.exit_code, "duration": result.duration, "output": output}
    if result.timed_out:
        return step.with_(
            state=StepState.TIMED_OUT, detail=f"no answer within {result.duration:.0f}s", **common
        )
    if step.key == "env" and result.exit_code == 0:
        ok, detail = check_env(result.stdout, expected)
        # Only the DOCKER_* lines are kept: the rest of a container's env is none of Slack's business.
        env = parse_env(result.stdout)
        shown = [f"{k}={v}" for k, v in env.items() if k.startswith("DOCKER_")]
        omitted = len(env) - len(shown)
        note = [f"({omitted} other variable(s) not shown: only DOCKER_* is checked)"] if omitted else []
        common["output"] = redact("\n".join(shown + note))
        return step.with_(state=StepState.PASSED if ok else StepState.FAILED, detail=detail, **common)
    if result.exit_code == 0:
        return step.with_(state=StepState.PASSED, **common)
    return step.with_(
        state=StepState.FAILED, detail=f"exit {result.exit_code}: {telling_line(output)[:200]}", **common
    )


def telling_line(output: str) -> str:
    """The line that says what went wrong: the first one naming an error, else the last one."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    clues = ("cannot connect", "error", "denied", "not found", "no such", "failed", "timeout")
    return next((ln for ln in lines if any(c in ln.lower() for c in clues)), lines[-1] if lines else "")


async def _run_step(step: StepResult, pod: str, *, exec: PodExec, policy: Policy) -> StepResult:
    try:
        result = await exec.run(pod, step.container, step.argv, _timeout(policy, step.key))
    except ClusterError as e:
        hint = e.hint or "Check the bot's access to the Kubernetes API."
        return step.with_(state=StepState.FAILED, detail=e.message, output=e.for_user(), api_error_hint=hint)
    return _finished(step, result, policy.docker.expected_env)


async def validate(
    req: ValidateRequest, *, pods: Pods, exec: PodExec, policy: Policy, on_change: OnChange | None = None
) -> Validation:
    """Run the checks in order. Once `docker info` fails, later docker steps are skipped."""
    pod = await resolve_codex_pod(req.pod, pods=pods, policy=policy)
    steps = list(planned_steps(policy))
    v = Validation(
        pod=pod.name,
        namespace=pod.namespace,
        workflow=pod.labels.get(policy.pods.workflow_label),
        steps=tuple(steps),
        started_at=datetime.now(UTC),
    )

    async def publish(i: int, step: StepResult) -> None:
        nonlocal v
        steps[i] = step
        v = Validation(v.pod, v.namespace, v.workflow, tuple(steps), v.started_at)
        if on_change is not None:
            await on_change(v)

    skip_reason: str | None = None
    for i, step in enumerate(steps):
        if skip_reason is not None:
            await publish(i, step.with_(state=StepState.SKIPPED, detail=skip_reason))
            continue
        await publish(i, step.with_(state=StepState.RUNNING))
        done = await _run_step(step, pod.name, exec=exec, policy=policy)
        await publish(i, done)
        if done.api_error_hint is not None:
            skip_reason = "skipped: the bot cannot run commands in this pod (see above)"
        elif step.key == "docker-info" and done.state.bad:
            skip_reason = "skipped: `docker info` failed, so the daemon cannot run it"
    v = Validation(v.pod, v.namespace, v.workflow, tuple(steps), v.started_at, datetime.now(UTC))
    if on_change is not None:
        await on_change(v)
    return v
