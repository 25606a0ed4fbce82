"""What analysts never see: a source's own names for its tables (schemas, relations, files).

Admins see a source's messages as they are (secrets redacted); analysts see them with every
physical name replaced by the table's id, file paths taken out, and the names of relations they
were not told about removed — so an error cannot tell them what else the source holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from agnes_core.errors import AgnesError

if TYPE_CHECKING:
    from agnes_core.registry import Table

#: Details that name a source's internals.
PHYSICAL_DETAILS = frozenset({"source", "bucket", "source_table", "path", "files", "relation"})
_PATH_RE = re.compile(r"(?<![\w.:])(?:/[\w.\-=*]+){2,}/?")
_NAMED_RELATION_RE = re.compile(
    r'\b(relation|table|view|materialized view|sequence|schema|function|index)\s+"([^"]+)"', re.I)


def physical_forms(tables: Iterable[Table], default_schema: str | Callable[[Table], str]) -> list[tuple[str, str]]:
    """(how a source writes a table's name, how an analyst may see it), longest first."""
    forms: dict[str, str] = {}
    for t in tables:
        if t.query_mode == "materialized" or not t.source_table:
            continue
        schema = t.bucket or (default_schema(t) if callable(default_schema) else default_schema)
        forms[f'"{schema}"."{t.source_table}"'] = f'"{t.id}"'
        forms[f"{schema}.{t.source_table}"] = t.id
        forms[f'"{t.source_table}"'] = f'"{t.id}"'
    return sorted(forms.items(), key=lambda kv: len(kv[0]), reverse=True)


def analyst_text(text: str, tables: Iterable[Table], default_schema: str | Callable[[Table], str]) -> str:
    """``text`` with physical names replaced by ids, paths taken out, other relations unnamed."""
    tables = list(tables)
    for form, shown in physical_forms(tables, default_schema):
        text = text.replace(form, shown)
    text = _PATH_RE.sub("<path>", text)
    ids = {t.id for t in tables}

    def named(m: re.Match[str]) -> str:
        return m.group(0) if m.group(2) in ids else f'{m.group(1)} "…"'

    return _NAMED_RELATION_RE.sub(named, text)


def for_analyst(exc: AgnesError, tables: Iterable[Table], default_schema: str | Callable[[Table], str]) -> AgnesError:
    """``exc`` as an analyst may see it: same class and code, its message scrubbed, no physical details."""
    message = analyst_text(exc.message, tables, default_schema)
    out = type(exc).__new__(type(exc))
    out.__dict__.update(exc.__dict__)
    Exception.__init__(out, message)
    out.message = message
    out.details = {k: v for k, v in exc.details.items() if k not in PHYSICAL_DETAILS}
    return out
