"""`/codex validate <pod> [--issue owner/repo#N]`."""

from __future__ import annotations

from bot.commands import Verb
from bot.flows.attach import attach
from bot.flows.registry import Invocation, flow
from bot.issue_comments import publish_validation
from bot.live import LiveMessage
from bot.render.validate import validation_message
from bot.surface import Attachment
from handlers.results import StepResult, Validation
from handlers.validate import ValidateRequest, validate


def step_attachment(pod: str, step: StepResult) -> Attachment:
    head = (
        f"# {step.title}: {step.state.value}\n# container: {step.container}\n# command: {step.command}\n"
        f"# exit code: {step.exit_code if step.exit_code is not None else '-'}"
        f"   duration: {f'{step.duration:.2f}s' if step.duration is not None else '-'}\n"
    )
    if step.detail:
        head += f"# {step.detail}\n"
    body = (head + "\n" + step.output).encode()
    return Attachment(
        filename=f"{pod}-{step.key}.log", content=body, title=f"{step.title} ({step.state.value})"
    )


def attachments(v: Validation) -> list[Attachment]:
    """Every step that ran, with its whole output: nothing is cut, it goes into a file."""
    return [step_attachment(v.pod, s) for s in v.steps if s.exit_code is not None or s.output]


@flow(Verb.VALIDATE)
async def run_validate(inv: Invocation) -> bool:
    assert inv.command.pod is not None  # the parser guarantees it
    policy = inv.deps.settings.policy
    live = LiveMessage(inv.surface, inv.channel)

    async def on_change(v: Validation) -> None:
        await live.set(validation_message(v, requested_by=inv.user))

    try:
        result = await validate(
            ValidateRequest(inv.command.pod),
            pods=inv.deps.pods,
            exec=inv.deps.exec,
            policy=policy,
            on_change=on_change,
        )
    finally:
        parent = await live.close()
    if parent is None:
        return result.passed
    await attach(
        inv.surface,
        parent,
        attachments(result),
        comment="Output of each step:",
        what="The output of each step",
        then=f"Run `/codex validate {result.pod}` again to get it here.",
    )
    if inv.command.issue:
        await publish_validation(inv, result, parent)
    return result.passed
