"""Jira Cloud: issues and their comments, changelog, attachments, links and remote links, read
through the REST API v3 search (``POST /rest/api/3/search/jql``, paged by ``nextPageToken``) and
kept current by Jira's webhooks (the STREAM capability, see :mod:`.webhooks`)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from agnes_core.connectors.base import (
    Capability,
    Connector,
    DiscoveredTable,
    FormField,
    ReadOptions,
    StreamChange,
    StreamTable,
    TableMetadata,
    TableRef,
)
from agnes_core.connectors.jira import tables as t
from agnes_core.connectors.jira.client import PAGE_SIZE, JiraClient
from agnes_core.connectors.types import DUCKDB_NOTES
from agnes_core.errors import AgnesError, NotFound, SourceError, ValidationError
from agnes_core.sqlsafe import safe_predicate

#: Rows handed on as soon as this many are flattened (the writer encodes them while pages arrive).
EMIT_ROWS = 4096
_PROJECT_RE = re.compile(r"[A-Z][A-Z0-9_]{0,99}")
#: How long the site's field list (custom field names and types) is reused.
FIELDS_TTL_S = 300.0
_FIELDS: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}
_FIELDS_LOCK = threading.Lock()
#: Incremental reads push ``updated >= "..."`` into the JQL for these keys.
_UPDATED_KEYS = {"issues": ("updated",), "comments": ("issue_updated",), "changelog": ("issue_updated",),
                 "attachments": ("issue_updated",), "issue_links": ("issue_updated",),
                 "remote_links": ("issue_updated",)}


class JiraConnector(Connector):
    """Options: ``site`` (the Jira Cloud site's URL, required), ``projects`` (project keys to read;
    empty: every project the account can browse), ``jql`` (an extra JQL condition), ``page_size``
    (issues per search page, at most 100), ``max_retries``, ``retry_base_seconds`` and
    ``retry_max_seconds`` (back-off on 429 and 5xx), ``timeout_seconds``. Secrets (names of
    environment variables): ``email`` and ``api_token`` (basic auth), ``webhook_secret`` (the
    secret Jira signs webhooks with)."""

    type = "jira"
    capabilities = frozenset({Capability.DISCOVER, Capability.READ, Capability.METADATA, Capability.STREAM})
    dialect = "duckdb"  # filters apply to the flattened rows, in DuckDB
    dialect_notes = DUCKDB_NOTES
    secret_names = ("email", "api_token", "webhook_secret")
    required_secrets = ("email", "api_token")
    title = "Jira Cloud"
    option_fields = (
        FormField("site", "The Jira Cloud site.", required=True, placeholder="https://your-site.atlassian.net"),
        FormField("projects", "Project keys to read, comma-separated (empty: every project the account sees).",
                  kind="list", placeholder="ENG, OPS"),
        FormField("jql", "An extra JQL condition every read adds.", placeholder='issuetype != "Sub-task"'),
        FormField("page_size", "Issues per search page (at most 100).", kind="integer", placeholder=str(PAGE_SIZE)),
    )
    secret_fields = (
        FormField("email", "The Atlassian account's email is read from this environment variable.", required=True,
                  placeholder="JIRA_EMAIL"),
        FormField("api_token", "The account's API token (id.atlassian.com > Security) is read from this "
                  "environment variable.", required=True, placeholder="JIRA_API_TOKEN"),
        FormField("webhook_secret", "The secret of the Jira webhook that POSTs to agnes/v1/webhooks/jira/<source> "
                  "is read from this environment variable (needed for live updates).",
                  placeholder="JIRA_WEBHOOK_SECRET"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: JiraClient | None = None
        self._lock = threading.Lock()

    # -- configuration ------------------------------------------------------------------

    @classmethod
    def validate_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        site = options.get("site")
        parts = urlsplit(site) if isinstance(site, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
                or parts.fragment or parts.username or parts.password:
            raise ValidationError("options.site", "site must be the Jira Cloud site's URL",
                                  hint='e.g. "site": "https://your-site.atlassian.net"')
        out = dict(options)
        out["site"] = str(site).rstrip("/")
        projects = options.get("projects")
        if isinstance(projects, str):
            projects = [p.strip() for p in projects.split(",") if p.strip()]
        if projects is not None and (not isinstance(projects, list) or not all(
                isinstance(p, str) and _PROJECT_RE.fullmatch(p) for p in projects)):
            raise ValidationError("options.projects", "projects must be a list of Jira project keys",
                                  hint='e.g. "projects": ["ENG", "OPS"]')
        if projects is not None:
            out["projects"] = projects
        jql = options.get("jql")
        if jql is not None and (not isinstance(jql, str) or len(jql) > 2000 or "\n" in jql):
            raise ValidationError("options.jql", "jql must be one line of JQL (at most 2000 characters)")
        for key, lo, hi in (("page_size", 1, 100), ("max_retries", 0, 10)):
            value = options.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi):
                raise ValidationError(f"options.{key}", f"{key} must be a whole number from {lo} to {hi}")
        for key in ("retry_base_seconds", "retry_max_seconds", "timeout_seconds"):
            value = options.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValidationError(f"options.{key}", f"{key} must be a number of seconds >= 0")
        return out

    @property
    def client(self) -> JiraClient:
        with self._lock:
            if self._client is None:
                o = self.options
                self._client = JiraClient(
                    o["site"], self.secret("email"), self.secret("api_token"),
                    timeout_s=float(o.get("timeout_seconds", 60.0)), max_retries=int(o.get("max_retries", 5)),
                    retry_base_s=float(o.get("retry_base_seconds", 1.0)),
                    retry_max_s=float(o.get("retry_max_seconds", 60.0)), redact=self.redact, source=self.name)
            return self._client

    def interrupt(self) -> None:
        client = self._client
        if client is not None:
            client.stop()

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- the protocol -------------------------------------------------------------------

    def test(self) -> dict[str, Any]:
        me = self.client.myself()
        return {"site": self.options["site"], "account": me.get("displayName"), "time_zone": me.get("timeZone")}

    def discover(self) -> list[DiscoveredTable]:
        customs = self._customs()
        return [DiscoveredTable(None, name, t.schema_of(name, customs), "table", t.SPECS[name].description)
                for name in t.TABLE_NAMES]

    def schema(self, ref: TableRef) -> pa.Schema:
        name = self._table(ref)
        return t.schema_of(name, self._customs() if name == "issues" else ())

    def metadata(self, ref: TableRef) -> TableMetadata | None:
        """Rows of ``issues`` (Jira's approximate count); Jira says nothing of bytes."""
        try:
            name = self._table(ref)
            spec = t.SPECS[name]
            meta = TableMetadata(entity_type="table", description=spec.description,
                                 known_columns=[c.name for c in spec.columns])
            if name == "issues":
                meta.rows = self.client.approximate_count(self._jql(None))
            return meta
        except AgnesError as exc:
            return TableMetadata(error=self.redact(exc.message))

    def read(self, ref: TableRef, options: ReadOptions) -> Iterator[pa.RecordBatch]:
        name = self._table(ref)
        customs = self._customs() if name == "issues" else []
        schema = t.schema_of(name, customs)
        columns = options.columns or schema.names
        unknown = [c for c in columns if c not in schema.names]
        if unknown:
            raise ValidationError("columns", f"unknown columns {unknown} in jira table {name}",
                                  hint=f"columns are: {', '.join(schema.names)}")
        predicate = safe_predicate(options.filter, "duckdb") if options.filter else None
        key, after = options.incremental_key, options.incremental_after
        if key is not None and key not in schema.names:
            raise ValidationError("incremental_key", f"unknown column {key!r} in jira table {name}",
                                  hint=f"jira {name} reads incrementally by {t.SPECS[name].version}")
        since = after if key in _UPDATED_KEYS[name] and isinstance(after, datetime) else None
        return self._batches(name, schema, customs, columns, predicate, key, after, since, options.batch_size)

    # -- STREAM -------------------------------------------------------------------------

    def stream_table(self, ref: TableRef) -> StreamTable:
        spec = t.SPECS[self._table(ref)]
        return StreamTable(spec.key, spec.version)

    def authenticate_push(self, headers: Mapping[str, str], body: bytes) -> None:
        from agnes_core.connectors.jira.webhooks import verify_signature

        verify_signature(self.secret("webhook_secret"), headers, body)

    def push_changes(self, headers: Mapping[str, str], body: bytes) -> list[StreamChange]:
        from agnes_core.connectors.jira.webhooks import changes_of

        return changes_of(headers, body, self._customs)

    # -- internals ----------------------------------------------------------------------

    def _table(self, ref: TableRef) -> str:
        if ref.bucket is None and ref.name in t.SPECS:
            return ref.name
        raise NotFound(f"jira source {self.name!r} has no table {ref.display()!r}",
                       hint=f"jira tables are: {', '.join(t.TABLE_NAMES)} (without a bucket)",
                       details={"source": self.name, "table": ref.display()})

    def _customs(self) -> list[t.CustomField]:
        """The site's custom fields (cached for a few minutes per site and account)."""
        cache_key = (self.options["site"], self.secrets.get("email", ""))
        now = time.monotonic()
        with _FIELDS_LOCK:
            cached = _FIELDS.get(cache_key)
        if cached is None or now - cached[0] > FIELDS_TTL_S:
            cached = (now, self.client.fields())
            with _FIELDS_LOCK:
                _FIELDS[cache_key] = cached
        return t.custom_fields(cached[1])

    def _jql(self, since: datetime | None) -> str:
        clauses = []
        projects = self.options.get("projects")
        if projects:
            clauses.append("project in (" + ", ".join(f'"{p}"' for p in projects) + ")")
        if self.options.get("jql"):
            clauses.append(f"({self.options['jql']})")
        if since is not None:
            # JQL compares times in the account's time zone, to the minute: the mark is written in
            # that zone, rounded down; rows not strictly newer are dropped after reading.
            zone = self._zone()
            clauses.append(f'updated >= "{since.astimezone(zone).strftime("%Y/%m/%d %H:%M")}"')
        return " ".join((" AND ".join(clauses), "ORDER BY updated ASC, key ASC")).strip()

    def _zone(self) -> Any:
        name = self.client.myself().get("timeZone") or "UTC"
        try:
            return ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            return timezone.utc

    def _batches(self, name: str, schema: pa.Schema, customs: list[t.CustomField], columns: list[str],
                 predicate: str | None, key: str | None, after: Any, since: datetime | None,
                 batch_size: int) -> Iterator[pa.RecordBatch]:
        spec = t.SPECS[name]
        fields = [*spec.fields, *(cf.id for cf in customs)]
        page_size = int(self.options.get("page_size", PAGE_SIZE))
        out_schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
        client = self.client
        pending: list[dict[str, Any]] = []
        yielded = False
        filt = _Filter(predicate) if predicate else None
        try:
            expand = "changelog" if name == "changelog" else None
            for page in client.search(self._jql(since), fields, expand=expand, page_size=page_size):
                rows = self._rows(name, page, customs)
                if key is not None and after is not None:
                    rows = [r for r in rows if r.get(key) is not None and r[key] > after]
                pending.extend(rows)
                while len(pending) >= min(batch_size, EMIT_ROWS):  # a batch at a time, so writing overlaps
                    size = min(batch_size, EMIT_ROWS)
                    chunk, pending = pending[:size], pending[size:]
                    batch = self._shape(chunk, schema, out_schema, filt)
                    if batch.num_rows:
                        yielded = True
                        yield batch
            if pending or not yielded:
                yield self._shape(pending, schema, out_schema, filt)
        except SourceError as exc:
            raise SourceError(self.redact(exc.message), hint=exc.hint, details=exc.details) from None
        finally:
            if filt is not None:
                filt.close()

    @staticmethod
    def _shape(rows: list[dict[str, Any]], schema: pa.Schema, out: pa.Schema, filt: _Filter | None) -> pa.RecordBatch:
        batch = t.to_batch(rows, schema)
        if filt is not None:
            batch = filt.apply(batch)
        return pa.RecordBatch.from_arrays([batch.column(n) for n in out.names], schema=out)

    def _rows(self, name: str, issues: list[dict[str, Any]], customs: list[t.CustomField]) -> list[dict[str, Any]]:
        if name == "issues":
            return [t.issue_row(issue, customs) for issue in issues]
        client = self.client
        rows: list[dict[str, Any]] = []
        for issue in issues:
            ref = t.issue_ref(issue)
            if name == "comments":
                inline = (issue.get("fields") or {}).get("comment") or {}
                listed = inline.get("comments") or []
                if int(inline.get("total") or 0) > len(listed):
                    listed = list(client.comments(str(issue["key"])))
                rows += [t.comment_row(c, ref) for c in listed]
            elif name == "changelog":
                inline = issue.get("changelog") or {}
                histories = inline.get("histories") or []
                if int(inline.get("total") or 0) > len(histories):
                    histories = list(client.changelog(str(issue["key"])))
                rows += [r for h in histories for r in t.history_rows(h, ref)]
            elif name == "remote_links":
                rows += [t.remote_link_row(link, ref) for link in client.remote_links(str(issue["key"]))]
            else:
                rows += t.child_rows(name, issue)
        return rows


class _Filter:
    """A validated predicate applied to batches in DuckDB."""

    def __init__(self, predicate: str) -> None:
        from agnes_core.store import duck

        self.con = duck.connect()
        self.con.execute("SET python_enable_replacements = false")
        self.predicate = predicate

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import duckdb

        self.con.register("_jira_rows", pa.Table.from_batches([batch]))
        try:
            result = self.con.execute(f"SELECT * FROM _jira_rows WHERE {self.predicate}").to_arrow_table()
        except duckdb.Error as exc:
            raise ValidationError("filter", f"the filter cannot run on these rows: {str(exc).splitlines()[0]}",
                                  hint="Name the table's columns and compare them with values of their type.") \
                from None
        finally:
            self.con.unregister("_jira_rows")
        result = result.cast(batch.schema)
        return result.combine_chunks().to_batches()[0] if result.num_rows else batch.slice(0, 0)

    def close(self) -> None:
        self.con.close()
