"""The fake GitHub's Git data API against unmodified PyGithub: objects first, refs later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from github import Auth, Github, GithubException, InputGitTreeElement

from tests.fakes.github import FakeGithub

REPO = "acme/gitops"
FILES = {"a/one.yaml": "one\n", "a/two.yaml": "two\n", "README.md": "hi\n"}


@pytest.fixture
async def github() -> AsyncIterator[FakeGithub]:
    async with FakeGithub() as fake:
        fake.add_repo(REPO, files=FILES)
        yield fake


def client(github: FakeGithub) -> Github:
    return Github(
        base_url=github.url,
        auth=Auth.Token(github.token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def _one_commit(github: FakeGithub) -> tuple[str, str]:
    repo = client(github).get_repo(REPO)
    parent = repo.get_git_commit(repo.get_git_ref("heads/main").object.sha)
    gone = InputGitTreeElement("a/two.yaml", "100644", "blob", sha=None)
    edited = InputGitTreeElement("a/one.yaml", "100644", "blob", content="ONE\n")
    tree = repo.create_git_tree([edited, gone], base_tree=parent.tree)
    commit = repo.create_git_commit("edit one, drop two", tree, [parent])
    assert repo.get_git_commit(commit.sha).tree.sha == tree.sha
    repo.create_git_ref("refs/heads/edit", commit.sha)
    return commit.sha, parent.sha


async def test_a_tree_and_a_commit_become_a_branch_only_when_a_ref_points_at_them(github: FakeGithub) -> None:
    sha, parent = await asyncio.to_thread(_one_commit, github)
    assert github.files(REPO, "edit") == {"a/one.yaml": "ONE\n", "README.md": "hi\n"}
    assert github.commits(REPO, "edit") == ["edit one, drop two", "initial commit"]
    assert github.files(REPO) == FILES and github.repos[REPO].commits[sha].parent == parent


def _refused(github: FakeGithub) -> list[tuple[int, str]]:
    repo = client(github).get_repo(REPO)
    parent = repo.get_git_commit(repo.get_git_ref("heads/main").object.sha)
    tree = repo.create_git_tree([InputGitTreeElement("x", "100644", "blob", content="x")])
    said = []
    attempts = [
        lambda: repo.create_git_tree([InputGitTreeElement("/abs", "100644", "blob", content="x")]),
        lambda: repo.create_git_tree([InputGitTreeElement("x", "100644", "blob", sha="0" * 40)]),
        lambda: repo.create_git_commit("m", tree, [parent, parent]),
        lambda: repo.get_git_commit("0" * 40),
    ]
    for attempt in attempts:
        try:
            attempt()
        except GithubException as e:
            said.append((e.status, str(e.data)))
    return said


async def test_malformed_trees_unknown_objects_and_merges_are_refused(github: FakeGithub) -> None:
    said = await asyncio.to_thread(_refused, github)
    assert [status for status, _ in said] == [422, 422, 422, 404]
    assert "malformed path" in said[0][1] and "is not a blob" in said[1][1]
