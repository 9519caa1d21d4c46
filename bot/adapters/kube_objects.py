"""``KubeClusterObjects`` (Argo/Kyverno custom objects and ConfigMaps) and Lease leader election."""

from __future__ import annotations

import copy
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bot.adapters.kube_context import KubeContext
from bot.adapters.rbac import ARGO, KYVERNO, LEASE_CREATE, LEASE_GET, LEASE_UPDATE, object_call
from handlers.errors import Conflict, NotFound

VERSIONS = {ARGO: "v1alpha1", KYVERNO: "v1alpha2"}
CRD_KINDS = {"workflows": ARGO, "workflowtemplates": ARGO, "cronworkflows": ARGO, "policyreports": KYVERNO}


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class KubeClusterObjects:
    def __init__(self, ctx: KubeContext) -> None:
        self._ctx = ctx

    def _crd(self, kind: str) -> tuple[str, str, str, str]:
        group = CRD_KINDS[kind]
        return group, VERSIONS[group], self._ctx.namespace, kind

    async def list(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Raises NotFound when the resource type is not served (its CRD is not installed)."""
        call = object_call(kind, "list")
        try:
            if kind == "configmaps":
                body = await self._ctx.call_json(
                    call,
                    self._ctx.core.list_namespaced_config_map,
                    self._ctx.namespace,
                    label_selector=selector,
                )
            else:
                body = await self._ctx.call(
                    call,
                    self._ctx.custom.list_namespaced_custom_object,
                    *self._crd(kind),
                    label_selector=selector,
                )
        except NotFound as e:
            raise NotFound(
                f"The cluster does not serve `{kind}` (is its CRD installed?).",
                hint=f"`{kind}` come from {CRD_KINDS.get(kind, 'the core API')}; install it or skip this.",
            ) from e
        return [_as_dict(item) for item in _as_dict(body).get("items") or []]

    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        call = object_call(kind, "get")
        try:
            if kind == "configmaps":
                body = await self._ctx.call_json(
                    call, self._ctx.core.read_namespaced_config_map, name, self._ctx.namespace, name=name
                )
            else:
                body = await self._ctx.call(
                    call, self._ctx.custom.get_namespaced_custom_object, *self._crd(kind), name, name=name
                )
        except NotFound:
            return None
        return _as_dict(body)

    async def patch(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Merge patch; a ``metadata.resourceVersion`` in ``body`` makes it conditional (stale: Conflict)."""
        call = object_call(kind, "patch")
        if kind == "configmaps":
            result = await self._ctx.call_json(
                call, self._ctx.core.patch_namespaced_config_map, name, self._ctx.namespace, body, name=name
            )
        else:
            result = await self._ctx.call(
                call, self._ctx.custom.patch_namespaced_custom_object, *self._crd(kind), name, body, name=name
            )
        return _as_dict(result)

    async def replace(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT the whole object; its ``metadata.resourceVersion`` must be current (stale -> Conflict)."""
        call = object_call(kind, "update")
        if kind == "configmaps":
            result = await self._ctx.call_json(
                call, self._ctx.core.replace_namespaced_config_map, name, self._ctx.namespace, body, name=name
            )
        else:
            result = await self._ctx.call(
                call,
                self._ctx.custom.replace_namespaced_custom_object,
                *self._crd(kind),
                name,
                body,
                name=name,
            )
        return _as_dict(result)


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """Unique per process: the pod's hostname plus a random suffix (two bots in one pod stay distinct)."""
    return f"{os.environ.get('HOSTNAME') or socket.gethostname()}-{uuid.uuid4().hex[:8]}"


class LeaseElector:
    """Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go's leaderelection does it.

    Expiry is judged by the local clock from when this elector last saw the record change,
    not by the holder's ``renewTime``, so clock skew between replicas cannot hand out two leases.
    """

    def __init__(self, ctx: KubeContext, name: str, *, identity: str, lease_seconds: int) -> None:
        self._ctx, self.name, self.identity, self.lease_seconds = ctx, name, identity, lease_seconds
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0

    async def is_leader(self) -> bool:
        """Acquire or renew the lease; True while this elector holds it. Raises ClusterError on failures."""
        ns = self._ctx.namespace
        try:
            lease = await self._ctx.call_json(
                LEASE_GET, self._ctx.coordination.read_namespaced_lease, self.name, ns, name=self.name
            )
        except NotFound:
            return await self._create()
        spec = _as_dict(lease.get("spec"))
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        now = time.monotonic()
        if record != self._observed:
            self._observed, self._observed_at = record, now
        if holder == self.identity:
            return await self._write(lease, acquire=False)
        duration = int(spec.get("leaseDurationSeconds") or self.lease_seconds)
        if holder and now < self._observed_at + duration:
            return False
        return await self._write(lease, acquire=True)

    async def release(self) -> bool:
        """Give the lease up (on shutdown) so another replica takes over at once; False when this
        elector did not hold it. Like client-go: no holder, a 1 s duration, renewed and acquired now."""
        lease = await self._ctx.call_json(
            LEASE_GET,
            self._ctx.coordination.read_namespaced_lease,
            self.name,
            self._ctx.namespace,
            name=self.name,
        )
        spec = _as_dict(lease.get("spec"))
        if spec.get("holderIdentity") != self.identity:
            return False
        body = copy.deepcopy(lease)
        now = _micro_time(datetime.now(UTC))
        release = {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": now, "acquireTime": now}
        body["spec"] = {**spec, **release}
        try:
            await self._replace(body)
        except Conflict:
            return False  # someone else already moved on: nothing left to release
        return True

    def _spec(self, previous: dict[str, Any], *, acquire: bool) -> dict[str, Any]:
        now = _micro_time(datetime.now(UTC))
        spec = {
            **previous,
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_seconds,
            "renewTime": now,
        }
        if acquire:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(previous.get("leaseTransitions") or 0) + (1 if previous else 0)
        return spec

    async def _create(self) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self._ctx.namespace},
            "spec": self._spec({}, acquire=True),
        }
        try:
            await self._ctx.call_json(
                LEASE_CREATE,
                self._ctx.coordination.create_namespaced_lease,
                self._ctx.namespace,
                body,
                name=self.name,
            )
        except Conflict:
            return False  # another replica created it first
        return True

    async def _write(self, lease: dict[str, Any], *, acquire: bool) -> bool:
        body = copy.deepcopy(lease)
        body["spec"] = self._spec(_as_dict(lease.get("spec")), acquire=acquire)
        try:
            await self._replace(body)
        except Conflict:
            return False  # the lease changed under us: someone else renewed or took it
        return True

    async def _replace(self, body: dict[str, Any]) -> None:
        await self._ctx.call_json(
            LEASE_UPDATE,
            self._ctx.coordination.replace_namespaced_lease,
            self.name,
            self._ctx.namespace,
            body,
            name=self.name,
        )


class KubeLeases:
    def __init__(self, ctx: KubeContext) -> None:
        self._ctx = ctx

    def elector(self, name: str, *, lease_seconds: int, identity: str | None = None) -> LeaseElector:
        return LeaseElector(
            self._ctx, name, identity=identity or default_identity(), lease_seconds=lease_seconds
        )
