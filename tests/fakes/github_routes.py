"""HTTP handlers and response JSON of the fake GitHub (see github.py for the server)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from tests.fakes.github_git import GitData
from tests.fakes.github_state import (
    BODY_LIMIT,
    Comment,
    GhError,
    Issue,
    Pull,
    Repo,
    blob_sha,
    not_found,
    now_iso,
    too_long,
)

_REPO = "/repos/{owner}/{repo}"


class Routes(GitData):
    def __init__(self, *, user: str) -> None:
        self.repos: dict[str, Repo] = {}
        self.user = user
        self.base = ""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(_REPO, self._get_repo)
        router.add_get(_REPO + "/issues/{number:\\d+}", self._get_issue)
        router.add_get(_REPO + "/issues/{number:\\d+}/comments", self._list_comments)
        router.add_post(_REPO + "/issues/{number:\\d+}/comments", self._create_comment)
        router.add_route("*", _REPO + "/issues/comments/{id:\\d+}", self._one_comment)
        router.add_get(_REPO + "/git/ref/{ref:.+}", self._get_ref)
        router.add_get(_REPO + "/git/refs/{ref:.+}", self._get_ref)
        router.add_post(_REPO + "/git/refs", self._create_ref)
        self.add_git_data_routes(router)
        router.add_get(_REPO + "/branches/{branch:.+}", self._get_branch)
        router.add_get(_REPO + "/contents", self._get_contents)
        router.add_get(_REPO + "/contents/{path:.*}", self._get_contents)
        router.add_put(_REPO + "/contents/{path:.+}", self._put_contents)
        router.add_post(_REPO + "/pulls", self._create_pull)
        router.add_get(_REPO + "/pulls/{number:\\d+}", self._get_pull)

    # ---- lookups -------------------------------------------------------------------------
    def _repo(self, request: web.Request) -> Repo:
        repo = self.repos.get(f"{request.match_info['owner']}/{request.match_info['repo']}")
        if repo is None:
            raise not_found()
        return repo

    def _user(self, login: str) -> dict[str, Any]:
        return {"login": login, "id": 1, "type": "Bot" if login.endswith("[bot]") else "User"}

    # ---- JSON ----------------------------------------------------------------------------
    def repo_json(self, repo: Repo) -> dict[str, Any]:
        owner, name = repo.full_name.split("/")
        return {
            "id": abs(hash(repo.full_name)) % 10**8,
            "name": name,
            "full_name": repo.full_name,
            "owner": self._user(owner),
            "private": False,
            "url": f"{self.base}/repos/{repo.full_name}",
            "html_url": f"https://github.com/{repo.full_name}",
            "default_branch": repo.default_branch,
        }

    def issue_json(self, repo: Repo, issue: Issue) -> dict[str, Any]:
        api = f"{self.base}/repos/{repo.full_name}/issues/{issue.number}"
        out = {
            "id": issue.number,
            "number": issue.number,
            "title": issue.title,
            "state": "open",
            "body": "",
            "user": self._user("octocat"),
            "comments": len(issue.comments),
            "url": api,
            "comments_url": f"{api}/comments",
            "html_url": f"https://github.com/{repo.full_name}/issues/{issue.number}",
        }
        if issue.is_pull:
            out["pull_request"] = {"url": f"{self.base}/repos/{repo.full_name}/pulls/{issue.number}"}
        return out

    def comment_json(self, repo: Repo, issue: Issue, comment: Comment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "node_id": f"IC_{comment.id}",
            "url": f"{self.base}/repos/{repo.full_name}/issues/comments/{comment.id}",
            "html_url": f"https://github.com/{repo.full_name}/issues/{issue.number}#issuecomment-{comment.id}",
            "issue_url": f"{self.base}/repos/{repo.full_name}/issues/{issue.number}",
            "body": comment.body,
            "user": self._user(comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
        }

    def ref_json(self, repo: Repo, branch: str) -> dict[str, Any]:
        sha = repo.head(branch).sha
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": f"REF_{sha[:8]}",
            "url": f"{self.base}/repos/{repo.full_name}/git/refs/heads/{branch}",
            "object": {
                "sha": sha,
                "type": "commit",
                "url": f"{self.base}/repos/{repo.full_name}/git/commits/{sha}",
            },
        }

    def content_json(self, repo: Repo, path: str, data: bytes | None, ref: str) -> dict[str, Any]:
        """A file (``data`` given) or directory entry (``data`` None) of the contents API."""
        api = f"{self.base}/repos/{repo.full_name}/contents/{path}"
        out: dict[str, Any] = {
            "type": "file" if data is not None else "dir",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": blob_sha(data) if data is not None else blob_sha(path.encode()),
            "size": len(data) if data is not None else 0,
            "url": f"{api}?ref={ref}",
            "html_url": f"https://github.com/{repo.full_name}/blob/{ref}/{path}",
        }
        return out

    def pull_json(self, repo: Repo, pull: Pull) -> dict[str, Any]:
        return {
            "id": pull.number,
            "number": pull.number,
            "state": "open",
            "title": pull.title,
            "body": pull.body,
            "url": f"{self.base}/repos/{repo.full_name}/pulls/{pull.number}",
            "html_url": f"https://github.com/{repo.full_name}/pull/{pull.number}",
            "head": {
                "ref": pull.head,
                "sha": pull.head_sha,
                "label": f"{repo.full_name.split('/')[0]}:{pull.head}",
            },
            "base": {"ref": pull.base, "sha": repo.branches[pull.base], "label": pull.base},
            "merged": False,
            "user": self._user(self.user),
        }

    # ---- issues and comments -------------------------------------------------------------
    async def _get_repo(self, request: web.Request) -> web.Response:
        return web.json_response(self.repo_json(self._repo(request)))

    async def _get_issue(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        return web.json_response(self.issue_json(repo, repo.issue(int(request.match_info["number"]))))

    async def _list_comments(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        issue = repo.issue(int(request.match_info["number"]))
        per_page = max(1, min(100, int(request.query.get("per_page", "30"))))
        page = max(1, int(request.query.get("page", "1")))
        items = issue.comments[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(issue.comments) // per_page))
        headers = {}
        if page < last:
            link = f"{self.base}{request.path}?per_page={per_page}&page="
            headers["Link"] = f'<{link}{page + 1}>; rel="next", <{link}{last}>; rel="last"'
        return web.json_response([self.comment_json(repo, issue, c) for c in items], headers=headers)

    async def _create_comment(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        number = int(request.match_info["number"])
        body = _field(await request.json(), "body")
        comment = repo.add_comment(number, body, self.user)
        return web.json_response(self.comment_json(repo, repo.issue(number), comment), status=201)

    async def _one_comment(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        issue, comment = repo.find_comment(int(request.match_info["id"]))
        if request.method == "DELETE":
            issue.comments.remove(comment)
            return web.Response(status=204)
        if request.method == "PATCH":
            body = _field(await request.json(), "body")
            if len(body) > BODY_LIMIT:
                raise too_long()
            comment.body, comment.updated_at = body, now_iso()
            comment.versions.append(body)
        elif request.method != "GET":
            raise GhError(405, "Method Not Allowed")
        return web.json_response(self.comment_json(repo, issue, comment))

    # ---- git, contents, pulls ------------------------------------------------------------
    async def _get_ref(self, request: web.Request) -> web.Response:
        repo, ref = self._repo(request), request.match_info["ref"]
        if not ref.startswith("heads/"):
            raise not_found()
        return web.json_response(self.ref_json(repo, ref.removeprefix("heads/")))

    async def _create_ref(self, request: web.Request) -> web.Response:
        repo, data = self._repo(request), await request.json()
        ref, sha = _field(data, "ref"), _field(data, "sha")
        if not ref.startswith("refs/heads/") or ref == "refs/heads/":
            raise GhError(422, "Reference name must start with refs/heads/ in this fake")
        branch = ref.removeprefix("refs/heads/")
        if branch in repo.branches:
            raise GhError(422, "Reference already exists")
        if sha not in repo.commits:
            raise GhError(422, "Object does not exist")
        repo.branches[branch] = sha
        return web.json_response(self.ref_json(repo, branch), status=201)

    async def _get_branch(self, request: web.Request) -> web.Response:
        repo, branch = self._repo(request), request.match_info["branch"]
        sha = repo.head(branch).sha
        commit = {"sha": sha, "url": f"{self.base}/repos/{repo.full_name}/commits/{sha}"}
        return web.json_response({"name": branch, "commit": commit, "protected": False})

    async def _get_contents(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        path = request.match_info.get("path", "").strip("/")
        ref = request.query.get("ref") or repo.default_branch
        tree = repo.tree_at(ref)
        if path in tree:
            out = self.content_json(repo, path, tree[path], ref)
            out |= {"encoding": "base64", "content": base64.encodebytes(tree[path]).decode()}
            return web.json_response(out)
        prefix = f"{path}/" if path else ""
        children = {p[len(prefix) :].split("/", 1)[0] for p in tree if p.startswith(prefix)}
        if not children:
            raise not_found()
        entries = []
        for name in sorted(children):
            full = prefix + name
            entries.append(self.content_json(repo, full, tree.get(full), ref))
        return web.json_response(entries)

    async def _put_contents(self, request: web.Request) -> web.Response:
        repo, data = self._repo(request), await request.json()
        path = request.match_info["path"].strip("/")
        message, encoded = _field(data, "message"), _field(data, "content")
        try:
            content = base64.b64decode(encoded, validate=True)
        except binascii.Error as e:
            raise GhError(422, "content is not valid Base64") from e
        branch = data.get("branch") or repo.default_branch
        existed = path in repo.tree_at(branch)
        commit = repo.put_file(path, content, data.get("sha"), branch, message)
        commit_json = {
            "sha": commit.sha,
            "message": message,
            "url": f"{self.base}/repos/{repo.full_name}/git/commits/{commit.sha}",
            "html_url": f"https://github.com/{repo.full_name}/commit/{commit.sha}",
            "parents": [{"sha": commit.parent}] if commit.parent else [],
        }
        body = {"content": self.content_json(repo, path, content, branch), "commit": commit_json}
        return web.json_response(body, status=200 if existed else 201)

    async def _create_pull(self, request: web.Request) -> web.Response:
        repo, data = self._repo(request), await request.json()
        head = _field(data, "head").split(":")[-1]
        pull = repo.open_pull(_field(data, "title"), str(data.get("body") or ""), head, _field(data, "base"))
        return web.json_response(self.pull_json(repo, pull), status=201)

    async def _get_pull(self, request: web.Request) -> web.Response:
        repo, number = self._repo(request), int(request.match_info["number"])
        pull = next((p for p in repo.pulls if p.number == number), None)
        if pull is None:
            raise not_found()
        return web.json_response(self.pull_json(repo, pull))


def _field(data: Any, key: str) -> str:
    if not isinstance(data, dict) or not isinstance(data.get(key), str):
        raise GhError(422, "Invalid request.", [{"field": key, "code": "missing_field"}])
    return str(data[key])
