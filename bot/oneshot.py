"""`codex-bot <verb> …` in a terminal: one command, printed; exit 0 ok, 1 failed, 2 usage or config.

Each verb builds only what it needs: `help` reads the config, `audit` the store, and the others
connect to the cluster (the sandbox with --sandbox), so a laptop without a kubeconfig can still
read the help and the bot's pod can read the audit log.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TextIO

from bot.commands import Command, Verb, parse
from bot.flows.audit import AUDIT_ROWS
from bot.flows.basic import help_message
from bot.render.audit import audit_message
from bot.shell import SANDBOX_CHANNEL, SANDBOX_USER, run_line, session
from bot.store import Store
from bot.terminal import TerminalSurface
from config.settings import Settings
from handlers.errors import CodexError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


async def one_shot(settings: Settings, text: str, *, sandbox: bool, out: TextIO | None = None) -> int:
    """`codex-bot validate <pod>`: one command, printed; exit 0 pass, 1 fail, 2 usage or config."""
    out = out or sys.stdout
    try:
        command = parse(text)
    except UsageError as e:
        print(f"error: {e.for_user()}", file=sys.stderr)
        return EXIT_USAGE
    if command.verb in (Verb.HELP, Verb.AUDIT):
        return await _without_cluster(settings, command, sandbox=sandbox, out=out)
    async with contextlib.AsyncExitStack() as stack:
        try:
            s = await stack.enter_async_context(session(settings, sandbox=sandbox, out=out))
        except CodexError as e:
            # Nothing ran yet: the cluster's credentials (or another setting) are missing or unreadable.
            print(f"codex-bot: config error: {e.for_user()}", file=sys.stderr)
            if not settings.env.kubeconfig_available:
                print(
                    "No cluster is configured (KUBECONFIG); add --sandbox to try the simulated one.",
                    file=sys.stderr,
                )
            return EXIT_USAGE
        outcome = await run_line(s, text)
    return {"ok": EXIT_OK, "UsageError": EXIT_USAGE}.get(outcome, EXIT_FAILED)


async def _without_cluster(settings: Settings, command: Command, *, sandbox: bool, out: TextIO) -> int:
    """`help` needs only the config and `audit` only the store: no cluster, no credentials."""
    surface = TerminalSurface(out, files_dir=Path(settings.env.state_dir) / "files")
    if command.verb is Verb.HELP:
        await surface.ephemeral(SANDBOX_CHANNEL, SANDBOX_USER, help_message(settings.policy.slack.command))
        return EXIT_OK
    if sandbox:
        print(
            "The sandbox keeps no audit log: every --sandbox run starts from an empty database. "
            "Run `/codex audit` inside `codex-bot shell --sandbox` to see that session's entries.",
            file=out,
        )
        return EXIT_OK
    url = settings.env.resolved_database_url()
    try:
        store = await Store.open(url)
    except ValueError as e:
        print(f"codex-bot: config error: DATABASE_URL: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        entries = await store.recent(AUDIT_ROWS, pod=command.pod)
    finally:
        await store.close()
    await surface.ephemeral(
        SANDBOX_CHANNEL, SANDBOX_USER, audit_message(entries, pod=command.pod, limit=AUDIT_ROWS)
    )
    return EXIT_OK
