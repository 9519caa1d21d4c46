"""Opt-in watcher: Codex workflows that end Failed or Error and name a GitHub issue get their failed
pods' diagnostics commented on that issue, once per workflow, with a note in the watcher channel.

Only the holder of the ``coordination.k8s.io`` Lease works (``bot.leadership``: renewed in the
background, released on shutdown); a round stops between workflows, and an attempt before it posts,
as soon as this replica no longer leads. Each attempt on a workflow is first claimed in the store
(``claim_once``), so two replicas never work on one workflow at once, even while leadership changes
hands. What was done is remembered in the store (keyed by the workflow's UID), so a restart does not
comment again; the comment itself carries a marker, so a retry after a failure edits it instead of
adding another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.deps import Deps
from bot.flows.attach import attach
from bot.flows.diagnostics import collect_for, diagnostics_marker
from bot.flows.registry import background
from bot.leadership import Leadership
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


class Leader(Protocol):
    @property
    def leading(self) -> bool: ...


class LeadershipLost(Exception):
    """This replica stopped leading during an attempt; it ends before posting anything more."""


def round_timeout(policy: Policy) -> float:
    """Seconds a round may take before it is cancelled."""
    return policy.watcher.interval_seconds * 10


def _stale_after(policy: Policy) -> timedelta:
    """An attempt claimed this long ago and not ended was cut short by a replica that died: its
    round's timeout, plus time for GitHub calls it had in flight (they run on threads) to end."""
    return timedelta(seconds=round_timeout(policy) + 2 * policy.timeouts.api)


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


def _must_lead(leader: Leader, wf: FailedWorkflow) -> None:
    if not leader.leading:
        raise LeadershipLost(f"no longer the Lease holder; workflow {wf.name} is left to the next one")


async def _claim(deps: Deps, key: str, state: dict[str, Any]) -> int | None:
    """The workflow's next attempt, claimed for this replica (exactly one wins it); None while another
    replica is at it. An attempt claimed long ago and never ended belonged to a replica that died."""
    attempt = int(state.get("seq", 0)) + 1  # attempts ended so far, + 1
    while not await deps.store.claim_once(f"{key}:attempt:{attempt}"):
        since = await deps.store.claimed_at(f"{key}:attempt:{attempt}")
        if since is not None and datetime.now(UTC) - since < _stale_after(deps.policy):
            return None
        attempt += 1
    return attempt


def _settled(state: dict[str, Any]) -> bool:
    """Commented, or given up."""
    return bool(state.get("url")) or state["attempts"] >= MAX_ATTEMPTS


def _where(wf: FailedWorkflow) -> str:
    return f"{wf.name}` ended *{wf.phase}*"


async def _attempt(
    deps: Deps, surface: Surface, wf: FailedWorkflow, state: dict[str, Any], leader: Leader
) -> tuple[str, MessageRef | None, str]:
    """Collect, tell the channel, comment: the comment's URL, the channel's note and its final text."""
    assert deps.issues is not None
    key = wf.state_key(deps.policy.namespace)
    found, not_examined = await _collect(deps, await failed_pods(deps, wf))
    _must_lead(leader, wf)
    note = await _note(deps, surface, state, key, f":mag: Workflow `{_where(wf)}; collecting diagnostics…")
    link = await surface.permalink(note) if note else None
    if note is not None and not state.get("files"):
        files = [f for d in found for f in attachments(d)]
        await attach(
            surface, note, files, comment="Diagnostics, one file per artifact:", what="The diagnostics files"
        )
        state["files"] = True
    marker = diagnostics_marker(f"watcher:{wf.name}")
    body = workflow_comment(
        wf.name, phase=wf.phase, message=wf.message, found=found,
        not_examined=not_examined, marker=marker, slack_permalink=link,
    )  # fmt: skip
    _must_lead(leader, wf)
    url = await deps.issues.upsert_comment(wf.issue.repo, wf.issue.number, marker, body)
    done = f"diagnostics of {len(found)} failed pod(s) posted to <{url}|{wf.issue}>."
    return url, note, f":memo: Workflow `{_where(wf)}: {done}"


async def comment_once(deps: Deps, surface: Surface, wf: FailedWorkflow, leader: Leader) -> str | None:
    """Diagnostics of the workflow's failed pods on its issue; the comment's URL. None when done
    before, given up, or another replica is at it. LeadershipLost when this replica stops leading."""
    key = wf.state_key(deps.policy.namespace)
    state = await deps.store.get_state(key) or {"workflow": wf.name, "attempts": 0}
    if _settled(state) or (attempt := await _claim(deps, key, state)) is None:
        return None
    failed = False
    try:
        state = await deps.store.get_state(key) or state  # as the attempt before this one left it
        if _settled(state):
            return None
        failed = True
        url, note, done = await _attempt(deps, surface, wf, state, leader)
        state["url"], failed = url, False
    except (LeadershipLost, asyncio.CancelledError):
        failed = False  # not the workflow's doing: the next leader tries again
        raise
    finally:
        state["seq"] = attempt  # this attempt is over, whatever happened: the next one may start
        if failed:
            state["attempts"] += 1
        await deps.store.put_state(key, state)
    if note is not None:
        await surface.update(note, Message(text=done))
    return url


async def _gave_up_note(deps: Deps, surface: Surface, wf: FailedWorkflow, e: CodexError) -> None:
    key = wf.state_key(deps.policy.namespace)
    state = await deps.store.get_state(key) or {}
    channel = deps.policy.watcher.channel
    if state.get("attempts", 0) >= MAX_ATTEMPTS and channel and await deps.store.claim_once(f"{key}:gave-up"):
        what = f"diagnostics of workflow `{wf.name}` on {wf.issue}"
        text = f":warning: Gave up commenting {what} after {MAX_ATTEMPTS} tries: {e.for_user()}"
        await surface.post(channel, Message(text=text))


async def watch_round(deps: Deps, surface: Surface, leader: Leader) -> list[str]:
    """One pass; the URLs commented. Only the Lease holder works, and it stops when it loses the Lease."""
    if deps.issues is None or not leader.leading:
        return []
    items = await deps.objects.list("workflows", f"{PHASE_LABEL} in ({','.join(FAILED_PHASES)})")
    urls = []
    for wf in failed_linked(items, deps.policy, datetime.now(UTC)):
        try:
            _must_lead(leader, wf)
            url = await comment_once(deps, surface, wf, leader)
        except LeadershipLost as e:
            log.info("watcher: %s; the round stops", e)
            break
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
    async with Leadership(elector, renew_seconds=policy.renew_seconds).holding() as leader:
        while True:
            if leader.leading:
                try:
                    await asyncio.wait_for(watch_round(deps, surface, leader), round_timeout(deps.policy))
                except Exception:
                    log.exception("watcher round failed; next round in %ss", policy.interval_seconds)
            await asyncio.sleep(policy.interval_seconds)
