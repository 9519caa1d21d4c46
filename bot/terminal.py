"""Surface for the terminal: the sandbox shell and one-shot CLI commands."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.surface import Attachment, Message, MessageRef
from handlers.redact import redact


def _buttons(blocks: list[dict[str, Any]] | None) -> list[str]:
    lines = []
    for block in blocks or []:
        for el in block.get("elements", []) if block.get("type") == "actions" else []:
            if el.get("type") == "button":
                label = el.get("text", {}).get("text", "?")
                lines.append(f"  [{label}]  type: /click {el['action_id']} {el.get('value', '')}".rstrip())
    return lines


class TerminalSurface:
    """Prints messages; an update prints only the lines that changed; files go to ``files_dir``."""

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

    def _print(self, text: str) -> None:
        print(redact(text), file=self._out, flush=True)

    def _where(self, channel: str) -> str:
        return f"[#{channel}] " if self._show_channels else ""

    async def post(self, channel: str, message: Message, *, thread: MessageRef | None = None) -> MessageRef:
        ref = MessageRef(channel, f"{next(self._ts)}.000000")
        lines = [*message.plain.splitlines(), *_buttons(message.blocks)]
        self._shown[ref] = lines
        self._print(self._where(channel) + "\n".join(lines))
        return ref

    async def update(self, ref: MessageRef, message: Message) -> None:
        lines = [*message.plain.splitlines(), *_buttons(message.blocks)]
        before = set(self._shown.get(ref, []))
        self._shown[ref] = lines
        fresh = [ln for ln in lines if ln not in before]
        if fresh:
            self._print("\n".join(fresh))

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
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
        return False
