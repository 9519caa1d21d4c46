"""Simulated pods: containers, their restart history, and each pod's rootless Docker daemon."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.sandbox.objects import rfc3339

DAEMON_HOST = "tcp://127.0.0.1:2375"
ARGOEXEC = "/var/run/argo/argoexec"


@dataclass
class Daemon:
    """The dockerd-rootless process of one pod's ``docker`` sidecar."""

    process: bool = True  # a dockerd-rootless process exists (what ``pkill -f`` finds)
    ready_at: float | None = 0.0  # time.monotonic() from which it answers; None: it never will
    start_delay: float = 0.2  # seconds from start to "API listen on"
    never_starts: bool = False  # a started daemon hangs and never answers
    restart_on_kill: bool = False  # dockerd is the sidecar's PID 1: killing it restarts the container
    announce_pending: bool = False  # the "API listen on" log line is still due

    def up(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return self.process and self.ready_at is not None and now >= self.ready_at


@dataclass
class FakeContainer:
    name: str
    image: str
    env: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    privileged: bool = False
    restart_count: int = 0
    state: str = "running"  # running | waiting | terminated
    reason: str | None = None  # waiting or terminated reason
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_terminated: dict[str, Any] | None = None

    @property
    def ready(self) -> bool:
        return self.state == "running"

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": self.name, "image": self.image, "command": list(self.command)}
        if self.env:
            spec["env"] = [{"name": k, "value": v} for k, v in self.env.items()]
        if self.privileged:
            spec["securityContext"] = {"privileged": True}
        spec["volumeMounts"] = [
            {"name": "docker-lib", "mountPath": "/var/lib/docker", "readOnly": self.name == "main"}
        ]
        return spec

    def _state(self) -> dict[str, Any]:
        if self.state == "running":
            return {"running": {"startedAt": rfc3339(self.started_at)} if self.started_at else {}}
        if self.state == "terminated":
            done: dict[str, Any] = {"exitCode": self.exit_code or 0, "reason": self.reason or "Completed"}
            if self.started_at:
                done["startedAt"] = rfc3339(self.started_at)
            if self.finished_at:
                done["finishedAt"] = rfc3339(self.finished_at)
            return {"terminated": done}
        return {"waiting": {"reason": self.reason or "ContainerCreating"}}

    def status(self, pod_uid: str) -> dict[str, Any]:
        digest = hashlib.sha256(f"{pod_uid}/{self.name}/{self.restart_count}".encode()).hexdigest()
        return {
            "name": self.name,
            "image": self.image,
            "imageID": f"{self.image.split(':')[0]}@sha256:{hashlib.sha256(self.image.encode()).hexdigest()}",
            "containerID": f"containerd://{digest}",
            "ready": self.ready,
            "started": self.state == "running",
            "restartCount": self.restart_count,
            "state": self._state(),
            "lastState": {"terminated": dict(self.last_terminated)} if self.last_terminated else {},
        }


@dataclass
class FakePod:
    name: str
    namespace: str
    uid: str
    labels: dict[str, str]
    annotations: dict[str, str]
    phase: str
    node: str | None
    created_at: datetime
    started_at: datetime | None
    containers: dict[str, FakeContainer]
    daemon: Daemon = field(default_factory=Daemon)
    exec_delay: float = 0.0  # seconds every exec into this pod takes before it answers
    disk_usage: str = "1.3G"  # what ``du -sh /var/lib/docker`` reports
    resource_version: str = "1"
    owner_uid: str | None = None  # the Workflow's UID, for the ownerReference

    @property
    def workflow(self) -> str | None:
        return self.labels.get("workflows.argoproj.io/workflow")

    def container(self, name: str) -> FakeContainer | None:
        return self.containers.get(name)

    def _pod_ip(self) -> str:
        digest = hashlib.sha256(self.name.encode()).digest()
        return f"10.42.{digest[0]}.{digest[1] or 1}"

    def to_json(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "resourceVersion": self.resource_version,
            "creationTimestamp": rfc3339(self.created_at),
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }
        if self.workflow and self.owner_uid:
            meta["ownerReferences"] = [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Workflow",
                    "name": self.workflow,
                    "uid": self.owner_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        status: dict[str, Any] = {"phase": self.phase, "qosClass": "Burstable"}
        if self.phase != "Pending" or self.node:
            status["hostIP"] = "192.168.1.10"
            status["podIP"] = self._pod_ip()
        if self.started_at:
            status["startTime"] = rfc3339(self.started_at)
        status["containerStatuses"] = [c.status(self.uid) for c in self.containers.values()]
        spec: dict[str, Any] = {
            "containers": [c.spec() for c in self.containers.values()],
            "restartPolicy": "Never",
            "serviceAccountName": "argo-workflow",
            "volumes": [{"name": "docker-lib", "emptyDir": {}}],
        }
        if self.node:
            spec["nodeName"] = self.node
        return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}


DEFAULT_MAIN_ENV = {"DOCKER_HOST": DAEMON_HOST, "DOCKER_ENABLED": "1", "DOCKER_TLS_VERIFY": "0"}
MAIN_IMAGE = "ghcr.io/proompteng/codex-universal:2024.10.1"
DOCKER_IMAGE = "docker:27.3.1-dind-rootless"
ARGO_IMAGE = "quay.io/argoproj/argoexec:v3.5.11"


def codex_containers(
    main_env: dict[str, str], phase: str, started: datetime | None
) -> dict[str, FakeContainer]:
    """``wait``, ``main`` and the ``docker`` sidecar, in Argo's order, in states that fit the pod phase."""
    boxes = {
        "wait": FakeContainer("wait", ARGO_IMAGE, command=["argoexec", "wait", "--loglevel", "info"]),
        "main": FakeContainer(
            "main",
            MAIN_IMAGE,
            env=dict(main_env),
            command=[ARGOEXEC, "emissary", "--loglevel", "info", "--", "codex"],
        ),
        "docker": FakeContainer(
            "docker",
            DOCKER_IMAGE,
            env={"DOCKER_TLS_CERTDIR": "", "XDG_RUNTIME_DIR": "/run/user/1000"},
            command=[ARGOEXEC, "emissary", "--loglevel", "info", "--", "dockerd-entrypoint.sh"],
            privileged=True,
        ),
    }
    for box in boxes.values():
        set_state_for_phase(box, phase, started)
    return boxes


def set_state_for_phase(box: FakeContainer, phase: str, started: datetime | None) -> None:
    box.started_at = started
    if phase == "Running":
        box.state, box.reason, box.exit_code = "running", None, None
    elif phase == "Pending":
        box.state, box.reason, box.exit_code, box.started_at = "waiting", "ContainerCreating", None, None
    else:
        failed = phase != "Succeeded" and box.name == "main"
        box.state, box.exit_code = "terminated", 1 if failed else 0
        box.reason = "Error" if failed else "Completed"
        box.finished_at = started
