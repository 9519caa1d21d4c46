"""FakeCluster's per-test overrides: exec outcomes and API faults."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, cast

from bot.sandbox.execsim import ExecCall, ExecOutcome, Simulator
from bot.sandbox.injection import ArgvMatch, ExecRule, Fault, OutcomeSpec, argv_matcher
from bot.sandbox.pods import FakePod

if TYPE_CHECKING:
    from bot.sandbox.cluster import FakeCluster


class InjectionMixin:
    pods: dict[str, FakePod]
    exec_calls: list[ExecCall]
    simulator: Simulator
    _exec_rules: list[ExecRule]
    _faults: list[Fault]

    def settle(self) -> None:
        raise NotImplementedError

    # -- exec -----------------------------------------------------------------------------------

    def on_exec(
        self,
        pod: str | None,
        match: ArgvMatch,
        outcome: OutcomeSpec,
        *,
        container: str | None = None,
        times: int | None = None,
    ) -> ExecRule:
        """Override execs whose argv matches (a prefix list, a str = argv[0], or a predicate).

        ``outcome`` is an ExecOutcome, or a callable given the ExecCall that returns one
        (or None for the default simulation). Later rules win over earlier ones.
        """
        rule = ExecRule(pod, container, argv_matcher(match), outcome, times)
        self._exec_rules.append(rule)
        return rule

    def clear_exec_rules(self) -> None:
        self._exec_rules.clear()

    def execs(self, pod: str | None = None, container: str | None = None) -> list[ExecCall]:
        return [
            c
            for c in self.exec_calls
            if (pod is None or c.pod == pod) and (container is None or c.container == container)
        ]

    def run_exec(self, call: ExecCall) -> ExecOutcome:
        """Decide how an exec ends, applying its side effects now (called by the server)."""
        self.settle()
        outcome = None
        rule = next((r for r in reversed(self._exec_rules) if r.applies(call)), None)
        if rule is not None:
            outcome = rule.resolve(call)
        if outcome is None:
            pod = self.pods.get(call.pod)
            if pod is None:
                outcome = ExecOutcome(stderr="container not found\n", exit_code=137)
            else:
                outcome = self.simulator(cast("FakeCluster", self), pod, call.container, call.argv)
        call.outcome = outcome
        return outcome

    # -- API faults -----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        message: str | None = None,
        *,
        reason: str | None = None,
        times: int | None = None,
    ) -> Fault:
        """Answer matching requests with a Status error. Without ``message`` it is worded as the
        real server would (403: ``pods "x" is forbidden: User "…" cannot create resource "pods/exec" …``)."""
        fault = Fault(method.upper(), re.compile(path_regex), status, message, reason, 0.0, times)
        self._faults.append(fault)
        return fault

    def stall(self, method: str, path_regex: str, seconds: float, *, times: int | None = None) -> Fault:
        """Delay matching requests by ``seconds`` before serving them."""
        fault = Fault(method.upper(), re.compile(path_regex), None, delay=seconds, times=times)
        self._faults.append(fault)
        return fault

    def hold(self, method: str, path_regex: str, *, times: int | None = None) -> Fault:
        """Hold matching requests until ``fault.gate`` is set, then serve them: the test decides when
        the server answers. ``fault.used`` counts the requests held so far."""
        fault = Fault(method.upper(), re.compile(path_regex), None, times=times, gate=asyncio.Event())
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    def match_fault(self, method: str, path: str) -> Fault | None:
        fault = next((f for f in reversed(self._faults) if f.applies(method, path)), None)
        if fault is not None:
            fault.used += 1
        return fault
