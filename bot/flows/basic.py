"""`/codex help` and `/codex pods`."""

from __future__ import annotations

from bot.commands import SPECS, Verb
from bot.flows.registry import Invocation, flow
from bot.render.blocks import context, section
from bot.render.validate import pods_message
from bot.surface import Message
from handlers.pods import list_codex_pods


def help_message(command: str = "/codex") -> Message:
    rows = [(f"{command} {s.usage}", s.summary, s.example.replace("/codex", command)) for s in SPECS.values()]
    blocks = [section(f"*codex-bot* runs the Codex Docker sidecar runbook. Use `{command} <verb>`:")]
    blocks += [section(f"`{usage}`\n{summary}\n_e.g._ `{example}`") for usage, summary, example in rows]
    blocks.append(
        context("Restart, pause, resume and rollback need an approver's click in the incident channel.")
    )
    terminal = "\n".join(
        f"  {usage}\n      {summary}\n      e.g. {example}" for usage, summary, example in rows
    )
    return Message(text=f"{command} help", blocks=blocks, terminal=f"Commands:\n{terminal}")


@flow(Verb.HELP)
async def run_help(inv: Invocation) -> None:
    await inv.reply(help_message(inv.deps.settings.policy.slack.command))


@flow(Verb.PODS)
async def run_pods(inv: Invocation) -> None:
    listing = await list_codex_pods(
        pods=inv.deps.pods, policy=inv.deps.settings.policy, selector=inv.command.selector
    )
    await inv.reply(pods_message(listing))
