"""Generic object storage: ConfigMaps, Leases, Events and custom objects (CRDs).

Every write bumps the cluster-wide resourceVersion, as etcd revisions do, and writes
carrying a stale ``metadata.resourceVersion`` are refused with 409 like the real server.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.sandbox import kube_status as st
from bot.sandbox.patching import PatchError, json_patch, merge_patch
from bot.sandbox.selectors import field_matcher, label_matcher

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" is the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    custom: bool = True  # custom resources demand a resourceVersion on PUT

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


BUILTIN_TYPES = (
    ResourceType("", "v1", "configmaps", "ConfigMap", custom=False),
    ResourceType("", "v1", "events", "Event", custom=False),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", custom=False),
)
CUSTOM_TYPES = (
    ResourceType("argoproj.io", "v1alpha1", "workflows", "Workflow"),
    ResourceType("argoproj.io", "v1alpha1", "workflowtemplates", "WorkflowTemplate"),
    ResourceType("argoproj.io", "v1alpha1", "cronworkflows", "CronWorkflow"),
    ResourceType(
        "argoproj.io", "v1alpha1", "clusterworkflowtemplates", "ClusterWorkflowTemplate", namespaced=False
    ),
    ResourceType("wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport"),
    ResourceType(
        "wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports", "ClusterPolicyReport", namespaced=False
    ),
)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ObjectStore:
    """Objects by type, then by (namespace, name). Returned objects are copies."""

    def __init__(self, next_rv: Callable[[], str]) -> None:
        self._next_rv = next_rv
        self.types = {(t.group, t.plural): t for t in (*BUILTIN_TYPES, *CUSTOM_TYPES)}
        self.installed = set(self.types)
        self._items: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {
            k: {} for k in self.types
        }

    def resolve(self, group: str, version: str, plural: str) -> ResourceType:
        rtype = self.types.get((group, plural))
        if rtype is None or rtype.version != version or (group, plural) not in self.installed:
            raise st.unknown_resource()
        return rtype

    def by_plural(self, plural: str) -> ResourceType:
        return next(t for t in self.types.values() if t.plural == plural)

    def _bucket(self, rtype: ResourceType) -> dict[tuple[str, str], dict[str, Any]]:
        return self._items[(rtype.group, rtype.plural)]

    def _key(self, rtype: ResourceType, namespace: str | None, name: str) -> tuple[str, str]:
        return ((namespace or "") if rtype.namespaced else "", name)

    def iter_raw(self, rtype: ResourceType, namespace: str | None) -> Iterator[dict[str, Any]]:
        for (ns, _), obj in sorted(self._bucket(rtype).items()):
            if namespace is None or not rtype.namespaced or ns == namespace:
                yield obj

    def list(
        self, rtype: ResourceType, namespace: str | None, labels: str | None = None, fields: str | None = None
    ) -> list[dict[str, Any]]:
        by_label, by_field = label_matcher(labels), field_matcher(fields)
        return [
            copy.deepcopy(o)
            for o in self.iter_raw(rtype, namespace)
            if by_label(o["metadata"].get("labels") or {}) and by_field(o)
        ]

    def raw(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._bucket(rtype).get(self._key(rtype, namespace, name))
        if obj is None:
            raise st.not_found(rtype.plural, name, rtype.group)
        return obj

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        return copy.deepcopy(self.raw(rtype, namespace, name))

    def create(self, rtype: ResourceType, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise st.invalid(
                    rtype.plural, "", "metadata.name: Required value: name or generateName is required"
                )
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        key = self._key(rtype, namespace, meta["name"])
        if key in self._bucket(rtype):
            raise st.already_exists(rtype.plural, meta["name"], rtype.group)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        if rtype.namespaced:
            meta["namespace"] = namespace
        meta.pop("resourceVersion", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(datetime.now(UTC))
        if rtype.custom:
            meta["generation"] = 1
        meta["resourceVersion"] = self._next_rv()
        self._bucket(rtype)[key] = obj
        return copy.deepcopy(obj)

    def _store(self, rtype: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for keep in ("name", "namespace", "uid", "creationTimestamp"):
            if keep in old_meta:
                meta[keep] = old_meta[keep]
            else:
                meta.pop(keep, None)
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        if rtype.custom:
            changed = new.get("spec") != old.get("spec")
            meta["generation"] = int(old_meta.get("generation", 1)) + (1 if changed else 0)
        meta["resourceVersion"] = self._next_rv()
        self._bucket(rtype)[self._key(rtype, old_meta.get("namespace"), old_meta["name"])] = new
        return copy.deepcopy(new)

    def replace(
        self, rtype: ResourceType, namespace: str | None, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        old = self.raw(rtype, namespace, name)
        new = copy.deepcopy(body)
        meta = new.get("metadata") or {}
        if meta.get("name") not in (None, name):
            raise st.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        rv = meta.get("resourceVersion")
        if not rv and rtype.custom:
            raise st.invalid(
                rtype.plural,
                name,
                "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                rtype.group,
            )
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise st.conflict(rtype.plural, name, rtype.group)
        return self._store(rtype, old, new)

    def patch(
        self, rtype: ResourceType, namespace: str | None, name: str, patch: Any, content_type: str
    ) -> dict[str, Any]:
        old = self.raw(rtype, namespace, name)
        try:
            if content_type.startswith(JSON_PATCH):
                new = json_patch(old, patch)
            elif content_type.startswith((MERGE_PATCH, STRATEGIC_PATCH)):
                new = merge_patch(old, patch)
            else:
                accepted = f"{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH}"
                message = (
                    f"the body of the request was in an unknown format - accepted media types: {accepted}"
                )
                raise st.ApiError(415, "UnsupportedMediaType", message)
        except PatchError as e:
            raise st.ApiError(
                422, "Invalid", f"the server rejected our request due to an error in our request: {e}"
            ) from e
        if not isinstance(new, dict):
            raise st.ApiError(422, "Invalid", "the patched object is not a JSON object")
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise st.conflict(rtype.plural, name, rtype.group)
        return self._store(rtype, old, new)

    def delete(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.raw(rtype, namespace, name)
        del self._bucket(rtype)[self._key(rtype, namespace, name)]
        return copy.deepcopy(obj)
