"""Pause / resume / status results -> Slack blocks and terminal text."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.render.blocks import Block, context, section
from bot.surface import Message
from handlers.submissions import Paused, Resumed, SubmissionsStatus


def _bullets(items: tuple[str, ...] | list[str], empty: str = "nothing") -> str:
    return "\n".join(f"• `{i}`" if " (" not in i else f"• {i}" for i in items) or f"_{empty}_"


def _message(title: str, parts: list[tuple[str, str]], warnings: tuple[str, ...]) -> Message:
    blocks: list[Block] = [section(f"*{title}*")]
    blocks += [section(f"*{label}*\n{body}") for label, body in parts]
    if warnings:
        blocks.append(section(":warning: " + "\n:warning: ".join(warnings)))
    terminal = "\n".join([title, *(f"{label}\n{body}" for label, body in parts), *warnings])
    return Message(text=title, blocks=blocks, terminal=terminal.replace("*", "").replace("`", ""))


def paused_message(p: Paused, *, by: str, approved_by: str) -> Message:
    title = f":double_vertical_bar: Submissions paused by <@{by}> (approved by <@{approved_by}>)"
    parts = [
        ("Changed (resume puts these back)", _bullets(p.changed)),
        ("Already paused before (resume leaves them so)", _bullets(p.unchanged)),
    ]
    return _message(title, parts, p.warnings)


def resumed_message(r: Resumed, *, by: str, approved_by: str) -> Message:
    title = f":arrow_forward: Submissions resumed by <@{by}> (approved by <@{approved_by}>)"
    parts = [("Put back", _bullets(r.restored)), ("Left as they are", _bullets(r.kept))]
    return _message(title, parts, r.warnings)


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def status_message(s: SubmissionsStatus) -> Message:
    if s.paused:
        since = f" since {_when(s.paused_at)}" if s.paused_at else ""
        by = f" by <@{s.paused_by}>" if s.paused_by else " (not by the bot: no pause is recorded)"
        title = f":double_vertical_bar: Submissions are paused{since}{by}."
    else:
        title = ":arrow_forward: Submissions are running (not paused)."
    flag = "absent" if s.flag_value is None else f"`{s.flag_value}`"
    parts = [
        ("Flag", f"`{s.flag}` is {flag}"),
        ("CronWorkflows suspended", _bullets(s.suspended, "none")),
        ("CronWorkflows scheduling", _bullets(s.scheduling, "none")),
    ]
    return _message(title, parts, s.warnings)


def plan_note(what: str, items: list[str]) -> Block:
    return context(f"{what}: " + (", ".join(f"`{i}`" for i in items) if items else "nothing"))
