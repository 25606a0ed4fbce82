"""Identifier validation: every name that reaches SQL or a path is checked here first."""

from __future__ import annotations

import re
import unicodedata

from agnes_core.errors import ValidationError

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


#: Characters no name and no one-line text may hold: C0 and C1 controls (line breaks among them),
#: the soft hyphen, bidirectional marks, embeddings, overrides and isolates (text that reads
#: differently from what it holds), zero-width characters (ZWJ excepted: it joins emoji), line and
#: paragraph separators. One class, written once, used by the server's checks and by openapi.yaml
#: (these patterns are valid in Python and in ECMA-262, JSON Schema's regex dialect).
INVISIBLE = r"\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200c\u200e\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
#: The same, with tab, line feed and carriage return allowed (multi-line text).
INVISIBLE_BUT_LINES = INVISIBLE.replace(r"\x00-\x1f", r"\x00-\x08\x0b\x0c\x0e-\x1f")
#: Whitespace as Python's str.isspace() sees it, spelled out: regex engines disagree on what \s holds
#: (NEL, U+0085, is whitespace to Python and not to every generator of test data).
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Text that is not blank: at least one character that is not whitespace.
NOT_BLANK_PATTERN = r"[^" + WHITESPACE + r"]"
USERNAME_PATTERN = r"^[^" + WHITESPACE + r"/\\" + INVISIBLE + r"]{1,128}$"
LINE_TEXT_PATTERN = r"^[^" + INVISIBLE + r"]*$"
TEXT_PATTERN = r"^[^" + INVISIBLE_BUT_LINES + r"]*$"
USERNAME_RE = re.compile(USERNAME_PATTERN)
_LINE_TEXT_RE = re.compile(LINE_TEXT_PATTERN)
_TEXT_RE = re.compile(TEXT_PATTERN)
_INVISIBLE_RE = re.compile(r"[\s/\\" + INVISIBLE + r"]")


def username(value: object, field: str = "username") -> str:
    """A username: 1-128 characters, no whitespace, slashes or invisible characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise ValidationError(field, f"{field} must be 1 to 128 characters", hint="e.g. ann or ann@example.com")
    _no_surrogates(value, field)
    if not USERNAME_RE.match(value):
        bad = _INVISIBLE_RE.search(value)
        at = bad.start() if bad else 0
        ch = value[at]
        name = unicodedata.name(ch, "a control character").lower()
        raise ValidationError(field, f"{field} may not hold {name} (U+{ord(ch):04X}) at character {at}",
                              hint="Usernames are printable characters without spaces, slashes or control "
                              "characters.")
    return value


def text(value: object, field: str, limit: int, *, multiline: bool = False) -> str:
    """Free text a person wrote (a title, a description): at most ``limit`` characters, no control,
    bidirectional or zero-width characters; line breaks only where ``multiline``."""
    if not isinstance(value, str):
        raise ValidationError(field, f"{field} must be text", limit=limit)
    if len(value) > limit:
        raise ValidationError(field, f"{field} may be at most {limit} characters (got {len(value)})", limit=limit)
    _no_surrogates(value, field)
    if not (_TEXT_RE if multiline else _LINE_TEXT_RE).match(value):
        allowed = "\t\n\r" if multiline else ""
        at, ch = next((i, c) for i, c in enumerate(value)
                      if c not in allowed and re.match(r"[" + INVISIBLE + r"]", c))
        what = "a line break" if ch in "\n\r\u2028\u2029\x85" else f"U+{ord(ch):04X}"
        raise ValidationError(field, f"{field} may not hold {what} (at character {at})",
                              hint="One line of plain text." if not multiline else "Plain text; line breaks "
                              "are fine, control and direction-override characters are not.", limit=limit)
    return value


def _no_surrogates(value: str, field: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(field, f"{field} holds an unpaired surrogate at character {exc.start}") from None


def whole_number(value: object) -> int | None:
    """``value`` as an int when it is a whole number (JSON's 5 and 5.0 alike, as JSON Schema's
    ``integer`` says), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


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
