"""Administration from a notebook (admins only; the server refuses everyone else).

    from agnes_jupyter import admin
    admin.add_source("warehouse", "postgres", secrets={"dsn": "PG_DSN"})
    admin.discover("warehouse")
    admin.register_table("orders", "warehouse", "orders", bucket="sales", schedule="every 6h")
    admin.extract("orders")
    admin.grant("analysts", "orders", requirement="required")
    admin.describe_table("orders", columns={"amount": "Total in EUR, VAT included"})
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from ._client import current as _client
from ._display import badge, human_bytes
from ._records import Records
from .errors import AgnesError


def _q(part: str) -> str:
    return quote(part, safe="")


def _status(value: Any) -> str:
    return badge(str(value or ""), "") if value else ""


# -- sources -------------------------------------------------------------------------------


def sources() -> Records:
    """Configured sources (secrets appear as environment-variable names only)."""
    rows = _client().get("admin/sources")["sources"]
    return Records(rows, ["name", "type", "options", "secrets"], "Sources")


def add_source(name: str, type: str, options: dict[str, Any] | None = None,
               secrets: dict[str, str] | None = None) -> dict[str, Any]:
    """Add a source. ``secrets`` maps a secret to the NAME of a server environment variable."""
    return dict(_client().post("admin/sources", {"name": name, "type": type, "options": options or {},
                                                 "secrets": secrets or {}}))


def update_source(name: str, **fields: Any) -> dict[str, Any]:
    return dict(_client().request("PATCH", f"admin/sources/{_q(name)}", json=fields).json())


def remove_source(name: str) -> None:
    _client().delete(f"admin/sources/{_q(name)}")


def test_source(name: str) -> dict[str, Any]:
    """Check the server can reach the source; raises SourceError saying what failed."""
    return dict(_client().post(f"admin/sources/{_q(name)}/test"))


def discover(source: str) -> Records:
    """What a source holds: tables, views, materialized views and partitioned tables."""
    found = _client().post(f"admin/sources/{_q(source)}/discover")
    rows = [{**t, "columns": len(t["columns"])} for t in found["tables"]]
    return Records(rows, ["bucket", "source_table", "entity_type", "columns", "registered_as"],
                   f"Discovered in {source}")


# -- tables and extracts ------------------------------------------------------------------


def tables() -> Records:
    """Registered tables as stored, with their last extract."""
    rows = [{**t, "last_run": (t.get("last_run") or {}).get("status")} for t in _client().get("admin/tables")["tables"]]
    return Records(rows, ["id", "source", "query_mode", "bucket", "source_table", "schedule", "last_run"],
                   "Registered tables", raw_html={"last_run": _status})


def register_table(id: str, source: str, source_table: str | None = None, *, bucket: str | None = None,
                   query_mode: str = "local", **fields: Any) -> dict[str, Any]:
    """Register a table. ``fields``: description, name, primary_key, folder, schedule, sql, incremental_key."""
    body = {"id": id, "source": source, "query_mode": query_mode, **fields}
    if source_table is not None:
        body["source_table"] = source_table
    if bucket is not None:
        body["bucket"] = bucket
    return dict(_client().post("admin/tables", body))


def update_table(id: str, **fields: Any) -> dict[str, Any]:
    return dict(_client().request("PATCH", f"admin/tables/{_q(id)}", json=fields).json())


def remove_table(id: str) -> None:
    _client().delete(f"admin/tables/{_q(id)}")


def describe_table(id: str, description: str | None = None, *,
                   columns: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Set the descriptions analysts see (they win over the source's own). ``description``:
    the table's ("" goes back to the source's); ``columns``: column name -> text, changing only
    the columns named (None or "" removes one). Returns the table's descriptions.

        admin.describe_table("orders", "Shop orders", columns={"amount": "Total in EUR, VAT included"})
    """
    body: dict[str, Any] = {}
    if description is not None:
        body["description"] = description
    if columns:
        body["column_descriptions"] = dict(columns)
    client = _client()
    path = f"admin/tables/{_q(id)}"
    table = client.request("PATCH", path, json=body).json() if body else client.get(path)
    return {"id": table["id"], "description": table["description"],
            "column_descriptions": table.get("column_descriptions") or {}}


class Run(dict):
    """An extract run, shown as one line."""

    def _summary(self) -> str:
        if self["status"] == "succeeded":
            return (f"extract of {self['table_id']} succeeded: {self['rows']:,} rows, "
                    f"{human_bytes(self['size_bytes'])}, {self['rows_read']:,} read from the source")
        if self["status"] == "failed":
            return f"extract of {self['table_id']} failed: {self['error']}"
        return f"extract of {self['table_id']} is running ({self['rows_read'] or 0:,} rows so far)"

    def __repr__(self) -> str:
        return self._summary()

    def _repr_html_(self) -> str:
        from ._display import esc

        return f"<p>{badge(self['status'])} {esc(self._summary())}</p>"


def extract(table_id: str, wait: bool = True, progress: bool = True) -> Run:
    """Extract a local or materialized table now; with ``wait`` show progress until it ends."""
    client = _client()
    run = Run(client.post(f"admin/tables/{_q(table_id)}/extract"))
    if not wait:
        return run
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc=f"extract {table_id}", unit=" rows", unit_scale=True, unit_divisor=1000)
    try:
        while run["status"] == "running":
            time.sleep(0.3)
            run = Run(client.get(f"admin/tables/{_q(table_id)}/runs/{run['run_id']}"))
            if bar is not None and run["rows_read"]:
                bar.update(run["rows_read"] - bar.n)
        if bar is not None and run["rows_read"] is not None:
            bar.total = run["rows_read"]
            bar.update(run["rows_read"] - bar.n)
    finally:
        if bar is not None:
            bar.close()
    return run


def runs(table_id: str) -> Records:
    """Extract history with schema changes and errors."""
    history = _client().get(f"admin/tables/{_q(table_id)}/runs")
    return Records(history["runs"], ["run_id", "status", "trigger", "started_at", "rows", "duration_ms",
                                     "schema_changes", "error"], f"Runs of {table_id}", raw_html={"status": _status})


# -- access --------------------------------------------------------------------------------


def users() -> Records:
    return Records(_client().get("admin/users")["users"], ["username", "display_name", "is_active", "groups"], "Users")


def add_user(username: str, display_name: str | None = None) -> dict[str, Any]:
    return dict(_client().post("admin/users", {"username": username, "display_name": display_name}))


def deactivate_user(username: str) -> dict[str, Any]:
    return dict(_client().request("PATCH", f"admin/users/{_q(username)}", json={"is_active": False}).json())


def activate_user(username: str) -> dict[str, Any]:
    return dict(_client().request("PATCH", f"admin/users/{_q(username)}", json={"is_active": True}).json())


def remove_user(username: str) -> None:
    """Delete a user, with their memberships and tokens (their audit entries stay)."""
    _client().delete(f"admin/users/{_q(username)}")


def issue_token(username: str, name: str, expires_in_days: int | None = 90) -> dict[str, Any]:
    """A personal access token for ``username``; its value is in the result only (store it now)."""
    return dict(_client().post(f"admin/users/{_q(username)}/tokens",
                               {"name": name, "expires_in_days": expires_in_days}))


def groups() -> Records:
    return Records(_client().get("admin/groups")["groups"], ["name", "members", "description"], "Groups")


def add_group(name: str, description: str = "") -> dict[str, Any]:
    return dict(_client().post("admin/groups", {"name": name, "description": description}))


def remove_group(name: str) -> None:
    """Delete a group, with its memberships and grants."""
    _client().delete(f"admin/groups/{_q(name)}")


def add_member(group: str, username: str) -> dict[str, Any]:
    return dict(_client().post(f"admin/groups/{_q(group)}/members", {"username": username}))


def remove_member(group: str, username: str) -> None:
    _client().delete(f"admin/groups/{_q(group)}/members/{_q(username)}")


def grant(group: str, table: str, requirement: str = "available") -> dict[str, Any]:
    """Grant a table to a group (``required`` puts it in every member's stack)."""
    return dict(_client().post("admin/grants", {"group": group, "resource_type": "table", "resource_id": table,
                                                "requirement": requirement}))


def grants(group: str | None = None, table: str | None = None) -> Records:
    rows = _client().get("admin/grants", group=group, resource_id=table)["grants"]
    return Records(rows, ["id", "group", "resource_type", "resource_id", "requirement"], "Grants")


def revoke(grant_id: str) -> None:
    """Delete a grant; it takes effect on the next request."""
    _client().delete(f"admin/grants/{_q(grant_id)}")


def audit(resource: str | None = None, user: str | None = None, action: str | None = None,
          limit: int = 50, *, since: Any = None, until: Any = None, offset: int = 0) -> Records:
    """The audit log, newest first. ``action`` ending in ``.`` or ``*`` is a prefix (``"table."``);
    ``since``/``until`` take a datetime or an ISO 8601 text; ``offset`` pages on (the next page's
    offset is ``records.next_offset``, None on the last page)."""
    def when(value: Any) -> str | None:
        return value.isoformat() if hasattr(value, "isoformat") else value

    answer = _client().get("admin/audit", resource=resource, user=user, action=action, limit=limit,
                           since=when(since), until=when(until), offset=offset or None)
    records = Records(answer["entries"], ["occurred_at", "actor", "action", "resource", "outcome"], "Audit log")
    records.next_offset = answer.get("next_offset")
    return records


# -- batches (the admin console's bulk register and access matrix) ---------------------------

#: The fields of a registration (POST admin/tables); other keys of a row are left out.
_TABLE_FIELDS = ("id", "name", "description", "source", "bucket", "source_table", "query_mode", "primary_key",
                 "folder", "schedule", "sql", "incremental_key", "column_descriptions")


def _rows_of(rows: Any) -> list[dict[str, Any]]:
    """Dicts from a list of dicts, Records, or a DataFrame (NaN read as missing)."""
    if hasattr(rows, "to_dict") and not isinstance(rows, dict):
        rows = rows.to_dict("records")
    out = []
    for row in rows:
        out.append({k: (None if isinstance(v, float) and v != v else v) for k, v in dict(row).items()})
    return out


def _table_id_for(source_table: str) -> str:
    """A valid table id from a source's table name (letters, digits and _, not starting with a digit)."""
    import re

    tid = re.sub(r"[^A-Za-z0-9_]", "_", source_table)[:64] or "_"
    return tid if not tid[0].isdigit() else ("_" + tid)[:64]


def register_tables(rows: Any, source: str | None = None, *, query_mode: str = "local",
                    skip_registered: bool = True, **defaults: Any) -> Records:
    """Register many tables in one request (all or nothing): ``rows`` are dicts, Records or a
    DataFrame, e.g. ``admin.discover("warehouse")`` or a filtered part of it. A row without ``id``
    gets one from its ``source_table``; ``source``, ``query_mode`` and ``defaults`` (schedule,
    folder, primary_key...) fill what a row leaves out. Discovered rows already registered are
    skipped unless ``skip_registered=False``. A bad row refuses the batch, naming the row."""
    bodies = []
    for row in _rows_of(rows):
        if skip_registered and row.get("registered_as"):
            continue
        body = {k: v for k, v in {**defaults, **row}.items() if k in _TABLE_FIELDS and v is not None}
        if source is not None:
            body.setdefault("source", source)
        body.setdefault("query_mode", query_mode)
        if "id" not in body and isinstance(body.get("source_table"), str):
            body["id"] = _table_id_for(body["source_table"])
        bodies.append(body)
    if not bodies:
        return Records([], ["id", "source", "query_mode", "bucket", "source_table"], "Registered tables")
    registered = _client().post("admin/tables:batch", {"tables": bodies})["tables"]
    return Records(registered, ["id", "source", "query_mode", "bucket", "source_table", "schedule"],
                   "Registered tables")


def apply_grants(changes: Any, dry_run: bool = False) -> Records:
    """Apply grant changes in one request (all or nothing), or only preview them (``dry_run``):
    each change is ``{group, resource_id, resource_type="table", requirement="available"}``, with
    ``requirement=None`` for no grant (revoked if there is one). Returns what each change does
    (before, after, action); every bad change is listed in the error's ``details["errors"]``."""
    body = [{"group": c.get("group"), "resource_type": c.get("resource_type") or "table",
             "resource_id": c.get("resource_id"), "requirement": c.get("requirement", "available")}
            for c in _rows_of(changes)]
    result = _client().post("admin/grants:batch", {"changes": body, "dry_run": bool(dry_run)})
    title = "Grant changes (preview: nothing applied)" if result["dry_run"] else (
        "Grant changes applied" if result["applied"] else "Grant changes (nothing to change)")
    return Records(result["changes"], ["group", "resource_type", "resource_id", "before", "after", "action"], title,
                   key="resource_id")


__all__ = [
    "AgnesError", "Records", "Run", "activate_user", "add_group", "add_member", "add_source", "add_user",
    "apply_grants", "audit", "console", "deactivate_user", "discover", "extract", "grant", "grants", "groups",
    "issue_token", "register_table", "register_tables", "remove_member", "remove_source", "remove_table", "revoke",
    "runs", "sources", "tables", "test_source", "update_source", "update_table", "users",
]


def console(screen: str | None = None) -> Any:
    """The admin console in a cell (the same screens as JupyterLab's Agnes Admin view); ``screen`` opens one of
    sources, tables, access, curation, tokens, settings, audit, metadata."""
    from ._console import console as _console

    return _console(screen)
