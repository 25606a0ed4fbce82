"""Identifier validation: every name that reaches SQL or a path is checked here first."""

from __future__ import annotations

import re
import unicodedata

from .errors import ValidationError

#: Registered table ids, source names, group names.
TABLE_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Physical names in a source: dataset/schema/folder and table/file names.
PHYSICAL_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
#: Names of environment variables that hold secrets.
ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
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


#: Characters no name or one-line text may hold: controls (C0 and C1), format characters
#: (bidirectional overrides, zero-width), surrogates, private-use and unassigned code points,
#: line and paragraph separators.
_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Bidirectional embeddings, overrides and isolates: they make text read differently from what it holds.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _first_bad(value: str, *, multiline: bool) -> tuple[int, str] | None:
    for i, ch in enumerate(value):
        cat = unicodedata.category(ch)
        if ch in _BIDI_CONTROLS or cat in ("Cs", "Zl", "Zp") or (cat == "Cc" and not (multiline and ch in "\n\r\t")):
            return i, ch
        if not multiline and cat in _NOT_IN_NAMES and ch != "\u200d":  # ZWJ joins emoji
            return i, ch
    return None


def username(value: object, field: str = "username") -> str:
    """A username: 1-128 printable characters, no whitespace, slashes or invisible characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise ValidationError(field, f"{field} must be 1 to 128 characters", hint="e.g. ann or ann@example.com")
    for i, ch in enumerate(value):
        if ch.isspace() or ch in "/\\" or unicodedata.category(ch) in _NOT_IN_NAMES:
            raise ValidationError(field, f"{field} may not hold {unicodedata.name(ch, hex(ord(ch)))!s} "
                                  f"(U+{ord(ch):04X}) at character {i}",
                                  hint="Usernames are printable characters without spaces, slashes or control "
                                  "characters.")
    return value


def text(value: object, field: str, limit: int, *, multiline: bool = False) -> str:
    """Free text a person wrote (a title, a description): at most ``limit`` characters, no control
    or bidirectional-override characters; line breaks only where ``multiline``."""
    if not isinstance(value, str):
        raise ValidationError(field, f"{field} must be text", limit=limit)
    if len(value) > limit:
        raise ValidationError(field, f"{field} may be at most {limit} characters (got {len(value)})", limit=limit)
    bad = _first_bad(value, multiline=multiline)
    if bad is not None:
        i, ch = bad
        what = "a line break" if ch in "\n\r\u2028\u2029\x85" else f"U+{ord(ch):04X}"
        raise ValidationError(field, f"{field} may not hold {what} (at character {i})",
                              hint="One line of plain text." if not multiline else "Plain text; line breaks "
                              "are fine, control and direction-override characters are not.", limit=limit)
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
