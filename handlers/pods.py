"""Validating step 1: find Codex workflow pods, and resolve one named by a user."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from config.settings import Policy
from handlers.errors import NotFound, UsageError
from handlers.ports import PodInfo, Pods
from handlers.results import PodListing, PodRow

# RFC 1123 subdomain: what Kubernetes accepts as a pod name. Anything else is refused
# before a single API call, so user text never reaches a URL or an exec unchecked.
_POD_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def check_pod_name(name: str) -> str:
    if not _POD_NAME.match(name):
        raise UsageError(
            f"`{name}` is not a valid pod name.",
            hint="Pod names are lowercase letters, digits, '-' and '.'; see `/codex pods`.",
        )
    return name


class PodNotReady(NotFound):
    """The pod exists but cannot be checked now."""


async def resolve_codex_pod(name: str, *, pods: Pods, policy: Policy, need_running: bool = True) -> PodInfo:
    """The pod, checked to be a Codex workflow pod that can be exec'd into."""
    check_pod_name(name)
    pod = await pods.get(name)
    ns = policy.namespace
    if pod is None:
        raise NotFound(
            f"Pod `{name}` was not found in namespace `{ns}`.", hint="List pods with `/codex pods`."
        )
    if policy.pods.stage_label not in pod.labels:
        raise NotFound(
            f"Pod `{name}` is not a Codex workflow pod (no `{policy.pods.stage_label}` label).",
            hint="List Codex pods with `/codex pods`.",
        )
    if need_running and pod.phase != "Running":
        raise PodNotReady(
            f"Pod `{name}` is {pod.phase}, not Running; there is no daemon to check.",
            hint=f"Look at `/codex diagnostics {name}` for why.",
        )
    for container in (policy.pods.main_container, policy.pods.docker_container):
        if need_running and pod.container(container) is None:
            raise NotFound(f"Pod `{name}` has no `{container}` container.")
    return pod


async def list_codex_pods(*, pods: Pods, policy: Policy, selector: str | None = None) -> PodListing:
    sel = selector or policy.pods.selector
    found = await pods.list(sel)
    now = datetime.now(UTC)
    rows = tuple(
        PodRow(
            name=p.name,
            stage=p.labels.get(policy.pods.stage_label, ""),
            workflow=p.labels.get(policy.pods.workflow_label),
            phase=p.phase,
            age_seconds=(now - p.created_at).total_seconds() if p.created_at else None,
            restarts=p.restarts,
            node=p.node,
        )
        for p in sorted(found, key=lambda p: p.name)
    )
    return PodListing(namespace=policy.namespace, selector=sel, pods=rows)
