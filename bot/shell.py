"""Terminal chat: type `/codex …` as in Slack. With --sandbox it runs against a simulated cluster."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.app import Runtime, open_runtime
from bot.commands import parse
from bot.flows import ACTIONS, dispatch, dispatch_action, dispatch_form
from bot.flows.registry import BACKGROUND, ActionInvocation, FormSubmission, Invocation, Reply, error_message
from bot.sandbox.cluster import FakeCluster
from bot.sandbox.issues import SandboxIssues
from bot.sandbox.kube_server import FakeKubeServer
from bot.surface import Message
from bot.terminal import TerminalSurface
from config.settings import Environment, Policy, Settings
from handlers.errors import CodexError, UsageError

SANDBOX_CHANNEL = "C0SANDBOX"
SANDBOX_USER = "U0ONCALL"
SANDBOX_APPROVER = "U0APPROVER"

SHELL_HELP = f"""Type commands as in Slack: /codex help, /codex pods, /codex validate <pod> …
  /as <user-id>            act as another Slack user (approvers: {SANDBOX_APPROVER})
  /click <action> <value>  press a button shown in a message (<value> `last`: the most recent one's)
  /click <action> <value> <text>   … and answer the form it opens (e.g. a deny reason)
  /sandbox pods | break <pod> | heal <pod>   change the simulated cluster
  /quit                    leave"""

# What runs in the background of a shell, as under `serve`: expiring pending approvals (so an
# expired request is announced) and reporting restarts interrupted by an earlier bot process. Not
# the watcher or the periodic fleet check: a terminal is no place for a cluster-wide duty.
SHELL_BACKGROUND = ("approval-expiry", "restart-recovery")

Ask = Callable[[str], Awaitable[str]]


@dataclass
class Session:
    runtime: Runtime
    surface: TerminalSurface
    out: TextIO
    channel: str
    user: str
    cluster: FakeCluster | None = None
    ask: Ask | None = None  # reads a form field's answer; None when input is a script


def sandbox_policy(policy: Policy) -> Policy:
    """Fill what a sandbox needs (an incident channel, an approver) where the config left it empty."""
    slack = policy.slack.model_copy(
        update={
            "incident_channel": policy.slack.incident_channel or "C0INCIDENT",
            "oncall_group": policy.slack.oncall_group or "S0ONCALL",
        }
    )
    approvals = policy.approvals
    if approvals.approvers.unrestricted:
        approvers = approvals.approvers.model_copy(update={"users": [SANDBOX_APPROVER]})
        approvals = approvals.model_copy(update={"approvers": approvers})
    github = policy.github.model_copy(update={"default_repo": policy.github.default_repo or "acme/widgets"})
    return policy.model_copy(update={"slack": slack, "approvals": approvals, "github": github})


@contextlib.asynccontextmanager
async def _sandbox(settings: Settings) -> AsyncIterator[tuple[Settings, FakeCluster]]:
    cluster = FakeCluster.sandbox(namespace=settings.policy.namespace)
    with tempfile.TemporaryDirectory(prefix="codex-sandbox-") as tmp:
        async with FakeKubeServer(cluster) as server:
            kubeconfig = Path(tmp) / "kubeconfig"
            server.write_kubeconfig(kubeconfig)
            env = Environment.model_validate(
                {
                    **settings.env.model_dump(),
                    "kubeconfig": str(kubeconfig),
                    "state_dir": tmp,
                    "database_url": None,
                }
            )
            yield Settings(env=env, policy=sandbox_policy(settings.policy)), cluster


@contextlib.asynccontextmanager
async def session(
    settings: Settings, *, sandbox: bool, out: TextIO, background: bool = False
) -> AsyncIterator[Session]:
    """The bot in a terminal. ``background``: also run SHELL_BACKGROUND, as a shell does."""
    async with contextlib.AsyncExitStack() as stack:
        cluster = None
        files = Path(settings.env.state_dir) / "files"
        if sandbox:
            # The sandbox's cluster and database go with the session; the files it shows are kept
            # (one folder per session) so the paths it printed still open after /quit.
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            files = Path(settings.env.state_dir) / "sandbox" / f"{stamp}-{os.getpid()}" / "files"
            settings, cluster = await stack.enter_async_context(_sandbox(settings))
        surface = TerminalSurface(out, files_dir=files, groups={})
        runtime = await open_runtime(settings, group_members=surface.group_members)
        stack.push_async_callback(runtime.close)
        if sandbox and runtime.deps.issues is None:
            runtime.deps.issues = SandboxIssues(files / "github")
        if background:
            runtime.background += [
                asyncio.create_task(BACKGROUND[name](runtime.deps, surface), name=name)
                for name in SHELL_BACKGROUND
            ]
        yield Session(runtime, surface, out, SANDBOX_CHANNEL, SANDBOX_USER, cluster)


def _reply(s: Session) -> Reply:
    async def reply(message: Message) -> None:
        await s.surface.ephemeral(s.channel, s.user, message)

    return reply


async def run_line(s: Session, line: str) -> str:
    """One line of input; returns the outcome (ok, failed, an error name, or quit)."""
    line = line.strip()
    if not line:
        return "ok"
    if line in ("/quit", "/exit", "quit", "exit"):
        return "quit"
    if line in ("/help", "help?"):
        print(SHELL_HELP, file=s.out)
        return "ok"
    try:
        if line.startswith("/as "):
            s.user = line.split(maxsplit=1)[1].strip()
            print(f"now acting as {s.user}", file=s.out)
            return "ok"
        if line == "/click" or line.startswith("/click "):
            return await _click(s, line)
        if line.startswith("/sandbox"):
            return _sandbox_command(s, line)
        text = line.removeprefix(s.runtime.deps.policy.slack.command).strip()
        inv = Invocation(
            command=parse(text),
            user=s.user,
            channel=s.channel,
            surface=s.surface,
            deps=s.runtime.deps,
            reply=_reply(s),
        )
        return await dispatch(inv)
    except CodexError as e:
        message, outcome = error_message(e)
        print(message.plain, file=s.out)
        return outcome


def _shown_buttons(s: Session) -> str:
    shown = s.surface.buttons()
    if not shown:
        return "No message shows a button now."
    return "Buttons shown now:\n" + "\n".join(f"  [{b.label}]  {b.click}" for b in shown)


async def _click(s: Session, line: str) -> str:
    """`/click <action> [<value>|last] [text]`: press a button; text answers the form it opens."""
    parts = line.split(maxsplit=3)
    if len(parts) < 2:
        raise UsageError("Usage: /click <action> <value> (or `last`) [text]", hint=_shown_buttons(s))
    action_id = parts[1]
    if action_id not in ACTIONS:
        raise UsageError(f"There is no button `{action_id}`.", hint=_shown_buttons(s))
    if len(parts) < 3:
        raise UsageError(f"Which `{action_id}` button? Give its value, or `last`.", hint=_shown_buttons(s))
    value, text = parts[2], parts[3] if len(parts) > 3 else None
    if value == "last":
        button = s.surface.last_button(action_id)
        if button is None:
            raise UsageError(f"No message shows a `{action_id}` button now.", hint=_shown_buttons(s))
        value = button.value
    trigger = s.surface.new_trigger()
    act = ActionInvocation(
        action_id=action_id,
        value=value,
        user=s.user,
        channel=s.channel,
        message=None,
        surface=s.surface,
        deps=s.runtime.deps,
        reply=_reply(s),
        trigger_id=trigger,
    )
    outcome = await dispatch_action(act)
    view = s.surface.take_form(trigger)
    if view is not None:
        return await _submit_form(s, view, text)
    if text is not None:
        print(f"(`{action_id}` opens no form; ignored: {text})", file=s.out)
    return outcome


def _form_fields(view: dict[str, Any]) -> list[tuple[str, str]]:
    """(action_id, label) of each text input of a modal."""
    return [
        (b["element"]["action_id"], b.get("label", {}).get("text", b["element"]["action_id"]))
        for b in view.get("blocks", [])
        if b.get("type") == "input" and "action_id" in b.get("element", {})
    ]


async def _submit_form(s: Session, view: dict[str, Any], text: str | None) -> str:
    """The modal a button opened, answered by the /click line's text, or asked field by field."""
    fields = _form_fields(view)
    values: dict[str, str] = {}
    if text is not None and fields:
        values[fields[0][0]] = text
    elif s.ask is not None:
        for action_id, label in fields:
            values[action_id] = (await s.ask(f"{label}: ")).strip()
    sub = FormSubmission(
        callback_id=str(view.get("callback_id", "")),
        user=s.user,
        private_metadata=str(view.get("private_metadata", "")),
        values=values,
        surface=s.surface,
        deps=s.runtime.deps,
        reply=_reply(s),
    )
    return await dispatch_form(sub)


def _sandbox_command(s: Session, line: str) -> str:
    if s.cluster is None:
        raise UsageError("/sandbox works only in the sandbox (codex-bot shell --sandbox).")
    words = shlex.split(line)[1:]
    if words[:1] == ["break"] and len(words) == 2:
        s.cluster.break_daemon(words[1])
        print(f"sandbox: the Docker daemon in {words[1]} is now down", file=s.out)
    elif words[:1] == ["heal"] and len(words) == 2:
        s.cluster.heal_daemon(words[1])
        print(f"sandbox: the Docker daemon in {words[1]} is up again", file=s.out)
    else:
        names = ", ".join(sorted(s.cluster.pod_names()))
        print(f"sandbox pods: {names}\n/sandbox break <pod> | heal <pod>", file=s.out)
    return "ok"


async def run_shell(
    settings: Settings, *, sandbox: bool, stdin: TextIO | None = None, out: TextIO | None = None
) -> int:
    stdin, out = stdin or sys.stdin, out or sys.stdout
    interactive = stdin.isatty()

    async def ask(prompt: str) -> str:
        print(prompt, end="", file=out, flush=True)
        return await asyncio.to_thread(stdin.readline)

    async with session(settings, sandbox=sandbox, out=out, background=True) as s:
        s.ask = ask if interactive else None
        where = "the sandbox cluster" if sandbox else f"namespace {settings.policy.namespace}"
        print(
            f"codex-bot shell on {where}, as {s.user}. /help for shell commands, /codex help for verbs.",
            file=out,
        )
        if s.cluster is not None:
            print("sandbox pods: " + ", ".join(sorted(s.cluster.pod_names())), file=out)
        while True:
            if interactive:
                print(f"{s.user}> ", end="", file=out, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if not interactive:
                print(f"{s.user}> {line.rstrip()}", file=out)
            if await run_line(s, line) == "quit":
                break
    return 0
