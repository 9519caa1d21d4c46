"""Repositories of the fake GitHub: issues, comments, a tiny git (branches -> commits ->
file trees) and pull requests. Pure and synchronous; github.py serves it over HTTP.

Methods raise ``GhError`` with the status and JSON GitHub would send.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BODY_LIMIT = 65_536  # GitHub's maximum issue/PR comment body, in characters
DOCS = "https://docs.github.com/rest"
_ids = itertools.count(1001)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def blob_sha(data: bytes) -> str:
    """The git blob id, as GitHub reports it for contents."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def tree_sha(tree: dict[str, bytes]) -> str:
    """A stable id for a whole (flat) file tree: same files, same id, as with git's tree ids."""
    digest = hashlib.sha1(b"tree\x00", usedforsecurity=False)
    for path in sorted(tree):
        digest.update(f"{path}\x00{blob_sha(tree[path])}\n".encode())
    return digest.hexdigest()


TREE_MODES = ("100644", "100755", "040000", "160000", "120000")


class GhError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
        if errors:
            self.body["errors"] = errors


def not_found() -> GhError:
    return GhError(404, "Not Found")


def too_long(resource: str = "IssueComment") -> GhError:
    error = {
        "resource": resource,
        "code": "custom",
        "field": "body",
        "message": f"body is too long (maximum is {BODY_LIMIT} characters)",
    }
    return GhError(422, "Validation Failed", [error])


@dataclass
class Comment:
    id: int
    body: str
    user: str
    created_at: str
    updated_at: str
    versions: list[str] = field(default_factory=list)  # every body, oldest first


@dataclass
class Issue:
    number: int
    title: str
    comments: list[Comment] = field(default_factory=list)
    is_pull: bool = False


@dataclass
class Commit:
    sha: str
    message: str
    parent: str | None
    tree: dict[str, bytes]


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head: str
    base: str
    head_sha: str


@dataclass
class Repo:
    full_name: str
    default_branch: str
    issues: dict[int, Issue] = field(default_factory=dict)
    pulls: list[Pull] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit sha
    commits: dict[str, Commit] = field(default_factory=dict)
    trees: dict[str, dict[str, bytes]] = field(default_factory=dict)  # tree sha -> path -> bytes
    blobs: dict[str, bytes] = field(default_factory=dict)  # blob sha -> bytes
    writable: bool = True

    def next_number(self) -> int:
        return max([0, *self.issues]) + 1

    def commit(self, branch: str, message: str, tree: dict[str, bytes]) -> Commit:
        new = self._new_commit(message, self.branches.get(branch), tree)
        self.branches[branch] = new.sha
        return new

    def _new_commit(self, message: str, parent: str | None, tree: dict[str, bytes]) -> Commit:
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(f"{parent}\0{message}\0{next(_ids)}\0{self.add_tree(tree)}".encode())
        new = Commit(digest.hexdigest(), message, parent, dict(tree))
        self.commits[new.sha] = new
        return new

    def add_tree(self, tree: dict[str, bytes]) -> str:
        sha = tree_sha(tree)
        self.trees[sha] = dict(tree)
        self.blobs.update({blob_sha(data): data for data in tree.values()})
        return sha

    # ---- the Git data API (POST git/trees, git/commits): objects first, a ref moves later ----
    def create_tree(self, base_tree: str | None, entries: list[Any]) -> str:
        """``base_tree`` with ``entries`` applied (content, an existing blob's sha, or sha null to
        delete); returns the new tree's sha. Only blob entries, as a client editing files sends."""
        if base_tree is not None and base_tree not in self.trees:
            raise GhError(422, "Invalid tree info", [_tree_error("base_tree is not a valid tree oid")])
        tree = dict(self.trees[base_tree]) if base_tree else {}
        for entry in entries:
            path, data = self._tree_entry(entry)
            if data is None:
                tree.pop(path, None)
            else:
                tree[path] = data
        return self.add_tree(tree)

    def _tree_entry(self, entry: Any) -> tuple[str, bytes | None]:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise GhError(422, "Invalid tree info", [_tree_error("tree.path is missing")])
        path = entry["path"]
        if not path or path.startswith("/") or "//" in path or path.endswith("/"):
            raise GhError(
                422, "Invalid tree info", [_tree_error("tree.path contains a malformed path component")]
            )
        if entry.get("mode") not in TREE_MODES or entry.get("type") != "blob":
            raise GhError(
                422, "Invalid tree info", [_tree_error(f"{path}: mode or type not valid for a file")]
            )
        if "content" in entry:
            if "sha" in entry or not isinstance(entry["content"], str):
                raise GhError(422, "Invalid tree info", [_tree_error(f"{path}: give either content or sha")])
            return path, entry["content"].encode("utf-8")
        sha = entry.get("sha", "missing")
        if sha is None:
            return path, None
        if sha not in self.blobs:
            raise GhError(422, "Invalid tree info", [_tree_error(f"{path}: {sha} is not a blob")])
        return path, self.blobs[sha]

    def create_commit(self, message: str, tree: str, parents: list[Any]) -> Commit:
        """A commit object no branch points at yet (POST git/commits)."""
        if tree not in self.trees:
            raise GhError(422, "Tree SHA does not exist")
        if any(p not in self.commits for p in parents):
            raise GhError(422, "Parent SHA does not exist or is not a commit object")
        if len(parents) > 1:
            raise GhError(422, "merge commits are not modelled by this fake (one parent at most)")
        return self._new_commit(message, parents[0] if parents else None, self.trees[tree])

    def head(self, branch: str) -> Commit:
        sha = self.branches.get(branch)
        if sha is None:
            raise not_found()
        return self.commits[sha]

    def tree_at(self, ref: str | None) -> dict[str, bytes]:
        ref = ref or self.default_branch
        if ref in self.branches:
            return self.head(ref).tree
        if ref in self.commits:
            return self.commits[ref].tree
        raise GhError(404, f"No commit found for the ref {ref}")

    def history(self, branch: str) -> list[Commit]:
        """Commits reachable from ``branch``, newest first."""
        out: list[Commit] = []
        sha: str | None = self.branches.get(branch)
        while sha:
            out.append(self.commits[sha])
            sha = self.commits[sha].parent
        return out

    def add_comment(self, number: int, body: str, user: str) -> Comment:
        issue = self.issue(number)
        if len(body) > BODY_LIMIT:
            raise too_long()
        stamp = now_iso()
        comment = Comment(next(_ids), body, user, stamp, stamp, [body])
        issue.comments.append(comment)
        return comment

    def issue(self, number: int) -> Issue:
        if number not in self.issues:
            raise not_found()
        return self.issues[number]

    def find_comment(self, comment_id: int) -> tuple[Issue, Comment]:
        for issue in self.issues.values():
            for comment in issue.comments:
                if comment.id == comment_id:
                    return issue, comment
        raise not_found()

    def put_file(self, path: str, data: bytes, sha: str | None, branch: str, message: str) -> Commit:
        tree = dict(self.head(branch).tree) if branch in self.branches else {}
        if path in tree and sha is None:
            raise GhError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if path in tree and sha != blob_sha(tree[path]):
            raise GhError(409, f"{path} does not match {sha}")
        if path not in tree and sha is not None:
            raise GhError(409, f"{path} does not match {sha}")
        tree[path] = data
        return self.commit(branch, message, tree)

    def open_pull(self, title: str, body: str, head: str, base: str) -> Pull:
        if head not in self.branches or base not in self.branches:
            field_name = "head" if head not in self.branches else "base"
            raise GhError(
                422,
                "Validation Failed",
                [{"resource": "PullRequest", "field": field_name, "code": "invalid"}],
            )
        if any(p.head == head and p.base == base for p in self.pulls):
            raise GhError(422, "Validation Failed", [_custom(f"A pull request already exists for {head}.")])
        if self.head(head).tree == self.head(base).tree:
            raise GhError(422, "Validation Failed", [_custom(f"No commits between {base} and {head}")])
        pull = Pull(self.next_number(), title, body, head, base, self.branches[head])
        self.issues[pull.number] = Issue(pull.number, title, is_pull=True)
        self.pulls.append(pull)
        return pull


def _tree_error(message: str) -> dict[str, Any]:
    return {"resource": "GitTree", "code": "custom", "message": message}


def _custom(message: str) -> dict[str, Any]:
    return {"resource": "PullRequest", "code": "custom", "message": message}
