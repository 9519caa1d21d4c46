"""Prometheus metrics, on a registry per app so tests and replicas never share counters."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    commands: Counter
    command_seconds: Histogram
    slack_requests: Counter

    @classmethod
    def create(cls) -> Metrics:
        r = CollectorRegistry()
        return cls(
            registry=r,
            commands=Counter(
                "codex_commands", "Commands run, by verb and outcome", ["verb", "outcome"], registry=r
            ),
            command_seconds=Histogram(
                "codex_command_seconds",
                "Command wall time after the ack",
                ["verb"],
                registry=r,
                buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800),
            ),
            slack_requests=Counter(
                "codex_slack_requests", "Requests to /slack/events by status", ["status"], registry=r
            ),
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
