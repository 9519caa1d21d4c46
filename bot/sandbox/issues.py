"""The sandbox's GitHub: each issue comment is a Markdown file, edited in place when its marker recurs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.render.comment_sections import splice_section


class SandboxIssues:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    async def upsert_comment(
        self, repo: str, number: int, marker: str, body: str, *, section: str | None = None
    ) -> str:
        self._folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(marker.encode()).hexdigest()[:8]
        path = self._folder / f"{repo.replace('/', '-')}-issue-{number}-comment-{digest}.md"
        if section is not None:
            old = path.read_text(encoding="utf-8") if path.exists() else f"<!-- {marker} -->\n"
            body = splice_section(old, section, body)
        path.write_text(body, encoding="utf-8")
        return path.as_uri()
