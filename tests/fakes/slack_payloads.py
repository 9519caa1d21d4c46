"""The bodies Slack sends to an app (protocols §3.1-3.2), as plain dicts for the driver."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VERIFICATION_TOKEN = "fake-verification-token"  # deprecated by Slack, still sent


@dataclass(frozen=True)
class Team:
    team_id: str = "T0001"
    team_domain: str = "fake"
    api_app_id: str = "A0CODEX"

    def user(self, user_id: str, user_name: str) -> dict[str, Any]:
        return {"id": user_id, "username": user_name, "name": user_name, "team_id": self.team_id}


def command_fields(
    team: Team, user: tuple[str, str], channel: tuple[str, str], **fields: str
) -> dict[str, str]:
    """Form fields of a slash command; ``fields``: command, text, response_url, trigger_id."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team.team_id,
        "team_domain": team.team_domain,
        "channel_id": channel[0],
        "channel_name": channel[1],
        "user_id": user[0],
        "user_name": user[1],
        "command": fields["command"],
        "text": fields["text"],
        "api_app_id": team.api_app_id,
        "is_enterprise_install": "false",
        "response_url": fields["response_url"],
        "trigger_id": fields["trigger_id"],
    }


def button(action_id: str, value: str, block_id: str, text: str) -> dict[str, Any]:
    """One entry of ``actions`` in a block_actions payload."""
    return {
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": text or action_id, "emoji": True},
        "value": value,
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }


def block_actions(
    team: Team,
    user: dict[str, Any],
    channel_id: str,
    message: Mapping[str, Any],
    action: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """``extra``: trigger_id, response_url, is_ephemeral (bool), state_values (dict)."""
    is_ephemeral = bool(extra.get("is_ephemeral"))
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": user,
        "api_app_id": team.api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": extra["trigger_id"],
        "team": {"id": team.team_id, "domain": team.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_id.lower()},
        "state": {"values": dict(extra.get("state_values") or {})},
        "response_url": extra["response_url"],
        "actions": [action],
    }
    if not is_ephemeral:  # Slack leaves the message out for ephemeral ones
        payload["message"] = dict(message)
    return payload


def modal(
    team: Team, callback_id: str, values: Mapping[str, Mapping[str, Any]], **extra: Any
) -> dict[str, Any]:
    """A submitted modal. ``values``: {block_id: {action_id: "typed text" | element state dict}};
    ``extra``: view_id, private_metadata, blocks."""
    view_id = str(extra.get("view_id") or "V0FAKE")
    state = {
        block: {
            action: ({"type": "plain_text_input", "value": v} if isinstance(v, str) else dict(v))
            for action, v in actions.items()
        }
        for block, actions in values.items()
    }
    return {
        "id": view_id,
        "team_id": team.team_id,
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": str(extra.get("private_metadata") or ""),
        "blocks": list(extra.get("blocks") or []),
        "state": {"values": state},
        "hash": secrets.token_hex(8),
        "title": {"type": "plain_text", "text": "Codex"},
        "root_view_id": view_id,
        "app_id": team.api_app_id,
        "bot_id": "B0BOT",
    }


def view_submission(
    team: Team, user: dict[str, Any], view: dict[str, Any], trigger_id: str
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": team.team_id, "domain": team.team_domain},
        "user": user,
        "api_app_id": team.api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def find_button(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]]:
    """(block_id, element) of the button ``action_id`` in ``blocks``; AssertionError if absent."""
    buttons = [
        (str(block.get("block_id", "")), element)
        for block in blocks
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]
        if isinstance(element, dict) and element.get("action_id")
    ]
    for block_id, element in buttons:
        if element["action_id"] == action_id:
            return block_id, element
    shown = [element["action_id"] for _, element in buttons]
    raise AssertionError(f"no button {action_id!r} in the message; it shows {shown}")
