"""One small hierarchy of domain errors and the one table that maps them to HTTP.

Every error carries a stable ``code``, a one-line ``message``, a ``hint`` saying
what to do, and structured ``details``. The server turns them into the error
envelope ``{"error", "message", "hint", "details"}``; the kernel library turns
the envelope back into exceptions of the same names.
"""

from __future__ import annotations

from typing import Any


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


class NotSupported(BadRequest):
    """A connector was asked for something its source cannot do (a capability it does not declare)."""


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


class SnapshotExists(AgnesError):
    """A snapshot of that name is already in the workspace (replace it with ``force``)."""

    code = "snapshot_exists"


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


class NotAvailable(AgnesError):
    """Something exists but is not offered to this user (a package not granted as available)."""

    code = "not_available"


class MethodNotAllowed(AgnesError):
    code = "method_not_allowed"


class PayloadTooLarge(AgnesError):
    code = "payload_too_large"


class RangeNotSatisfiable(AgnesError):
    code = "range_not_satisfiable"


class Unavailable(AgnesError):
    """The server cannot do it now (starting or stopping)."""

    code = "unavailable"


class QuotaExceeded(AgnesError):
    """A limit per user or per server (the daily scan budget, concurrent scans) is reached."""

    code = "quota_exceeded"


class ConfirmationRequired(AgnesError):
    """The scan is above the confirmation threshold: repeat it with ``confirm``."""

    code = "confirmation_required"


class ScanTooLarge(AgnesError):
    """The scan is above the per-scan cap."""

    code = "scan_too_large"


class RecipeParameterError(AgnesError):
    """A value given for a recipe parameter is missing, unknown or of the wrong type."""

    code = "recipe_parameter"


class RequiredItem(AgnesError):
    """Unsubscribing from something granted as ``required``."""

    code = "required_item"


#: Why the scan validator refuses a query (``details.kind`` of :class:`Rejected`).
KINDS = ("parse_error", "multi_statement", "ddl_or_dml", "disallowed_node", "unregistered_table",
         "mixed_sources", "table_function", "unknown_function", "unknown_column", "query_too_long",
         "query_too_complex", "value_too_large")


class Rejected(AgnesError):
    """400 ``validator_rejected``: ``details.kind`` says why, ``details.fragment`` shows where."""

    code = "validator_rejected"

    def __init__(self, kind: str, message: str, *, fragment: str | None = None, hint: str | None = None,
                 **details: Any) -> None:
        assert kind in KINDS, kind
        super().__init__(message, hint=hint or _HINTS.get(kind),
                         details={"kind": kind, "fragment": fragment, **details})
        self.kind = kind


_HINTS = {
    "parse_error": "Check the SQL syntax for the table's dialect (see agnes.schema(id)['sql_flavor']).",
    "multi_statement": "Send one SELECT statement at a time.",
    "ddl_or_dml": "Scans only read: use SELECT (CTEs and subqueries are fine).",
    "disallowed_node": "Scans read registered tables with plain SQL; this construct is not allowed.",
    "unregistered_table": "Use table ids from agnes.catalog(); an admin registers tables and grants them.",
    "mixed_sources": "A scan reads one source; snapshot each part and join the snapshots locally.",
    "table_function": "Scans read registered tables only; files and other databases are not reachable.",
    "unknown_function": "Use standard SQL functions; ask an admin if you need this one allow-listed.",
    "unknown_column": "agnes.schema(id) lists the columns of a table.",
    "query_too_long": "Send a shorter query: the columns you need, ranges or IN lists in WHERE, or snapshot in steps.",
    "query_too_complex": "Simplify it: fewer nesting levels, IN (...) instead of long OR chains, CTEs for reuse.",
    "value_too_large": "Build smaller values: literal counts in repeat()/lpad(), fewer copies concatenated.",
}

#: The one table: every error code, the class that raises it and its HTTP status. Caller faults
#: are 4xx. The kernel library mirrors the codes and classes (tests/core/test_boundaries.py).
ERRORS: dict[str, tuple[type[AgnesError], int]] = {
    "bad_request": (BadRequest, 400),
    "validation_error": (ValidationError, 400),
    "validator_rejected": (Rejected, 400),
    "scan_too_large": (ScanTooLarge, 400),
    "required_item": (RequiredItem, 400),
    "not_available": (NotAvailable, 400),
    "recipe_parameter": (RecipeParameterError, 400),
    "scan_timeout": (ScanTimeout, 400),
    "value_too_large": (ValueTooLarge, 400),
    "resources_exceeded": (ResourcesExceeded, 400),
    "unauthorized": (Unauthorized, 401),
    "forbidden": (Forbidden, 403),
    "not_found": (NotFound, 404),
    "method_not_allowed": (MethodNotAllowed, 405),
    "not_remote": (NotRemote, 409),
    "conflict": (Conflict, 409),
    "already_exists": (AlreadyExists, 409),
    "already_running": (AlreadyRunning, 409),
    "snapshot_exists": (SnapshotExists, 409),
    "confirmation_required": (ConfirmationRequired, 409),
    "scan_cancelled": (ScanCancelled, 409),
    "payload_too_large": (PayloadTooLarge, 413),
    "range_not_satisfiable": (RangeNotSatisfiable, 416),
    "quota_exceeded": (QuotaExceeded, 429),
    "internal": (AgnesError, 500),
    "source_error": (SourceError, 502),
    "unavailable": (Unavailable, 503),
    "source_timeout": (SourceTimeout, 504),
}
#: code -> HTTP status, from :data:`ERRORS`.
STATUS_BY_CODE: dict[str, int] = {code: status for code, (_, status) in ERRORS.items()}


def from_envelope(envelope: dict[str, Any], status: int | None = None) -> AgnesError:
    """Rebuild the domain error an API answered with (used by API clients such as the CLI)."""
    code = str(envelope.get("error") or ("not_found" if status == 404 else "internal"))
    cls = ERRORS.get(code, (AgnesError, 500))[0]
    err = cls.__new__(cls)
    AgnesError.__init__(err, str(envelope.get("message") or f"{status} error"), hint=envelope.get("hint"),
                        details=envelope.get("details") or {}, code=code)
    return err
