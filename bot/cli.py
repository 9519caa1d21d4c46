"""`codex-bot serve | shell [--sandbox] | <verb> …` — exit 0 ok, 1 check failed or error, 2 usage/config."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import sys
from collections.abc import Sequence

from bot.commands import SPECS, Verb
from bot.oneshot import EXIT_OK, EXIT_USAGE, one_shot
from bot.serve import serve
from bot.shell import run_shell
from config.settings import ConfigError, Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    verbs = "\n".join(f"  codex-bot {s.usage:<60} {s.summary}" for s in SPECS.values())
    p = argparse.ArgumentParser(
        prog="codex-bot",
        description="Slack ChatOps bot for the Codex Docker sidecar runbook.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "commands:\n  codex-bot serve       run the Slack bot (HTTP on $PORT, or Socket Mode with "
            "SLACK_APP_TOKEN)\n  codex-bot shell       terminal chat (--sandbox: against a simulated "
            f"cluster)\n{verbs}\n\nEvery verb also takes --sandbox to run against the simulated cluster."
        ),
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument(
        "command",
        nargs="?",
        default="auto",
        help="serve, shell, or a verb (default: serve with Slack credentials, else the sandbox shell)",
    )
    p.add_argument("args", nargs=argparse.REMAINDER, help="the verb's arguments")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"codex-bot: config error: {e}", file=sys.stderr)
        return EXIT_USAGE
    # The terminal is for the conversation; a server logs what it does.
    serving = ns.command == "serve" or (ns.command == "auto" and settings.env.has_slack)
    logging.basicConfig(
        level=logging.DEBUG if ns.verbose else (logging.INFO if serving else logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    args = list(ns.args)
    sandbox = "--sandbox" in args
    args = [a for a in args if a != "--sandbox"]
    try:
        return asyncio.run(_run(ns.command, args, settings, sandbox))
    except KeyboardInterrupt:
        return EXIT_OK


async def _run(command: str, args: list[str], settings: Settings, sandbox: bool) -> int:
    if command == "auto":
        command = "serve" if settings.env.has_slack else "shell"
    if command == "serve":
        return await serve(settings)
    if command == "shell":
        return await run_shell(settings, sandbox=sandbox or not settings.env.kubeconfig_available)
    if command in {v.value for v in Verb}:
        return await one_shot(settings, " ".join([command, *(shlex.quote(a) for a in args)]), sandbox=sandbox)
    print(f"codex-bot: unknown command {command!r}; see `codex-bot --help`", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
