"""Helpers for the deployment tests (Dockerfile and Helm chart).

* ``once_per_session``: slow work (a venv, a checkov run) done once per test session and
  shared by all pytest-xdist workers through a lock file next to their temp dirs.
* ``checkov_json``: checkov from its own venv in the user cache. checkov pins packaging<24
  and (through botocore) python-dateutil<3, which conflict with pytest and kubernetes, so it
  cannot be a dependency of the project's venv.
* ``rendered`` / ``objects`` / ``the``: the chart rendered by Helm's Go library
  (helm-python-sdk) for the default values or a file in tests/helm_values/.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "codex-bot"
VALUES_DIR = Path(__file__).parent / "helm_values"
SETS = ["default", *sorted(p.stem for p in VALUES_DIR.glob("*.yaml"))]
RELEASE = "codex-bot"
CHECKOV_REQUIREMENT = "checkov==3.3.30"
SUBPROCESS_TIMEOUT = 480  # seconds; the slowest is building wheels of every dependency on 2 cores


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def once_per_session(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """Run ``build(dir)`` once per test session for all xdist workers and return ``dir``.

    A failed build is recorded, so every worker reports that error instead of building again.
    """
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this session
    target, failed = root / name, root / f"{name}.failed"
    with _locked(root / f"{name}.lock"):
        if not (target / ".done").exists() and not failed.exists():
            target.mkdir(exist_ok=True)
            try:
                build(target)
            except BaseException as e:
                failed.write_text(f"{name}: {type(e).__name__}: {e}")
                raise
            (target / ".done").touch()
    if failed.exists():
        pytest.fail(failed.read_text(), pytrace=False)
    return target


def run(
    argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)


def checkov_bin() -> Path:
    """checkov from its own venv, created on first use (about a minute) and then reused."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codex-bot" / "tools"
    venv = cache / CHECKOV_REQUIREMENT.replace("==", "-")
    with _locked(cache / f"{venv.name}.lock"):
        if not (venv / ".installed").exists():
            for argv in (
                [sys.executable, "-m", "venv", "--clear", str(venv)],
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", CHECKOV_REQUIREMENT],
            ):
                done = run(argv)
                assert done.returncode == 0, f"installing {CHECKOV_REQUIREMENT} failed:\n{done.stderr}"
            (venv / ".installed").touch()
    return venv / "bin" / "checkov"


def checkov_json(argv: list[str]) -> list[dict[str, Any]]:
    """Run checkov offline; return its reports (it prints one JSON document per scanned root)."""
    done = run([str(checkov_bin()), *argv, "--skip-download", "--compact", "-o", "json"])
    assert done.returncode in (0, 1), f"checkov crashed ({done.returncode}):\n{done.stderr[-3000:]}"
    decoder, text, reports, at = json.JSONDecoder(), done.stdout, [], 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        report, at = decoder.raw_decode(text, at)
        reports.extend(report if isinstance(report, list) else [report])
    return reports


def values(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = (
        {} if name == "default" else yaml.safe_load((VALUES_DIR / f"{name}.yaml").read_text())
    )
    return loaded


def release_namespace(name: str) -> str:
    # The non-default sets install the bot outside the workflows namespace.
    return "argo-workflows" if name == "default" else "codex-bot"


def render(name: str, release: str = RELEASE) -> dict[str, str]:
    with helm.Chart.load(CHART) as chart:
        return chart.render(values(name), name=release, namespace=release_namespace(name), is_install=True)


@functools.cache
def rendered(name: str) -> dict[str, str]:
    return render(name)


@functools.cache
def merged_values(name: str) -> dict[str, Any]:
    with helm.Chart.load(CHART) as chart:
        return chart.merge_values(values(name))


def objects(name: str) -> list[dict[str, Any]]:
    return [
        doc
        for path, text in rendered(name).items()
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def kinds(name: str) -> set[str]:
    return {o["kind"] for o in objects(name)}


def the(name: str, kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects(name) if o["kind"] == kind]
    return found


def pod_spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = the(name, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(name: str) -> dict[str, Any]:
    (bot,) = pod_spec(name)["containers"]
    return bot


def env_of(name: str) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(name)["env"]}


def notes(name: str) -> str:
    return rendered(name)[f"{RELEASE}/templates/NOTES.txt"]


SCHEMA = CHART / "values.schema.json"
CONFIG_DESCRIPTION = (
    "The bot's config file (codex-bot.yaml); see config/settings.py. namespace comes from .Values.namespace."
)


def policy_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """(config schema, $defs) for values.schema.json: Policy's JSON schema without titles and
    without `namespace`, which the chart sets from .Values.namespace."""
    from config.settings import Policy

    config = _strip_titles(Policy.model_json_schema())
    defs = config.pop("$defs")
    del config["properties"]["namespace"]
    config["description"] = CONFIG_DESCRIPTION
    return config, defs


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))}
    return [_strip_titles(v) for v in node] if isinstance(node, list) else node


if __name__ == "__main__":  # python -m tests.chart_tools: refresh the config part of the schema
    schema = json.loads(SCHEMA.read_text())
    schema["properties"]["config"], schema["$defs"] = policy_schema()
    SCHEMA.write_text(json.dumps(schema, indent=2) + "\n")
    print(f"updated {SCHEMA.relative_to(ROOT)}")
