"""The GitHub adapters, unmodified PyGithub against the fake GitHub: what ends up on the issue or
in the repository, and the sentence a user reads when GitHub says no, within a bounded time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from github import Auth, Github, GithubException

from bot.adapters.github import COMMENT_LIMIT, GithubIssueTracker, GithubPullRequests
from bot.render.markdown_fit import fit_sections
from handlers.errors import Conflict, ExternalError
from handlers.ports import IssueTracker
from tests.fakes.github import FakeGithub

REPO, GITOPS = "acme/widgets", "acme/gitops"
MARKER = "codex-bot:diagnostics:codex-pod-1"
TAG = f"<!-- {MARKER} -->"
FAST: dict[str, Any] = {
    "seconds_between_requests": 0,
    "seconds_between_writes": 0,
    "max_rate_limit_wait": 3.0,
}
TEMPLATES = {
    "argo/workflowtemplates/build.yaml": "kind: WorkflowTemplate\nmetadata: {name: build}\n",
    "argo/workflowtemplates/test.yaml": "kind: WorkflowTemplate\nmetadata: {name: test}\n",
    "argo/workflowtemplates/extra/lint.yaml": "kind: WorkflowTemplate\nmetadata: {name: lint}\n",
    "README.md": "gitops\n",
}


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=4)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
async def github() -> AsyncIterator[FakeGithub]:
    async with FakeGithub() as fake:
        fake.add_issue(REPO, 7)
        fake.add_repo(GITOPS, files=TEMPLATES)
        yield fake


@pytest.fixture
def tracker(github: FakeGithub, executor: ThreadPoolExecutor) -> GithubIssueTracker:
    return GithubIssueTracker(github.token, github.url, executor=executor, timeout=5, **FAST)


@pytest.fixture
def pulls(github: FakeGithub, executor: ThreadPoolExecutor) -> GithubPullRequests:
    return GithubPullRequests(github.token, github.url, executor=executor, timeout=5, **FAST)


async def refused(
    tracker: IssueTracker, number: int = 7, body: str = "report"
) -> tuple[ExternalError, float]:
    started = time.monotonic()
    with pytest.raises(ExternalError) as info:
        await tracker.upsert_comment(REPO, number, MARKER, body)
    assert info.value.service == "github"
    return info.value, time.monotonic() - started


# ---- comments --------------------------------------------------------------------------------


async def test_rerun_updates_the_same_comment(github: FakeGithub, tracker: GithubIssueTracker) -> None:
    github.add_comment(REPO, 7, "looks broken to me")
    first = await tracker.upsert_comment(REPO, 7, MARKER, "## Diagnostics\nrun 1")
    second = await tracker.upsert_comment(REPO, 7, MARKER, "## Diagnostics\nrun 2")
    human, ours = github.comments(REPO, 7)
    assert first == second and second.endswith(f"#issuecomment-{ours.id}")
    assert human.body == "looks broken to me" and human.versions == ["looks broken to me"]
    assert ours.versions == [f"{TAG}\n## Diagnostics\nrun 1", f"{TAG}\n## Diagnostics\nrun 2"]
    assert ours.user == "codex-bot[bot]"


async def test_marked_comment_is_found_beyond_the_first_page(
    github: FakeGithub, tracker: GithubIssueTracker
) -> None:
    for i in range(130):
        github.add_comment(REPO, 7, f"comment {i}")
    await tracker.upsert_comment(REPO, 7, MARKER, "v1")
    await tracker.upsert_comment(REPO, 7, MARKER, "v2")
    ours = [c for c in github.comments(REPO, 7) if TAG in c.body]
    assert len(github.comments(REPO, 7)) == 131 and [c.body for c in ours] == [f"{TAG}\nv2"]
    assert github.calls("GET", "*/comments")[-1].query.get("page") == "2"


async def test_other_markers_get_their_own_comment_and_reruns_without_change_write_nothing(
    github: FakeGithub, tracker: GithubIssueTracker
) -> None:
    await tracker.upsert_comment(REPO, 7, MARKER, "pod 1")
    await tracker.upsert_comment(REPO, 7, "codex-bot:diagnostics:codex-pod-2", "pod 2")
    await tracker.upsert_comment(REPO, 7, MARKER, "pod 1")
    assert [c.body.split("\n")[1] for c in github.comments(REPO, 7)] == ["pod 1", "pod 2"]
    assert len(github.calls("PATCH")) == 0


async def test_body_carrying_the_marker_is_not_marked_twice_and_secrets_are_masked(
    github: FakeGithub, tracker: GithubIssueTracker
) -> None:
    token = "ghp_" + "a1B2" * 9
    await tracker.upsert_comment(REPO, 7, MARKER, f"{TAG}\nlog: Authorization: Bearer {token}")
    [comment] = github.comments(REPO, 7)
    assert comment.body.count(TAG) == 1 and token not in comment.body and "[REDACTED]" in comment.body


async def test_comment_at_the_limit_is_sent_and_one_more_is_refused_before_sending(
    github: FakeGithub, tracker: GithubIssueTracker
) -> None:
    room = COMMENT_LIMIT - len(TAG) - 1
    await tracker.upsert_comment(REPO, 7, MARKER, "x" * room)
    assert len(github.comments(REPO, 7)[0].body) == COMMENT_LIMIT
    sent = len(github.requests)
    error, _ = await refused(tracker, body="y" * (room + 1))
    assert error.status == 422 and "65,537 characters" in error.message and "at most 65,536" in error.message
    assert len(github.requests) == sent and github.comments(REPO, 7)[0].body.endswith("x")


async def test_a_section_is_written_into_the_room_the_rest_of_the_comment_leaves(
    github: FakeGithub, tracker: GithubIssueTracker
) -> None:
    others = f"{TAG}\n" + "notes by someone else\n" * 2_000
    github.add_comment(REPO, 7, others, user="codex-runner")
    rooms: list[int] = []

    def fill(room: int) -> str:
        rooms.append(room)
        return "s" * room

    await tracker.upsert_comment(REPO, 7, MARKER, fill, section="validate:a")
    await tracker.upsert_comment(REPO, 7, MARKER, fill, section="validate:a")  # its own old text is room
    [comment] = github.comments(REPO, 7)
    assert len(comment.body) == COMMENT_LIMIT and comment.body.startswith(others)
    assert rooms[0] == rooms[1] < COMMENT_LIMIT - len(others)


async def test_a_section_that_cannot_fit_changes_nothing_and_says_why(
    github: FakeGithub, tracker: GithubIssueTracker
) -> None:
    full = f"{TAG}\n" + "x" * (COMMENT_LIMIT - 600)
    github.add_comment(REPO, 7, full, user="codex-runner")

    def checklist(room: int) -> str:
        return fit_sections("## checklist\n" * 100, [], "", trim_note=str, limit=room)

    with pytest.raises(ExternalError) as info:
        await tracker.upsert_comment(REPO, 7, MARKER, checklist, section="validate:a")
    assert "nearly full" in info.value.message and "needs at least" in info.value.message
    assert "post to another issue" in (info.value.hint or "")
    assert github.comments(REPO, 7)[0].body == full and github.calls("PATCH") == []


async def test_fake_refuses_long_bodies_with_githubs_422_shape(github: FakeGithub) -> None:
    gh = Github(base_url=github.url, auth=Auth.Token(github.token), retry=None, lazy=True)
    issue = gh.get_repo(REPO).get_issue(7)
    with pytest.raises(GithubException) as info:
        await asyncio.to_thread(issue.create_comment, "z" * (COMMENT_LIMIT + 1))
    assert info.value.status == 422
    assert info.value.data["errors"][0]["message"] == "body is too long (maximum is 65536 characters)"


async def test_server_side_422_reads_as_too_long(github: FakeGithub, tracker: GithubIssueTracker) -> None:
    github.fail(
        "POST", "*/comments", 422, "Validation Failed: body is too long (maximum is 65536 characters)"
    )
    error, _ = await refused(tracker)
    assert error.status == 422 and "too long" in error.message and github.comments(REPO, 7) == []
    assert "bug" not in (error.hint or "") and "link the thread from the issue by hand" in (error.hint or "")


# ---- errors a user reads ---------------------------------------------------------------------


@pytest.mark.parametrize("number", [99, 7])
async def test_missing_issue_or_repo_is_named(
    github: FakeGithub, executor: ThreadPoolExecutor, number: int
) -> None:
    tracker = GithubIssueTracker(github.token, github.url, executor=executor, timeout=5, **FAST)
    repo = REPO if number == 99 else "acme/nope"
    with pytest.raises(ExternalError) as info:
        await tracker.upsert_comment(repo, number, MARKER, "x")
    assert info.value.status == 404
    assert info.value.message == f"issue {repo}#{number} not found (or the token cannot see it)"
    assert repo in (info.value.hint or "")


async def test_token_without_write_rights(github: FakeGithub, tracker: GithubIssueTracker) -> None:
    github.deny_writes(REPO)
    error, _ = await refused(tracker)
    assert error.status == 403 and error.message == f"GitHub refused: the token lacks Issues: write on {REPO}"
    assert "Resource not accessible by integration" in (error.hint or "")


async def test_bad_token(github: FakeGithub, executor: ThreadPoolExecutor) -> None:
    github.require_token("ghp_the_right_one")
    stranger = GithubIssueTracker("ghp_wrong", github.url, executor=executor, timeout=5, **FAST)
    error, _ = await refused(stranger)
    assert error.status == 401 and "Bad credentials" in error.message and "GITHUB_TOKEN" in (error.hint or "")


async def test_short_rate_limit_is_waited_out(github: FakeGithub, tracker: GithubIssueTracker) -> None:
    github.rate_limit("secondary", retry_after=1, method="GET", path="*/comments")
    started = time.monotonic()
    await tracker.upsert_comment(REPO, 7, MARKER, "after the wait")
    assert 0.9 <= time.monotonic() - started < 3
    assert [c.body for c in github.comments(REPO, 7)] == [f"{TAG}\nafter the wait"]


@pytest.mark.parametrize(
    ("kind", "options", "hint"),
    [
        ("429", {"retry_after": 120}, "try again in about 2 min"),
        ("secondary", {}, "try again in about 60 s"),
        ("primary", {"reset_in": 3600}, "the limit resets at"),
    ],
)
async def test_long_rate_limit_gives_up_at_once_with_when_to_retry(
    github: FakeGithub, tracker: GithubIssueTracker, kind: Any, options: dict[str, Any], hint: str
) -> None:
    github.rate_limit(kind, times=5, **options)
    error, elapsed = await refused(tracker)
    assert elapsed < 2 and "rate limit" in error.message and hint in (error.hint or "")
    assert github.comments(REPO, 7) == []


async def test_persistent_rate_limit_ends_after_bounded_retries(
    github: FakeGithub, tracker: GithubIssueTracker
) -> None:
    github.rate_limit("429", retry_after=0, times=100)
    error, elapsed = await refused(tracker)
    assert error.status == 429 and elapsed < 5
    assert "still in force after the bot waited and retried 2 times" in error.message
    assert len(github.calls("GET")) == 3  # the first try and 2 retries


@pytest.mark.parametrize(
    ("kind", "options"),
    [("429", {"retry_after": 1}), ("secondary", {"retry_after": 1}), ("primary", {"reset_in": 1})],
)
async def test_rate_limit_on_an_update_is_waited_out(
    github: FakeGithub, tracker: GithubIssueTracker, kind: Any, options: dict[str, Any]
) -> None:
    await tracker.upsert_comment(REPO, 7, MARKER, "run 1")
    github.rate_limit(kind, method="PATCH", **options)
    await tracker.upsert_comment(REPO, 7, MARKER, "run 2")
    [ours] = github.comments(REPO, 7)
    assert ours.versions == [f"{TAG}\nrun 1", f"{TAG}\nrun 2"]
    assert [r.status for r in github.calls("PATCH")] == [403 if kind != "429" else 429, 200]


async def test_persistent_rate_limit_on_an_update_says_the_bot_retried(
    github: FakeGithub, tracker: GithubIssueTracker
) -> None:
    await tracker.upsert_comment(REPO, 7, MARKER, "run 1")
    github.rate_limit("429", retry_after=0, times=100, method="PATCH")
    error, elapsed = await refused(tracker, body="run 2")
    assert "still in force after the bot waited and retried 2 times" in error.message and elapsed < 5
    assert len(github.calls("PATCH")) == 3 and github.comments(REPO, 7)[0].body == f"{TAG}\nrun 1"


async def test_rate_limit_without_a_wait_is_not_said_to_be_retried(
    github: FakeGithub, tracker: GithubIssueTracker
) -> None:
    github.rate_limit("429", times=5)  # no Retry-After: GitHub asks for a minute or more
    error, _ = await refused(tracker)
    assert error.message == "GitHub rate limit reached (HTTP 429); the bot did not retry"
    assert "try again in a few minutes" in (error.hint or "") and len(github.calls("GET")) == 1


async def test_server_error_on_create_is_not_retried(github: FakeGithub, tracker: GithubIssueTracker) -> None:
    github.fail("POST", "*/comments", 502, "Bad Gateway", times=5)
    error, _ = await refused(tracker)
    assert error.status == 502 and "GitHub is having trouble (HTTP 502)" in error.message
    assert len(github.calls("POST")) == 1


async def test_slow_github_is_abandoned_within_the_timeout(
    github: FakeGithub, executor: ThreadPoolExecutor
) -> None:
    slow = GithubIssueTracker(github.token, github.url, executor=executor, timeout=1, retries=0, **FAST)
    github.stall("GET", "*/comments", 2.5)
    error, elapsed = await refused(slow)
    assert "did not answer within 1 s" in error.message and elapsed < 2


async def test_overall_deadline_bounds_the_whole_call(
    github: FakeGithub, executor: ThreadPoolExecutor
) -> None:
    slow = GithubIssueTracker(github.token, github.url, executor=executor, timeout=5, deadline=0.5, **FAST)
    github.stall("GET", "*/comments", 2)
    error, elapsed = await refused(slow)
    assert "within 0.5 s" in error.message and elapsed < 1.5


# ---- rollback pull requests ------------------------------------------------------------------


async def test_read_files_returns_every_file_under_the_folder(pulls: GithubPullRequests) -> None:
    files = await pulls.read_files(GITOPS, "main", "argo/workflowtemplates/")
    assert files == {path: text for path, text in TEMPLATES.items() if path.startswith("argo/")}


async def test_pull_request_commits_only_changed_files_on_a_new_branch(
    github: FakeGithub, pulls: GithubPullRequests
) -> None:
    build, test = "argo/workflowtemplates/build.yaml", "argo/workflowtemplates/test.yaml"
    edited = {build: TEMPLATES[build] + "# no docker sidecar\n", test: TEMPLATES[test]}
    edited["argo/workflowtemplates/new.yaml"] = "kind: WorkflowTemplate\n"
    pr = await pulls.open_pull_request(GITOPS, "main", "codex/rollback-1", edited, "Roll back sidecar", "why")
    [opened] = github.pulls(GITOPS)
    assert (pr.number, pr.url) == (opened.number, f"https://github.com/{GITOPS}/pull/{opened.number}")
    assert (opened.head, opened.base, opened.title, opened.body) == (
        "codex/rollback-1",
        "main",
        "Roll back sidecar",
        "why",
    )
    branch = github.files(GITOPS, "codex/rollback-1")
    assert branch == {**TEMPLATES, **edited} and github.files(GITOPS, "main") == TEMPLATES
    # one commit with both changed files (build.yaml edited, new.yaml added) on top of main
    history = github.commits(GITOPS, "codex/rollback-1")
    assert history[1:] == github.commits(GITOPS, "main") and len(history) == 2
    assert history[0].startswith("Roll back sidecar\n") and "argo/workflowtemplates/new.yaml" in history[0]
    assert not github.calls("PUT", "*/contents/*")  # no commit per file through the contents API


async def test_pull_request_refused_when_nothing_changes_or_branch_exists(
    github: FakeGithub, pulls: GithubPullRequests
) -> None:
    same = {"argo/workflowtemplates/build.yaml": TEMPLATES["argo/workflowtemplates/build.yaml"]}
    with pytest.raises(Conflict, match="already have this change"):
        await pulls.open_pull_request(GITOPS, "main", "codex/rollback-1", same, "t", "b")
    changed = {"README.md": "changed\n"}
    await pulls.open_pull_request(GITOPS, "main", "codex/rollback-1", changed, "t", "b")
    with pytest.raises(Conflict, match="branch codex/rollback-1 already exists"):
        await pulls.open_pull_request(GITOPS, "main", "codex/rollback-1", changed, "t", "b")
    assert len(github.pulls(GITOPS)) == 1


async def test_pull_request_errors_name_the_missing_rights_or_folder(
    github: FakeGithub, pulls: GithubPullRequests
) -> None:
    github.deny_writes(GITOPS)
    with pytest.raises(ExternalError) as info:
        await pulls.open_pull_request(GITOPS, "main", "codex/rb", {"README.md": "x"}, "t", "b")
    assert (
        info.value.status == 403
        and "lacks Contents: write and Pull requests: write on acme/gitops" in info.value.message
    )
    with pytest.raises(ExternalError) as info:
        await pulls.read_files(GITOPS, "main", "nowhere")
    assert info.value.status == 404 and info.value.message.startswith(
        "folder nowhere at main in acme/gitops not found"
    )
    assert github.pulls(GITOPS) == [] and "codex/rb" not in github.repos[GITOPS].branches
