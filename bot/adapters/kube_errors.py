"""Kubernetes client failures turned into domain errors a user can act on."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from bot.adapters.rbac import KubeCall
from handlers.errors import ClusterError, CodexError, Conflict, NotFound

_HANDSHAKE = re.compile(r"Handshake status (\d{3})")


def _parse_body(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str) or "{" not in raw:
        return None
    text = raw[raw.index("{") :] if not raw.startswith(("b'", 'b"')) else raw
    try:
        if text.startswith(("b'", 'b"')):
            text = ast.literal_eval(text).decode("utf-8", "replace")
            text = text[text.index("{") :]
        body = json.loads(text)
    except (ValueError, SyntaxError):
        return None
    return body if isinstance(body, dict) else None


def status_of(error: ApiException) -> tuple[int, str, dict[str, Any] | None]:
    """HTTP status, the server's message and its Status body, also for a refused WebSocket upgrade."""
    status, reason = int(error.status or 0), str(error.reason or "")
    body = _parse_body(error.body)
    if status == 0 and (m := _HANDSHAKE.search(reason)):
        status = int(m.group(1))
        body = _parse_body(reason.rsplit(" -+-+- ", 1)[-1])
    message = str(body.get("message")) if body and body.get("message") else reason
    return status, message, body


def no_answer(detail: object, *, what: str = "Kubernetes API") -> ClusterError:
    return ClusterError(
        f"{what} did not answer ({detail}).",
        status=0,
        hint="Check that the API server named in the kubeconfig (or in-cluster) is reachable from the bot, "
        "then try again.",
    )


def translate(error: ApiException, call: KubeCall, *, namespace: str, name: str | None = None) -> CodexError:
    status, message, _ = status_of(error)
    if status == 0:
        return no_answer(message or "connection failed")
    if status == 401:
        return ClusterError(
            "The Kubernetes API rejected the bot's credentials (401 Unauthorized).",
            status=401,
            hint="The kubeconfig or ServiceAccount token is invalid or expired.",
        )
    if status == 403:
        return ClusterError(
            f"Kubernetes refused `{call}`: {message}",
            status=403,
            hint=f"the bot's ServiceAccount lacks `{call}` in {namespace}; grant it in the bot's Role.",
        )
    if status == 404:
        return NotFound(message or f"{call.resource} `{name}` was not found in namespace `{namespace}`.")
    if status == 409:
        return Conflict(
            f"{message}" if message else f"{call.resource} `{name}` was changed by someone else.",
            hint="It changed since it was read; run the command again to act on its current state.",
        )
    if status == 429:
        return ClusterError(
            f"The Kubernetes API is throttling requests: {message}", status=429, hint="Try again shortly."
        )
    if status >= 500:
        return ClusterError(f"The Kubernetes API failed ({status}): {message}", status=status)
    return ClusterError(f"The Kubernetes API refused `{call}` ({status}): {message}", status=status)


def transport(error: BaseException) -> ClusterError:
    """A connection-level failure (refused, reset, timed out) on a REST call."""
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        error = error.reason
    if isinstance(error, urllib3.exceptions.TimeoutError | TimeoutError):
        return no_answer("timed out")
    if isinstance(error, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return no_answer("cannot connect: " + str(error).rsplit(": ", 1)[-1])
    if isinstance(error, urllib3.exceptions.ProtocolError | ConnectionError):
        return no_answer("the connection broke off")
    return no_answer(type(error).__name__)
