"""What a flow receives and how flows register. Flows glue a parsed request to a handler,
render the result and post it through a Surface; they never touch an SDK."""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.commands import Command, Verb
from bot.surface import Message, MessageRef, Surface
from handlers.errors import CodexError

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

Reply = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Actor:
    """Who is acting, for the audit log of every exec made on their behalf."""

    user: str
    verb: str


current_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("current_actor", default=None)


@dataclass(frozen=True)
class Invocation:
    command: Command
    user: str
    channel: str
    surface: Surface
    deps: Deps
    reply: Reply  # ephemeral to the invoking user (Slack: response_url)
    trigger_id: str | None = None


@dataclass(frozen=True)
class ActionInvocation:
    action_id: str
    value: str
    user: str
    channel: str
    message: MessageRef | None
    surface: Surface
    deps: Deps
    reply: Reply
    trigger_id: str | None = None


@dataclass(frozen=True)
class FormSubmission:
    callback_id: str
    user: str
    private_metadata: str
    values: dict[str, str]  # action_id -> submitted text
    surface: Surface
    deps: Deps
    reply: Reply  # Slack: a direct message to the submitter


# A flow returns False when the check it ran failed (CLI exit 1), None/True otherwise.
Flow = Callable[[Invocation], Awaitable[bool | None]]
ActionHandler = Callable[[ActionInvocation], Awaitable[None]]
FormHandler = Callable[[FormSubmission], Awaitable[None]]

# A background job runs for the bot's lifetime (approval expiry, watcher, periodic fleet check).
BackgroundJob = Callable[["Deps", Surface], Coroutine[Any, Any, None]]

FLOWS: dict[Verb, Flow] = {}
BACKGROUND: dict[str, BackgroundJob] = {}
ACTIONS: dict[str, ActionHandler] = {}
FORMS: dict[str, FormHandler] = {}


def flow(verb: Verb) -> Callable[[Flow], Flow]:
    def register(fn: Flow) -> Flow:
        FLOWS[verb] = fn
        return fn

    return register


def action(action_id: str) -> Callable[[ActionHandler], ActionHandler]:
    def register(fn: ActionHandler) -> ActionHandler:
        ACTIONS[action_id] = fn
        return fn

    return register


def form(callback_id: str) -> Callable[[FormHandler], FormHandler]:
    def register(fn: FormHandler) -> FormHandler:
        FORMS[callback_id] = fn
        return fn

    return register


def background(name: str) -> Callable[[BackgroundJob], BackgroundJob]:
    def register(fn: BackgroundJob) -> BackgroundJob:
        BACKGROUND[name] = fn
        return fn

    return register


def error_message(e: BaseException) -> tuple[Message, str]:
    """What the user reads for an error, and the outcome label for audit/metrics."""
    if isinstance(e, CodexError):
        text = f":warning: {e.for_user()}"
        return Message(text=text, terminal=f"error: {e.for_user()}"), type(e).__name__
    ref = uuid.uuid4().hex[:8]
    log.error("internal error (ref %s)", ref, exc_info=e)
    text = f":boom: Internal error (ref `{ref}`). The bot's logs have the details; please report it."
    return Message(text=text, terminal=f"internal error (ref {ref})"), "internal"


async def guarded(run: Callable[[], Awaitable[Any]], reply: Reply) -> str:
    """Run; turn any failure into a reply. Returns the outcome: ok, failed, or the error's name."""
    try:
        verdict = await run()
    except Exception as e:
        message, outcome = error_message(e)
        try:
            await reply(message)
        except Exception:
            log.exception("could not tell the user about an error")
        return outcome
    return "failed" if verdict is False else "ok"
