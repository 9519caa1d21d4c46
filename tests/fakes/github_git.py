"""The Git data API of the fake GitHub: trees and commits as objects, made before any ref points
at them (``POST git/trees``, ``POST git/commits``, ``GET git/commits/{sha}``), so a client can
put many file changes into one commit and then create or move a branch to it.

Response JSON follows docs.github.com/rest/git (trees, commits); what PyGithub reads of it:
``sha``, ``url``, ``tree`` (entries for a tree; ``{sha, url}`` for a commit), ``parents``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.github_state import Commit, GhError, Repo, blob_sha, not_found, now_iso

_REPO = "/repos/{owner}/{repo}"


class GitData:
    repos: dict[str, Repo]
    base: str

    def add_git_data_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post(_REPO + "/git/trees", self._create_tree)
        router.add_post(_REPO + "/git/commits", self._create_commit)
        router.add_get(_REPO + "/git/commits/{sha}", self._get_commit)

    def _git_repo(self, request: web.Request) -> Repo:
        repo = self.repos.get(f"{request.match_info['owner']}/{request.match_info['repo']}")
        if repo is None:
            raise not_found()
        return repo

    def _api(self, repo: Repo, path: str) -> str:
        return f"{self.base}/repos/{repo.full_name}/{path}"

    def tree_json(self, repo: Repo, sha: str) -> dict[str, Any]:
        """The tree's top level, as GitHub lists it without ``recursive``."""
        files = repo.trees[sha]
        entries: dict[str, dict[str, Any]] = {}
        for path, data in sorted(files.items()):
            top, _, rest = path.partition("/")
            if rest:
                sub = {p[len(top) + 1 :]: d for p, d in files.items() if p.startswith(top + "/")}
                sub_sha = repo.add_tree(sub)
                entries[top] = {"path": top, "mode": "040000", "type": "tree", "sha": sub_sha}
                entries[top]["url"] = self._api(repo, f"git/trees/{sub_sha}")
            else:
                blob = blob_sha(data)
                entries[top] = {"path": top, "mode": "100644", "type": "blob", "sha": blob, "size": len(data)}
                entries[top]["url"] = self._api(repo, f"git/blobs/{blob}")
        return {
            "sha": sha,
            "url": self._api(repo, f"git/trees/{sha}"),
            "tree": list(entries.values()),
            "truncated": False,
        }

    def commit_json(self, repo: Repo, commit: Commit) -> dict[str, Any]:
        person = {"name": "codex-bot[bot]", "email": "codex-bot@users.noreply.github.com", "date": now_iso()}
        tree = repo.add_tree(commit.tree)
        parents = [commit.parent] if commit.parent else []
        return {
            "sha": commit.sha,
            "node_id": f"C_{commit.sha[:12]}",
            "url": self._api(repo, f"git/commits/{commit.sha}"),
            "html_url": f"https://github.com/{repo.full_name}/commit/{commit.sha}",
            "author": person,
            "committer": person,
            "message": commit.message,
            "tree": {"sha": tree, "url": self._api(repo, f"git/trees/{tree}")},
            "parents": [
                {
                    "sha": p,
                    "url": self._api(repo, f"git/commits/{p}"),
                    "html_url": f"https://github.com/{repo.full_name}/commit/{p}",
                }
                for p in parents
            ],
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        }

    async def _create_tree(self, request: web.Request) -> web.Response:
        repo, data = self._git_repo(request), await request.json()
        if not isinstance(data, dict) or not isinstance(data.get("tree"), list):
            raise GhError(422, "Invalid request.", [{"field": "tree", "code": "missing_field"}])
        sha = repo.create_tree(data.get("base_tree"), data["tree"])
        return web.json_response(self.tree_json(repo, sha), status=201)

    async def _create_commit(self, request: web.Request) -> web.Response:
        repo, data = self._git_repo(request), await request.json()
        if not isinstance(data, dict) or not isinstance(data.get("message"), str) or not data.get("tree"):
            raise GhError(422, "Invalid request.", [{"field": "message/tree", "code": "missing_field"}])
        commit = repo.create_commit(data["message"], str(data["tree"]), list(data.get("parents") or []))
        return web.json_response(self.commit_json(repo, commit), status=201)

    async def _get_commit(self, request: web.Request) -> web.Response:
        repo = self._git_repo(request)
        commit = repo.commits.get(request.match_info["sha"])
        if commit is None:
            raise not_found()
        return web.json_response(self.commit_json(repo, commit))
