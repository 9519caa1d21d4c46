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
from bot.render.comment_sections import splice_section, wrap_section, write_within
from bot.render.markdown import hidden_marker
from handlers.errors import ExternalError
from handlers.issue_ref import is_repo
from handlers.ports import CommentBody, PullRequestRef
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
        self, repo: str, number: int, marker: str, body: CommentBody, *, section: str | None = None
    ) -> str:
        """Returns the comment's html_url. The body is redacted; the marker is prepended unless the
        body already carries it. Over 65,536 characters raises ExternalError before sending anything.
        A callable ``body`` gets the room the rest of the comment leaves (with ``section``)."""
        target = Target(f"issue {repo}#{number}", repo, "Issues: write")
        if not is_repo(repo) or number < 1:
            raise ExternalError(
                f"`{repo}#{number}` is not a GitHub issue", service="github", hint="use owner/repo#N"
            )
        tag = hidden_marker(marker)
        if isinstance(body, str):  # too long whatever the issue holds: refuse before any request
            text = redact(body)
            _check_size(target, text if section is not None or tag in text else f"{tag}\n{text}")
        return await self._client.run(target, self._upsert, target, (repo, number, tag), body, section)

    def _upsert(
        self, target: Target, where: tuple[str, int, str], body: CommentBody, section: str | None
    ) -> str:
        repo, number, tag = where
        issue = self._client.gh.get_repo(repo).get_issue(number)
        for comment in issue.get_comments():
            old = comment.body or ""
            if tag in old:
                new = _compose(target, tag, body, section, old)
                if old != new:
                    comment.edit(new)
                return str(comment.html_url)
        return str(issue.create_comment(_compose(target, tag, body, section, None)).html_url)


def _compose(target: Target, tag: str, body: CommentBody, section: str | None, old: str | None) -> str:
    """The comment's new text: ``body`` alone, or spliced as ``section`` into ``old`` (None: a new
    comment). A callable body is given the room that the rest of the comment leaves."""
    if section is None:
        text = redact(write_within(target.what, body, COMMENT_LIMIT))
        new = text if tag in text else f"{tag}\n{text}"
    else:

        def place(text: str) -> str:
            if old is None:
                return f"{tag}\n{wrap_section(section, text)}\n"
            return splice_section(old, section, text)

        # the section's frame and everything else in the comment; the text adds exactly its length
        text = redact(write_within(target.what, body, COMMENT_LIMIT - len(place(""))))
        new = place(text)
    _check_size(target, new)
    return new


def _check_size(target: Target, text: str) -> None:
    if len(text) > COMMENT_LIMIT:
        raise ExternalError(
            f"the comment for {target.what} would be {len(text):,} characters; "
            f"GitHub accepts at most {COMMENT_LIMIT:,}",
            service="github",
            status=422,
            hint="nothing was changed on GitHub; the full output is in the Slack thread",
        )
