"""Key findings of a diagnostics bundle: what an on-call engineer should read first."""

from __future__ import annotations

import re

from handlers.artifacts import (
    Artifact,
    ArtifactKey,
    ArtifactStatus,
    Finding,
    KyvernoSummary,
    Severity,
    VolumeUsage,
    human_bytes,
)
from handlers.kyverno import guardrail_verdict
from handlers.pod_status import pod_findings
from handlers.ports import PodEvent, PodInfo

DAEMON_TAIL_LINES = 200  # "errors in the daemon log tail": how far back from the end we look
QUOTE_CHARS = 160  # a quoted log line is cut to this many characters
# dockerd logs logrus lines (level=error); other daemons print ERROR/FATAL/panic words.
_STRUCTURED = re.compile(r"\blevel=(?:error|fatal|panic)\b", re.IGNORECASE)
_PLAIN = re.compile(r"\b(?:error|fatal|panic)\b", re.IGNORECASE)


def error_lines(tail: list[str]) -> list[str]:
    """The lines that report an error, fatal or panic."""
    out = []
    for line in tail:
        structured = "level=" in line
        if (structured and _STRUCTURED.search(line)) or (not structured and _PLAIN.search(line)):
            out.append(line)
    return out


def _quote(line: str) -> str:
    text = line.strip().replace("`", "'")
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


def _daemon_findings(daemon: Artifact | None) -> list[Finding]:
    if daemon is None or not daemon.content:
        return []
    errors = error_lines(daemon.last_lines(DAEMON_TAIL_LINES))
    if not errors:
        return []
    n = len(errors)
    lines = "line" if n == 1 else "lines"
    return [
        Finding(
            Severity.ERROR,
            f"{n} error/fatal {lines} in the last {DAEMON_TAIL_LINES} daemon log lines; "
            f"last: `{_quote(errors[-1])}`",
        )
    ]


def _kyverno_findings(summary: KyvernoSummary | None) -> list[Finding]:
    if summary is None:
        return []
    found = []
    guard = summary.guardrail
    verdict = f"Kyverno `{summary.guardrail_policy}`: {guardrail_verdict(summary)}"
    if guard is not None and guard.failing:
        first = next((p for p in summary.problems if p.policy == summary.guardrail_policy), None)
        detail = f" — {first.rule}: {_quote(first.message)}" if first else ""
        found.append(Finding(Severity.ERROR, verdict + detail))
    else:
        found.append(Finding(Severity.INFO, verdict + "."))
    others = [p for p in summary.problems if p.policy != summary.guardrail_policy and p.result != "warn"]
    if others:
        names = ", ".join(sorted({p.policy for p in others}))
        found.append(Finding(Severity.WARNING, f"Kyverno: {len(others)} fail/error results ({names})."))
    return found


def _volume_findings(volume: VolumeUsage | None) -> list[Finding]:
    if volume is None:
        return []
    return [Finding(Severity.INFO, f"`{volume.path}` uses {volume.human}.")]


def _artifact_findings(artifacts: tuple[Artifact, ...]) -> list[Finding]:
    found = []
    for a in artifacts:
        if a.status is ArtifactStatus.FAILED:
            found.append(Finding(Severity.WARNING, f"{a.title}: collection failed — {a.reason}"))
        if a.cut is not None:
            found.append(
                Finding(
                    Severity.INFO,
                    f"{a.title}: {human_bytes(a.source_bytes)} is over the cap; "
                    f"cut {human_bytes(a.cut.cut_bytes)} ({a.cut.cut_lines:,} lines) from the middle, "
                    "kept the head and tail.",
                )
            )
    return found


def diagnostics_findings(
    artifacts: tuple[Artifact, ...],
    *,
    pod: PodInfo | None,
    events: list[PodEvent] | None,
    volume: VolumeUsage | None,
    kyverno: KyvernoSummary | None,
) -> list[Finding]:
    daemon = next((a for a in artifacts if a.key is ArtifactKey.DAEMON_LOGS), None)
    found = pod_findings(pod, events) if pod else []
    found += _daemon_findings(daemon)
    found += _kyverno_findings(kyverno)
    found += _volume_findings(volume)
    found += _artifact_findings(artifacts)
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(found, key=lambda f: order[f.severity])
