"""The `/codex` grammar: what users type, and the usage errors they get back."""

from __future__ import annotations

import pytest

from bot.commands import Verb, parse, parse_duration
from handlers.errors import UsageError


def test_empty_text_is_help() -> None:
    assert parse("").verb is Verb.HELP


def test_validate_with_issue() -> None:
    cmd = parse("validate codex-build-7f9c2 --issue acme/widgets#7")
    assert (cmd.verb, cmd.pod, cmd.issue) == (Verb.VALIDATE, "codex-build-7f9c2", "acme/widgets#7")


def test_restart_keeps_free_text_reason_and_dry_run() -> None:
    cmd = parse("restart codex-build-1 docker info hangs since 10:02 --dry-run")
    assert cmd.pod == "codex-build-1"
    assert cmd.reason == "docker info hangs since 10:02"
    assert cmd.dry_run


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frobnicate", "Unknown command `frobnicate`"),
        ("validate", "needs a pod name"),
        ("validate a b", "takes one argument"),
        ('validate "x; rm -rf /"', "is not a valid pod name"),
        ("validate pod --since 5m", "does not take `--since`"),
        ("diagnostics pod --since", "`--since` needs a value"),
        ("diagnostics pod --since soon", "is not a duration"),
        ("rollback --mode yolo", "is not one of patch, pull-request"),
        ("validate pod --issue widgets", "is not an issue reference"),
        ('validate "unclosed', "Check the quotes"),
    ],
)
def test_usage_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError) as e:
        parse(text)
    assert message in e.value.for_user()


def test_usage_error_shows_the_verbs_usage() -> None:
    with pytest.raises(UsageError) as e:
        parse("diagnostics")
    assert "Usage: `/codex diagnostics <pod> [--since 30m]" in e.value.for_user()


def test_durations() -> None:
    assert parse_duration("30m") == 1800
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2d") == 172800
    assert parse("diagnostics p --since=90s").since_seconds == 90
