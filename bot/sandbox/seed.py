"""The sandbox world: Codex pods (healthy, daemon down, DOCKER_TLS_VERIFY=1), Argo and Kyverno objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.sandbox.pods import DEFAULT_MAIN_ENV, DOCKER_IMAGE, MAIN_IMAGE

if TYPE_CHECKING:
    from bot.sandbox.cluster import FakeCluster

HEALTHY_POD = "codex-build-healthy-7f9c2"
DAEMON_DOWN_POD = "codex-build-nodaemon-4kq8d"
TLS_VERIFY_POD = "codex-build-tlsverify-9x2mw"
SANDBOX_PODS = (HEALTHY_POD, DAEMON_DOWN_POD, TLS_VERIFY_POD)
TEMPLATE = "codex-build"
CRON = "codex-nightly"
FLAG_CONFIGMAP = "codex-bot-flags"
PART_OF = {"app.kubernetes.io/part-of": "codex"}
GUARDRAILS = "codex-privileged-guardrails"


def seed_sandbox(cluster: FakeCluster) -> None:
    cluster.add_codex_pod(HEALTHY_POD, workflow="codex-build-healthy", stage="build", age=900)
    cluster.add_codex_pod(
        DAEMON_DOWN_POD, workflow="codex-build-nodaemon", stage="build", daemon_up=False, age=1500
    )
    cluster.add_codex_pod(
        TLS_VERIFY_POD,
        workflow="codex-build-tlsverify",
        stage="validate",
        env={"DOCKER_TLS_VERIFY": "1"},
        age=300,
    )
    cluster.add_event(
        DAEMON_DOWN_POD,
        "Unhealthy",
        "Readiness probe failed: docker info: Cannot connect to the Docker daemon",
        type="Warning",
        count=7,
    )
    cluster.add_object("workflowtemplates", workflow_template(TEMPLATE))
    cluster.add_object("cronworkflows", cron_workflow(CRON, TEMPLATE))
    cluster.add_configmap(FLAG_CONFIGMAP, {"submissions_paused": "false"}, labels=PART_OF)
    for name in SANDBOX_PODS:
        cluster.add_object("policyreports", policy_report(cluster, name))


def workflow_template(name: str) -> dict[str, Any]:
    """A Codex template holding the docker sidecar and the DOCKER_* env, as in argo's sidecar-dind example."""
    env = [{"name": k, "value": v} for k, v in DEFAULT_MAIN_ENV.items()]
    return {
        "metadata": {"name": name, "labels": dict(PART_OF)},
        "spec": {
            "entrypoint": "build",
            "arguments": {"parameters": [{"name": "stage", "value": "build"}]},
            "templates": [
                {
                    "name": "build",
                    "inputs": {"parameters": [{"name": "stage"}]},
                    "metadata": {"labels": {"codex.stage": "{{inputs.parameters.stage}}"}},
                    "container": {
                        "image": MAIN_IMAGE,
                        "command": ["codex"],
                        "args": ["run", "--stage", "{{inputs.parameters.stage}}"],
                        "env": [*env, {"name": "CODEX_LOG_LEVEL", "value": "info"}],
                        "volumeMounts": [
                            {"name": "docker-lib", "mountPath": "/var/lib/docker", "readOnly": True}
                        ],
                    },
                    "sidecars": [
                        {
                            "name": "docker",
                            "image": DOCKER_IMAGE,
                            "command": ["dockerd-entrypoint.sh"],
                            "env": [{"name": "DOCKER_TLS_CERTDIR", "value": ""}],
                            "securityContext": {"privileged": True},
                            "mirrorVolumeMounts": True,
                        }
                    ],
                }
            ],
            "volumes": [{"name": "docker-lib", "emptyDir": {}}],
        },
    }


def cron_workflow(name: str, template: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": dict(PART_OF)},
        "spec": {
            "schedule": "0 2 * * *",
            "timezone": "UTC",
            "concurrencyPolicy": "Forbid",
            "suspend": False,
            "workflowSpec": {"workflowTemplateRef": {"name": template}},
        },
    }


def policy_report(cluster: FakeCluster, pod_name: str) -> dict[str, Any]:
    """Kyverno >= 1.10 shape: one report per resource, named by its UID, scoped to it."""
    pod = cluster.pod(pod_name)
    rules = ("privileged-sidecar-only", "docker-host-loopback", "require-codex-stage-label")
    results = [
        {
            "policy": GUARDRAILS,
            "rule": rule,
            "result": "pass",
            "message": f"validation rule '{rule}' passed.",
            "scored": True,
            "severity": "high",
            "category": "Pod Security",
            "source": "kyverno",
            "timestamp": {"seconds": int(pod.created_at.timestamp()), "nanos": 0},
        }
        for rule in rules
    ]
    scope = {"apiVersion": "v1", "kind": "Pod", "name": pod.name, "namespace": pod.namespace, "uid": pod.uid}
    return {
        "metadata": {
            "name": pod.uid,
            "labels": {"app.kubernetes.io/managed-by": "kyverno"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": pod.name, "uid": pod.uid}],
        },
        "scope": scope,
        "results": results,
        "summary": {"pass": len(results), "fail": 0, "warn": 0, "error": 0, "skip": 0},
    }
