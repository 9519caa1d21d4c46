"""Pod exec over WebSocket (``v4.channel.k8s.io`` / ``v5.channel.k8s.io``, binary frames).

Order on the wire, as the kubelet does it: stdout/stderr frames, one channel-3 Status
frame, then a close frame (1000). See protocols.md §1.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from bot.sandbox import kube_status as st
from bot.sandbox.execsim import ExecCall, ExecOutcome
from bot.sandbox.pods import FakePod

if TYPE_CHECKING:
    from bot.sandbox.cluster import FakeCluster

STDOUT, STDERR, ERROR, CLOSE = 1, 2, 3, 255
FRAME_BYTES = 32 * 1024


def exit_status(code: int) -> dict[str, Any]:
    """The channel-3 Status the kubelet sends when the process ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: command terminated with exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _container(pod: FakePod, requested: str | None) -> str:
    names = list(pod.containers)
    if requested is None:
        if len(names) == 1:
            return names[0]
        raise st.bad_request(
            f"a container name must be specified for pod {pod.name}, choose one of: [{' '.join(names)}]"
        )
    if requested not in pod.containers:
        raise st.bad_request(f"container {requested} is not valid for pod {pod.name}")
    if pod.phase in ("Succeeded", "Failed"):
        raise st.bad_request(f"cannot exec into a container in a completed pod; current phase is {pod.phase}")
    if pod.containers[requested].state != "running":
        raise st.bad_request(f'unable to upgrade connection: container not found ("{requested}")')
    return requested


async def handle_exec(
    request: web.Request, cluster: FakeCluster, active: set[web.WebSocketResponse]
) -> web.StreamResponse:
    name, namespace = request.match_info["name"], request.match_info["ns"]
    pod = cluster.pods.get(name) if namespace == cluster.namespace else None
    if pod is None:
        raise st.not_found("pods", name)
    argv = request.query.getall("command", [])
    if not argv:
        raise st.bad_request("you must specify at least one command for the container")
    container = _container(pod, request.query.get("container"))
    ws = web.WebSocketResponse(protocols=cluster.exec_protocols, compress=False, autoping=True)
    if not ws.can_prepare(request).ok:
        raise st.bad_request("Upgrade request required")
    await ws.prepare(request)
    call = ExecCall(name, container, list(argv), time.time(), request.query_string, ws.ws_protocol)
    cluster.exec_calls.append(call)
    active.add(ws)
    try:
        await _run(ws, request, cluster, call, pod.exec_delay)
    except ConnectionError:
        pass  # the client went away: nothing left to tell it
    finally:
        active.discard(ws)
    return ws


async def _run(
    ws: web.WebSocketResponse, request: web.Request, cluster: FakeCluster, call: ExecCall, delay: float
) -> None:
    if delay > 0:
        await asyncio.sleep(delay)
    outcome = cluster.run_exec(call)
    if outcome.delay > 0:
        await asyncio.sleep(outcome.delay)
    await _send(ws, STDOUT, outcome.stdout.encode())
    await _send(ws, STDERR, outcome.stderr.encode())
    if outcome.hang:
        await _until_client_leaves(ws)
        return
    if outcome.reset:
        if request.transport is not None:
            request.transport.abort()
        return
    if not outcome.drop:
        await _finish(ws, call, outcome, cluster.v5_close_frames)
    await ws.close()


async def _send(ws: web.WebSocketResponse, channel: int, data: bytes) -> None:
    for start in range(0, len(data), FRAME_BYTES):
        await ws.send_bytes(bytes([channel]) + data[start : start + FRAME_BYTES])


async def _finish(
    ws: web.WebSocketResponse, call: ExecCall, outcome: ExecOutcome, close_frames: bool
) -> None:
    if close_frames and call.protocol == "v5.channel.k8s.io":
        await ws.send_bytes(bytes([CLOSE, STDOUT]))
        await ws.send_bytes(bytes([CLOSE, STDERR]))
    await ws.send_bytes(bytes([ERROR]) + json.dumps(exit_status(outcome.exit_code)).encode())


async def _until_client_leaves(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            break
