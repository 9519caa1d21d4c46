"""``FakeCluster``: the in-memory state of one namespace behind the fake Kubernetes API server.

Everything runs on the server's event loop, so tests mutate the state directly while the
server runs. Time-based transitions (a daemon coming up) are realised lazily by
``settle()``, which the server calls before every request: no timers to leak.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.sandbox import docker_text as txt
from bot.sandbox.cluster_injection import InjectionMixin
from bot.sandbox.cluster_records import RecordsMixin
from bot.sandbox.execsim import ExecCall, Simulator, simulate
from bot.sandbox.injection import ExecRule, Fault
from bot.sandbox.kube_status import DEFAULT_USER
from bot.sandbox.logs import ContainerLog
from bot.sandbox.objects import ObjectStore, rfc3339
from bot.sandbox.pods import DEFAULT_MAIN_ENV, FakePod, codex_containers, set_state_for_phase
from bot.sandbox.request_info import ApiRequest

V5_PROTOCOL = "v5.channel.k8s.io"
V4_PROTOCOL = "v4.channel.k8s.io"
STAGE_LABEL = "codex.stage"
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"


def _pod_labels(workflow: str, stage: str) -> dict[str, str]:
    return {STAGE_LABEL: stage, WORKFLOW_LABEL: workflow, "workflows.argoproj.io/completed": "false"}


class FakeCluster(RecordsMixin, InjectionMixin):
    def __init__(
        self, namespace: str = "argo-workflows", *, daemon_start_delay: float = 0.2, exec_delay: float = 0.0
    ) -> None:
        self.namespace = namespace
        self.user = DEFAULT_USER.replace("argo-workflows", namespace)
        self.daemon_start_delay = daemon_start_delay  # default for new pods
        self.default_exec_delay = exec_delay  # default for new pods
        self.pods: dict[str, FakePod] = {}
        self.logs: dict[tuple[str, str], ContainerLog] = {}
        self.pulled_images: dict[str, set[str]] = {}
        self._rv = 1000
        self.objects = ObjectStore(self._next_rv)
        self.exec_calls: list[ExecCall] = []
        self.requests: list[ApiRequest] = []
        self.exec_protocols: tuple[str, ...] = (V5_PROTOCOL, V4_PROTOCOL)  # the server's preference order
        self.v5_close_frames = False  # v5: also send [255, 1] and [255, 2] before the Status frame
        self.simulator: Simulator = simulate
        self._exec_rules: list[ExecRule] = []
        self._faults: list[Fault] = []

    @classmethod
    def sandbox(cls, namespace: str = "argo-workflows", **kwargs: Any) -> FakeCluster:
        from bot.sandbox.seed import seed_sandbox

        cluster = cls(namespace, **kwargs)
        seed_sandbox(cluster)
        return cluster

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    # -- pods ---------------------------------------------------------------------------------

    def add_codex_pod(
        self,
        name: str,
        *,
        workflow: str,
        stage: str = "build",
        phase: str = "Running",
        env: Mapping[str, str | None] | None = None,
        daemon_up: bool = True,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        node: str = "worker-1",
        age: float = 600.0,
        exec_delay: float | None = None,
        create_workflow: bool = True,
    ) -> FakePod:
        """A Codex workflow pod (``wait``, ``main``, ``docker``), created ``age`` seconds ago.

        ``env`` is merged over the runbook's DOCKER_* values (None removes a key). The pod's
        Workflow is created too unless it exists or ``create_workflow`` is False.
        """
        created = datetime.now(UTC) - timedelta(seconds=age)
        started = None if phase == "Pending" else created + timedelta(seconds=3)
        main_env = {k: v for k, v in {**DEFAULT_MAIN_ENV, **(env or {})}.items() if v is not None}
        pod = FakePod(
            name=name,
            namespace=self.namespace,
            uid=str(uuid.uuid4()),
            labels=_pod_labels(workflow, stage) | dict(labels or {}),
            annotations={"workflows.argoproj.io/node-name": f"{workflow}[0].{stage}"}
            | dict(annotations or {}),
            phase=phase,
            node=node,
            created_at=created,
            started_at=started,
            containers=codex_containers(main_env, phase, started),
            exec_delay=self.default_exec_delay if exec_delay is None else exec_delay,
            resource_version=self._next_rv(),
        )
        pod.daemon.start_delay = self.daemon_start_delay
        self.pods[name] = pod
        if started is not None:
            self._seed_pod_history(pod, started, daemon_up)
        if not daemon_up:
            pod.daemon.process, pod.daemon.ready_at = False, None
        self._own(pod, create_workflow)
        return pod

    def _own(self, pod: FakePod, create_workflow: bool) -> None:
        """Point the pod's ownerReference at its Workflow, creating that when asked."""
        workflow = pod.workflow or ""
        owner = self.get_object("workflows", workflow)
        if create_workflow and owner is None:
            phase = "Running" if pod.phase in ("Running", "Pending") else pod.phase
            owner = self.add_workflow(workflow, phase=phase)
        pod.owner_uid = owner["metadata"]["uid"] if owner else None

    def _seed_pod_history(self, pod: FakePod, started: datetime, daemon_up: bool) -> None:
        assigned = f"Successfully assigned {self.namespace}/{pod.name} to {pod.node}"
        self.add_event(pod.name, "Scheduled", assigned, at=pod.created_at)
        for box in pod.containers.values():
            self.add_event(pod.name, "Started", f"Started container {box.name}", at=started)
        ready = txt.daemon_ready_lines() if daemon_up else txt.daemon_failed_lines()
        self.log(pod.name, "docker", *txt.daemon_start_lines(), at=started)
        self.log(pod.name, "docker", *ready, at=started + timedelta(seconds=2))
        self.log(
            pod.name, "main", "codex: preparing workspace /workspace/lab", at=started + timedelta(seconds=1)
        )

    def pod(self, name: str) -> FakePod:
        try:
            return self.pods[name]
        except KeyError:
            raise KeyError(f"no pod {name!r} in the fake cluster") from None

    def pod_names(self) -> list[str]:
        return list(self.pods)

    def touch(self, name: str) -> None:
        """Record a change to a pod made directly on its FakePod (bumps its resourceVersion)."""
        self.pod(name).resource_version = self._next_rv()

    def remove_pod(self, name: str) -> None:
        del self.pods[name]

    def replace_pod(self, name: str) -> FakePod:
        """The pod was deleted and recreated under the same name: a new UID, fresh containers."""
        old = self.pod(name)
        pod = copy.deepcopy(old)
        pod.uid = str(uuid.uuid4())
        for box in pod.containers.values():
            box.restart_count, box.last_terminated = 0, None
        pod.created_at = pod.started_at = datetime.now(UTC)
        pod.resource_version = self._next_rv()
        self.pods[name] = pod
        return pod

    def set_phase(self, name: str, phase: str) -> None:
        pod = self.pod(name)
        pod.phase = phase
        if phase != "Pending" and pod.started_at is None:
            pod.started_at = datetime.now(UTC)
        for box in pod.containers.values():
            set_state_for_phase(box, phase, pod.started_at)
        self.touch(name)

    def set_exec_delay(self, name: str, seconds: float) -> None:
        self.pod(name).exec_delay = seconds

    def restart_container(self, name: str, container: str = "docker", *, exit_code: int = 143) -> None:
        """The container exited and the kubelet restarted it (restartCount + 1, logs rotated)."""
        pod, now = self.pod(name), datetime.now(UTC)
        box = pod.containers[container]
        box.last_terminated = {
            "exitCode": exit_code,
            "reason": "Error" if exit_code else "Completed",
            "startedAt": rfc3339(box.started_at or now),
            "finishedAt": rfc3339(now),
        }
        box.restart_count += 1
        box.state, box.reason, box.started_at = "running", None, now
        self.container_log(name, container).rotate()
        self.add_event(name, "Pulled", f'Container image "{box.image}" already present on machine')
        self.add_event(name, "Started", f"Started container {container}")
        if container == "docker":
            pod.daemon.process = False
            self.start_daemon(name)
        self.touch(name)

    # -- the rootless Docker daemon -------------------------------------------------------------

    def break_daemon(self, name: str, *, hung: bool = False) -> None:
        """The daemon stops answering: crashed (no process), or ``hung`` (a process pkill can find)."""
        daemon = self.pod(name).daemon
        daemon.process, daemon.ready_at, daemon.announce_pending = hung, None, False
        if not hung:
            self.log(name, "docker", *txt.daemon_failed_lines())

    def set_daemon(
        self,
        name: str,
        *,
        start_delay: float | None = None,
        never_starts: bool | None = None,
        restart_on_kill: bool | None = None,
    ) -> None:
        """How the daemon behaves on its next start: delay, never answering, or restarting the container."""
        daemon = self.pod(name).daemon
        if start_delay is not None:
            daemon.start_delay = start_delay
        if never_starts is not None:
            daemon.never_starts = never_starts
        if restart_on_kill is not None:
            daemon.restart_on_kill = restart_on_kill

    def heal_daemon(self, name: str) -> None:
        """The daemon answers again, at once (a sandbox shortcut for a successful restart)."""
        daemon = self.pod(name).daemon
        daemon.process, daemon.ready_at, daemon.announce_pending = True, time.monotonic(), False
        self.log(name, "docker", *txt.daemon_start_lines(), *txt.daemon_ready_lines())

    def daemon_up(self, name: str) -> bool:
        self.settle()
        return self.pod(name).daemon.up()

    def kill_daemon(self, name: str) -> bool:
        """``pkill -f dockerd-rootless`` in the sidecar: False when there was nothing to kill."""
        daemon = self.pod(name).daemon
        if not daemon.process:
            return False
        self.log(
            name,
            "docker",
            "level=info msg=\"Processing signal 'terminated'\"",
            'level=info msg="Daemon shutdown complete"',
        )
        daemon.process, daemon.ready_at, daemon.announce_pending = False, None, False
        if daemon.restart_on_kill:
            self.restart_container(name, "docker")
        return True

    def start_daemon(self, name: str) -> bool:
        """``dockerd-rootless.sh``: False (and a pid-file error in the log) when one already runs."""
        daemon = self.pod(name).daemon
        if daemon.process:
            self.log(name, "docker", txt.PID_FILE_FOUND)
            return False
        daemon.process = True
        daemon.ready_at = None if daemon.never_starts else time.monotonic() + daemon.start_delay
        daemon.announce_pending = not daemon.never_starts
        self.log(name, "docker", *txt.daemon_start_lines())
        return True

    def settle(self) -> None:
        """Realise what happened since the last look: daemons that came up log it."""
        now, wall = time.monotonic(), datetime.now(UTC)
        for pod in self.pods.values():
            daemon = pod.daemon
            if daemon.announce_pending and daemon.ready_at is not None and daemon.up(now):
                at = wall - timedelta(seconds=now - daemon.ready_at)
                self.log(pod.name, "docker", *txt.daemon_ready_lines(), at=at)
                daemon.announce_pending = False
