"""Surface for the terminal: the sandbox shell and one-shot CLI commands."""

from __future__ import annotations

import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot.surface import Attachment, Message, MessageRef
from handlers.redact import redact

TRIGGER_PREFIX = "terminal-"  # trigger ids the shell hands to flows, so they may open a form

# Slack's mrkdwn references (<@U…>, <#C…|name>, <!subteam^S…>, <url|text>) as a terminal shows them.
# A bare <word> is left alone: usage text says `validate <pod>`.
_REFERENCE = re.compile(
    r"<(?:(?P<kind>[@#]|!subteam\^)(?P<id>[A-Z0-9]+)|(?P<special>![a-z]+)|(?P<url>[a-z][a-z0-9+.-]*:[^<>|\s]+))"
    r"(?:\|(?P<label>[^<>]*))?>"
)


def plain_references(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        label = m["label"]
        if m["special"]:  # <!here>, <!channel>
            return "@" + m["special"][1:]
        if m["url"]:
            return f"{label} ({m['url']})" if label else m["url"]
        if m["kind"] == "#":
            return f"#{label or m['id']}"
        return label if label and label.startswith("@") else f"@{m['id']}"  # a user or a user group

    return _REFERENCE.sub(one, text)


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str

    @property
    def click(self) -> str:
        """What to type to press it."""
        return f"/click {self.action_id} {self.value}".rstrip()


def button_list(blocks: list[dict[str, Any]] | None) -> list[Button]:
    found = []
    for block in blocks or []:
        for el in block.get("elements", []) if block.get("type") == "actions" else []:
            if el.get("type") == "button":
                label = el.get("text", {}).get("text", "?")
                found.append(Button(label, el["action_id"], el.get("value", "")))
    return found


def _buttons(blocks: list[dict[str, Any]] | None) -> list[str]:
    return [f"  [{b.label}]  type: {b.click}" for b in button_list(blocks)]


class TerminalSurface:
    """Prints messages; an update prints only the lines that changed; files go to ``files_dir``.

    It remembers the buttons messages show now (for ``/click … last`` and to list them) and the
    forms flows opened (``open_form``), which the shell fills in and submits."""

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        files_dir: Path,
        groups: dict[str, set[str]] | None = None,
        show_channels: bool = True,
    ) -> None:
        self._out = out or sys.stdout
        self._files_dir = files_dir
        self._groups = groups or {}
        self._shown: dict[MessageRef, list[str]] = {}
        self._ts = itertools.count(1)
        self._show_channels = show_channels
        self._live: dict[object, list[Button]] = {}  # message (or ephemeral) -> its buttons, oldest first
        self._ephemerals = itertools.count(1)
        self._triggers = itertools.count(1)
        self._forms: dict[str, dict[str, Any]] = {}

    def _print(self, text: str) -> None:
        print(plain_references(redact(text)), file=self._out, flush=True)

    def _where(self, channel: str) -> str:
        return f"[#{channel}] " if self._show_channels else ""

    async def post(self, channel: str, message: Message, *, thread: MessageRef | None = None) -> MessageRef:
        ref = MessageRef(channel, f"{next(self._ts)}.000000")
        lines = [*message.plain.splitlines(), *_buttons(message.blocks)]
        self._shown[ref] = lines
        self._remember(ref, message)
        self._print(self._where(channel) + "\n".join(lines))
        return ref

    async def update(self, ref: MessageRef, message: Message) -> None:
        lines = [*message.plain.splitlines(), *_buttons(message.blocks)]
        before = set(self._shown.get(ref, []))
        self._shown[ref] = lines
        self._remember(ref, message)
        fresh = [ln for ln in lines if ln not in before]
        if fresh:
            self._print("\n".join(fresh))

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        self._remember(("ephemeral", next(self._ephemerals)), message)
        self._print("\n".join([message.plain, *_buttons(message.blocks)]))

    async def upload(self, thread: MessageRef, files: list[Attachment], *, comment: str = "") -> None:
        self._files_dir.mkdir(parents=True, exist_ok=True)
        listed = []
        for f in files:
            path = self._files_dir / f.filename
            path.write_bytes(f.content)
            listed.append(f"  {f.title or f.filename}: {path} ({len(f.content):,} bytes)")
        self._print("\n".join([comment or "Attached:", *listed]))

    async def permalink(self, ref: MessageRef) -> str | None:
        return None

    async def group_members(self, group: str) -> set[str]:
        return set(self._groups.get(group, set()))

    async def open_form(self, trigger_id: str, view: dict[str, Any]) -> bool:
        """Kept for the shell to fill in (``take_form``); only for triggers the shell handed out."""
        if not trigger_id.startswith(TRIGGER_PREFIX):
            return False
        self._forms[trigger_id] = view
        return True

    def new_trigger(self) -> str:
        return f"{TRIGGER_PREFIX}{next(self._triggers)}"

    def take_form(self, trigger_id: str) -> dict[str, Any] | None:
        return self._forms.pop(trigger_id, None)

    def _remember(self, key: object, message: Message) -> None:
        self._live.pop(key, None)  # re-inserted last: the most recent message
        found = button_list(message.blocks)
        if found:
            self._live[key] = found

    def buttons(self) -> list[Button]:
        """The buttons shown now (an updated message's old ones are gone), oldest first."""
        return [b for shown in self._live.values() for b in shown]

    def last_button(self, action_id: str) -> Button | None:
        """The ``action_id`` button of the most recent message that shows one."""
        return next((b for b in reversed(self.buttons()) if b.action_id == action_id), None)
