"""`/codex pause`, `/codex resume` (approval required) and `/codex status`."""

from __future__ import annotations

from typing import Any

from bot.commands import Command, Verb
from bot.deps import Deps
from bot.flows.gated import approved, expire_as_shown, request, run_approved
from bot.flows.registry import ActionInvocation, Invocation, action, flow
from bot.render.fleet import EscalationAction
from bot.render.submissions import paused_message, resumed_message, status_message
from bot.store import Approval
from bot.surface import Message
from handlers.errors import Conflict, NotFound
from handlers.submissions import PauseFailed, pause, resume, status

PAUSE, RESUME = "pause", "resume"


def pause_key(deps: Deps) -> str:
    """Where the prior state of the pause in force is kept (the store's named state)."""
    return f"submissions/{deps.policy.namespace}"


def _target(deps: Deps) -> tuple[dict[str, str], str]:
    return {"submissions": deps.policy.namespace}, pause_key(deps)


@flow(Verb.STATUS)
async def run_status(inv: Invocation) -> None:
    stored = await inv.deps.store.get_state(pause_key(inv.deps))
    await inv.reply(status_message(await status(inv.deps.objects, inv.deps.policy, stored)))


@flow(Verb.PAUSE)
async def run_pause(inv: Invocation) -> None:
    await request_pause(inv)


async def request_pause(inv: Invocation) -> None:
    deps = inv.deps
    stored = await deps.store.get_state(pause_key(deps))
    if stored is not None:
        raise Conflict(
            f"Submissions are already paused (by <@{stored.get('paused_by')}> at {stored.get('paused_at')}).",
            hint="See `/codex status`.",
        )
    now = await status(deps.objects, deps.policy, None)
    plan = [f"set `{now.flag}` to `true` (now {now.flag_value or 'absent'!s})"]
    plan += [f"suspend CronWorkflow `{name}`" for name in now.scheduling]
    preview = Message(
        text="\n".join(f"• {p}" for p in plan) + "".join(f"\n:warning: {w}" for w in now.warnings)
    )
    if inv.command.dry_run:
        await inv.reply(Message(text=f"Dry run: `/codex pause` would\n{preview.text}\nNothing was changed."))
        return
    target, key = _target(deps)
    await request(
        inv,
        kind=PAUSE,
        target=target,
        target_key=key,
        title="pause new submissions",
        preview=preview,
        payload={},
    )


@flow(Verb.RESUME)
async def run_resume(inv: Invocation) -> None:
    deps = inv.deps
    stored = await deps.store.get_state(pause_key(deps))
    if stored is None:
        raise NotFound(
            "No pause by the bot is recorded, so there is nothing to resume.",
            hint="`/codex status` shows what submitters see now.",
        )
    changed = [f"cronworkflow/{c['name']}" for c in stored.get("cronworkflows", []) if c.get("changed")]
    if stored.get("flag", {}).get("changed"):
        changed.append(f"configmap/{stored['flag']['configmap']}:{stored['flag']['key']}")
    preview = Message(
        text="Puts back only what the pause changed:\n" + "\n".join(f"• `{c}`" for c in changed)
    )
    if inv.command.dry_run:
        await inv.reply(Message(text=f"Dry run: {preview.text}\nNothing was changed."))
        return
    target, key = _target(deps)
    await request(
        inv,
        kind=RESUME,
        target=target,
        target_key=key,
        title="resume submissions",
        preview=preview,
        payload={},
    )


@action("pause.approve")
async def on_pause_approved(act: ActionInvocation) -> None:
    deps = act.deps

    async def op(approval: Approval) -> tuple[Message, dict[str, Any]]:
        try:
            paused = await pause(
                deps.objects,
                deps.policy,
                actor=approval.requester,
                stored=await deps.store.get_state(pause_key(deps)),
            )
        except PauseFailed as e:
            if e.partial is not None:
                await deps.store.put_state(
                    pause_key(deps), {**e.partial.prior_state, "approved_by": act.user}
                )
            raise
        await deps.store.put_state(pause_key(deps), {**paused.prior_state, "approved_by": act.user})
        summary = f"changed {', '.join(paused.changed) or 'nothing'}"
        return paused_message(paused, by=approval.requester, approved_by=act.user), {
            "summary": summary,
            "changed": list(paused.changed),
        }

    await run_approved(act, PAUSE, op)


@action("resume.approve")
async def on_resume_approved(act: ActionInvocation) -> None:
    deps = act.deps

    async def op(approval: Approval) -> tuple[Message, dict[str, Any]]:
        stored = await deps.store.get_state(pause_key(deps))
        if stored is None:
            raise NotFound("No pause is recorded any more; someone resumed already.")
        resumed = await resume(deps.objects, stored)
        await deps.store.delete_state(pause_key(deps))
        summary = f"restored {', '.join(resumed.restored) or 'nothing'}"
        message = resumed_message(resumed, by=approval.requester, approved_by=act.user)
        return message, {"summary": summary}

    await run_approved(act, RESUME, op)


@action("pause.deny")
async def on_pause_denied(act: ActionInvocation) -> None:
    await approved(act, kind=PAUSE, approve=False)


@action("resume.deny")
async def on_resume_denied(act: ActionInvocation) -> None:
    await approved(act, kind=RESUME, approve=False)


expire_as_shown(PAUSE)
expire_as_shown(RESUME)


@action(EscalationAction.PAUSE)
async def on_escalation_pause(act: ActionInvocation) -> None:
    """The escalation's "Pause submissions" button: the same request as `/codex pause`, by the clicker."""
    inv = Invocation(
        command=Command(Verb.PAUSE),
        user=act.user,
        channel=act.channel,
        surface=act.surface,
        deps=act.deps,
        reply=act.reply,
        trigger_id=act.trigger_id,
    )
    await act.deps.access.check(Verb.PAUSE.value, user=act.user, channel=act.channel)
    await request_pause(inv)
