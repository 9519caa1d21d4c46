"""Domain errors. Each carries a sentence for the user and, where useful, what to do next."""

from __future__ import annotations


class CodexError(Exception):
    """Base: ``str(e)`` is what the user reads; ``hint`` says what to do next."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def for_user(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class UsageError(CodexError):
    """The command's words are off."""


class NotAllowed(CodexError):
    """The caller may not do this."""


class NotFound(CodexError):
    """The named thing does not exist."""


class Conflict(CodexError):
    """Someone else changed or holds it (409, a lock, a pending request)."""


class ClusterError(CodexError):
    """The Kubernetes API refused or failed; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int = 0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ExecTimedOut(ClusterError):
    """An exec did not finish within its timeout and was abandoned."""


class ExternalError(CodexError):
    """Slack or GitHub refused or failed."""

    def __init__(self, message: str, *, service: str, status: int = 0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.service = service
        self.status = status
