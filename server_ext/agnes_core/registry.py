"""The registry: configured sources and the tables analysts may use."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from agnes_core.connectors import Capability, connector_class
from agnes_core.errors import AgnesError, AlreadyExists, Conflict, NotFound, ValidationError
from agnes_core.events import Change, ChangeHub
from agnes_core.extract.schedule import parse_schedule
from agnes_core.gate.limits import validate_source_limits
from agnes_core.ids import PHYSICAL_NAME_RE, TABLE_ID_RE, check, physical_name, table_id
from agnes_core.store.state import StateStore, dumps, iso, loads, utcnow

QUERY_MODES = ("local", "remote", "materialized")
_MODE_NEEDS = {
    "local": Capability.READ,
    "remote": Capability.REMOTE,
    "materialized": Capability.REMOTE,
}
MAX_DESCRIPTION = 4000
MAX_FOLDER = 128
MAX_COLUMN_DESCRIPTION = 1000
MAX_COLUMN_DESCRIPTIONS = 2000
MAX_COLUMN_NAME = 255
#: The most tables one ``register_tables`` call (``POST admin/tables:batch``) registers.
MAX_BATCH = 5000
#: Fields an admin changes to document a table: changing only these keeps its metadata.
_DESCRIPTIVE = ("description", "column_descriptions")


@dataclass
class Source:
    name: str
    type: str
    options: dict[str, Any]
    secrets: dict[str, str]  # key -> environment variable NAME (never a value)
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "options": self.options,
            "secrets": self.secrets,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass
class Table:
    id: str
    name: str
    description: str
    source: str
    bucket: str | None
    source_table: str
    query_mode: str
    primary_key: list[str]
    folder: str | None
    schedule: str | None
    sql: str | None
    incremental_key: str | None
    created_at: datetime
    updated_at: datetime
    #: Admins' descriptions of columns (column name -> text); they win over the source's.
    column_descriptions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = iso(self.created_at)
        out["updated_at"] = iso(self.updated_at)
        return out


_TABLE_FIELDS = ("id", "name", "description", "source", "bucket", "source_table", "query_mode",
                 "primary_key", "folder", "schedule", "sql", "incremental_key", "column_descriptions")
_SOURCE_FIELDS = ("name", "type", "options", "secrets")


def _reject_unknown(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(unknown[0], f"unknown field {unknown[0]!r}",
                              hint=f"allowed fields: {', '.join(allowed)}")


def column_descriptions(value: Any, field_name: str = "column_descriptions") -> dict[str, str]:
    """An object of column name -> description (admins' text): names of at most 255 printable
    characters, texts of at most 1,000 (line breaks allowed); an empty text or null drops one."""
    from agnes_core.ids import text

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(field_name, f"{field_name} must be an object of column name -> description",
                              hint='e.g. {"amount": "Order total in EUR, VAT included"}')
    if len(value) > MAX_COLUMN_DESCRIPTIONS:
        raise ValidationError(field_name, f"{field_name} may describe at most {MAX_COLUMN_DESCRIPTIONS} columns",
                              limit=MAX_COLUMN_DESCRIPTIONS)
    out: dict[str, str] = {}
    for name, description in value.items():
        if not name or not name.strip():
            raise ValidationError(field_name, f"{field_name} has an empty column name")
        text(name, f"{field_name} column name", MAX_COLUMN_NAME)
        if description is None or description == "":
            continue
        out[name] = text(description, f"{field_name}.{name}", MAX_COLUMN_DESCRIPTION, multiline=True).strip()
    return {k: v for k, v in out.items() if v}


def _optional_text(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(key, f"{key} must be a string")
    if len(value) > limit:
        raise ValidationError(key, f"{key} is {len(value)} characters; the limit is {limit}", limit=limit)
    return value


class Registry:
    """Sources and tables. Reads come from an in-memory snapshot (this process is the store's
    only writer); a write replaces the snapshot with a copy that differs in the one row it
    wrote (read back from the store), so a write costs the same however many tables exist."""

    def __init__(self, store: StateStore, hub: ChangeHub) -> None:
        self.store = store
        self.hub = hub
        self._snapshot: tuple[dict[str, Source], dict[str, Table]] | None = None
        self._generation = 0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the snapshot: the next read loads every row (after writes made behind our back)."""
        with self._lock:
            self._generation += 1
            self._snapshot = None

    def _load(self) -> tuple[dict[str, Source], dict[str, Table]]:
        snapshot = self._snapshot
        if snapshot is not None:
            return snapshot
        generation = self._generation
        sources = {r["name"]: _source(r) for r in self.store.rows("SELECT * FROM sources ORDER BY name")}
        tables = {r["id"]: _table(r) for r in self.store.rows("SELECT * FROM tables ORDER BY id")}
        snapshot = (sources, tables)
        with self._lock:
            if generation == self._generation:
                self._snapshot = snapshot
        return snapshot

    def _reload_source(self, name: str) -> None:
        row = self.store.row("SELECT * FROM sources WHERE name = ?", [name])
        self._replace("source", name, _source(row) if row else None)

    def _reload_table(self, table_id_: str) -> None:
        row = self.store.row("SELECT * FROM tables WHERE id = ?", [table_id_])
        self._replace("table", table_id_, _table(row) if row else None)

    def _replace(self, kind: str, key: str, value: Source | Table | None) -> None:
        """A new snapshot equal to the current one but for one source or table (kept sorted)."""
        with self._lock:
            self._generation += 1  # a load that overlapped this write must not be kept
            if self._snapshot is None:
                return
            sources, tables = self._snapshot
            rows: dict[str, Any] = dict(sources if kind == "source" else tables)
            last = next(reversed(rows), None)
            if value is None:
                rows.pop(key, None)
            else:
                added = key not in rows
                rows[key] = value
                if added and last is not None and last > key:
                    rows = dict(sorted(rows.items()))
            self._snapshot = (rows, tables) if kind == "source" else (sources, rows)

    # -- sources -----------------------------------------------------------------------

    def list_sources(self) -> list[Source]:
        return list(self._load()[0].values())

    def sources_by_name(self) -> dict[str, Source]:
        return self._load()[0]

    def get_source(self, name: str) -> Source:
        source = self._load()[0].get(name)
        if source is None:
            raise NotFound(f"no source named {name!r}", hint="GET admin/sources lists them.",
                           details={"source": name})
        return source

    def _validate_source(self, body: dict[str, Any]) -> tuple[str, str, dict[str, Any], dict[str, str]]:
        _reject_unknown(body, _SOURCE_FIELDS)
        name = check(TABLE_ID_RE, body.get("name"), "name", "a letter or _ then letters, digits or _")
        source_type = body.get("type")
        if not isinstance(source_type, str):
            raise ValidationError("type", "type is required (e.g. 'lake' or 'postgres')")
        cls = connector_class(source_type)
        options = body.get("options") or {}
        secrets = body.get("secrets") or {}
        if not isinstance(options, dict):
            raise ValidationError("options", "options must be an object")
        if not isinstance(secrets, dict):
            raise ValidationError("secrets", "secrets must be an object of environment-variable names")
        if "limits" in options:
            options = {**options, "limits": validate_source_limits(options["limits"])}
        connector = cls(name, options, secrets)  # validates both
        return name, source_type, connector.options, connector.secrets

    def add_source(self, body: dict[str, Any]) -> Source:
        name, source_type, options, secrets = self._validate_source(body)
        now = utcnow()
        with self.store.write() as cur:
            if cur.execute("SELECT 1 FROM sources WHERE name = ?", [name]).fetchone():
                raise AlreadyExists(f"a source named {name!r} already exists",
                                    hint="Use PUT admin/sources/{name} to change it.", details={"source": name})
            cur.execute("INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                        [name, source_type, dumps(options), dumps(secrets), now, now])
        self._reload_source(name)
        self.hub.publish(Change("source", "create"))
        return self.get_source(name)

    def update_source(self, name: str, body: dict[str, Any], *, partial: bool) -> Source:
        current = self.get_source(name)
        merged = ({"name": name, "type": current.type, "options": current.options,
                   "secrets": current.secrets} | body) if partial else {"name": name, **body}
        if merged.get("name") != name:
            raise ValidationError("name", "a source cannot be renamed", hint="Create a new source instead.")
        _, source_type, options, secrets = self._validate_source(merged)
        with self.store.write() as cur:
            cur.execute("UPDATE sources SET type = ?, options = ?, secrets = ?, updated_at = ? WHERE name = ?",
                        [source_type, dumps(options), dumps(secrets), utcnow(), name])
        ids = frozenset(t.id for t in self.list_tables() if t.source == name)
        self._reload_source(name)
        self.hub.publish(Change("source", "update", ids))
        return self.get_source(name)

    def delete_source(self, name: str) -> None:
        self.get_source(name)
        users = [t.id for t in self.list_tables() if t.source == name]
        if users:
            raise Conflict(f"source {name!r} still has {len(users)} registered table(s)",
                           hint="Delete or move its tables first.", details={"tables": users})
        with self.store.write() as cur:
            cur.execute("DELETE FROM sources WHERE name = ?", [name])
        self._reload_source(name)
        self.hub.publish(Change("source", "delete"))

    # -- tables ------------------------------------------------------------------------

    def list_tables(self) -> list[Table]:
        return list(self._load()[1].values())

    def get_table(self, table_id_: str) -> Table:
        table = self._load()[1].get(table_id_)
        if table is None:
            raise NotFound(f"no table {table_id_!r}", hint="The catalog lists the tables you may use.",
                           details={"table": table_id_})
        return table

    def find_table(self, table_id_: str) -> Table | None:
        return self._load()[1].get(table_id_)

    def find_table_any_case(self, name: str) -> Table | None:
        """The one table whose id equals ``name`` ignoring case (None when none or several do)."""
        found = [t for tid, t in self._load()[1].items() if tid.lower() == name.lower()]
        return found[0] if len(found) == 1 else None

    def _validate_table(self, body: dict[str, Any]) -> dict[str, Any]:
        _reject_unknown(body, _TABLE_FIELDS)
        tid = table_id(body.get("id"))
        source_name = body.get("source")
        if not isinstance(source_name, str) or not source_name:
            raise ValidationError("source", "source is required", hint="GET admin/sources lists them.")
        known = self._load()[0].get(source_name)
        if known is None:
            raise NotFound(f"no source {source_name!r}", hint="Create it with POST admin/sources first.",
                           details={"field": "source"})
        row = {"name": known.name, "type": known.type}
        mode = body.get("query_mode", "local")
        if mode not in QUERY_MODES:
            raise ValidationError("query_mode", f"query_mode must be one of {', '.join(QUERY_MODES)}; got {mode!r}")
        cls = connector_class(row["type"])
        if _MODE_NEEDS[mode] not in cls.capabilities:
            supported = ", ".join(sorted(c.value for c in cls.capabilities))
            raise ValidationError("query_mode", f"{row['type']} sources cannot serve {mode} tables",
                                  hint=f"{row['type']} supports: {supported}")
        bucket = body.get("bucket")
        if bucket is not None and bucket != "":
            physical_name(bucket, "bucket")
        else:
            bucket = None
        sql = body.get("sql")
        source_table = body.get("source_table")
        if mode == "materialized":
            if not isinstance(sql, str) or not sql.strip():
                raise ValidationError("sql", "materialized tables need sql: the SELECT to run on the source")
            sql = _one_select(sql, cls.dialect)
            if source_table in (None, ""):
                source_table = tid
        elif sql not in (None, ""):
            raise ValidationError("sql", "sql is only for materialized tables")
        else:
            sql = None
            if source_table in (None, ""):
                source_table = tid  # the source's table of the same name
        physical_name(source_table, "source_table")
        pk = body.get("primary_key")
        if pk is None or pk == "":
            primary_key: list[str] = []
        elif isinstance(pk, str):
            primary_key = [pk]
        elif isinstance(pk, list) and all(isinstance(c, str) and c for c in pk):
            primary_key = list(pk)
        else:
            raise ValidationError("primary_key", "primary_key must be a column name or a list of them")
        for col in primary_key:
            check(PHYSICAL_NAME_RE, col, "primary_key", "a column name")
        schedule = body.get("schedule")
        if schedule in (None, ""):
            schedule = None
        else:
            parse_schedule(schedule, field="schedule")
        incremental_key = body.get("incremental_key")
        if incremental_key in (None, ""):
            incremental_key = None
        else:
            check(PHYSICAL_NAME_RE, incremental_key, "incremental_key", "a column name")
            if mode != "local":
                raise ValidationError("incremental_key", "incremental_key applies to local tables only "
                                      "(remote tables are not extracted; materialized tables rerun their SQL)")
        name = body.get("name") or tid
        if not isinstance(name, str) or len(name) > 128:
            raise ValidationError("name", "name must be a string of at most 128 characters")
        return {
            "id": tid,
            "name": name,
            "description": _optional_text(body, "description", MAX_DESCRIPTION) or "",
            "source": source_name,
            "bucket": bucket,
            "source_table": source_table,
            "query_mode": mode,
            "primary_key": primary_key,
            "folder": _optional_text(body, "folder", MAX_FOLDER) or None,
            "schedule": schedule,
            "sql": sql,
            "incremental_key": incremental_key,
            "column_descriptions": column_descriptions(body.get("column_descriptions")),
        }

    def register_table(self, body: dict[str, Any]) -> Table:
        values = self._validate_table(body)
        now = utcnow()
        with self.store.write() as cur:
            if cur.execute("SELECT 1 FROM tables WHERE id = ?", [values["id"]]).fetchone():
                raise AlreadyExists(f"a table with id {values['id']!r} is already registered",
                                    hint="Use PUT or PATCH admin/tables/{id} to change it.",
                                    details={"table": values["id"]})
            cur.execute(
                "INSERT INTO tables (id, name, description, source, bucket, source_table, query_mode, primary_key,"
                " folder, schedule, sql, incremental_key, created_at, updated_at, column_descriptions)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [values["id"], values["name"], values["description"], values["source"], values["bucket"],
                 values["source_table"], values["query_mode"], dumps(values["primary_key"]), values["folder"],
                 values["schedule"], values["sql"], values["incremental_key"], now, now,
                 dumps(values["column_descriptions"])],
            )
        self._reload_table(values["id"])
        self.hub.publish(Change("table", "create", frozenset({values["id"]}), frozenset({values["source"]})))
        return self.get_table(values["id"])

    def validate_batch(self, bodies: list[dict[str, Any]],
                       check_item: Any = None) -> list[dict[str, Any]]:
        """Every registration of a batch checked before anything is written: the first bad one
        raises its error with ``details`` naming the row (``index``, ``id``, ``field``); an id
        twice in the batch is ``already_exists`` naming both rows. ``check_item(body)``, when
        given, checks an item's shape first (the server's OpenAPI schema)."""
        if not isinstance(bodies, list) or not bodies:
            raise ValidationError("tables", "tables must be a non-empty list of registrations", limit=MAX_BATCH)
        if len(bodies) > MAX_BATCH:
            raise ValidationError("tables", f"a batch registers at most {MAX_BATCH} tables (got {len(bodies)})",
                                  hint="Split it into several batches.", limit=MAX_BATCH)
        seen: dict[str, int] = {}
        out = []
        for index, body in enumerate(bodies):
            raw_id = body.get("id") if isinstance(body, dict) else None
            try:
                if not isinstance(body, dict):
                    raise ValidationError("tables", "each item of tables must be an object (a registration)")
                if check_item is not None:
                    check_item(body)
                values = self._validate_table(body)
            except AgnesError as exc:
                raise _at_row(exc, index, raw_id) from None
            first = seen.setdefault(values["id"], index)
            if first != index:
                raise AlreadyExists(f"row {index}: id {values['id']!r} is already in this batch (row {first})",
                                    hint="Give every table of a batch its own id.",
                                    details={"index": index, "id": values["id"], "field": "id", "first_index": first})
            out.append(values)
        return out

    def register_tables(self, bodies: list[dict[str, Any]], check_item: Any = None) -> list[Table]:
        """Register many tables at once: all validated first (nothing is written when one is
        bad, see ``validate_batch``), then one transaction, one snapshot update and one change
        (so every cache is invalidated once and each source's extract.duckdb is rewritten once)."""
        rows = self.validate_batch(bodies, check_item)
        ids = [v["id"] for v in rows]
        now = utcnow()
        with self.store.write() as cur:
            taken = {r[0] for r in cur.execute("SELECT id FROM tables WHERE list_contains(?, id)", [ids]).fetchall()}
            if taken:
                index = next(i for i, tid in enumerate(ids) if tid in taken)
                raise AlreadyExists(f"row {index}: a table with id {ids[index]!r} is already registered",
                                    hint="Leave registered tables out of the batch, or change them with PATCH "
                                         "admin/tables/{id}.",
                                    details={"index": index, "id": ids[index], "field": "id", "table": ids[index],
                                             "registered": sorted(taken)[:100]})
            columns = ("id", "name", "description", "source", "bucket", "source_table", "query_mode", "primary_key",
                       "folder", "schedule", "sql", "incremental_key", "column_descriptions")
            lists = {c: [dumps(v[c]) if c in ("primary_key", "column_descriptions") else v[c] for v in rows]
                     for c in columns}
            # One statement for the whole batch: the columns as lists, unnested side by side.
            cur.execute(
                "INSERT INTO tables (id, name, description, source, bucket, source_table, query_mode, primary_key,"
                " folder, schedule, sql, incremental_key, column_descriptions, created_at, updated_at)"
                " SELECT *, ?::TIMESTAMP, ?::TIMESTAMP FROM (SELECT " + ", ".join(
                    f"unnest(?::VARCHAR[]) AS c{i}" for i in range(len(columns))) + ")",
                [now, now, *(lists[c] for c in columns)])
            stored = [_table(r) for r in _dict_rows(cur.execute(
                "SELECT * FROM tables WHERE list_contains(?, id)", [ids]))]
        self._replace_tables({t.id: t for t in stored})
        self.hub.publish(Change("table", "create", frozenset(ids), frozenset(v["source"] for v in rows)))
        by_id = {t.id: t for t in stored}
        return [by_id[tid] for tid in ids]

    def _replace_tables(self, added: dict[str, Table]) -> None:
        """A new snapshot with these tables added or replaced (kept sorted), in one step."""
        with self._lock:
            self._generation += 1
            if self._snapshot is None:
                return
            sources, tables = self._snapshot
            merged = dict(sorted({**tables, **added}.items()))
            self._snapshot = (sources, merged)

    def update_table(self, table_id_: str, body: dict[str, Any], *, partial: bool) -> Table:
        current = self.get_table(table_id_)
        if "id" in body and body["id"] != table_id_:
            raise ValidationError("id", "a table id cannot be changed", hint="Register a new table instead.")
        if partial:
            base = {k: v for k, v in current.to_json().items() if k in _TABLE_FIELDS}
            merged = base | body
            if isinstance(body.get("column_descriptions"), dict):
                # PATCH changes the columns it names (an empty text or null removes one).
                merged["column_descriptions"] = current.column_descriptions | body["column_descriptions"]
        else:
            merged = {"id": table_id_, **body}
        try:
            values = self._validate_table(merged)
        except NotFound as exc:
            if exc.details.get("field") != "source":
                raise
            # The table exists; what is missing is the source the body names: a bad field, not a 404
            # (which would say the table itself is gone).
            raise ValidationError("source", exc.message, hint=exc.hint) from None
        # Only descriptions changed: the table's address and data are the same, so caches of its
        # metadata (ranges, sizes) stay; every view of it is still rebuilt.
        try:
            before = self._validate_table({k: v for k, v in current.to_json().items() if k in _TABLE_FIELDS})
            same = all(before[k] == values[k] for k in values if k not in _DESCRIPTIVE)
        except ValidationError:  # stored before a rule tightened: treat as a real change
            same = False
        action = "describe" if same else "update"
        with self.store.write() as cur:
            cur.execute(
                "UPDATE tables SET name = ?, description = ?, source = ?, bucket = ?, source_table = ?,"
                " query_mode = ?, primary_key = ?, folder = ?, schedule = ?, sql = ?, incremental_key = ?,"
                " column_descriptions = ?, updated_at = ? WHERE id = ?",
                [values["name"], values["description"], values["source"], values["bucket"],
                 values["source_table"], values["query_mode"], dumps(values["primary_key"]), values["folder"],
                 values["schedule"], values["sql"], values["incremental_key"],
                 dumps(values["column_descriptions"]), utcnow(), table_id_],
            )
        self._reload_table(table_id_)
        self.hub.publish(Change("table", action, frozenset({table_id_}), frozenset({current.source, values["source"]})))
        return self.get_table(table_id_)

    def delete_table(self, table_id_: str) -> None:
        current = self.get_table(table_id_)
        with self.store.write() as cur:
            cur.execute("DELETE FROM tables WHERE id = ?", [table_id_])
        self._reload_table(table_id_)
        self.hub.publish(Change("table", "delete", frozenset({table_id_}), frozenset({current.source})))


def _at_row(exc: AgnesError, index: int, raw_id: Any) -> AgnesError:
    """``exc`` (a batch item's refusal) naming its row: ``index``, ``id`` and ``field``."""
    field_name = exc.details.get("field") or getattr(exc, "field", None) or "body"
    exc.details = {**exc.details, "index": index, "id": raw_id if isinstance(raw_id, str) else None,
                   "field": field_name}
    exc.message = f"row {index}{f' ({raw_id})' if isinstance(raw_id, str) else ''}: {exc.message}"
    return exc


def _dict_rows(result: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in result.description or []]
    return [dict(zip(names, row, strict=False)) for row in result.fetchall()]


def _one_select(sql: str, dialect: str) -> str:
    """Exactly one SELECT with no DDL/DML anywhere, re-rendered from the AST (comments dropped)."""
    from sqlglot import exp

    from agnes_core.sqlsafe import parse_sql

    statements = parse_sql(sql, dialect, "sql")
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ValidationError("sql", "sql must be exactly one SELECT statement")
    from agnes_core.sqlsafe import first_write, render

    if first_write(statements[0]) is not None:  # the scan validator's list (SELECT INTO, ATTACH, ...)
        raise ValidationError("sql", "sql must only read: no DDL or DML")
    parameter = statements[0].find(exp.Placeholder, exp.Parameter, exp.SessionParameter)
    if parameter is not None:
        raise ValidationError("sql", f"sql must not have parameters ({parameter.sql(dialect=dialect)[:40]}): a "
                              "materialized table's query runs as written",
                              hint="Write the value into the query; recipes are where parameters go.")

    return render(statements[0], dialect)


def materialized_tables(sql: str, dialect: str) -> list[Any]:
    """The source tables a materialized table's query reads (CTE names left out), as the
    ``tables`` a connector's scan makes addressable (a lake's views over its files)."""
    from sqlglot import exp

    from agnes_core.connectors import TableRef
    from agnes_core.sqlsafe import parse_sql

    query = parse_sql(sql, dialect, "sql")[0]
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    refs = [TableRef(t.db or None, t.name) for t in query.find_all(exp.Table)
            if t.name and not (not t.db and t.name.lower() in ctes)]
    return list(dict.fromkeys(refs))


def materialized_select(sql: str, dialect: str, limit: int) -> str:
    """``SELECT * FROM (<a materialized table's sql>) AS q LIMIT n``, built on the parsed query."""
    from sqlglot import exp

    from agnes_core.sqlsafe import parse_sql, render

    inner = parse_sql(sql, dialect, "sql")[0]
    assert isinstance(inner, exp.Query)
    return render(exp.select("*").from_(inner.subquery("q")).limit(int(limit)), dialect)


def _source(row: dict[str, Any]) -> Source:
    return Source(
        name=row["name"],
        type=row["type"],
        options=loads(row["options"], {}),
        secrets=loads(row["secrets"], {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _table(row: dict[str, Any]) -> Table:
    return Table(
        id=row["id"],
        name=row["name"],
        description=row["description"] or "",
        source=row["source"],
        bucket=row["bucket"],
        source_table=row["source_table"],
        query_mode=row["query_mode"],
        primary_key=loads(row["primary_key"], []),
        folder=row["folder"],
        schedule=row["schedule"],
        sql=row["sql"],
        incremental_key=row["incremental_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        column_descriptions=loads(row.get("column_descriptions"), {}) or {},
    )
