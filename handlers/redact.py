"""Redaction of secrets from anything the bot posts to Slack or GitHub.

Each pattern is a shape a secret takes in logs, env dumps, config files or HTTP traces. Words
that merely talk about secrets ("token expired", "Bearer token required", ``secretName: x``)
are left alone: the value must look like a value. ``tests/test_redaction.py`` is the corpus.
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"
_NOT_MASKED = r"(?!\[REDACTED\])"
# A credential, not an English word: a digit, a lower-to-upper case change, or base64 padding/symbols.
_TOKENISH = r"(?=[A-Za-z0-9._~+/=-]*(?:\d|[a-z][A-Z]|[+/=]))"

# (lowercase needles: the rule runs only when one occurs, pattern, replacement)
_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # PEM private keys, the whole block (RSA, EC, OPENSSH, ENCRYPTED, PGP …); to the end if END never came.
    (
        ("private key",),
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END \1-----|\Z)", re.DOTALL
        ),
        f"-----BEGIN PRIVATE KEY----- {MASK} -----END PRIVATE KEY-----",
    ),
    # Authorization / Proxy-Authorization headers (curl -v, Go maps, JSON): the whole value.
    (
        ("authorization",),
        re.compile(
            r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)" + _NOT_MASKED + r"[^\"'\s][^\"'\n]*"
        ),
        rf"\1{MASK}",
    ),
    # "Bearer <token>", "Basic <b64>", "token <token>" outside a header line.
    (
        ("bearer", "basic", "token"),
        re.compile(r"(?<![\w-])((?i:bearer|basic|token)\s+)" + _TOKENISH + r"[A-Za-z0-9._~+/=-]{8,}"),
        rf"\1{MASK}",
    ),
    # GitHub tokens
    (
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"),
        MASK,
    ),
    # Slack tokens and incoming-webhook URLs
    (("xox",), re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}"), MASK),
    (("xapp-",), re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"), MASK),
    (
        ("hooks.slack.com",),
        re.compile(r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+"),
        rf"\1{MASK}",
    ),
    # AWS access key ids (secret keys are caught by their key names below)
    (
        ("akia", "asia", "agpa", "aida", "aroa", "anpa", "anva"),
        re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b"),
        MASK,
    ),
    # JWTs (service-account tokens, OIDC)
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), MASK),
    # user:password@ in URLs (the user may be empty: redis://:pw@host); the password runs to the
    # last @ before the host, since people do not percent-encode an @ in it (u:p@ss@host)
    (
        ("://",),
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)" + _NOT_MASKED + r"[^\s/\"'<>]+@"),
        rf"\1{MASK}@",
    ),
    # Docker config.json: "auth"/"identitytoken" values, and the whole file base64-encoded
    (
        ('"auth', "identitytoken", "registrytoken"),
        re.compile(r"(?i)(\"(?:auth|identitytoken|registrytoken)\"\s*:\s*\")[^\"]+(\")"),
        rf"\1{MASK}\2",
    ),
    (("eyjhdxrocyi6",), re.compile(r"\beyJhdXRocyI6[A-Za-z0-9+/=]*"), MASK),
    # docker login -p VALUE (the CLI warns, but CI logs still show it)
    (("login",), re.compile(r"(\bdocker\s+login\b[^\n]*?\s-p\s*)" + _NOT_MASKED + r"\S+"), rf"\1{MASK}"),
    # --password VALUE, --token VALUE
    (
        ("--password", "--token", "--secret", "--api-key"),
        re.compile(r"(?i)(--(?:password|token|secret|api-key)\s+)" + _NOT_MASKED + r"[^\s-]\S*"),
        rf"\1{MASK}",
    ),
)

# key=value / key: value / "key": "value" where the key names a secret.
_PAIR = re.compile(
    r"(?i)(passw(?:or)?d|passphrase|pass(?![a-z])|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)"
    r"(?P<rest>[a-z0-9_.-]*)(?P<sep>[\"']?\s*[:=]\s*)(?![\"']?\[REDACTED\])"
    r"(?:\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)'"
    # A bare "value" followed by its own separator is the next key (aws-secret: aws_secret_access_key
    # = V): no match here, so the scan goes on and masks V. Atomic, so it cannot shrink to dodge that.
    r"|(?P<bare>(?>[^\s\"',;}\]&]+(?:&(?![\w.-]+=)[^\s\"',;}\]&]*)*))(?!\s*[:=]))"
)
# Keys that say where a secret is, or count them, rather than hold one: secretName, PASSWORD_FILE, max_tokens.
_BENIGN_KEY_ENDINGS = (
    "name", "names", "ref", "file", "path", "dir", "type", "ttl", "expiry", "expires", "expires_in",
    "tokens", "count", "length", "len", "size", "url", "uri", "endpoint", "stdin", "required", "enabled",
)  # fmt: skip


# Keys that are also ordinary words, with a short bare value not a secret: pass=1 fail=0, bypass=on.
# Any other secret key masks every value, however short (password=ab).
_WORDLIKE_KEYS = ("pass", "token")


def _pair(m: re.Match[str]) -> str:
    key = (m[1] + m["rest"]).lower()
    value = m["dq"] or m["sq"] or m["bare"] or ""
    benign = (
        key.endswith(_BENIGN_KEY_ENDINGS)
        or value == MASK
        or value.startswith(("$", "{{", "<"))
        or set(value) <= {"*"}
        or (m["bare"] is not None and len(value) < 3 and m[1].lower() in _WORDLIKE_KEYS)
    )
    if benign:
        return m[0]
    quote = '"' if m["dq"] else ("'" if m["sq"] else "")
    return f"{m[1]}{m['rest']}{m['sep']}{quote}{MASK}{quote}"


_PAIR_NEEDLES = ("pass", "secret", "token", "api", "access", "private")


def redact(text: str) -> str:
    """Mask every known secret shape. Idempotent: redacting twice changes nothing more."""
    # Replacements only ever remove text, so needles absent from the input stay absent.
    low = text.lower()
    for needles, pattern, replacement in _RULES:
        if any(n in low for n in needles):
            text = pattern.sub(replacement, text)
    if any(n in low for n in _PAIR_NEEDLES):
        text = _PAIR.sub(_pair, text)
    return text
