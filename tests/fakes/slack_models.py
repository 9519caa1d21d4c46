"""What the fake Slack stores, shaped like what a user sees, plus Slack's block limits.

The limits mirror protocols §3.7 so a renderer that overflows fails in tests the way it
would fail against real Slack (``invalid_blocks`` / ``msg_too_long``), instead of passing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BLOCKS = 50
MAX_TEXT = 40_000  # real Slack truncates silently; the fake refuses so tests notice
SECTION_TEXT_LIMIT = 3_000
HEADER_TEXT_LIMIT = 150
FIELDS_LIMIT = 10
FIELD_TEXT_LIMIT = 2_000
ACTIONS_ELEMENTS_LIMIT = 25
BUTTON_VALUE_LIMIT = 2_000
ID_LIMIT = 255


@dataclass
class Call:
    """One request the fake received (Web API method, upload, or response_url POST)."""

    method: str
    params: dict[str, Any]
    status: int
    response: Any


@dataclass
class SlackFile:
    id: str
    filename: str
    title: str
    content: bytes
    channels: tuple[str, ...] = ()
    thread_ts: str | None = None
    initial_comment: str | None = None
    alt_txt: str | None = None
    snippet_type: str | None = None

    @property
    def channel(self) -> str | None:
        return self.channels[0] if self.channels else None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str = "U0BOT"
    bot_id: str = "B0BOT"
    subtype: str | None = None  # "file_share" for messages created by files_upload_v2
    files: list[SlackFile] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)  # every text/blocks, oldest first
    deleted: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # the last request's raw params

    @property
    def visible_text(self) -> str:
        """The message text plus every text in its blocks, one per line."""
        return "\n".join(filter(None, [self.text, block_text(self.blocks)]))

    @property
    def edits(self) -> int:
        return len(self.versions) - 1

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "text": self.text,
            "user": self.user,
            "bot_id": self.bot_id,
            "ts": self.ts,
            "blocks": self.blocks,
        }
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.subtype:
            out["subtype"] = self.subtype
        if self.files:
            out["files"] = [{"id": f.id, "name": f.filename, "title": f.title} for f in self.files]
        return out


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    message_ts: str
    thread_ts: str | None = None

    @property
    def visible_text(self) -> str:
        return "\n".join(filter(None, [self.text, block_text(self.blocks)]))


@dataclass
class View:
    id: str
    trigger_id: str
    view: dict[str, Any]
    versions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def callback_id(self) -> str:
        return str(self.view.get("callback_id", ""))

    @property
    def private_metadata(self) -> str:
        return str(self.view.get("private_metadata", ""))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.view.get("blocks", []))


@dataclass
class ResponsePost:
    """A JSON body POSTed to a ``response_url`` handed out by the fake."""

    name: str
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return "\n".join(
            filter(None, [str(self.body.get("text", "")), block_text(self.body.get("blocks", []))])
        )


def block_text(blocks: Any) -> str:
    """Every human-readable string inside Block Kit JSON, in document order."""
    out: list[str] = []
    _collect(blocks, out)
    return "\n".join(out)


def _collect(node: Any, out: list[str]) -> None:
    if isinstance(node, Mapping):
        text = node.get("text")
        if isinstance(text, str):
            out.append(text)
        for key, value in node.items():
            if key != "text" or not isinstance(value, str):
                _collect(value, out)
    elif isinstance(node, list):
        for item in node:
            _collect(item, out)


def blocks_error(blocks: Iterable[Mapping[str, Any]]) -> str | None:
    """The reason real Slack would answer ``invalid_blocks``, or None when they are fine."""
    blocks = list(blocks)
    if len(blocks) > MAX_BLOCKS:
        return f"{len(blocks)} blocks > {MAX_BLOCKS}"
    for i, block in enumerate(blocks):
        problem = _block_problem(block)
        if problem:
            return f"block {i} ({block.get('type')}): {problem}"
    return None


def _text_of(value: Any) -> str:
    return str(value.get("text", "")) if isinstance(value, Mapping) else ""


def _block_problem(block: Mapping[str, Any]) -> str | None:
    kind = block.get("type")
    if len(str(block.get("block_id", ""))) > ID_LIMIT:
        return "block_id too long"
    if kind == "section":
        if len(_text_of(block.get("text"))) > SECTION_TEXT_LIMIT:
            return f"text over {SECTION_TEXT_LIMIT}"
        fields = block.get("fields") or []
        if len(fields) > FIELDS_LIMIT or any(len(_text_of(f)) > FIELD_TEXT_LIMIT for f in fields):
            return "fields over limit"
    if kind == "header" and len(_text_of(block.get("text"))) > HEADER_TEXT_LIMIT:
        return f"header over {HEADER_TEXT_LIMIT}"
    elements = block.get("elements") or []
    if kind == "actions" and len(elements) > ACTIONS_ELEMENTS_LIMIT:
        return f"more than {ACTIONS_ELEMENTS_LIMIT} elements"
    for element in elements if kind == "actions" else []:
        if len(str(element.get("value", ""))) > BUTTON_VALUE_LIMIT:
            return "button value too long"
        if len(str(element.get("action_id", ""))) > ID_LIMIT:
            return "action_id too long"
    return None
