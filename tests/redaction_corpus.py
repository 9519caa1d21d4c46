"""The redaction corpus: every secret shape from issue 4 item 5, and look-alikes that must survive.

Shared by the unit tests (test_redaction.py) and the end-to-end tests that push it through a pod's
logs and events into Slack and GitHub (test_diagnostics_flow.py).
"""

from __future__ import annotations

# Secrets are assembled from parts so this file never holds a scanner-triggering literal.
GHP = "ghp_" + "R7bX2mQ9vL4kT8nW1pZ6cY3hJ5dF0sA2eG8u"
GHO = "gho_" + "16C7e42F292c6912E7710c838347Ae178B4a"
GHS = "ghs_" + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78"
PAT = (
    "github_pat_"
    + "11ABCDEFG0123456789_"
    + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab"
)
XOXB = "xoxb-" + "2048392011-4857302918475-" + "kT9bW3nQ7rL2mX8vC4zH6pJd"
XOXP = "xoxp-" + "2048392011-2048392012-4857302918475-" + "8f14e45fceea167a5a36dedd4bea2543"
XAPP = "xapp-" + "1-A04ABCDE12F-4857302918475-" + "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978"
AKIA = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9"
    + ".eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXJnbzpjb2RleCJ9"
    + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
KEY_BODY = "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi" + "Z1BjP5CE/Wm/Rr500PRK+Lh9x5eJPo5CAZ3/ANBE0sTK0ZsDGMak"
DOCKER_AUTH = "dXNlcjpzM2NyM3Qtc" + "GFzc3dvcmQ="  # base64 of "user:s3cr3t-password"

SECRET_CASES: list[tuple[str, str, str]] = [
    # (id, text, the secret part that must be gone)
    ("github-ghp", f"cloning with token {GHP} ok", GHP),
    ("github-gho", f"GH_TOKEN={GHO}", GHO),
    ("github-ghs-in-url", f"git clone https://x-access-token:{GHS}@github.com/acme/widgets.git", GHS),
    ("github-pat", f"export GITHUB_TOKEN='{PAT}'", PAT),
    ("slack-xoxb", f'SlackApiError: token="{XOXB}" invalid_auth', XOXB),
    ("slack-xoxp", f"using {XOXP} for user calls", XOXP),
    ("slack-xapp", f"SLACK_APP_TOKEN={XAPP}", XAPP),
    (
        "slack-webhook",
        "POST https://hooks.slack.com/services/T0123ABCD/B0456EFGH/" + "a1B2c3D4e5F6g7H8i9J0k1L2",
        "a1B2c3D4e5F6g7H8i9J0k1L2",
    ),
    ("aws-access-key-id", f"aws_access_key_id = {AKIA}", AKIA),
    ("aws-secret-ini", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    ("aws-secret-env", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET),
    ("aws-secret-after-label", f"aws-secret: aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    ("aws-secret-json", f'{{"AccessKeyId": "{AKIA}", "SecretAccessKey": "{AWS_SECRET}"}}', AWS_SECRET),
    ("jwt-bare", f"service account token: {JWT}", JWT),
    ("jwt-in-go-map", f'level=debug msg=request headers="map[Authorization:[Bearer {JWT}]]"', JWT),
    ("authorization-bearer", "Authorization: Bearer abc123def456ghi789", "abc123def456ghi789"),
    ("authorization-basic", "authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ("authorization-token", f"> Authorization: token {GHP}", GHP),
    ("authorization-json", '{"headers": {"Authorization": "Bearer s3cr3tT0k3nV4lu3"}}', "s3cr3tT0k3nV4lu3"),
    ("proxy-authorization", "Proxy-Authorization: Basic Zm9vOmJhcg==", "Zm9vOmJhcg=="),
    (
        "bearer-curl",
        'curl -H "Authorization: Bearer 9f8e7d6c5b4a39281706" https://api',
        "9f8e7d6c5b4a39281706",
    ),
    ("url-password", "pulling https://robot:hunter2hunter2@registry.example.com/v2/", "hunter2hunter2"),
    ("url-password-postgres", "DATABASE_URL=postgres://app:S3cret!pw@db:5432/app", "S3cret!pw"),
    ("url-password-empty-user", "connecting to redis://:r3d1s-pass@cache:6379/0", "r3d1s-pass"),
    # an @ in the password: what follows the first @ is still the password
    ("url-password-with-at", "pushing to https://u:p@ss-w0rd@registry.example.com/v2/", "ss-w0rd"),
    ("url-password-with-at-no-path", "remote: https://ci:s3@cr@t@git.example.com", "cr@t"),
    ("password-pair", "login password=hunter2 user=admin", "hunter2"),
    ("password-pair-short", "login password=Q7 user=admin", "Q7"),
    ("password-env-one-char", "DB_PASSWORD=x\nDB_USER=app", "DB_PASSWORD=x"),
    ("secret-pair-short", "client_secret=z9", "z9"),
    ("password-env", "MYSQL_ROOT_PASSWORD=correct-horse-battery", "correct-horse-battery"),
    ("password-yaml", "  password: Tr0ub4dor&3", "Tr0ub4dor&3"),
    ("password-json", '{"username": "bot", "password": "pa55w0rd-json"}', "pa55w0rd-json"),
    ("password-flag", "docker login --password pa55-flag-value registry.io", "pa55-flag-value"),
    ("password-docker-login-p", "+ docker login -u ci -p pa55-short-flag registry.io", "pa55-short-flag"),
    ("client-secret", "client_secret=9a8b7c6d5e4f", "9a8b7c6d5e4f"),
    ("api-key-header", "X-Api-Key: 0123456789abcdef0123", "0123456789abcdef0123"),
    (
        "docker-auths",
        f'{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{DOCKER_AUTH}"}}}}}}',
        DOCKER_AUTH,
    ),
    ("docker-auths-pretty", f'    "ghcr.io": {{\n      "auth": "{DOCKER_AUTH}",\n', DOCKER_AUTH),
    (
        "docker-identitytoken",
        '"identitytoken": "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"',
        "0a1b2c3d-4e5f-6a7b-8c9d",
    ),
    (
        "dockerconfigjson-b64",
        ".dockerconfigjson: eyJhdXRocyI6eyJnaGNyLmlvIjp7ImF1dGgiOiJkWE5sY2pwd1lYTnoifX19",
        "eyJhdXRocyI6eyJnaGNy",
    ),
]

PEM_CASES = [
    "-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body}\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----",
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{body}\n-----END ENCRYPTED PRIVATE KEY-----",
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{body}\n-----END PGP PRIVATE KEY BLOCK-----",
    '"tls.key": "-----BEGIN RSA PRIVATE KEY-----\\n{body}\\n-----END RSA PRIVATE KEY-----\\n"',
    "-----BEGIN RSA PRIVATE KEY-----\n{body}\n(log truncated)",  # END never came
]

SURVIVORS = [
    "token expired",
    "Token expired, please log in again",
    "error: invalid token; the token is valid for 1h",
    "Bearer token required",
    "Basic authentication is disabled",
    "Authorization failed for user bot",
    'password authentication failed for user "app"',
    "docker login --password-stdin ghcr.io",
    "image@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
    "Digest: sha256:2f7c8e4c4b8b4a1e3f0d9c6b5a4e3d2c1b0a9f8e7d6c5b4a3e2d1c0b9a8f7e6d",
    "DOCKER_TLS_VERIFY=0",
    "DOCKER_HOST=tcp://127.0.0.1:2375",
    "DOCKER_ENABLED=1",
    "      secretName: docker-config",
    "        - name: GITHUB_TOKEN_FILE",
    "PASSWORD_FILE=/run/secrets/db-password",
    "git clone https://github.com/acme/widgets.git",
    "ssh://git@github.com:acme/widgets.git",
    'time="2024-05-01T12:03:46Z" level=info msg="API listen on 127.0.0.1:2375"',
    "codex-run-7k2xq-codex-stage-1791874650: Step 4/9 : RUN make build",
    "commit 9f1c2d3e4b5a6978",
    "uuid 0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    "max_tokens=4096",
    "tests: pass=12 fail=0 skip=1",
    "cache bypass=on",
    "token=1 of 3",
    'curl -s "https://api.example.com/users?email=ops@example.com"',
    "git@github.com:acme/widgets.git and https://github.com/acme/widgets.git",
    "-----BEGIN CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----",
]
