"""`/codex audit [pod]` (ephemeral, the last 20) and `codex-bot audit` in the terminal."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from bot.sandbox.seed import DAEMON_DOWN_POD, HEALTHY_POD
from bot.store import AuditEntry, Store
from tests.harness import OPS_CHANNEL, REQUESTER, World, world


async def audit_reply(w: World, args: str) -> str:
    before = len(w.slack.responses())
    response = await w.bot.command(f"audit {args}".strip(), user_id=REQUESTER)
    assert response.status == 200 and response.elapsed < 3
    replies = await w.slack.wait_for(lambda: w.slack.responses()[before:], timeout=10)
    body = replies[0].body
    assert body.get("response_type", "ephemeral") == "ephemeral"
    return "\n".join([body.get("text", ""), *(str(b) for b in body.get("blocks", []))])


async def test_audit_shows_who_ran_which_exec_in_which_container(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.bot.command(f"validate {HEALTHY_POD}", user_id=REQUESTER)
        await w.slack.wait_for(
            lambda: [m for m in w.slack.messages(OPS_CHANNEL) if "Verdict" in m.visible_text], timeout=20
        )
        shown = await audit_reply(w, HEALTHY_POD)
        assert f"Audit log for `{HEALTHY_POD}`" in shown
        assert "exec:validate" in shown and "docker run --rm hello-world" in shown
        assert REQUESTER in shown and " main " in shown
        assert not [m for m in w.slack.messages(OPS_CHANNEL) if "Audit log" in m.text], "ephemeral only"

        other = await audit_reply(w, DAEMON_DOWN_POD)
        assert f"no entries for `{DAEMON_DOWN_POD}`" in other


async def test_audit_keeps_to_the_last_twenty(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        assert w.runtime is not None
        for i in range(25):
            await w.runtime.deps.store.record(AuditEntry(user="U0X", verb="restart", pod=f"pod-{i:02d}"))
        shown = await audit_reply(w, "")
        assert "the last 20 entries" in shown and "pod-24" in shown and "pod-05" in shown
        assert "pod-04" not in shown and "Only the last 20 are shown" in shown


def test_terminal_audit_prints_the_store(tmp_path: Path) -> None:
    async def seed() -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'codex-bot.db'}")
        await store.record(
            AuditEntry(user="U0SRE", verb="restart.decision", pod="codex-p", detail="approved")
        )
        await store.close()

    asyncio.run(seed())
    kubeconfig = tmp_path / "kubeconfig"  # never dialled: audit reads only the store
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: x, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\nusers: [{name: x, user: {token: t}}]\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit"],
        env={"STATE_DIR": str(tmp_path), "KUBECONFIG": str(kubeconfig), "PATH": "", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "restart.decision" in done.stdout and "U0SRE" in done.stdout and "approved" in done.stdout
