# syntax=docker/dockerfile:1
# codex-bot image. tests/test_dockerfile.py runs the same pip commands as the two RUN
# steps below (and hadolint + checkov on this file), so keep them in step.

FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY config ./config

# One wheel for the project plus wheels of every dependency, so the final stage
# installs offline and never needs a compiler.
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .


FROM python:3.11-slim

LABEL org.opencontainers.image.title="codex-bot" \
      org.opencontainers.image.description="Slack ChatOps bot for the Codex Docker sidecar runbook"

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/codex-bot \
    PATH=/opt/codex-bot/bin:$PATH \
    STATE_DIR=/var/lib/codex-bot \
    PORT=3000

# The wheels come in through a bind mount, so they never become a layer of this image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/codex-bot \
    && /opt/codex-bot/bin/pip install --no-cache-dir --no-index --find-links=/wheels /wheels/codex_bot-*.whl \
    && groupadd --system --gid 10001 codex-bot \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/codex-bot \
       --shell /usr/sbin/nologin codex-bot \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/codex-bot

# Numeric so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/codex-bot
# Under Kubernetes the chart mounts a volume here (the only writable path besides /tmp).
VOLUME ["/var/lib/codex-bot"]
EXPOSE 3000

# checkov:skip=CKV_DOCKER_2: Kubernetes probes GET /healthz and /readyz (see the chart); a HEALTHCHECK is ignored there
ENTRYPOINT ["codex-bot"]
CMD ["serve"]
