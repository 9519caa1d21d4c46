"""The Helm chart, rendered for real (helm-python-sdk: Helm's Go library), for the default
values and each file in tests/helm_values/: schema-valid Kubernetes objects, a clean
`helm lint`, a restricted pod, tokens only by Secret reference, a config the bot accepts,
RBAC equal to the calls the code declares, and no failed checkov checks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from config.settings import Environment, Policy, load_policy
from tests.chart_tools import (
    CHART,
    RELEASE,
    ROOT,
    SCHEMA,
    SETS,
    container,
    env_of,
    kinds,
    merged_values,
    objects,
    pod_spec,
    policy_schema,
    release_namespace,
    the,
    values,
)

KUBE_VERSION = "1.35.0"  # exec over WebSocket needs pods/exec create from 1.35 on (KEP-4006)
# Kinds kubernetes-validate has no schema for (CRDs); each is checked structurally below.
CRD_KINDS = {"ServiceMonitor"}
TOKEN_KEYS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "GITHUB_TOKEN", "DATABASE_URL"}


@pytest.mark.parametrize("name", SETS)
def test_every_manifest_matches_the_kubernetes_schema(name: str) -> None:
    kinds = set()
    for obj in objects(name):
        kinds.add(obj["kind"])
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {'.'.join(map(str, e.path))}: {e.message}")
    assert {"Deployment", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Service"} <= kinds


def test_service_monitor_scrapes_metrics_on_the_service_port() -> None:
    monitor, service = the("ha-postgres", "ServiceMonitor"), the("ha-postgres", "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


@pytest.mark.parametrize("name", SETS)
def test_helm_lint_reports_nothing_above_info(name: str) -> None:
    report = helm.lint(
        CHART, values(name), strict=True, namespace=release_namespace(name), kube_version=f"v{KUBE_VERSION}"
    )
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("name", SETS)
def test_pod_meets_the_restricted_pod_security_standard(name: str) -> None:
    spec, bot = pod_spec(name), container(name)
    pod_ctx, ctx = spec["securityContext"], bot["securityContext"]
    assert pod_ctx["runAsNonRoot"] is True and pod_ctx["runAsUser"] >= 10000
    assert pod_ctx["seccompProfile"] == {"type": "RuntimeDefault"} == ctx["seccompProfile"]
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False and ctx["privileged"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC", "initContainers"))
    # The bot calls the Kubernetes API, so it (and only it) gets the token.
    assert spec["automountServiceAccountToken"] is True
    assert the(name, "ServiceAccount")["automountServiceAccountToken"] is False


@pytest.mark.parametrize("name", SETS)
def test_only_the_state_dir_and_tmp_are_writable(name: str) -> None:
    volumes = {v["name"]: v for v in pod_spec(name)["volumes"]}
    writable = {m["mountPath"]: m["name"] for m in container(name)["volumeMounts"] if not m.get("readOnly")}
    assert writable.keys() == {"/var/lib/codex-bot", "/tmp"}
    assert env_of(name)["STATE_DIR"]["value"] == "/var/lib/codex-bot"
    assert "emptyDir" in volumes[writable["/tmp"]]
    assert all({"configMap", "emptyDir", "persistentVolumeClaim"} & v.keys() for v in volumes.values())


@pytest.mark.parametrize("name", SETS)
def test_probes_service_and_port_line_up(name: str) -> None:
    bot, service = container(name), the(name, "Service")
    (port,) = bot["ports"]
    assert port == {"name": "http", "containerPort": 3000, "protocol": "TCP"}
    assert env_of(name)["PORT"]["value"] == "3000"
    assert bot["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert bot["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert bot["resources"]["limits"] and bot["resources"]["requests"]
    assert (
        service["spec"]["selector"].items()
        <= the(name, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    )
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert bot["args"] == ["serve"]


@pytest.mark.parametrize("name", SETS)
def test_tokens_come_only_from_the_existing_secret(name: str) -> None:
    v, env = merged_values(name), env_of(name)
    assert "Secret" not in kinds(name)
    token_env = {k: e for k, e in env.items() if k in TOKEN_KEYS}
    for key, e in token_env.items():
        assert "value" not in e, f"{key} must not be a literal"
        ref = e["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == (v["existingSecret"], key)
        # The signing secret may be absent only in Socket Mode; the GitHub token always (the bot runs
        # with GitHub features off); the rest are needed to start.
        optional = (key == "SLACK_SIGNING_SECRET" and v["slack"]["socketMode"]) or key == "GITHUB_TOKEN"
        assert ref.get("optional", False) is optional
    # SLACK_APP_TOKEN switches the bot to Socket Mode, so it is present only when asked for.
    assert ("SLACK_APP_TOKEN" in env) is v["slack"]["socketMode"]
    assert ("DATABASE_URL" in env) is (v["database"]["type"] == "external")
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "GITHUB_TOKEN"} <= token_env.keys()


def test_every_env_var_is_one_the_bot_reads() -> None:
    read = {name.upper() for name in Environment.model_fields}
    for name in SETS:
        assert env_of(name).keys() <= read, f"{name}: the bot ignores {env_of(name).keys() - read}"
    assert read >= TOKEN_KEYS


def _leaves(node: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in node.items():
        nested = isinstance(value, dict) and value and key != "config"
        out.extend(_leaves(value, f"{prefix}{key}.") if nested else [f"{prefix}{key}"])
    return out


def test_readme_values_reference_describes_every_value() -> None:
    readme = (ROOT / "README.md").read_text()
    reference = readme.split("### Values reference", 1)[1].split("\n### ", 1)[0]
    first_cells = re.findall(r"^\|([^|]+)\|", reference, re.MULTILINE)
    documented = {name for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}
    undocumented = [
        leaf
        for leaf in _leaves(yaml.safe_load((CHART / "values.yaml").read_text()))
        if not any(leaf == key or leaf.startswith(f"{key}.") for key in documented)
    ]
    assert undocumented == [], "add these to the values table in README.md"


def test_no_value_can_hold_a_token() -> None:
    """Tokens reach the pod only through existingSecret: the schema (additionalProperties: false
    everywhere) has no key a token could be typed into."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.extend(node.get("properties", {}))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    assert "existingSecret" in names
    assert [n for n in names if any(w in n.lower() for w in ("token", "password", "signing"))] == []


@pytest.mark.parametrize("name", SETS)
def test_config_map_is_a_config_the_bot_accepts(name: str, tmp_path: Path) -> None:
    configmap, env = the(name, "ConfigMap"), env_of(name)
    mount = next(m for m in container(name)["volumeMounts"] if m["name"] == "config")
    assert env["CODEX_BOT_CONFIG"]["value"] == f"{mount['mountPath']}/codex-bot.yaml"
    (tmp_path / "codex-bot.yaml").write_text(configmap["data"]["codex-bot.yaml"])
    policy = load_policy(tmp_path / "codex-bot.yaml")
    assert policy.namespace == merged_values(name)["namespace"] == the(name, "Role")["metadata"]["namespace"]
    assert policy.model_dump(exclude={"namespace"}) == Policy.model_validate(
        values(name).get("config", {})
    ).model_dump(exclude={"namespace"})


@pytest.mark.parametrize("name", SETS)
def test_role_limits_named_objects_to_the_configured_names(name: str, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(the(name, "ConfigMap")["data"]["codex-bot.yaml"])
    policy = load_policy(tmp_path / "c.yaml")
    named = {
        (r["resources"][0], tuple(r["verbs"])): r.get("resourceNames") for r in the(name, "Role")["rules"]
    }
    assert named[("configmaps", ("get", "patch"))] == [policy.submissions.flag_configmap]
    assert named[("leases", ("get", "update"))] == [policy.watcher.lease_name]
    assert named[("leases", ("create",))] is None  # create cannot be limited by name


@pytest.mark.parametrize("name", SETS)
def test_rolebinding_grants_the_role_to_the_bot_service_account(name: str) -> None:
    role, binding, account = the(name, "Role"), the(name, "RoleBinding"), the(name, "ServiceAccount")
    assert (
        binding["metadata"]["namespace"] == role["metadata"]["namespace"] == merged_values(name)["namespace"]
    )
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": release_namespace(name)}
    ]
    assert pod_spec(name)["serviceAccountName"] == account["metadata"]["name"]
    assert not {"ClusterRole", "ClusterRoleBinding"} & kinds(name)


def test_sqlite_runs_one_replica_on_a_kept_volume() -> None:
    deployment, pvc = the("default", "Deployment"), the("default", "PersistentVolumeClaim")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    state = next(v for v in pod_spec("default")["volumes"] if v["name"] == "state")
    assert state["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert "PodDisruptionBudget" not in kinds("default")


def test_two_replicas_on_postgres_roll_safely() -> None:
    deployment, pdb = the("ha-postgres", "Deployment"), the("ha-postgres", "PodDisruptionBudget")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert "PersistentVolumeClaim" not in kinds("ha-postgres")
    assert container("ha-postgres")["image"].endswith("@" + values("ha-postgres")["image"]["digest"])


def test_schema_refuses_two_replicas_on_sqlite() -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError, match="replicaCount"):
        chart.render({"replicaCount": 2}, name=RELEASE, namespace="argo-workflows")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"replicaCount": 2}, "replicaCount > 1 needs database.type=external"),
        ({"slack": {"socketMode": True}, "ingress": {"enabled": True}}, "ingress.enabled is for HTTP mode"),
    ],
)
def test_templates_refuse_unsafe_values_even_without_the_schema(
    bad: dict[str, Any], message: str, tmp_path: Path
) -> None:
    copy = tmp_path / "codex-bot"
    shutil.copytree(CHART, copy)
    (copy / "values.schema.json").unlink()  # as with `helm install --skip-schema-validation`
    with (
        helm.Chart.load(copy) as chart,
        pytest.raises(helm.HelmRenderError, match=message.replace(".", r"\.")),
    ):
        chart.render(bad, name=RELEASE, namespace="argo-workflows")


def test_values_schema_config_mirrors_the_bot_config_model() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert (schema["properties"]["config"], schema["$defs"]) == policy_schema(), (
        "config/settings.py Policy changed: run `.venv/bin/python -m tests.chart_tools` to update "
        "helm/codex-bot/values.schema.json"
    )


def test_ingress_exposes_only_slack_events() -> None:
    ingress = the("http-ingress", "Ingress")
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "codex-bot.corp.example.org"
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/slack/events", "Exact")
    assert path["backend"]["service"] == {
        "name": the("http-ingress", "Service")["metadata"]["name"],
        "port": {"name": "http"},
    }
    assert ingress["spec"]["tls"] == [{"hosts": [rule["host"]], "secretName": "codex-bot-tls"}]
    assert "Ingress" not in kinds("socket-mode")
