"""PyGithub off the event loop, bounded in time, with GitHub's answers turned into ExternalError.

Shared by the issue-comment and pull-request adapters (github.py, github_pr.py).
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
import urllib3
from github import Auth, Github, GithubException, GithubRetry, RateLimitExceededExceedsMaxWait
from urllib3.response import HTTPResponse

from handlers.errors import ExternalError

T = TypeVar("T")
STATUS_PAGE = "https://www.githubstatus.com"
# urllib3 retries only these methods. PATCH (editing a comment) sets the whole body, so sending it
# again is harmless; without it a rate limit on an edit failed at once, never waited out.
RETRIED_METHODS = GithubRetry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"}
# Retries made by the call running on this thread, so errors can say truthfully whether the bot
# waited and retried (PyGithub's exception does not tell).
_retries = threading.local()


@dataclass(frozen=True)
class Target:
    """What a call acts on, so errors can name it: ``issue acme/widgets#7`` / ``Issues: write``."""

    what: str
    repo: str
    permission: str


class BoundedRetry(GithubRetry):
    """GithubRetry that never sleeps longer than ``max_rate_limit_wait`` for a ``Retry-After``
    (stock urllib3 sleeps whatever the server says), never repeats a POST after a 5xx
    (the comment or pull request may already exist), and also retries PATCH (see RETRIED_METHODS)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allowed_methods", RETRIED_METHODS)
        super().__init__(**kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST" and status_code >= 500:
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> Any:
        response: HTTPResponse | None = kwargs.get("response", args[0] if args else None)
        if response is not None and self.max_rate_limit_wait is not None:
            wait = _seconds(response.headers.get("Retry-After"))
            if wait is not None and wait > self.max_rate_limit_wait:
                body = _json_or_none(GithubRetry.get_content(response, url or ""))
                raise RateLimitExceededExceedsMaxWait(
                    response.status, body, dict(response.headers), wait=wait
                )
        retry = super().increment(method, url, *args, **kwargs)  # raises when no retry is left
        _retries.count = getattr(_retries, "count", 0) + 1
        return retry


class GithubClient:
    """One PyGithub client; ``run`` calls it on ``executor`` within ``deadline`` seconds."""

    def __init__(
        self,
        token: str,
        base_url: str,
        *,
        executor: Executor,
        timeout: float,
        max_rate_limit_wait: float = 10.0,
        retries: int = 2,
        seconds_between_requests: float = 0.25,
        seconds_between_writes: float = 1.0,
        deadline: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_rate_limit_wait = max_rate_limit_wait
        self.executor = executor
        # Whole operation: each request may time out and be retried, each retry may wait.
        self.deadline = deadline or (retries + 2) * timeout + retries * max_rate_limit_wait
        retry = BoundedRetry(
            total=retries,
            backoff_factor=0.25,
            backoff_max=2.0,
            max_rate_limit_wait=max_rate_limit_wait,
            raise_on_status=False,  # after the last retry PyGithub raises its own, readable exception
        )
        self.gh = Github(
            base_url=self.base_url,
            auth=Auth.Token(token),
            timeout=max(1, math.ceil(timeout)),
            retry=retry,
            per_page=100,
            lazy=True,  # no GET of repo/issue before the call that matters
            seconds_between_requests=seconds_between_requests or None,
            seconds_between_writes=seconds_between_writes or None,
        )

    async def run(self, target: Target, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, lambda: self._call(target, fn, *args))
        try:
            return await asyncio.wait_for(future, self.deadline)
        except TimeoutError:
            raise ExternalError(
                f"GitHub did not finish the request on {target.what} within {self.deadline:g} s",
                service="github",
                hint="GitHub may be slow or rate limiting the bot; try again in a few minutes",
            ) from None

    def _call(self, target: Target, fn: Callable[..., T], *args: Any) -> T:
        _retries.count = 0
        try:
            return fn(*args)
        except GithubException as e:
            raise github_error(e, target, self.max_rate_limit_wait, retried=_retries.count) from e
        except requests.RequestException as e:
            raise self._unreachable(e, target) from e

    def _unreachable(self, e: requests.RequestException, target: Target) -> ExternalError:
        reason = getattr(e.args[0], "reason", None) if e.args else None
        if isinstance(e, requests.Timeout) or isinstance(
            reason, TimeoutError | urllib3.exceptions.TimeoutError
        ):
            return ExternalError(
                f"GitHub did not answer within {self.timeout:g} s ({target.what})",
                service="github",
                hint="try again; if it keeps happening check GitHub's status page " + STATUS_PAGE,
            )
        return ExternalError(
            f"could not reach GitHub at {self.base_url}",
            service="github",
            hint=f"check GITHUB_API_URL and the network from the bot ({type(e).__name__})",
        )


def github_error(e: GithubException, target: Target, max_wait: float, *, retried: int = 0) -> ExternalError:
    """The sentence and hint a user reads for GitHub's answer ``e`` about ``target``;
    ``retried``: how many times the bot sent the request again before giving up."""
    status, said = e.status, _message(e.data)
    headers = {k.lower(): v for k, v in (e.headers or {}).items()}
    if _is_rate_limit(status, said, headers):
        return _rate_limited(e, headers, max_wait, retried)
    if status == 401:
        return ExternalError(
            "GitHub rejected the bot's token (401 Bad credentials)",
            service="github",
            status=401,
            hint="GITHUB_TOKEN is wrong, expired or revoked; set a valid token and restart the bot",
        )
    if status == 404:
        return ExternalError(
            f"{target.what} not found (or the token cannot see it)",
            service="github",
            status=404,
            hint=f"check the name and number, and that the bot's token has access to {target.repo}",
        )
    if status == 403:
        return ExternalError(
            f"GitHub refused: the token lacks {target.permission} on {target.repo}",
            service="github",
            status=403,
            hint=f"grant the bot's token (or GitHub App) {target.permission} on {target.repo}"
            + (f" — GitHub said: {said}" if said else ""),
        )
    if status == 422 and "too long" in said:
        return ExternalError(
            f"GitHub refused the text for {target.what}: it is too long ({said})",
            service="github",
            status=422,
            hint="nothing was changed on the issue; the full output is in the Slack thread — link the "
            "thread from the issue by hand, and tell the bot's maintainers (GitHub counted the text "
            "longer than the bot's size check did)",
        )
    if status >= 500:
        return ExternalError(
            f"GitHub is having trouble (HTTP {status}) with {target.what}",
            service="github",
            status=status,
            hint=f"try again in a few minutes; see {STATUS_PAGE}",
        )
    return ExternalError(
        f"GitHub refused the request on {target.what} (HTTP {status}): {said or 'no details'}",
        service="github",
        status=status,
    )


def _is_rate_limit(status: int, said: str, headers: Mapping[str, str]) -> bool:
    if status == 429:
        return True
    if status != 403:
        return False
    return (
        "rate limit" in said.lower()
        or "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
    )


def _rate_limited(
    e: GithubException, headers: Mapping[str, str], max_wait: float, retried: int
) -> ExternalError:
    wait = e.wait if isinstance(e, RateLimitExceededExceedsMaxWait) else _seconds(headers.get("retry-after"))
    reset = (
        _seconds(headers.get("x-ratelimit-reset")) if headers.get("x-ratelimit-remaining") == "0" else None
    )
    if wait is None and reset is not None:
        wait = max(0.0, reset - datetime.now(UTC).timestamp())
    if wait is not None and wait > max_wait:
        message = (
            f"GitHub rate limit reached: GitHub asks to wait {_duration(wait)}, longer than the bot may wait"
        )
    elif retried:
        times = "once" if retried == 1 else f"{retried} times"
        message = f"GitHub rate limit reached, and still in force after the bot waited and retried {times}"
    else:
        message = f"GitHub rate limit reached (HTTP {e.status}); the bot did not retry"
    when = f"in about {_duration(wait)}" if wait else "in a few minutes"
    if reset is not None:
        when += f" (the limit resets at {datetime.fromtimestamp(reset, UTC):%H:%M:%S} UTC)"
    return ExternalError(message, service="github", status=e.status, hint=f"try again {when}")


def _message(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get("message") or "")]
    for err in data.get("errors") or []:
        if isinstance(err, dict) and err.get("message"):
            parts.append(str(err["message"]))
    return ": ".join(p for p in parts if p)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    return f"{math.ceil(seconds)} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
