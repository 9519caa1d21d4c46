"""Where results are shown: Slack (bot/adapters/slack.py) or the terminal (bot/shell.py).

Flows post rendered ``Message``s through a ``Surface``; they never call an SDK directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    """One rendering of a result: Slack text + blocks, and a plain form for terminals."""

    text: str  # notification / fallback text (Slack requires it alongside blocks)
    blocks: list[dict[str, Any]] | None = None
    terminal: str | None = None  # richer plain-text rendering; ``text`` when absent

    @property
    def plain(self) -> str:
        return self.terminal if self.terminal is not None else self.text


@dataclass(frozen=True)
class MessageRef:
    channel: str
    ts: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    title: str = ""
    meta: dict[str, str] = field(default_factory=dict)


class Surface(Protocol):
    async def post(
        self, channel: str, message: Message, *, thread: MessageRef | None = None
    ) -> MessageRef: ...

    async def update(self, ref: MessageRef, message: Message) -> None: ...

    async def ephemeral(self, channel: str, user: str, message: Message) -> None: ...

    async def upload(self, thread: MessageRef, files: list[Attachment], *, comment: str = "") -> None:
        """Attach files in the thread of ``thread`` (one call for all of them)."""
        ...

    async def permalink(self, ref: MessageRef) -> str | None: ...

    async def group_members(self, group: str) -> set[str]:
        """Slack user-group members (for approvers and permissions)."""
        ...

    async def open_form(self, trigger_id: str, view: dict[str, Any]) -> bool:
        """Open a modal; False where the surface has none (the terminal)."""
        ...
