"""The image: hadolint and checkov on the Dockerfile, and the Dockerfile's own install steps.

No Docker engine exists here, so the test replays the Dockerfile's pip commands (checked to
be the very text of its RUN steps) into a clean venv and runs the console script from it.
The slow parts (the image venv, the checkov tool venv, the checkov run) happen once per test
session, shared by all pytest-xdist workers (tests/chart_tools.py).
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from tests.chart_tools import ROOT, checkov_json, once_per_session, run

DOCKERFILE = ROOT / "Dockerfile"

# The Dockerfile's install steps with its paths as placeholders; the test asserts that the
# Dockerfile holds exactly these commands, then runs them with local paths.
WHEELS_CMD = "python -m pip wheel --no-cache-dir --wheel-dir {wheels} ."
VENV_CMD = "python -m venv {venv}"
INSTALL_CMD = (
    "{venv}/bin/pip install --no-cache-dir --no-index --find-links={wheels} {wheels}/codex_bot-*.whl"
)
IMAGE_PATHS = {"wheels": "/wheels", "venv": "/opt/codex-bot"}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    )
    result = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            result.append((word.upper(), " ".join(rest.split())))
    return result


def stages(text: str) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(instruction)
    return out


def _build_image_venv(target: Path) -> None:
    """Replay the builder stage's COPY steps and the two stages' pip commands with local paths."""
    context = target / "src"  # the builder's WORKDIR
    for word, args in stages(DOCKERFILE.read_text())[0]:
        if word == "COPY" and not args.startswith("--"):
            *sources, dest = args.split()
            for source in sources:
                copy_like_docker(
                    ROOT / source, context / dest, into_dir=dest.endswith("/") or len(sources) > 1
                )
    paths = {"wheels": str(target / "wheels"), "venv": str(target / "venv")}
    for template, cwd in ((WHEELS_CMD, context), (VENV_CMD, target), (INSTALL_CMD, target)):
        argv = []
        for word in shlex.split(template.format(**paths)):
            argv.extend(sorted(glob.glob(word)) if "*" in word else [word])
        if argv[0] == "python":
            argv[0] = sys.executable
        done = run(argv, cwd=cwd)
        assert done.returncode == 0, f"{template!r} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        built = set(re.findall(r"Building wheel for (\S+)", done.stdout)) - {"codex-bot"}
        assert not built, f"no binary wheel for {built}: the slim builder stage has no compiler"


def copy_like_docker(source: Path, dest: Path, *, into_dir: bool) -> None:
    """COPY semantics: a directory's contents land in dest; a file lands in or as dest."""
    assert source.exists(), (
        f"the Dockerfile copies {source.name}, which is missing: the image build would fail"
    )
    if source.is_dir():
        shutil.copytree(
            source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True
        )
        return
    target = dest / source.name if into_dir else dest
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


@pytest.fixture(scope="session")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return once_per_session(tmp_path_factory, "image-venv", _build_image_venv) / "venv"


def test_dockerfile_runs_the_install_commands_the_test_replays() -> None:
    run_args = " ".join(args for word, args in instructions(DOCKERFILE.read_text()) if word == "RUN")
    for template in (WHEELS_CMD, VENV_CMD, INSTALL_CMD):
        assert template.format(**IMAGE_PATHS) in run_args, f"Dockerfile no longer runs {template!r}"


@pytest.mark.timeout(900)
def test_installed_wheel_runs_codex_bot_help(image_venv: Path, tmp_path: Path) -> None:
    env = {"PATH": f"{image_venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "STATE_DIR": str(tmp_path)}
    done = run([str(image_venv / "bin" / "codex-bot"), "--help"], cwd=tmp_path, env=env)
    assert done.returncode == 0, f"codex-bot --help exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert "serve" in done.stdout, "the image's CMD is `serve`, but --help does not list it"


def test_final_stage_is_slim_nonroot_and_serves() -> None:
    final = stages(DOCKERFILE.read_text())[-1]
    by_word: dict[str, list[str]] = {}
    for word, args in final:
        by_word.setdefault(word, []).append(args)
    assert by_word["FROM"] == ["python:3.11-slim"]
    user = by_word["USER"][-1].split(":")
    assert all(part.isdigit() and int(part) >= 10000 for part in user), (
        f"USER {user} must be a numeric non-root uid:gid"
    )
    assert json.loads(by_word["ENTRYPOINT"][-1]) == ["codex-bot"]
    assert json.loads(by_word["CMD"][-1]) == ["serve"]
    assert "STATE_DIR=/var/lib/codex-bot" in " ".join(by_word["ENV"])
    run_text = " ".join(by_word["RUN"])
    for compiler in ("gcc", "build-essential", "apt-get install", "g++", "make "):
        assert compiler not in run_text, f"the final stage must not install {compiler.strip()}"


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    patterns = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    for needed in (".git", ".venv", "**/__pycache__", "tests", "*.db", ".state"):
        assert needed in patterns, f".dockerignore should exclude {needed}"


def _hadolint(path: Path) -> list[dict[str, object]]:
    done = run([str(Path(sys.executable).parent / "hadolint"), "--no-fail", "--format", "json", str(path)])
    assert done.returncode == 0, done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)
    return findings


def test_hadolint_reports_nothing_above_info() -> None:
    above_info = [f for f in _hadolint(DOCKERFILE) if f["level"] in ("error", "warning")]
    assert above_info == [], "\n".join(f"line {f['line']}: {f['code']} {f['message']}" for f in above_info)


def test_hadolint_control_flags_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python\nRUN pip install requests\nCMD python -m http.server\n")
    codes = {f["code"] for f in _hadolint(careless)}
    assert {"DL3006", "DL3013", "DL3042"} <= codes, codes


def _checkov_dockerfile(target: Path) -> None:
    reports = checkov_json(["-f", str(DOCKERFILE), "--framework", "dockerfile"])
    (target / "report.json").write_text(json.dumps(reports))


@pytest.mark.timeout(600)
def test_checkov_dockerfile_has_no_failed_checks(tmp_path_factory: pytest.TempPathFactory) -> None:
    report = json.loads(
        (
            once_per_session(tmp_path_factory, "checkov-dockerfile", _checkov_dockerfile) / "report.json"
        ).read_text()
    )
    (results,) = [r["results"] for r in report if r["check_type"] == "dockerfile"]
    failed = [f"{c['check_id']} {c['check_name']}" for c in results["failed_checks"]]
    assert failed == [], failed
    assert len(results["passed_checks"]) > 20, "checkov evaluated almost nothing"
    skipped = {c["check_id"]: c["check_result"]["suppress_comment"] for c in results["skipped_checks"]}
    assert skipped.keys() <= {"CKV_DOCKER_2"}, f"unexpected skips: {skipped}"
    assert all(len(reason) > 20 for reason in skipped.values()), skipped
