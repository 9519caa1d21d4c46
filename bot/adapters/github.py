"""GitHub adapters (PyGithub): idempotent issue comments, and pull requests for rollback.

``GithubIssueTracker`` implements ``handlers.ports.IssueTracker``. ``GithubPullRequests``
lives in github_pr.py and is re-exported here. Both run PyGithub on the given executor and
raise ``ExternalError(service="github")`` with a sentence and a hint (see github_client.py).
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from bot.adapters.github_client import GithubClient, Target
from bot.adapters.github_pr import GithubPullRequests
from bot.render.comment_sections import splice_section, wrap_section
from bot.render.markdown import hidden_marker
from handlers.errors import ExternalError
from handlers.issue_ref import is_repo
from handlers.ports import PullRequestRef
from handlers.redact import redact

__all__ = ["COMMENT_LIMIT", "GithubIssueTracker", "GithubPullRequests", "PullRequestRef"]

COMMENT_LIMIT = 65_536  # GitHub's maximum issue/PR comment body, in characters


class GithubIssueTracker:
    """``upsert_comment`` creates the bot's comment on an issue, or edits the one carrying the marker."""

    def __init__(
        self, token: str, base_url: str, *, executor: Executor, timeout: float, **options: Any
    ) -> None:
        """``options``: max_rate_limit_wait (s, default 10), retries (2), seconds_between_requests (0.25),
        seconds_between_writes (1.0; GitHub asks for ≥1 s between writes), deadline (s per call)."""
        self._client = GithubClient(token, base_url, executor=executor, timeout=timeout, **options)

    async def upsert_comment(
        self, repo: str, number: int, marker: str, body: str, *, section: str | None = None
    ) -> str:
        """Returns the comment's html_url. The body is redacted; the marker is prepended unless the
        body already carries it. Over 65,536 characters raises ExternalError before sending anything."""
        target = Target(f"issue {repo}#{number}", repo, "Issues: write")
        if not is_repo(repo) or number < 1:
            raise ExternalError(
                f"`{repo}#{number}` is not a GitHub issue", service="github", hint="use owner/repo#N"
            )
        tag = hidden_marker(marker)
        text = redact(body)
        if section is None and tag not in text:
            text = f"{tag}\n{text}"
        _check_size(target, text)
        return await self._client.run(target, self._upsert, target, (repo, number, tag), text, section)

    def _upsert(self, target: Target, where: tuple[str, int, str], text: str, section: str | None) -> str:
        repo, number, tag = where
        issue = self._client.gh.get_repo(repo).get_issue(number)
        for comment in issue.get_comments():
            old = comment.body or ""
            if tag in old:
                new = text if section is None else splice_section(old, section, text)
                _check_size(target, new)
                if old != new:
                    comment.edit(new)
                return str(comment.html_url)
        if section is not None:
            text = f"{tag}\n{wrap_section(section, text)}\n"
        return str(issue.create_comment(text).html_url)


def _check_size(target: Target, text: str) -> None:
    if len(text) > COMMENT_LIMIT:
        raise ExternalError(
            f"the comment for {target.what} would be {len(text):,} characters; "
            f"GitHub accepts at most {COMMENT_LIMIT:,}",
            service="github",
            status=422,
            hint="nothing was changed on GitHub; the full output is in the Slack thread",
        )
