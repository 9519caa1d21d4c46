"""Diagnostics bundle -> Slack summary (Block Kit), terminal text, and the files for the thread."""

from __future__ import annotations

from bot.render.blocks import Block, capped, context, header, section
from bot.surface import Attachment, Message
from handlers.artifacts import Artifact, ArtifactStatus, Diagnostics, Severity, human_bytes
from handlers.diagnostics import format_since
from handlers.redact import redact

MAX_FINDINGS = 10  # findings shown in Slack; the GitHub comment and the files have everything
STATUS_EMOJI = {
    ArtifactStatus.OK: ":white_check_mark:",
    ArtifactStatus.FAILED: ":x:",
    ArtifactStatus.UNAVAILABLE: ":heavy_minus_sign:",
}
SEVERITY_EMOJI = {
    Severity.ERROR: ":red_circle:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":information_source:",
}
_MARK = {ArtifactStatus.OK: "ok", ArtifactStatus.FAILED: "FAILED", ArtifactStatus.UNAVAILABLE: "unavailable"}


def headline(d: Diagnostics) -> str:
    bad = len(d.problems)
    tail = f", {bad} failed" if bad else ""
    return f"Diagnostics for {d.pod}: {len(d.artifacts) - bad} of {len(d.artifacts)} collected{tail}"


def size_text(a: Artifact) -> str:
    if a.cut is not None:
        return f"{human_bytes(a.size_bytes)} kept of {human_bytes(a.source_bytes)}"
    return human_bytes(a.size_bytes) if a.content or a.ok else "—"


def artifact_line(a: Artifact) -> str:
    line = f"{STATUS_EMOJI[a.status]} *{a.title}* · {size_text(a)} · `{a.command}`"
    notes = [redact(a.reason)] if a.reason else []
    if a.cut is not None:
        notes.append(
            f"over the cap: cut {human_bytes(a.cut.cut_bytes)} ({a.cut.cut_lines:,} lines) from the middle, "
            "kept the head and tail"
        )
    notes += [redact(n) for n in a.notes]
    return line + "".join(f"\n>{n}" for n in notes)


def findings_text(d: Diagnostics) -> str:
    shown = [f"{SEVERITY_EMOJI[f.severity]} {f.text}" for f in d.findings[:MAX_FINDINGS]]
    more = len(d.findings) - len(shown)
    if more > 0:
        shown.append(f"…and {more} more in the files.")
    return "*Key findings*\n" + "\n".join(shown) if shown else "*Key findings*\nNothing stands out."


def diagnostics_message(d: Diagnostics, *, requested_by: str | None = None) -> Message:
    meta = [f"namespace `{d.namespace}`", f"workflow `{d.workflow or '—'}`"]
    meta += [f"phase *{d.phase}*"] if d.phase else []
    meta.append(f"daemon log window {format_since(d.since_seconds)}")
    if requested_by:
        meta.append(f"requested by <@{requested_by}>")
    blocks: list[Block] = [header(headline(d)), context(" · ".join(meta)), section(findings_text(d))]
    blocks += [section(artifact_line(a), block_id=f"artifact-{a.key.value}") for a in d.artifacts]
    blocks.append(context("Each artifact is attached in this thread as a file."))
    icon = ":x:" if d.problems else ":mag:"
    return Message(
        text=f"{icon} {headline(d)}", blocks=capped(blocks, "see the files"), terminal=diagnostics_text(d)
    )


def collecting_message(pod: str, since_seconds: int, *, requested_by: str | None = None) -> Message:
    who = f" for <@{requested_by}>" if requested_by else ""
    window = format_since(since_seconds)
    text = f":hourglass_flowing_sand: Collecting diagnostics for `{pod}`{who} (daemon log window {window})…"
    return Message(text=text, blocks=[section(text)], terminal=f"Collecting diagnostics for {pod}…")


def diagnostics_text(d: Diagnostics) -> str:
    lines = [headline(d), f"  namespace {d.namespace}, workflow {d.workflow or '-'}, phase {d.phase or '-'}"]
    for f in d.findings:
        lines.append(f"  {f.severity.value:<7} {f.text}")
    for a in d.artifacts:
        lines.append(f"  {_MARK[a.status]:<11} {a.title:<18} {size_text(a):>22}  {a.command}")
        if a.reason:
            lines.append(f"      {redact(a.reason)}")
        lines += [f"      {redact(n)}" for n in a.notes]
        if a.cut is not None:
            lines.append(f"      {a.cut.marker}")
    return "\n".join(lines)


def attachments(d: Diagnostics) -> list[Attachment]:
    """Every artifact with content, whole (up to the cap): the summary says what was cut."""
    return [
        Attachment(
            filename=f"{d.pod}-{a.filename}",
            content=a.content,
            title=f"{a.title} ({a.status.value}, {size_text(a)})",
        )
        for a in d.artifacts
        if a.content
    ]
