"""What every Kubernetes adapter shares: API clients, namespace, the bounded executor, timeouts.

The official client is synchronous, so every call runs on a bounded ThreadPoolExecutor
and is awaited from the event loop; every call carries ``_request_timeout``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import urllib3
from kubernetes.client import ApiClient, Configuration, CoordinationV1Api, CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from bot.adapters.kube_errors import translate, transport
from bot.adapters.rbac import KubeCall, require

T = TypeVar("T")

# Connection-level failures of a REST call (urllib3 wraps most; sockets raise OSError).
TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError)


def read_json(response: Any) -> Any:
    """The JSON body of a response fetched with ``_preload_content=False``."""
    data = response.data if isinstance(response, urllib3.BaseHTTPResponse) else response.read()
    return json.loads(data or b"null")


class KubeContext:
    def __init__(
        self, configuration: Configuration, namespace: str, executor: ThreadPoolExecutor, api_timeout: float
    ) -> None:
        self.configuration = configuration
        self.namespace = namespace
        self.executor = executor
        self.api_timeout = api_timeout
        self.api_client = ApiClient(configuration)
        self.core = CoreV1Api(self.api_client)
        self.custom = CustomObjectsApi(self.api_client)
        self.coordination = CoordinationV1Api(self.api_client)
        self._local = threading.local()
        self._exec_clients: list[ApiClient] = []
        self._lock = threading.Lock()

    def exec_api(self) -> CoreV1Api:
        """A CoreV1Api private to this worker thread.

        ``kubernetes.stream.stream`` swaps ``call_api`` on the ApiClient for the duration of
        a call, which is unsafe on a client shared between threads.
        """
        api: CoreV1Api | None = getattr(self._local, "exec_api", None)
        if api is None:
            client = ApiClient(self.configuration)
            with self._lock:
                self._exec_clients.append(client)
            api = self._local.exec_api = CoreV1Api(client)
        return api

    async def run(self, fn: Callable[[], T]) -> T:
        """Run a blocking function on the bounded executor."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def call(
        self, call: KubeCall, fn: Callable[..., T], *args: Any, name: str | None = None, **kwargs: Any
    ) -> T:
        """One declared API call, with a timeout, its failures translated into domain errors."""
        require(call)
        kwargs.setdefault("_request_timeout", self.api_timeout)
        try:
            return await self.run(functools.partial(fn, *args, **kwargs))
        except ApiException as e:
            raise translate(e, call, namespace=self.namespace, name=name) from e
        except TRANSPORT_ERRORS as e:
            raise transport(e) from e

    async def call_json(
        self, call: KubeCall, fn: Callable[..., Any], *args: Any, name: str | None = None, **kwargs: Any
    ) -> Any:
        """Like ``call`` but returns the raw JSON (dicts), skipping the client's model layer."""

        def fetch(_request_timeout: Any) -> Any:
            return read_json(fn(*args, _preload_content=False, _request_timeout=_request_timeout, **kwargs))

        return await self.call(call, fetch, name=name)

    def close(self) -> None:
        with self._lock:
            clients, self._exec_clients = self._exec_clients, []
        for client in [self.api_client, *clients]:
            client.close()  # type: ignore[no-untyped-call]
