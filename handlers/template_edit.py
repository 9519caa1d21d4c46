"""Rollback step 2 as a pure edit: take the Docker sidecar and its env vars out of a WorkflowSpec.

Works in place on any mutable mappings and sequences: plain dicts from the API server,
or ruamel.yaml round-trip nodes from a GitOps file (so comments and key order survive).
Only the matched items are deleted; an ``env``/``sidecars``/``containers`` list left
empty is removed with its key, as a revert of the change that added it would.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import MutableMapping, MutableSequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from config.settings import RollbackPolicy


@dataclass
class Edit:
    """What to strip, and what was stripped (human-readable paths) or could not be checked."""

    env_prefix: str
    sidecar_name: str
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_policy(cls, policy: RollbackPolicy) -> Edit:
        return cls(env_prefix=policy.env_prefix, sidecar_name=policy.sidecar_name)


def strip_workflow_spec(spec: MutableMapping[str, Any], edit: Edit) -> None:
    """Edit a WorkflowTemplate's ``spec`` in place; ``edit.removed`` says what went."""
    for template in _seq(spec.get("templates")):
        if isinstance(template, MutableMapping):
            _strip_template(template, f"templates[{template.get('name', '?')}]", edit)
    defaults = spec.get("templateDefaults")
    if isinstance(defaults, MutableMapping):
        _strip_template(defaults, "templateDefaults", edit)
    _strip_patch_key(spec, "podSpecPatch", edit)


def _strip_template(template: MutableMapping[str, Any], where: str, edit: Edit) -> None:
    _strip_named(template, "sidecars", edit.sidecar_name, f"{where}.sidecars", edit)
    for key in ("sidecars", "initContainers"):
        for item in _seq(template.get(key)):
            if isinstance(item, MutableMapping):
                _strip_env(item, f"{where}.{key}[{item.get('name', '?')}]", edit)
    for key in ("container", "script"):
        if isinstance(template.get(key), MutableMapping):
            _strip_env(template[key], f"{where}.{key}", edit)
    container_set = template.get("containerSet")
    if isinstance(container_set, MutableMapping):
        for item in _seq(container_set.get("containers")):
            if isinstance(item, MutableMapping):
                _strip_env(item, f"{where}.containerSet[{item.get('name', '?')}]", edit)
    _strip_patch_key(template, "podSpecPatch", edit, where=f"{where}.")


def _seq(value: Any) -> list[Any]:
    return list(value) if isinstance(value, MutableSequence) else []


def _strip_named(parent: MutableMapping[str, Any], key: str, name: str, where: str, edit: Edit) -> None:
    items = parent.get(key)
    if not isinstance(items, MutableSequence):
        return
    doomed = [
        i for i, item in enumerate(items) if isinstance(item, MutableMapping) and item.get("name") == name
    ]
    for i in reversed(doomed):
        del items[i]
    edit.removed.extend(f"{where}[{name}]" for _ in doomed)
    if not items:
        del parent[key]


def _strip_env(container: MutableMapping[str, Any], where: str, edit: Edit) -> None:
    env = container.get("env")
    if not isinstance(env, MutableSequence):
        return
    names = [var.get("name") if isinstance(var, MutableMapping) else None for var in env]
    doomed = [i for i, name in enumerate(names) if isinstance(name, str) and name.startswith(edit.env_prefix)]
    for i in reversed(doomed):
        del env[i]
    edit.removed.extend(f"{where}.env[{names[i]}]" for i in doomed)
    if not env:
        del container["env"]


def _strip_patch_key(parent: MutableMapping[str, Any], key: str, edit: Edit, where: str = "") -> None:
    text = parent.get(key)
    if not isinstance(text, str) or not text.strip():
        return
    before = len(edit.removed)
    new_text = strip_pod_spec_patch(text, edit, where=f"{where}{key}")
    if len(edit.removed) == before:
        return  # untouched: keep the exact original string
    if new_text is None:
        del parent[key]
    else:
        parent[key] = type(text)(new_text) if type(text) is not str else new_text  # keeps `|` style


def strip_pod_spec_patch(text: str, edit: Edit, *, where: str = "podSpecPatch") -> str | None:
    """The patch without the sidecar and env vars; None when nothing is left of it.

    JSON stays JSON; YAML is edited round-trip so its comments and layout survive.
    """
    is_json = text.lstrip().startswith("{")
    try:
        patch = json.loads(text) if is_json else rt_yaml(text).load(text)
    except (ValueError, YAMLError) as e:
        edit.warnings.append(f"{where} is not valid YAML/JSON ({str(e).splitlines()[0]}); check it by hand.")
        return text
    if not isinstance(patch, MutableMapping):
        return text
    for key in ("containers", "initContainers"):
        _strip_named(patch, key, edit.sidecar_name, f"{where}.{key}", edit)
        for item in _seq(patch.get(key)):
            if isinstance(item, MutableMapping):
                _strip_env(item, f"{where}.{key}[{item.get('name', '?')}]", edit)
    if not patch:
        return None
    if is_json:
        return json.dumps(patch, indent=2 if "\n" in text.strip() else None)
    out = io.StringIO()
    rt_yaml(text).dump(patch, out)
    return out.getvalue() if text.endswith("\n") else out.getvalue().rstrip("\n")


def rt_yaml(sample: str) -> YAML:
    """A round-trip YAML that writes with the indentation ``sample`` uses."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines of someone else's file
    mapping, sequence, offset = guess_indent(sample)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as ruamel.yaml's ``indent()`` takes them."""
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for prev, line in itertools.pairwise(lines):
        if not prev.rstrip().endswith(":"):
            continue
        key_col = _content_col(prev)
        lead = len(line) - len(line.lstrip(" "))
        if lead <= key_col and not line.lstrip().startswith("- "):
            continue
        if line.lstrip().startswith("- "):
            sequence = sequence or (_content_col(line) - key_col, lead - key_col)
        elif lead > key_col:
            mapping = mapping or lead - key_col
        if mapping and sequence:
            break
    seq, offset = sequence or ((mapping or 2), 0)
    return mapping or max(2, seq - offset), max(seq, offset + 2), max(offset, 0)


def _content_col(line: str) -> int:
    """Column where a line's key starts, after indentation and any "- " dashes."""
    col = len(line) - len(line.lstrip(" "))
    while line[col:].startswith("- "):
        col += 2
        while line[col:].startswith(" "):
            col += 1
    return col
