"""``KubePodExec``: run an argv in a container over the exec WebSocket, bounded by a timeout."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from websocket import WebSocketException

from bot.adapters.kube_context import KubeContext
from bot.adapters.kube_errors import no_answer, translate
from bot.adapters.rbac import POD_EXEC, require
from handlers.errors import ClusterError
from handlers.ports import ExecResult

STDOUT, STDERR, STATUS = 1, 2, 3
# How often a waiting exec checks whether its caller gave up (cancellation).
POLL_SLICE = 0.25
CLOSE_TIMEOUT = 1.0
# The client reads the WebSocket handshake one byte per recv() call, each a GIL hand-off: with 64
# threads opening execs at once, the hand-offs cost more CPU than the execs. Bounding the
# handshakes in progress halved the bot's CPU in a 64-wide fleet check (bench/fleet.py); the
# bound only queues connects at concurrencies above it.
HANDSHAKES_AT_ONCE = 16


def exit_code(raw: bytes | str, pod: str, container: str) -> int:
    """The exit code from the channel-3 Status; a missing Status is an error, never a pass."""
    where = f"`{container}` in `{pod}`"
    if not raw:
        raise ClusterError(
            f"The exec into {where} ended without an exit status: the connection dropped.",
            hint="The API server or kubelet closed the stream early. Run it again; if it repeats, "
            "check the pod's node.",
        )
    try:
        status: Any = json.loads(raw)
    except ValueError:
        raise ClusterError(f"The exec into {where} sent an unreadable exit status.") from None
    if not isinstance(status, dict):
        raise ClusterError(f"The exec into {where} sent an unreadable exit status.")
    if status.get("status") == "Success":
        return 0
    causes = (status.get("details") or {}).get("causes") or []
    for cause in causes:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                break
    raise ClusterError(
        f"The exec into {where} failed: {status.get('message') or 'no reason given'}",
        status=int(status.get("code") or 500),
    )


def _consume(future: asyncio.Future[ExecResult]) -> None:
    """Nobody awaits an abandoned exec any more: read its outcome so asyncio does not warn."""
    if not future.cancelled():
        future.exception()


class KubePodExec:
    def __init__(self, ctx: KubeContext) -> None:
        self._ctx = ctx
        self._handshakes = threading.BoundedSemaphore(HANDSHAKES_AT_ONCE)

    async def run(self, pod: str, container: str, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run ``argv``; past ``timeout`` the exec is abandoned and reported as timed out."""
        require(POD_EXEC)
        command = [str(a) for a in argv]
        if not command:
            raise ValueError("an exec needs a non-empty argv")
        abandon = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(
            self._ctx.executor, self._run, pod, container, command, timeout, abandon
        )
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            abandon.set()  # the worker closes the WebSocket within POLL_SLICE
            future.add_done_callback(_consume)
            raise

    def _connect(self, pod: str, container: str, command: list[str]) -> Any:
        api = self._ctx.exec_api()
        try:
            return stream(
                api.connect_get_namespaced_pod_exec,
                pod,
                self._ctx.namespace,
                command=command,
                container=container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                binary=True,
                _preload_content=False,
                _request_timeout=self._ctx.api_timeout,
            )
        except ApiException as e:
            raise translate(e, POD_EXEC, namespace=self._ctx.namespace, name=pod) from e
        except (WebSocketException, OSError) as e:
            raise no_answer(e) from e

    def _run(
        self, pod: str, container: str, command: list[str], timeout: float, abandon: threading.Event
    ) -> ExecResult:
        started = time.monotonic()
        deadline = started + timeout
        # An exec whose turn to connect never came within its timeout, or whose caller gave up
        # meanwhile, must not start the command afterwards.
        if not self._handshakes.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return ExecResult("", "", None, time.monotonic() - started, timed_out=True)
        try:
            if abandon.is_set():
                return ExecResult("", "", None, time.monotonic() - started, timed_out=True)
            ws = self._connect(pod, container, command)
        finally:
            self._handshakes.release()
        out, err = bytearray(), bytearray()
        timed_out = False
        try:
            while ws.is_open():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or abandon.is_set():
                    timed_out = True
                    break
                ws.update(timeout=min(remaining, POLL_SLICE))
                out += ws.read_channel(STDOUT)
                err += ws.read_channel(STDERR)
            out += ws.read_channel(STDOUT)
            err += ws.read_channel(STDERR)
            status = b"" if timed_out else ws.read_channel(STATUS)
        except (WebSocketException, OSError) as e:
            raise ClusterError(
                f"The exec into `{container}` in `{pod}` broke off before the command finished ({e}).",
                hint="The connection to the API server dropped; the outcome is unknown. Run it again.",
            ) from e
        finally:
            ws.close(timeout=CLOSE_TIMEOUT)
        duration = time.monotonic() - started
        stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        if timed_out:
            return ExecResult(stdout, stderr, None, duration, timed_out=True)
        return ExecResult(stdout, stderr, exit_code(status, pod, container), duration)
