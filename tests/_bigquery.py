"""BigQuery for the tests: the ``bqemulator`` emulator, and a payload server for what it lacks.

Which behaviour comes from where:

* **The emulator** (``bqemulator``, PyPI; REST + the Storage Read API over gRPC, DuckDB underneath),
  started once per session as a subprocess on free ports. It runs real queries, datasets, tables,
  views (``table_type`` VIEW), ``tables.get``, ``tabledata.list``, load jobs and read sessions. It
  does not reproduce: dry-run byte counts (it reports ``totalBytesProcessed`` 0), the accuracy flag,
  ``INFORMATION_SCHEMA.TABLE_STORAGE`` / ``__TABLES__``, ``maximumBytesBilled`` enforcement,
  rate limits, and the GCE metadata server.
* **The payload server** (:class:`PayloadServer`), a local HTTP server started per test, forwards
  every call to the emulator unchanged except the ones a test overrides, which it answers with the
  payloads the BigQuery REST reference documents:

  - ``dry_run_bytes``: a dry run (``jobs.insert`` with ``configuration.dryRun``, or ``jobs.query``
    with ``dryRun``) is still run by the emulator (so a bad query still fails and the schema and
    referenced tables are the emulator's), then its statistics are set as the Job resource
    documents them: ``statistics.totalBytesProcessed``, ``statistics.query.totalBytesProcessed``,
    ``statistics.query.totalBytesProcessedAccuracy`` (UNKNOWN | PRECISE | LOWER_BOUND |
    UPPER_BOUND), ``statistics.query.totalBytesBilled`` "0" and ``cacheHit`` false
    (https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#JobStatistics2; int64 fields
    are JSON strings there).
  - ``table_storage``: a query over ``INFORMATION_SCHEMA.TABLE_STORAGE`` (any region qualifier) or
    ``__TABLES__`` answers the given rows, by every path the client may take: ``jobs.query``
    (QueryResponse), ``jobs.insert`` then ``jobs.get`` / ``jobs.getQueryResults``, and
    ``tabledata.list`` / ``tables.get`` of the job's anonymous destination table. Cells are
    ``{"f": [{"v": "..."}]}`` with every value a string, as ``tabledata.list`` documents.
  - ``refuse_for_bytes_billed``: query jobs fail as BigQuery fails a job over its
    ``maximumBytesBilled``: reason ``bytesBilledLimitExceeded`` with the message the BigQuery
    cost-control docs quote ("Query exceeded limit for bytes billed: 1000000. 10485760 or higher
    required."). ``jobs.query`` answers HTTP 400 with the error envelope; ``jobs.insert`` answers
    the Job DONE with ``status.errorResult`` and its ``jobs.getQueryResults`` the 400 envelope.
  - ``job_billing``: query jobs that are not dry runs are still run by the emulator (its rows are
    the result), and their Job resource (``jobs.insert`` and ``jobs.get`` answers) then carries the
    statistics a finished BigQuery job documents: ``statistics.totalBytesProcessed``,
    ``statistics.query.totalBytesProcessed``, ``statistics.query.totalBytesBilled`` and
    ``statistics.query.cacheHit`` (the emulator leaves billed bytes out and processed at 0).
  - ``rate_limit``: the next calls answer 403 (or 429) with reason ``rateLimitExceeded`` (the
    BigQuery error table: "rateLimitExceeded 403 … exceeds a short-term rate limit"), domain
    ``usageLimits``; the client library retries that reason (``google.cloud.bigquery.retry``).
  - ``deny_table``: query jobs (dry runs too) that read that table — directly or through a view
    the test names with it — answer 403 ``accessDenied`` ("Access Denied: Table p:d.t: User does
    not have permission to query table p:d.t, or perhaps it does not exist."), as BigQuery answers
    a service account without ``bigquery.tables.getData`` on a table a view reads.
  - ``reject_every_token``: as ``reject_token`` for every bearer token, old and new (a service
    account whose access was revoked).
  - ``reject_token``: calls bearing that OAuth token answer 401 ``authError`` ("Invalid
    Credentials", location Authorization/header), as an expired token is answered.
  - A GCE metadata server on the same port (``metadata_host``, as ``GCE_METADATA_HOST`` takes it):
    ``GET /computeMetadata/v1/instance/service-accounts/default/token`` with
    ``Metadata-Flavor: Google`` answers ``{"access_token", "expires_in", "token_type": "Bearer"}``
    (https://cloud.google.com/compute/docs/access/authenticate-workloads#applications), a fresh
    token each call; without the header it answers 403, as the metadata server does. The ping
    (``GET /``), ``…/default/?recursive=true`` and ``project/project-id`` answer as google-auth's
    ``compute_engine._metadata`` reads them, with the ``Metadata-Flavor: Google`` response header.

The error envelope everywhere is the one BigQuery documents
(https://cloud.google.com/bigquery/docs/error-messages):
``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"}}``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import importlib.util
import io
import json
import os
import re
import secrets
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests._httpserver import ClosingServer
from tests._live import free_port, stop_process_group

if TYPE_CHECKING:
    import pyarrow as pa
    from google.cloud import bigquery

#: The emulator's default project (any id works; the tests use this one).
PROJECT = "agnes-test"
START_TIMEOUT = 120.0
#: Where the payload server puts the anonymous result tables of the queries it answers itself.
RESULTS_DATASET = "_payload_results"

_API = "/bigquery/v2/"
_UPLOAD = "/upload/bigquery/v2/"
_METADATA = "/computeMetadata/v1/"
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "host", "content-length"}


class EmulatorError(RuntimeError):
    """The emulator could not be started (the reason is in the message)."""


#: The virtualenv ./dev.sh test installs bqemulator into: it pins an older sqlglot than the product's,
#: so it does not share the product's environment.
EMULATOR_VENV = Path(__file__).resolve().parents[1] / ".venv-bqemulator"


def emulator_python() -> str:
    """The interpreter that runs bqemulator: ``$AGNES_BQEMULATOR_PYTHON``, else .venv-bqemulator's."""
    python = os.environ.get("AGNES_BQEMULATOR_PYTHON") or str(EMULATOR_VENV / "bin" / "python")
    if not Path(python).exists():
        raise EmulatorError(f"no interpreter for bqemulator at {python}: ./dev.sh test creates .venv-bqemulator "
                            "(python3 -m venv .venv-bqemulator && .venv-bqemulator/bin/pip install bqemulator "
                            "duckdb==<the product's> numpy), or set AGNES_BQEMULATOR_PYTHON")
    found = subprocess.run([python, "-c", "import bqemulator"], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        raise EmulatorError(f"bqemulator is not installed for {python}: {found.stderr.strip()[-300:]}")
    return python


def install_spatial() -> None:
    """Install DuckDB's ``spatial`` extension from the ``duckdb-extension-spatial`` wheel.

    bqemulator runs ``INSTALL spatial; LOAD spatial`` at start and fails without it; installing
    it from the wheel first (once per machine, into DuckDB's extension directory) means that
    ``INSTALL`` finds it and downloads nothing, so the emulator starts offline."""
    import duckdb

    con = duckdb.connect()
    try:
        row = con.execute("SELECT installed FROM duckdb_extensions() WHERE extension_name = 'spatial'").fetchone()
        if row is not None and row[0]:
            return
        spec = importlib.util.find_spec("duckdb_extension_spatial")
        if spec is None or spec.origin is None:
            raise EmulatorError("DuckDB's spatial extension is not installed and its wheel is missing: "
                                f"pip install duckdb-extension-spatial=={duckdb.__version__}")
        path = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / "spatial.duckdb_extension"
        if not path.exists():
            raise EmulatorError(f"duckdb-extension-spatial does not match duckdb {duckdb.__version__} ({path} "
                                f"missing): pip install duckdb-extension-spatial=={duckdb.__version__}")
        con.execute(f"INSTALL '{path}'")
    finally:
        con.close()


@dataclass
class Emulator:
    """bqemulator in a subprocess on free ports, in-memory (its state ends with the session)."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="agnes-bq-")))
    project: str = PROJECT
    rest_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _client: Any = None

    @property
    def endpoint(self) -> str:
        """The REST endpoint, as ``ClientOptions(api_endpoint=...)`` and the source's ``endpoint`` take it."""
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def grpc_endpoint(self) -> str:
        """The Storage Read/Write API (gRPC, plaintext): ``host:port``."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def log_path(self) -> Path:
        return self.root / "bqemulator.log"

    def start(self) -> Emulator:
        """Start the emulator and wait until ``/readyz`` says it is ready; raises :class:`EmulatorError`."""
        try:
            install_spatial()
        except EmulatorError:
            raise
        except Exception as exc:
            raise EmulatorError(f"installing DuckDB's spatial extension failed: {exc}") from exc
        python = emulator_python()
        self.root.mkdir(parents=True, exist_ok=True)
        log = self._log = self.log_path.open("wb")  # closed by stop()
        env = dict(os.environ)
        env.pop("BIGQUERY_EMULATOR_HOST", None)
        self.proc = subprocess.Popen(
            [python, "-m", "bqemulator", "start", "--ephemeral", "--project", self.project,
             "--rest-host", "127.0.0.1", "--rest-port", str(self.rest_port),
             "--grpc-host", "127.0.0.1", "--grpc-port", str(self.grpc_port), "--log-level", "warning"],
            cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last_error = ""
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise EmulatorError(f"bqemulator exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/readyz", timeout=5) as resp:
                    if json.loads(resp.read()).get("status") == "ok":
                        return
            except (urllib.error.URLError, ConnectionError, OSError, ValueError) as exc:
                last_error = str(exc)
            time.sleep(0.2)  # polling for readiness with a deadline, not synchronising on a sleep
        raise EmulatorError(f"bqemulator did not become ready in {START_TIMEOUT}s ({last_error}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        """The log's error lines (a bind failure is logged well before its traceback ends), then its tail."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        errors = [line for line in text[:-lines] if re.search(r"error|exception", line, re.IGNORECASE)
                  and not line.startswith(" ")][:10]
        return "\n".join([*errors, *(["…"] if errors else []), *text[-lines:]])

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        try:
            if self.proc is not None:
                stop_process_group(self.proc)
        finally:
            log = getattr(self, "_log", None)
            if log is not None:
                log.close()

    def client(self) -> bigquery.Client:
        """The official client, anonymous, pointed at the emulator (one per session, reused)."""
        if self._client is None:
            self._client = make_client(self.endpoint, self.project)
        return self._client

    def load(self, dataset: str, table: str, data: pa.Table) -> None:
        """Create ``dataset`` if missing and (re)write ``table`` with ``data`` through a Parquet load job."""
        import pyarrow.parquet as pq
        from google.cloud import bigquery

        client = self.client()
        client.create_dataset(bigquery.Dataset(f"{self.project}.{dataset}"), exists_ok=True)
        buf = io.BytesIO()
        pq.write_table(data, buf)
        buf.seek(0)
        ref = f"{self.project}.{dataset}.{table}"
        # The emulator's load job needs the table to exist (it does not create it from the
        # Parquet schema, nor truncate a missing one): drop, create with the schema, append.
        client.delete_table(ref, not_found_ok=True)
        client.create_table(bigquery.Table(ref, schema=bigquery_schema(data.schema)))
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET,
                                        write_disposition=bigquery.WriteDisposition.WRITE_APPEND)
        client.load_table_from_file(buf, ref, job_config=config).result()

    def execute(self, sql: str) -> None:
        """Run one statement (``CREATE VIEW``, ``DROP SCHEMA`` …) and wait for it."""
        self.client().query_and_wait(sql)

    def drop_dataset(self, dataset: str) -> None:
        """Delete a dataset and everything in it (tests clean up what they created)."""
        self.client().delete_dataset(f"{self.project}.{dataset}", delete_contents=True, not_found_ok=True)


def bigquery_schema(schema: pa.Schema) -> list[Any]:
    """``SchemaField``s for an Arrow schema (the types the tests load)."""
    import pyarrow as pa
    from google.cloud import bigquery

    def kind(t: pa.DataType) -> str:
        if pa.types.is_boolean(t):
            return "BOOL"
        if pa.types.is_integer(t):
            return "INT64"
        if pa.types.is_floating(t):
            return "FLOAT64"
        if pa.types.is_decimal(t):
            return "NUMERIC"
        if pa.types.is_date(t):
            return "DATE"
        if pa.types.is_timestamp(t):
            return "TIMESTAMP" if t.tz else "DATETIME"
        if pa.types.is_binary(t) or pa.types.is_large_binary(t):
            return "BYTES"
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return "STRING"
        raise ValueError(f"no BigQuery type for the Arrow type {t} in this harness")

    return [bigquery.SchemaField(f.name, kind(f.type), mode="NULLABLE" if f.nullable else "REQUIRED")
            for f in schema]


def make_client(endpoint: str, project: str = PROJECT) -> bigquery.Client:
    """An anonymous ``google.cloud.bigquery.Client`` for ``endpoint`` (emulator or payload server)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=project, credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                           client_options=ClientOptions(api_endpoint=endpoint))


# --- the payload server ---------------------------------------------------------------------------

_STORAGE_QUERY = re.compile(r"INFORMATION_SCHEMA\.TABLE_STORAGE\b|__TABLES__", re.IGNORECASE)


def _error(code: int, status: str, reason: str, message: str, domain: str = "global",
           **extra: str) -> dict[str, Any]:
    """The BigQuery error envelope (an ErrorProto in ``errors``)."""
    proto: dict[str, Any] = {"message": message, "domain": domain, "reason": reason, **extra}
    return {"error": {"code": code, "message": message, "errors": [proto], "status": status}}


def bytes_billed_message(limit: int, needed: int) -> str:
    """BigQuery's message for a job refused over ``maximumBytesBilled`` (quoted in its cost-control docs)."""
    return f"Query exceeded limit for bytes billed: {limit}. {needed} or higher required."


def _field_type(values: list[Any]) -> str:
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            return "BOOLEAN"
        if isinstance(value, int):
            return "INTEGER"
        if isinstance(value, float):
            return "FLOAT"
        if isinstance(value, dt.datetime):
            return "TIMESTAMP"
        if isinstance(value, dt.date):
            return "DATE"
        return "STRING"
    return "STRING"


def _cell(value: Any, int64_timestamps: bool) -> str | None:
    """A value as a ``tabledata.list`` cell string (TIMESTAMP: microseconds when
    ``formatOptions.useInt64Timestamp`` was asked for, else float seconds)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        micros = int(stamp.timestamp()) * 1_000_000 + stamp.microsecond
        return str(micros) if int64_timestamps else f"{micros / 1e6:.6f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


#: An HTTP answer: status, headers, body.
Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class DryRun:
    """Forward this call to the emulator, then set the statistics the test asked for (a dry run's,
    or with ``billing`` a finished job's)."""

    via_insert: bool
    billing: bool = False


@dataclass
class _Answer:
    """Rows the payload server answers a query with, kept by job id for the follow-up calls."""

    columns: list[str]
    rows: list[dict[str, Any]]
    job: dict[str, Any]

    def schema(self) -> dict[str, Any]:
        return {"fields": [{"name": c, "type": _field_type([r.get(c) for r in self.rows]), "mode": "NULLABLE"}
                           for c in self.columns]}

    def cells(self, int64_timestamps: bool) -> list[dict[str, Any]]:
        return [{"f": [{"v": _cell(r.get(c), int64_timestamps)} for c in self.columns]} for r in self.rows]


class PayloadServer:
    """A local HTTP server in front of the emulator (see the module docstring for what it answers).

    Every call is recorded in :attr:`requests` (method, path without the query string); the JSON
    bodies of ``jobs.insert`` and ``jobs.query`` in :attr:`jobs`; the bearer token of each BigQuery
    call (None when anonymous) in :attr:`bearer_tokens`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.requests: list[tuple[str, str]] = []
        self.jobs: list[dict[str, Any]] = []
        self.bearer_tokens: list[str | None] = []
        #: Tokens the metadata server handed out, oldest first.
        self.metadata_tokens: list[str] = []
        #: ``expires_in`` (seconds) of the tokens the metadata server hands out from now on.
        self.metadata_expires_in = 3599
        self._lock = threading.Lock()
        self._dry_run: tuple[int, str] | None = None
        self._billing: tuple[int, int, bool] | None = None
        self._storage: tuple[list[dict[str, Any]], frozenset[str]] | None = None
        self._refuse: tuple[int, int] | None = None
        self._rate_limited = 0
        self._rate_status = 403
        self._rejected: set[str] = set()
        self._reject_all = False
        self._denied: dict[str, tuple[str, ...]] = {}
        self._answers: dict[str, _Answer] = {}
        self._refused_jobs: dict[str, dict[str, Any]] = {}
        self._client: Any = None
        self._server = ClosingServer(_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="bq-payloads", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> PayloadServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_host(self) -> str:
        """``host:port`` of the fake GCE metadata server, as ``GCE_METADATA_HOST`` takes it."""
        return f"127.0.0.1:{self.port}"

    def client(self) -> bigquery.Client:
        """An anonymous official client pointed at this server (one per server, closed by :meth:`stop`)."""
        if self._client is None:
            self._client = make_client(self.endpoint, self.emulator.project)
        return self._client

    # -- overrides -------------------------------------------------------------------------------

    def dry_run_bytes(self, total: int, accuracy: str = "PRECISE") -> None:
        """Dry runs report ``total`` bytes processed with this ``totalBytesProcessedAccuracy``."""
        if accuracy not in {"UNKNOWN", "PRECISE", "LOWER_BOUND", "UPPER_BOUND"}:
            raise ValueError(f"not a documented totalBytesProcessedAccuracy: {accuracy}")
        with self._lock:
            self._dry_run = (int(total), accuracy)

    def job_billing(self, processed: int, billed: int, cache_hit: bool = False) -> None:
        """Query jobs (not dry runs) report ``processed`` bytes processed, ``billed`` bytes billed
        and ``cacheHit`` in their statistics, as a finished BigQuery job does."""
        with self._lock:
            self._billing = (int(processed), int(billed), bool(cache_hit))

    def table_storage(self, rows: list[dict[str, Any]], *,
                      views: tuple[str, ...] = ("TABLE_STORAGE", "__TABLES__")) -> None:
        """Queries over ``INFORMATION_SCHEMA.TABLE_STORAGE`` / ``__TABLES__`` (those named in
        ``views``; the other still goes to the emulator, which fails it) answer ``rows``: the
        columns are the keys of the first row, in order, typed from the values."""
        unknown = set(views) - {"TABLE_STORAGE", "__TABLES__"}
        if unknown:
            raise ValueError(f"unknown views: {sorted(unknown)}")
        with self._lock:
            self._storage = ([dict(r) for r in rows], frozenset(views))

    def refuse_for_bytes_billed(self, limit: int, needed: int) -> None:
        """From now on, query jobs that are not dry runs (nor answered by :meth:`table_storage`)
        fail with ``bytesBilledLimitExceeded``: "Query exceeded limit for bytes billed: ``limit``.
        ``needed`` or higher required." """
        with self._lock:
            self._refuse = (int(limit), int(needed))

    def rate_limit(self, times: int, status: int = 403) -> None:
        """The next ``times`` BigQuery API calls answer ``status`` (403, or 429) with reason
        ``rateLimitExceeded``; later ones pass through."""
        if status not in (403, 429):
            raise ValueError("rateLimitExceeded comes as 403 (or 429)")
        with self._lock:
            self._rate_limited = int(times)
            self._rate_status = status

    def reject_token(self, token: str) -> None:
        """BigQuery calls bearing ``token`` answer 401 ``authError`` (an expired or revoked token)."""
        with self._lock:
            self._rejected.add(token)

    def deny_table(self, dataset: str, table: str, *, through: tuple[str, ...] = ()) -> None:
        """Query jobs naming ``dataset.table`` (or one of the ``through`` views, ``dataset.view``,
        that read it) answer 403 ``accessDenied`` for ``dataset.table``."""
        with self._lock:
            self._denied[f"{dataset}.{table}"] = (f"{dataset}.{table}", *through)

    def _denial(self, sql: str) -> Answer | None:
        plain = sql.replace("`", "")
        with self._lock:
            denied = dict(self._denied)
        for target, names in denied.items():
            if any(re.search(rf"(^|[\s.,(]){re.escape(n)}($|[\s,);])", plain) for n in names):
                qualified = f"{self.emulator.project}:{target}"
                message = (f"Access Denied: Table {qualified}: User does not have permission to query table "
                           f"{qualified}, or perhaps it does not exist.")
                return _json(403, _error(403, "PERMISSION_DENIED", "accessDenied", message))
        return None

    def reject_every_token(self) -> None:
        """Every call bearing a token answers 401 ``authError``, fresh tokens included."""
        with self._lock:
            self._reject_all = True

    # -- answering -------------------------------------------------------------------------------

    def _mint_token(self) -> dict[str, Any]:
        with self._lock:
            token = f"ya29.agnes-test-{len(self.metadata_tokens) + 1}-{secrets.token_hex(8)}"
            self.metadata_tokens.append(token)
            return {"access_token": token, "expires_in": self.metadata_expires_in, "token_type": "Bearer"}

    def _job_resource(self, body: dict[str, Any], job_id: str, location: str) -> dict[str, Any]:
        project = self.emulator.project
        now = str(int(time.time() * 1000))
        return {
            "kind": "bigquery#job",
            "etag": secrets.token_urlsafe(12),
            "id": f"{project}:{location}.{job_id}",
            "selfLink": f"{self.endpoint}/bigquery/v2/projects/{project}/jobs/{job_id}?location={location}",
            "user_email": "anonymous",
            "jobReference": {"projectId": project, "jobId": job_id, "location": location},
            "configuration": body.get("configuration", {}),
            "status": {"state": "DONE"},
            "statistics": {"creationTime": now, "startTime": now, "endTime": now},
        }

    def _answer_storage(self, body: dict[str, Any], sql: str, *, via_insert: bool) -> tuple[int, dict[str, Any]]:
        with self._lock:
            assert self._storage is not None
            rows = self._storage[0]
        job_id = (body.get("jobReference") or {}).get("jobId") or f"payload_{secrets.token_hex(8)}"
        location = (body.get("jobReference") or {}).get("location") or body.get("location") or "US"
        columns = list(rows[0]) if rows else []
        job = self._job_resource(body if via_insert else {"configuration": {"query": {"query": sql}}},
                                 job_id, location)
        answer = _Answer(columns, rows, job)
        job["configuration"].setdefault("query", {})["destinationTable"] = {
            "projectId": self.emulator.project, "datasetId": RESULTS_DATASET, "tableId": f"anon{job_id}"}
        job["statistics"].update({"totalBytesProcessed": "0", "query": {
            "totalBytesProcessed": "0", "totalBytesBilled": "0", "cacheHit": False, "statementType": "SELECT",
            "schema": answer.schema()}})
        with self._lock:
            self._answers[job_id] = answer
        if via_insert:
            return 200, job
        int64 = bool((body.get("formatOptions") or {}).get("useInt64Timestamp"))
        return 200, self._query_response(answer, "bigquery#queryResponse", int64, max_results=None)

    def _query_response(self, answer: _Answer, kind: str, int64: bool, max_results: int | None) -> dict[str, Any]:
        response: dict[str, Any] = {
            "kind": kind, "etag": secrets.token_urlsafe(12), "schema": answer.schema(),
            "jobReference": answer.job["jobReference"], "totalRows": str(len(answer.rows)),
            "totalBytesProcessed": "0", "jobComplete": True, "cacheHit": False,
        }
        if max_results != 0:
            response["rows"] = answer.cells(int64)
        return response

    def _refusal(self, body: dict[str, Any], *, via_insert: bool) -> tuple[int, dict[str, Any]]:
        with self._lock:
            assert self._refuse is not None
            limit, needed = self._refuse
        message = bytes_billed_message(limit, needed)
        envelope = _error(400, "INVALID_ARGUMENT", "bytesBilledLimitExceeded", message)
        if not via_insert:
            return 400, envelope
        job_ref = body.get("jobReference") or {}
        job = self._job_resource(body, job_ref.get("jobId") or f"payload_{secrets.token_hex(8)}",
                                 job_ref.get("location") or "US")
        job["status"] = {"state": "DONE", "errorResult": envelope["error"]["errors"][0],
                         "errors": envelope["error"]["errors"]}
        with self._lock:
            self._refused_jobs[job["jobReference"]["jobId"]] = job
        return 200, job

    def _patch_billing(self, status: int, payload: Any) -> Any:
        with self._lock:
            billing = self._billing
        if billing is None or status != 200 or not isinstance(payload, dict) or "statistics" not in payload:
            return payload
        processed, billed, cache_hit = billing
        stats = payload["statistics"]
        stats["totalBytesProcessed"] = str(processed)
        stats.setdefault("query", {}).update({"totalBytesProcessed": str(processed), "totalBytesBilled": str(billed),
                                              "cacheHit": cache_hit})
        return payload

    def _patch_dry_run(self, status: int, payload: Any, *, via_insert: bool) -> Any:
        with self._lock:
            override = self._dry_run
        if override is None or status != 200 or not isinstance(payload, dict):
            return payload
        total, accuracy = override
        if via_insert:
            stats = payload.setdefault("statistics", {})
            stats["totalBytesProcessed"] = str(total)
            query = stats.setdefault("query", {})
        else:
            payload["totalBytesProcessed"] = str(total)
            payload["cacheHit"] = False
            query = payload
        query.update({"totalBytesProcessed": str(total), "totalBytesProcessedAccuracy": accuracy,
                      "totalBytesBilled": "0", "cacheHit": False})
        return payload

    def route(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
              body: bytes) -> Answer | DryRun | None:
        """An answer of ours for this call, :class:`DryRun` to forward it and patch the answer, or
        None to forward it to the emulator unchanged."""
        if path.startswith(_METADATA) or path == "/":
            return self._metadata(path, headers)
        if not (path.startswith(_API) or path.startswith(_UPLOAD)):
            return None
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else None
        with self._lock:
            self.bearer_tokens.append(token)
            rejected = token is not None and (self._reject_all or token in self._rejected)
            limited = self._rate_limited > 0
            if limited:
                self._rate_limited -= 1
        if rejected:
            return _json(401, _error(401, "UNAUTHENTICATED", "authError", "Invalid Credentials",
                                     location="Authorization", locationType="header"))
        if limited:
            message = ("Exceeded rate limits: too many api requests per user per method for this user_method. "
                       "For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas")
            code = self._rate_status
            return _json(code, _error(code, "PERMISSION_DENIED" if code == 403 else "RESOURCE_EXHAUSTED",
                                      "rateLimitExceeded", message, domain="usageLimits"))
        return self._bigquery(method, path, query, body)

    def _bigquery(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Answer | DryRun | None:
        parts = path[len(_API):].split("/") if path.startswith(_API) else []
        # projects/{p}/jobs | projects/{p}/queries
        if method == "POST" and len(parts) == 3 and parts[0] == "projects" and parts[2] in ("jobs", "queries"):
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                return None
            with self._lock:
                self.jobs.append(request)
            via_insert = parts[2] == "jobs"
            config = request.get("configuration", {}) if via_insert else request
            sql = ((config.get("query") or {}).get("query") if via_insert else config.get("query")) or ""
            dry = bool(request.get("configuration", {}).get("dryRun") if via_insert else request.get("dryRun"))
            if via_insert and "query" not in request.get("configuration", {}):
                return None  # load, copy, extract jobs
            with self._lock:
                dry_override, storage, refuse, billing = self._dry_run, self._storage, self._refuse, self._billing
            denial = self._denial(sql)
            if denial is not None:
                return denial
            if dry:
                return None if dry_override is None else DryRun(via_insert)
            if storage is not None and _storage_view(sql) in storage[1]:
                return _json(*self._answer_storage(request, sql, via_insert=via_insert))
            if refuse is not None:
                return _json(*self._refusal(request, via_insert=via_insert))
            return DryRun(via_insert, billing=True) if billing is not None and via_insert else None
        # projects/{p}/jobs/{id} | projects/{p}/queries/{id}
        if method == "GET" and len(parts) == 4 and parts[0] == "projects" and parts[2] in ("jobs", "queries"):
            job_id = urllib.parse.unquote(parts[3])
            with self._lock:
                answer = self._answers.get(job_id)
                refused = self._refused_jobs.get(job_id)
            if refused is not None:
                if parts[2] == "jobs":
                    return _json(200, refused)
                return _json(400, {"error": {"code": 400, "message": refused["status"]["errorResult"]["message"],
                                             "errors": refused["status"]["errors"], "status": "INVALID_ARGUMENT"}})
            if answer is None:
                with self._lock:
                    billing = self._billing
                return DryRun(True, billing=True) if billing is not None and parts[2] == "jobs" else None
            if parts[2] == "jobs":
                return _json(200, answer.job)
            max_results = query.get("maxResults", [None])[0]
            return _json(200, self._query_response(answer, "bigquery#getQueryResultsResponse",
                                                   _int64(query), None if max_results is None else int(max_results)))
        # projects/{p}/datasets/_payload_results/tables/anon{id}[/data]
        if (method == "GET" and len(parts) in (6, 7) and parts[0] == "projects" and parts[2] == "datasets"
                and parts[3] == RESULTS_DATASET and parts[4] == "tables" and parts[5].startswith("anon")):
            with self._lock:
                answer = self._answers.get(parts[5][len("anon"):])
            if answer is None:
                return _json(404, _error(404, "NOT_FOUND", "notFound", f"Not found: Table {parts[5]}"))
            table_ref = answer.job["configuration"]["query"]["destinationTable"]
            if len(parts) == 7 and parts[6] == "data":
                return _json(200, {"kind": "bigquery#tableDataList", "etag": secrets.token_urlsafe(12),
                                   "totalRows": str(len(answer.rows)), "rows": answer.cells(_int64(query))})
            return _json(200, {"kind": "bigquery#table", "id": f"{table_ref['projectId']}:{RESULTS_DATASET}."
                               f"{table_ref['tableId']}", "tableReference": table_ref, "schema": answer.schema(),
                               "numRows": str(len(answer.rows)), "numBytes": "0", "type": "TABLE",
                               "location": answer.job["jobReference"]["location"]})
        return None

    def _metadata(self, path: str, headers: dict[str, str]) -> Answer:
        flavor = {"Metadata-Flavor": "Google"}
        if headers.get("metadata-flavor") != "Google":
            return 403, {"Content-Type": "text/html", **flavor}, b"Missing required header: Metadata-Flavor"
        if path == "/":
            return 200, {"Content-Type": "application/text", **flavor}, b"computeMetadata/\n"
        account = path[len(_METADATA):]
        if account == "instance/service-accounts/default/token":
            status, payload = 200, self._mint_token()
            return status, {"Content-Type": "application/json", **flavor}, json.dumps(payload).encode()
        if account in ("instance/service-accounts/default/", "instance/service-accounts/default"):
            info = {"aliases": ["default"], "email": f"agnes-test@{self.emulator.project}.iam.gserviceaccount.com",
                    "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}
            return 200, {"Content-Type": "application/json", **flavor}, json.dumps(info).encode()
        if account == "instance/service-accounts/default/email":
            email = f"agnes-test@{self.emulator.project}.iam.gserviceaccount.com"
            return 200, {"Content-Type": "application/text", **flavor}, email.encode()
        if account == "project/project-id":
            return 200, {"Content-Type": "application/text", **flavor}, self.emulator.project.encode()
        return 404, {"Content-Type": "text/html", **flavor}, b"Not Found"


def _storage_view(sql: str) -> str | None:
    match = _STORAGE_QUERY.search(sql.replace("`", ""))
    if match is None:
        return None
    return "__TABLES__" if match.group(0) == "__TABLES__" else "TABLE_STORAGE"


def _int64(query: dict[str, list[str]]) -> bool:
    return query.get("formatOptions.useInt64Timestamp", ["false"])[0].lower() == "true"


def _json(status: int, payload: Any) -> Answer:
    return status, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(payload).encode()


def _handler(server: PayloadServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the tests read server.requests, not stderr

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _serve(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            body = self._body()
            with server._lock:
                server.requests.append((self.command, url.path))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                answer = server.route(self.command, url.path, urllib.parse.parse_qs(url.query), headers, body)
                if isinstance(answer, DryRun):
                    via_insert = answer.via_insert
                    status, out_headers, raw = self._forward(body)
                    try:
                        payload = json.loads(raw)
                    except ValueError:
                        self._send(status, out_headers, raw)
                        return
                    patched = (server._patch_billing(status, payload) if answer.billing
                               else server._patch_dry_run(status, payload, via_insert=via_insert))
                    self._send(status, {"Content-Type": "application/json; charset=UTF-8"},
                               json.dumps(patched).encode())
                    return
                if answer is None:
                    answer = self._forward(body)
                self._send(*answer)
            except Exception as exc:  # noqa: BLE001 - a harness bug must reach the test as a 500, not a hang
                self._send(*_json(500, _error(500, "INTERNAL", "internalError", f"payload server: {exc!r}")))

        def _forward(self, body: bytes) -> Answer:
            conn = http.client.HTTPConnection("127.0.0.1", server.emulator.rest_port, timeout=300)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Host"] = f"127.0.0.1:{server.emulator.rest_port}"
                conn.request(self.command, self.path, body=body if body or self.command in ("POST", "PUT", "PATCH")
                             else None, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                out = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP}
                if "Location" in out:  # resumable uploads continue through us, so they are counted too
                    out["Location"] = out["Location"].replace(server.emulator.endpoint, server.endpoint)
                return resp.status, out, raw
            finally:
                conn.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return Handler


@contextlib.contextmanager
def payload_server(emulator: Emulator) -> Any:
    """A started :class:`PayloadServer` in front of ``emulator``, stopped on exit."""
    server = PayloadServer(emulator).start()
    try:
        yield server
    finally:
        server.stop()


# --- the notebook tour's data -------------------------------------------------------------------

#: The dataset notebooks/07-bigquery.ipynb reads (seeded when the notebook is collected).
TOUR_DATASET = "support"
TOUR_TICKETS = 2_000
#: What the tour's payload server answers every dry run with: the emulator reports 0 bytes, and
#: BigQuery bills a query by the columns it reads, not the rows it returns.
TOUR_DRY_RUN_BYTES = 300 * 1024**2


def tour_tickets() -> pa.Table:
    """Support tickets of the demo shop's customers (ids 1..50,000), deterministic."""
    import pyarrow as pa

    channels = ["email", "chat", "phone"]
    ids = range(1, TOUR_TICKETS + 1)
    return pa.table({
        "ticket_id": pa.array(ids, pa.int64()),
        "customer_id": pa.array([1 + (i * 7919) % 50_000 for i in ids], pa.int64()),
        "opened_on": pa.array([dt.date(2026, 1, 1) + dt.timedelta(days=(i * 31) % 60) for i in ids], pa.date32()),
        "channel": pa.array([channels[(i * 13) % 3] for i in ids], pa.string()),
        "minutes": pa.array([5 + (i * 37) % 90 for i in ids], pa.int64()),
    })


def seed_tour(emulator: Emulator) -> None:
    """The tour's dataset: a ``tickets`` table and a ``chat_tickets`` view over it."""
    emulator.load(TOUR_DATASET, "tickets", tour_tickets())
    emulator.execute(f"CREATE OR REPLACE VIEW `{emulator.project}.{TOUR_DATASET}.chat_tickets` AS "
                     f"SELECT * FROM `{emulator.project}.{TOUR_DATASET}.tickets` WHERE channel = 'chat'")


#: Where the tour notebook's kernel finds the BigQuery it talks to (or why there is none).
TOUR_ENDPOINT_ENV = "AGNES_TEST_BIGQUERY_ENDPOINT"
TOUR_PROJECT_ENV = "AGNES_TEST_BIGQUERY_PROJECT"
TOUR_STORAGE_ENV = "AGNES_TEST_BIGQUERY_STORAGE_ENDPOINT"
TOUR_ERROR_ENV = "AGNES_TEST_BIGQUERY_ERROR"


def start_tour(emulator: Emulator) -> PayloadServer:
    """Seed the tour's data and start the payload server its notebook talks to (dry runs answer
    :data:`TOUR_DRY_RUN_BYTES`, and jobs report as much processed and billed); the notebook's
    kernel finds it through the ``TOUR_*_ENV`` variables, set here in this process's environment.
    Stop the returned server when done."""
    seed_tour(emulator)
    tour = PayloadServer(emulator).start()
    tour.dry_run_bytes(TOUR_DRY_RUN_BYTES, "PRECISE")
    # A finished job bills what it processed (already a whole number of MiB, over the 10 MB minimum).
    tour.job_billing(processed=TOUR_DRY_RUN_BYTES, billed=TOUR_DRY_RUN_BYTES)
    os.environ.update({TOUR_ENDPOINT_ENV: tour.endpoint, TOUR_PROJECT_ENV: emulator.project,
                       TOUR_STORAGE_ENV: emulator.grpc_endpoint})
    os.environ.pop(TOUR_ERROR_ENV, None)
    return tour
