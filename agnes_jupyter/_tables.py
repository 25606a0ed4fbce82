"""Agnes tables as ibis expressions, and SQL on the workspace DuckDB (downloading the local tables it names)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._client import current as _client
from ._params import bind_params
from ._workspace import Workspace, workspace
from .errors import NotFound, ValidationError

if TYPE_CHECKING:
    import ibis.expr.types as ir



def _catalog_entry(table_id: str) -> dict[str, Any]:
    entries = [t for t in _client().get("catalog", search=table_id)["tables"] if t["id"] == table_id]
    if not entries:
        raise unknown_table(table_id)
    return dict(entries[0])


def unknown_table(table_id: str) -> NotFound:
    """``NotFound`` for a table id, suggesting the closest ids *this user may read* (the catalog
    lists only those, so a suggestion never names a table the user cannot see)."""
    import difflib

    ids = [t["id"] for t in _client().get("catalog")["tables"]]
    close = difflib.get_close_matches(str(table_id), ids, n=3, cutoff=0.6)
    message = f"no table {table_id!r} you may read"
    if close:
        message += " — did you mean " + " or ".join(repr(c) for c in close) + "?"
    return NotFound(message, hint="agnes.catalog() lists the tables you may use.",
                    details={"suggestions": close})


def table(table_id: str) -> ir.Table:
    """An ibis table bound to the kernel's Agnes backend. Local (and materialized) tables read the
    workspace DuckDB, downloading the table on first use; remote tables run through the gate when
    executed (``execute()``, ``to_pandas()``, ``to_pyarrow()``, ...) and can be joined with local ones."""
    entry = _catalog_entry(table_id)
    ws = workspace()
    if entry["query_mode"] == "remote":
        from ._types import ibis_dtype

        schema = _client().get(f"tables/{quote(table_id, safe='')}/schema")
        columns = {c["name"]: ibis_dtype(c) for c in schema["columns"]}
        return ws.con.remote_table(table_id, columns, source=entry["source"], flavor=schema["sql_flavor"])
    ensure_local(table_id, ws)
    return ws.con.table(table_id)


def ensure_local(table_id: str, ws: Workspace) -> Path:
    """Download a local table into ``data/_shared`` if missing or changed (see :mod:`._download`)."""
    from ._download import ensure_local as _ensure_local

    return _ensure_local(_client(), ws, table_id)


def sql(query: str, params: dict[str, Any] | None = None) -> ir.Table:
    """Run SQL on the workspace DuckDB (synced tables and snapshots by name); an ibis table.
    Local tables it names that are not in the workspace yet are downloaded first. ``params``
    fill ``:name`` placeholders as typed literals (never pasted as text)."""
    import duckdb

    from .errors import from_duckdb

    if not isinstance(query, str) or not query.strip():
        raise ValidationError("the query is empty", hint='e.g. agnes.sql("SELECT * FROM orders LIMIT 5")')
    if params:
        query = bind_params(query, params, "duckdb")
    ws = workspace()
    _ensure_tables_of(query, ws)
    con = ws.con
    try:
        statements = con.con.extract_statements(query)  # syntax errors at their own position
    except duckdb.Error as exc:
        raise from_duckdb(exc, query) from None
    if len(statements) != 1:
        raise ValidationError(f"agnes.sql runs one query; this text has {len(statements)} statements",
                              hint="Run them one at a time.")
    try:
        return con.sql(query)
    except duckdb.Error as exc:
        raise from_duckdb(exc, query) from None


def _ensure_tables_of(query: str, ws: Workspace) -> None:
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(query, read="duckdb")
    except sqlglot.errors.ParseError:
        return  # DuckDB says what is wrong with it
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    present = set(ws.shared_tables()) | set(ws.snapshot_names())
    for name in sorted({t.name for t in tree.find_all(exp.Table)
                        if t.name and not t.db and t.name not in ctes and t.name not in present}):
        try:
            entry = _catalog_entry(name)
        except NotFound:
            continue  # not an Agnes table: DuckDB reports it if it is missing
        if entry["query_mode"] != "remote":
            ensure_local(name, ws)
