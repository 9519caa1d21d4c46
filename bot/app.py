"""The composition root: the only place that builds clients and wires them together."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.access import Access
from bot.adapters.github import GithubIssueTracker, GithubPullRequests
from bot.adapters.kubernetes import KubeCluster
from bot.adapters.slack import SlackSurface, make_client
from bot.approvals import Approvers, GroupMembers
from bot.audit import AuditingPodExec
from bot.deps import Deps
from bot.lazy import LazyWork
from bot.metrics import Metrics
from bot.routes import register
from bot.store import Store
from config.settings import Settings

log = logging.getLogger(__name__)

# How long shutdown waits for cancelled background jobs to clean up before the clients close under
# them: the watcher releases its Lease (a GET and a PUT); well inside a pod's 30 s grace period.
BACKGROUND_STOP_SECONDS = 10.0


@dataclass
class Runtime:
    """Long-lived clients; ``close`` releases them in reverse order."""

    deps: Deps
    kube: KubeCluster
    store: Store
    executor: ThreadPoolExecutor
    background: list[Any] = field(default_factory=list)

    async def close(self) -> None:
        """Stops the background jobs and waits (bounded) for their cleanup, e.g. the watcher releasing
        its Lease so another replica takes over at once, then closes the clients."""
        for task in self.background:
            task.cancel()
        if self.background:
            _, pending = await asyncio.wait(self.background, timeout=BACKGROUND_STOP_SECONDS)
            for task in pending:
                log.warning(
                    "background job %s did not stop within %ss", task.get_name(), BACKGROUND_STOP_SECONDS
                )
        self.kube.close()
        await self.store.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


async def open_runtime(
    settings: Settings, *, group_members: GroupMembers, kube: KubeCluster | None = None
) -> Runtime:
    """Connect to the cluster, the store and GitHub. Raises CodexError with a hint on failure.

    ``group_members`` looks up a Slack user group (the Slack surface, or the shell's table)."""
    env, policy = settings.env, settings.policy
    # The Kubernetes pool is sized for the fleet check (each in-flight exec holds a thread of the
    # sync client); GitHub gets a small pool of its own so it never starves cluster calls.
    pool = max(16, policy.fleet.concurrency + 8)
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="github")
    store = await Store.open(env.resolved_database_url())
    if kube is None:
        kube = KubeCluster.connect(
            policy.namespace, env.resolved_kubeconfig(), pool_size=pool, api_timeout=policy.timeouts.api
        )
    issues = pulls = None
    if env.github_token is not None:
        token = env.github_token.get_secret_value()
        writes = policy.github.seconds_between_writes
        reads = min(0.25, writes)
        issues = GithubIssueTracker(
            token,
            env.github_api_url,
            executor=executor,
            timeout=policy.timeouts.api,
            seconds_between_writes=writes,
            seconds_between_requests=reads,
        )
        pulls = GithubPullRequests(
            token,
            env.github_api_url,
            executor=executor,
            timeout=policy.timeouts.api,
            seconds_between_writes=writes,
            seconds_between_requests=reads,
        )
    approvers = Approvers(policy.approvals, group_members)
    deps = Deps(
        settings=settings,
        pods=kube.pods,
        exec=AuditingPodExec(kube.exec, store),
        logs=kube.logs,
        objects=kube.objects,
        store=store,
        access=Access(policy, approvers),
        approvers=approvers,
        metrics=Metrics.create(),
        issues=issues,
        pulls=pulls,
        extras={"leases": kube.leases},
    )
    return Runtime(deps=deps, kube=kube, store=store, executor=executor)


def slack_client(settings: Settings) -> AsyncWebClient:
    token = settings.env.slack_bot_token
    return make_client(token.get_secret_value() if token else "", settings.env.slack_api_url)


def slack_surface(settings: Settings, client: AsyncWebClient | None = None) -> SlackSurface:
    return SlackSurface(client or slack_client(settings), timeout=settings.policy.timeouts.api * 2)


class CodexApp(AsyncApp):
    """The Bolt app, plus the work its listeners started (``work``), which holds back while any
    request is being dispatched (HTTP or Socket Mode)."""

    def __init__(self, *, work: LazyWork, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.work = work

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        with self.work.answering():
            return await super().async_dispatch(req)


def build_app(settings: Settings, deps: Deps, surface: SlackSurface) -> CodexApp:
    """A Bolt app for HTTP or Socket Mode. No module-level app: tests build their own."""
    secret = settings.env.slack_signing_secret
    app = CodexApp(
        work=LazyWork(),
        client=surface.client,
        signing_secret=secret.get_secret_value() if secret else None,
        # Socket Mode has no signatures to check; HTTP mode must have a secret (checked by the CLI).
        request_verification_enabled=secret is not None,
        ignoring_self_events_enabled=True,
        # Ack functions run inline and their response is sent at once; the work is started by
        # them on ``app.work``. (The default mode polls every 10 ms per request for the ack.)
        process_before_response=True,
    )
    register(app, deps, surface, app.work)
    return app
