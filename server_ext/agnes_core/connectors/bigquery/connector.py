"""BigQuery through the official clients: ``google-cloud-bigquery`` for jobs and metadata, the
Storage Read API (``google-cloud-bigquery-storage``, Arrow format) for bulk reads.

Chosen over the ADBC BigQuery driver because the official clients expose what the gate needs and
ADBC does not: dry runs with ``totalBytesProcessedAccuracy``, ``maximum_bytes_billed``, labels and
job id prefixes on every job, job statistics (billed bytes, cache hits) and job cancellation.

BigQuery is the one source where a careless query costs money, so:

* metadata never runs a billed scan over data: ``INFORMATION_SCHEMA.TABLE_STORAGE`` (one job per
  dataset, region-qualified, with ``TABLE_OPTIONS``, ``COLUMNS`` and ``PARTITIONS`` joined in) with
  ``__TABLES__`` as the fallback, and ``tables.get`` for what those cannot say;
* estimates are BigQuery's own dry run (``dryRun``, ``useQueryCache: false``);
* every job carries ``maximum_bytes_billed`` (the scan cap, lowered by what the gate passes in the
  guard), labels (``agnes_user``, ``agnes_scan_id``, ``agnes_table``) and an ``agnes_`` job id prefix;
* samples of tables read rows without a job (Storage Read session / ``tabledata.list``); samples
  of views run a ``LIMIT`` query only after a dry run says it stays under a small cap.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from agnes_core.connectors.base import (
    Capability,
    Connector,
    DiscoveredTable,
    FormField,
    ReadOptions,
    ScanBilling,
    ScanEstimate,
    ScanGuard,
    TableMetadata,
    TableRead,
    TableRef,
    changed_at_metadata,
)
from agnes_core.connectors.bigquery import auth
from agnes_core.connectors.bigquery.types import NATIVE_TYPE, arrow_schema, logical_row_bytes
from agnes_core.errors import (
    AgnesError,
    NotFound,
    ScanCancelled,
    ScanTooLarge,
    SourceError,
    SourceTimeout,
    ValidationError,
)
from agnes_core.gate.limits import GIB, TIB, human_bytes
from agnes_core.ids import PHYSICAL_NAME_RE
from agnes_core.sqlsafe import safe_predicate

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

DEFAULT_PRICE_PER_TIB_USD = 6.25
DEFAULT_LOCATION = "US"
#: ``maximum_bytes_billed`` of a job when neither the gate nor the source says less (the gate's
#: default per-scan cap).
DEFAULT_MAX_BYTES_BILLED = 5 * GIB
#: A view's sample runs only if its dry run says it reads at most this.
SAMPLE_VIEW_MAX_BYTES = 100 * 1024 * 1024
#: How long a job may run unless the guard says less.
DEFAULT_JOB_TIMEOUT_S = 300.0
#: Per API call (REST / gRPC), retries included.
DEFAULT_API_TIMEOUT_S = 60.0
#: Rate-limit and quota errors are retried with back-off for this long, then reported.
DEFAULT_RETRY_SECONDS = 30.0
#: How long a dataset's storage figures are reused (a refresh of its tables makes one query).
DATASET_CACHE_S = 60.0
JOB_PREFIX = "agnes_"
ENTITY = {"TABLE": "table", "VIEW": "view", "MATERIALIZED_VIEW": "materialized_view", "EXTERNAL": "external",
          "SNAPSHOT": "table", "CLONE": "table", "BASE TABLE": "table", "MATERIALIZED VIEW": "materialized_view"}
#: Entities read through the Storage Read API; the rest through a query job.
STORAGE_READABLE = ("TABLE", "SNAPSHOT", "CLONE", "BASE TABLE")
RATE_REASONS = ("rateLimitExceeded", "quotaExceeded", "backendError", "internalError", "jobRateLimitExceeded")
_LABEL_RE = re.compile(r"[^a-z0-9_-]")
_TOKEN_RE = re.compile(r"ya29\.[A-Za-z0-9._-]+")

#: Per (source, project, location, dataset): when its figures were fetched, and them (None: neither
#: TABLE_STORAGE nor __TABLES__ answered — kept too, so 200 tables do not make 400 failing jobs).
_DATASETS: dict[tuple[str, str, str, str], tuple[float, dict[str, dict[str, Any]] | None]] = {}
_DATASET_LOCKS: dict[tuple[str, str, str, str], threading.Lock] = {}
_DATASETS_LOCK = threading.Lock()

_STORAGE_SQL = """
SELECT s.table_name, s.table_type, s.total_rows, s.total_logical_bytes, s.total_physical_bytes,
  s.storage_last_modified_time AS last_modified, o.option_value AS description,
  c.partition_columns, c.clustering_columns, c.column_names,
  p.partitions, p.min_partition, p.max_partition
FROM `{project}`.`region-{region}`.INFORMATION_SCHEMA.TABLE_STORAGE AS s
LEFT JOIN `{project}`.`{dataset}`.INFORMATION_SCHEMA.TABLE_OPTIONS AS o
  ON o.table_name = s.table_name AND o.option_name = 'description'
LEFT JOIN (SELECT table_name,
    ARRAY_TO_STRING(ARRAY_AGG(IF(is_partitioning_column = 'YES', column_name, NULL) IGNORE NULLS), ',')
      AS partition_columns,
    ARRAY_TO_STRING(ARRAY_AGG(IF(clustering_ordinal_position IS NOT NULL, column_name, NULL) IGNORE NULLS
      ORDER BY clustering_ordinal_position), ',') AS clustering_columns,
    ARRAY_TO_STRING(ARRAY_AGG(column_name ORDER BY ordinal_position), ',') AS column_names
  FROM `{project}`.`{dataset}`.INFORMATION_SCHEMA.COLUMNS GROUP BY table_name) AS c ON c.table_name = s.table_name
LEFT JOIN (SELECT table_name, COUNT(*) AS partitions, MIN(partition_id) AS min_partition,
    MAX(partition_id) AS max_partition
  FROM `{project}`.`{dataset}`.INFORMATION_SCHEMA.PARTITIONS
  WHERE partition_id NOT IN ('__NULL__', '__UNPARTITIONED__') GROUP BY table_name) AS p
  ON p.table_name = s.table_name
WHERE s.table_schema = @dataset AND NOT s.deleted
"""
_TABLES_SQL = ("SELECT table_id AS table_name, type, row_count, size_bytes, last_modified_time "
               "FROM `{project}`.`{dataset}`.__TABLES__")
_TABLES_TYPES = {1: "TABLE", 2: "VIEW", 3: "EXTERNAL"}


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="bigquery")


def _literal(value: Any) -> str:
    return exp.convert(value).sql(dialect="bigquery")


def _label(value: Any) -> str:
    """A BigQuery label value: lower case letters, digits, ``_`` and ``-``, at most 63 characters."""
    return _LABEL_RE.sub("_", str(value).lower())[:63]


def _reason(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None) or []
    for e in errors:
        if isinstance(e, dict) and e.get("reason"):
            return str(e["reason"])
    return ""


class BigQueryConnector(Connector):
    """Options: ``project`` (required), ``location`` (default US), ``dataset`` (the dataset of a table
    registered without one), ``datasets`` (to discover; default all), ``price_per_tib_usd`` (default
    6.25, on-demand), ``endpoint`` (the REST endpoint of an emulator or a private endpoint),
    ``storage_endpoint`` (the Storage Read API's ``host:port`` there), ``auth`` (``auto``, ``key``,
    ``metadata_server``, ``adc``, ``anonymous`` — the last only with ``endpoint``), ``metadata_host``,
    ``maximum_bytes_billed`` (a cap for every job, lowered by the gate's), ``retry_seconds``,
    ``limits``. Secrets: ``credentials`` — the NAME of an environment variable holding a service
    account key file's path or the key's JSON."""

    type = "bigquery"
    capabilities = frozenset({Capability.DISCOVER, Capability.READ, Capability.REMOTE,
                              Capability.METADATA, Capability.ESTIMATE})
    dialect = "bigquery"
    default_price_per_tib_usd = DEFAULT_PRICE_PER_TIB_USD
    secret_names = ("credentials",)
    title = "Google BigQuery"
    dialect_notes = {
        "identifier_quote": "`", "string_quote": "'",
        "notes": ["Quote names with backticks: `dataset`.`table`; identifiers are case-sensitive for tables.",
                  "Dates: DATE '2026-01-31'; timestamps: TIMESTAMP '2026-01-31 12:00:00+00'.",
                  "Filter on the partition column (e.g. WHERE event_date >= DATE '2026-01-01') and select only "
                  "the columns you need: BigQuery bills the bytes of the columns read.",
                  "LIMIT does not lower the bytes a query is billed for."]}
    type_names = {"bool": "BOOL", "int8": "INT64", "int16": "INT64", "int32": "INT64", "int64": "INT64",
                  "uint8": "INT64", "uint16": "INT64", "uint32": "INT64", "uint64": "NUMERIC",
                  "float16": "FLOAT64", "float32": "FLOAT64", "float64": "FLOAT64", "string": "STRING",
                  "binary": "BYTES", "date": "DATE", "time": "TIME", "timestamp": "DATETIME",
                  "timestamptz": "TIMESTAMP", "interval": "INTERVAL", "json": "JSON", "uuid": "STRING",
                  "null": "INT64"}
    option_fields = (
        FormField("project", "The Google Cloud project that runs the jobs (and holds the data).", required=True,
                  placeholder="my-project"),
        FormField("location", "The datasets' location (US, EU, europe-west1, ...).", placeholder=DEFAULT_LOCATION),
        FormField("dataset", "The dataset of tables registered without one.", placeholder="analytics"),
        FormField("datasets", "Datasets to discover, comma-separated (empty: all).", kind="list",
                  placeholder="analytics, sales"),
        FormField("price_per_tib_usd", "On-demand price per TiB scanned, for cost estimates.", kind="text",
                  placeholder=str(DEFAULT_PRICE_PER_TIB_USD)),
        FormField("maximum_bytes_billed", "A cap on every job's billed bytes (the gate's per-scan cap lowers it).",
                  kind="integer", placeholder=str(DEFAULT_MAX_BYTES_BILLED)),
        FormField("endpoint", "An emulator's or private endpoint's REST URL (empty: Google's).",
                  placeholder="https://bigquery.googleapis.com"),
        FormField("storage_endpoint", "The Storage Read API's host:port at that endpoint.",
                  placeholder="bigquerystorage.googleapis.com:443"),
        FormField("auth", "Which credentials to use (auto: key, metadata server, then ADC).", kind="choice",
                  choices=auth.AUTH_MODES),
    )
    secret_fields = (
        FormField("credentials", "A service-account key — its file's path or its JSON — is read from this "
                  "environment variable of the server (empty: metadata server or ADC).",
                  placeholder="BQ_KEY"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bq: Any = None
        self._read_client: Any = None
        self._how: str | None = None
        self._job: Any = None
        self._stream: Any = None
        self._stopped = False
        self._lock = threading.Lock()
        #: The last job's statistics (bytes processed and billed, cache hit), for the scan record.
        self.job_statistics: dict[str, Any] | None = None
        self._scan_job: Any = None

    # -- configuration ------------------------------------------------------------------

    @classmethod
    def validate_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        project = options.get("project")
        if not isinstance(project, str) or not re.fullmatch(r"[a-z][a-z0-9.:-]{4,61}[a-z0-9]|[a-z0-9-]{1,63}",
                                                             project or ""):
            raise ValidationError("options.project", "project must be a Google Cloud project id",
                                  hint='e.g. "project": "my-project"')
        for key in ("location", "dataset"):
            value = options.get(key)
            if value is not None and (not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,1024}", value)):
                raise ValidationError(f"options.{key}", f"{key} must be a BigQuery {key} name")
        datasets = options.get("datasets")
        if datasets is not None and (not isinstance(datasets, list) or not all(
                isinstance(d, str) and PHYSICAL_NAME_RE.match(d) for d in datasets)):
            raise ValidationError("options.datasets", "datasets must be a list of dataset names")
        price = options.get("price_per_tib_usd")
        if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0):
            raise ValidationError("options.price_per_tib_usd", "price_per_tib_usd must be a number >= 0")
        for key in ("maximum_bytes_billed", "retry_seconds"):
            value = options.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValidationError(f"options.{key}", f"{key} must be a positive number")
        endpoint = options.get("endpoint")
        if endpoint is not None and (not isinstance(endpoint, str)
                                     or not re.fullmatch(r"https?://[^\s/]+/?", endpoint)):
            raise ValidationError("options.endpoint", "endpoint must be an http(s) URL (scheme, host and port)")
        storage = options.get("storage_endpoint")
        if storage is not None and (not isinstance(storage, str) or not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+:\d+",
                                                                                      storage)):
            raise ValidationError("options.storage_endpoint", "storage_endpoint must be host:port")
        mode = options.get("auth", "auto")
        if mode not in auth.AUTH_MODES:
            raise ValidationError("options.auth", f"auth must be one of {', '.join(auth.AUTH_MODES)}")
        if mode == "anonymous" and not endpoint:
            raise ValidationError("options.auth", "anonymous access is only for an emulator: set options.endpoint",
                                  hint="Real BigQuery needs credentials: a key named in secrets.credentials, the "
                                  "metadata server or ADC.")
        host = options.get("metadata_host")
        if host is not None and (not isinstance(host, str) or not re.fullmatch(r"(https?://)?[A-Za-z0-9.\-:\[\]]+",
                                                                                host)):
            raise ValidationError("options.metadata_host", "metadata_host must be a host[:port]")
        return dict(options)

    @property
    def project(self) -> str:
        return str(self.options["project"])

    @property
    def location(self) -> str:
        return str(self.options.get("location") or DEFAULT_LOCATION)

    def _dataset(self, ref: TableRef) -> str:
        dataset = ref.bucket or self.options.get("dataset")
        if not dataset:
            raise ValidationError("bucket", f"bigquery table {ref.name!r} names no dataset",
                                  hint="Register it with its dataset as the bucket, or set the source's "
                                  "options.dataset.")
        return str(dataset)

    def _table_id(self, ref: TableRef) -> str:
        return f"{self.project}.{self._dataset(ref)}.{ref.name}"

    def _table_sql(self, ref: TableRef) -> str:
        return f"{_ident(self.project)}.{_ident(self._dataset(ref))}.{_ident(ref.name)}"

    # -- secrets and errors ---------------------------------------------------------------

    def redact(self, text: str) -> str:
        text = super().redact(text)
        var = self.secrets.get("credentials")
        value = self._environ.get(var, "") if var else ""
        for secret in auth.key_secrets(value):
            text = text.replace(secret, f"<{var}>")
        for token in auth.known_tokens():
            text = text.replace(token, "<token>")
        return _TOKEN_RE.sub("<token>", text)

    def _error(self, what: str, exc: BaseException, ref: TableRef | None = None,
               cap: int | None = None) -> AgnesError:
        """An AgnesError for a failure of the service: what BigQuery said (redacted), with a hint."""
        from google.api_core import exceptions as gex

        if isinstance(exc, AgnesError):
            return exc
        if isinstance(exc, gex.RetryError) and exc.cause is not None:
            exc = exc.cause
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        message = self.redact(str(message).splitlines()[0])[:500]
        reason = _reason(exc)
        details: dict[str, Any] = {"source": self.name}
        if ref is not None:
            details["source_table"] = ref.display()
        if reason == "bytesBilledLimitExceeded" or "limit for bytes billed" in message:
            needed = [int(n) for n in re.findall(r"(\d+) or higher required", message)]
            figures = {"maximum_bytes_billed": cap, "bytes_needed": needed[0] if needed else None}
            return ScanTooLarge(
                f"BigQuery refused the job: it would bill more than its maximum_bytes_billed "
                f"({human_bytes(cap) if cap else 'the cap'}"
                + (f"; {human_bytes(needed[0])} or more needed" if needed else "") + ")",
                hint="Narrow it: fewer columns, a filter on the partition or cluster columns, or a shorter period.",
                details={**details, **figures, "kind": "bytes_billed"})
        if isinstance(exc, gex.NotFound) or reason == "notFound":
            return NotFound(f"bigquery source {self.name!r}: {what}: {message}",
                            hint="Check the project, dataset and table names (run discovery on the source to "
                            "list them).", details=details)
        if isinstance(exc, gex.Unauthorized) or getattr(exc, "code", None) == 401:
            return SourceError(f"bigquery source {self.name!r}: {what}: the credentials were rejected after one "
                               f"refresh ({self._how or 'credentials'})",
                               hint="The token expired or was revoked and a new one was refused: check the service "
                               "account and the key named in secrets.credentials.", details=details)
        if (isinstance(exc, gex.Forbidden) and reason not in RATE_REASONS) or reason == "accessDenied":
            return SourceError(f"bigquery source {self.name!r}: {what}: permission denied: {message}",
                               hint="Grant the service account roles/bigquery.dataViewer on the dataset (and on "
                               "the tables a view reads) and roles/bigquery.jobUser on the project.",
                               details={**details, "kind": "permission"})
        if isinstance(exc, gex.TooManyRequests) or reason in RATE_REASONS:
            return SourceError(f"bigquery source {self.name!r}: {what}: BigQuery's rate limit or quota was "
                               f"exceeded (retried for {self._retry_seconds:g} s): {message}",
                               hint="Try again in a minute; if it persists, ask an admin about the project's "
                               "BigQuery quotas.", details={**details, "kind": "rate_limit",
                                                             "retry_after_seconds": 60})
        if reason == "stopped" or "cancel" in message.lower():
            return ScanCancelled(f"bigquery source {self.name!r}: the job was cancelled", details=details)
        if isinstance(exc, gex.BadRequest) or reason == "invalidQuery":
            return ValidationError("sql", f"bigquery source {self.name!r}: {what}: BigQuery refused it: {message}",
                                   hint="Write the query in BigQuery's GoogleSQL dialect (backtick-quoted names); "
                                   "nothing was run.", **details)
        if isinstance(exc, (gex.DeadlineExceeded, TimeoutError)) or "timed out" in message.lower():
            return SourceTimeout(f"bigquery source {self.name!r}: {what}: BigQuery did not answer in time",
                                 hint="Try again later, or narrow the query.", details=details)
        return SourceError(f"bigquery source {self.name!r}: {what}: {message}",
                           hint="Check the source's project, endpoint and credentials (an admin can test the "
                           "source).", details=details)

    # -- clients -------------------------------------------------------------------------

    @property
    def _retry_seconds(self) -> float:
        return float(self.options.get("retry_seconds") or DEFAULT_RETRY_SECONDS)

    def _retry(self) -> Any:
        """Retry rate-limit, quota and transient errors with exponential back-off."""
        from google.api_core import exceptions as gex
        from google.api_core.retry import Retry

        def transient(exc: BaseException) -> bool:
            if isinstance(exc, (gex.TooManyRequests, gex.ServiceUnavailable, gex.InternalServerError,
                                gex.BadGateway)):
                return True
            return _reason(exc) in RATE_REASONS

        return Retry(predicate=transient, initial=0.2, maximum=8.0, multiplier=2.0, timeout=self._retry_seconds)

    def _credentials(self) -> Any:
        credentials, how = auth.resolve(self.name, self.options, self.secrets, self._environ)
        self._how = how
        return credentials

    def client(self) -> Any:
        """The REST client (jobs, metadata), made once per connector."""
        if self._bq is None:
            from google.api_core.client_options import ClientOptions
            from google.cloud import bigquery

            endpoint = self.options.get("endpoint")
            try:
                self._bq = bigquery.Client(
                    project=self.project, location=self.location, credentials=self._credentials(),
                    client_options=ClientOptions(api_endpoint=endpoint.rstrip("/")) if endpoint else None)
            except AgnesError:
                raise
            except Exception as exc:  # noqa: BLE001 - the client library's own errors
                raise self._error("cannot create the client", exc) from None
        return self._bq

    def read_client(self) -> Any:
        """The Storage Read API client, or None where there is none (an emulator endpoint without
        ``storage_endpoint``: reads then go through REST)."""
        if self._read_client is None:
            from google.api_core.client_options import ClientOptions
            from google.cloud import bigquery_storage

            endpoint = self.options.get("endpoint")
            storage = self.options.get("storage_endpoint")
            if endpoint and not storage:
                return None
            if storage and str(endpoint or "").startswith("http://"):
                # An emulator: plain gRPC, as its REST endpoint is plain HTTP.
                import grpc  # type: ignore[import-untyped]
                from google.cloud.bigquery_storage_v1.services.big_query_read.transports import (
                    BigQueryReadGrpcTransport,
                )

                self.client()
                self._read_client = bigquery_storage.BigQueryReadClient(
                    transport=BigQueryReadGrpcTransport(channel=grpc.insecure_channel(storage, options=[
                        # As the client's own channel: no 4 MB cap on a response (one Arrow batch).
                        ("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)])))
            else:
                self._read_client = bigquery_storage.BigQueryReadClient(
                    credentials=self.client()._credentials,
                    client_options=ClientOptions(api_endpoint=storage) if storage else None)
        return self._read_client

    def close(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
            bq, self._bq = self._bq, None
            rc, self._read_client = self._read_client, None
        for closer in (getattr(stream, "close", None), getattr(bq, "close", None)):
            if closer is not None:
                try:
                    closer()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
        transport = getattr(rc, "_transport", None)
        if transport is not None:
            try:
                transport.close()
            except Exception:  # noqa: BLE001
                pass

    def interrupt(self) -> None:
        """Cancel the running job in BigQuery (``jobs.cancel``) and stop reading its result."""
        self._stopped = True
        job = self._job
        if job is not None:
            try:
                job.cancel(timeout=10)
            except Exception as exc:  # noqa: BLE001 - best effort; the job timeout still ends it
                log.info("bigquery source %r: cancelling job %s failed: %s", self.name, job.job_id,
                         self.redact(f"{type(exc).__name__}: {exc}"))
        stream = self._stream
        cancel = getattr(stream, "cancel", None)
        if cancel is not None:
            try:
                cancel()
            except Exception:  # noqa: BLE001
                pass

    def scan_billing(self) -> ScanBilling | None:
        """The scan job's own statistics: bytes processed and billed, and whether the query cache
        answered it. A job that was stopped before its result was read is looked up once more (a
        cancelled query may still be billed for what it read); None when BigQuery does not say."""
        job = self._scan_job
        if job is None:
            return None
        stats = self.job_statistics if (self.job_statistics or {}).get("job_id") == job.job_id else None
        if stats is None:
            try:
                job.reload(timeout=10, retry=self._retry())
            except Exception as exc:  # noqa: BLE001 - the gate then charges the estimate
                log.info("bigquery source %r: reading job %s's statistics failed: %s", self.name, job.job_id,
                         self.redact(f"{type(exc).__name__}: {exc}"))
                return None
            if job.state != "DONE":
                return None
            stats = _job_statistics(job)
        return ScanBilling(processed_bytes=_int(stats.get("bytes_processed")),
                           billed_bytes=_int(stats.get("bytes_billed")),
                           cache_hit=stats.get("cache_hit"), job_id=stats.get("job_id"))

    # -- jobs -------------------------------------------------------------------------------

    def _cap(self, guard: ScanGuard | None) -> int:
        """``maximum_bytes_billed``: the smallest of the source's option, its per-scan cap
        (``limits.scan_max_bytes``) and what the gate passes in the guard (the scan cap and the
        budget left today)."""
        caps = [int(self.options.get("maximum_bytes_billed") or DEFAULT_MAX_BYTES_BILLED)]
        limit = (self.options.get("limits") or {}).get("scan_max_bytes")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            caps.append(limit)
        if guard is not None and guard.max_bytes is not None and guard.max_bytes > 0:
            caps.append(int(guard.max_bytes))
        return max(1, min(caps))

    def _labels(self, guard: ScanGuard | None, tables: Sequence[TableRef] = ()) -> dict[str, str]:
        labels = {"agnes_source": _label(self.name)}
        if guard is not None and guard.username:
            labels["agnes_user"] = _label(guard.username)
        if guard is not None:
            labels["agnes_scan_id"] = _label(guard.scan_id)
        if tables:
            labels["agnes_table"] = _label("-".join(sorted({t.name for t in tables})))
        return labels

    def _run_job(self, sql: str, *, guard: ScanGuard | None = None, tables: Sequence[TableRef] = (),
                 dry_run: bool = False, cap: int | None = None, what: str = "query failed") -> Any:
        """Start a query job with the gate's bounds (labels, ``maximum_bytes_billed``, id prefix,
        timeout) and return it; a dry run returns the finished job."""
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(use_legacy_sql=False, labels=self._labels(guard, tables))
        if dry_run:
            config.dry_run = True
            config.use_query_cache = False
        else:
            config.maximum_bytes_billed = cap if cap is not None else self._cap(guard)
            timeout_s = guard.timeout_s if guard is not None else DEFAULT_JOB_TIMEOUT_S
            config.job_timeout_ms = int(max(1.0, timeout_s) * 1000)
        prefix = JOB_PREFIX + (f"{_label(guard.scan_id)}_" if guard is not None else "")
        try:
            job = self.client().query(sql, job_config=config, job_id_prefix=prefix, retry=self._retry(),
                                      timeout=DEFAULT_API_TIMEOUT_S, job_retry=None)
        except Exception as exc:  # noqa: BLE001 - mapped to the envelope
            raise self._error(what, exc, cap=config.maximum_bytes_billed) from None
        if not dry_run:
            self._job = job
            if self._stopped:
                self.interrupt()
        return job

    def _wait(self, job: Any, what: str, guard: ScanGuard | None = None) -> Any:
        timeout_s = guard.timeout_s if guard is not None else DEFAULT_JOB_TIMEOUT_S
        try:
            rows = job.result(timeout=timeout_s, retry=self._retry(), job_retry=None)
        except Exception as exc:  # noqa: BLE001 - mapped to the envelope
            if self._stopped:
                raise ScanCancelled("the BigQuery job was cancelled", details={"source": self.name,
                                                                              "job_id": job.job_id}) from None
            raise self._error(what, exc, cap=job.maximum_bytes_billed) from None
        self.job_statistics = _job_statistics(job)
        log.info("bigquery source %r: job %s: %s", self.name, job.job_id, self.job_statistics)
        return rows

    # -- protocol -------------------------------------------------------------------------

    def test(self) -> dict[str, Any]:
        try:
            datasets = [d.dataset_id for d in self.client().list_datasets(max_results=50, retry=self._retry(),
                                                                          timeout=DEFAULT_API_TIMEOUT_S)]
        except AgnesError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error("cannot list datasets", exc) from None
        return {"project": self.project, "location": self.location, "credentials": self._how,
                "datasets": len(datasets)}

    def _get_table(self, ref: TableRef) -> Any:
        try:
            return self.client().get_table(self._table_id(ref), retry=self._retry(), timeout=DEFAULT_API_TIMEOUT_S)
        except AgnesError:
            raise
        except Exception as exc:  # noqa: BLE001
            error = self._error(f"no table {ref.display()!r}", exc, ref)
            if isinstance(error, NotFound):
                raise NotFound(f"bigquery source {self.name!r} has no table or view {ref.display()!r}",
                               hint="Check the dataset and table names, or run discovery on the source to list "
                               "them.", details={"bucket": ref.bucket, "source_table": ref.name}) from None
            raise error from None

    def _datasets(self) -> list[str]:
        if self.options.get("datasets"):
            return list(self.options["datasets"])
        try:
            return sorted(d.dataset_id for d in self.client().list_datasets(retry=self._retry(),
                                                                           timeout=DEFAULT_API_TIMEOUT_S))
        except Exception as exc:  # noqa: BLE001
            raise self._error("cannot list datasets", exc) from None

    def discover(self) -> list[DiscoveredTable]:
        """Datasets, tables and views with their types (``tables.list``), schemas and descriptions
        (``tables.get``, free), addressable names only."""
        out = []
        for dataset in self._datasets():
            if not PHYSICAL_NAME_RE.match(dataset):
                continue
            try:
                items = list(self.client().list_tables(dataset, retry=self._retry(), timeout=DEFAULT_API_TIMEOUT_S))
            except Exception as exc:  # noqa: BLE001
                raise self._error(f"cannot list dataset {dataset!r}", exc) from None
            for item in items:
                if not PHYSICAL_NAME_RE.match(item.table_id):
                    continue
                table = self._get_table(TableRef(dataset, item.table_id))
                schema = arrow_schema(list(table.schema), table.description)
                if len(schema) == 0:
                    continue
                out.append(DiscoveredTable(dataset, item.table_id, schema, ENTITY.get(table.table_type, "table"),
                                           table.description or ""))
        return out

    def schema(self, ref: TableRef) -> pa.Schema:
        """Arrow fields with BigQuery's type and column description as metadata; the table's
        description as the schema's ``description``."""
        table = self._get_table(ref)
        schema = arrow_schema(list(table.schema), table.description)
        return schema.with_metadata({**(schema.metadata or {}), **changed_at_metadata(_utc(table.modified))})

    def _where(self, ref: TableRef, schema: pa.Schema, options: ReadOptions) -> list[str]:
        where = []
        if options.filter:
            where.append(safe_predicate(options.filter, "bigquery"))
        if options.incremental_key:
            if options.incremental_key not in schema.names:
                raise ValidationError("incremental_key", f"unknown column {options.incremental_key!r} in "
                                      f"{ref.display()}", hint=f"columns are: {', '.join(schema.names)}")
            if options.incremental_after is not None:
                where.append(f"{_ident(options.incremental_key)} > {_literal(options.incremental_after)}")
        return where

    def read(self, ref: TableRef, options: ReadOptions) -> Iterator[pa.RecordBatch]:
        """A table through a Storage Read session (projection and row restriction pushed down);
        a view, a materialized view or an external table through a query job. Batch by batch."""
        import pyarrow as pa

        table = self._get_table(ref)
        schema = arrow_schema(list(table.schema), table.description)
        if options.columns is not None:
            unknown = [c for c in options.columns if c not in schema.names]
            if unknown:
                raise ValidationError("columns", f"unknown columns {unknown} in {ref.display()}",
                                      hint=f"columns are: {', '.join(schema.names)}")
            schema = pa.schema([schema.field(c) for c in options.columns])
        where = self._where(ref, schema if options.columns is None else arrow_schema(list(table.schema)), options)
        size = max(1, options.batch_size)
        if table.table_type in STORAGE_READABLE and self.read_client() is not None:
            return _rechunk(self._storage_batches(ref, list(schema.names), where), schema, size, self)
        select = ", ".join(_ident(c) for c in schema.names)
        sql = f"SELECT {select} FROM {self._table_sql(ref)}" + (f" WHERE {' AND '.join(where)}" if where else "")
        job = self._run_job(sql, tables=[ref], what=f"reading {ref.display()} failed")
        return _rechunk(self._job_batches(job, size), schema, size, self)

    def _storage_batches(self, ref: TableRef, columns: list[str], where: list[str],
                         max_rows: int | None = None) -> Iterator[pa.RecordBatch]:
        """One Storage Read stream of the table (ordered, memory-bounded: one response at a time)."""
        import pyarrow as pa
        import pyarrow.ipc
        from google.cloud.bigquery_storage_v1 import types

        client = self.read_client()
        session = types.ReadSession(
            table=f"projects/{self.project}/datasets/{self._dataset(ref)}/tables/{ref.name}",
            data_format=types.DataFormat.ARROW,
            read_options=types.ReadSession.TableReadOptions(selected_fields=columns,
                                                            row_restriction=" AND ".join(where)))
        try:
            session = client.create_read_session(parent=f"projects/{self.project}", read_session=session,
                                                 max_stream_count=1, retry=self._retry(),
                                                 timeout=DEFAULT_API_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001
            raise self._error(f"cannot read {ref.display()}", exc, ref) from None
        if not session.streams:
            return
        try:
            reader = client.read_rows(session.streams[0].name, retry=self._retry(), timeout=DEFAULT_JOB_TIMEOUT_S)
            self._stream = reader
            produced = 0
            schema = pa.ipc.read_schema(pa.py_buffer(session.arrow_schema.serialized_schema))
            for response in reader:  # one serialized Arrow record batch per response; resumes on transient errors
                if self._stopped:
                    raise ScanCancelled("the read was stopped", details={"source": self.name})
                batch = pa.ipc.read_record_batch(pa.py_buffer(response.arrow_record_batch.serialized_record_batch),
                                                 schema)
                if max_rows is not None and produced + batch.num_rows >= max_rows:
                    yield batch.slice(0, max_rows - produced)
                    return
                produced += batch.num_rows
                yield batch
        except AgnesError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(f"reading {ref.display()} failed", exc, ref) from None
        finally:
            self._stream = None

    def _job_batches(self, job: Any, batch_size: int, guard: ScanGuard | None = None) -> Iterator[pa.RecordBatch]:
        """A finished job's result: the Storage Read API on its destination table where there is
        one, else REST pages of ``batch_size`` rows."""
        rows = self._wait(job, "the query failed", guard)
        client = self.read_client()
        destination = job.destination
        if client is not None and destination is not None:
            ref = TableRef(destination.dataset_id, destination.table_id)
            storage = self._storage_batches_at(destination.project, ref)
            try:
                first = next(storage, None)
            except NotFound:
                first = None
                storage = None  # type: ignore[assignment]
                log.info("bigquery source %r: job %s's destination is not readable by the Storage Read API; "
                         "reading its result through REST", self.name, job.job_id)
            if storage is not None:
                if first is not None:
                    yield first
                yield from storage
                return
        try:
            for batch in rows.to_arrow_iterable(bqstorage_client=None):
                if self._stopped:
                    raise ScanCancelled("the scan was stopped", details={"source": self.name})
                yield batch
        except AgnesError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error("reading the result failed", exc) from None

    def _storage_batches_at(self, project: str, ref: TableRef) -> Iterator[pa.RecordBatch]:
        if project == self.project:
            yield from self._storage_batches(ref, [], [])
            return
        raise NotFound("the result lives in another project")

    def sample(self, ref: TableRef, n: int) -> pa.Table:
        """Free previews: a table's rows come from a Storage Read session (or ``tabledata.list``) with
        a row limit — no job, nothing billed; a view's only from a ``LIMIT`` query whose dry run says it
        reads at most :data:`SAMPLE_VIEW_MAX_BYTES` (and which runs with that cap)."""
        import pyarrow as pa

        table = self._get_table(ref)
        schema = arrow_schema(list(table.schema), table.description)
        n = max(0, int(n))
        if table.table_type in STORAGE_READABLE:
            if self.read_client() is not None:
                batches = list(self._storage_batches(ref, list(schema.names), [], max_rows=n))
            else:
                try:
                    rows = self.client().list_rows(table, max_results=n, retry=self._retry(),
                                                   timeout=DEFAULT_API_TIMEOUT_S)
                    batches = list(rows.to_arrow_iterable(bqstorage_client=None))
                except Exception as exc:  # noqa: BLE001
                    raise self._error(f"cannot sample {ref.display()}", exc, ref) from None
            out = pa.Table.from_batches([_conform(b, schema) for b in batches], schema=schema)
            return out.replace_schema_metadata({**(schema.metadata or {}), b"agnes_sample": b"no job (free)"})
        sql = f"SELECT * FROM {self._table_sql(ref)} LIMIT {n}"
        dry = self._run_job(sql, dry_run=True, tables=[ref], what=f"cannot sample {ref.display()}")
        needed = int(dry.total_bytes_processed or 0)
        if needed > SAMPLE_VIEW_MAX_BYTES:
            raise ScanTooLarge(
                f"a sample of {ref.display()} (a {table.table_type.lower().replace('_', ' ')}) would read "
                f"{human_bytes(needed)}, over the {human_bytes(SAMPLE_VIEW_MAX_BYTES)} a free preview may",
                hint="Run a scan with a filter on its partition column instead (it goes through the gate).",
                details={"source": self.name, "bytes_needed": needed, "maximum_bytes_billed": SAMPLE_VIEW_MAX_BYTES,
                         "kind": "sample"})
        job = self._run_job(sql, tables=[ref], cap=SAMPLE_VIEW_MAX_BYTES, what=f"cannot sample {ref.display()}")
        batches = list(self._job_batches(job, max(1, n)))
        out = pa.Table.from_batches([_conform(b, schema) for b in batches], schema=schema)
        return out.replace_schema_metadata({**(schema.metadata or {}), b"agnes_sample": (
            f"LIMIT query after a dry run of {needed} bytes (cap {SAMPLE_VIEW_MAX_BYTES})").encode()})

    def scan(self, sql: str, batch_size: int = 65_536, tables: Sequence[TableRef] = (),
             guard: ScanGuard | None = None) -> Iterator[pa.RecordBatch]:
        """Run validated GoogleSQL in BigQuery as one job (``maximum_bytes_billed``, labels, an
        ``agnes_`` job id, the guard's timeout) and stream its result batch by batch."""
        import pyarrow as pa

        self._stopped = False
        self.job_statistics = None
        self._scan_job = None
        job = self._run_job(sql, guard=guard, tables=tables)
        self._scan_job = job
        size = max(1, batch_size)

        def batches() -> Iterator[pa.RecordBatch]:
            produced = False
            schema = None
            for batch in self._job_batches(job, size, guard):
                schema = batch.schema
                for start in range(0, max(batch.num_rows, 1), size):
                    part = batch.slice(start, size)
                    if part.num_rows or not produced:
                        produced = True
                        yield part
            if not produced:
                yield pa.RecordBatch.from_pylist([], schema=schema or pa.schema([]))

        return batches()

    def estimate(self, sql: str, reads: list[TableRead]) -> ScanEstimate:
        """BigQuery's own dry run (``dryRun``, ``useQueryCache: false``): the bytes it would bill,
        their accuracy, the cost at the configured price and the tables it references. A query
        the dry run refuses is refused here (nothing runs)."""
        job = self._run_job(sql, dry_run=True, what="the dry run refused the query")
        stats = (job._properties.get("statistics") or {}).get("query") or {}
        total = int(job.total_bytes_processed or stats.get("totalBytesProcessed") or 0)
        accuracy = str(stats.get("totalBytesProcessedAccuracy") or "UNKNOWN")
        price = float(self.options.get("price_per_tib_usd", DEFAULT_PRICE_PER_TIB_USD) or 0)
        referenced = [f"{t.dataset_id}.{t.table_id}" for t in (job.referenced_tables or [])]
        if not referenced:
            referenced = [f"{r.ref.bucket or self.options.get('dataset')}.{r.ref.name}" for r in reads]
        tables = [{"table": name, "referenced": True} for name in referenced]
        tables.append({"table": "(query)", "scan_bytes": total, "accuracy": accuracy,
                       "cost_usd": round(total / TIB * price, 6), "price_per_tib_usd": price})
        return ScanEstimate(scan_bytes=total, method=f"BigQuery dry run ({accuracy.lower()})", basis="uncompressed",
                            tables=tables)

    # -- metadata ---------------------------------------------------------------------------

    def metadata(self, ref: TableRef) -> TableMetadata | None:
        """From the dataset's storage figures (one query per dataset for all its tables, reused for
        :data:`DATASET_CACHE_S`: ``INFORMATION_SCHEMA.TABLE_STORAGE`` with descriptions, partition,
        cluster and partition ranges joined in; else ``__TABLES__``), completed by ``tables.get``
        when the dataset's figures cannot say it all. Never raises."""
        try:
            dataset = self._dataset(ref)
            figures = self.dataset_figures(dataset)
            row = (figures or {}).get(ref.name)
            if row is not None and row.get("complete"):
                return _metadata_from_row(row)
            table = self._get_table(ref)
            meta = _metadata_from_table(table)
            if row is not None:  # __TABLES__: its sizes where tables.get has none
                meta.rows = meta.rows if meta.rows else row.get("rows", meta.rows)
                meta.size_bytes = meta.size_bytes or row.get("size_bytes")
                meta.changed_at = meta.changed_at or row.get("changed_at")
            return meta
        except Exception as exc:  # noqa: BLE001 - metadata providers never raise
            reason = self.redact(exc.message if isinstance(exc, AgnesError) else f"{type(exc).__name__}: {exc}")
            log.warning("bigquery metadata for %s failed: %s", ref.display(), reason)
            return TableMetadata(error=reason)

    def dataset_figures(self, dataset: str) -> dict[str, dict[str, Any]] | None:
        """Every table of ``dataset`` in one query (single-flight per dataset, cached); None when
        neither ``TABLE_STORAGE`` nor ``__TABLES__`` answers."""
        key = (self.name, self.project, self.location, dataset)
        with _DATASETS_LOCK:
            lock = _DATASET_LOCKS.setdefault(key, threading.Lock())
        with lock:
            cached = _DATASETS.get(key)
            if cached is not None and time.monotonic() - cached[0] < DATASET_CACHE_S:
                return cached[1]
            found = self._query_figures(dataset)
            _DATASETS[key] = (time.monotonic(), found)
            return found

    def _query_figures(self, dataset: str) -> dict[str, dict[str, Any]] | None:
        from google.cloud import bigquery

        region = self.location.lower()
        project = self.project.replace("`", "")
        attempts = [
            (_STORAGE_SQL.format(project=project, region=region, dataset=dataset), True),
            (_TABLES_SQL.format(project=project, dataset=dataset), False),
        ]
        for sql, complete in attempts:
            config = bigquery.QueryJobConfig(
                use_legacy_sql=False, maximum_bytes_billed=int(self.options.get("maximum_bytes_billed")
                                                               or DEFAULT_MAX_BYTES_BILLED),
                labels={"agnes_source": _label(self.name), "agnes_table": _label(f"{dataset}-metadata")},
                query_parameters=[bigquery.ScalarQueryParameter("dataset", "STRING", dataset)] if complete else [])
            try:
                job = self.client().query(sql, job_config=config, job_id_prefix=JOB_PREFIX + "metadata_",
                                          retry=self._retry(), timeout=DEFAULT_API_TIMEOUT_S, job_retry=None)
                rows = list(job.result(timeout=DEFAULT_API_TIMEOUT_S, retry=self._retry(), job_retry=None))
            except Exception as exc:  # noqa: BLE001 - the next way, or tables.get
                log.info("bigquery source %r: dataset figures of %s: %s", self.name, dataset,
                         self.redact(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))
                continue
            out: dict[str, dict[str, Any]] = {}
            for r in rows:
                row = dict(r.items())
                name = str(row.get("table_name"))
                if complete:
                    out[name] = {"complete": True, **row}
                else:
                    kind = _TABLES_TYPES.get(int(row.get("type") or 1), "TABLE")
                    out[name] = {"complete": False, "rows": _int(row.get("row_count")),
                                 "size_bytes": _int(row.get("size_bytes")), "table_type": kind,
                                 "changed_at": _epoch_ms(row.get("last_modified_time"))}
            return out
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _epoch_ms(value: Any) -> dt.datetime | None:
    """``__TABLES__``' times: milliseconds since the epoch."""
    ms = _int(value)
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc) if ms else None


def _utc(value: Any) -> dt.datetime | None:
    """A TIMESTAMP cell (a datetime, or its text) as an aware UTC time."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _split(value: Any) -> list[str] | None:
    if not value:
        return None
    parts = [p.strip() for p in str(value).split(",") if p.strip()]
    return parts or None


def _metadata_from_row(row: dict[str, Any]) -> TableMetadata:
    kind = str(row.get("table_type") or "TABLE").upper()
    description = row.get("description")
    if isinstance(description, str) and len(description) >= 2 and description[0] == description[-1] == '"':
        description = description[1:-1]  # TABLE_OPTIONS gives option values as literals
    partition_by = _split(row.get("partition_columns"))
    examples: dict[str, Any] = {}
    if partition_by and row.get("max_partition"):
        examples[partition_by[0]] = str(row["max_partition"])
    return TableMetadata(
        rows=_int(row.get("total_rows")), size_bytes=_int(row.get("total_physical_bytes")),
        uncompressed_bytes=_int(row.get("total_logical_bytes")), partition_by=partition_by,
        clustered_by=_split(row.get("clustering_columns")),
        entity_type="partitioned_table" if partition_by and kind == "BASE TABLE" else ENTITY.get(kind, "table"),
        known_columns=_split(row.get("column_names")) or [], description=description or None, examples=examples,
        changed_at=_utc(row.get("last_modified")))


def _metadata_from_table(table: Any) -> TableMetadata:
    """``tables.get``: rows, bytes, logical bytes, type, partitioning, clustering, schema, description."""
    props = table._properties
    partition_by: list[str] | None = None
    if table.time_partitioning is not None:
        partition_by = [table.time_partitioning.field or "_PARTITIONTIME"]
    elif table.range_partitioning is not None:
        partition_by = [table.range_partitioning.field]
    logical = _int(props.get("numTotalLogicalBytes")) or _int(props.get("numBytes"))
    rows = _int(table.num_rows)
    kind = str(table.table_type or "TABLE")
    if not logical and rows and kind in STORAGE_READABLE:
        # The service reported no size (an emulator does so): BigQuery's documented per-type sizes.
        logical = rows * logical_row_bytes(list(table.schema))
    entity = ENTITY.get(kind, "table")
    if partition_by and entity == "table":
        entity = "partitioned_table"
    return TableMetadata(
        rows=rows if kind in STORAGE_READABLE or rows else None,
        size_bytes=_int(props.get("numTotalPhysicalBytes")) or _int(table.num_bytes) or None,
        uncompressed_bytes=logical or None, partition_by=partition_by,
        clustered_by=list(table.clustering_fields) if table.clustering_fields else None,
        entity_type=entity, known_columns=[f.name for f in table.schema], description=table.description or None,
        changed_at=_utc(table.modified))


def _job_statistics(job: Any) -> dict[str, Any]:
    return {"job_id": job.job_id, "bytes_processed": job.total_bytes_processed,
            "bytes_billed": job.total_bytes_billed, "cache_hit": bool(job.cache_hit),
            "slot_ms": job.slot_millis}


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with ``schema``'s names, types and metadata (BigQuery's own Arrow types match)."""
    import pyarrow as pa

    if batch.schema.names != schema.names:
        batch = batch.select(schema.names) if set(schema.names) <= set(batch.schema.names) else batch
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    return pa.RecordBatch.from_arrays([c.cast(f.type) for c, f in zip(batch.columns, schema, strict=True)],
                                      schema=schema)


def _rechunk(batches: Iterator[pa.RecordBatch], schema: pa.Schema, size: int,
             connector: BigQueryConnector) -> Iterator[pa.RecordBatch]:
    """Batches of at most ``size`` rows with ``schema``; one empty batch when there are no rows."""
    import pyarrow as pa

    produced = False
    for batch in batches:
        batch = _conform(batch, schema)
        for start in range(0, batch.num_rows, size):
            produced = True
            yield batch.slice(start, size)
    if not produced:
        yield pa.RecordBatch.from_pylist([], schema=schema)


__all__ = ["NATIVE_TYPE", "BigQueryConnector"]
