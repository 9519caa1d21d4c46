"""Benchmark: `/codex fleet` over 300 Codex pods whose `docker info` takes 200 ms each.

The fake Kubernetes API server runs in a child process (as a real API server would, its
CPU is not the bot's); the bot side is the real Kubernetes adapter (the official client
on its thread pool) driven by ``check_fleet``. Prints, per concurrency, the wall time
against the ideal ceil(pods / concurrency) × delay, and against a sequential loop doing
the same exec one pod at a time (timed on a sample and extrapolated, said so).

Targets: ≤ 1.2 × ideal at any concurrency; at concurrency 32, ≥ 20 × faster than sequential.
Exit status 1 when a target is missed. ``--delay 0`` measures the floor the machine sets: the
fake server and the official client (a new WebSocket per exec) cost a few ms of CPU each, and
on a 2-CPU machine that caps throughput at a few hundred execs per second.

    .venv/bin/python bench/fleet.py [--pods 300] [--delay 0.2] [--concurrency 8,16,32,64] [--sample 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from bot.adapters.kubernetes import KubeCluster
from config.settings import FleetPolicy, Policy
from handlers.fleet import DOCKER_INFO, FleetState, check_fleet

NAMESPACE = "argo-workflows"
IDEAL_FACTOR = 1.2
SPEEDUP_AT = 32
SPEEDUP_TARGET = 20.0


def _serve(pods: int, delay: float, folder: str, conn: Connection) -> None:
    """Child process: a fake cluster of ``pods`` Codex pods, served until the parent closes the pipe."""
    from bot.sandbox.cluster import FakeCluster
    from bot.sandbox.kube_server import FakeKubeServer

    async def main() -> None:
        cluster = FakeCluster(NAMESPACE, exec_delay=delay)
        for i in range(pods):
            cluster.add_codex_pod(f"codex-bench-{i:03d}", workflow=f"codex-run-{i // 3:03d}")
        async with FakeKubeServer(cluster) as server:
            path = server.write_kubeconfig(Path(folder) / "kubeconfig")
            conn.send(str(path))
            await asyncio.get_running_loop().run_in_executor(None, _wait_closed, conn)

    asyncio.run(main())


def _wait_closed(conn: Connection) -> None:
    with contextlib.suppress(EOFError):
        conn.recv()


async def _fleet_round(kube: KubeCluster, policy: Policy, concurrency: int, pods: int) -> float:
    started = time.monotonic()
    report = await check_fleet(pods=kube.pods, exec=kube.exec, policy=policy, concurrency=concurrency)
    wall = time.monotonic() - started
    healthy = report.count(FleetState.HEALTHY)
    if healthy != pods:
        bad = [r for r in report.rows if r.state is not FleetState.HEALTHY][:3]
        raise SystemExit(f"expected {pods} healthy pods, got {healthy}: {bad}")
    return wall


async def _sequential(kube: KubeCluster, names: list[str], per_pod_timeout: float) -> float:
    started = time.monotonic()
    for name in names:
        result = await kube.exec.run(name, "main", DOCKER_INFO, per_pod_timeout)
        if not result.ok:
            raise SystemExit(f"sequential docker info failed on {name}: {result.stderr[:200]}")
    return time.monotonic() - started


async def run(args: argparse.Namespace, kubeconfig: str) -> bool:
    levels = [int(c) for c in args.concurrency.split(",")]
    policy = Policy(namespace=NAMESPACE, fleet=FleetPolicy(per_pod_timeout=max(5.0, args.delay * 10)))
    kube = KubeCluster.connect(NAMESPACE, kubeconfig, pool_size=max(levels) + 8, api_timeout=15)
    ok = True
    try:
        await _fleet_round(kube, policy, max(levels), args.pods)  # warm-up: connections, imports
        names = sorted(p.name for p in await kube.pods.list(policy.pods.selector))
        sample = names[: min(args.sample, len(names))]
        seq_sample = await _sequential(kube, sample, policy.fleet.per_pod_timeout)
        seq_total = seq_sample * len(names) / len(sample)
        extrapolated = len(sample) < len(names)
        print(
            f"{args.pods} pods, docker info takes {args.delay * 1000:.0f} ms each in the fake; "
            f"{os.cpu_count()} CPUs shared by the fake API server (child process) and the bot"
        )
        how = f"extrapolated from {len(sample)} pods ({seq_sample:.2f}s)" if extrapolated else "measured"
        print(f"sequential loop: {seq_total:.2f}s ({how})")
        print(f"{'concurrency':>11}  {'wall':>7}  {'ideal':>7}  {'x ideal':>7}  {'vs sequential':>13}")
        for level in levels:
            wall = await _fleet_round(kube, policy, level, args.pods)
            ideal = math.ceil(args.pods / level) * args.delay
            ratio, speedup = (wall / ideal if ideal else math.inf), seq_total / wall
            verdict = "ok" if ratio <= IDEAL_FACTOR else f"MISSED (> {IDEAL_FACTOR} x ideal)"
            if level == SPEEDUP_AT and speedup < SPEEDUP_TARGET:
                verdict += f" MISSED (< {SPEEDUP_TARGET:g} x sequential)"
            ok = ok and verdict == "ok"
            print(f"{level:>11}  {wall:>6.2f}s  {ideal:>6.2f}s  {ratio:>7.2f}  {speedup:>12.1f}x  {verdict}")
    finally:
        kube.close()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each docker info takes")
    parser.add_argument("--concurrency", default="8,16,32,64")
    parser.add_argument("--sample", type=int, default=20, help="pods timed in the sequential loop")
    args = parser.parse_args(argv)
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        parent, child = ctx.Pipe()
        server = ctx.Process(target=_serve, args=(args.pods, args.delay, folder, child), daemon=True)
        server.start()
        try:
            if not parent.poll(60):
                raise SystemExit("the fake API server did not start within 60 s")
            ok = asyncio.run(run(args, parent.recv()))
        finally:
            parent.close()
            server.join(10)
            if server.is_alive():
                server.terminate()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
