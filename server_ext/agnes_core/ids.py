"""Identifier validation: every name that reaches SQL or a path is checked here first."""

from __future__ import annotations

import re

from .errors import ValidationError

#: Registered table ids, source names, group names.
TABLE_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Physical names in a source: dataset/schema/folder and table/file names.
PHYSICAL_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
#: Names of environment variables that hold secrets.
ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: Usernames from identity providers are free-form but bounded and printable.
USERNAME_RE = re.compile(r"^[^\s/\\\x00-\x1f]{1,128}$")
#: Group names: readable, no control characters or slashes.
GROUP_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]{0,63}$")


def check(regex: re.Pattern[str], value: object, field: str, what: str) -> str:
    """Return ``value`` when it matches ``regex``, else raise a ValidationError naming ``field``."""
    if not isinstance(value, str) or not regex.match(value):
        raise ValidationError(
            field,
            f"{field} must be {what}; got {value!r}",
            hint=f"{field} must match {regex.pattern}",
        )
    return value


def table_id(value: object, field: str = "id") -> str:
    return check(TABLE_ID_RE, value, field, "a letter or _ followed by up to 63 letters, digits or _")


def physical_name(value: object, field: str) -> str:
    return check(PHYSICAL_NAME_RE, value, field, "up to 128 letters, digits, '_', '.' or '-'")


def env_var(value: object, field: str) -> str:
    return check(ENV_VAR_RE, value, field, "the name of an environment variable (not its value)")


def quote_ident(name: str) -> str:
    """Double-quote an identifier that already passed validation (ANSI/DuckDB/PostgreSQL)."""
    if not (TABLE_ID_RE.match(name) or PHYSICAL_NAME_RE.match(name)):
        raise ValidationError("identifier", f"refusing to quote unsafe identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'
