"""Rollback in GitOps mode: read template files from a repository, and open a pull request
that changes them: one commit holding every changed file (Git data API: a tree on top of
``base``'s, a commit on top of ``base``), a branch created at that commit, the PR."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from github import GithubException, InputGitTreeElement, UnknownObjectException
from github.ContentFile import ContentFile
from github.Repository import Repository

from bot.adapters.github_client import GithubClient, Target
from handlers.errors import Conflict, ExternalError
from handlers.ports import PullRequestRef
from handlers.redact import redact

log = logging.getLogger(__name__)
WRITE = "Contents: write and Pull requests: write"
FILE_MODE = "100644"  # a regular, non-executable file


class GithubPullRequests:
    def __init__(
        self,
        token: str,
        base_url: str,
        *,
        executor: Executor,
        timeout: float,
        max_files: int = 200,
        **options: Any,
    ) -> None:
        """``options`` as for GithubIssueTracker. ``max_files`` bounds ``read_files``."""
        self._client = GithubClient(token, base_url, executor=executor, timeout=timeout, **options)
        self._max_files = max_files

    async def read_files(self, repo: str, ref: str, folder: str) -> dict[str, str]:
        """Path -> UTF-8 text of every file under ``folder`` (recursively) at ``ref``.
        Files that are not UTF-8 text are skipped (logged)."""
        target = Target(f"folder {folder} at {ref} in {repo}", repo, "Contents: read")
        return await self._client.run(target, self._read, repo, ref, folder.strip("/"))

    async def open_pull_request(
        self, repo: str, base: str, branch: str, files: Mapping[str, str], title: str, body: str
    ) -> PullRequestRef:
        """Branch ``branch`` from ``base``, commit the files whose text differs, open the PR.

        Raises Conflict when the branch already exists or nothing would change. File texts are
        sent as given (they come from the repository; redaction could corrupt YAML); the title
        and body are redacted."""
        target = Target(f"repository {repo} (branch {base})", repo, WRITE)
        return await self._client.run(
            target, self._open, repo, base, branch, dict(files), redact(title), redact(body)
        )

    # ---- in the executor -----------------------------------------------------------------
    def _read(self, repo_name: str, ref: str, folder: str) -> dict[str, str]:
        repo = self._client.gh.get_repo(repo_name)
        pending = [folder]
        out: dict[str, str] = {}
        while pending:
            listing = repo.get_contents(pending.pop(), ref=ref)
            for entry in listing if isinstance(listing, list) else [listing]:
                if entry.type == "dir":
                    pending.append(entry.path)
                elif entry.type == "file":
                    self._check_count(len(out), folder, repo_name)
                    text = self._text(repo, entry, ref)
                    if text is not None:
                        out[entry.path] = text
        return dict(sorted(out.items()))

    def _check_count(self, count: int, folder: str, repo_name: str) -> None:
        if count >= self._max_files:
            raise ExternalError(
                f"more than {self._max_files} files under {folder} in {repo_name}",
                service="github",
                hint="point rollback.gitops_path at the folder holding only the WorkflowTemplates",
            )

    @staticmethod
    def _text(repo: Repository, entry: ContentFile, ref: str) -> str | None:
        full = entry if entry.content else repo.get_contents(entry.path, ref=ref)
        assert isinstance(full, ContentFile)
        if full.encoding != "base64":
            raise ExternalError(
                f"{entry.path} in {repo.full_name} is too large for GitHub's contents API",
                service="github",
                hint="keep WorkflowTemplate files under 1 MB",
            )
        try:
            return full.decoded_content.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("skipping %s in %s: not UTF-8 text", entry.path, repo.full_name)
            return None

    def _open(
        self, repo_name: str, base: str, branch: str, files: dict[str, str], title: str, body: str
    ) -> PullRequestRef:
        repo = self._client.gh.get_repo(repo_name)
        base_sha = repo.get_git_ref(f"heads/{base}").object.sha
        changes = [c for c in (self._change(repo, base_sha, p, t) for p, t in files.items()) if c]
        if not changes:
            raise Conflict(
                f"the files on {base} in {repo_name} already have this change",
                hint="no pull request is needed; check whether an earlier rollback PR was merged",
            )
        parent = repo.get_git_commit(base_sha)
        elements = [InputGitTreeElement(path, FILE_MODE, "blob", content=text) for path, text in changes]
        tree = repo.create_git_tree(elements, base_tree=parent.tree)
        listing = "\n".join(f"- {path}" for path, _ in changes)
        commit = repo.create_git_commit(f"{title}\n\n{listing}\n", tree, [parent])
        try:
            # The branch appears only once its one commit exists: never a half-made branch.
            repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
        except GithubException as e:
            if e.status == 422 and "already exists" in str(e.data):
                raise Conflict(
                    f"branch {branch} already exists in {repo_name}",
                    hint="an earlier rollback PR may be open; close it and delete the branch, or merge it",
                ) from e
            raise
        pull = repo.create_pull(base=base, head=branch, title=title, body=body)
        return PullRequestRef(pull.number, pull.html_url)

    @staticmethod
    def _change(repo: Repository, ref: str, path: str, text: str) -> tuple[str, str] | None:
        """(path, text) when the file is new or differs at ``ref``; None when it already matches."""
        try:
            current = repo.get_contents(path, ref=ref)
        except UnknownObjectException:
            return path, text
        if isinstance(current, list):
            raise ExternalError(f"{path} is a folder in {repo.full_name}, not a file", service="github")
        if current.decoded_content == text.encode("utf-8"):
            return None
        return path, text
