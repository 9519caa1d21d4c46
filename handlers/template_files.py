"""Rollback in pull-request mode: the same edit, applied to WorkflowTemplate YAML files.

Multi-document files are split on their ``---`` lines; a document that is not a selected
WorkflowTemplate, or holds nothing to remove, is kept byte for byte. An edited document
is rewritten round-trip (comments, key order, quoting and indentation kept), so the pull
request shows only the removed lines.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Collection, Mapping, MutableMapping
from dataclasses import dataclass, field

from ruamel.yaml.error import YAMLError

from config.settings import Policy
from handlers.redact import redact
from handlers.template_edit import Edit, rt_yaml, strip_workflow_spec

_DOC_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
TEMPLATE_KIND = "WorkflowTemplate"


@dataclass(frozen=True)
class FilesPlan:
    changed: dict[str, str]  # path -> new text, only files that change
    removed: dict[str, tuple[str, ...]]  # path -> "<template>: <what>" removed
    warnings: tuple[str, ...] = ()
    originals: dict[str, str] = field(default_factory=dict)

    @property
    def diff(self) -> str:
        """Unified diff of every changed file (redacted, for the approval request)."""
        parts = []
        for path, new in sorted(self.changed.items()):
            old = self.originals.get(path, "")
            lines = difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
            )
            parts.append("".join(lines))
        return redact("".join(parts))


def split_documents(text: str) -> list[str]:
    """Chunks that join back to ``text`` exactly; each after the first starts with its ``---`` line."""
    starts = [m.start() for m in _DOC_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def selector_matches(labels: Mapping[str, str], selector: str) -> bool:
    """Equality-based label selector: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, comma-joined."""
    for raw in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in raw:
            key, value = (p.strip() for p in raw.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in raw:
            key, value = (p.strip() for p in raw.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif raw.startswith("!"):
            if raw[1:].strip() in labels:
                return False
        elif raw not in labels:
            return False
    return True


def plan_rollback_files(
    files: Mapping[str, str], policy: Policy, *, names: Collection[str] | None = None
) -> FilesPlan:
    """Edit every selected WorkflowTemplate in ``files`` (path -> text).

    ``names``: the templates to edit (e.g. those the cluster selector matched); without it,
    documents whose labels match ``rollback.template_selector``.
    """
    changed: dict[str, str] = {}
    removed: dict[str, tuple[str, ...]] = {}
    warnings: list[str] = []
    for path, text in sorted(files.items()):
        chunks = split_documents(text)
        out, gone = [], []
        for chunk in chunks:
            new_chunk, what = _edit_chunk(chunk, path, policy, names, warnings)
            out.append(new_chunk)
            gone.extend(what)
        if gone:
            changed[path] = "".join(out)
            removed[path] = tuple(gone)
    originals = {p: files[p] for p in changed}
    return FilesPlan(changed, removed, tuple(warnings), originals)


def _edit_chunk(
    chunk: str, path: str, policy: Policy, names: Collection[str] | None, warnings: list[str]
) -> tuple[str, list[str]]:
    header, body = "", chunk
    if chunk.startswith("---"):
        newline = chunk.find("\n")
        header, body = (chunk, "") if newline < 0 else (chunk[: newline + 1], chunk[newline + 1 :])
        rest = header[3:].strip()
        if rest and not rest.startswith("#"):
            return chunk, []  # a document on its `---` line: rare, and not ours to reflow
    yaml = rt_yaml(body)
    try:
        doc = yaml.load(body)
    except YAMLError as e:
        warnings.append(f"{path}: a document is not valid YAML ({str(e).splitlines()[0]}); left as is.")
        return chunk, []
    if not _selected(doc, policy, names):
        return chunk, []
    assert isinstance(doc, MutableMapping)
    edit = Edit.from_policy(policy.rollback)
    strip_workflow_spec(doc["spec"], edit)
    name = doc["metadata"]["name"]
    warnings.extend(f"{path}: {name}: {w}" for w in edit.warnings)
    if not edit.removed:
        return chunk, []
    out = io.StringIO()
    yaml.dump(doc, out)
    return header + out.getvalue(), [f"{name}: {what}" for what in edit.removed]


def _selected(doc: object, policy: Policy, names: Collection[str] | None) -> bool:
    if not isinstance(doc, MutableMapping) or doc.get("kind") != TEMPLATE_KIND:
        return False
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(doc.get("spec"), MutableMapping):
        return False
    if names is not None:
        return meta.get("name") in names
    return selector_matches(meta.get("labels") or {}, policy.rollback.template_selector)
