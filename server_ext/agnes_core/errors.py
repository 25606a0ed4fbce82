"""One small hierarchy of domain errors and the one table that maps them to HTTP.

Every error carries a stable ``code``, a one-line ``message``, a ``hint`` saying
what to do, and structured ``details``. The server turns them into the error
envelope ``{"error", "message", "hint", "details"}``; the kernel library turns
the envelope back into exceptions of the same names.
"""

from __future__ import annotations

from typing import Any

#: The single code -> HTTP status table. Caller faults are 4xx.
STATUS_BY_CODE: dict[str, int] = {
    "bad_request": 400,
    "validation_error": 400,
    "validator_rejected": 400,
    "scan_too_large": 400,
    "not_remote": 409,
    "required_item": 400,
    "not_available": 400,
    "recipe_parameter": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "already_exists": 409,
    "already_running": 409,
    "confirmation_required": 409,
    "scan_timeout": 400,
    "value_too_large": 400,
    "resources_exceeded": 400,
    "scan_cancelled": 409,
    "payload_too_large": 413,
    "range_not_satisfiable": 416,
    "quota_exceeded": 429,
    "internal": 500,
    "source_error": 502,
    "unavailable": 503,
    "source_timeout": 504,
}


class AgnesError(Exception):
    """Base of every expected Agnes failure."""

    code: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = dict(details or {})
        if code is not None:
            self.code = code

    @property
    def status(self) -> int:
        return STATUS_BY_CODE.get(self.code, 500)

    def envelope(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message,
            "hint": self.hint,
            "details": self.details,
        }

    def __str__(self) -> str:
        return self.message


class BadRequest(AgnesError):
    code = "bad_request"


class ValidationError(AgnesError):
    """A request body or parameter failed validation; ``details.field`` names it."""

    code = "validation_error"

    def __init__(self, field: str, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message, hint=hint, details={"field": field, **details})
        self.field = field


class NotRemote(AgnesError):
    """An operation that only applies to remote tables was asked of another kind."""

    code = "not_remote"


class Unauthorized(AgnesError):
    code = "unauthorized"


class Forbidden(AgnesError):
    code = "forbidden"


class NotFound(AgnesError):
    code = "not_found"


class Conflict(AgnesError):
    code = "conflict"


class AlreadyExists(AgnesError):
    code = "already_exists"


class AlreadyRunning(AgnesError):
    code = "already_running"


class SourceError(AgnesError):
    """A source failed (connection, query, permissions). Never includes secrets."""

    code = "source_error"


class SourceTimeout(SourceError):
    code = "source_timeout"


class ScanTimeout(AgnesError):
    """A scan ran past its time limit and was stopped in the source."""

    code = "scan_timeout"


class ValueTooLarge(AgnesError):
    """A scan would have built or sent a value (or row) above the server's limit."""

    code = "value_too_large"


class ResourcesExceeded(AgnesError):
    """A scan needed more memory than the server gives one scan; it was stopped."""

    code = "resources_exceeded"


class ScanCancelled(AgnesError):
    """A scan was stopped before it finished (the server is stopping, or the scan was cancelled)."""

    code = "scan_cancelled"


class StoreVersionError(AgnesError):
    """The state store was written by a newer Agnes; it is refused and left untouched."""

    code = "internal"


def from_envelope(envelope: dict[str, Any], status: int | None = None) -> AgnesError:
    """Rebuild the domain error an API answered with (used by API clients such as the CLI)."""
    code = str(envelope.get("error") or ("not_found" if status == 404 else "internal"))
    cls = next((c for c in _all_subclasses(AgnesError) if c.code == code), AgnesError)
    err = cls.__new__(cls)
    AgnesError.__init__(err, str(envelope.get("message") or f"{status} error"), hint=envelope.get("hint"),
                        details=envelope.get("details") or {}, code=code)
    return err


def _all_subclasses(cls: type[AgnesError]) -> list[type[AgnesError]]:
    out: list[type[AgnesError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out
