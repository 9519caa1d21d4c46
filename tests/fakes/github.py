"""Fake GitHub REST API on 127.0.0.1 for the unmodified PyGithub.

Base URL has **no path prefix**: ``Github(base_url=fake.url)`` with ``fake.url ==
"http://127.0.0.1:P"``, the way ``https://api.github.com`` looks, so every URL the fake returns
passes PyGithub's ``__assertUrlAllowed`` (protocols §4.2). Auth is ``Authorization: token T``
(``Bearer`` accepted too). Any non-empty token is accepted unless one is required
(``FakeGithub(token=...)`` or ``require_token``); then another gets 401 "Bad credentials".

Serves (protocols §4): repo, issue, issue comments (create/list with Link pagination/get/
edit/delete, 422 over 65,536 characters), refs, branches, contents (get file or directory,
create/update with sha checks), the Git data API's trees and commits (github_git.py), pull
requests; ``X-RateLimit-*`` headers on every answer.
Injected failures: ``fail`` (any status/message on a method+path glob), ``deny_writes``
(403 "Resource not accessible by integration"), ``rate_limit`` (primary/secondary 403 or 429).
Unknown routes answer 404 and are listed in ``unknown`` so tests notice.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVar

from aiohttp import web

from tests.fakes.github_routes import Routes
from tests.fakes.github_state import GhError, Issue, Pull, Repo

T = TypeVar("T")
RATE_LIMIT = 5000
NO_RIGHTS = "Resource not accessible by integration"
PRIMARY = "API rate limit exceeded for installation ID 4242."
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


@dataclass
class GhRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class _Injected:
    method: str
    path: str  # fnmatch glob on the request path
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    remaining: int | None
    delay: float = 0.0  # > 0: answer normally, only this much later


class FakeGithub(Routes):
    def __init__(self, *, token: str | None = None, user: str = "codex-bot[bot]") -> None:
        super().__init__(user=user)
        self.required_token = token
        self.token = token or "ghp_faketoken"  # a token clients can use
        self.requests: list[GhRequest] = []
        self.unknown: list[str] = []
        self._injected: list[_Injected] = []
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> FakeGithub:
        app = web.Application(middlewares=[self._middleware], client_max_size=16 * 1024 * 1024)
        self.add_routes(app.router)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeGithub:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """``base_url`` for ``Github(...)`` / ``GithubIssueTracker``: http://127.0.0.1:P (no prefix)."""
        if not self.base:
            raise RuntimeError("FakeGithub is not started")
        return self.base

    # ---- setup ---------------------------------------------------------------------------
    def add_repo(
        self, repo: str, *, default_branch: str = "main", files: dict[str, str] | None = None
    ) -> Repo:
        state = self.repos.get(repo) or Repo(repo, default_branch)
        self.repos[repo] = state
        if default_branch not in state.branches:
            tree = {path: text.encode() for path, text in (files or {}).items()}
            state.commit(default_branch, "initial commit", tree)
        return state

    def add_issue(self, repo: str, number: int, title: str = "Codex run failed") -> Issue:
        state = self.add_repo(repo)
        state.issues[number] = state.issues.get(number) or Issue(number, title)
        return state.issues[number]

    def add_comment(self, repo: str, number: int, body: str, user: str = "someone") -> int:
        """A comment somebody else wrote; returns its id."""
        return self.repos[repo].add_comment(number, body, user).id

    # ---- failure injection ---------------------------------------------------------------
    def fail(
        self,
        method: str,
        path: str,
        status: int,
        message: str = "Server Error",
        *,
        times: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer requests matching ``method`` ("*" for any) and the ``path`` glob with ``status``.
        ``times=None`` keeps failing until ``clear_failures()``."""
        body = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(status),
        }
        self._injected.append(_Injected(method.upper(), path, status, body, dict(headers or {}), times))

    def require_token(self, token: str) -> None:
        """From now on only ``token`` is accepted (e.g. after the bot's token was revoked)."""
        self.required_token = self.token = token

    def deny_writes(self, repo: str) -> None:
        """The token can read ``repo`` but not write (a GitHub App without Issues/Contents: write)."""
        self.add_repo(repo).writable = False

    def rate_limit(
        self,
        kind: Literal["primary", "secondary", "429"] = "primary",
        *,
        retry_after: int | None = None,
        reset_in: int = 1,
        times: int = 1,
        method: str = "*",
        path: str = "*",
    ) -> None:
        """primary: 403 "API rate limit exceeded", Remaining 0, Reset now+``reset_in``;
        secondary: 403 secondary-limit message; 429: Too Many Requests. ``retry_after`` adds that header."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if kind == "primary":
            headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + reset_in)}
        status, message = {"primary": (403, PRIMARY), "secondary": (403, SECONDARY)}.get(
            kind, (429, "Too Many Requests")
        )
        self.fail(method, path, status, message, times=times, headers=headers)

    def stall(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """Answer matching requests normally but only after ``seconds`` (a slow GitHub)."""
        self._injected.append(_Injected(method.upper(), path, 0, {}, {}, times, seconds))

    def clear_failures(self) -> None:
        self._injected.clear()

    def _take_injected(self, method: str, path: str) -> _Injected | None:
        for inj in self._injected:
            if inj.method in ("*", method) and fnmatch.fnmatchcase(path, inj.path):
                if inj.remaining is not None:
                    inj.remaining -= 1
                    if inj.remaining <= 0:
                        self._injected.remove(inj)
                return inj
        return None

    # ---- inspection ----------------------------------------------------------------------
    def comments(self, repo: str, number: int) -> list[Any]:
        """The issue's comments as users see them, oldest first (``.body``, ``.versions``, ``.user``)."""
        return list(self.repos[repo].issue(number).comments) if repo in self.repos else []

    def pulls(self, repo: str) -> list[Pull]:
        return list(self.repos[repo].pulls) if repo in self.repos else []

    def files(self, repo: str, branch: str | None = None) -> dict[str, str]:
        """Path -> text of every file on ``branch`` (default branch when None)."""
        tree = self.repos[repo].tree_at(branch)
        return {path: data.decode("utf-8", errors="replace") for path, data in sorted(tree.items())}

    def commits(self, repo: str, branch: str) -> list[str]:
        """Commit messages reachable from ``branch``, newest first."""
        return [c.message for c in self.repos[repo].history(branch)]

    def calls(self, method: str | None = None, path: str = "*") -> list[GhRequest]:
        return [r for r in self.requests if method in (None, r.method) and fnmatch.fnmatchcase(r.path, path)]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Wait until ``predicate()`` is truthy and return its value; re-checked on every request."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result
        except TimeoutError:
            seen = ", ".join(f"{r.method} {r.path}" for r in self.requests[-10:]) or "none"
            raise AssertionError(f"fake GitHub: not seen within {timeout}s; last requests: {seen}") from None

    # ---- HTTP ----------------------------------------------------------------------------
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await _json_body(request)
        response = await self._answer(request, handler, body)
        self._rate_headers(response)
        self.requests.append(
            GhRequest(request.method, request.path, dict(request.query), body, response.status)
        )
        async with self._changed:
            self._changed.notify_all()
        return response

    async def _answer(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]], body: Any
    ) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        given = auth.split(" ", 1)[-1].strip() if " " in auth else ""
        if not given or (self.required_token is not None and given != self.required_token):
            return web.json_response({"message": "Bad credentials", "status": "401"}, status=401)
        injected = self._take_injected(request.method, request.path)
        if injected and injected.delay:
            await asyncio.sleep(injected.delay)
        elif injected:
            return web.json_response(injected.body, status=injected.status, headers=injected.headers)
        repo = self.repos.get(f"{request.match_info.get('owner')}/{request.match_info.get('repo')}")
        if request.method != "GET" and repo is not None and not repo.writable:
            return web.json_response({"message": NO_RIGHTS, "status": "403"}, status=403)
        try:
            return await handler(request)
        except web.HTTPNotFound:
            self.unknown.append(f"{request.method} {request.path}")
            return web.json_response({"message": "Not Found", "status": "404"}, status=404)
        except GhError as e:
            return web.json_response(e.body, status=e.status)

    def _rate_headers(self, response: web.StreamResponse) -> None:
        used = len(self.requests) + 1
        defaults = {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - used)),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "core",
        }
        for key, value in defaults.items():
            response.headers.setdefault(key, value)


async def _json_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    raw = await request.read()
    try:
        return await request.json() if raw else None
    except ValueError:
        return base64.b64encode(raw).decode()
