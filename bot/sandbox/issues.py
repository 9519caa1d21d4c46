"""The sandbox's GitHub: each issue comment is a Markdown file, edited in place when its marker recurs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.render.comment_sections import splice_section, write_within
from bot.render.markdown_fit import COMMENT_LIMIT
from handlers.ports import CommentBody


class SandboxIssues:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    async def upsert_comment(
        self, repo: str, number: int, marker: str, body: CommentBody, *, section: str | None = None
    ) -> str:
        self._folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(marker.encode()).hexdigest()[:8]
        path = self._folder / f"{repo.replace('/', '-')}-issue-{number}-comment-{digest}.md"
        if section is None:
            text = write_within(f"issue {repo}#{number}", body, COMMENT_LIMIT)
        else:
            old = path.read_text(encoding="utf-8") if path.exists() else f"<!-- {marker} -->\n"
            room = COMMENT_LIMIT - len(splice_section(old, section, ""))
            text = splice_section(old, section, write_within(f"issue {repo}#{number}", body, room))
        path.write_text(text, encoding="utf-8")
        return path.as_uri()
