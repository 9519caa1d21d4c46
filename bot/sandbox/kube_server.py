"""``FakeKubeServer``: a Kubernetes API server on 127.0.0.1 that the unmodified official clients talk to."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from bot.sandbox import kube_status as st
from bot.sandbox.cluster import FakeCluster
from bot.sandbox.injection import Fault
from bot.sandbox.kube_exec import handle_exec
from bot.sandbox.kube_routes import BODY, KubeRoutes
from bot.sandbox.request_info import ApiRequest, RequestInfo, resolve

WRITE_METHODS = ("POST", "PUT", "PATCH")


def _error(error: st.ApiError) -> web.Response:
    return web.json_response(error.status(), status=error.code)


class FakeKubeServer:
    def __init__(
        self, cluster: FakeCluster, *, token: str = "fake-token", host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.cluster = cluster
        self.token = token
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._active: set[web.WebSocketResponse] = set()
        self.app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        KubeRoutes(cluster).register(self.app, self._exec)
        self.app.on_shutdown.append(self._close_websockets)

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the fake API server is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def open_execs(self) -> int:
        """Exec WebSockets still open (a client that gave up should bring this back to 0)."""
        return len(self._active)

    async def start(self) -> FakeKubeServer:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeKubeServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def kubeconfig(self, *, namespace: str | None = None, context: str = "fake") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {
                        "cluster": context,
                        "user": context,
                        "namespace": namespace or self.cluster.namespace,
                    },
                }
            ],
            "current-context": context,
        }

    def write_kubeconfig(self, path: str | os.PathLike[str], *, namespace: str | None = None) -> Path:
        """A kubeconfig (plain http, bearer token) pointing at this server; returns its path."""
        target = Path(path)
        target.write_text(
            yaml.safe_dump(self.kubeconfig(namespace=namespace), sort_keys=False), encoding="utf-8"
        )
        target.chmod(0o600)
        return target

    async def _close_websockets(self, app: web.Application) -> None:
        await asyncio.gather(*(ws.close() for ws in list(self._active)), return_exceptions=True)

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        return await handle_exec(request, self.cluster, self._active)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.cluster.settle()
        if request.headers.get("Authorization", "") != f"Bearer {self.token}":
            return _error(st.unauthorized())
        info = resolve(request.method, request.path, dict(request.query))
        body = None
        if request.method in WRITE_METHODS:
            try:
                body = json.loads(await request.read() or b"null")
            except ValueError:
                return _error(st.bad_request("the body of the request was in an unknown format"))
        request[BODY] = body
        self.cluster.requests.append(
            ApiRequest(request.method, request.path, request.query_string, info, body=body)
        )
        fault = self.cluster.match_fault(request.method, request.path)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.gate is not None:
                await fault.gate.wait()
            if fault.status is not None:
                return _error(self._fault_error(fault, info))
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except st.ApiError as e:
            return _error(e)
        except web.HTTPNotFound:
            return _error(st.unknown_resource())
        except web.HTTPMethodNotAllowed:
            return _error(st.ApiError(405, "MethodNotAllowed", "the server does not allow this method"))

    def _fault_error(self, fault: Fault, info: RequestInfo) -> st.ApiError:
        status = fault.status or 500
        if fault.message is None and status == 403 and info.is_resource:
            return st.forbidden(
                verb=info.verb,
                resource=info.resource,
                group=info.group,
                namespace=info.namespace,
                name=info.name,
                user=self.cluster.user,
            )
        if fault.message is None and status == 404 and info.name:
            return st.not_found(info.resource.split("/")[0], info.name, info.group)
        if fault.message is None and status == 409 and info.name:
            return st.conflict(info.resource.split("/")[0], info.name, info.group)
        message = fault.message or f"Internal error occurred: injected failure ({status})"
        return st.ApiError(status, fault.reason or st.reason_for(status), message)
