"""What users type for --issue, and the messages they get when it is off."""

from __future__ import annotations

import pytest

from handlers.errors import UsageError
from handlers.issue_ref import IssueRef, parse_issue_ref


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("acme/widgets#7", None, IssueRef("acme/widgets", 7)),
        ("acme/widgets#7", "other/repo", IssueRef("acme/widgets", 7)),
        ("#7", "acme/widgets", IssueRef("acme/widgets", 7)),
        (" 12 ", "acme/widgets", IssueRef("acme/widgets", 12)),
        ("https://github.com/acme/my.repo_x/issues/31", None, IssueRef("acme/my.repo_x", 31)),
        ("https://github.com/acme/widgets/pull/5#discussion_r1", None, IssueRef("acme/widgets", 5)),
    ],
)
def test_accepted_forms(text: str, default: str | None, expected: IssueRef) -> None:
    ref = parse_issue_ref(text, default)
    assert ref == expected and str(ref) == f"{expected.repo}#{expected.number}"


@pytest.mark.parametrize(
    ("text", "default", "says"),
    [
        ("#7", None, "does not say which repository"),
        ("7", "", "does not say which repository"),
        ("#7", "not-a-repo", "default_repo `not-a-repo` is not owner/repo"),
        ("acme#7", None, "is not a GitHub issue reference"),
        ("acme/widgets#seven", None, "is not a GitHub issue reference"),
        ("acme/widgets#7; rm -rf /", None, "is not a GitHub issue reference"),
        ("acme/..#7", None, "is not a GitHub issue reference"),
        ("#0", "acme/widgets", "issue numbers start at 1"),
    ],
)
def test_rejected_with_a_sentence_and_a_hint(text: str, default: str | None, says: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_issue_ref(text, default)
    assert says in info.value.message and info.value.hint
