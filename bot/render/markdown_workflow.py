"""A failed workflow's diagnostics as one GitHub comment (the watcher's), fitted like the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.render.markdown import (
    SEVERITY_ICON,
    artifact_section,
    artifact_table,
    hidden_marker,
    one_line,
    slack_link,
    trim_note,
)
from bot.render.markdown_fit import Section, fit_sections
from handlers.artifacts import Diagnostics

FINDINGS_PER_POD = 10


def _pod_part(d: Diagnostics) -> list[str]:
    lines = [f"### Pod `{d.pod}`" + (f" ({d.phase})" if d.phase else ""), ""]
    lines += [f"- {SEVERITY_ICON[f.severity]} {one_line(f.text)}" for f in d.findings[:FINDINGS_PER_POD]]
    return [*lines, "", artifact_table(d)]


def _sections(d: Diagnostics) -> list[Section]:
    out = []
    for a in d.artifacts:
        s = artifact_section(a)
        out.append(replace(s, title=f"{d.pod} · {a.title}", summary=f"{d.pod} · {s.summary}"))
    return out


def workflow_comment(
    workflow: str,
    *,
    phase: str,
    message: str | None,
    found: Sequence[Diagnostics],
    not_examined: Sequence[str],
    marker: str,
    slack_permalink: str | None,
) -> str:
    """Hidden marker, what failed, then per pod: findings, table and collapsible artifacts."""
    head = [hidden_marker(marker), f"## 🩺 Workflow `{workflow}` ended **{phase}**", ""]
    if message:
        head += [f"> {one_line(message)}", ""]
    namespace = found[0].namespace if found else None
    meta = [f"namespace `{namespace}`"] if namespace else []
    meta += [
        f"{len(found)} failed pod(s) examined",
        slack_link(slack_permalink, "Slack thread with the files"),
    ]
    head += [" · ".join(meta), ""]
    if not found:
        head += ["No pod of this workflow could be examined; they may have been garbage-collected.", ""]
    for d in found:
        head += _pod_part(d)
    if not_examined:
        head += [f"Not examined here: {', '.join(f'`{p}`' for p in not_examined)}.", ""]
    sections = [s for d in found for s in _sections(d)]
    more = f"the {slack_link(slack_permalink)}" if slack_permalink else "Slack: `/codex diagnostics <pod>`"
    tail = f"\n<sub>Posted by codex-bot's failed-workflow watcher · whole files in {more}.</sub>\n"
    return fit_sections("\n".join(head) + "\n", sections, tail, trim_note=trim_note(slack_permalink))
