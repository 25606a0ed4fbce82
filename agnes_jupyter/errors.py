"""Exceptions the kernel library raises, one per server error code.

The server answers every error with ``{"error", "message", "hint", "details"}``;
:func:`from_envelope` turns that back into the matching exception.
"""

from __future__ import annotations

from typing import Any


class AgnesError(Exception):
    """Base of every expected Agnes failure: a one-line message and a hint."""

    code = "internal"

    def __init__(self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None,
                 status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = dict(details or {})
        self.status = status
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def one_line(self) -> str:
        return f"{type(self).__name__}: {self.message}"

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: one line and a hint."""
        lines = [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self.message}"]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return lines


class ServerNotFound(AgnesError):
    """No Agnes server could be found or reached."""

    code = "server_not_found"


class Unauthorized(AgnesError):
    code = "unauthorized"


class Forbidden(AgnesError):
    code = "forbidden"


class NotFound(AgnesError):
    code = "not_found"


class ValidationError(AgnesError):
    code = "validation_error"


class Conflict(AgnesError):
    code = "conflict"


class ConfirmationRequired(AgnesError):
    """The scan needs ``confirm=True``; ``.estimate`` says what it would scan."""

    code = "confirmation_required"

    @property
    def estimate(self) -> Any:
        return self.details.get("estimate")


class ScanTooLarge(AgnesError):
    code = "scan_too_large"


class QuotaExceeded(AgnesError):
    code = "quota_exceeded"


class SnapshotExists(AgnesError):
    code = "snapshot_exists"


class SourceError(AgnesError):
    code = "source_error"


class ScanTimeout(AgnesError):
    """The scan ran past the server's time limit and was stopped in the source."""

    code = "scan_timeout"


class ValueTooLarge(AgnesError):
    """The scan would build or send a value (or row) above the server's limit."""

    code = "value_too_large"


class ResourcesExceeded(AgnesError):
    """The scan needed more memory than the server gives one scan."""

    code = "resources_exceeded"


class ScanCancelled(AgnesError):
    """The scan was stopped before it finished (the server stopped, or it was cancelled)."""

    code = "scan_cancelled"


class PayloadTooLarge(AgnesError):
    code = "payload_too_large"


_BY_CODE: dict[str, type[AgnesError]] = {
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "bad_request": ValidationError,
    "validation_error": ValidationError,
    "validator_rejected": ValidationError,
    "not_remote": ValidationError,
    "conflict": Conflict,
    "already_exists": Conflict,
    "already_running": Conflict,
    "confirmation_required": ConfirmationRequired,
    "scan_too_large": ScanTooLarge,
    "quota_exceeded": QuotaExceeded,
    "source_error": SourceError,
    "source_timeout": SourceError,
    "scan_timeout": ScanTimeout,
    "value_too_large": ValueTooLarge,
    "resources_exceeded": ResourcesExceeded,
    "scan_cancelled": ScanCancelled,
    "payload_too_large": PayloadTooLarge,
    "range_not_satisfiable": ValidationError,
    "method_not_allowed": ValidationError,
}


def from_envelope(envelope: dict[str, Any], status: int | None = None) -> AgnesError:
    code = str(envelope.get("error") or "internal")
    cls = _BY_CODE.get(code, AgnesError)
    return cls(
        str(envelope.get("message") or code),
        hint=envelope.get("hint"),
        details=envelope.get("details") or {},
        status=status,
        code=code,
    )
