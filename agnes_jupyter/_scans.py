"""Tables as ibis expressions, cost estimates, and snapshots of gated remote scans."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._client import current as _client
from ._collection import Collection
from ._display import badge, esc, human_age, human_bytes, human_count, muted, tone_colour
from ._workspace import Workspace, atomic_write_json, check_name, workspace
from .errors import AgnesError, NotFound, ScanTimeout, SnapshotExists, SourceError, ValidationError

if TYPE_CHECKING:
    import ibis.expr.types as ir


SCAN_TIMEOUT = (15.0, 900.0)  # connect, and between two chunks of the stream
DEFAULT_DISK_CAP = 10 * 1024**3
DISK_CAP_ENV = "AGNES_DISK_CAP_BYTES"


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


# -- tables ----------------------------------------------------------------------------------------


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


_PARAM_RE = re.compile(r"(?<![\w{]){([A-Za-z_][A-Za-z0-9_]*)}(?!})")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SENTINEL = "__agnes_param_{}__"


def param_names(query: str, dialect: str) -> list[tuple[int, int, str]]:
    """The ``:name`` and ``{name}`` placeholders of a query, found by its tokens (so text in
    strings and comments, ``::`` casts, DuckDB's ``alias: value`` and ``list[a:b]`` slices are
    left alone): (start, end, name) for each."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import TokenError
    from sqlglot.tokens import TokenType

    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(query)
    except TokenError:
        return []
    found = []
    depth = 0  # inside [...]: a ':' is a slice
    for i, tok in enumerate(tokens):
        if tok.token_type == TokenType.L_BRACKET:
            depth += 1
        elif tok.token_type == TokenType.R_BRACKET:
            depth = max(0, depth - 1)
        if i + 1 >= len(tokens):
            break
        nxt = tokens[i + 1]
        if not _NAME_RE.match(nxt.text) or nxt.start != tok.end + 1:
            continue
        if tok.token_type == TokenType.COLON and depth == 0:
            prev = tokens[i - 1] if i else None
            # "name:" right before it is DuckDB's prefix alias, not a placeholder
            if prev is None or prev.end != tok.start - 1 or not _NAME_RE.match(prev.text):
                found.append((tok.start, nxt.end, nxt.text))
        elif (tok.token_type == TokenType.L_BRACE and i + 2 < len(tokens)
              and tokens[i + 2].token_type == TokenType.R_BRACE and tokens[i + 2].start == nxt.end + 1):
            found.append((tok.start, tokens[i + 2].end, nxt.text))
    return found


def bind_params(query: str, values: dict[str, Any], dialect: str) -> str:
    """Bind ``:name`` (and ``{name}``) placeholders as typed SQL literals.

    Each placeholder becomes a sentinel identifier and the query is parsed: a sentinel must stand
    where a *value* goes (not a table, a column's qualifier, a function, an ORDER BY / GROUP BY
    position). Each value becomes a sqlglot literal node (text quoted by sqlglot, dates and
    timestamps cast, lists as IN lists or arrays) whose SQL replaces its placeholder in the query's
    own text — the rest of the query is never re-rendered, so nothing of it changes — and the
    result is parsed again. A value is never SQL text."""
    import sqlglot
    from sqlglot import exp

    spans = param_names(query, dialect)
    if not spans:
        return query
    missing = sorted({name for _, _, name in spans} - set(values))
    if missing:
        raise ValidationError(f"no value for the parameter{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(':' + m for m in missing)}",
                              hint="Define it as a Python variable first (or pass params={...}).")
    sentinels = [_SENTINEL.format(i) for i in range(len(spans))]
    text = query
    for (start, end, _), sentinel in reversed(list(zip(spans, sentinels, strict=True))):
        text = text[:start] + sentinel + text[end + 1:]

    def parse(sql: str) -> Any:
        try:
            return sqlglot.parse_one(sql, read=dialect)
        except sqlglot.errors.ParseError as exc:
            err = exc.errors[0] if exc.errors else {}
            raise ValidationError(f"cannot parse the query with its parameters: {err.get('description', exc)} "
                                  f"(line {err.get('line')}, column {err.get('col')})",
                                  hint="A parameter stands for a value, e.g. WHERE country = :country; it cannot "
                                       "name a table or a column.") from None

    def not_a_value(sentinel: str) -> ValidationError:
        label = spans[sentinels.index(sentinel)][2]
        return ValidationError(f"the parameter :{label} is not in the place of a value",
                               hint="Parameters are values (WHERE x = :v, x IN :list, LIMIT :n); they cannot name "
                                    "a table or a column, or be a sort or group position.")

    tree = parse(text)
    places: dict[str, exp.Column] = {}
    for node in tree.walk():
        if not isinstance(node, exp.Identifier) or node.name not in sentinels:
            continue
        column = node.parent
        if not isinstance(column, exp.Column) or column.this is not node or column.table:
            raise not_a_value(node.name)
        holder = column.parent
        if isinstance(holder, (exp.Ordered, exp.Group)) or (
                isinstance(holder, exp.Alias) and isinstance(holder.parent, exp.Group)):
            raise not_a_value(node.name)
        places[node.name] = column
    if len(places) != len(sentinels):
        raise not_a_value(next(s for s in sentinels if s not in places))
    rendered: list[str] = []
    for (_, _, name), sentinel in zip(spans, sentinels, strict=True):
        column = places[sentinel]
        value = values[name]
        parent = column.parent
        in_list = isinstance(parent, exp.In) and parent.expressions == [column]
        in_field = isinstance(parent, exp.In) and parent.args.get("field") is column
        if isinstance(value, (list, tuple, set, frozenset)) and (in_list or in_field):
            items = [_literal(v) for v in (sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value)]
            if not items:
                raise ValidationError(f"the list :{name} is empty", hint="IN () matches nothing: give at least one "
                                                                         "value, or leave the condition out.")
            inner = ", ".join(i.sql(dialect=dialect) for i in items)
            rendered.append(inner if in_list else f"({inner})")
        else:
            rendered.append(_literal(value).sql(dialect=dialect))
    out = query
    for (start, end, _), literal in reversed(list(zip(spans, rendered, strict=True))):
        out = out[:start] + literal + out[end + 1:]
    parse(out)  # still one parseable query
    return out


def _literal(value: Any) -> Any:
    """A Python value as a typed SQL literal node."""
    import datetime as dt
    import decimal
    import math

    from sqlglot import exp

    if hasattr(value, "item") and type(value).__module__ == "numpy":  # numpy scalars
        value = value.item()
    if isinstance(value, bool) or value is None:
        return exp.convert(value)
    if (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, decimal.Decimal) and not value.is_finite()):
        text = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        return exp.cast(exp.Literal.string(text), "DOUBLE")
    if isinstance(value, (int, float, decimal.Decimal)):
        return exp.convert(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError("a text parameter contains a NUL character", hint="SQL text cannot hold one.")
        return exp.convert(value)
    if isinstance(value, dt.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), kind)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        return exp.Array(expressions=[_literal(v) for v in items])
    raise ValidationError(f"a parameter of type {type(value).__name__} cannot be a SQL literal",
                          hint="Use a number, text, bool, date, datetime, None or a list of those.")


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


# -- scan requests ---------------------------------------------------------------------------------


def scan_request(obj: Any) -> dict[str, Any]:
    """The body of a scan: SQL text as given, an ibis expression over remote tables compiled to
    their dialect, or an already structured request."""
    if isinstance(obj, dict):
        return dict(obj)
    if isinstance(obj, str):
        return {"sql": obj}
    import ibis.expr.types as ir

    if not isinstance(obj, ir.Expr):
        raise ValidationError(f"expected SQL text or an ibis expression, not {type(obj).__name__}",
                              hint="e.g. agnes.table('events').filter(...) or \"SELECT ... FROM events\"")
    from ._backend import AgnesBackend

    backend = workspace().con
    kind, _ = backend._plan(obj) if isinstance(backend, AgnesBackend) else ("local", None)
    if kind == "local":
        raise ValidationError("this expression reads local tables only: run it locally",
                              hint="Use expr.to_pandas() or agnes.sql(...); snapshots are for remote tables.")
    if kind == "mixed":
        raise ValidationError("this expression joins remote and local tables (or tables of several sources)",
                              hint="expr.to_pandas() runs it (each remote part through the gate); a snapshot "
                                   "keeps one source's query: snapshot the remote part, then join locally.")
    return {"sql": backend.source_sql(obj)}


# -- estimates -------------------------------------------------------------------------------------

VERDICT_TEXT = {
    "ok": "runs without confirmation",
    "needs_confirmation": "needs confirm=True",
    "too_large": "over the per-scan cap: narrow it",
    "over_budget": "over today's scan budget",
}


class Estimate:
    """What a scan would read and return, and whether the gate lets it through."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def __getitem__(self, key: str) -> Any:
        return self.payload[key]

    @property
    def scan_bytes(self) -> int:
        return int(self.payload["scan_bytes"])

    @property
    def verdict(self) -> str:
        return str(self.payload["verdict"])

    @property
    def sql(self) -> str:
        return str(self.payload["sql"])

    def _basis(self) -> str:
        basis = self.payload.get("scan_bytes_basis")
        return {"uncompressed": "uncompressed column bytes", "on_disk": "bytes on disk",
                "billed": "billed bytes"}.get(str(basis), str(basis)) if basis else ""

    def summary(self) -> str:
        p = self.payload
        rows = f"≤ {human_count(p['result_rows'])} rows" if p.get("result_rows") is not None else "rows unknown"
        basis = f" ({self._basis()})" if self._basis() else ""
        return (f"scans {human_bytes(p['scan_bytes'])}{basis} of {', '.join(t['id'] for t in p['tables'])} "
                f"({p['source']}), returns {rows} / {human_bytes(p.get('result_bytes'))}; "
                f"cost ${p['cost_usd']:.4f}; verdict: {p['verdict']} ({VERDICT_TEXT.get(p['verdict'], '')})")

    def __repr__(self) -> str:
        return f"Estimate: {self.summary()}\n{self.payload['sql']}"

    def _repr_html_(self) -> str:
        p = self.payload
        limits = p["limits"]
        cap = max(limits["scan_max_bytes"], 1)
        share = min(p["scan_bytes"] / cap, 1.0) * 100
        confirm_at = min(limits["scan_confirm_bytes"] / cap, 1.0) * 100
        tone = {"ok": "success", "needs_confirmation": "warn"}.get(p["verdict"], "error")
        colour = tone_colour(tone)
        track = "var(--jp-layout-color3, rgba(128,128,128,.25))"
        bar = (f'<div title="{esc(human_bytes(p["scan_bytes"]))} of the {esc(human_bytes(cap))} per-scan cap" '
               f'style="position:relative;height:10px;width:320px;background:{track};border-radius:5px;margin:4px 0">'
               f'<div style="height:10px;width:{share:.1f}%;background:{colour};border-radius:5px"></div>'
               f'<div title="confirmation threshold" style="position:absolute;top:-2px;left:{confirm_at:.1f}%;'
               f'width:2px;height:14px;background:var(--jp-ui-font-color1, currentColor)"></div></div>')
        left = max(0, int(limits["daily_scan_bytes_per_user"]) - int(limits["daily_used_bytes"]))
        basis = f" — {self._basis()}" if self._basis() else ""
        rows = [
            ["scans", f"{human_bytes(p['scan_bytes'])}{basis} (on disk {human_bytes(p.get('compressed_bytes'))})"],
            ["returns", (f"≤ {human_count(p.get('result_rows'))} rows, " if p.get("result_rows") is not None
                         else "") + f"{human_bytes(p.get('result_bytes'))}"],
            ["cost", f"${p['cost_usd']:.4f}"],
            ["budget", f"{human_bytes(left)} left today of {human_bytes(limits['daily_scan_bytes_per_user'])}"],
            ["gate", f"confirm above {human_bytes(limits['scan_confirm_bytes'])}, cap "
                     f"{human_bytes(limits['scan_max_bytes'])}"],
        ]
        tables = ", ".join(f"{esc(t['id'])} {badge(t['freshness'], 'metadata freshness')}" for t in p["tables"])
        body = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{esc(k)}</th>"
                       f"<td style='text-align:left'>{esc(v)}</td></tr>" for k, v in rows)
        return (f'<div class="agnes-estimate"><div><b>Estimate</b> {badge(p["verdict"])} '
                f'{esc(VERDICT_TEXT.get(p["verdict"], ""))}</div>{bar}'
                f'<table>{body}<tr><th style="text-align:left">tables</th><td style="text-align:left">{tables}'
                f'</td></tr></table><details><summary style="{muted()}">SQL</summary>'
                f'<pre style="white-space:pre-wrap">{esc(p["sql"])}</pre></details></div>')


class EstimateGroup(Estimate):
    """The estimates of the remote parts of one expression (a join of remote and local tables):
    ``scan_bytes`` and the cost are their sum, judged by the gate as one confirmation."""

    def __init__(self, parts: list[dict[str, Any]]) -> None:
        self.parts = [Estimate(p) for p in parts]
        total = sum(int(p["scan_bytes"]) for p in parts)
        limits = parts[-1]["limits"]
        order = ["ok", "needs_confirmation", "too_large", "over_budget"]
        verdict = max((p["verdict"] for p in parts), key=lambda v: order.index(v) if v in order else 0)
        if verdict == "ok" and total > int(limits["scan_confirm_bytes"]):
            verdict = "needs_confirmation"
        rows = [p.get("result_rows") for p in parts]
        super().__init__({
            **parts[0], "scan_bytes": total, "cost_usd": sum(float(p.get("cost_usd") or 0) for p in parts),
            "verdict": verdict, "result_rows": sum(rows) if all(r is not None for r in rows) else None,
            "result_bytes": sum(int(p.get("result_bytes") or 0) for p in parts),
            "compressed_bytes": sum(int(p.get("compressed_bytes") or 0) for p in parts),
            "tables": [t for p in parts for t in p["tables"]],
            "sql": ";\n".join(p["sql"] for p in parts),
        })


def estimate(expr_or_sql: Any) -> Estimate:
    """What a scan would read (bytes of the columns and row groups it touches), return and cost,
    and the gate's verdict — without running it. For an expression that joins remote and local
    tables, what its remote parts would read (with the columns and filters pushed into them)."""
    import ibis.expr.types as ir

    if isinstance(expr_or_sql, ir.Expr):
        from ._backend import AgnesBackend

        backend = workspace().con
        if isinstance(backend, AgnesBackend) and backend._plan(expr_or_sql)[0] == "mixed":
            queries = backend.remote_queries(expr_or_sql)
            parts = [_client().post("scans/estimate", {"sql": q}) for q in queries]
            return Estimate(parts[0]) if len(parts) == 1 else EstimateGroup(parts)
    return Estimate(_client().post("scans/estimate", scan_request(expr_or_sql)))


# -- snapshots -------------------------------------------------------------------------------------


def _content_hash(path: Path) -> tuple[int, str]:
    """(rows, an order-independent hash of every row), computed by DuckDB."""
    import duckdb

    con = duckdb.connect()
    try:
        row = con.execute("SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR FROM read_parquet(?) t",
                          [str(path)]).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), str(row[1])


class _ArrowSink:
    """Keeps the stream's batches in memory: the result of ``execute()`` (not stored)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.batches: list[Any] = []

    def write(self, batch: Any) -> None:
        self.batches.append(batch)

    def close(self, complete: bool) -> None:
        if not complete:
            self.batches = []

    def table(self) -> Any:
        import pyarrow as pa

        return pa.Table.from_batches(self.batches, schema=self.schema)


def _stream_scan(body: dict[str, Any], confirm: bool, desc: str, show_progress: bool,
                 open_sink: Any) -> tuple[dict[str, Any], Any]:
    """POST scans and hand the Arrow stream to ``open_sink(schema)``; the scan record and the sink.
    Raises (and leaves nothing behind in the sink) unless the server recorded a complete scan."""
    import json

    import pyarrow as pa

    from ._progress import ByteBar

    client = _client()
    response = client.request("POST", "scans", json={**body, "confirm": confirm}, stream=True,
                              timeout=SCAN_TIMEOUT)
    scan_id = response.headers.get("X-Agnes-Scan-Id", "")
    estimate_hint = json.loads(response.headers.get("X-Agnes-Estimate") or "{}")
    bar = ByteBar(estimate_hint.get("result_bytes"), desc, show_progress, upper_bound=True)
    cut: str | None = None
    rows = 0
    sink: Any = None
    complete = False
    try:
        response.raw.decode_content = True
        try:
            reader = pa.ipc.open_stream(response.raw)
            sink = open_sink(reader.schema)
            try:
                for batch in reader:
                    sink.write(batch)
                    rows += batch.num_rows
                    bar.update(batch.nbytes)
                complete = True
            finally:
                sink.close(complete)
        except Exception as exc:  # noqa: BLE001 - a cut stream surfaces here; the record says why
            cut = f"{type(exc).__name__}: {exc}"
            complete = False
        record = client.get(f"scans/{scan_id}")
        if record["status"] == "timed_out":
            raise ScanTimeout(str(record.get("error") or "the scan was stopped at the server's time limit"),
                              hint="Nothing was written. Narrow it (a filter on a partition or sort column), or "
                                   "ask an admin about scan_timeout_seconds.", details={"scan": record})
        if record["status"] != "succeeded" or cut is not None:
            reason = record.get("error") or cut or record["status"]
            raise SourceError(f"the scan did not complete ({record['status']}): {reason}",
                              hint="Nothing was written; run it again. The scan's record: "
                                   f"agnes.client().get('scans/{scan_id}').", details={"scan": record})
        if record["rows"] != rows:
            raise SourceError(f"the stream had {rows:,} rows but the server sent {record['rows']:,}",
                              hint="Run it again; nothing was written.", details={"scan": record})
    except BaseException:
        complete = False
        raise
    finally:
        response.close()
        bar.done(complete)
    return dict(record), sink


def _stream_to_parquet(body: dict[str, Any], target: Path, confirm: bool, desc: str,
                       show_progress: bool) -> dict[str, Any]:
    """POST scans, write the Arrow stream to ``target`` (by rename), return the scan record."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".part")
    os.close(fd)
    try:
        record, _ = _stream_scan(body, confirm, desc, show_progress, lambda schema: _ParquetSink(tmp, schema))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return record


def scan_line(estimates: list[dict[str, Any]]) -> str:
    """One line before a scan runs: what it reads, what it costs and the budget left today."""
    total = sum(int(e["scan_bytes"]) for e in estimates)
    cost = sum(float(e.get("cost_usd") or 0) for e in estimates)
    tables = ", ".join(dict.fromkeys(t["id"] for e in estimates for t in e["tables"]))
    sources = ", ".join(dict.fromkeys(str(e["source"]) for e in estimates))
    limits = estimates[-1]["limits"]
    left = max(0, int(limits["daily_scan_bytes_per_user"]) - int(limits["daily_used_bytes"]) - total)
    rows = [e.get("result_rows") for e in estimates]
    shown = f"≤ {human_count(sum(rows))} rows" if all(r is not None for r in rows) else "rows unknown"  # type: ignore[arg-type]
    parts = f" in {len(estimates)} scans" if len(estimates) > 1 else ""
    return (f"agnes: scanning {human_bytes(total)} of {tables} ({sources}){parts}, {shown}, "
            f"cost ${cost:.4f}; budget left today {human_bytes(left)} of "
            f"{human_bytes(int(limits['daily_scan_bytes_per_user']))}")


def admit(bodies: list[dict[str, Any]], confirm: bool | None = None) -> bool:
    """Estimate every scan, refuse early what the gate would refuse, and print the one line that
    says what will be scanned, its cost and the budget left. Returns whether the scans run
    confirmed (``confirm=True`` or ``with agnes.confirm():``). Several scans (the remote parts of
    one expression) are judged by their sum: one confirmation, one budget check."""
    from ._backend import _confirmed
    from .errors import ConfirmationRequired, QuotaExceeded

    confirmed = bool(confirm) if confirm is not None else _confirmed.get()
    client = _client()
    estimates = [client.post("scans/estimate", body) for body in bodies]
    total = sum(int(e["scan_bytes"]) for e in estimates)
    limits = estimates[-1]["limits"]
    remaining = int(limits["daily_scan_bytes_per_user"]) - int(limits["daily_used_bytes"])
    if len(estimates) > 1 and total > remaining:
        raise QuotaExceeded(f"these {len(estimates)} scans would read {human_bytes(total)}, over what is left of "
                            f"today's scan budget ({human_bytes(max(remaining, 0))})",
                            hint="Narrow the remote parts (filters on partition columns, fewer columns) or wait "
                                 "until tomorrow (UTC).", details={"estimates": estimates})
    refused = any(e["verdict"] in ("too_large", "over_budget") for e in estimates)
    needs = any(e["verdict"] == "needs_confirmation" for e in estimates) or total > int(limits["scan_confirm_bytes"])
    if needs and not confirmed and not refused:  # (a refused scan gets the server's own error)
        tables = ", ".join(dict.fromkeys(t["id"] for e in estimates for t in e["tables"]))
        raise ConfirmationRequired(
            f"{'this scan' if len(estimates) == 1 else f'these {len(estimates)} scans'} would read "
            f"{human_bytes(total)} of {tables} (confirmation is needed above "
            f"{human_bytes(int(limits['scan_confirm_bytes']))})",
            hint="Run it again with confirm=True (expr.execute(confirm=True), agnes.snapshot(..., confirm=True), "
                 "%%agnes --confirm) or inside `with agnes.confirm():`, or narrow it.",
            details={"estimates": estimates, "estimate": estimates[0]})
    if not refused:
        print(scan_line(estimates))
    return confirmed


def gated_scans(sqls: list[str], confirm: bool | None = None, progress: bool = True,
                records: list[dict[str, Any]] | None = None) -> list[Any]:
    """Run SQL on remote sources through the gate (see :func:`admit`); each result as an Arrow
    table held in memory, not stored. ``records`` collects the server's record of each scan."""
    bodies = [{"sql": sql} for sql in sqls]
    confirmed = admit(bodies, confirm)
    results = []
    for i, body in enumerate(bodies):
        desc = "scan" if len(bodies) == 1 else f"scan {i + 1}/{len(bodies)}"
        record, sink = _stream_scan(body, confirmed, desc, progress, _ArrowSink)
        if records is not None:
            records.append(record)
        results.append(sink.table())
    return results


#: Rows per Parquet row group in snapshots (written in a thread while the stream is read):
#: measured 2x faster to write than one row group per 65k-row batch, and faster to query.
ROW_GROUP_ROWS = 262_144
#: ... or fewer when the buffered batches reach this many bytes (bounds the kernel's memory).
ROW_GROUP_BYTES = 128 * 1024**2


class _ParquetSink:
    """Collects batches into large row groups; a writer thread compresses and writes them while
    the caller goes on reading the stream (at most two row groups wait: memory stays bounded)."""

    def __init__(self, path: str, schema: Any) -> None:
        import queue
        import threading

        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._schema = schema
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._buffer: list[Any] = []
        self._rows = 0
        self._bytes = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="agnes-parquet-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
                except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                    self._error = exc

    def write(self, batch: Any) -> None:
        if self._error is not None:
            raise self._error
        self._buffer.append(batch)
        self._rows += batch.num_rows
        self._bytes += batch.nbytes
        if self._rows >= ROW_GROUP_ROWS or self._bytes >= ROW_GROUP_BYTES:
            self._hand_over()

    def _hand_over(self) -> None:
        import pyarrow as pa

        if self._buffer:
            self._queue.put(pa.Table.from_batches(self._buffer, schema=self._schema))
        self._buffer, self._rows, self._bytes = [], 0, 0

    def close(self, complete: bool) -> None:
        """Write what is left (when ``complete``) and close the file; raise a writing error."""
        if complete:
            self._hand_over()
        self._buffer = []
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None:
            raise self._error


def _snapshot_info(meta: dict[str, Any]) -> str:
    return f"{human_age(meta.get('created_at')).replace(' ago', '')} old, {meta.get('rows', 0):,} rows"


def snapshot(expr_or_sql: Any, name: str, confirm: bool | None = None, force: bool = False,
             progress: bool = True, max_age: str | timedelta | None = None) -> ir.Table:
    """Run a gated scan and keep its result as ``snapshots/<name>.parquet`` (with
    ``<name>.meta.json``); returns an ibis table over it in the workspace DuckDB.

    Re-running a notebook is safe: when ``name`` exists with the same query it is returned as it
    is (and refreshed when older than ``max_age``, e.g. ``"1d"``); a different query under the
    same name is refused unless ``force=True``."""
    check_name(name)
    ws = workspace()
    if name in ws.shared_tables():
        raise ValidationError(f"{name!r} is the name of a synced table", hint="Choose another snapshot name.")
    body = scan_request(expr_or_sql)
    existing = ws.snapshot_meta(name)
    if existing is not None and not force:
        if _same_request(existing.get("request"), body):
            age = datetime.now(timezone.utc) - datetime.fromisoformat(existing["created_at"])
            if max_age is None or age <= parse_age(max_age):
                print(f"snapshot {name!r} already holds this query ({_snapshot_info(existing)}): using it"
                      + ("" if max_age is not None else f"; agnes.refresh_snapshot({name!r}) runs it again"))
                return ws.con.table(name)
            print(f"snapshot {name!r} is {_snapshot_info(existing)}, older than max_age={max_age}: refreshing it")
        else:
            raise SnapshotExists(f"snapshot {name!r} already exists with a different query "
                                 f"({_snapshot_info(existing)})",
                                 hint=f"pass force=True (--force) to replace it, choose another name, or "
                                      f"agnes.refresh_snapshot({name!r}) to re-run its own query")
    meta = _run_snapshot(ws, name, body, confirm, progress)
    _say(meta)
    return ws.con.table(name)


def _same_request(old: Any, new: dict[str, Any]) -> bool:
    def norm(body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        return {k: (" ".join(v.split()) if isinstance(v, str) else v) for k, v in body.items() if k != "confirm"}

    return bool(norm(old) == norm(new))


def _run_snapshot(ws: Workspace, name: str, body: dict[str, Any], confirm: bool | None,
                  progress: bool) -> dict[str, Any]:
    target = ws.snapshot_path(name)
    confirmed = admit([body], confirm)
    record = _stream_to_parquet(body, target, confirmed, f"snapshot {name}", progress)
    est = record["estimate"]  # what the gate admitted the scan on (no second estimate)
    meta = {
        "name": name, "request": body, "sql": est["sql"], "dialect": est["dialect"], "source": est["source"],
        "tables": [{"id": t["id"], "freshness": t["freshness"], "refreshed_at": t["refreshed_at"]}
                   for t in est["tables"]],
        "estimate": {"scan_bytes": est["scan_bytes"], "result_rows": est["result_rows"],
                     "result_bytes": est["result_bytes"], "compressed_bytes": est.get("compressed_bytes")},
        "actual": {"rows": record["rows"], "result_bytes": record["bytes"], "scanned_bytes": record["scanned_bytes"],
                   "scanned_bytes_origin": record.get("scanned_bytes_origin"), "duration_ms": record["duration_ms"]},
        "rows": record["rows"], "file_bytes": target.stat().st_size, "truncated": bool(record["truncated"]),
        "truncated_reason": record.get("truncated_reason"), "scan_id": record["scan_id"],
        "created_at": datetime.now(timezone.utc).isoformat(),
    }
    atomic_write_json(ws.meta_path(name), meta)
    ws.refresh_views()
    return meta


def _say(meta: dict[str, Any]) -> None:
    line = (f"snapshot {meta['name']!r}: {meta['rows']:,} rows, {human_bytes(meta['file_bytes'])} on disk "
            f"(scanned {human_bytes(meta['actual']['scanned_bytes'])})")
    print(line)
    if meta["truncated"]:
        text = (f"snapshot {meta['name']!r} is TRUNCATED at {meta['rows']:,} rows: the result reached "
                f"{meta['truncated_reason']}. Narrow the query to get every row.")
        print(text, file=sys.stderr)
        warnings.warn(text, stacklevel=3)


class SnapshotList(Collection[dict[str, Any]]):
    """Your snapshots: rows, size, age and the tables they came from."""

    noun = "snapshot"
    key = "name"
    headers = ("name", "rows", "size", "created", "tables", "")
    empty = "no snapshots yet — agnes.snapshot(expr, name=...) makes one"
    pandas_columns = ("name", "rows", "file_bytes", "created_at", "truncated", "sql")

    def __init__(self, metas: list[dict[str, Any]]) -> None:
        super().__init__(metas)
        self.metas = metas

    @property
    def names(self) -> list[str]:
        return self.ids

    def _rows(self) -> list[list[str]]:
        return [[m["name"], human_count(m["rows"]), human_bytes(m["file_bytes"]), human_age(m["created_at"]),
                 ", ".join(t["id"] for t in m["tables"]), "truncated" if m["truncated"] else ""]
                for m in self.metas]


def snapshots() -> SnapshotList:
    ws = workspace()
    metas = [m for n in ws.snapshot_names() if (m := ws.snapshot_meta(n)) is not None]
    return SnapshotList(metas)


class RefreshReport:
    def __init__(self, name: str, before: dict[str, Any], after: dict[str, Any], same: bool) -> None:
        self.name = name
        self.before = before
        self.after = after
        self._same = same

    @property
    def identical(self) -> bool:
        """Whether the new file holds exactly the old rows (an order-independent hash of every row)."""
        return self._same and self.before["rows"] == self.after["rows"]

    def __repr__(self) -> str:
        b, a = self.before, self.after
        same = "identical content" if self.identical else "content changed"
        return (f"snapshot {self.name!r} refreshed: {b['rows']:,} → {a['rows']:,} rows, "
                f"{human_bytes(b['file_bytes'])} → {human_bytes(a['file_bytes'])} ({same})")


def refresh_snapshot(name: str, confirm: bool | None = None, progress: bool = True) -> RefreshReport:
    """Run a snapshot's query again and replace it; says what changed."""
    ws = workspace()
    before = ws.snapshot_meta(check_name(name))
    if before is None:
        raise NotFound(f"no snapshot {name!r}", hint="agnes.snapshots() lists them.")
    old_hash = _content_hash(ws.snapshot_path(name))[1] if ws.snapshot_path(name).exists() else None
    after = _run_snapshot(ws, name, before["request"], confirm, progress)
    report = RefreshReport(name, before, after, same=old_hash == _content_hash(ws.snapshot_path(name))[1])
    if after["truncated"]:
        _say(after)
    return report


def drop_snapshot(name: str) -> None:
    ws = workspace()
    if ws.snapshot_meta(check_name(name)) is None:
        raise NotFound(f"no snapshot {name!r}", hint="agnes.snapshots() lists them.")
    ws.meta_path(name).unlink()  # first: without its meta the file is no longer a snapshot
    ws.snapshot_path(name).unlink(missing_ok=True)
    ws.refresh_views()


_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)


def parse_age(value: str | timedelta) -> timedelta:
    if isinstance(value, timedelta):
        return value
    m = _AGE_RE.match(str(value))
    if m is None:
        raise ValidationError(f"cannot read the age {value!r}", hint="e.g. '7d', '12h', '30m' or a timedelta")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2).lower()]
    return timedelta(seconds=float(m.group(1)) * unit)


def parse_size(value: str | int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE_RE.match(str(value))
    if m is None:
        raise ValidationError(f"cannot read the size {value!r}", hint="e.g. '1g', '500m', '2GiB' or bytes")
    return int(float(m.group(1)) * 1024 ** " kmgt".index((m.group(2) or " ").lower()))


class PruneReport:
    def __init__(self, removed: list[dict[str, Any]], dry_run: bool) -> None:
        self.removed = removed
        self.dry_run = dry_run

    @property
    def names(self) -> list[str]:
        return [m["name"] for m in self.removed]

    @property
    def freed_bytes(self) -> int:
        return sum(int(m["file_bytes"]) for m in self.removed)

    def __repr__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        if not self.removed:
            return "no snapshot matches"
        return f"{verb} {len(self.removed)} snapshot(s), {human_bytes(self.freed_bytes)}: {', '.join(self.names)}"


def prune_snapshots(older_than: str | timedelta | None = None, larger_than: str | int | None = None,
                    dry_run: bool = False) -> PruneReport:
    """Remove snapshots older than an age and/or larger than a size. With neither it refuses."""
    if older_than is None and larger_than is None:
        raise ValidationError("prune_snapshots needs older_than and/or larger_than",
                              hint="e.g. agnes.prune_snapshots(older_than='7d'); it never removes everything by "
                                   "default. agnes.drop_snapshot(name) removes one.")
    age = parse_age(older_than) if older_than is not None else None
    size = parse_size(larger_than) if larger_than is not None else None
    now = datetime.now(timezone.utc)
    chosen = []
    for meta in snapshots():
        created = datetime.fromisoformat(meta["created_at"])
        if age is not None and now - created <= age:
            continue
        if size is not None and meta["file_bytes"] <= size:
            continue
        chosen.append(meta)
    if not dry_run:
        for meta in chosen:
            drop_snapshot(meta["name"])
    return PruneReport(chosen, dry_run)


class DiskInfo:
    def __init__(self, root: Path, usage: dict[str, int], cap: int) -> None:
        self.root = root
        self.usage = usage
        self.cap = cap

    @property
    def used_bytes(self) -> int:
        return sum(self.usage.values())

    @property
    def over(self) -> bool:
        return self.used_bytes > self.cap

    def __repr__(self) -> str:
        share = self.used_bytes / self.cap * 100 if self.cap else 0
        text = (f"workspace {self.root}: {human_bytes(self.used_bytes)} of {human_bytes(self.cap)} ({share:.0f}%) — "
                f"snapshots {human_bytes(self.usage['snapshots'])}, synced data {human_bytes(self.usage['data'])}")
        return text + ("\nOVER THE CAP: agnes.prune_snapshots(older_than='7d') frees space" if self.over else "")

    def _repr_html_(self) -> str:
        share = min(self.used_bytes / self.cap, 1.0) * 100 if self.cap else 0
        colour = tone_colour("error" if self.over else ("warn" if share > 80 else "success"))
        track = "var(--jp-layout-color3, rgba(128,128,128,.25))"
        return (f'<div class="agnes-disk"><b>Workspace disk</b> {esc(human_bytes(self.used_bytes))} of '
                f'{esc(human_bytes(self.cap))}'
                f'<div style="height:10px;width:320px;background:{track};border-radius:5px">'
                f'<div style="height:10px;width:{share:.1f}%;background:{colour};border-radius:5px"></div></div>'
                f'<small>snapshots {esc(human_bytes(self.usage["snapshots"]))}, synced data '
                f'{esc(human_bytes(self.usage["data"]))} — {esc(self.root)}</small></div>')


def disk_info(cap: int | str | None = None) -> DiskInfo:
    """Disk used by the workspace against a local cap (``$AGNES_DISK_CAP_BYTES``, default 10 GiB);
    warns when over."""
    limit = parse_size(cap if cap is not None else os.environ.get(DISK_CAP_ENV, DEFAULT_DISK_CAP))
    ws = workspace()
    info = DiskInfo(ws.root, ws.usage_bytes(), limit)
    if info.over:
        warnings.warn(f"the Agnes workspace uses {human_bytes(info.used_bytes)}, over its {human_bytes(limit)} cap; "
                      "agnes.prune_snapshots(...) frees space", stacklevel=2)
    return info


__all__ = ["AgnesError", "Estimate", "disk_info", "drop_snapshot", "estimate", "prune_snapshots",
           "refresh_snapshot", "snapshot", "snapshots", "sql", "table"]
