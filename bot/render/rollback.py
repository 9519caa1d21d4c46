"""Rollback plans and outcomes -> Slack blocks and terminal text. Diffs are already redacted."""

from __future__ import annotations

from bot.render.blocks import SECTION_TEXT_LIMIT, Block, capped, code, context, section
from bot.surface import Attachment, Message
from handlers.rollback import Capture, FilesPlan, RollbackApplied, RollbackPlan, RollbackUndone

DIFF_INLINE_LIMIT = 2800  # a diff longer than this goes into an attached file, said so in the message


def diff_blocks(diff: str, filename: str) -> tuple[list[Block], list[Attachment]]:
    """The diff inline when it fits one section; otherwise its head inline and the whole as a file."""
    if len(diff) <= DIFF_INLINE_LIMIT:
        return [section(code(diff))], []
    head = diff[: DIFF_INLINE_LIMIT - 100]
    head = head[: head.rfind("\n")] if "\n" in head else head
    blocks = [
        section(code(head, SECTION_TEXT_LIMIT - 8)),
        context(f"Diff cut here; the whole diff is in `{filename}`."),
    ]
    return blocks, [Attachment(filename=filename, content=diff.encode(), title="Rollback diff")]


def plan_message(plan: RollbackPlan, *, mode: str, dry_run: bool) -> tuple[Message, list[Attachment]]:
    if plan.empty:
        text = (
            f"Nothing to roll back: no WorkflowTemplate matching `{plan.selector}` holds the Docker sidecar "
            "or DOCKER_* env vars."
        )
        return Message(text=text, blocks=[section(text)]), []
    names = ", ".join(f"`{c.name}`" for c in plan.changes)
    verb = "Would remove" if dry_run else "Removes"
    title = f"Rollback ({mode}): {verb.lower()} the Docker sidecar and DOCKER_* env from {names}"
    removed = "\n".join(f"• `{c.name}`: {len(c.removed)} item(s)" for c in plan.changes)
    blocks: list[Block] = [section(f"*{title}*"), section(removed)]
    warnings = [w for c in plan.changes for w in c.warnings]
    if warnings:
        blocks.append(section(":warning: " + "\n:warning: ".join(warnings)))
    diff, files = diff_blocks(plan.diff, "rollback.diff")
    blocks += diff
    if dry_run:
        blocks.append(context("Dry run: nothing was changed."))
    terminal = f"{title}\n{removed}\n{plan.diff}" + ("\n(dry run: nothing changed)" if dry_run else "")
    return Message(text=title, blocks=capped(blocks, "see the diff file"), terminal=terminal), files


def files_plan_message(plan: FilesPlan, *, repo: str, dry_run: bool) -> tuple[Message, list[Attachment]]:
    if not plan.changed:
        text = f"Nothing to change in `{repo}`: no selected WorkflowTemplate file holds the sidecar."
        extra = [section(":warning: " + w) for w in plan.warnings]
        return Message(text=text, blocks=[section(text), *extra]), []
    title = f"Rollback (pull-request) on `{repo}`: {len(plan.changed)} file(s)"
    listing = "\n".join(f"• `{path}`: {len(items)} item(s)" for path, items in plan.removed.items())
    blocks: list[Block] = [section(f"*{title}*"), section(listing)]
    blocks += [section(":warning: " + w) for w in plan.warnings]
    diff, files = diff_blocks(plan.diff, "rollback-pr.diff")
    blocks += diff
    if dry_run:
        blocks.append(context("Dry run: no branch, commit or pull request was made."))
    return Message(
        text=title, blocks=capped(blocks, "see the diff file"), terminal=f"{title}\n{plan.diff}"
    ), files


def request_note(issue: str | None, *, force: bool) -> str:
    """What the approval request says will happen to the runbook's capture-first step."""
    if issue and force:
        return (
            f"On approval: first, diagnostics of the failing pods go to {issue}; because of `--force`, "
            "the rollback goes ahead even if that capture fails."
        )
    if issue:
        return (
            f"On approval: first, diagnostics of the failing pods go to {issue}; "
            "if that fails, nothing is rolled back."
        )
    return (
        "On approval: diagnostics are NOT captured first (no `--issue` was given); "
        "`--force` rolls back without them."
    )


def capture_line(capture: Capture | None, *, anyway: str = "rolled back anyway") -> str:
    """How the capture-first step went, for the result: the comment, or plainly that there is none."""
    if capture is not None and capture.ok:
        where = capture.location or "on the GitHub issue"
        return f":memo: Diagnostics of the failing pods were captured first: {where}"
    why = capture.error if capture is not None and capture.error else "no capture was attempted"
    return f":warning: Diagnostics were NOT captured: {why}; {anyway} because `--force` was approved."


def capture_note(capture: Capture) -> Message:
    """Said in the request's thread as soon as the capture ended, before anything changes."""
    text = capture_line(capture, anyway="rolling back anyway")
    return Message(text=text, blocks=[section(text)])


def pull_request_message(number: int, url: str, *, repo: str, capture: Capture | None) -> Message:
    title = f":twisted_rightwards_arrows: Opened <{url}|pull request #{number}> on `{repo}`."
    said = capture_line(capture, anyway="opened the rollback pull request anyway")
    return Message(text=title, blocks=[section(title), context(said)], terminal=f"{title}\n{said}")


def applied_message(result: RollbackApplied, *, by: str, capture: Capture | None = None) -> Message:
    said = [capture_line(capture)] if capture is not None else []
    if result.complete:
        title = f":rewind: Rolled back {', '.join(result.applied)} (approved by <@{by}>)."
        hint = "Undo with `/codex rollback --undo` (restores each original spec exactly)."
        lines = [hint, *said]
        blocks = [section(title), *(context(x) for x in lines)]
        return Message(text=title, blocks=blocks, terminal="\n".join([title, *lines]))
    done = ", ".join(f"`{n}`" for n in result.applied) or "none"
    left = ", ".join(f"`{n}`" for n in result.not_applied)
    title = f":warning: Rollback stopped: {result.error}."
    body = f"Applied: {done}. Not applied: {left}."
    if result.conflict:
        body += " Run `/codex rollback` again to plan against the current template."
    if result.applied:
        body += " `/codex rollback --undo` restores what was applied."
    blocks = [section(title), section(body), *(context(x) for x in said)]
    return Message(text=title, blocks=blocks, terminal="\n".join([title, body, *said]))


def undone_message(result: RollbackUndone, *, by: str) -> Message:
    restored = ", ".join(f"`{n}`" for n in result.restored) or "none"
    title = f":arrows_counterclockwise: Rollback undone by <@{by}>: restored {restored}."
    lines = [f"Skipped: {s}" for s in result.skipped]
    if result.error:
        lines.append(f":warning: Stopped: {result.error}.")
    body = "\n".join(lines)
    blocks: list[Block] = [section(title)] + ([section(body)] if body else [])
    return Message(text=title, blocks=blocks, terminal=f"{title}\n{body}".rstrip())
