"""Kubernetes ``Status`` error bodies, shaped exactly as the API server sends them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

DEFAULT_USER = "system:serviceaccount:argo-workflows:codex-bot"


class ApiError(Exception):
    """Raised inside the fake; the server turns it into a Status JSON response."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def reason_for(code: int) -> str:
    """The Status ``reason`` the API server uses for an HTTP status."""
    return {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        405: "MethodNotAllowed",
        409: "Conflict",
        410: "Expired",
        422: "Invalid",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
        504: "Timeout",
    }.get(code) or _phrase(code)


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase.replace(" ", "")
    except ValueError:
        return "Unknown"


def qualified(resource: str, group: str) -> str:
    """``pods`` for the core group, ``workflows.argoproj.io`` otherwise (as in messages)."""
    return f"{resource}.{group}" if group else resource


def _details(resource: str, group: str, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name is not None:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource
    return details


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        404, "NotFound", f'{qualified(resource, group)} "{name}" not found', _details(resource, group, name)
    )


def unknown_resource() -> ApiError:
    """What the API server answers for a resource type no CRD serves."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified(resource, group)} "{name}" already exists',
        _details(resource, group, name),
    )


def conflict(resource: str, name: str, group: str = "") -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": '
        "the object has been modified; please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", message, _details(resource, group, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(resource: str, name: str, message: str, group: str = "") -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'{qualified(resource, group)} "{name}" is invalid: {message}',
        _details(resource, group, name),
    )


def forbidden(
    *, verb: str, resource: str, group: str, namespace: str | None, name: str | None, user: str = DEFAULT_USER
) -> ApiError:
    """``pods "x" is forbidden: User "…" cannot create resource "pods/exec" in API group "" in the …``.

    Worded as the API server's authorizer does, so clients can be tested on the real text.
    """
    top = resource.split("/")[0]
    subject = f'{qualified(top, group)} "{name}"' if name else qualified(top, group)
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{group}"'
    )
    message += where
    return ApiError(403, "Forbidden", message, _details(top, group, name))


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")
