"""The state of the fake Slack workspace and the Web API methods that act on it.

Pure and synchronous: ``FakeSlack`` (slack.py) adds the HTTP server, auth, failure
injection and waiting. Each method takes the request's params (already merged from query,
form and JSON) and returns the response JSON, or raises ``ApiFailure(error_code)``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.slack_models import (
    MAX_TEXT,
    Ephemeral,
    Message,
    SlackFile,
    View,
    blocks_error,
)


class ApiFailure(Exception):
    def __init__(self, error: str, detail: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail


def _json_param(params: dict[str, Any], key: str, default: Any) -> Any:
    value = params.get(key, default)
    if isinstance(value, str):
        try:
            return json.loads(value) if value else default
        except ValueError as e:
            raise ApiFailure(f"invalid_{key}") from e
    return value


def _need(params: dict[str, Any], key: str, error: str = "invalid_arguments") -> str:
    value = params.get(key)
    if not value:
        raise ApiFailure(error)
    return str(value)


class SlackWorkspace:
    def __init__(self, *, team_id: str = "T0001", bot_user_id: str = "U0BOT", bot_id: str = "B0BOT") -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self._messages: list[Message] = []
        self._ephemerals: list[Ephemeral] = []
        self._files: list[SlackFile] = []
        self._pending_uploads: dict[str, SlackFile] = {}
        self._views: list[View] = []
        self._groups: dict[str, list[str]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, str] = {}
        self._seq = itertools.count(1)
        self._epoch = int(time.time())
        self.root = ""  # set by FakeSlack once the port is known

    # ---- configuration -------------------------------------------------------------------
    def set_group(self, group_id: str, members: list[str]) -> None:
        self._groups[group_id] = list(members)

    def add_user(self, user_id: str, name: str, *, real_name: str | None = None, **profile: Any) -> None:
        """Details for users.info; other U…/W… ids get a minimal user named after the id."""
        self._users[user_id] = {"name": name, "real_name": real_name or name, "profile": profile}

    def add_channel(self, channel_id: str, name: str) -> None:
        self._channels[channel_id] = name

    def post_as(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> Message:
        """A message a person wrote (for threads the bot replies in)."""
        msg = Message(channel, self._next_ts(), text, [], thread_ts, user, bot_id="")
        msg.versions.append({"text": text, "blocks": []})
        self._messages.append(msg)
        return msg

    # ---- inspection ----------------------------------------------------------------------
    def messages(self, channel: str | None = None, *, include_deleted: bool = False) -> list[Message]:
        """Every message (top level and replies) in posting order."""
        return [
            m
            for m in self._messages
            if (channel is None or m.channel == channel) and (include_deleted or not m.deleted)
        ]

    def message(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self._messages if m.channel == channel and m.ts == ts), None)

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The parent message followed by its replies, as Slack shows the thread."""
        return [m for m in self.messages(channel) if m.ts == ts or m.thread_ts == ts]

    def files(self, channel: str | None = None, thread_ts: str | None = None) -> list[SlackFile]:
        return [
            f
            for f in self._files
            if (channel is None or channel in f.channels) and (thread_ts is None or f.thread_ts == thread_ts)
        ]

    def ephemerals(self, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        return [
            e
            for e in self._ephemerals
            if (user is None or e.user == user) and (channel is None or e.channel == channel)
        ]

    def views(self) -> list[View]:
        return list(self._views)

    # ---- Web API methods -----------------------------------------------------------------
    def methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "chat.delete": self._delete,
            "conversations.info": self._conversation_info,
            "users.info": self._user_info,
            "usergroups.users.list": self._group_users,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    def _next_ts(self) -> str:
        return f"{self._epoch}.{next(self._seq):06d}"

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "codex-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
        }

    @staticmethod
    def _content(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        text = str(params.get("text") or "")
        blocks = _json_param(params, "blocks", [])
        if len(text) > MAX_TEXT:
            raise ApiFailure("msg_too_long")
        problem = blocks_error(blocks)
        if problem:
            raise ApiFailure("invalid_blocks", problem)
        return text, blocks

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _need(params, "channel", "channel_not_found")
        text, blocks = self._content(params)
        if not text and not blocks:
            raise ApiFailure("no_text")
        thread_ts = params.get("thread_ts") or None
        if thread_ts and not self.message(channel, str(thread_ts)):
            raise ApiFailure("thread_not_found")
        msg = Message(channel, self._next_ts(), text, blocks, thread_ts, self.bot_user_id, self.bot_id)
        msg.versions.append({"text": text, "blocks": blocks})
        msg.params = dict(params)
        self._messages.append(msg)
        return {"channel": channel, "ts": msg.ts, "message": msg.to_api()}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _need(params, "channel", "channel_not_found")
        msg = self.message(channel, str(params.get("ts", "")))
        if msg is None or msg.deleted:
            raise ApiFailure("message_not_found")
        text, blocks = self._content(params)
        if "text" in params:
            msg.text = text
        if "blocks" in params:
            msg.blocks = blocks
        msg.versions.append({"text": msg.text, "blocks": msg.blocks})
        msg.params = dict(params)
        return {"channel": channel, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _need(params, "channel", "channel_not_found")
        user = _need(params, "user", "user_not_found")
        text, blocks = self._content(params)
        if not text and not blocks:
            raise ApiFailure("no_text")
        eph = Ephemeral(channel, user, text, blocks, self._next_ts(), params.get("thread_ts") or None)
        self._ephemerals.append(eph)
        return {"message_ts": eph.message_ts}

    def _permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _need(params, "channel", "channel_not_found")
        msg = self.message(channel, str(params.get("message_ts", "")))
        if msg is None:
            raise ApiFailure("message_not_found")
        link = f"https://fake.slack.com/archives/{channel}/p{msg.ts.replace('.', '')}"
        if msg.thread_ts and msg.thread_ts != msg.ts:
            link += f"?thread_ts={msg.thread_ts}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _need(params, "channel", "channel_not_found")
        msg = self.message(channel, str(params.get("ts", "")))
        if msg is None or msg.deleted:
            raise ApiFailure("message_not_found")
        msg.deleted = True
        return {"channel": channel, "ts": msg.ts}

    def _conversation_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _need(params, "channel", "channel_not_found")
        name = self._channels.get(channel, channel.lower())
        return {"channel": {"id": channel, "name": name, "is_channel": True, "is_member": True}}

    def _user_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = _need(params, "user", "user_not_found")
        if user not in self._users and not user.startswith(("U", "W")):
            raise ApiFailure("user_not_found")
        info = self._users.get(user) or {"name": user.lower(), "real_name": user, "profile": {}}
        profile = {"real_name": info["real_name"], "display_name": info["name"], **info["profile"]}
        return {
            "user": {"id": user, "name": info["name"], "real_name": info["real_name"], "profile": profile}
        }

    def _group_users(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup", ""))
        if group not in self._groups:
            raise ApiFailure("no_such_subteam")
        return {"users": list(self._groups[group])}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger_id = _need(params, "trigger_id", "invalid_trigger_id")
        view = _json_param(params, "view", {})
        if not isinstance(view, dict) or not view.get("type"):
            raise ApiFailure("invalid_arguments")
        stored = View(f"V{next(self._seq):08d}", trigger_id, view, [view])
        self._views.append(stored)
        return {"view": {**view, "id": stored.id, "team_id": self.team_id, "state": {"values": {}}}}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = next((v for v in self._views if v.id == params.get("view_id")), None)
        if stored is None:
            raise ApiFailure("not_found")
        stored.view = _json_param(params, "view", {})
        stored.versions.append(stored.view)
        return {"view": {**stored.view, "id": stored.id, "team_id": self.team_id}}

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = _need(params, "filename", "invalid_arguments")
        length = int(params.get("length", -1))
        if length < 0:
            raise ApiFailure("invalid_arguments")
        file_id = f"F{next(self._seq):08d}"
        self._pending_uploads[file_id] = SlackFile(
            file_id,
            filename,
            filename,
            b"",
            alt_txt=params.get("alt_txt"),
            snippet_type=params.get("snippet_type"),
        )
        return {"upload_url": f"{self.root}upload/v1/{file_id}", "file_id": file_id}

    def receive_upload(self, file_id: str, data: bytes) -> bool:
        pending = self._pending_uploads.get(file_id)
        if pending is None:
            return False
        pending.content = data
        return True

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = _json_param(params, "files", None)
        if not isinstance(entries, list) or not entries:
            raise ApiFailure("invalid_arguments")
        channels = [c for c in str(params.get("channel_id") or params.get("channels") or "").split(",") if c]
        thread_ts = params.get("thread_ts") or None
        if thread_ts and (not channels or not self.message(channels[0], str(thread_ts))):
            raise ApiFailure("invalid_thread_ts")
        done: list[SlackFile] = []
        for entry in entries:
            pending = self._pending_uploads.pop(str(entry.get("id")), None)
            if pending is None:
                raise ApiFailure("file_not_found")
            pending.title = entry.get("title") or pending.filename
            pending.channels, pending.thread_ts = tuple(channels), thread_ts
            pending.initial_comment = params.get("initial_comment")
            done.append(pending)
        self._files.extend(done)
        for channel in channels:
            self._share(channel, done, thread_ts, str(params.get("initial_comment") or ""))
        return {"files": [{"id": f.id, "title": f.title, "name": f.filename} for f in done]}

    def apply_response(self, channel: str, user: str, message_ts: str | None, body: dict[str, Any]) -> None:
        """What a POST to a bound response_url does to what users see."""
        text, blocks = str(body.get("text") or ""), list(body.get("blocks") or [])
        original = self.message(channel, message_ts) if message_ts else None
        if original is not None and body.get("delete_original"):
            original.deleted = True
        elif original is not None and body.get("replace_original") is not False:
            original.text, original.blocks = text, blocks
            original.versions.append({"text": text, "blocks": blocks})
        elif body.get("response_type") == "in_channel":
            msg = Message(
                channel, self._next_ts(), text, blocks, body.get("thread_ts"), self.bot_user_id, self.bot_id
            )
            msg.versions.append({"text": text, "blocks": blocks})
            self._messages.append(msg)
        else:
            self._ephemerals.append(
                Ephemeral(channel, user, text, blocks, self._next_ts(), body.get("thread_ts"))
            )

    def _share(self, channel: str, files: list[SlackFile], thread_ts: str | None, comment: str) -> None:
        msg = Message(channel, self._next_ts(), comment, [], thread_ts, self.bot_user_id, self.bot_id)
        msg.subtype, msg.files = "file_share", list(files)
        msg.versions.append({"text": comment, "blocks": []})
        self._messages.append(msg)
