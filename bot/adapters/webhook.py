"""POST a JSON event to a configured URL (a paging service's events endpoint, or any receiver)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from handlers.errors import ExternalError


async def post_json(url: str, body: dict[str, Any], *, timeout_seconds: float) -> int:
    """The HTTP status of a 2xx answer; ExternalError for anything else, with the service's words."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "codex-bot"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_seconds)) as session,
            session.post(url, data=data, headers=headers) as resp,
        ):
            if 200 <= resp.status < 300:
                return resp.status
            text = (await resp.text())[:200]
            raise ExternalError(
                f"The escalation webhook answered {resp.status}: {text}",
                service="webhook",
                status=resp.status,
                hint="Check escalation.webhook_url and the receiver.",
            )
    except (aiohttp.ClientError, TimeoutError) as e:
        raise ExternalError(
            f"The escalation webhook could not be reached: {type(e).__name__} {e}".rstrip(),
            service="webhook",
            hint="Check escalation.webhook_url and that the bot can reach it.",
        ) from e
