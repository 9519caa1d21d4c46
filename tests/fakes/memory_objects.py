"""An in-memory ClusterObjects port for handler tests: merge patch, resourceVersion, label selectors."""

from __future__ import annotations

import copy
from typing import Any

from handlers.errors import Conflict, NotFound


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies application/merge-patch+json."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def matches(labels: dict[str, str], selector: str | None) -> bool:
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.strip() not in labels:
            return False
    return True


class MemoryObjects:
    """kind -> name -> object. ``writes`` records (verb, kind, name, body) as the server received them."""

    def __init__(
        self, served: tuple[str, ...] = ("configmaps", "cronworkflows", "workflowtemplates")
    ) -> None:
        self.served = served
        self.objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in served}
        self.writes: list[tuple[str, str, str, dict[str, Any]]] = []
        self._version = 100
        self.fail_on: dict[tuple[str, str], Exception] = {}  # (kind, name) -> raised on the next write

    def add(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(obj)
        stored.setdefault("metadata", {})["resourceVersion"] = self._next()
        self.objects[kind][stored["metadata"]["name"]] = stored
        return copy.deepcopy(stored)

    def _next(self) -> str:
        self._version += 1
        return str(self._version)

    def _kind(self, kind: str) -> dict[str, dict[str, Any]]:
        if kind not in self.objects:
            raise NotFound("the server could not find the requested resource")
        return self.objects[kind]

    async def list(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        items = self._kind(kind).values()
        return [copy.deepcopy(o) for o in items if matches(o["metadata"].get("labels", {}), selector)]

    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self._kind(kind).get(name)
        return copy.deepcopy(found) if found else None

    def _current(self, verb: str, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.writes.append((verb, kind, name, copy.deepcopy(body)))
        if (kind, name) in self.fail_on:
            raise self.fail_on.pop((kind, name))
        current = self._kind(kind).get(name)
        if current is None:
            raise NotFound(f'{kind} "{name}" not found')
        wanted = body.get("metadata", {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
            raise Conflict(f'Operation cannot be fulfilled on {kind} "{name}": the object has been modified')
        return current

    async def patch(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self._current("patch", kind, name, body)
        updated = merge_patch(current, body)
        if kind == "configmaps" and updated.get("data") == {}:
            del updated["data"]  # the API server omits an empty data map (omitempty)
        updated["metadata"]["resourceVersion"] = self._next()
        self.objects[kind][name] = updated
        return copy.deepcopy(updated)

    async def replace(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("metadata", {}).get("resourceVersion") is None:
            raise Conflict("resourceVersion required for replace")
        self._current("replace", kind, name, body)
        updated = copy.deepcopy(body)
        updated["metadata"]["resourceVersion"] = self._next()
        self.objects[kind][name] = updated
        return copy.deepcopy(updated)
