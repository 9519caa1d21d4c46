"""Rollback in pull-request mode: the same edit on GitOps YAML files, touching only what it must."""

from __future__ import annotations

import yaml

from config.settings import Policy
from handlers.template_files import plan_rollback_files, selector_matches, split_documents

POLICY = Policy()

CONFIGMAP = """# shared settings, not a template
apiVersion: v1
kind: ConfigMap
metadata:
  name: codex-settings
data:
  DOCKER_HOST: "tcp://127.0.0.1:2375"   # must stay: not a WorkflowTemplate
"""

CODEX = """---
# Codex universal template (owned by platform)
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
    name: codex-universal
    labels:
        app.kubernetes.io/part-of: codex
spec:
    entrypoint: main
    templates:
        -   name: codex
            container:
                image: "codex-universal:1"   # pinned
                env:
                    -   name: DOCKER_HOST
                        value: 'tcp://127.0.0.1:2375'
                    -   name: OPENAI_MODEL   # the model
                        value: gpt
                    -   name: DOCKER_ENABLED
                        value: "1"
            sidecars:
                -   name: docker
                    image: docker:27-dind-rootless
                    securityContext: {privileged: true}
                -   name: shipper
                    image: shipper:2
            podSpecPatch: |
                containers:
                  - name: docker
                    resources: {limits: {memory: 2Gi}}
"""

OTHER_TEAM = """---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: other-team
  labels: {app.kubernetes.io/part-of: other}
spec:
  templates:
  - name: x
    sidecars: [{name: docker, image: "docker:dind"}]
"""

CLEAN = """apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: codex-lint
  labels:
    app.kubernetes.io/part-of: codex
spec:
  templates:
  - name: lint
    script: {image: python, source: "print(1)"}
"""


def test_edits_only_the_selected_template_and_keeps_other_documents_byte_identical() -> None:
    bundle = CONFIGMAP + CODEX + OTHER_TEAM
    plan = plan_rollback_files({"argo/workflowtemplates/codex.yaml": bundle, "argo/lint.yaml": CLEAN}, POLICY)

    assert set(plan.changed) == {"argo/workflowtemplates/codex.yaml"}  # the clean file is not in the PR
    new = plan.changed["argo/workflowtemplates/codex.yaml"]
    docs = split_documents(new)
    assert docs[0] == CONFIGMAP and docs[2] == OTHER_TEAM

    edited = yaml.safe_load(docs[1])
    container = edited["spec"]["templates"][0]["container"]
    assert [e["name"] for e in container["env"]] == ["OPENAI_MODEL"]
    assert [s["name"] for s in edited["spec"]["templates"][0]["sidecars"]] == ["shipper"]
    assert "podSpecPatch" not in edited["spec"]["templates"][0]
    assert plan.removed["argo/workflowtemplates/codex.yaml"] == (
        "codex-universal: templates[codex].sidecars[docker]",
        "codex-universal: templates[codex].container.env[DOCKER_HOST]",
        "codex-universal: templates[codex].container.env[DOCKER_ENABLED]",
        "codex-universal: templates[codex].podSpecPatch.containers[docker]",
    )


def test_the_pull_request_diff_only_removes_lines_and_keeps_comments_quotes_and_indentation() -> None:
    plan = plan_rollback_files({"codex.yaml": CODEX}, POLICY)
    diff = plan.diff
    body = [ln for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    assert body and all(ln.startswith("-") for ln in body), diff
    new = plan.changed["codex.yaml"]
    assert "# Codex universal template (owned by platform)" in new
    assert '                image: "codex-universal:1"   # pinned' in new
    assert "                    -   name: OPENAI_MODEL   # the model" in new
    assert new.startswith("---\n")


def test_names_from_the_cluster_override_the_label_selector() -> None:
    plan = plan_rollback_files({"t.yaml": CODEX + OTHER_TEAM}, POLICY, names={"other-team"})
    docs = split_documents(plan.changed["t.yaml"])
    assert docs[0] == CODEX
    assert "sidecars" not in yaml.safe_load(docs[1])["spec"]["templates"][0]


def test_invalid_yaml_is_reported_and_left_alone() -> None:
    broken = "---\nkind: WorkflowTemplate\nmetadata: {name: x\n"
    plan = plan_rollback_files({"bad.yaml": broken, "codex.yaml": CODEX}, POLICY)
    assert "bad.yaml" not in plan.changed and "codex.yaml" in plan.changed
    assert plan.warnings and plan.warnings[0].startswith("bad.yaml: a document is not valid YAML")


def test_split_documents_round_trips_exactly() -> None:
    text = "a: 1\n---\nb: 2\n--- # c\nc: |\n  ---not a marker\n  x\n---\n"
    assert "".join(split_documents(text)) == text
    assert len(split_documents(text)) == 4


def test_selector_matching() -> None:
    labels = {"app.kubernetes.io/part-of": "codex", "tier": "ci"}
    assert selector_matches(labels, "app.kubernetes.io/part-of=codex,tier")
    assert selector_matches(labels, "app.kubernetes.io/part-of==codex,tier!=prod,!legacy")
    assert not selector_matches(labels, "app.kubernetes.io/part-of=other")
    assert not selector_matches(labels, "tier!=ci")
    assert not selector_matches(labels, "!tier")
