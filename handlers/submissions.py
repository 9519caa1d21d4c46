"""Escalation step 1: pause new submissions, resume them, say whether they are paused.

Pause suspends the CronWorkflows matching ``submissions.cronworkflow_selector`` and sets
the flag ``submissions.flag_key`` in ConfigMap ``submissions.flag_configmap`` to "true".
It records the exact prior state of everything it looked at; resume puts back only what
pause changed, and leaves alone anything someone else changed in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from config.settings import Policy
from handlers.errors import CodexError, Conflict, NotFound
from handlers.ports import ClusterObjects

CRON = "cronworkflows"
CONFIGMAPS = "configmaps"
STATE_VERSION = 1


@dataclass(frozen=True)
class Paused:
    prior_state: dict[str, Any]  # the caller stores it; resume() needs it
    changed: tuple[str, ...]  # "cronworkflow/<name>", "configmap/<name>:<key>"
    unchanged: tuple[str, ...]  # already paused before: resume leaves these as they are
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resumed:
    restored: tuple[str, ...]
    kept: tuple[str, ...]  # "<what> (<why it was left as it is>)"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubmissionsStatus:
    paused: bool
    flag: str  # "configmap/<name>:<key>"
    flag_value: str | None  # None: key (or ConfigMap) absent
    paused_at: str | None
    paused_by: str | None
    suspended: tuple[str, ...]  # CronWorkflows matching the selector that do not schedule now
    scheduling: tuple[str, ...]
    warnings: tuple[str, ...] = ()


class PauseFailed(CodexError):
    """A write failed half-way; ``partial`` holds what is still changed (store it if not None)."""

    def __init__(self, message: str, *, partial: Paused | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.partial = partial


def _flag_name(policy: Policy) -> str:
    return f"configmap/{policy.submissions.flag_configmap}:{policy.submissions.flag_key}"


async def _list_crons(objects: ClusterObjects, policy: Policy, warnings: list[str]) -> list[dict[str, Any]]:
    try:
        found = await objects.list(CRON, policy.submissions.cronworkflow_selector)
    except NotFound:
        warnings.append("CronWorkflows are not served by this cluster (Argo CRDs missing?); none suspended.")
        return []
    return sorted(found, key=lambda o: str(o["metadata"]["name"]))


def _cron_prior(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    return {"name": obj["metadata"]["name"], "had_suspend": "suspend" in spec, "suspend": spec.get("suspend")}


async def _pause_flag(objects: ClusterObjects, policy: Policy, warnings: list[str]) -> dict[str, Any]:
    cm_name, key = policy.submissions.flag_configmap, policy.submissions.flag_key
    cm = await objects.get(CONFIGMAPS, cm_name)
    data = (cm or {}).get("data") or {}
    prior = {"configmap": cm_name, "key": key, "configmap_exists": cm is not None}
    prior |= {"had_key": key in data, "value": data.get(key), "changed": False}
    if cm is None:
        warnings.append(
            f"ConfigMap `{cm_name}` does not exist, so submitters reading `{key}` were not paused; "
            f"create it (`kubectl -n {policy.namespace} create configmap {cm_name} "
            f"--from-literal={key}=false`) and pause again."
        )
    elif data.get(key) != "true":
        await objects.patch(CONFIGMAPS, cm_name, {"data": {key: "true"}})
        prior["changed"] = True
    return prior


async def _suspend(objects: ClusterObjects, obj: dict[str, Any]) -> dict[str, Any]:
    """Suspend one CronWorkflow, conditional on the state read; one re-read if it moved meanwhile."""
    for attempt in (1, 2):
        prior = _cron_prior(obj)
        if prior["suspend"] is True:
            return {**prior, "changed": False}
        body = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "spec": {"suspend": True},
        }
        try:
            await objects.patch(CRON, prior["name"], body)
            return {**prior, "changed": True}
        except Conflict:
            fresh = await objects.get(CRON, prior["name"])
            if attempt == 2 or fresh is None:
                raise
            obj = fresh
    raise AssertionError("unreachable")


async def pause(
    objects: ClusterObjects,
    policy: Policy,
    *,
    actor: str,
    stored: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Paused:
    """Pause submissions. ``stored`` is the state of a pause not yet resumed (refused if present)."""
    if stored is not None:
        raise Conflict(
            f"Submissions are already paused (by {stored.get('paused_by')} at {stored.get('paused_at')}).",
            hint="See `/codex status`; `/codex resume` first to pause afresh.",
        )
    warnings: list[str] = []
    state: dict[str, Any] = {"version": STATE_VERSION, "namespace": policy.namespace, "paused_by": actor}
    state["paused_at"] = (now or datetime.now(UTC)).isoformat()
    crons = await _list_crons(objects, policy, warnings)
    state["flag"] = await _pause_flag(objects, policy, warnings)
    state["cronworkflows"] = []
    for obj in crons:
        try:
            state["cronworkflows"].append(await _suspend(objects, obj))
        except CodexError as e:
            raise await _undo_partial(objects, state, obj["metadata"]["name"], e) from e
    return _paused(state, warnings)


def _paused(state: dict[str, Any], warnings: list[str]) -> Paused:
    changed: list[str] = []
    unchanged: list[str] = []
    flag = state["flag"]
    if flag["configmap_exists"]:
        (changed if flag["changed"] else unchanged).append(f"configmap/{flag['configmap']}:{flag['key']}")
    for cron in state["cronworkflows"]:
        (changed if cron["changed"] else unchanged).append(f"cronworkflow/{cron['name']}")
    return Paused(state, tuple(changed), tuple(unchanged), tuple(warnings))


async def _undo_partial(
    objects: ClusterObjects, state: dict[str, Any], failed: str, error: CodexError
) -> PauseFailed:
    message = f"Pausing stopped at cronworkflow/{failed}: {error.message}"
    try:
        await _restore(objects, state)
    except CodexError as undo_error:
        partial = _paused(state, [])
        return PauseFailed(
            f"{message} Undoing the changes made so far failed too: {undo_error.message}",
            partial=partial,
            hint="Store the partial pause; `/codex resume` puts back what it changed.",
        )
    return PauseFailed(f"{message} The changes made before it were undone.", partial=None, hint=error.hint)


async def resume(objects: ClusterObjects, prior_state: dict[str, Any]) -> Resumed:
    """Put back what pause changed. Safe to repeat after a failure: done items show as already back."""
    if prior_state.get("version") != STATE_VERSION:
        raise ValueError(f"unknown pause state version {prior_state.get('version')!r}")
    restored, kept, warnings = await _restore(objects, prior_state)
    return Resumed(tuple(restored), tuple(kept), tuple(warnings))


Outcome = tuple[list[str], list[str], list[str]]


async def _restore(objects: ClusterObjects, state: dict[str, Any]) -> Outcome:
    out: Outcome = ([], [], [])
    for cron in reversed(state.get("cronworkflows", [])):
        what = f"cronworkflow/{cron['name']}"
        if not cron["changed"]:
            out[1].append(f"{what} (was suspended before the pause)")
            continue
        prior = cron["suspend"] if cron["had_suspend"] else None
        await _put_back(objects, (CRON, cron["name"], ("spec", "suspend")), True, prior, what, out)
    flag = state["flag"]
    what = f"configmap/{flag['configmap']}:{flag['key']}"
    if flag["changed"]:
        prior = flag["value"] if flag["had_key"] else None
        target = (CONFIGMAPS, flag["configmap"], ("data", flag["key"]))
        await _put_back(objects, target, "true", prior, what, out)
    elif flag["configmap_exists"]:
        out[1].append(f"{what} (was {flag['value']!r} before the pause)")
    return out


async def _put_back(
    objects: ClusterObjects,
    target: tuple[str, str, tuple[str, str]],
    ours: object,
    prior: object,
    what: str,
    out: Outcome,
) -> None:
    """Set ``section.field`` back to ``prior`` (None: remove it), only if it still holds ``ours``."""
    kind, name, (section, field) = target
    current = await objects.get(kind, name)
    if current is None:
        out[2].append(f"{what} no longer exists; nothing to put back.")
        return
    value = (current.get(section) or {}).get(field)
    if value == prior:
        out[1].append(f"{what} (already back to its prior state)")
    elif value != ours:
        out[2].append(f"{what} was changed since the pause (now {value!r}); left as it is.")
    else:
        version = current["metadata"]["resourceVersion"]
        await objects.patch(kind, name, {"metadata": {"resourceVersion": version}, section: {field: prior}})
        out[0].append(what)


async def status(objects: ClusterObjects, policy: Policy, stored: dict[str, Any] | None) -> SubmissionsStatus:
    """What submitters see now (the flag, the CronWorkflows) and who paused them, from ``stored``."""
    warnings: list[str] = []
    cm = await objects.get(CONFIGMAPS, policy.submissions.flag_configmap)
    if cm is None:
        warnings.append(f"ConfigMap `{policy.submissions.flag_configmap}` does not exist.")
    value = ((cm or {}).get("data") or {}).get(policy.submissions.flag_key)
    crons = await _list_crons(objects, policy, warnings)
    suspended = tuple(c["metadata"]["name"] for c in crons if (c.get("spec") or {}).get("suspend") is True)
    scheduling = tuple(c["metadata"]["name"] for c in crons if c["metadata"]["name"] not in suspended)
    return SubmissionsStatus(
        paused=stored is not None or value == "true",
        flag=_flag_name(policy),
        flag_value=value,
        paused_at=(stored or {}).get("paused_at"),
        paused_by=(stored or {}).get("paused_by"),
        suspended=suspended,
        scheduling=scheduling,
        warnings=tuple(warnings),
    )
