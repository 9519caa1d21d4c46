"""Escalation steps 2–3: roll the Docker sidecar out of the Codex WorkflowTemplates, and back in.

The runbook's order is enforced here: ``apply_rollback`` refuses unless it is handed
evidence that diagnostics were captured (``Capture``), or ``force`` (approved) is set.
Planning reads and computes only; applying is conditional on the resourceVersion seen
when planning, so a template someone changed in between is reported, never overwritten.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from config.settings import Policy
from handlers.errors import ClusterError, CodexError, Conflict, NotFound
from handlers.ports import ClusterObjects
from handlers.redact import redact
from handlers.template_edit import Edit, strip_workflow_spec
from handlers.template_files import FilesPlan, plan_rollback_files

__all__ = [
    "Capture",
    "CaptureRequired",
    "FilesPlan",
    "RollbackApplied",
    "RollbackPlan",
    "RollbackUndone",
    "TemplateChange",
    "apply_rollback",
    "ensure_captured",
    "plan_rollback",
    "plan_rollback_files",
    "undo_rollback",
]

KIND = "workflowtemplates"


@dataclass(frozen=True)
class Capture:
    """Evidence of the runbook's 'capture diagnostics before rollback' step."""

    ok: bool
    location: str | None = None  # the GitHub comment (or incident tracker) URL
    error: str | None = None  # why the capture failed


class CaptureRequired(CodexError):
    """Rollback refused: diagnostics were not captured first."""


def ensure_captured(capture: Capture | None, *, force: bool = False) -> None:
    """Raise CaptureRequired unless diagnostics were captured, or ``force`` was approved."""
    if force or (capture is not None and capture.ok):
        return
    why = "were not captured" if capture is None else f"could not be captured: {capture.error}"
    raise CaptureRequired(
        f"Rollback stopped: diagnostics of the failing pods {why}. The runbook captures them first.",
        hint="Fix the capture (e.g. `--issue owner/repo#N`) and retry, or add `--force` (needs approval).",
    )


@dataclass(frozen=True, eq=False)
class TemplateChange:
    name: str
    resource_version: str
    original: dict[str, Any]  # the whole object as read when planning
    edited_spec: dict[str, Any]
    removed: tuple[str, ...]
    diff: str  # redacted unified diff of the spec, for the approval request
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class RollbackPlan:
    namespace: str
    selector: str
    changes: tuple[TemplateChange, ...]  # templates that hold something to remove
    unchanged: tuple[str, ...]  # templates matched that hold no sidecar and no DOCKER_* env

    @property
    def diff(self) -> str:
        return "".join(c.diff for c in self.changes)

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_payload(self) -> dict[str, Any]:
        """JSON for the approval: what is approved is exactly what gets applied, at these versions."""
        changes = [
            {
                "name": c.name,
                "resource_version": c.resource_version,
                "original": c.original,
                "edited_spec": c.edited_spec,
                "removed": list(c.removed),
                "diff": c.diff,
                "warnings": list(c.warnings),
            }
            for c in self.changes
        ]
        return {
            "namespace": self.namespace,
            "selector": self.selector,
            "changes": changes,
            "unchanged": list(self.unchanged),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> RollbackPlan:
        changes = tuple(
            TemplateChange(
                name=c["name"],
                resource_version=c["resource_version"],
                original=c["original"],
                edited_spec=c["edited_spec"],
                removed=tuple(c["removed"]),
                diff=c["diff"],
                warnings=tuple(c.get("warnings", ())),
            )
            for c in payload["changes"]
        )
        return cls(payload["namespace"], payload["selector"], changes, tuple(payload.get("unchanged", ())))


@dataclass(frozen=True, eq=False)
class RollbackApplied:
    originals: dict[str, dict[str, Any]]  # name -> object before; store it for --undo
    applied_specs: dict[str, dict[str, Any]]  # name -> spec as rolled back (undo checks it is still so)
    applied: tuple[str, ...]
    not_applied: tuple[str, ...]
    conflict: str | None = None  # the template someone changed since the plan
    error: str | None = None  # why applying stopped early, for the user

    @property
    def complete(self) -> bool:
        return not self.not_applied


@dataclass(frozen=True)
class RollbackUndone:
    restored: tuple[str, ...]
    skipped: tuple[str, ...]  # "<name> (<why>)"
    conflict: str | None = None
    error: str | None = None


def spec_yaml(spec: Mapping[str, Any]) -> str:
    """YAML for diffs: keys in the object's own order (the edit keeps it, so both sides agree and
    list items stay anchored on their first key), multi-line strings (podSpecPatch) as blocks."""
    return yaml.dump({"spec": spec}, Dumper=_DiffDumper, sort_keys=False, width=4096, allow_unicode=True)


class _DiffDumper(yaml.SafeDumper):
    pass


def _str_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_DiffDumper.add_representer(str, _str_block)


def spec_diff(name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    lines = difflib.unified_diff(
        spec_yaml(before).splitlines(keepends=True),
        spec_yaml(after).splitlines(keepends=True),
        f"workflowtemplate/{name} (cluster)",
        f"workflowtemplate/{name} (rolled back)",
    )
    return redact("".join(lines))


async def plan_rollback(objects: ClusterObjects, policy: Policy) -> RollbackPlan:
    """The edit for every WorkflowTemplate matching ``rollback.template_selector``; changes nothing."""
    selector = policy.rollback.template_selector
    found = await objects.list(KIND, selector)
    changes, unchanged = [], []
    for obj in sorted(found, key=lambda o: str(o["metadata"]["name"])):
        name = obj["metadata"]["name"]
        spec = copy.deepcopy(obj.get("spec") or {})
        edit = Edit.from_policy(policy.rollback)
        strip_workflow_spec(spec, edit)
        if not edit.removed:
            unchanged.append(name)
            continue
        change = TemplateChange(
            name=name,
            resource_version=obj["metadata"]["resourceVersion"],
            original=obj,
            edited_spec=spec,
            removed=tuple(edit.removed),
            diff=spec_diff(name, obj.get("spec") or {}, spec),
            warnings=tuple(edit.warnings),
        )
        changes.append(change)
    return RollbackPlan(policy.namespace, selector, tuple(changes), tuple(unchanged))


def merge_patch_for(before: Any, after: Any) -> Any:
    """The RFC 7386 merge patch turning ``before`` into ``after`` (lists are replaced whole)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return copy.deepcopy(after)
    patch: dict[str, Any] = {key: None for key in before if key not in after}
    for key, value in after.items():
        if key not in before or before[key] != value:
            patch[key] = merge_patch_for(before.get(key), value)
    return patch


async def apply_rollback(
    plan: RollbackPlan, objects: ClusterObjects, *, capture: Capture | None, force: bool = False
) -> RollbackApplied:
    """Patch each template, conditional on its planned resourceVersion; stop at the first refusal."""
    ensure_captured(capture, force=force)
    originals: dict[str, dict[str, Any]] = {}
    specs: dict[str, dict[str, Any]] = {}
    for i, change in enumerate(plan.changes):
        body = {
            "metadata": {"resourceVersion": change.resource_version},
            "spec": merge_patch_for(change.original.get("spec") or {}, change.edited_spec),
        }
        conflict = error = None
        try:
            await objects.patch(KIND, change.name, body)
        except Conflict:
            conflict = change.name
            error = f"workflowtemplate/{change.name} was changed by someone else since the plan"
        except (NotFound, ClusterError) as e:
            error = f"workflowtemplate/{change.name}: {e.message}"
        if error is not None:
            rest = tuple(c.name for c in plan.changes[i:])
            return RollbackApplied(originals, specs, tuple(originals), rest, conflict, error)
        originals[change.name] = change.original
        specs[change.name] = change.edited_spec
    return RollbackApplied(originals, specs, tuple(originals), ())


async def undo_rollback(
    originals: Mapping[str, dict[str, Any]],
    objects: ClusterObjects,
    *,
    applied_specs: Mapping[str, dict[str, Any]] | None = None,
    force: bool = False,
) -> RollbackUndone:
    """Put each original spec back exactly (PUT).

    A template edited since the rollback is skipped unless ``force``: its current spec is
    not the one the rollback wrote, and undoing would throw that edit away.
    """
    restored: list[str] = []
    skipped: list[str] = []
    for name, original in sorted(originals.items()):
        current = await objects.get(KIND, name)
        if current is None:
            skipped.append(f"{name} (no longer exists)")
            continue
        expected = (applied_specs or {}).get(name)
        if not force and expected is not None and current.get("spec") != expected:
            skipped.append(f"{name} (changed since the rollback; `--force` to overwrite)")
            continue
        # The current object with the original spec: metadata others set since (labels,
        # Argo CD annotations) stays theirs; the resourceVersion makes the PUT conditional.
        body = {**current, "spec": copy.deepcopy(original.get("spec"))}
        try:
            await objects.replace(KIND, name, body)
        except Conflict:
            return RollbackUndone(tuple(restored), tuple(skipped), name, f"{name} changed while undoing")
        except (NotFound, ClusterError) as e:
            return RollbackUndone(tuple(restored), tuple(skipped), None, f"{name}: {e.message}")
        restored.append(name)
    return RollbackUndone(tuple(restored), tuple(skipped))
