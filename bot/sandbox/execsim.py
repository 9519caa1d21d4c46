"""What a command exec'd into a simulated container prints, and what it does to the pod."""

from __future__ import annotations

import os.path
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.sandbox import docker_text as txt
from bot.sandbox.pods import DAEMON_HOST, FakePod

if TYPE_CHECKING:
    from bot.sandbox.cluster import FakeCluster


@dataclass(frozen=True)
class ExecOutcome:
    """How one exec ends. ``delay`` passes before any output."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    delay: float = 0.0
    hang: bool = False  # after the output, stay open until the client goes away
    drop: bool = False  # close the WebSocket without the channel-3 Status frame
    reset: bool = False  # cut the TCP connection without even a close frame

    @classmethod
    def hanging(cls, stdout: str = "") -> ExecOutcome:
        return cls(stdout=stdout, hang=True)

    @classmethod
    def dropped(cls, stdout: str = "", *, reset: bool = False) -> ExecOutcome:
        return cls(stdout=stdout, drop=not reset, reset=reset)


@dataclass
class ExecCall:
    """One exec the cluster received (in arrival order in ``FakeCluster.exec_calls``)."""

    pod: str
    container: str
    argv: list[str]
    time: float  # time.time() when it arrived
    query: str = ""  # the raw query string, as the client encoded it
    protocol: str | None = None  # the negotiated channel protocol
    outcome: ExecOutcome | None = field(default=None, repr=False)


Simulator = Callable[["FakeCluster", FakePod, str, list[str]], ExecOutcome]

_DAEMON_CMDLINE = "/bin/sh /usr/local/bin/dockerd-rootless.sh --host tcp://127.0.0.1:2375"
_DETACHED = re.compile(r"(?<!&)&(?!&)|\bnohup\b|\bsetsid\b|start-stop-daemon|\bdaemonize\b")


def simulate(cluster: FakeCluster, pod: FakePod, container: str, argv: list[str]) -> ExecOutcome:
    if any("dockerd-rootless.sh" in arg for arg in argv):
        return _start_daemon(cluster, pod, container, argv)
    prog = os.path.basename(argv[0])
    if prog in ("sh", "bash", "ash") and len(argv) >= 3 and argv[1].startswith("-") and "c" in argv[1]:
        return _shell(cluster, pod, container, argv[2])
    command = _COMMANDS.get(prog)
    if command is None:
        return ExecOutcome(stderr=f"{argv[0]}: command not found\n", exit_code=127)
    return command(cluster, pod, container, argv)


def _shell(cluster: FakeCluster, pod: FakePod, container: str, script: str) -> ExecOutcome:
    """Only a plain ``cmd arg…`` script is understood; anything fancier is 'not found'."""
    try:
        words = shlex.split(script)
    except ValueError:
        return ExecOutcome(stderr=f"sh: 1: Syntax error: {script!r}\n", exit_code=2)
    if not words or any(w in ("|", "&&", "||", ";", ">", "<") for w in words):
        first = words[0] if words else script
        return ExecOutcome(stderr=f"sh: 1: {first}: not found\n", exit_code=127)
    outcome = simulate(cluster, pod, container, words)
    if outcome.exit_code == 127:
        return ExecOutcome(stderr=f"sh: 1: {words[0]}: not found\n", exit_code=127)
    return outcome


def _env(cluster: FakeCluster, pod: FakePod, container: str, argv: list[str]) -> ExecOutcome:
    box = pod.containers[container]
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME": pod.name,
        "ARGO_CONTAINER_NAME": container,
        **box.env,
        "KUBERNETES_SERVICE_HOST": "10.43.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "HOME": "/home/rootless" if container == "docker" else "/root",
    }
    return ExecOutcome(stdout="".join(f"{k}={v}\n" for k, v in env.items()))


def _daemon_error(pod: FakePod, container: str) -> str | None:
    """Why the Docker CLI in this container cannot reach the daemon, or None when it can."""
    env = pod.containers[container].env
    host = env.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if env.get("DOCKER_TLS_VERIFY", "") not in ("", "0"):
        return txt.tls_ca_missing()
    if host.replace("localhost", "127.0.0.1") != DAEMON_HOST or not pod.daemon.up():
        return txt.cannot_connect(host)
    return None


def _docker(cluster: FakeCluster, pod: FakePod, container: str, argv: list[str]) -> ExecOutcome:
    sub = argv[1] if len(argv) > 1 else ""
    handler = _DOCKER.get(sub)
    if handler is None:
        return ExecOutcome(
            stderr=f"docker: unknown command: docker {sub}\n\nRun 'docker --help' for more information\n",
            exit_code=1,
        )
    return handler(cluster, pod, argv, _daemon_error(pod, container))


def _docker_version(cluster: FakeCluster, pod: FakePod, argv: list[str], error: str | None) -> ExecOutcome:
    if error:
        return ExecOutcome(stdout=txt.CLIENT_VERSION, stderr=error, exit_code=1)
    return ExecOutcome(stdout=txt.CLIENT_VERSION + txt.SERVER_VERSION)


def _docker_info(cluster: FakeCluster, pod: FakePod, argv: list[str], error: str | None) -> ExecOutcome:
    if error:
        return ExecOutcome(
            stdout=txt.CLIENT_INFO + "\nServer:\n",
            stderr=f"ERROR: {error}errors pretty printing info\n",
            exit_code=1,
        )
    return ExecOutcome(stdout=txt.CLIENT_INFO + txt.SERVER_INFO.format(pod=pod.name))


def _docker_run(cluster: FakeCluster, pod: FakePod, argv: list[str], error: str | None) -> ExecOutcome:
    if error:
        return ExecOutcome(
            stderr=f"docker: {error}\nRun 'docker run --help' for more information\n", exit_code=125
        )
    if "hello-world" not in argv[2:]:
        image = argv[-1]
        return ExecOutcome(
            stderr=f"Unable to find image '{image}' locally\ndocker: Error response from daemon: "
            f"pull access denied for {image}, repository does not exist or may require 'docker login'.\n",
            exit_code=125,
        )
    pulled = cluster.pulled_images.setdefault(pod.name, set())
    pull = "" if "hello-world" in pulled else txt.HELLO_PULL
    pulled.add("hello-world")
    return ExecOutcome(stdout=txt.HELLO_WORLD, stderr=pull)


def _docker_build(cluster: FakeCluster, pod: FakePod, argv: list[str], error: str | None) -> ExecOutcome:
    if error:
        return ExecOutcome(stderr=f"ERROR: {error}", exit_code=1)
    dockerfile = _flag(argv, "-f", "--file") or "Dockerfile"
    tag = _flag(argv, "-t", "--tag") or "<none>"
    # BuildKit writes its progress to stderr.
    return ExecOutcome(stderr=txt.BUILD.format(dockerfile_name=os.path.basename(dockerfile), tag=tag))


def _docker_ps(cluster: FakeCluster, pod: FakePod, argv: list[str], error: str | None) -> ExecOutcome:
    if error:
        return ExecOutcome(stderr=error, exit_code=1)
    return ExecOutcome(stdout="CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n")


_DOCKER: dict[str, Callable[[FakeCluster, FakePod, list[str], str | None], ExecOutcome]] = {
    "version": _docker_version,
    "info": _docker_info,
    "run": _docker_run,
    "build": _docker_build,
    "ps": _docker_ps,
}


def _flag(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            return argv[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _du(cluster: FakeCluster, pod: FakePod, container: str, argv: list[str]) -> ExecOutcome:
    paths = [a for a in argv[1:] if not a.startswith("-")] or ["."]
    out, err = [], []
    for path in paths:
        if path.rstrip("/") == "/var/lib/docker":
            out.append(f"{pod.disk_usage}\t{path}\n")
        elif path in (".", "/workspace", "/workspace/lab", "/tmp"):
            out.append(f"48K\t{path}\n")
        else:
            err.append(f"du: cannot access '{path}': No such file or directory\n")
    return ExecOutcome(stdout="".join(out), stderr="".join(err), exit_code=1 if err else 0)


def _pkill(cluster: FakeCluster, pod: FakePod, container: str, argv: list[str]) -> ExecOutcome:
    pattern = next((a for a in argv[1:] if not a.startswith("-")), "")
    try:
        matches = bool(pattern) and re.search(pattern, _DAEMON_CMDLINE) is not None
    except re.error:
        return ExecOutcome(stderr=f"pkill: invalid regular expression: {pattern}\n", exit_code=2)
    if container != "docker" or not matches:
        return ExecOutcome(exit_code=1)
    return ExecOutcome(exit_code=0 if cluster.kill_daemon(pod.name) else 1)


def _start_daemon(cluster: FakeCluster, pod: FakePod, container: str, argv: list[str]) -> ExecOutcome:
    if container != "docker":
        return ExecOutcome(stderr="/bin/sh: dockerd-rootless.sh: not found\n", exit_code=127)
    detached = bool(_DETACHED.search(" ".join(argv)))
    started = cluster.start_daemon(pod.name)
    if not started:
        if detached:
            return ExecOutcome()
        return ExecOutcome(stderr=txt.PID_FILE_FOUND + "\n", exit_code=1)
    if detached:
        return ExecOutcome()
    # In the foreground dockerd never exits: its output streams until the client leaves.
    return ExecOutcome.hanging("\n".join(txt.daemon_start_lines()) + "\n")


def _echo(cluster: FakeCluster, pod: FakePod, container: str, argv: list[str]) -> ExecOutcome:
    return ExecOutcome(stdout=" ".join(argv[1:]) + "\n")


def _sleep(cluster: FakeCluster, pod: FakePod, container: str, argv: list[str]) -> ExecOutcome:
    try:
        return ExecOutcome(delay=float(argv[1]))
    except (IndexError, ValueError):
        return ExecOutcome(stderr="sleep: invalid time interval\n", exit_code=1)


_COMMANDS: dict[str, Simulator] = {
    "env": _env,
    "printenv": _env,
    "docker": _docker,
    "du": _du,
    "pkill": _pkill,
    "echo": _echo,
    "sleep": _sleep,
    "true": lambda c, p, n, a: ExecOutcome(),
    "false": lambda c, p, n, a: ExecOutcome(exit_code=1),
}
