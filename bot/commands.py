"""`/codex <verb> …` text -> a typed Command, or UsageError. One table drives parsing and help."""

from __future__ import annotations

import enum
import re
import shlex
from dataclasses import dataclass

from handlers.errors import UsageError
from handlers.pods import check_pod_name


class Verb(enum.StrEnum):
    HELP = "help"
    PODS = "pods"
    VALIDATE = "validate"
    RESTART = "restart"
    DIAGNOSTICS = "diagnostics"
    FLEET = "fleet"
    PAUSE = "pause"
    RESUME = "resume"
    STATUS = "status"
    ROLLBACK = "rollback"
    AUDIT = "audit"


class Arg(enum.Enum):
    NONE = "none"
    POD = "pod"  # exactly one pod name
    OPTIONAL_POD = "optional pod"
    SELECTOR = "optional selector"
    POD_AND_REASON = "pod, then free text"


@dataclass(frozen=True)
class VerbSpec:
    verb: Verb
    arg: Arg
    flags: frozenset[str]
    usage: str
    summary: str
    example: str


_SPECS = (
    VerbSpec(Verb.HELP, Arg.NONE, frozenset(), "help", "show this help", "/codex help"),
    VerbSpec(
        Verb.PODS,
        Arg.SELECTOR,
        frozenset(),
        "pods [selector]",
        "list Codex workflow pods: stage, workflow, phase, age, restarts, node",
        "/codex pods codex.stage=build",
    ),
    VerbSpec(
        Verb.VALIDATE,
        Arg.POD,
        frozenset({"--issue"}),
        "validate <pod> [--issue owner/repo#N]",
        "check the Docker env and run docker version/info/run/build in `main`",
        "/codex validate codex-build-7f9c2",
    ),
    VerbSpec(
        Verb.RESTART,
        Arg.POD_AND_REASON,
        frozenset({"--dry-run"}),
        "restart <pod> [reason…] [--dry-run]",
        "restart the rootless Docker daemon, after approval in the incident channel",
        "/codex restart codex-build-7f9c2 docker info hangs",
    ),
    VerbSpec(
        Verb.DIAGNOSTICS,
        Arg.POD,
        frozenset({"--since", "--issue"}),
        "diagnostics <pod> [--since 30m] [--issue owner/repo#N]",
        "daemon + workflow logs, /var/lib/docker usage, Kyverno reports, pod status",
        "/codex diagnostics codex-build-7f9c2 --since 1h --issue acme/widgets#7",
    ),
    VerbSpec(
        Verb.FLEET,
        Arg.NONE,
        frozenset(),
        "fleet",
        "run `docker info` on every Codex pod; escalate when many workflows fail",
        "/codex fleet",
    ),
    VerbSpec(
        Verb.PAUSE,
        Arg.NONE,
        frozenset({"--dry-run"}),
        "pause [--dry-run]",
        "pause new submissions (suspend CronWorkflows, set the flag), after approval",
        "/codex pause",
    ),
    VerbSpec(
        Verb.RESUME,
        Arg.NONE,
        frozenset({"--dry-run"}),
        "resume [--dry-run]",
        "undo exactly what pause changed, after approval",
        "/codex resume",
    ),
    VerbSpec(
        Verb.STATUS,
        Arg.NONE,
        frozenset(),
        "status",
        "are submissions paused, since when, by whom",
        "/codex status",
    ),
    VerbSpec(
        Verb.ROLLBACK,
        Arg.NONE,
        frozenset({"--mode", "--issue", "--undo", "--dry-run", "--force"}),
        "rollback [--mode patch|pull-request] [--issue owner/repo#N] [--undo] [--dry-run] [--force]",
        "remove DOCKER_* env and the docker sidecar from the WorkflowTemplates, after approval",
        "/codex rollback --mode patch --issue acme/widgets#7",
    ),
    VerbSpec(
        Verb.AUDIT,
        Arg.OPTIONAL_POD,
        frozenset(),
        "audit [pod]",
        "who ran what, when, with what result",
        "/codex audit codex-build-7f9c2",
    ),
)
SPECS: dict[Verb, VerbSpec] = {s.verb: s for s in _SPECS}
_VALUED_FLAGS = frozenset({"--issue", "--since", "--mode"})
_ISSUE = re.compile(r"^(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?#\d+$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MODES = ("patch", "pull-request")


@dataclass(frozen=True)
class Command:
    verb: Verb
    pod: str | None = None
    selector: str | None = None
    reason: str | None = None
    issue: str | None = None
    since_seconds: int | None = None
    mode: str = "patch"
    dry_run: bool = False
    undo: bool = False
    force: bool = False


def parse_duration(text: str) -> int:
    m = _DURATION.match(text)
    if not text or not m or not any(m.groups()):
        raise UsageError(f"`{text}` is not a duration.", hint="Use e.g. `30m`, `2h`, `90s`, `1h30m`.")
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def _usage(spec: VerbSpec, problem: str) -> UsageError:
    return UsageError(problem, hint=f"Usage: `/codex {spec.usage}`  e.g. `{spec.example}`")


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as e:
        raise UsageError(f"Could not read the command: {e}.", hint="Check the quotes.") from e


def _take_flags(spec: VerbSpec, words: list[str]) -> tuple[list[str], dict[str, str | bool]]:
    rest: list[str] = []
    flags: dict[str, str | bool] = {}
    it = iter(words)
    for word in it:
        if not word.startswith("--"):
            rest.append(word)
            continue
        name, eq, value = word.partition("=")
        if name not in spec.flags:
            raise _usage(spec, f"`{spec.verb}` does not take `{name}`.")
        if name in _VALUED_FLAGS:
            if not eq:
                value = next(it, "")
            if not value:
                raise _usage(spec, f"`{name}` needs a value.")
            flags[name] = value
        else:
            flags[name] = True
    return rest, flags


def _positional(spec: VerbSpec, rest: list[str]) -> dict[str, str | None]:
    if spec.arg is Arg.NONE and rest:
        raise _usage(spec, f"`{spec.verb}` takes no arguments.")
    if spec.arg in (Arg.POD, Arg.POD_AND_REASON) and not rest:
        raise _usage(spec, f"`{spec.verb}` needs a pod name.")
    if spec.arg in (Arg.POD, Arg.OPTIONAL_POD, Arg.SELECTOR) and len(rest) > 1:
        raise _usage(spec, f"`{spec.verb}` takes one argument, got {len(rest)}.")
    if spec.arg is Arg.SELECTOR:
        return {"selector": rest[0] if rest else None}
    pod = check_pod_name(rest[0]) if rest else None
    reason = " ".join(rest[1:]) or None if spec.arg is Arg.POD_AND_REASON else None
    return {"pod": pod, "reason": reason}


def parse(text: str) -> Command:
    words = _split(text.strip())
    if not words:
        return Command(Verb.HELP)
    try:
        verb = Verb(words[0].lower())
    except ValueError:
        raise UsageError(f"Unknown command `{words[0]}`.", hint="Try `/codex help`.") from None
    spec = SPECS[verb]
    rest, flags = _take_flags(spec, words[1:])
    fields = _positional(spec, rest)
    issue = flags.get("--issue")
    if isinstance(issue, str) and not _ISSUE.match(issue):
        raise _usage(spec, f"`{issue}` is not an issue reference; use `owner/repo#N` or `#N`.")
    mode = str(flags.get("--mode", "patch"))
    if mode not in MODES:
        raise _usage(spec, f"`--mode {mode}` is not one of {', '.join(MODES)}.")
    since = flags.get("--since")
    return Command(
        verb=verb,
        pod=fields.get("pod"),
        selector=fields.get("selector"),
        reason=fields.get("reason"),
        issue=issue if isinstance(issue, str) else None,
        since_seconds=parse_duration(since) if isinstance(since, str) else None,
        mode=mode,
        dry_run=bool(flags.get("--dry-run")),
        undo=bool(flags.get("--undo")),
        force=bool(flags.get("--force")),
    )
