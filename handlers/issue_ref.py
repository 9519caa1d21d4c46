"""Parse what users type for a GitHub issue: ``owner/repo#N``, ``#N`` (with a default repo),
or a pasted ``https://github.com/owner/repo/issues/N`` (``/pull/N`` too)."""

from __future__ import annotations

import re
from typing import NamedTuple

from handlers.errors import UsageError

# GitHub: owner ≤ 39 chars of [A-Za-z0-9-]; repository ≤ 100 chars of [A-Za-z0-9._-]
_REPO = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}"
_REPO_RE = re.compile(rf"^{_REPO}$")
_FULL_RE = re.compile(rf"^(?P<repo>{_REPO})#(?P<number>\d{{1,9}})$")
_SHORT_RE = re.compile(r"^#?(?P<number>\d{1,9})$")
_URL_RE = re.compile(
    rf"^https?://[^/\s]+/(?P<repo>{_REPO})/(?:issues|pull)/(?P<number>\d{{1,9}})/?(?:[#?].*)?$"
)

FORMS = "owner/repo#N, #N, or the issue's URL"


class IssueRef(NamedTuple):
    repo: str  # owner/repo
    number: int

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}"


def is_repo(name: str) -> bool:
    """True for a well-formed ``owner/repo``."""
    return bool(_REPO_RE.match(name)) and name.split("/")[1] not in (".", "..")


def parse_issue_ref(text: str, default_repo: str | None = None) -> IssueRef:
    """``owner/repo#N`` | ``#N`` | ``N`` | issue or pull-request URL -> IssueRef.

    Raises UsageError naming the accepted forms, or saying that ``#N`` needs
    ``github.default_repo`` when none is configured.
    """
    raw = text.strip()
    match = _FULL_RE.match(raw) or _URL_RE.match(raw)
    if match:
        return _checked(match.group("repo"), match.group("number"), raw)
    short = _SHORT_RE.match(raw)
    if short is None:
        raise UsageError(f"`{raw}` is not a GitHub issue reference", hint=f"use {FORMS}")
    if not default_repo:
        raise UsageError(
            f"`{raw}` does not say which repository",
            hint="write owner/repo#N, or set github.default_repo in the bot's config",
        )
    if not is_repo(default_repo):
        raise UsageError(
            f"the configured github.default_repo `{default_repo}` is not owner/repo",
            hint="fix github.default_repo in the bot's config, or write owner/repo#N",
        )
    return _checked(default_repo, short.group("number"), raw)


def _checked(repo: str, number: str, raw: str) -> IssueRef:
    if not is_repo(repo):
        raise UsageError(f"`{raw}` is not a GitHub issue reference", hint=f"use {FORMS}")
    value = int(number)
    if value < 1:
        raise UsageError(f"`{raw}`: issue numbers start at 1", hint=f"use {FORMS}")
    return IssueRef(repo, value)
