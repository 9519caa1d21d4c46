"""Every Kubernetes API call the adapters may make, declared once.

The adapters route each call through ``require()``, so a call missing here fails loudly
in tests instead of as a 403 in production; the Helm chart's Role is checked against
``KUBE_CALLS`` so RBAC cannot drift from the code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KubeCall:
    api_group: str  # "" is the core group
    resource: str  # with the subresource: "pods/exec", "pods/log"
    verb: str

    def __str__(self) -> str:
        group = f" (API group {self.api_group})" if self.api_group else ""
        return f"{self.verb} {self.resource}{group}"


ARGO = "argoproj.io"
KYVERNO = "wgpolicyk8s.io"
COORDINATION = "coordination.k8s.io"

POD_GET = KubeCall("", "pods", "get")
POD_LIST = KubeCall("", "pods", "list")
POD_LOG = KubeCall("", "pods/log", "get")
POD_EXEC = KubeCall("", "pods/exec", "create")
# The exec WebSocket upgrade is an HTTP GET, authorized as "get"; from Kubernetes 1.35 the API
# server also requires "create" (KEP-4006), so the Role grants both.
POD_EXEC_LEGACY = KubeCall("", "pods/exec", "get")
EVENT_LIST = KubeCall("", "events", "list")
LEASE_GET = KubeCall(COORDINATION, "leases", "get")
LEASE_CREATE = KubeCall(COORDINATION, "leases", "create")
LEASE_UPDATE = KubeCall(COORDINATION, "leases", "update")

# What ClusterObjects may do per kind: only what the runbook needs.
OBJECT_VERBS: dict[str, tuple[str, tuple[str, ...]]] = {
    "workflows": (ARGO, ("get", "list")),
    "workflowtemplates": (ARGO, ("get", "list", "patch", "update")),
    "cronworkflows": (ARGO, ("get", "list", "patch")),
    "policyreports": (KYVERNO, ("get", "list")),
    "configmaps": ("", ("get", "patch")),
}

KUBE_CALLS: tuple[KubeCall, ...] = (
    POD_GET,
    POD_LIST,
    POD_LOG,
    POD_EXEC,
    POD_EXEC_LEGACY,
    EVENT_LIST,
    LEASE_GET,
    LEASE_CREATE,
    LEASE_UPDATE,
    *(KubeCall(group, kind, verb) for kind, (group, verbs) in OBJECT_VERBS.items() for verb in verbs),
)

# Non-resource URLs (allowed to every authenticated user by the default discovery roles).
NON_RESOURCE_CALLS: tuple[tuple[str, str], ...] = (("/version", "get"),)


class UndeclaredKubeCall(RuntimeError):
    """An adapter tried a call that is not in KUBE_CALLS: a bug, caught before it reaches the API."""


def require(call: KubeCall) -> KubeCall:
    if call not in KUBE_CALLS:
        raise UndeclaredKubeCall(
            f"`{call}` is not declared in bot/adapters/rbac.py KUBE_CALLS (the Helm Role does not grant it)"
        )
    return call


def object_call(kind: str, verb: str) -> KubeCall:
    """The declared call for ClusterObjects ``verb`` on ``kind``; raises for anything undeclared."""
    if kind not in OBJECT_VERBS:
        raise UndeclaredKubeCall(f"unknown object kind {kind!r}; known: {', '.join(OBJECT_VERBS)}")
    return require(KubeCall(OBJECT_VERBS[kind][0], kind, verb))


def role_rules() -> list[dict[str, Any]]:
    """KUBE_CALLS as Role rules (one rule per API group and verb set), for comparison with the chart."""
    verbs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for call in KUBE_CALLS:
        verbs[(call.api_group, call.resource)].add(call.verb)
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (group, resource), verb_set in sorted(verbs.items()):
        grouped[(group, tuple(sorted(verb_set)))].append(resource)
    return [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verb_list)}
        for (group, verb_list), resources in sorted(grouped.items())
    ]
