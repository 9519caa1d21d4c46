"""What an API request means to RBAC: verb, API group, resource[/subresource], namespace, name.

Mirrors the API server's RequestInfo resolver, so the fake can both record which
permissions a client needed and word a 403 exactly as the real server does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class RequestInfo:
    verb: str
    group: str = ""
    version: str = ""
    resource: str = ""  # "pods", "pods/exec", "workflowtemplates", … ("" for non-resource URLs)
    namespace: str | None = None
    name: str | None = None

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


@dataclass(frozen=True)
class ApiRequest:
    """One request the fake API server received (``FakeCluster.requests``)."""

    method: str
    path: str
    query: str
    info: RequestInfo
    time: float = field(default_factory=time.time)
    body: Any = None  # the parsed JSON body of a write


def resolve(method: str, path: str, query: dict[str, str]) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return RequestInfo(verb=method.lower())
    if not rest:
        return RequestInfo(verb=method.lower(), group=group, version=version)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    if len(rest) >= 3:
        resource = f"{resource}/{rest[2]}"
    verb = _verb(method, name, resource, query)
    return RequestInfo(
        verb=verb, group=group, version=version, resource=resource, namespace=namespace, name=name
    )


def _verb(method: str, name: str | None, resource: str, query: dict[str, str]) -> str:
    if resource.endswith(("/exec", "/attach", "/portforward")):
        return "create"  # WebSocket GETs are authorized as create (Kubernetes >= 1.30)
    if method == "GET":
        if query.get("watch", "").lower() in ("true", "1"):
            return "watch"
        return "get" if name else "list"
    if method == "DELETE" and not name:
        return "deletecollection"
    return _VERBS.get(method, method.lower())
