"""Settings: secrets and endpoints from the environment, runbook policy from YAML.

Every policy key has a default that matches the runbook, so the bot starts with no
file. Unknown keys are rejected (``extra="forbid"``) so a typo fails at start with the
key's name instead of being silently ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """Invalid configuration; the message names the offending key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Principals(_Section):
    """Who matches: any listed user, member of a listed user group, or channel."""

    users: list[str] = Field(default_factory=list, description="Slack user IDs (U…/W…)")
    groups: list[str] = Field(default_factory=list, description="Slack user-group IDs (S…)")
    channels: list[str] = Field(default_factory=list, description="Slack channel IDs (C…/G…)")

    @property
    def unrestricted(self) -> bool:
        return not (self.users or self.groups or self.channels)


class SlackPolicy(_Section):
    incident_channel: str = Field("", description="channel ID where approvals and escalations go")
    oncall_group: str = Field("", description="user-group ID mentioned on escalation")
    command: str = Field("/codex", description="the slash command registered in the Slack app")


class ApprovalPolicy(_Section):
    approvers: Principals = Field(default_factory=Principals)
    ttl_seconds: int = Field(900, gt=0, description="seconds before a pending approval expires")
    group_cache_seconds: int = Field(60, ge=0, description="how long user-group members are cached")


class PodsPolicy(_Section):
    selector: str = Field("codex.stage", description="label selector of Codex workflow pods")
    stage_label: str = Field("codex.stage", description="label holding the stage name")
    workflow_label: str = Field(
        "workflows.argoproj.io/workflow", description="Argo label naming the pod's workflow"
    )
    main_container: str = Field("main", description="the Codex container (Docker CLI)")
    docker_container: str = Field("docker", description="the rootless Docker sidecar")


class DockerPolicy(_Section):
    host: str = Field("tcp://127.0.0.1:2375", description="where the rootless daemon listens")
    expected_env: dict[str, str] = Field(
        default_factory=lambda: {
            "DOCKER_HOST": "tcp://127.0.0.1:2375",
            "DOCKER_ENABLED": "1",
            "DOCKER_TLS_VERIFY": "0",
        },
        description="variables the main container must show, with their values",
    )
    data_root: str = Field(
        "/var/lib/docker",
        description="the daemon's data root in the docker container; diagnostics report its `du -sh`",
    )


class BuildPolicy(_Section):
    dockerfile: str = "apps/froussard/Dockerfile.codex"
    tag: str = "codex-universal:test"
    context: str = "/workspace/lab"


class TimeoutPolicy(_Section):
    """Seconds. Every exec and wait is bounded; the build gets far longer."""

    env: float = Field(15, gt=0)
    docker_version: float = Field(30, gt=0)
    docker_info: float = Field(30, gt=0)
    hello_world: float = Field(120, gt=0)
    build: float = Field(1800, gt=0)
    api: float = Field(15, gt=0, description="any single Kubernetes/Slack/GitHub API call")
    restart_ready: float = Field(120, gt=0, description="wait for docker info after a restart")
    restart_poll_interval: float = Field(2, gt=0)
    diagnostics_exec: float = Field(60, gt=0)


class GithubPolicy(_Section):
    default_repo: str | None = Field(None, description="owner/repo used when --issue gives only #N")
    progress_marker: str = Field(
        "codex-bot:progress", description="hidden marker of the issue's progress comment"
    )
    seconds_between_writes: float = Field(
        1.0, ge=0, description="pause between GitHub writes (GitHub's secondary-rate-limit advice)"
    )


class WatcherPolicy(_Section):
    enabled: bool = False
    issue_annotation: str = Field("codex.github/issue", description='on the Workflow: "owner/repo#123"')
    issue_label: str = Field("", description="or a label holding the issue number (default repo)")
    issue_parameter: str = Field("", description="or a workflow parameter holding the reference")
    channel: str = Field("", description="where the bot says it commented")
    interval_seconds: float = Field(
        30, gt=0, description="seconds between rounds; each lists failed workflows and comments on new ones"
    )
    lease_name: str = Field(
        "codex-bot-watcher", description="coordination.k8s.io Lease: only its holder (one replica) comments"
    )
    lease_seconds: int = Field(
        60,
        gt=0,
        description="seconds the Lease stays valid after a renewal: how long replicas wait for a leader "
        "that died without releasing it (a clean shutdown releases it). At least 2 x renew_seconds",
    )
    renew_seconds: float = Field(
        20,
        gt=0,
        description="seconds between renewals while holding the Lease (and tries while not), in the "
        "background, so a long round never outlives it; about lease_seconds / 3, as client-go does",
    )

    @field_validator("renew_seconds")
    @classmethod
    def _renewed_well_before_the_lease_lapses(cls, value: float, info: ValidationInfo) -> float:
        lease = info.data.get("lease_seconds")
        if lease is not None and value * 2 > lease:
            raise ValueError(
                f"must be at most half of watcher.lease_seconds ({lease}), so a failed renewal is "
                f"retried before the Lease lapses; about lease_seconds / 3 is usual"
            )
        return value


class EscalationPolicy(_Section):
    failing_workflows_threshold: int = Field(2, ge=1)
    webhook_url: str | None = Field(None, description="optional JSON POST target (paging)")
    periodic_check_seconds: float = Field(0, ge=0, description="0 disables the periodic fleet check")
    quiet_seconds: float = Field(900, ge=0, description="fleet must be healthy this long before a new page")


class FleetPolicy(_Section):
    concurrency: int = Field(16, ge=1, le=256, description="docker info checks in flight at once")
    per_pod_timeout: float = Field(20, gt=0)


class SubmissionsPolicy(_Section):
    cronworkflow_selector: str = "app.kubernetes.io/part-of=codex"
    flag_configmap: str = "codex-bot-flags"
    flag_key: str = "submissions_paused"


class RollbackPolicy(_Section):
    template_selector: str = "app.kubernetes.io/part-of=codex"
    sidecar_name: str = "docker"
    env_prefix: str = "DOCKER_"
    gitops_repo: str | None = None
    gitops_path: str = "argo/workflowtemplates"
    gitops_base: str = "main"


class DiagnosticsPolicy(_Section):
    since: str = Field("30m", description="default log window")
    artifact_cap_bytes: int = Field(20 * 1024 * 1024, gt=0, description="head+tail kept beyond this")
    guardrail_policy: str = Field(
        "codex-privileged-guardrails",
        description="Kyverno policy admitting the privileged Codex pods; diagnostics call out its verdict",
    )


class Policy(_Section):
    """The YAML file's root. Keys mirror ``config/codex-bot.example.yaml``."""

    namespace: str = "argo-workflows"
    slack: SlackPolicy = Field(default_factory=SlackPolicy)
    approvals: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    permissions: dict[str, Principals] = Field(
        default_factory=dict, description="per verb; a verb not listed is open to everyone"
    )
    pods: PodsPolicy = Field(default_factory=PodsPolicy)
    docker: DockerPolicy = Field(default_factory=DockerPolicy)
    build: BuildPolicy = Field(default_factory=BuildPolicy)
    timeouts: TimeoutPolicy = Field(default_factory=TimeoutPolicy)
    github: GithubPolicy = Field(default_factory=GithubPolicy)
    watcher: WatcherPolicy = Field(default_factory=WatcherPolicy)
    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)
    fleet: FleetPolicy = Field(default_factory=FleetPolicy)
    submissions: SubmissionsPolicy = Field(default_factory=SubmissionsPolicy)
    rollback: RollbackPolicy = Field(default_factory=RollbackPolicy)
    diagnostics: DiagnosticsPolicy = Field(default_factory=DiagnosticsPolicy)

    @field_validator("namespace")
    @classmethod
    def _namespace_is_dns_label(cls, value: str) -> str:
        if not value or len(value) > 63 or not all(c.isalnum() or c == "-" for c in value):
            raise ValueError("must be a Kubernetes namespace name")
        return value


class Environment(BaseSettings):
    """Secrets and endpoints; read from the process environment only."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    github_token: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    kubeconfig: str | None = None
    codex_bot_config: str | None = None
    database_url: str | None = None
    state_dir: str = Field(
        default_factory=lambda: os.path.join(os.path.expanduser("~"), ".local", "state", "codex-bot")
    )
    port: int = Field(3000, ge=1, le=65535)

    @property
    def has_slack(self) -> bool:
        return self.slack_bot_token is not None and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )

    @property
    def kubeconfig_available(self) -> bool:
        """A real cluster is configured: KUBECONFIG, ~/.kube/config, or in-cluster."""
        return self.resolved_kubeconfig() is not None or bool(os.environ.get("KUBERNETES_SERVICE_HOST"))

    def resolved_kubeconfig(self) -> str | None:
        """The kubeconfig to use, as kubectl picks it (KUBECONFIG, else ~/.kube/config);
        None means the in-cluster ServiceAccount."""
        if self.kubeconfig:
            return self.kubeconfig
        default = Path(os.path.expanduser("~/.kube/config"))
        return str(default) if default.is_file() else None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{Path(self.state_dir) / 'codex-bot.db'}"


class Settings(BaseModel):
    """Everything the bot runs with."""

    model_config = ConfigDict(frozen=True)

    env: Environment
    policy: Policy


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(root)"
    return f"{source}: {key}: {first['msg']}"


def load_policy(path: str | os.PathLike[str] | None) -> Policy:
    if not path:
        return Policy()
    try:
        raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from e
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: (root): the file must hold a mapping of keys")
    try:
        return Policy.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_describe(e, str(path))) from e


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the environment (or ``environ``) and the YAML file it names."""
    try:
        if environ is None:
            env = Environment()
        else:
            lowered = {k.lower(): v for k, v in environ.items()}
            env = Environment.model_validate(
                {name: lowered[name] for name in Environment.model_fields if name in lowered}
            )
    except ValidationError as e:
        raise ConfigError(_describe(e, "environment")) from e
    return Settings(env=env, policy=load_policy(env.codex_bot_config))
