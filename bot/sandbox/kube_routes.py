"""REST endpoints of the fake API server: discovery, pods, logs, and every stored object type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox import kube_status as st
from bot.sandbox.logs import ContainerLog
from bot.sandbox.objects import ResourceType
from bot.sandbox.pods import FakePod
from bot.sandbox.selectors import field_matcher, label_matcher

if TYPE_CHECKING:
    from bot.sandbox.cluster import FakeCluster

BODY: web.RequestKey[Any] = web.RequestKey(
    "body", object
)  # the parsed JSON body of a write, set by the server's middleware

VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.2",
    "gitCommit": "5864a4677267e6adeae276ad85882a8714d69d9d",
    "gitTreeState": "clean",
    "buildDate": "2024-10-22T20:28:14Z",
    "goVersion": "go1.22.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _int(request: web.Request, key: str) -> int | None:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise st.bad_request(f'invalid value for {key}: "{raw}"') from None


def _bool(request: web.Request, key: str) -> bool:
    return request.query.get(key, "").lower() in ("true", "1")


class KubeRoutes:
    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    def register(self, app: web.Application, exec_handler: Any) -> None:
        r = app.router
        r.add_get("/version", self.version)
        r.add_get("/version/", self.version)
        r.add_get("/api", self.api_versions)
        r.add_get("/apis", self.api_groups)
        r.add_get("/api/v1/pods", self.list_pods)
        r.add_get("/api/v1/namespaces/{ns}/pods", self.list_pods)
        r.add_get("/api/v1/namespaces/{ns}/pods/{name}", self.get_pod)
        r.add_get("/api/v1/namespaces/{ns}/pods/{name}/log", self.pod_log)
        r.add_route("*", "/api/v1/namespaces/{ns}/pods/{name}/exec", exec_handler)
        for prefix in ("/api/{version}", "/apis/{group}/{version}"):
            for scope in ("/namespaces/{ns}", ""):
                r.add_route("*", f"{prefix}{scope}/{{plural}}", self.collection)
                r.add_route("*", f"{prefix}{scope}/{{plural}}/{{name}}", self.item)

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response(VERSION)

    async def api_versions(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        )

    async def api_groups(self, request: web.Request) -> web.Response:
        groups: dict[str, str] = {}
        for group, plural in sorted(self.cluster.objects.installed):
            if group:
                groups[group] = self.cluster.objects.types[(group, plural)].version
        items = [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
            }
            for g, v in groups.items()
        ]
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})

    # -- pods -----------------------------------------------------------------------------------

    def _pod(self, request: web.Request) -> FakePod:
        name = request.match_info["name"]
        pod = self.cluster.pods.get(name)
        if pod is None or request.match_info["ns"] != self.cluster.namespace:
            raise st.not_found("pods", name)
        return pod

    async def list_pods(self, request: web.Request) -> web.Response:
        namespace = request.match_info.get("ns")
        by_label = label_matcher(request.query.get("labelSelector"))
        by_field = field_matcher(request.query.get("fieldSelector"))
        items = []
        if namespace in (None, self.cluster.namespace):
            items = [
                body
                for pod in self.cluster.pods.values()
                if by_label(pod.labels) and by_field(body := pod.to_json())
            ]
        limit = _int(request, "limit")
        return web.json_response(self._list("PodList", "v1", items[:limit] if limit else items))

    async def get_pod(self, request: web.Request) -> web.Response:
        return web.json_response(self._pod(request).to_json())

    def _log_container(self, pod: FakePod, requested: str | None) -> str:
        names = list(pod.containers)
        if requested is None:
            if len(names) != 1:
                choices = " ".join(names)
                raise st.bad_request(
                    f"a container name must be specified for pod {pod.name}, choose one of: [{choices}]"
                )
            requested = names[0]
        box = pod.containers.get(requested)
        if box is None:
            raise st.bad_request(f'container "{requested}" is not valid for pod "{pod.name}"')
        if box.state == "waiting":
            why = box.reason or "ContainerCreating"
            raise st.bad_request(f'container "{requested}" in pod "{pod.name}" is waiting to start: {why}')
        return requested

    async def pod_log(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        container = self._log_container(pod, request.query.get("container"))
        previous = _bool(request, "previous")
        if previous and not pod.containers[container].last_terminated:
            raise st.bad_request(f'previous terminated container "{container}" in pod "{pod.name}" not found')
        since, tail, limit = (
            _int(request, "sinceSeconds"),
            _int(request, "tailLines"),
            _int(request, "limitBytes"),
        )
        log = self.cluster.logs.get((pod.name, container)) or ContainerLog()
        chunks = log.chunks(
            since_seconds=since, tail_lines=tail, timestamps=_bool(request, "timestamps"), previous=previous
        )
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        try:
            for chunk in chunks:
                if limit is not None:
                    chunk = chunk[: max(limit - sent, 0)]
                await response.write(chunk)
                sent += len(chunk)
                if limit is not None and sent >= limit:
                    break
            await response.write_eof()
        except ConnectionError:
            pass  # the reader hung up early; that is its right
        return response

    # -- stored objects -------------------------------------------------------------------------

    def _rtype(self, request: web.Request) -> ResourceType:
        info = request.match_info
        rtype = self.cluster.objects.resolve(info.get("group", ""), info["version"], info["plural"])
        if rtype.namespaced != ("ns" in info):
            raise st.unknown_resource()
        return rtype

    def _list(self, kind: str, api_version: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        meta = {"resourceVersion": self.cluster.resource_version}
        return {"kind": kind, "apiVersion": api_version, "metadata": meta, "items": items}

    async def collection(self, request: web.Request) -> web.Response:
        rtype, ns = self._rtype(request), request.match_info.get("ns")
        if request.method == "GET":
            if _bool(request, "watch"):
                raise st.bad_request("watch is not supported by the fake API server")
            items = self.cluster.objects.list(
                rtype, ns, request.query.get("labelSelector"), request.query.get("fieldSelector")
            )
            return web.json_response(self._list(f"{rtype.kind}List", rtype.api_version, items))
        if request.method == "POST":
            return web.json_response(self.cluster.objects.create(rtype, ns, request[BODY]), status=201)
        raise st.ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    async def item(self, request: web.Request) -> web.Response:
        rtype, ns, name = self._rtype(request), request.match_info.get("ns"), request.match_info["name"]
        store = self.cluster.objects
        if request.method == "GET":
            return web.json_response(store.get(rtype, ns, name))
        if request.method == "PUT":
            return web.json_response(store.replace(rtype, ns, name, request[BODY]))
        if request.method == "PATCH":
            return web.json_response(store.patch(rtype, ns, name, request[BODY], request.content_type))
        if request.method == "DELETE":
            return web.json_response(store.delete(rtype, ns, name))
        raise st.ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )
