"""The terminal: `codex-bot shell --sandbox` driven line by line as a person (or a script) types,
and the one-shot verbs run as a process, as they are run from a terminal or the bot's pod."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bot.sandbox.seed import DAEMON_DOWN_POD
from bot.shell import SANDBOX_APPROVER, SANDBOX_USER, run_shell
from bot.terminal import plain_references
from config.settings import Environment, Policy, Settings

FAST = {"timeouts": {"restart_poll_interval": 0.05, "restart_ready": 10}}


class Transcript(io.StringIO):
    """What the shell printed, with a way to wait until some text shows up."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Event()

    def write(self, s: str) -> int:
        n = super().write(s)
        self._changed.set()
        return n

    async def wait_for(self, text: str, timeout: float = 20.0) -> str:
        try:
            async with asyncio.timeout(timeout):
                while text not in self.getvalue():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"not printed within {timeout}s: {text!r}\n{self.getvalue()}") from None
        return self.getvalue()

    def after(self, marker: str) -> str:
        """What was printed after the last ``marker``."""
        return self.getvalue().rsplit(marker, 1)[-1]


@contextlib.asynccontextmanager
async def sandbox_shell(
    tmp_path: Path, **policy: Any
) -> AsyncIterator[tuple[Callable[[str], None], Transcript]]:
    """`codex-bot shell --sandbox` reading a pipe: ``type(line)`` sends a line, as a script would."""
    read_fd, write_fd = os.pipe()
    stdin, keys = os.fdopen(read_fd, "r"), os.fdopen(write_fd, "w")
    out = Transcript()
    settings = Settings(
        env=Environment(state_dir=str(tmp_path)), policy=Policy.model_validate({**FAST, **policy})
    )
    shell = asyncio.create_task(run_shell(settings, sandbox=True, stdin=stdin, out=out))

    def type_(line: str) -> None:
        keys.write(line + "\n")
        keys.flush()

    try:
        await out.wait_for("sandbox pods:")
        yield type_, out
    finally:
        keys.close()  # end of input: the shell leaves
        try:
            assert await asyncio.wait_for(shell, 30) == 0
        finally:
            stdin.close()


async def test_scripted_session_approves_with_the_last_button(tmp_path: Path) -> None:
    async with sandbox_shell(tmp_path) as (type_, out):
        type_(f"/codex restart {DAEMON_DOWN_POD} daemon down")
        await out.wait_for("/click restart.approve ")
        type_(f"/as {SANDBOX_APPROVER}")
        type_("/click restart.approve last")
        await out.wait_for(f"Docker daemon in {DAEMON_DOWN_POD} is back")
        type_(f"/codex validate {DAEMON_DOWN_POD}")
        await out.wait_for("verdict: PASS")


async def test_unknown_button_lists_the_buttons_shown(tmp_path: Path) -> None:
    async with sandbox_shell(tmp_path) as (type_, out):
        type_("/click restart.aprove last")
        await out.wait_for("No message shows a button now.")
        assert "There is no button `restart.aprove`" in out.getvalue()
        type_(f"/codex restart {DAEMON_DOWN_POD}")
        await out.wait_for("/click restart.deny ")
        type_("/click restart.aprove last")
        shown = await out.wait_for("Buttons shown now:")
        approve = next(ln for ln in shown.splitlines() if "type: /click restart.approve" in ln)
        click = approve.split("type: ")[1]
        await out.wait_for(f"[Approve]  {click}")
        type_(f"/click restart.approve {click.split()[-1]}")  # as the requester: refused, with a reason
        await out.wait_for("You cannot approve your own request.")


async def test_deny_reason_given_on_the_click_line_reaches_the_requester(tmp_path: Path) -> None:
    async with sandbox_shell(tmp_path) as (type_, out):
        type_(f"/codex restart {DAEMON_DOWN_POD}")
        await out.wait_for("/click restart.deny ")
        type_(f"/as {SANDBOX_APPROVER}")
        type_("/click restart.deny last a build is running, wait 10 min")
        told = await out.wait_for(f"was denied by @{SANDBOX_APPROVER}: a build is running, wait 10 min")
        assert f"Denied by @{SANDBOX_APPROVER}: a build is running" in told  # the request itself


async def test_expired_request_is_announced_in_the_shell(tmp_path: Path) -> None:
    async with sandbox_shell(tmp_path, approvals={"ttl_seconds": 1}) as (type_, out):
        type_(f"/codex restart {DAEMON_DOWN_POD}")
        await out.wait_for("/click restart.approve ")
        await out.wait_for(f"@{SANDBOX_USER}, your restart of {DAEMON_DOWN_POD} expired without a decision")
        assert "Expired at" in out.getvalue()


# --- one-shot verbs, as a process ----------------------------------------------------------------


def codex_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`codex-bot <args>` with no cluster anywhere: no KUBECONFIG, no ~/.kube, not in a pod."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={"STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path), "PATH": "", **env},
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


async def test_files_the_sandbox_printed_still_open_after_quit(tmp_path: Path) -> None:
    async with sandbox_shell(tmp_path) as (type_, out):
        type_(f"/codex validate {DAEMON_DOWN_POD}")
        await out.wait_for("Output of each step:")
        await out.wait_for("docker-info.log")
    printed = [
        Path(line.split(": ", 1)[1].rsplit(" (", 1)[0])
        for line in out.getvalue().splitlines()
        if line.strip().startswith("docker info (failed): ")
    ]
    assert printed and printed[0].is_file(), out.getvalue()
    assert "Cannot connect to the Docker daemon" in printed[0].read_text()


def test_slack_references_read_plainly_in_a_terminal() -> None:
    assert plain_references("<@U0ONCALL> asked in <#C0OPS|ops>; paging <!subteam^S0SRE>") == (
        "@U0ONCALL asked in #ops; paging @S0SRE"
    )
    assert plain_references("comment on <file:///tmp/c.md|acme/widgets#7>") == (
        "comment on acme/widgets#7 (file:///tmp/c.md)"
    )
    usage = "/codex validate <pod> [--issue owner/repo#N]"
    assert plain_references(usage) == usage, "usage placeholders are not links"
