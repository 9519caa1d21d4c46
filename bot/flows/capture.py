"""The runbook's "capture all diagnostics before rollback": failing pods' diagnostics on the issue."""

from __future__ import annotations

import asyncio
import logging

from bot.commands import parse_duration
from bot.deps import Deps
from bot.render.markdown import diagnostics_comment, hidden_marker
from bot.surface import Message, MessageRef, Surface
from handlers.diagnostics import DiagnosticsRequest, collect_diagnostics
from handlers.errors import CodexError
from handlers.fleet import check_fleet
from handlers.issue_ref import IssueRef
from handlers.rollback import Capture

log = logging.getLogger(__name__)

MAX_CAPTURE_PODS = 5  # one comment each; the fleet report on the issue names the rest
MARKER = "codex-bot:rollback-capture"


async def capture_failing(
    deps: Deps, surface: Surface, *, issue: IssueRef | None, thread: MessageRef | None
) -> Capture:
    """Attach diagnostics of the failing pods to ``issue``. Never raises: a failure is a Capture(ok=False)."""
    if issue is None:
        return Capture(ok=False, error="no GitHub issue was given (`--issue owner/repo#N`)")
    if deps.issues is None:
        return Capture(ok=False, error="GITHUB_TOKEN is not set for the bot")
    try:
        return await _capture(deps, surface, issue, thread)
    except CodexError as e:
        return Capture(ok=False, error=e.message)


async def _capture(deps: Deps, surface: Surface, issue: IssueRef, thread: MessageRef | None) -> Capture:
    assert deps.issues is not None
    policy = deps.policy
    report = await check_fleet(pods=deps.pods, exec=deps.exec, policy=policy)
    failing = [r.pod for r in report.failing]
    chosen = failing[:MAX_CAPTURE_PODS]
    if thread is not None:
        text = f":mag: Capturing diagnostics of {len(chosen)} failing pod(s) to {issue} before the rollback…"
        await surface.post(thread.channel, Message(text=text), thread=thread)
    link = await surface.permalink(thread) if thread is not None else None
    summary = _fleet_summary(failing, chosen, report.namespace)
    urls = [await deps.issues.upsert_comment(issue.repo, issue.number, MARKER, summary)]
    since = parse_duration(policy.diagnostics.since)
    found = await asyncio.gather(
        *(
            collect_diagnostics(
                DiagnosticsRequest(pod, since),
                pods=deps.pods,
                exec=deps.exec,
                logs=deps.logs,
                objects=deps.objects,
                policy=policy,
            )
            for pod in chosen
        )
    )
    for d in found:
        marker = f"{MARKER}:{d.pod}"
        body = diagnostics_comment(d, marker=marker, slack_permalink=link)
        urls.append(await deps.issues.upsert_comment(issue.repo, issue.number, marker, body))
    return Capture(ok=True, location=urls[0])


def _fleet_summary(failing: list[str], chosen: list[str], namespace: str) -> str:
    lines = [hidden_marker(MARKER), "## ⏪ Before rollback: diagnostics captured", ""]
    if not failing:
        lines.append(
            f"No Codex pod in `{namespace}` failed `docker info` at rollback time; nothing to capture."
        )
    else:
        lines.append(f"{len(failing)} pod(s) failed `docker info` in `{namespace}`:")
        lines += [f"- `{p}`" + (" (diagnostics below)" if p in chosen else "") for p in failing[:50]]
        if len(failing) > 50:
            lines.append(f"- … and {len(failing) - 50} more")
    return "\n".join(lines) + "\n"
