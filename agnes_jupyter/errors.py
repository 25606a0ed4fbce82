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
        """The message, and the hint on a second line: plain scripts show both."""
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message

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


class SnapshotExists(Conflict):
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


# -- the server's codes, one class each (the same names as the server's; tests/core/test_boundaries.py)


class BadRequest(ValidationError):
    code = "bad_request"


class Rejected(ValidationError):
    """The scan validator refused the query; ``details['kind']`` says why."""

    code = "validator_rejected"


class NotRemote(ValidationError):
    """An operation for remote tables was asked of another kind (or the other way round)."""

    code = "not_remote"


class RequiredItem(ValidationError):
    """Unsubscribing from something granted to your group as required."""

    code = "required_item"


class NotAvailable(ValidationError):
    code = "not_available"


class RecipeParameterError(ValidationError):
    code = "recipe_parameter"


class MethodNotAllowed(ValidationError):
    code = "method_not_allowed"


class RangeNotSatisfiable(ValidationError):
    code = "range_not_satisfiable"


class AlreadyExists(Conflict):
    code = "already_exists"


class AlreadyRunning(Conflict):
    code = "already_running"


class SourceTimeout(SourceError):
    code = "source_timeout"


class Unavailable(AgnesError):
    """The server cannot do it now (it is starting or stopping): try again shortly."""

    code = "unavailable"


class QueryError(AgnesError):
    """SQL the workspace DuckDB could not run (a typo, a missing table or column): DuckDB's own
    message and its "Did you mean" kept, with the line and column of the error."""

    code = "query_error"


class UsageError(AgnesError):
    """A ``%agnes`` magic called with arguments it does not take."""

    code = "usage_error"


UNAUTHORIZED_HINT = ("In JupyterLab the kernel gets a token by itself: restart the kernel. Elsewhere set AGNES_TOKEN "
                     "to a personal access token (an admin issues one with 'jupyter agnes user token NAME') "
                     "or pass agnes.connect(url, token=...).")

#: The server's error table, mirrored: code -> the exception the kernel raises.
_BY_CODE: dict[str, type[AgnesError]] = {
    "bad_request": BadRequest,
    "validation_error": ValidationError,
    "validator_rejected": Rejected,
    "scan_too_large": ScanTooLarge,
    "required_item": RequiredItem,
    "not_available": NotAvailable,
    "recipe_parameter": RecipeParameterError,
    "scan_timeout": ScanTimeout,
    "value_too_large": ValueTooLarge,
    "resources_exceeded": ResourcesExceeded,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "method_not_allowed": MethodNotAllowed,
    "not_remote": NotRemote,
    "conflict": Conflict,
    "already_exists": AlreadyExists,
    "already_running": AlreadyRunning,
    "snapshot_exists": SnapshotExists,
    "confirmation_required": ConfirmationRequired,
    "scan_cancelled": ScanCancelled,
    "payload_too_large": PayloadTooLarge,
    "range_not_satisfiable": RangeNotSatisfiable,
    "quota_exceeded": QuotaExceeded,
    "internal": AgnesError,
    "source_error": SourceError,
    "unavailable": Unavailable,
    "source_timeout": SourceTimeout,
    # the kernel's own
    "server_not_found": ServerNotFound,
    "query_error": QueryError,
    "usage_error": UsageError,
}


def from_envelope(envelope: dict[str, Any], status: int | None = None) -> AgnesError:
    code = str(envelope.get("error") or "internal")
    cls = _BY_CODE.get(code, AgnesError)
    message = str(envelope.get("message") or code)
    details = envelope.get("details") or {}
    if isinstance(details, dict) and details.get("line") is not None and "line " not in message:
        message += f" (line {details['line']}, column {details.get('col')})"
    hint = envelope.get("hint")
    if cls is Unauthorized:  # the server's hint speaks of HTTP headers; a notebook user needs this
        hint = UNAUTHORIZED_HINT
    return cls(
        message,
        hint=hint,
        details=envelope.get("details") or {},
        status=status,
        code=code,
    )


def from_duckdb(exc: BaseException, query: str | None = None, generated: bool = False) -> QueryError:
    """A DuckDB error as one line and a hint: the first line of its message, its "Did you mean"
    or candidate columns kept, and the line and column of the error in the user's own SQL (ibis's
    internal ``DESCRIBE`` prefix accounted for; none when the SQL was generated from an expression)."""
    import re

    text = str(exc)
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    suggestion = next((line.strip() for line in lines[1:]
                       if line.strip().lower().startswith(("did you mean", "candidate bindings"))), "")
    where = ""
    for i, line in enumerate(lines):
        m = re.match(r"LINE (\d+): ?(.*)$", line)
        if generated or not m or i + 1 >= len(lines) or lines[i + 1].strip() != "^":
            continue
        number, shown = int(m.group(1)), m.group(2)
        caret = lines[i + 1].index("^") - (len(line) - len(shown))
        source = (query or "").splitlines()
        described = bool(shown.startswith("DESCRIBE ") or shown.startswith("...")) and query is not None
        if query is not None and number <= len(source):
            own = source[number - 1]
            if number == 1 and not query.lstrip().upper().startswith("DESCRIBE"):
                own = "DESCRIBE " + own if shown.startswith("DESCRIBE ") else own
            visible = shown[3:] if shown.startswith("...") else shown
            skipped = 3 if shown.startswith("...") else 0
            at = own.find(visible.rstrip(".")[:60]) if visible else -1
            if at >= 0:
                column = at + caret - skipped
                if own.startswith("DESCRIBE ") and not source[number - 1].startswith("DESCRIBE "):
                    column -= len("DESCRIBE ")
                where = f" (line {number}, column {max(column, 0) + 1})"
        elif not described:
            where = f" (line {number}, column {max(caret, 0) + 1})"
        break
    message = re.sub(r"\s+", " ", first).strip() + where
    if suggestion:
        message += f" — {suggestion}"
    if "Catalog Error" in first or "does not exist" in first:
        hint = "agnes.catalog() lists the tables you may use; agnes.snapshots() your snapshots."
    elif generated:
        hint = "DuckDB could not run this expression (check the columns' types in the operations above)."
    else:
        hint = "Check the SQL near that position (DuckDB dialect: workspace tables and snapshots by name)."
    return QueryError(message, hint=hint, details={"duckdb": type(exc).__name__})
