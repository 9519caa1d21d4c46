"""Results -> one GitHub comment (Markdown), marked so a re-run edits it instead of adding another."""

from __future__ import annotations

from collections.abc import Callable

from bot.render.markdown_fit import COMMENT_LIMIT, Section, fit_sections
from handlers.artifacts import Artifact, ArtifactStatus, Diagnostics, Severity, human_bytes
from handlers.diagnostics import format_since
from handlers.redact import redact
from handlers.results import StepResult, StepState, Validation

FREE_TEXT_LIMIT = 500  # one reason, detail or finding in the comment's fixed part, characters
# One pod's checklist in the shared progress comment, characters: a quarter of GitHub's
# limit, so several pods' checklists (and what others wrote) fit; the outputs are trimmed to it.
PROGRESS_SECTION_LIMIT = COMMENT_LIMIT // 4
STATUS_ICON = {ArtifactStatus.OK: "✅", ArtifactStatus.FAILED: "❌", ArtifactStatus.UNAVAILABLE: "➖"}
SEVERITY_ICON = {Severity.ERROR: "❗", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}
STEP_ICON = {
    StepState.PENDING: "⚪",
    StepState.RUNNING: "⏳",
    StepState.PASSED: "✅",
    StepState.FAILED: "❌",
    StepState.SKIPPED: "⏭️",
    StepState.TIMED_OUT: "⏰",
}


def hidden_marker(marker: str) -> str:
    if not marker or "--" in marker or ">" in marker or "\n" in marker:
        raise ValueError(f"unusable comment marker {marker!r}")
    return f"<!-- {marker} -->"


def one_line(value: str, limit: int = FREE_TEXT_LIMIT) -> str:
    """Free text for the fixed part: redacted, one line, bounded."""
    one = " ".join(redact(value).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _cell(value: str) -> str:
    return one_line(value, 300).replace("|", "\\|")


def slack_link(link: str | None, text: str = "Slack thread") -> str:
    return f"[{text}]({link})" if link else text


def trim_note(link: str | None, limit: int = COMMENT_LIMIT) -> Callable[[str], str]:
    where = f"The whole files are in the {slack_link(link)}." if link else "The whole files are in Slack."
    if limit >= COMMENT_LIMIT:
        fit = f"Trimmed to fit GitHub's {COMMENT_LIMIT:,}-character comment limit"
    else:
        fit = (
            f"Trimmed to fit the {max(limit, 0):,} characters this section may use of the shared comment "
            f"(GitHub allows {COMMENT_LIMIT:,} for the whole comment)"
        )

    def note(trimmed: str) -> str:
        return f"\n> ✂️ {fit} (largest first, head and tail kept): {trimmed}. {where}\n"

    return note


def _size(a: Artifact) -> str:
    if a.status is not ArtifactStatus.OK and not a.content:
        return "—"
    if a.cut is not None:
        return f"{human_bytes(a.size_bytes)} of {human_bytes(a.source_bytes)}"
    return human_bytes(a.size_bytes)


def _notes(a: Artifact) -> str:
    notes = [a.reason] if a.reason else []
    if a.cut is not None:
        notes.append(f"cut {human_bytes(a.cut.cut_bytes)} ({a.cut.cut_lines:,} lines) from the middle")
    notes += list(a.notes)
    return "; ".join(notes)


def artifact_table(d: Diagnostics) -> str:
    rows = ["| Artifact | Status | Size | Notes |", "|---|---|---|---|"]
    for a in d.artifacts:
        status = f"{STATUS_ICON[a.status]} {a.status.value}"
        rows.append(f"| {a.title} | {status} | {_size(a)} | {_cell(_notes(a))} |")
    return "\n".join(rows) + "\n"


def artifact_section(a: Artifact) -> Section:
    size = _size(a)
    summary = f"{STATUS_ICON[a.status]} {a.title} — {a.command}" + (f" · {size}" if size != "—" else "")
    preface = []
    if a.reason:
        preface.append(f"**{a.status.value.capitalize()}:** {one_line(a.reason)}")
        if a.hint:
            preface.append(f"_{one_line(a.hint)}_")
    if a.cut is not None:
        preface.append(f"Over the cap: {one_line(a.cut.marker)}")
    preface += [f"Note: {one_line(n)}" for n in a.notes]
    return Section(title=a.title, summary=summary, body=a.content, preface="  \n".join(preface))


def diagnostics_comment(d: Diagnostics, *, marker: str, slack_permalink: str | None) -> str:
    """Hidden marker, findings, artifact table, one collapsible section per artifact; <= 65,536 chars."""
    when = d.finished_at.strftime("%Y-%m-%d %H:%M UTC")
    meta = [f"workflow `{d.workflow or '—'}`", f"namespace `{d.namespace}`"]
    meta += [f"phase **{d.phase}**"] if d.phase else []
    meta += [
        f"daemon log window {format_since(d.since_seconds)}",
        f"collected {when}",
        slack_link(slack_permalink),
    ]
    head = [hidden_marker(marker), f"## 🩺 Diagnostics for `{d.pod}`", "", " · ".join(meta), ""]
    if d.findings:
        head += ["**Key findings**", ""]
        head += [f"- {SEVERITY_ICON[f.severity]} {one_line(f.text)}" for f in d.findings[:20]]
        head.append("")
    head.append(artifact_table(d))
    sections = [artifact_section(a) for a in d.artifacts]
    where = slack_link(slack_permalink)
    tail = f"\n<sub>Collected by codex-bot · each artifact is attached whole in the {where}.</sub>\n"
    return fit_sections("\n".join(head) + "\n", sections, tail, trim_note=trim_note(slack_permalink))


def _headline(v: Validation) -> str:
    if not v.finished:
        return f"⏳ Sidecar validation of `{v.pod}` in progress"
    if v.passed:
        return f"✅ Sidecar validation passed for `{v.pod}`"
    failed = v.failed_step
    return f"❌ Sidecar validation failed for `{v.pod}` at {failed.title if failed else 'an unknown step'}"


def _step_item(s: StepResult) -> str:
    done = "x" if s.state is StepState.PASSED else " "
    parts = [f"`{s.command}`", s.state.value]
    if s.exit_code not in (None, 0):
        parts.append(f"exit {s.exit_code}")
    if s.duration is not None:
        parts.append(f"{s.duration:.1f}s")
    line = f"- [{done}] {STEP_ICON[s.state]} **{s.title}** — " + " · ".join(parts)
    return line + (f"  \n  {one_line(s.detail)}" if s.detail else "")


def validation_comment(
    v: Validation, *, marker: str | None, permalink: str | None, limit: int = COMMENT_LIMIT
) -> str:
    """The runbook's validation checklist for the issue's progress comment; <= ``limit`` chars
    (NoRoom when even the checklist without outputs does not fit). Without ``marker`` it is a
    section of a shared comment (the marker is the comment's) and ``limit`` the room it may use."""
    meta = [f"namespace `{v.namespace}`", f"workflow `{v.workflow or '—'}`"]
    meta.append(f"started {v.started_at.strftime('%Y-%m-%d %H:%M UTC')}")
    if v.finished_at is not None:
        meta.append(f"took {(v.finished_at - v.started_at).total_seconds():.0f}s")
    meta.append(slack_link(permalink))
    head = [hidden_marker(marker)] if marker else []
    head += [f"## {_headline(v)}", "", " · ".join(meta), ""]
    head += [_step_item(s) for s in v.steps]
    if v.finished and v.suggestion:
        head += ["", f"**Next step:** {one_line(v.suggestion)}"]
    head.append("")
    sections = [
        Section(
            title=f"Output of {s.command}",
            summary=f"{STEP_ICON[s.state]} Output of {s.command}",
            body=(s.output or "(no output)").encode(),
        )
        for s in v.steps
        if s.state.finished and s.state is not StepState.SKIPPED
    ]
    tail = f"\n<sub>Posted by codex-bot · step outputs are attached in the {slack_link(permalink)}.</sub>\n"
    note = trim_note(permalink, limit)
    return fit_sections("\n".join(head) + "\n", sections, tail, trim_note=note, limit=limit)
