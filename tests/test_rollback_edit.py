"""The pure spec edit: only DOCKER_* env vars and the docker sidecar go, wherever they are."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from handlers.template_edit import Edit, guess_indent, strip_pod_spec_patch, strip_workflow_spec

TEMPLATE_YAML = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: codex-universal
  labels: {app.kubernetes.io/part-of: codex}
spec:
  entrypoint: main
  templateDefaults:
    container:
      env:
        - {name: DOCKER_TLS_VERIFY, value: "0"}
        - {name: TZ, value: UTC}
  podSpecPatch: '{"containers":[{"name":"docker","resources":{"limits":{"memory":"4Gi"}}}]}'
  templates:
    - name: main
      steps: [[{name: stage, template: codex}]]
    - name: codex
      metadata:
        labels: {codex.stage: "{{inputs.parameters.stage}}"}
      container:
        image: codex-universal:1
        env:
          - {name: DOCKER_HOST, value: "tcp://127.0.0.1:2375"}
          - {name: OPENAI_MODEL, value: gpt}
          - {name: DOCKER_ENABLED, value: "1"}
          - {name: DOCKERFILE_PATH, value: apps/froussard/Dockerfile.codex}
        volumeMounts:
          - {name: docker-lib, mountPath: /var/lib/docker, readOnly: true}
      sidecars:
        - name: docker
          image: docker:27-dind-rootless
          securityContext: {privileged: true}
          mirrorVolumeMounts: true
          env:
            - {name: DOCKER_TLS_CERTDIR, value: ""}
        - name: log-shipper
          image: shipper:2
          env:
            - {name: DOCKER_LOGS, value: "yes"}
            - {name: SHIP_TO, value: loki}
      podSpecPatch: |
        containers:
          - name: main
            env:
              - name: DOCKER_BUILDKIT
                value: "1"
              - name: KEEP_ME
                value: "1"
          - name: docker
            resources:
              limits: {memory: 2Gi}
    - name: lint
      script:
        image: python:3.12
        source: print("hi")
        env:
          - {name: DOCKER_HOST, value: "tcp://127.0.0.1:2375"}
      initContainers:
        - name: fetch
          image: git:2
          env:
            - {name: DOCKER_CONFIG, value: /tmp}
            - {name: GIT_DEPTH, value: "1"}
    - name: pair
      containerSet:
        containers:
          - name: a
            image: a:1
            env: [{name: DOCKER_HOST, value: x}]
          - name: b
            image: b:1
"""

TEMPLATE: dict[str, Any] = yaml.safe_load(TEMPLATE_YAML)


def stripped(spec: dict[str, Any]) -> tuple[dict[str, Any], Edit]:
    spec = copy.deepcopy(spec)
    edit = Edit(env_prefix="DOCKER_", sidecar_name="docker")
    strip_workflow_spec(spec, edit)
    return spec, edit


def test_removes_docker_env_and_sidecar_everywhere_and_nothing_else() -> None:
    spec, edit = stripped(TEMPLATE["spec"])
    codex, lint, pair = spec["templates"][1], spec["templates"][2], spec["templates"][3]

    assert [e["name"] for e in codex["container"]["env"]] == ["OPENAI_MODEL", "DOCKERFILE_PATH"]
    assert [s["name"] for s in codex["sidecars"]] == ["log-shipper"]
    assert codex["sidecars"][0]["env"] == [{"name": "SHIP_TO", "value": "loki"}]
    assert "env" not in lint["script"]  # emptied list goes with its key
    assert lint["initContainers"][0]["env"] == [{"name": "GIT_DEPTH", "value": "1"}]
    assert "env" not in pair["containerSet"]["containers"][0]
    assert spec["templateDefaults"]["container"]["env"] == [{"name": "TZ", "value": "UTC"}]
    assert "podSpecPatch" not in spec  # it only patched the docker container
    assert yaml.safe_load(codex["podSpecPatch"]) == {
        "containers": [{"name": "main", "env": [{"name": "KEEP_ME", "value": "1"}]}]
    }
    # untouched: the volume mount, labels, steps, key order
    assert codex["container"]["volumeMounts"] == TEMPLATE["spec"]["templates"][1]["container"]["volumeMounts"]
    assert spec["templates"][0] == TEMPLATE["spec"]["templates"][0]
    assert list(codex) == list(TEMPLATE["spec"]["templates"][1])
    assert list(spec) == [k for k in TEMPLATE["spec"] if k != "podSpecPatch"]

    assert edit.removed == [
        "templates[codex].sidecars[docker]",
        "templates[codex].sidecars[log-shipper].env[DOCKER_LOGS]",
        "templates[codex].container.env[DOCKER_HOST]",
        "templates[codex].container.env[DOCKER_ENABLED]",
        "templates[codex].podSpecPatch.containers[docker]",
        "templates[codex].podSpecPatch.containers[main].env[DOCKER_BUILDKIT]",
        "templates[lint].initContainers[fetch].env[DOCKER_CONFIG]",
        "templates[lint].script.env[DOCKER_HOST]",
        "templates[pair].containerSet[a].env[DOCKER_HOST]",
        "templateDefaults.container.env[DOCKER_TLS_VERIFY]",
        "podSpecPatch.containers[docker]",
    ]
    assert edit.warnings == []


def test_a_spec_without_docker_bits_is_left_exactly_as_it_was() -> None:
    spec, _ = stripped(TEMPLATE["spec"])
    again, edit = stripped(spec)
    assert again == spec and edit.removed == []


def test_sidecar_list_with_only_docker_goes_with_its_key() -> None:
    spec = {"templates": [{"name": "t", "container": {"image": "x"}, "sidecars": [{"name": "docker"}]}]}
    out, _ = stripped(spec)
    assert out == {"templates": [{"name": "t", "container": {"image": "x"}}]}


def test_json_pod_spec_patch_stays_json_and_an_untouched_one_stays_byte_identical() -> None:
    edit = Edit("DOCKER_", "docker")
    text = '{"containers": [{"name": "main", "env": [{"name": "DOCKER_HOST", "value": "x"}, {"name": "A"}]}]}'
    out = strip_pod_spec_patch(text, edit)
    assert out is not None and json.loads(out) == {"containers": [{"name": "main", "env": [{"name": "A"}]}]}

    untouched = '{"containers": [{"name":"main", "resources":{}}]}'
    spec = {"templates": [{"name": "t", "podSpecPatch": untouched}]}
    out_spec, _ = stripped(spec)
    assert out_spec["templates"][0]["podSpecPatch"] == untouched


def test_unparsable_pod_spec_patch_is_kept_and_reported() -> None:
    spec = {"templates": [{"name": "t", "podSpecPatch": "containers: [ {{inputs.parameters.x}"}]}
    out, edit = stripped(spec)
    assert out == spec and edit.removed == []
    assert edit.warnings and "templates[t].podSpecPatch is not valid YAML/JSON" in edit.warnings[0]


def test_guess_indent_follows_the_file() -> None:
    assert guess_indent("a:\n- b: 1\n  c: 2\n") == (2, 2, 0)
    assert guess_indent("a:\n  - b: 1\n    c: 2\nd:\n  e: 1\n") == (2, 4, 2)
    assert guess_indent("a:\n    - b: 1\n      c: 2\nd:\n    e: 1\n") == (4, 6, 4)
