"""Benchmark: what one `/codex validate` costs beyond the execs it waits for.

Runs the bot against the fake servers (every exec takes --delay seconds in the fake), sends
one signed `/codex validate`, and measures command sent → verdict posted. The exec times are
the ones the bot itself recorded in its audit log. Overhead = wall − Σ exec.
Target: overhead ≤ 5 % of Σ exec + 200 ms. Exit 1 when missed.

    .venv/bin/python bench/validate_overhead.py [--delay 0.3] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sandbox.cluster import FakeCluster
from bot.sandbox.seed import HEALTHY_POD
from tests.harness import OPS_CHANNEL, World, world


async def _one(w: World, run: int) -> tuple[float, float]:
    before = {m.ts for m in w.slack.messages(OPS_CHANNEL)}
    started = time.perf_counter()
    await w.bot.command(f"validate {HEALTHY_POD}", trigger_id=f"bench-{run}")

    def verdict() -> bool:
        return any(
            m.ts not in before and m.thread_ts is None and "Verdict" in m.visible_text
            for m in w.slack.messages(OPS_CHANNEL)
        )

    await w.slack.wait_for(verdict, timeout=120)
    wall = time.perf_counter() - started
    assert w.runtime is not None
    entries = await w.runtime.store.recent(limit=50, pod=HEALTHY_POD)
    # Newest first: the five newest exec rows are this run's five steps.
    execs = [e.duration or 0.0 for e in entries if e.verb.startswith("exec")][:5]
    return wall, sum(execs)


async def main(delay: float, runs: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        async with world(Path(tmp), cluster=FakeCluster.sandbox(exec_delay=delay)) as w:
            await _one(w, -1)  # warm-up: connections, auth.test
            results = [await _one(w, i) for i in range(runs)]
    ok = True
    print(f"one /codex validate, 5 execs of ~{delay * 1000:.0f} ms each in the fake, {runs} runs")
    for wall, execs in results:
        overhead = wall - execs
        budget = 0.05 * execs + 0.2
        ok &= overhead <= budget
        print(
            f"  wall {wall * 1000:7.1f} ms   Σ exec {execs * 1000:7.1f} ms"
            f"   overhead {overhead * 1000:6.1f} ms   budget {budget * 1000:6.1f} ms"
            f"   {'ok' if overhead <= budget else 'OVER'}"
        )
    median = statistics.median(w - e for w, e in results)
    print(f"median overhead {median * 1000:.1f} ms (target ≤ 5 % of Σ exec + 200 ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--delay", type=float, default=0.3)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    sys.exit(asyncio.run(main(a.delay, a.runs)))
