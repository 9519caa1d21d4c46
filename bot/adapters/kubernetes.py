"""Kubernetes adapters on the official (sync) ``kubernetes`` client, awaited off the event loop.

``KubeCluster.connect(...)`` builds them all around one configuration and one bounded
executor: ``.exec`` (PodExec), ``.pods`` (Pods), ``.logs`` (PodLogs), ``.objects``
(ClusterObjects) and ``.leases`` (Lease leader election).
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
import websocket
import yaml
from kubernetes import config
from kubernetes.client import Configuration, VersionApi
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from bot.adapters.kube_context import TRANSPORT_ERRORS, KubeContext
from bot.adapters.kube_convert import pod_event, pod_info
from bot.adapters.kube_errors import status_of, transport
from bot.adapters.kube_exec import KubePodExec
from bot.adapters.kube_objects import KubeClusterObjects, KubeLeases, LeaseElector
from bot.adapters.rbac import EVENT_LIST, POD_GET, POD_LIST, POD_LOG
from handlers.errors import ClusterError, NotFound
from handlers.ports import PodEvent, PodInfo

__all__ = [
    "KubeCluster",
    "KubeClusterObjects",
    "KubeLeases",
    "KubePodExec",
    "KubePodLogs",
    "KubePods",
    "LeaseElector",
]

LOG_CHUNK_BYTES = 64 * 1024


class KubePods:
    def __init__(self, ctx: KubeContext) -> None:
        self._ctx = ctx

    async def get(self, name: str) -> PodInfo | None:
        try:
            body = await self._ctx.call_json(
                POD_GET, self._ctx.core.read_namespaced_pod, name, self._ctx.namespace, name=name
            )
        except NotFound:
            return None
        return pod_info(body)

    async def list(self, selector: str) -> builtins.list[PodInfo]:
        body = await self._ctx.call_json(
            POD_LIST, self._ctx.core.list_namespaced_pod, self._ctx.namespace, label_selector=selector or None
        )
        return [pod_info(item) for item in body.get("items") or []]

    async def events(self, name: str) -> builtins.list[PodEvent]:
        body = await self._ctx.call_json(
            EVENT_LIST,
            self._ctx.core.list_namespaced_event,
            self._ctx.namespace,
            field_selector=f"involvedObject.name={name}",
        )
        events = [pod_event(item) for item in body.get("items") or []]
        return sorted(events, key=lambda e: e.last_seen.timestamp() if e.last_seen else 0.0)


class KubePodLogs:
    def __init__(self, ctx: KubeContext) -> None:
        self._ctx = ctx

    async def stream(
        self,
        pod: str,
        container: str,
        *,
        since_seconds: int | None = None,
        tail_lines: int | None = None,
        timestamps: bool = False,
    ) -> AsyncIterator[bytes]:
        """The container's log in chunks of at most LOG_CHUNK_BYTES; memory stays bounded."""
        timeout = self._ctx.api_timeout
        response: Any = await self._ctx.call(
            POD_LOG,
            self._ctx.core.read_namespaced_pod_log,
            pod,
            self._ctx.namespace,
            container=container,
            since_seconds=since_seconds,
            tail_lines=tail_lines,
            timestamps=timestamps or None,
            _preload_content=False,
            _request_timeout=(timeout, timeout),  # per read, so a long log is not cut at a total deadline
            name=pod,
        )
        try:
            while True:
                try:
                    chunk: bytes = await self._ctx.run(functools.partial(response.read, LOG_CHUNK_BYTES))
                except TRANSPORT_ERRORS as e:
                    raise transport(e) from e
                if not chunk:
                    return
                yield chunk
        finally:
            response.close()
            response.release_conn()


class KubeCluster:
    """Every Kubernetes adapter, sharing one configuration and one bounded executor."""

    def __init__(self, ctx: KubeContext) -> None:
        self._ctx = ctx
        self.namespace = ctx.namespace
        self.exec = KubePodExec(ctx)
        self.pods = KubePods(ctx)
        self.logs = KubePodLogs(ctx)
        self.objects = KubeClusterObjects(ctx)
        self.leases = KubeLeases(ctx)

    @classmethod
    def connect(
        cls, namespace: str, kubeconfig: str | None, *, pool_size: int = 16, api_timeout: float = 15.0
    ) -> KubeCluster:
        """From ``kubeconfig`` (a path), or the in-cluster ServiceAccount when it is None. No network I/O.

        ``pool_size`` bounds the threads, hence the execs and API calls in flight at once.
        """
        configuration = Configuration()
        try:
            if kubeconfig:
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig, client_configuration=configuration
                )
            else:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError, ValueError, yaml.YAMLError) as e:  # YAMLError: not a kubeconfig
            source = f"kubeconfig {kubeconfig}" if kubeconfig else "the in-cluster ServiceAccount"
            raise ClusterError(
                f"Cannot load Kubernetes credentials from {source}: {e}",
                hint="Set KUBECONFIG to a readable kubeconfig, or run the bot in a pod (in-cluster).",
            ) from e
        # Resolve the environment's proxy for this host once: left "from the environment", the client
        # re-reads every environment variable on each request (a token refresh re-assigns the host),
        # which was a third of an exec's CPU under a fleet check.
        configuration.proxy = configuration.proxy
        # Fail fast on a dead connection instead of urllib3's default 3 silent retries per read.
        configuration.retries = urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0, other=0)
        configuration.connection_pool_maxsize = pool_size
        # The exec WebSocket's connect and frame reads have no per-call knob and are otherwise
        # unbounded. The setting is process-wide: never lower it under another KubeCluster.
        websocket.setdefaulttimeout(max(websocket.getdefaulttimeout() or 0.0, api_timeout))
        executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="kube")
        return cls(KubeContext(configuration, namespace, executor, api_timeout))

    async def ping(self) -> None:
        """One cheap API call (``GET /version``); raises ClusterError when the API does not answer."""
        api = VersionApi(self._ctx.api_client)
        try:
            await self._ctx.run(functools.partial(api.get_code, _request_timeout=self._ctx.api_timeout))
        except ApiException as e:
            status, message, _ = status_of(e)
            raise ClusterError(f"The Kubernetes API answered {status}: {message}", status=status) from e
        except TRANSPORT_ERRORS as e:
            raise transport(e) from e

    def close(self) -> None:
        """Stop taking work; running calls finish on their own timeouts."""
        self._ctx.executor.shutdown(wait=False, cancel_futures=True)
        self._ctx.close()
