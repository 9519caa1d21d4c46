"""Shared by the benchmarks: fake Kubernetes + Slack in one child process, and the real
`codex-bot serve` in another, so the load generator, the bot and the fakes never share a loop."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"


def _serve_fakes(folder: str, exec_delay: float, conn: Connection) -> None:
    from bot.sandbox.cluster import FakeCluster
    from bot.sandbox.kube_server import FakeKubeServer
    from tests.fakes.slack import FakeSlack

    async def main() -> None:
        cluster = FakeCluster.sandbox(exec_delay=exec_delay)
        async with FakeKubeServer(cluster) as kube, FakeSlack(token=BOT_TOKEN) as slack:
            kubeconfig = kube.write_kubeconfig(Path(folder) / "kubeconfig")
            conn.send((str(kubeconfig), slack.url, slack.response_url("bench")))
            await asyncio.get_running_loop().run_in_executor(None, _wait_closed, conn)

    asyncio.run(main())


def _wait_closed(conn: Connection) -> None:
    with contextlib.suppress(EOFError):
        conn.recv()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not become ready in {timeout:.0f}s")


@contextlib.contextmanager
def running_bot(folder: Path, *, exec_delay: float = 0.0) -> Iterator[tuple[str, str]]:
    """Yields (bot base URL, a response_url on the fake Slack)."""
    parent, child = mp.Pipe()
    fakes = mp.get_context("spawn").Process(target=_serve_fakes, args=(str(folder), exec_delay, child))
    fakes.start()
    child.close()  # the child process has its own copy; ours would keep the pipe open
    kubeconfig, slack_url, response_url = parent.recv()
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "KUBECONFIG": kubeconfig,
        "PORT": str(port),
        "STATE_DIR": str(folder / "state"),
    }
    env.pop("SLACK_APP_TOKEN", None)
    bot = subprocess.Popen(
        [str(Path(sys.executable).parent / "codex-bot"), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "bot.log", "w"),  # noqa: SIM115
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz")
        yield f"http://127.0.0.1:{port}", response_url
    finally:
        # Whatever happens here, the fakes must see the pipe close, or the benchmark never exits.
        bot.terminate()
        try:
            bot.wait(timeout=20)
        except subprocess.TimeoutExpired:
            print("codex-bot did not stop within 20 s of SIGTERM; killed", file=sys.stderr)
            bot.kill()
            bot.wait()
        finally:
            parent.close()
            fakes.join(timeout=20)
            if fakes.is_alive():
                fakes.kill()
