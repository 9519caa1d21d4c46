"""Opt-in watcher: Codex workflows that end Failed or Error and name a GitHub issue get their failed
pods' diagnostics commented on that issue, once per workflow, with a note in the watcher channel.

Only the holder of the ``coordination.k8s.io`` Lease works, so replicas never race. What was done
is remembered in the store (keyed by the workflow's UID), so a restart does not comment again; the
comment itself carries a marker, so a retry after a crash edits it instead of adding another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.deps import Deps
from bot.flows.diagnostics import collect_for, diagnostics_marker
from bot.flows.registry import background
from bot.render.diagnostics import attachments
from bot.render.markdown_workflow import workflow_comment
from bot.surface import Message, MessageRef, Surface
from config.settings import Policy
from handlers.artifacts import Diagnostics
from handlers.errors import CodexError, UsageError
from handlers.issue_ref import IssueRef, parse_issue_ref
from handlers.ports import PodInfo

log = logging.getLogger(__name__)

PHASE_LABEL = "workflows.argoproj.io/phase"  # set by the Argo controller on every Workflow
FAILED_PHASES = ("Failed", "Error")
MAX_AGE = timedelta(hours=24)  # older failures predate the watcher (or its enabling): no comment
MAX_PODS = 3  # failed pods whose diagnostics go into the one comment
MAX_ATTEMPTS = 3  # then the workflow is given up, and the channel is told once


class Elector(Protocol):
    async def is_leader(self) -> bool: ...


@dataclass(frozen=True)
class FailedWorkflow:
    name: str
    uid: str
    phase: str
    issue: IssueRef
    message: str | None

    def state_key(self, namespace: str) -> str:
        return f"watcher:{namespace}:{self.uid}"


def issue_link(wf: Mapping[str, Any], policy: Policy) -> str | None:
    """The workflow's issue reference: the annotation, else the label, else the parameter."""
    meta, w = wf.get("metadata") or {}, policy.watcher
    if w.issue_annotation and (ref := (meta.get("annotations") or {}).get(w.issue_annotation)):
        return str(ref)
    if w.issue_label and (ref := (meta.get("labels") or {}).get(w.issue_label)):
        return str(ref)
    params = ((wf.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    for p in params:
        if (
            w.issue_parameter
            and isinstance(p, dict)
            and p.get("name") == w.issue_parameter
            and p.get("value")
        ):
            return str(p["value"])
    return None


def _finished(status: Mapping[str, Any]) -> datetime | None:
    raw = status.get("finishedAt")
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None


def failed_linked(items: list[dict[str, Any]], policy: Policy, now: datetime) -> list[FailedWorkflow]:
    """Workflows that ended Failed/Error recently and name a parsable GitHub issue."""
    out = []
    for wf in items:
        meta, status = wf.get("metadata") or {}, wf.get("status") or {}
        finished = _finished(status)
        ref = issue_link(wf, policy)
        if status.get("phase") not in FAILED_PHASES or not ref or (finished and now - finished > MAX_AGE):
            continue
        try:
            issue = parse_issue_ref(ref, default_repo=policy.github.default_repo)
        except UsageError as e:
            log.warning("workflow %s: issue link %r: %s", meta.get("name"), ref, e.message)
            continue
        name = meta["name"]
        out.append(
            FailedWorkflow(name, meta.get("uid") or name, status["phase"], issue, status.get("message"))
        )
    return out


def _failed(pod: PodInfo) -> bool:
    return pod.phase == "Failed" or any(
        c.state == "terminated" and c.state_reason not in (None, "Completed") for c in pod.containers
    )


async def failed_pods(deps: Deps, wf: FailedWorkflow) -> list[str]:
    """The workflow's failed pods, in the order they started."""
    policy = deps.policy
    pods = await deps.pods.list(f"{policy.pods.selector},{policy.pods.workflow_label}={wf.name}")
    never = datetime.max.replace(tzinfo=UTC)
    return [p.name for p in sorted(filter(_failed, pods), key=lambda p: (p.started_at or never, p.name))]


async def _collect(deps: Deps, pods: list[str]) -> tuple[list[Diagnostics], list[str]]:
    """Bundles of the first MAX_PODS pods, and the pods not examined (gone, refused, or beyond)."""
    chosen = pods[:MAX_PODS]
    results = await asyncio.gather(*(collect_for(deps, p, None) for p in chosen), return_exceptions=True)
    found: list[Diagnostics] = []
    for pod, r in zip(chosen, results, strict=True):
        if isinstance(r, Diagnostics):
            found.append(r)
        elif not isinstance(r, CodexError):
            raise r
        else:
            log.info("watcher: pod %s not examined: %s", pod, r.for_user())
    examined = {d.pod for d in found}
    return found, [p for p in pods if p not in examined]


async def _note(
    deps: Deps, surface: Surface, state: dict[str, Any], key: str, text: str
) -> MessageRef | None:
    """The watcher channel's note, posted once ever (its ts is remembered for the files and updates)."""
    channel = deps.policy.watcher.channel
    if state.get("note_ts"):
        return MessageRef(channel, state["note_ts"])
    if not channel or not await deps.store.claim_once(f"{key}:note"):
        return None
    ref = await surface.post(channel, Message(text=text))
    state["note_ts"] = ref.ts
    await deps.store.put_state(key, state)
    return ref


async def comment_once(deps: Deps, surface: Surface, wf: FailedWorkflow) -> str | None:
    """Diagnostics of the workflow's failed pods on its issue; the comment's URL, None when done before."""
    assert deps.issues is not None
    key = wf.state_key(deps.policy.namespace)
    state = await deps.store.get_state(key) or {"workflow": wf.name, "attempts": 0}
    if state.get("url") or state["attempts"] >= MAX_ATTEMPTS:
        return None
    state["attempts"] += 1
    await deps.store.put_state(key, state)
    found, not_examined = await _collect(deps, await failed_pods(deps, wf))
    where = f"{wf.name}` ended *{wf.phase}*"
    note = await _note(deps, surface, state, key, f":mag: Workflow `{where}; collecting diagnostics…")
    link = await surface.permalink(note) if note else None
    if note is not None and not state.get("files"):
        files = [f for d in found for f in attachments(d)]
        if files:
            await surface.upload(note, files, comment="Diagnostics, one file per artifact:")
        state["files"] = True
    marker = diagnostics_marker(f"watcher:{wf.name}")
    body = workflow_comment(
        wf.name, phase=wf.phase, message=wf.message, found=found,
        not_examined=not_examined, marker=marker, slack_permalink=link,
    )  # fmt: skip
    url = await deps.issues.upsert_comment(wf.issue.repo, wf.issue.number, marker, body)
    state["url"] = url
    await deps.store.put_state(key, state)
    if note is not None:
        done = f"diagnostics of {len(found)} failed pod(s) posted to <{url}|{wf.issue}>."
        await surface.update(note, Message(text=f":memo: Workflow `{where}: {done}"))
    return url


async def _gave_up_note(deps: Deps, surface: Surface, wf: FailedWorkflow, e: CodexError) -> None:
    key = wf.state_key(deps.policy.namespace)
    state = await deps.store.get_state(key) or {}
    channel = deps.policy.watcher.channel
    if state.get("attempts", 0) >= MAX_ATTEMPTS and channel and await deps.store.claim_once(f"{key}:gave-up"):
        what = f"diagnostics of workflow `{wf.name}` on {wf.issue}"
        text = f":warning: Gave up commenting {what} after {MAX_ATTEMPTS} tries: {e.for_user()}"
        await surface.post(channel, Message(text=text))


async def watch_round(deps: Deps, surface: Surface, elector: Elector) -> list[str]:
    """One pass; the URLs commented. Only the Lease holder does anything."""
    if deps.issues is None or not await elector.is_leader():
        return []
    items = await deps.objects.list("workflows", f"{PHASE_LABEL} in ({','.join(FAILED_PHASES)})")
    urls = []
    for wf in failed_linked(items, deps.policy, datetime.now(UTC)):
        try:
            url = await comment_once(deps, surface, wf)
        except CodexError as e:
            log.warning("watcher: workflow %s: %s", wf.name, e.for_user())
            await _gave_up_note(deps, surface, wf, e)
            continue
        if url:
            urls.append(url)
    return urls


@background("diagnostics-watcher")
async def watch_failed_workflows(deps: Deps, surface: Surface) -> None:
    policy = deps.policy.watcher
    if not policy.enabled:
        return
    if deps.issues is None:
        log.warning("watcher.enabled is true but GITHUB_TOKEN is not set: the watcher does not run")
        return
    elector = deps.extras["leases"].elector(policy.lease_name, lease_seconds=policy.lease_seconds)
    while True:
        try:
            await asyncio.wait_for(watch_round(deps, surface, elector), policy.interval_seconds * 10)
        except Exception:
            log.exception("watcher round failed; next round in %ss", policy.interval_seconds)
        await asyncio.sleep(policy.interval_seconds)
