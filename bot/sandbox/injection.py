"""Per-test overrides: exec outcomes for matching commands, and API faults for matching requests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.sandbox.execsim import ExecCall, ExecOutcome

ArgvMatch = Callable[[list[str]], bool] | Sequence[str] | str
OutcomeSpec = ExecOutcome | Callable[[ExecCall], ExecOutcome | None]


def argv_matcher(match: ArgvMatch) -> Callable[[list[str]], bool]:
    """A callable is used as is; a string or a list of strings is an argv prefix."""
    if callable(match):
        return match
    prefix = [match] if isinstance(match, str) else list(match)
    return lambda argv: argv[: len(prefix)] == prefix


@dataclass
class ExecRule:
    pod: str | None  # None: any pod
    container: str | None  # None: any container
    matches: Callable[[list[str]], bool]
    outcome: OutcomeSpec
    times: int | None = None  # None: forever
    used: int = 0

    def applies(self, call: ExecCall) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.pod is not None and self.pod != call.pod:
            return False
        if self.container is not None and self.container != call.container:
            return False
        return self.matches(call.argv)

    def resolve(self, call: ExecCall) -> ExecOutcome | None:
        """The outcome, or None to fall through to the default simulation."""
        self.used += 1
        if isinstance(self.outcome, ExecOutcome):
            return self.outcome
        return self.outcome(call)


@dataclass
class Fault:
    """Answer matching requests with an error Status, after an optional delay or until a gate opens."""

    method: str  # "GET", …, or "*"
    path: re.Pattern[str]
    status: int | None  # None: only delay, then serve normally
    message: str | None = None
    reason: str | None = None
    delay: float = 0.0
    times: int | None = None
    used: int = 0
    gate: asyncio.Event | None = None  # set: matching requests are held until the event is set

    def applies(self, method: str, path: str) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.method not in ("*", method.upper()):
            return False
        return self.path.search(path) is not None
