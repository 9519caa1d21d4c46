"""Redaction of secrets from anything the bot posts to Slack or GitHub."""

from __future__ import annotations

import re

MASK = "[REDACTED]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole block (RSA, EC, OPENSSH, ENCRYPTED, …)
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
        ),
        f"-----BEGIN PRIVATE KEY----- {MASK} -----END PRIVATE KEY-----",
    ),
    # Authorization / Proxy-Authorization headers, any scheme
    (re.compile(r"(?im)^(\s*(?:proxy-)?authorization\s*[:=]\s*).+$"), rf"\1{MASK}"),
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1\2{MASK}"),
    # GitHub tokens
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"), MASK),
    # Slack tokens
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}"), MASK),
    (re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"), MASK),
    # AWS access key ids and secret keys
    (re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b"), MASK),
    (
        re.compile(r"(?i)(aws_secret_access_key|aws_session_token)(\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{16,}"),
        rf"\1\2{MASK}",
    ),
    # JWTs
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), MASK),
    # user:password@ in URLs
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@"), rf"\1{MASK}@"),
    # password=…, secret: …, token = … pairs (env dumps, config files, CLI flags)
    (
        re.compile(
            r"(?i)\b([A-Z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)[A-Z0-9_.-]*)"
            r"(\s*[:=]\s*)([\"']?)(?!\[REDACTED\])[^\s\"',;&]{3,}\3"
        ),
        rf"\1\2\3{MASK}\3",
    ),
    # CLI flags: --password VALUE, --token VALUE
    (re.compile(r"(?i)(--(?:password|token|secret|api-key)\s+)(?!\[REDACTED\])\S+"), rf"\1{MASK}"),
    # Docker config.json "auth": "base64" (inside "auths")
    (re.compile(r"(?i)(\"(?:auth|identitytoken|registrytoken)\"\s*:\s*\")[^\"]+(\")"), rf"\1{MASK}\2"),
)


def redact(text: str) -> str:
    """Mask every known secret shape. Idempotent: redacting twice changes nothing more."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
