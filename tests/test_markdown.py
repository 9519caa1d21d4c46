"""GitHub comments: marker first, never over 65,536 characters, fences that logs cannot break."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from markdown_it import MarkdownIt

from bot.render.markdown import diagnostics_comment, hidden_marker, validation_comment
from bot.render.markdown_fit import COMMENT_LIMIT, utf16_len
from handlers.artifacts import (
    Artifact,
    ArtifactKey,
    ArtifactStatus,
    Cut,
    Diagnostics,
    Finding,
    Severity,
)
from handlers.results import StepResult, StepState, Validation

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LINK = "https://acme.slack.com/archives/C0123/p1714565012000200"
MARKER = "codex-bot:diagnostics:codex-run-7k2xq-build-1"


def big_log(name: str, size: int) -> str:
    line = f'{name} line %07d: level=info msg="layer pushed" digest=sha256:{"ab" * 32}\n'
    n = size // len(line % 0) + 1
    return "".join(line % i for i in range(n))


def artifact(key: ArtifactKey, content: str, *, title: str | None = None, **kw: object) -> Artifact:
    return Artifact(
        key=key,
        title=title or key.value,
        command=f"kubectl get {key.value}",
        status=kw.pop("status", ArtifactStatus.OK),  # type: ignore[arg-type]
        content=content.encode(),
        source_bytes=len(content.encode()),
        **kw,  # type: ignore[arg-type]
    )


def diagnostics(*artifacts: Artifact, findings: tuple[Finding, ...] = ()) -> Diagnostics:
    return Diagnostics(
        pod="codex-run-7k2xq-build-1",
        namespace="argo-workflows",
        workflow="codex-run-7k2xq",
        phase="Failed",
        since_seconds=1800,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=4),
        artifacts=artifacts,
        findings=findings,
    )


def fences(markdown: str) -> list[str]:
    return [t.content for t in MarkdownIt("commonmark").enable("table").parse(markdown) if t.type == "fence"]


def test_ten_artifacts_of_five_megabytes_fit_with_head_tail_and_a_note() -> None:
    logs = [big_log(f"artifact{i}", 5 * 1024 * 1024) for i in range(10)]
    d = diagnostics(*(artifact(ArtifactKey.DAEMON_LOGS, log, title=f"Log {i}") for i, log in enumerate(logs)))
    body = diagnostics_comment(d, marker=MARKER, slack_permalink=LINK)
    assert utf16_len(body) <= COMMENT_LIMIT and len(body) <= COMMENT_LIMIT
    assert body.startswith(f"<!-- {MARKER} -->\n")
    assert "Trimmed to fit GitHub's 65,536-character comment limit" in body
    assert all(f"**Log {i}** (kept " in body for i in range(10))
    blocks = fences(body)
    assert len(blocks) == 10
    for log, block in zip(logs, blocks, strict=True):
        first, last = log.splitlines()[0], log.splitlines()[-1]
        assert block.startswith(first + "\n") and block.rstrip("\n").endswith(last)
        assert "lines (" in block and "trimmed here to fit GitHub" in block
        whole = set(log.splitlines())
        assert all(line in whole or "trimmed here" in line for line in block.splitlines())  # whole lines only


def test_the_largest_sections_are_trimmed_first_and_small_ones_kept_whole() -> None:
    status = "Phase: Failed\n" * 40
    kyverno = "codex-privileged-guardrails  pass 3\n" * 20
    d = diagnostics(
        artifact(ArtifactKey.POD_STATUS, status, title="Pod status"),
        artifact(ArtifactKey.DAEMON_LOGS, big_log("daemon", 2_000_000), title="Daemon logs"),
        artifact(ArtifactKey.WORKFLOW_LOGS, big_log("wf", 300_000), title="Workflow logs"),
        artifact(ArtifactKey.KYVERNO, kyverno, title="Kyverno decisions"),
    )
    body = diagnostics_comment(d, marker=MARKER, slack_permalink=LINK)
    blocks = fences(body)
    assert blocks[0] == status and blocks[3] == kyverno
    assert abs(len(blocks[1]) - len(blocks[2])) < 1000  # both big ones cut to the same level
    assert "**Daemon logs** (kept" in body and "**Workflow logs** (kept" in body
    assert "Pod status** (kept" not in body


def test_small_bundle_is_whole_with_no_trim_note() -> None:
    d = diagnostics(artifact(ArtifactKey.DAEMON_LOGS, "one\ntwo\n", title="Daemon logs"))
    body = diagnostics_comment(d, marker=MARKER, slack_permalink=None)
    assert fences(body) == ["one\ntwo\n"]
    assert "Trimmed" not in body and "Slack thread" in body


@pytest.mark.parametrize("evil", ["```", "````", "~~~", "```\n</details>\n# Heading", "`````text"])
def test_backticks_in_logs_never_close_the_fence(evil: str) -> None:
    log = f"before\n{evil}\nafter\n"
    d = diagnostics(
        artifact(ArtifactKey.DAEMON_LOGS, log, title="Daemon logs"),
        artifact(ArtifactKey.KYVERNO, "kyverno text\n", title="Kyverno"),
    )
    body = diagnostics_comment(d, marker=MARKER, slack_permalink=LINK)
    assert fences(body) == [log, "kyverno text\n"]


def test_summary_table_and_findings_show_status_size_cut_and_reasons() -> None:
    cut = Cut(cut_bytes=851_000_000, cut_lines=1_234_567, head_bytes=10 << 20, tail_bytes=10 << 20)
    d = diagnostics(
        artifact(ArtifactKey.DAEMON_LOGS, "head\n" + cut.marker + "\ntail\n", title="Daemon logs", cut=cut),
        artifact(
            ArtifactKey.VOLUME_USAGE,
            "",
            title="Volume usage",
            status=ArtifactStatus.FAILED,
            reason="pods/exec is forbidden | token ghp_" + "Q" * 36,
            hint="grant create on pods/exec",
        ),
        artifact(
            ArtifactKey.KYVERNO,
            "",
            title="Kyverno",
            status=ArtifactStatus.UNAVAILABLE,
            reason="Kyverno reports not available (no PolicyReport CRD in this cluster).",
        ),
        findings=(
            Finding(Severity.ERROR, "Pod phase is Failed."),
            Finding(Severity.INFO, "`/var/lib/docker` uses 1.2G."),
        ),
    )
    body = diagnostics_comment(d, marker=MARKER, slack_permalink=LINK)
    assert "- ❗ Pod phase is Failed." in body and "- ℹ️ `/var/lib/docker` uses 1.2G." in body
    assert "| Daemon logs | ✅ ok |" in body and "cut 811.6 MB (1,234,567 lines) from the middle" in body
    assert "| Volume usage | ❌ failed | — | pods/exec is forbidden \\| token [REDACTED] |" in body
    assert "| Kyverno | ➖ unavailable | — | Kyverno reports not available" in body
    assert "ghp_" not in body and "_grant create on pods/exec_" in body
    assert f"[Slack thread]({LINK})" in body


def test_astral_characters_count_double_and_still_fit() -> None:
    log = "🐳 docker says hi 🐳\n" * 40_000
    body = diagnostics_comment(
        diagnostics(artifact(ArtifactKey.DAEMON_LOGS, log, title="Daemon logs")),
        marker=MARKER,
        slack_permalink=LINK,
    )
    assert utf16_len(body) <= COMMENT_LIMIT


def test_markers_that_could_end_the_html_comment_are_refused() -> None:
    assert hidden_marker("codex-bot:progress") == "<!-- codex-bot:progress -->"
    for bad in ("a-->b", "x--y", "", "a>b"):
        with pytest.raises(ValueError):
            hidden_marker(bad)


def step(key: str, state: StepState, output: str = "", detail: str = "", code: int | None = 0) -> StepResult:
    return StepResult(
        key=key,
        title=key,
        container="main",
        argv=("docker", key),
        state=state,
        exit_code=code,
        duration=1.5,
        output=output,
        detail=detail,
    )


def test_validation_checklist_with_marker_link_and_trimmed_outputs() -> None:
    v = Validation(
        pod="codex-run-7k2xq-build-1",
        namespace="argo-workflows",
        workflow="codex-run-7k2xq",
        steps=(
            step("env", StepState.PASSED, "DOCKER_HOST=tcp://127.0.0.1:2375\n"),
            step("docker-info", StepState.FAILED, big_log("info", 3_000_000), "daemon not answering", code=1),
            step("hello-world", StepState.SKIPPED, code=None),
        ),
        started_at=T0,
        finished_at=T0 + timedelta(seconds=12),
    )
    body = validation_comment(v, marker="codex-bot:progress", permalink=LINK)
    assert body.startswith("<!-- codex-bot:progress -->\n") and utf16_len(body) <= COMMENT_LIMIT
    assert "- [x] ✅ **env** — `docker env` · passed · 1.5s" in body
    assert (
        "- [ ] ❌ **docker-info** — `docker docker-info` · failed · exit 1 · 1.5s  \n  daemon not answering"
        in body
    )
    assert "- [ ] ⏭️ **hello-world**" in body
    assert "**Next step:**" in body and f"[Slack thread]({LINK})" in body
    assert len(fences(body)) == 2  # skipped steps have no output section
    assert "**Output of docker docker-info** (kept" in body


def test_validation_in_progress_has_no_verdict() -> None:
    v = Validation(
        pod="p", namespace="ns", workflow=None, steps=(step("env", StepState.RUNNING),), started_at=T0
    )
    body = validation_comment(v, marker="m", permalink=None)
    assert "in progress" in body and "Next step" not in body and fences(body) == []
