"""Validation / pod listing -> Slack blocks and terminal text."""

from __future__ import annotations

from bot.render.blocks import Block, capped, context, header, section
from bot.render.tables import table_blocks, text_table
from bot.surface import Message
from handlers.results import PodListing, StepResult, StepState, Validation

EMOJI = {
    StepState.PENDING: ":white_circle:",
    StepState.RUNNING: ":hourglass_flowing_sand:",
    StepState.PASSED: ":white_check_mark:",
    StepState.FAILED: ":x:",
    StepState.SKIPPED: ":fast_forward:",
    StepState.TIMED_OUT: ":alarm_clock:",
}
MARK = {
    StepState.PENDING: "·",
    StepState.RUNNING: "…",
    StepState.PASSED: "✔",
    StepState.FAILED: "✘",
    StepState.SKIPPED: "»",
    StepState.TIMED_OUT: "⏱",
}


def _duration(step: StepResult) -> str:
    return f"{step.duration:.1f}s" if step.duration is not None else ""


def headline(v: Validation) -> str:
    if not v.finished:
        return f"Validating {v.pod}…"
    if v.passed:
        return f"{v.pod}: Docker sidecar healthy"
    if v.api_error is not None:
        return f"{v.pod}: the bot could not run the checks"
    failed = v.failed_step
    return f"{v.pod}: failed at {failed.title if failed else 'an unknown step'}"


def _step_line(step: StepResult) -> str:
    parts = [f"{EMOJI[step.state]} *{step.title}*", f"`{step.command}`", step.state.value]
    if step.duration is not None:
        parts.append(_duration(step))
    line = " · ".join(parts)
    return f"{line}\n>{step.detail}" if step.detail else line


def validation_message(v: Validation, *, requested_by: str | None = None) -> Message:
    icon = ":hourglass_flowing_sand:" if not v.finished else (":white_check_mark:" if v.passed else ":x:")
    meta = [f"namespace `{v.namespace}`", f"workflow `{v.workflow or '—'}`"]
    if requested_by:
        meta.append(f"requested by <@{requested_by}>")
    blocks: list[Block] = [header(headline(v)), context(" · ".join(meta))]
    blocks += [section(_step_line(s), block_id=f"step-{s.key}") for s in v.steps]
    if v.finished:
        verdict = (
            "*Verdict: pass.* The sidecar answers and builds."
            if v.passed
            else (f"*Verdict: fail.* {v.suggestion or ''}")
        )
        blocks.append(section(verdict, block_id="verdict"))
        blocks.append(context("Each step's full output is attached in this thread."))
    text = f"{icon} {headline(v)}"
    return Message(text=text, blocks=capped(blocks, "see the thread"), terminal=validation_text(v))


def validation_text(v: Validation) -> str:
    lines = [headline(v), f"  namespace {v.namespace}, workflow {v.workflow or '-'}"]
    for s in v.steps:
        lines.append(f"  {MARK[s.state]} {s.title:<24} {s.state.value:<9} {_duration(s):>7}  {s.command}")
        if s.detail:
            lines.append(f"      {s.detail}")
    if v.finished:
        lines.append("verdict: PASS" if v.passed else f"verdict: FAIL. {v.suggestion or ''}")
    return "\n".join(lines)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def pods_message(listing: PodListing) -> Message:
    if not listing.pods:
        text = f"No Codex pods match `{listing.selector}` in `{listing.namespace}`."
        return Message(text=text, blocks=[section(text)], terminal=text)
    rows = [
        (p.name, p.stage, p.workflow or "-", p.phase, _age(p.age_seconds), str(p.restarts), p.node or "-")
        for p in listing.pods
    ]
    heads = ("POD", "STAGE", "WORKFLOW", "PHASE", "AGE", "RESTARTS", "NODE")
    table = text_table(heads, rows)
    title = f"{len(rows)} Codex pod(s) in {listing.namespace} ({listing.selector})"
    blocks: list[Block] = [section(f"*{title}*"), *table_blocks(table)]
    return Message(text=title, blocks=capped(blocks, "use a narrower selector"), terminal=f"{title}\n{table}")
