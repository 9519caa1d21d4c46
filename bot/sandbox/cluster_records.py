"""FakeCluster's logs, events and stored objects (ConfigMaps, Argo and Kyverno custom objects)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.logs import ContainerLog, GeneratedLog
from bot.sandbox.objects import ObjectStore, rfc3339
from bot.sandbox.pods import FakePod


class RecordsMixin:
    namespace: str
    pods: dict[str, FakePod]
    logs: dict[tuple[str, str], ContainerLog]
    objects: ObjectStore

    _last_event_ns = 0

    def settle(self) -> None:
        raise NotImplementedError

    def _event_suffix(self) -> str:
        """Hex of a strictly increasing clock, as the kubelet names events: list order is creation order."""
        self._last_event_ns = max(time.time_ns(), self._last_event_ns + 1)
        return f"{self._last_event_ns:x}"

    # -- logs and events ------------------------------------------------------------------------

    def container_log(self, pod: str, container: str) -> ContainerLog:
        return self.logs.setdefault((pod, container), ContainerLog())

    def log(self, pod: str, container: str, *lines: str, at: datetime | None = None) -> None:
        target = self.container_log(pod, container)
        for line in lines:
            target.append(line, at)

    def log_text(self, pod: str, container: str, *, timestamps: bool = False, previous: bool = False) -> str:
        self.settle()
        chunks = self.container_log(pod, container).chunks(timestamps=timestamps, previous=previous)
        return b"".join(chunks).decode()

    def set_generated_log(
        self, pod: str, container: str, size_bytes: int, *, seed: int = 0, span_seconds: float = 3600.0
    ) -> GeneratedLog:
        """Replace the container's log by ``size_bytes`` of deterministic lines (without timestamps)
        spread over the last ``span_seconds``, produced lazily when read. Lines logged later follow it."""
        end = time.time_ns()
        gen = GeneratedLog(size_bytes, seed, end - int(span_seconds * 1e9), end)
        log = self.container_log(pod, container)
        log.generated, log.lines = gen, []
        return gen

    def add_event(
        self,
        pod: str,
        reason: str,
        message: str,
        *,
        type: str = "Normal",
        count: int = 1,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        stamp = rfc3339(at or datetime.now(UTC))
        target = self.pods.get(pod)
        return self.objects.create(
            self.objects.by_plural("events"),
            self.namespace,
            {
                "metadata": {"name": f"{pod}.{self._event_suffix()}"},
                "involvedObject": {
                    "kind": "Pod",
                    "namespace": self.namespace,
                    "name": pod,
                    "uid": target.uid if target else "",
                    "apiVersion": "v1",
                },
                "reason": reason,
                "message": message,
                "type": type,
                "count": count,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "source": {
                    "component": "kubelet",
                    "host": target.node if target and target.node else "worker-1",
                },
            },
        )

    # -- objects --------------------------------------------------------------------------------

    def add_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        rtype = self.objects.by_plural(plural)
        return self.objects.create(rtype, self.namespace, body)

    def get_object(self, plural: str, name: str) -> dict[str, Any] | None:
        rtype = self.objects.by_plural(plural)
        bucket = self.objects.list(rtype, self.namespace, fields=f"metadata.name={name}")
        return bucket[0] if bucket else None

    def objects_of(self, plural: str) -> list[dict[str, Any]]:
        return self.objects.list(self.objects.by_plural(plural), self.namespace)

    def update_object(self, plural: str, name: str, merge: dict[str, Any]) -> dict[str, Any]:
        """Someone else changes the object (a merge patch; bumps resourceVersion)."""
        rtype = self.objects.by_plural(plural)
        return self.objects.patch(rtype, self.namespace, name, merge, "application/merge-patch+json")

    def set_crd_installed(self, plural: str, installed: bool = True) -> None:
        """Uninstalled CRDs answer 404 'the server could not find the requested resource'."""
        rtype = self.objects.by_plural(plural)
        key = (rtype.group, rtype.plural)
        if installed:
            self.objects.installed.add(key)
        else:
            self.objects.installed.discard(key)

    def add_workflow(
        self,
        name: str,
        *,
        phase: str = "Running",
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        spec: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        done = "true" if phase in ("Succeeded", "Failed", "Error") else "false"
        meta_labels = {"workflows.argoproj.io/phase": phase, "workflows.argoproj.io/completed": done}
        return self.add_object(
            "workflows",
            {
                "metadata": {
                    "name": name,
                    "labels": meta_labels | dict(labels or {}),
                    "annotations": dict(annotations or {}),
                },
                "spec": spec or {"workflowTemplateRef": {"name": "codex-build"}},
                "status": {"phase": phase, "startedAt": rfc3339(datetime.now(UTC))},
            },
        )

    def add_configmap(
        self, name: str, data: Mapping[str, str], *, labels: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return self.add_object(
            "configmaps", {"metadata": {"name": name, "labels": dict(labels or {})}, "data": dict(data)}
        )
