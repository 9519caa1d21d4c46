"""`/codex diagnostics <pod> [--since 30m] [--issue owner/repo#N]`.

A progress message becomes the summary; each artifact is attached in its thread; with
``--issue`` one marked GitHub comment is created or, on a re-run for the same pod, edited.
GitHub trouble is told in the thread and never costs the Slack part.
"""

from __future__ import annotations

import contextlib
import re

from bot.commands import Verb, parse_duration
from bot.deps import Deps
from bot.flows.attach import not_attached, try_attach
from bot.flows.registry import Invocation, flow
from bot.issue_comments import upsert_issue_comment
from bot.live import LiveMessage
from bot.render.diagnostics import attachments, collecting_message, diagnostics_message
from bot.render.markdown import diagnostics_comment
from bot.surface import Message, MessageRef
from handlers.artifacts import Diagnostics
from handlers.diagnostics import DiagnosticsRequest, collect_diagnostics
from handlers.errors import ClusterError, CodexError, ExternalError
from handlers.issue_ref import parse_issue_ref
from handlers.pods import resolve_codex_pod

MARKER_PREFIX = "codex-bot:diagnostics"


def diagnostics_marker(pod: str) -> str:
    """One comment per pod and issue. HTML comments cannot hold "--", which pod names may."""
    return f"{MARKER_PREFIX}:" + re.sub(r"-(-+)", lambda m: "-" + "~" * len(m[1]), pod)


async def collect_for(deps: Deps, pod: str, since_seconds: int | None) -> Diagnostics:
    policy = deps.policy
    since = since_seconds or parse_duration(policy.diagnostics.since)
    return await collect_diagnostics(
        DiagnosticsRequest(pod, since_seconds=since),
        pods=deps.pods,
        exec=deps.exec,
        logs=deps.logs,
        objects=deps.objects,
        policy=policy,
        cap_bytes=policy.diagnostics.artifact_cap_bytes,
    )


async def publish_diagnostics(inv: Invocation, d: Diagnostics, parent: MessageRef) -> str | None:
    marker = diagnostics_marker(d.pod)
    link = await inv.surface.permalink(parent)
    body = diagnostics_comment(d, marker=marker, slack_permalink=link)
    return await upsert_issue_comment(inv, parent, marker, body)


@flow(Verb.DIAGNOSTICS)
async def run_diagnostics(inv: Invocation) -> bool:
    pod = inv.command.pod
    assert pod is not None  # the parser guarantees it
    deps = inv.deps
    if inv.command.issue:  # a bad reference is the user's to fix before anything is collected
        parse_issue_ref(inv.command.issue, default_repo=deps.policy.github.default_repo)
    since = inv.command.since_seconds or parse_duration(deps.policy.diagnostics.since)
    with contextlib.suppress(ClusterError):  # a typo is answered privately; a refusal is in the bundle
        await resolve_codex_pod(pod, pods=deps.pods, policy=deps.policy, need_running=False)
    live = LiveMessage(inv.surface, inv.channel)
    await live.set(collecting_message(pod, since, requested_by=inv.user))
    try:
        d = await collect_for(deps, pod, since)
    except CodexError as e:
        await live.set(Message(text=f":warning: Diagnostics for `{pod}`: {e.for_user()}"))
        await live.close()
        raise
    await live.set(diagnostics_message(d, requested_by=inv.user))
    parent = await live.close()
    if parent is None:
        return not d.problems
    not_attached = await attach_files(inv, d, parent)
    url = await publish_diagnostics(inv, d, parent) if inv.command.issue else None
    if not_attached is not None:
        await inv.surface.post(parent.channel, upload_failed(d.pod, not_attached, url), thread=parent)
    return not d.problems


async def attach_files(inv: Invocation, d: Diagnostics, parent: MessageRef) -> ExternalError | None:
    """Each artifact as a file in the thread; Slack's refusal is returned, so the GitHub part still runs."""
    comment = f"Diagnostics of `{d.pod}`, one file per artifact:"
    return await try_attach(inv.surface, parent, attachments(d), comment=comment)


def upload_failed(pod: str, e: ExternalError, issue_url: str | None) -> Message:
    where = f"The bundle is on <{issue_url}|the GitHub issue> (trimmed to fit). " if issue_url else ""
    then = f"{where}Then run `/codex diagnostics {pod}` again to get the files here."
    return not_attached(f"The diagnostics files of `{pod}`", e, then=then)
