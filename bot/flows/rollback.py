"""`/codex rollback [--mode patch|pull-request] [--issue o/r#N] [--undo] [--dry-run] [--force]`.

Approval required; the request shows the diff. On approval: capture diagnostics first
(stop if that fails, unless ``--force`` was part of the approved request), then apply the
exact change that was approved — a conditional patch of each template, or a pull request
on the GitOps repository — and record what an undo needs.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from bot.commands import Verb
from bot.deps import Deps
from bot.flows.attach import attach
from bot.flows.capture import capture_failing
from bot.flows.gated import OperationFailed, approved, expire_as_shown, request, run_approved, thread_of
from bot.flows.registry import ActionInvocation, Invocation, action, flow
from bot.flows.side_notes import try_post
from bot.render.rollback import (
    applied_message,
    capture_note,
    files_plan_message,
    plan_message,
    pull_request_message,
    request_note,
    undone_message,
)
from bot.store import Approval
from bot.surface import Attachment, Message, MessageRef
from handlers.errors import Conflict, NotFound, UsageError
from handlers.issue_ref import IssueRef, parse_issue_ref
from handlers.rollback import (
    Capture,
    RollbackPlan,
    apply_rollback,
    ensure_captured,
    plan_rollback,
    plan_rollback_files,
    undo_rollback,
)

log = logging.getLogger(__name__)

ROLLBACK, UNDO = "rollback", "rollback-undo"


def rollback_key(deps: Deps) -> str:
    return f"rollback/{deps.policy.namespace}"


def _target(deps: Deps) -> tuple[dict[str, str], str]:
    return {"templates": deps.policy.namespace}, f"templates/{deps.policy.namespace}"


def _issue(deps: Deps, text: str | None) -> IssueRef | None:
    return parse_issue_ref(text, default_repo=deps.policy.github.default_repo) if text else None


@flow(Verb.ROLLBACK)
async def run_rollback(inv: Invocation) -> None:
    c, deps = inv.command, inv.deps
    if c.undo:
        await _request_undo(inv)
        return
    if await deps.store.get_state(rollback_key(deps)) is not None:
        raise Conflict(
            "A rollback by the bot is in force.", hint="`/codex rollback --undo` first, then plan anew."
        )
    issue = _issue(deps, c.issue)
    if issue is None and not c.force and not c.dry_run:
        raise UsageError(
            "Rollback attaches the failing pods' diagnostics to a GitHub issue first.",
            hint="Add `--issue owner/repo#N`, or `--force` to roll back without it (still needs approval).",
        )
    if c.mode == "pull-request":
        message, files, payload = await _plan_pull_request(inv)
    else:
        plan = await plan_rollback(deps.objects, deps.policy)
        message, files = plan_message(plan, mode="patch", dry_run=c.dry_run)
        payload = None if plan.empty else {"plan": plan.to_payload()}
    if c.dry_run or payload is None:
        ref = await inv.surface.post(inv.channel, message)
        await attach(inv.surface, ref, files, comment="The whole diff:", what="The whole diff")
        return
    payload |= {"mode": c.mode, "issue": str(issue) if issue else None, "force": c.force}
    note = request_note(str(issue) if issue else None, force=c.force)
    preview = Message(
        text=message.text,
        blocks=[*(message.blocks or []), *_context(note)],
        terminal=f"{message.plain}\n{note}",
    )
    target, key = _target(deps)
    title = f"roll back the Docker sidecar ({c.mode})"
    await request(
        inv,
        kind=ROLLBACK,
        target=target,
        target_key=key,
        title=title,
        preview=preview,
        payload=payload,
        files=files,
    )


def _context(text: str) -> list[dict[str, Any]]:
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]


async def _plan_pull_request(inv: Invocation) -> tuple[Message, list[Attachment], dict[str, Any] | None]:
    deps = inv.deps
    rb = deps.policy.rollback
    if not rb.gitops_repo:
        raise UsageError("`--mode pull-request` needs `rollback.gitops_repo` in the config.")
    if deps.pulls is None:
        raise UsageError("`--mode pull-request` needs GITHUB_TOKEN for the bot.")
    files = await deps.pulls.read_files(rb.gitops_repo, rb.gitops_base, rb.gitops_path)
    names = await _cluster_names(deps)
    fplan = plan_rollback_files(files, deps.policy, names=names)
    message, attachments = files_plan_message(fplan, repo=rb.gitops_repo, dry_run=inv.command.dry_run)
    if not fplan.changed:
        return message, attachments, None
    digests = {path: _digest(files[path]) for path in fplan.changed}
    payload = {
        "files": fplan.changed,
        "digests": digests,
        "removed": {k: list(v) for k, v in fplan.removed.items()},
    }
    return message, attachments, payload


async def _cluster_names(deps: Deps) -> set[str] | None:
    """The templates the selector matches in the cluster, so the PR edits the same ones."""
    try:
        plan = await plan_rollback(deps.objects, deps.policy)
    except NotFound:
        return None
    names = {c.name for c in plan.changes} | set(plan.unchanged)
    return names or None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@action("rollback.approve")
async def on_rollback_approved(act: ActionInvocation) -> None:
    deps = act.deps

    async def op(approval: Approval) -> tuple[Message, dict[str, Any]]:
        p = approval.payload
        issue = _issue(deps, p.get("issue"))
        thread = thread_of(approval)
        capture = await capture_failing(deps, act.surface, issue=issue, thread=thread)
        ensure_captured(capture, force=bool(p.get("force")))
        await _say(act, thread, capture_note(capture))  # the comment's link, or the forced skip, first
        if p["mode"] == "pull-request":
            return await _open_pull_request(deps, approval, capture)
        plan = RollbackPlan.from_payload(p["plan"])
        applied = await apply_rollback(plan, deps.objects, capture=capture, force=bool(p.get("force")))
        if applied.originals:
            state = {
                "originals": applied.originals,
                "applied_specs": applied.applied_specs,
                "requested_by": approval.requester,
                "approved_by": act.user,
                "at": datetime.now(UTC).isoformat(),
                "capture": capture.location,
            }
            await deps.store.put_state(rollback_key(deps), state)
        summary = f"applied {', '.join(applied.applied) or 'nothing'}" + (
            f"; {applied.error}" if applied.error else ""
        )
        if not applied.complete:
            raise OperationFailed(applied_message(applied, by=act.user, capture=capture), summary)
        message = applied_message(applied, by=act.user, capture=capture)
        return message, {"summary": summary, "capture": capture.location}

    await run_approved(act, ROLLBACK, op)


async def _say(act: ActionInvocation, thread: MessageRef | None, message: Message) -> None:
    """A note in the request's thread; Slack refusing it must not stop the approved rollback."""
    if thread is not None:
        await try_post(act.surface, thread.channel, message, thread=thread)


async def _open_pull_request(
    deps: Deps, approval: Approval, capture: Capture
) -> tuple[Message, dict[str, Any]]:
    rb = deps.policy.rollback
    assert rb.gitops_repo is not None and deps.pulls is not None
    p = approval.payload
    current = await deps.pulls.read_files(rb.gitops_repo, rb.gitops_base, rb.gitops_path)
    moved = [path for path, digest in p["digests"].items() if _digest(current.get(path, "")) != digest]
    if moved:
        raise Conflict(
            f"{', '.join(moved)} changed on `{rb.gitops_base}` since the request; no pull request opened.",
            hint="Run `/codex rollback --mode pull-request` again to review the new diff.",
        )
    removed = "\n".join(f"- `{path}`: " + "; ".join(items) for path, items in p["removed"].items())
    body = (
        "Removes the Docker sidecar and `DOCKER_*` env vars from the Codex WorkflowTemplates "
        f"(runbook: Escalation & Rollback).\n\nRequested by Slack user {approval.requester}, "
        f"approved in request `{approval.id}`.\n\n{removed}\n"
        + (
            f"\nDiagnostics captured before the rollback: {capture.location}\n"
            if capture.ok
            else f"\nDiagnostics were NOT captured ({capture.error}); `--force` was approved.\n"
        )
    )
    pr = await deps.pulls.open_pull_request(
        rb.gitops_repo,
        rb.gitops_base,
        f"codex-bot/rollback-{approval.id}",
        p["files"],
        "Roll back the Docker sidecar from the Codex WorkflowTemplates",
        body,
    )
    message = pull_request_message(pr.number, pr.url, repo=rb.gitops_repo, capture=capture)
    return message, {"summary": f"pull request {pr.url}", "pull_request": pr.url, "capture": capture.location}


async def _request_undo(inv: Invocation) -> None:
    deps = inv.deps
    state = await deps.store.get_state(rollback_key(deps))
    if state is None:
        raise NotFound("No rollback by the bot is recorded, so there is nothing to undo.")
    names = sorted(state["originals"])
    text = "Restores the original spec of " + ", ".join(f"`{n}`" for n in names) + " exactly."
    if inv.command.dry_run:
        await inv.reply(Message(text=f"Dry run: {text} Nothing was changed."))
        return
    target, key = _target(deps)
    await request(
        inv,
        kind=UNDO,
        target=target,
        target_key=key,
        title="undo the rollback",
        preview=Message(text=text),
        payload={"force": inv.command.force},
    )


@action("rollback-undo.approve")
async def on_undo_approved(act: ActionInvocation) -> None:
    deps = act.deps

    async def op(approval: Approval) -> tuple[Message, dict[str, Any]]:
        state = await deps.store.get_state(rollback_key(deps))
        if state is None:
            raise NotFound("No rollback is recorded any more; someone undid it already.")
        undone = await undo_rollback(
            state["originals"],
            deps.objects,
            applied_specs=state["applied_specs"],
            force=bool(approval.payload.get("force")),
        )
        left = {
            n: o
            for n, o in state["originals"].items()
            if n not in undone.restored
            and not any(s.startswith(f"{n} (no longer exists") for s in undone.skipped)
        }
        if left:
            await deps.store.put_state(rollback_key(deps), {**state, "originals": left})
        else:
            await deps.store.delete_state(rollback_key(deps))
        return undone_message(undone, by=act.user), {
            "summary": f"restored {', '.join(undone.restored) or 'nothing'}"
        }

    await run_approved(act, UNDO, op)


@action("rollback.deny")
async def on_rollback_denied(act: ActionInvocation) -> None:
    await approved(act, kind=ROLLBACK, approve=False)


@action("rollback-undo.deny")
async def on_undo_denied(act: ActionInvocation) -> None:
    await approved(act, kind=UNDO, approve=False)


expire_as_shown(ROLLBACK)
expire_as_shown(UNDO)
