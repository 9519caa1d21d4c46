"""The terminal: the one-shot verbs run as a process, as they are run from a terminal or the bot's pod."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def codex_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`codex-bot <args>` with no cluster anywhere: no KUBECONFIG, no ~/.kube, not in a pod."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={
            "STATE_DIR": str(tmp_path / "state"),
            "HOME": str(tmp_path),
            "PATH": "",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_and_audit_need_no_cluster(tmp_path: Path) -> None:
    helped = codex_bot(tmp_path, "help")
    assert helped.returncode == 0, helped.stderr
    assert "validate <pod>" in helped.stdout and helped.stderr == ""
    audited = codex_bot(tmp_path, "audit")
    assert audited.returncode == 0, audited.stderr
    assert "The audit log has no entries yet." in audited.stdout and audited.stderr == ""


def test_sandbox_audit_says_the_sandbox_keeps_no_log(tmp_path: Path) -> None:
    done = codex_bot(tmp_path, "audit", "--sandbox")
    assert done.returncode == 0, done.stderr
    assert "starts from an empty database" in done.stdout


def test_missing_or_unreadable_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    missing = codex_bot(tmp_path, "pods", KUBECONFIG=str(tmp_path / "nope"))
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "config error: Cannot load Kubernetes credentials" in missing.stderr
    unreadable = tmp_path / "kubeconfig"
    unreadable.write_text("not: [a kubeconfig")
    bad = codex_bot(tmp_path, "validate", "codex-x", KUBECONFIG=str(unreadable))
    assert bad.returncode == 2 and "config error" in bad.stderr
    nothing = codex_bot(tmp_path, "pods")
    assert nothing.returncode == 2 and "add --sandbox" in nothing.stderr
