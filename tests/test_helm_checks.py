"""The chart against outside references: the Slack app manifest, the Kubernetes calls the
code declares (RBAC drift), and checkov over every rendered value set (one run per session)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.rbac import KUBE_CALLS
from config.settings import Policy
from tests.chart_tools import CHART, SETS, checkov_json, notes, once_per_session, render, the, values

# Role grants that no call in KUBE_CALLS needs, as {(api_group, resource, verb): reason}. Empty:
# the exec WebSocket's "get" is declared there (an HTTP GET upgrade is authorized as get, and
# since Kubernetes 1.35 create is checked as well).
JUSTIFIED_EXTRA_GRANTS: dict[tuple[str, str, str], str] = {}
# checkov checks skipped by annotations in templates/deployment.yaml, each with its reason there.
EXPECTED_CHECKOV_SKIPS = {"CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_38", "CKV_K8S_43"}
CheckovResults = dict[str, dict[str, list[dict[str, Any]]]]


def _manifest_in_notes(name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(notes(name).split("\n---\n")[1])
    return manifest


def test_slack_app_manifest_has_the_command_scopes_and_urls() -> None:
    manifest = yaml.safe_load((CHART / "slack-app-manifest.yaml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == Policy().slack.command == "/codex"
    assert command["url"] == manifest["settings"]["interactivity"]["request_url"]
    assert command["url"].startswith("https://") and command["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "files:write",
        "usergroups:read",
        "users:read",
        "channels:read",
    }


def test_notes_print_the_manifest_for_this_install() -> None:
    http = _manifest_in_notes("http-ingress")
    assert http["features"]["slash_commands"][0]["url"] == "https://codex-bot.corp.example.org/slack/events"
    assert (
        http["settings"]["interactivity"]["request_url"] == "https://codex-bot.corp.example.org/slack/events"
    )
    assert http["settings"]["socket_mode_enabled"] is False
    assert _manifest_in_notes("socket-mode")["settings"]["socket_mode_enabled"] is True
    assert "create secret generic codex-bot-tokens" in notes("http-ingress")
    assert "/codex help" in notes("default")


def _grants(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def test_role_grants_exactly_the_kubernetes_calls_the_code_declares() -> None:
    declared = {
        ("" if c.api_group in ("core", "v1") else c.api_group, c.resource, c.verb) for c in KUBE_CALLS
    }
    granted = _grants(the("default", "Role"))
    assert declared - granted == set(), "the code makes calls the Role does not allow"
    assert granted - declared - JUSTIFIED_EXTRA_GRANTS.keys() == set(), "the Role grants calls no code makes"
    assert not any("*" in item for grant in granted for item in grant)


def _render_for_checkov(target: Path) -> None:
    """One directory per value set under one root: a single checkov process (its start-up is
    most of its time; several -d in one run only scan the first). Each set is released under
    its own name so graph checks (NetworkPolicy selects pods, RoleBinding subjects) cannot pair
    one set's objects with another's."""
    for name in SETS:
        (target / name).mkdir()
        for path, text in render(name, release=name).items():
            if path.endswith(".yaml") and text.strip():
                (target / name / Path(path).name).write_text(text)
    # Control: a privileged pod checkov must fail, proving it really evaluated the files.
    (target / "control").mkdir()
    (target / "control" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: careless, namespace: x}\n"
        "spec: {containers: [{name: c, image: busybox, securityContext: {privileged: true}}]}\n"
    )
    reports = checkov_json(["-d", str(target), "--framework", "kubernetes"])
    (target / "report.json").write_text(json.dumps(reports))


@pytest.fixture(scope="module")
def checkov_results(tmp_path_factory: pytest.TempPathFactory) -> CheckovResults:
    """checkov's kubernetes checks, run once per session over every rendered value set."""
    target = once_per_session(tmp_path_factory, "checkov-chart", _render_for_checkov)
    by_set: CheckovResults = {name: {} for name in [*SETS, "control"]}
    for report in json.loads((target / "report.json").read_text()):
        for outcome in ("passed_checks", "failed_checks", "skipped_checks"):
            for check in report["results"].get(outcome, []):
                name = Path(check["file_abs_path"]).relative_to(target).parts[0]
                by_set[name].setdefault(outcome, []).append(check)
    return by_set


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", SETS)
def test_checkov_finds_no_failed_check(name: str, checkov_results: CheckovResults) -> None:
    results = checkov_results[name]
    assert len(results.get("passed_checks", [])) > 50, "checkov evaluated almost nothing"
    assert [
        f"{c['check_id']} {c['check_name']} ({c['resource']})" for c in results.get("failed_checks", [])
    ] == []
    skipped = {
        c["check_id"]: c["check_result"]["suppress_comment"] for c in results.get("skipped_checks", [])
    }
    assert skipped.keys() <= EXPECTED_CHECKOV_SKIPS, f"new skips need a reason and a review: {skipped}"
    assert all(len(reason) > 30 for reason in skipped.values()), skipped
    if values(name).get("image", {}).get("digest"):
        assert {"CKV_K8S_15", "CKV_K8S_43"} <= {c["check_id"] for c in results.get("passed_checks", [])}


@pytest.mark.timeout(600)
def test_checkov_control_fails(checkov_results: CheckovResults) -> None:
    assert "CKV_K8S_16" in {c["check_id"] for c in checkov_results["control"].get("failed_checks", [])}
