"""Wire-level facts of the fake API server (protocols.md §1–2), checked with raw and official clients."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from bot.sandbox.cluster import FakeCluster
from bot.sandbox.execsim import ExecOutcome
from bot.sandbox.kube_server import FakeKubeServer
from bot.sandbox.patching import PatchError, json_patch, merge_patch
from bot.sandbox.selectors import label_matcher

POD = "codex-build-healthy-7f9c2"
NS = "argo-workflows"
# How kubernetes 31 and kubernetes_asyncio encode the same exec (protocols.md §1.1).
OLD_QUERY = (
    "command=sh&command=-c&command=echo+hi+%26%26+ls+%2F"
    "&container=main&stderr=True&stdin=False&stdout=True&tty=False"
)


async def _raw_exec(
    server: FakeKubeServer, query: str, protocols: tuple[str, ...]
) -> tuple[str | None, list[bytes], int | None]:
    url = f"{server.url}/api/v1/namespaces/{NS}/pods/{POD}/exec?{query}"
    headers = {"Authorization": f"Bearer {server.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers=headers, protocols=protocols) as ws,
    ):
        frames = []
        async for msg in ws:
            assert msg.type is aiohttp.WSMsgType.BINARY, "the API server sends binary frames only"
            frames.append(msg.data)
        return ws.protocol, frames, ws.close_code


async def test_old_client_query_encoding_and_v4_framing() -> None:
    cluster = FakeCluster.sandbox()
    cluster.on_exec(POD, ["sh", "-c"], ExecOutcome(stdout="hi\n", stderr="ls: oops\n", exit_code=2))
    async with FakeKubeServer(cluster) as server:
        protocol, frames, close_code = await _raw_exec(server, OLD_QUERY, ("v4.channel.k8s.io",))
    assert cluster.exec_calls[-1].argv == ["sh", "-c", "echo hi && ls /"]
    assert protocol == "v4.channel.k8s.io" and close_code == 1000
    assert frames[:2] == [b"\x01hi\n", b"\x02ls: oops\n"]
    assert frames[-1][:1] == b"\x03" and len(frames) == 3
    assert json.loads(frames[-1][1:]) == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: command terminated with exit code 2",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "2"}]},
    }


async def test_v5_is_chosen_when_offered_and_success_status_is_exact() -> None:
    cluster = FakeCluster.sandbox()
    cluster.v5_close_frames = True
    async with FakeKubeServer(cluster) as server:
        query = "command=true&container=main&stderr=true&stdin=false&stdout=true&tty=false"
        protocol, frames, _ = await _raw_exec(server, query, ("v5.channel.k8s.io", "v4.channel.k8s.io"))
    assert protocol == "v5.channel.k8s.io"
    assert frames[-3:] == [b"\xff\x01", b"\xff\x02", b'\x03{"metadata": {}, "status": "Success"}']


def _api(kubeconfig: Path) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


async def test_official_client_preloaded_exec_and_field_selector(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.on_exec(POD, ["both"], ExecOutcome(stdout="out\n", stderr="err\n", exit_code=1))
    async with FakeKubeServer(cluster) as server:
        core = client.CoreV1Api(_api(server.write_kubeconfig(tmp_path / "kubeconfig")))

        def calls() -> tuple[str, list[str]]:
            text = stream(
                core.connect_get_namespaced_pod_exec,
                POD,
                NS,
                command=["both"],
                container="main",
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
            )
            pods = core.list_namespaced_pod(NS, field_selector=f"metadata.name={POD}")
            return text, [p.metadata.name for p in pods.items]

        text, names = await asyncio.to_thread(calls)
    assert text == "out\nerr\n" and names == [POD]


async def test_status_errors_as_the_api_server_words_them(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.fail("GET", r"/configmaps/codex-bot-flags$", 403, times=1)
    async with FakeKubeServer(cluster) as server:
        core = client.CoreV1Api(_api(server.write_kubeconfig(tmp_path / "kubeconfig")))

        def errors() -> list[dict[str, Any]]:
            found = []
            for call in (
                lambda: core.read_namespaced_config_map("codex-bot-flags", NS),
                lambda: core.read_namespaced_pod("nope", NS),
                lambda: core.list_namespaced_secret(NS),
            ):
                with pytest.raises(ApiException) as caught:
                    call()
                found.append(json.loads(caught.value.body))
            return found

        forbidden, missing, unknown = await asyncio.to_thread(errors)
    user = "system:serviceaccount:argo-workflows:codex-bot"
    assert forbidden["message"] == (
        f'configmaps "codex-bot-flags" is forbidden: User "{user}" cannot get '
        'resource "configmaps" in API group "" in the namespace "argo-workflows"'
    )
    assert (forbidden["reason"], forbidden["code"], forbidden["details"]) == (
        "Forbidden",
        403,
        {"name": "codex-bot-flags", "kind": "configmaps"},
    )
    assert missing == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }
    assert unknown["message"] == "the server could not find the requested resource"


async def test_json_patch_limit_bytes_previous_and_bad_token(tmp_path: Path) -> None:
    cluster = FakeCluster.sandbox()
    cluster.restart_container(POD, "docker")
    async with FakeKubeServer(cluster) as server:
        api = _api(server.write_kubeconfig(tmp_path / "kubeconfig"))
        custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)

        def calls() -> tuple[Any, str, str]:
            ops = [
                {"op": "test", "path": "/spec/suspend", "value": False},
                {"op": "replace", "path": "/spec/suspend", "value": True},
            ]
            patched = custom.patch_namespaced_custom_object(
                "argoproj.io",
                "v1alpha1",
                NS,
                "cronworkflows",
                "codex-nightly",
                ops,
                _content_type="application/json-patch+json",  # v37 sends merge-patch unless told
            )
            head = core.read_namespaced_pod_log(POD, NS, container="docker", limit_bytes=10)
            previous = core.read_namespaced_pod_log(POD, NS, container="docker", previous=True)
            return patched["spec"]["suspend"], head, previous

        suspended, head, previous = await asyncio.to_thread(calls)
        async with aiohttp.ClientSession() as session:
            resp = await session.get(
                f"{server.url}/api/v1/namespaces/{NS}/pods", headers={"Authorization": "Bearer wrong"}
            )
            body = await resp.json()
    assert suspended is True
    assert head == "+ exec roo"
    assert "API listen on 127.0.0.1:2375" in previous
    patch = next(r for r in cluster.requests if r.method == "PATCH")
    assert patch.body[1] == {"op": "replace", "path": "/spec/suspend", "value": True}  # recorded as sent
    assert resp.status == 401 and body["reason"] == "Unauthorized"


def test_label_selectors() -> None:
    labels = {"codex.stage": "build", "app": "x"}
    assert label_matcher("codex.stage")(labels) and not label_matcher("!codex.stage")(labels)
    assert label_matcher("codex.stage in (build, validate),app=x")(labels)
    assert label_matcher("codex.stage notin (validate)")(labels)
    assert label_matcher("missing!=y")(labels) and not label_matcher("app==y")(labels)


def test_merge_and_json_patch() -> None:
    doc = {"spec": {"suspend": False, "env": [{"name": "A"}, {"name": "B"}]}, "keep": 1}
    assert merge_patch(doc, {"spec": {"suspend": True, "env": None}}) == {
        "spec": {"suspend": True},
        "keep": 1,
    }
    assert json_patch(doc, [{"op": "remove", "path": "/spec/env/0"}])["spec"]["env"] == [{"name": "B"}]
    assert json_patch(doc, [{"op": "add", "path": "/spec/env/-", "value": {"name": "C"}}])["spec"]["env"][
        -1
    ] == {"name": "C"}
    with pytest.raises(PatchError, match="testing value"):
        json_patch(doc, [{"op": "test", "path": "/keep", "value": 2}])
    assert doc["spec"]["suspend"] is False  # inputs never change
