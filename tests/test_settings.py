"""Configuration: the documented example loads, nothing drifts, and bad files fail naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from config.settings import ConfigError, Environment, Policy, load_policy, load_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "codex-bot.example.yaml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        keys.add(prefix + name)
        if isinstance(default, BaseModel):
            keys |= _keys(type(default), f"{prefix}{name}.")
    return keys


def _paths(data: Any, prefix: str = "") -> set[str]:
    if not isinstance(data, dict):
        return set()
    found = set()
    for key, value in data.items():
        found.add(prefix + str(key))
        found |= _paths(value, f"{prefix}{key}.")
    return found


def test_example_file_loads_and_documents_every_key() -> None:
    policy = load_policy(EXAMPLE)
    assert policy.slack.incident_channel == "C0INCIDENT"
    assert policy.permissions["restart"].groups == ["S0SRE"]
    documented = _paths(yaml.safe_load(EXAMPLE.read_text()))
    missing = _keys(Policy) - documented
    assert not missing, f"keys missing from {EXAMPLE.name}: {sorted(missing)}"


def test_no_file_means_runbook_defaults() -> None:
    policy = load_policy(None)
    assert policy.namespace == "argo-workflows"
    assert policy.docker.expected_env == {
        "DOCKER_HOST": "tcp://127.0.0.1:2375",
        "DOCKER_ENABLED": "1",
        "DOCKER_TLS_VERIFY": "0",
    }
    assert policy.timeouts.build > policy.timeouts.docker_info


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("escalation:\n  failing_workflows_threshold: zero\n", "escalation.failing_workflows_threshold"),
        ("slack:\n  incident_chanel: C1\n", "slack.incident_chanel"),
        ("namespace: Not_A_Namespace\n", "namespace"),
        ("watcher:\n  lease_seconds: 30\n  renew_seconds: 20\n", "watcher.renew_seconds"),
        ("- just\n- a list\n", "(root)"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "codex-bot.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_policy(path)
    assert str(e.value).startswith(f"{path}: {named}:")


def test_secrets_are_not_printed(tmp_path: Path) -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-secret-value", "STATE_DIR": str(tmp_path)})
    assert "xoxb-secret-value" not in repr(settings)
    assert settings.env.resolved_database_url() == f"sqlite+aiosqlite:///{tmp_path / 'codex-bot.db'}"


def test_cli_exits_2_with_one_line_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("fleet:\n  concurrency: -3\n")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "pods"],
        env={"CODEX_BOT_CONFIG": str(path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "fleet.concurrency" in lines[0]


def test_kubeconfig_is_found_as_kubectl_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert Environment().resolved_kubeconfig() is None, "nothing configured: in-cluster"
    assert not Environment().kubeconfig_available

    home_config = tmp_path / ".kube" / "config"
    home_config.parent.mkdir()
    home_config.write_text("apiVersion: v1\nkind: Config\n")
    assert Environment().resolved_kubeconfig() == str(home_config)
    assert Environment().kubeconfig_available

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "other"))
    assert Environment().resolved_kubeconfig() == str(tmp_path / "other")
