"""Keboola Storage through its REST API (the Storage API): discovery, metadata and extracts.

* **Discover**: ``GET /v2/storage/tables?include=columns,metadata,columnMetadata`` (every table in
  one call), or per bucket ``GET /v2/storage/buckets/{bucket}/tables?include=…`` when the source
  names its ``buckets``; types from the column metadata (see :mod:`.types`), descriptions from
  ``KBC.description``. ``test`` verifies the token and lists buckets (``GET /v2/storage/buckets``).
* **Metadata** (no data read): the table detail ``GET /v2/storage/tables/{id}`` — ``rowsCount``,
  ``dataSizeBytes``, ``primaryKey``, ``lastImportDate``/``lastChangeDate``.
* **Read** (extracts): ``POST /v2/storage/tables/{id}/export-async`` (gzipped CSV of the chosen
  columns, filtered by ``whereFilters`` and ``changedSince``), the job polled with back-off, the
  file fetched with ``GET /v2/storage/files/{id}?federationToken=1``, and every slice of a sliced
  file downloaded (``parallel_slices`` at a time, in order) and parsed by Arrow's streaming CSV
  reader into typed batches (see :mod:`.files`): memory holds a few slices' compressed bytes and
  the batches in flight, never the table.
* **Remote** queries are not offered: see :data:`REMOTE_NOTE`.

Incremental extracts (a table registered with ``incremental_key`` and ``primary_key``): the
runtime hands the key's high-water mark; the export asks only for rows past it — a
``whereFilters`` entry ``{column: key, operator: gt, values: [mark]}`` (typed for numeric keys)
— and, when the key is a TIMESTAMP or DATE column, also ``changedSince`` = the mark minus
``changed_since_margin_s`` (default one day), so Keboola only scans rows imported or changed since
then. That is sound whenever the key records when a row changed and Keboola imported the row no
earlier than that; the margin absorbs time zones and clock skew between the two (set it to -1 to
never send ``changedSince``). The batches are filtered again by the key, so the runtime gets only
newer rows, and it merges them into the previous extract by primary key (an upsert).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from agnes_core.connectors.base import (
    Capability,
    Connector,
    DiscoveredTable,
    FormField,
    ReadOptions,
    TableMetadata,
    TableRef,
)
from agnes_core.connectors.keboola import files, types
from agnes_core.connectors.keboola.client import (
    DEFAULT_BACKOFF_S,
    DEFAULT_JOB_TIMEOUT_S,
    DEFAULT_RETRIES,
    Stopped,
    StorageClient,
    iter_chunks,
)
from agnes_core.errors import AgnesError, NotFound, NotSupported, SourceError, ValidationError
from agnes_core.ids import PHYSICAL_NAME_RE

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

#: Bucket ids: a stage, a dot and the bucket's name (``in.c-main``, ``out.c-reports``).
BUCKET_ID_RE = re.compile(r"^(in|out|sys)\.[A-Za-z0-9_-]{1,96}$")
#: Table names inside a bucket.
TABLE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,96}$")
DEFAULT_MARGIN_S = 86_400.0
#: How many bytes of CSV Arrow parses at once (a batch is at most this much text).
CSV_BLOCK_BYTES = 8 << 20
#: Slices downloaded and parsed side by side (each on a thread of its own, in order).
DEFAULT_PARALLEL_SLICES = 2
#: Batches a slice running ahead may hold before it waits for the reader.
QUEUED_BATCHES = 2
_END = object()
REMOTE_NOTE = (
    "Remote queries on Keboola would need Keboola's DuckDB extension (the connector kit's remote path), which "
    "is a community extension that cannot be installed here, or a read-only workspace (a Snowflake or BigQuery "
    "schema loaded from Storage) with its own credentials. Register the table with query_mode local: extracts "
    "read it through the Storage API's exports.")
_OPERATORS = {"EQ": "eq", "NEQ": "ne", "GT": "gt", "GTE": "ge", "LT": "lt", "LTE": "le"}
_FLIPPED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


class KeboolaConnector(Connector):
    """Options: ``url`` (required: the stack's connection URL, e.g. https://connection.keboola.com),
    ``buckets`` (bucket ids to discover; default all), ``retries``, ``backoff_s`` (the first retry's
    delay), ``job_timeout_s``, ``job_poll_s`` (the first wait before polling an export job; it
    doubles up to 5 s), ``parallel_slices`` (slices downloaded and parsed side by side, default 2),
    ``changed_since_margin_s``, ``object_endpoint`` (a private or test endpoint for the stack's file
    storage), ``batch_rows``. Secrets: ``token`` — the NAME of an environment variable holding a
    Storage API token (read access to the buckets and files)."""

    type = "keboola"
    capabilities = frozenset({Capability.DISCOVER, Capability.READ, Capability.METADATA})
    #: Keboola's default backend (a filter on an export is parsed in it, then sent as whereFilters).
    dialect = "snowflake"
    secret_names = ("token",)
    required_secrets = ("token",)
    title = "Keboola Storage"
    type_names = {"bool": "BOOLEAN", "int8": "NUMBER", "int16": "NUMBER", "int32": "NUMBER", "int64": "NUMBER",
                  "uint8": "NUMBER", "uint16": "NUMBER", "uint32": "NUMBER", "uint64": "NUMBER",
                  "float16": "FLOAT", "float32": "FLOAT", "float64": "FLOAT", "string": "VARCHAR",
                  "binary": "BINARY", "date": "DATE", "time": "TIME", "timestamp": "TIMESTAMP_NTZ",
                  "timestamptz": "TIMESTAMP_TZ", "interval": "VARCHAR", "json": "VARIANT", "uuid": "VARCHAR",
                  "null": "VARCHAR"}
    option_fields = (
        FormField("url", "The stack's connection URL.", required=True, placeholder="https://connection.keboola.com"),
        FormField("buckets", "Bucket ids to discover, comma-separated (empty: all).", kind="list",
                  placeholder="in.c-main, out.c-reports"),
        FormField("job_timeout_s", "How long an export job may take, in seconds.", kind="integer",
                  placeholder=str(int(DEFAULT_JOB_TIMEOUT_S))),
        FormField("changed_since_margin_s", "Incremental extracts by a timestamp key also send changedSince = "
                  "the high-water mark minus this many seconds (-1: never).", kind="integer",
                  placeholder=str(int(DEFAULT_MARGIN_S))),
    )
    secret_fields = (
        FormField("token", "A Storage API token (read access to the buckets and files) is read from this "
                  "environment variable of the server.", required=True, placeholder="KBC_TOKEN"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: StorageClient | None = None
        self._lock = threading.Lock()
        #: Short-lived credentials of exported files (never shown: redacted like the token).
        self._file_secrets: list[str] = []

    # -- configuration ------------------------------------------------------------------

    @classmethod
    def validate_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        url = options.get("url")
        if not isinstance(url, str) or not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/]*)?", url):
            raise ValidationError("options.url", "url must be the stack's http(s) connection URL",
                                  hint='e.g. "url": "https://connection.keboola.com" (or .eu-central-1.keboola.com, '
                                  '.north-europe.azure.keboola.com, ...)')
        buckets = options.get("buckets")
        if buckets is not None:
            if isinstance(buckets, str):
                buckets = [b.strip() for b in buckets.split(",") if b.strip()]
            if not isinstance(buckets, list) or not all(isinstance(b, str) and BUCKET_ID_RE.match(b)
                                                        for b in buckets):
                raise ValidationError("options.buckets", "buckets must be a list of bucket ids",
                                      hint='e.g. "buckets": ["in.c-main", "out.c-reports"]')
        for key, low in (("retries", 0), ("backoff_s", 0), ("job_timeout_s", 1), ("job_poll_s", 0),
                         ("changed_since_margin_s", -1), ("batch_rows", 1), ("parallel_slices", 1)):
            value = options.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < low):
                raise ValidationError(f"options.{key}", f"{key} must be a number >= {low}")
        endpoint = options.get("object_endpoint")
        if endpoint is not None and (not isinstance(endpoint, str)
                                     or not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+/?", endpoint)):
            raise ValidationError("options.object_endpoint", "object_endpoint must be an http(s) URL (scheme, host "
                                  "and port)")
        out = dict(options)
        if buckets is not None:
            out["buckets"] = buckets
        return out

    @property
    def url(self) -> str:
        return str(self.options["url"]).rstrip("/")

    def _table_id(self, ref: TableRef) -> str:
        if not ref.bucket or not BUCKET_ID_RE.match(ref.bucket):
            raise ValidationError("bucket", f"keboola tables live in a bucket: {ref.bucket!r} is not a bucket id",
                                  hint='Register the table with its bucket id as the bucket, e.g. "bucket": '
                                  '"in.c-main", "source_table": "orders".')
        if not TABLE_NAME_RE.match(ref.name):
            raise ValidationError("source_table", f"{ref.name!r} is not a Keboola table name",
                                  hint="Table names are letters, digits, _ and -.")
        return f"{ref.bucket}.{ref.name}"

    # -- secrets, errors, the client -----------------------------------------------------

    def redact(self, text: str) -> str:
        text = super().redact(text)
        for value in self._file_secrets:
            text = text.replace(value, "<file credentials>")
        return text

    def _unsupported(self, capability: Capability) -> NotSupported:
        if capability is Capability.REMOTE:
            return NotSupported(f"keboola sources do not run remote queries (source {self.name!r})",
                                hint=REMOTE_NOTE, details={"source": self.name, "capability": capability.value})
        return NotSupported(f"keboola sources do not support {capability.value}",
                            hint="Keboola tables are discovered and extracted (query_mode local).",
                            details={"source": self.name, "capability": capability.value})

    def client(self) -> StorageClient:
        with self._lock:
            if self._client is None:
                token = self.secret("token")
                opts = self.options
                self._client = StorageClient(
                    self.url, token, source=self.name, env_var=self.secrets["token"],
                    retries=int(opts.get("retries", DEFAULT_RETRIES)),
                    backoff_s=float(opts.get("backoff_s", DEFAULT_BACKOFF_S)),
                    job_timeout_s=float(opts.get("job_timeout_s", DEFAULT_JOB_TIMEOUT_S)), redact=self.redact)
                if opts.get("job_poll_s") is not None:
                    self._client.poll_first_s = float(opts["job_poll_s"])
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def interrupt(self) -> None:
        with self._lock:
            client = self._client
        if client is not None:
            client.stop()

    def _stopped(self, what: str) -> SourceError:
        return SourceError(f"keboola source {self.name!r}: {what} was stopped",
                           hint="The server is stopping or the call took too long; try again.",
                           details={"source": self.name})

    def _detail(self, ref: TableRef) -> dict[str, Any]:
        table_id = self._table_id(ref)
        try:
            return dict(self.client().get(f"/v2/storage/tables/{quote(table_id, safe='')}",
                                          f"table {table_id}", source_table=table_id))
        except NotFound:
            raise NotFound(f"keboola source {self.name!r} has no table {table_id!r}",
                           hint="Check the bucket and table ids, or run discovery on the source to list them.",
                           details={"bucket": ref.bucket, "source_table": ref.name}) from None
        except Stopped:
            raise self._stopped(f"reading table {table_id}") from None

    # -- the protocol ----------------------------------------------------------------------

    def test(self) -> dict[str, Any]:
        """``GET /v2/storage/tokens/verify``: the token's project, and how many buckets it sees."""
        try:
            token = self.client().get("/v2/storage/tokens/verify", "verifying the token")
            buckets = self.client().get("/v2/storage/buckets", "listing buckets")
        except Stopped:
            raise self._stopped("the test") from None
        owner = token.get("owner") or {}
        return {"url": self.url, "project": owner.get("name"), "project_id": owner.get("id"),
                "token": token.get("description"), "buckets": len(buckets)}

    def _listings(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(bucket id, its tables): one call for every table of the project, or one per bucket
        when the source names its buckets."""
        include = {"include": "columns,metadata,columnMetadata"}
        if self.options.get("buckets"):
            for bucket in self.options["buckets"]:
                yield bucket, self.client().get(f"/v2/storage/buckets/{quote(bucket, safe='')}/tables",
                                                f"listing bucket {bucket}", params=include, bucket=bucket)
            return
        by_bucket: dict[str, list[dict[str, Any]]] = {}
        for table in self.client().get("/v2/storage/tables", "listing tables", params=include):
            by_bucket.setdefault(str(table.get("id", "")).rpartition(".")[0], []).append(table)
        yield from sorted(by_bucket.items())

    def discover(self) -> list[DiscoveredTable]:
        """Every table the token can read (``GET /v2/storage/tables``, or per bucket ``GET
        /v2/storage/buckets/{id}/tables`` when the source names buckets), columns and metadata
        included: one call, not one per table."""
        out = []
        try:
            for bucket, tables in self._listings():
                if not BUCKET_ID_RE.match(bucket):
                    continue
                for table in tables:
                    name = str(table.get("name") or "")
                    if not (TABLE_NAME_RE.match(name) and PHYSICAL_NAME_RE.match(name)):
                        continue
                    schema = types.arrow_schema(table)
                    if len(schema) == 0:
                        continue
                    out.append(DiscoveredTable(bucket, name, schema, "view" if table.get("isAlias") else "table",
                                               types.table_description(table)))
        except Stopped:
            raise self._stopped("discovery") from None
        return out

    def schema(self, ref: TableRef) -> pa.Schema:
        return types.arrow_schema(self._detail(ref))

    @classmethod
    def column_type(cls, field: pa.Field) -> str:
        native = (field.metadata or {}).get(types.FIELD_NATIVE)
        return native.decode() if native else super().column_type(field)

    def metadata(self, ref: TableRef) -> TableMetadata | None:
        """From the table detail. Keboola reports one size, ``dataSizeBytes`` (the backend's), used as
        both sizes: it is all the API says."""
        try:
            table = self._detail(ref)
        except Exception as exc:  # noqa: BLE001 - metadata providers never raise
            reason = self.redact(exc.message if isinstance(exc, AgnesError) else f"{type(exc).__name__}: {exc}")
            log.warning("keboola metadata for %s failed: %s", ref.display(), reason)
            return TableMetadata(error=reason)
        size = table.get("dataSizeBytes")
        return TableMetadata(rows=_int(table.get("rowsCount")), size_bytes=_int(size),
                             entity_type="view" if table.get("isAlias") else "table",
                             known_columns=[str(c) for c in table.get("columns") or ()],
                             description=types.table_description(table) or None, uncompressed_bytes=_int(size),
                             changed_at=types.changed_at(table))

    # -- reading ---------------------------------------------------------------------------

    def read(self, ref: TableRef, options: ReadOptions) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        table = self._detail(ref)
        full = types.arrow_schema(table)
        wanted = list(options.columns) if options.columns is not None else list(full.names)
        unknown = [c for c in wanted if c not in full.names]
        if unknown:
            raise ValidationError("columns", f"unknown columns {unknown} in {ref.display()}",
                                  hint=f"columns are: {', '.join(full.names)}")
        schema = pa.schema([full.field(c) for c in wanted], metadata=full.metadata)
        where = _where_filters(options.filter, full, self.dialect) if options.filter else []
        body: dict[str, Any] = {"format": "rfc", "gzip": True}
        key = options.incremental_key
        after = options.incremental_after
        if key:
            if key not in full.names:
                raise ValidationError("incremental_key", f"unknown column {key!r} in {ref.display()}",
                                      hint=f"columns are: {', '.join(full.names)}")
            if after is not None:
                where.append(_filter(key, "gt", [after], full.field(key).type))
                since = self._changed_since(full.field(key), after)
                if since:
                    body["changedSince"] = since
        # The export reads the wanted columns (and the key, to filter by it again) in table order.
        needed = [c for c in full.names if c in wanted or (key and after is not None and c == key)]
        if needed != list(full.names):
            body["columns"] = needed
        if where:
            body["whereFilters"] = where
        read_schema = pa.schema([full.field(c) for c in needed], metadata=full.metadata)
        size = max(1, options.batch_size)
        return self._export_batches(ref, body, read_schema, schema, size, key if after is not None else None, after)

    def _changed_since(self, field: pa.Field, after: Any) -> str | None:
        margin = float(self.options.get("changed_since_margin_s", DEFAULT_MARGIN_S))
        if margin < 0:
            return None
        base = (field.metadata or {}).get(types.FIELD_BASETYPE, b"").decode()
        if base not in ("TIMESTAMP", "DATE"):
            return None
        if isinstance(after, dt.datetime):
            when = after if after.tzinfo else after.replace(tzinfo=dt.timezone.utc)
        elif isinstance(after, dt.date):
            when = dt.datetime(after.year, after.month, after.day, tzinfo=dt.timezone.utc)
        else:
            return None
        return (when - dt.timedelta(seconds=margin)).astimezone(dt.timezone.utc).isoformat()

    def _export_batches(self, ref: TableRef, body: dict[str, Any], read_schema: pa.Schema, schema: pa.Schema,
                        size: int, key: str | None, after: Any) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        table_id = self._table_id(ref)
        yielded = False
        try:
            for batch in self._slices_batches(table_id, body, read_schema):
                if key is not None:
                    batch = _newer(batch, key, after)
                if list(batch.schema.names) != list(schema.names):
                    batch = pa.RecordBatch.from_arrays([batch.column(n) for n in schema.names], schema=schema)
                for start in range(0, batch.num_rows, size):
                    yielded = True
                    yield batch.slice(start, size)
        except Stopped:
            raise self._stopped(f"the export of {table_id}") from None
        if not yielded:
            yield pa.RecordBatch.from_pylist([], schema=schema)

    def _slices_batches(self, table_id: str, body: dict[str, Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        import pyarrow.csv as pcsv

        client = self.client()
        what = f"exporting {table_id}"
        job = client.post(f"/v2/storage/tables/{quote(table_id, safe='')}/export-async", what, body,
                          source_table=table_id)
        job = client.wait_job(job, what, source_table=table_id)
        file_id = ((job.get("results") or {}).get("file") or {}).get("id")
        if file_id is None:
            raise SourceError(f"keboola source {self.name!r}: {what}: the job names no exported file",
                              hint="Run the extract again; if it persists, the stack's API has changed.",
                              details={"source": self.name, "job_id": job.get("id")})
        detail = client.get(f"/v2/storage/files/{quote(str(file_id), safe='')}", f"{what} (file {file_id})",
                            params={"federationToken": 1})
        self._file_secrets.extend(s for s in files.file_secrets(detail) if s not in self._file_secrets)
        if detail.get("isSliced"):
            with client.open_download(str(detail["url"]), f"{what}: the manifest") as manifest:
                entries = manifest.json().get("entries") or []
            endpoint = self.options.get("object_endpoint")
            slices = [files.resolve(str(e["url"]), detail, object_endpoint=endpoint, source=self.name)
                      for e in entries]
        else:
            slices = [files.Slice(str(detail["url"]))]
        names = list(schema.names)
        convert = pcsv.ConvertOptions(column_types=types.csv_types(schema), null_values=[""],
                                      strings_can_be_null=False,
                                      true_values=["true", "1", "TRUE", "True"],
                                      false_values=["false", "0", "FALSE", "False"])
        parse = pcsv.ParseOptions(newlines_in_values=True)

        def one(index: int, piece: files.Slice) -> Iterator[pa.RecordBatch]:
            where = f"{what}: slice {index + 1} of {len(slices)} ({piece.where})"
            response = client.open_download(piece.url, where, headers=piece.headers)
            stream: files.SliceStream | None = None
            try:
                stream = files.SliceStream(iter_chunks(response), files.header_variants(names) if index == 0 else ())
                response.close()
                if stream.empty:
                    return
                reader = pcsv.open_csv(files.decompressed(stream),
                                       read_options=pcsv.ReadOptions(column_names=names, block_size=CSV_BLOCK_BYTES,
                                                                     skip_rows=1 if stream.header_skipped else 0),
                                       parse_options=parse, convert_options=convert)
                for batch in reader:
                    yield types.finish_batch(batch, schema)
            except (Stopped, AgnesError):
                raise
            except Exception as exc:  # noqa: BLE001 - urllib3, zlib, Arrow: a failed slice fails the read
                if client._stop.is_set():
                    raise Stopped() from None
                raise SourceError(f"keboola source {self.name!r}: {where}: "
                                  + self.redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:400],
                                  hint="The download failed or the file is not the CSV Keboola exports; the "
                                  "previous extract is kept. Run the extract again.",
                                  details={"source": self.name, "source_table": table_id, "slice": index + 1}) \
                    from None
            finally:
                response.close()
                if stream is not None:
                    stream.close()

        parallel = int(self.options.get("parallel_slices", DEFAULT_PARALLEL_SLICES))
        yield from _in_order([functools.partial(one, i, piece) for i, piece in enumerate(slices)], parallel)


def _in_order(producers: list[Callable[[], Iterator[Any]]], parallel: int) -> Iterator[Any]:
    """The items of every producer, producer after producer, with up to ``parallel`` of them
    running ahead on threads of their own (each holds at most :data:`QUEUED_BATCHES` items), so
    slices download and parse side by side while memory stays bounded. A failure is raised where
    its producer's items would have come; closing the iterator stops every producer."""
    if parallel <= 1 or len(producers) <= 1:
        for produce in producers:
            yield from produce()
        return
    queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=QUEUED_BATCHES) for _ in producers]
    cancel = threading.Event()

    def put(q: queue.Queue[Any], item: Any) -> bool:
        while not cancel.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work(i: int) -> None:
        try:
            for item in producers[i]():
                if not put(queues[i], item):
                    return
            put(queues[i], _END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(queues[i], exc)

    threads: list[threading.Thread] = []

    def start(i: int) -> None:
        thread = threading.Thread(target=work, args=(i,), name=f"agnes-keboola-slice-{i}", daemon=True)
        thread.start()
        threads.append(thread)

    for i in range(min(parallel, len(producers))):
        start(i)
    try:
        for i in range(len(producers)):
            while True:
                item = queues[i].get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
            if i + parallel < len(producers):
                start(i + parallel)
    finally:
        cancel.set()
        for q in queues:
            with contextlib.suppress(queue.Empty):
                while True:
                    q.get_nowait()
        for thread in threads:
            thread.join(timeout=5)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


# -- filters -----------------------------------------------------------------------------------


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, Decimal)):
        return str(value)
    return str(value)


def _filter(column: str, operator: str, values: list[Any], t: pa.DataType) -> dict[str, Any]:
    """One ``whereFilters`` entry; numeric columns compare as numbers (``dataType``)."""
    import pyarrow as pa

    entry: dict[str, Any] = {"column": column, "operator": operator, "values": [_value_text(v) for v in values]}
    if pa.types.is_integer(t):
        entry["dataType"] = "INTEGER"
    elif pa.types.is_floating(t) or pa.types.is_decimal(t):
        entry["dataType"] = "DOUBLE"
    return entry


def _where_filters(text: str, schema: pa.Schema, dialect: str) -> list[dict[str, Any]]:
    """A filter (the safe predicate AST) as Storage API ``whereFilters``: comparisons of a column
    with values (``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``, ``IN``, ``NOT IN``) joined by AND.
    Anything else is refused: an export cannot filter by it."""
    import sqlglot
    from sqlglot import exp

    from agnes_core.sqlsafe import safe_predicate

    tree = sqlglot.parse_one(safe_predicate(text, dialect), read=dialect)
    out = []
    for part in tree.flatten() if isinstance(tree, exp.And) else [tree]:
        entry = _comparison(part, schema)
        if entry is None:
            raise ValidationError("filter", f"a Keboola export cannot filter by {part.sql(dialect=dialect)!r}",
                                  hint="Keboola filters exports by comparisons of one column with values "
                                  "(=, <>, <, <=, >, >=, IN, NOT IN) joined by AND.",
                                  fragment=part.sql(dialect=dialect))
        out.append(entry)
    return out


def _comparison(node: Any, schema: pa.Schema) -> dict[str, Any] | None:
    from sqlglot import exp

    negated = False
    if isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Not) and isinstance(node.this, exp.In):
        node, negated = node.this, True
    if isinstance(node, exp.In):
        if node.args.get("query") or not isinstance(node.this, exp.Column):
            return None
        values = [_literal(v) for v in node.expressions]
        if not values or any(v is None for v in values):
            return None
        column = _column(node.this, schema)
        return None if column is None else _filter(column, "ne" if negated else "eq", values,
                                                   schema.field(column).type)
    operator = _OPERATORS.get(type(node).__name__.upper())
    if operator is None:
        return None
    left, right = node.this, node.expression
    if isinstance(right, exp.Column) and not isinstance(left, exp.Column):
        left, right, operator = right, left, _FLIPPED[operator]
    if not isinstance(left, exp.Column):
        return None
    value = _literal(right)
    column = _column(left, schema)
    if value is None or column is None:
        return None
    return _filter(column, operator, [value], schema.field(column).type)


def _column(node: Any, schema: pa.Schema) -> str | None:
    if node.table:
        return None
    name = str(node.name)
    if name not in schema.names:
        raise ValidationError("filter", f"unknown column {name!r} in the filter",
                              hint=f"columns are: {', '.join(schema.names)}")
    return name


def _literal(node: Any) -> str | None:
    """A literal's text: numbers, strings, negative numbers, booleans, DATE '…'/TIMESTAMP '…'."""
    from sqlglot import exp

    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return "-" + str(node.this.this)
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return str(node.this.this)
    return None


def _newer(batch: pa.RecordBatch, key: str, after: Any) -> pa.RecordBatch:
    """Only the rows whose key is past the high-water mark (the export's filter, checked again)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column(key)
    t = column.type
    if pa.types.is_timestamp(t) and isinstance(after, dt.datetime):
        if t.tz is not None and after.tzinfo is None:
            after = after.replace(tzinfo=dt.timezone.utc)
        elif t.tz is None and after.tzinfo is not None:
            after = after.astimezone(dt.timezone.utc).replace(tzinfo=None)
    try:
        mark = pa.scalar(after).cast(t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
        mark = pa.scalar(_value_text(after)).cast(t)
    keep = pc.fill_null(pc.greater(column, mark), False)
    return batch.filter(keep)
