"""A local Keboola Storage API for the tests: a threading HTTP server on a free port, started per
test (or module), answering the calls the connector makes with the payloads the Storage API
documents (https://keboola.docs.apiary.io, developers.keboola.com/integrate/storage/api/), and
serving the exported files as the stack's file storage would.

What it answers:

* ``GET /v2/storage/tokens/verify`` — the token detail (``id``, ``description``, ``owner``).
* ``GET /v2/storage/buckets`` — every bucket (``id``, ``name``, ``stage``, ``description``,
  ``backend``, ``rowsCount``, ``dataSizeBytes``, ``lastChangeDate``). The Storage API answers
  bucket and table lists whole — it does not page them — and so does this server.
* ``GET /v2/storage/tables?include=…``, ``GET /v2/storage/buckets/{id}/tables?include=columns,metadata,
  columnMetadata`` and ``GET /v2/storage/tables/{id}`` — tables with ``columns``, ``metadata`` and
  ``columnMetadata`` (``{"key", "value", "provider", "timestamp"}`` entries: ``KBC.description``,
  ``KBC.datatype.basetype``/``type``/``length``/``nullable``), ``primaryKey``, ``rowsCount``,
  ``dataSizeBytes``, ``lastImportDate``, ``lastChangeDate``, ``isAlias``.
* ``POST /v2/storage/tables/{id}/export-async`` (JSON or form body: ``columns``, ``changedSince``,
  ``whereFilters[]`` with ``column``/``operator`` (eq, ne, lt, le, gt, ge)/``values``/``dataType``,
  ``whereColumn``/``whereValues``/``whereOperator``, ``format``, ``gzip``) — 202 and a job in
  ``waiting``; ``GET /v2/storage/jobs/{id}`` moves it ``waiting`` → ``processing`` →
  ``success`` (``results.file.id``) one poll at a time, or to ``error`` (``error.message``) when a
  test asked for it.
* ``GET /v2/storage/files/{id}?federationToken=1`` — the file detail: ``isSliced``, ``url`` (a
  "pre-signed" link to the file, or for a sliced file to its manifest), ``region``, ``s3Path``
  and ``credentials`` (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``).
* The manifest ``{"entries": [{"url": ...}, ...]}`` and the slices: gzipped RFC CSV (every value
  quoted), rows in table order split over ``slices`` files, no header line (as Keboola's own
  clients expect: they write the header themselves) unless ``header_in_first_slice``. With
  ``s3_entries`` the manifest names ``s3://bucket/key`` and the slices are served path-style at
  ``/{bucket}/{key}`` only to GETs signed with AWS SigV4 by the file's credentials (checked
  against ``files.sign_v4``, itself checked against AWS's published example in the tests).

Failures a test can ask for: ``rate_limit(times, status, retry_after)`` (the next API calls
answer 429/5xx), ``reject_token()`` (every call 401 as an expired token is answered:
``{"error": "Invalid access token", "code": "storage.tokenInvalid"}``), ``fail_next_export``
(the job ends in ``error``), ``break_slice(i)`` (slice *i* is cut off mid-body),
``stalled_slices`` (held until ``release``), ``denied`` (403 ``accessDenied`` for those tables),
and 404 for unknown buckets and tables (``storage.buckets.notFound`` / ``storage.tables.notFound``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import io
import itertools
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from tests._httpserver import ClosingServer

TOKEN_PREFIX = "1234-56789-"
ERROR_STATUS = "error"


@dataclass
class Column:
    name: str
    basetype: str = "STRING"
    native: str | None = None
    length: str | None = None
    nullable: bool = True
    description: str | None = None
    #: Who set the type (``user`` wins over a component such as ``keboola.ex-db-snowflake``).
    provider: str = "keboola.ex-db-snowflake"


@dataclass
class KTable:
    bucket: str
    name: str
    columns: list[Column]
    data: pa.Table
    primary_key: list[str] = field(default_factory=list)
    description: str | None = None
    #: When each row was imported (``changedSince`` filters by it); None: all at ``last_import``.
    imported_at: list[dt.datetime] | None = None
    last_import: str = "2026-11-30T10:00:00+0100"
    last_change: str = "2026-11-30T10:00:05+0100"
    size_bytes: int | None = None
    is_alias: bool = False

    @property
    def id(self) -> str:
        return f"{self.bucket}.{self.name}"

    def detail(self, include: set[str] | None = None) -> dict[str, Any]:
        include = {"columns", "metadata", "columnMetadata"} if include is None else include
        out: dict[str, Any] = {
            "uri": f"https://connection.keboola.com/v2/storage/tables/{self.id}", "id": self.id, "name": self.name,
            "displayName": self.name, "transactional": False, "primaryKey": list(self.primary_key),
            "indexType": None, "indexKey": [], "distributionType": None, "distributionKey": [],
            "syntheticPrimaryKeyEnabled": False, "created": "2026-01-05T09:00:00+0100",
            "lastImportDate": self.last_import, "lastChangeDate": self.last_change,
            "rowsCount": self.data.num_rows, "dataSizeBytes": self.size_bytes if self.size_bytes is not None
            else max(1, self.data.nbytes // 3), "isAlias": self.is_alias, "isAliasable": True, "isTyped": False,
            "attributes": [],
            "bucket": {"id": self.bucket, "name": self.bucket.split(".", 1)[1], "stage": self.bucket.split(".")[0]},
        }
        if "columns" in include:
            out["columns"] = [c.name for c in self.columns]
        if "metadata" in include:
            out["metadata"] = ([{"id": "1", "key": "KBC.description", "value": self.description, "provider": "user",
                                 "timestamp": "2026-01-05T09:00:00+0100"}] if self.description else [])
        if "columnMetadata" in include:
            out["columnMetadata"] = {c.name: _column_metadata(c) for c in self.columns}
        return out


def _column_metadata(c: Column) -> list[dict[str, Any]]:
    entries = [("KBC.datatype.basetype", c.basetype), ("KBC.datatype.type", c.native),
               ("KBC.datatype.length", c.length), ("KBC.datatype.nullable", "1" if c.nullable else "0")]
    out = [{"id": str(i), "key": k, "value": v, "provider": c.provider, "timestamp": "2026-01-05T09:00:00+0100"}
           for i, (k, v) in enumerate(entries) if v is not None]
    if c.description:
        out.append({"id": "99", "key": "KBC.description", "value": c.description, "provider": "user",
                    "timestamp": "2026-01-06T09:00:00+0100"})
    return out


@dataclass
class Export:
    file_id: int
    slices: list[bytes]
    columns: list[str]


class KeboolaServer:
    """The server and its state. ``requests`` records (method, path, query, body) of every call."""

    def __init__(self, *, slices: int = 3, token: str | None = None) -> None:
        self.token = token or TOKEN_PREFIX + "Zk3QvB8tPq2LrXy7W9aJm4Hd"
        self.slices = slices
        self.header_in_first_slice = False
        self.s3_entries = False
        self.sliced = True
        self.tables: dict[str, KTable] = {}
        self.extra_buckets: list[str] = []
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.jobs: dict[int, dict[str, Any]] = {}
        self.exports: dict[int, Export] = {}
        self.credentials = {"AccessKeyId": "ASIAKEBOOLATEST0001", "SecretAccessKey": "sEcReT/agnes+test+KEY0123456789",
                            "SessionToken": "FwoGZXIvYXdzEAgnesSessionTokenValue0123456789", "Expiration":
                            "2026-12-02T20:00:00+00:00"}
        #: The secret key the object store checks signatures with (None: the one handed out).
        self.s3_expected_secret: str | None = None
        self.bucket_name = "kbc-sapi-files"
        self.region = "eu-central-1"
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._rate_limited = 0
        self._rate_status = 429
        self._retry_after: str | None = "0"
        self._reject = False
        self._fail_export: str | None = None
        self._broken_slices: set[int] = set()
        #: Export jobs stay ``processing`` while this is set (a long export).
        self.hold_jobs = False
        #: Slices whose download waits until ``release`` is set (an extract caught mid-stream).
        self.stalled_slices: set[int] = set()
        self.release = threading.Event()
        #: Table ids the token may not read (403 accessDenied, as the Storage API answers).
        self.denied: set[str] = set()
        #: Bodies of exports prepared once and reused (the benchmark asks for the same export repeatedly).
        self.cache_exports = False
        self._cached: dict[str, list[bytes]] = {}
        self._server = ClosingServer(_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="keboola-api", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> KeboolaServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- set-up ---------------------------------------------------------------------------------

    def add_table(self, table: KTable) -> KTable:
        self.tables[table.id] = table
        return table

    def rate_limit(self, times: int, status: int = 429, retry_after: str | None = "0") -> None:
        with self._lock:
            self._rate_limited, self._rate_status, self._retry_after = times, status, retry_after

    def reject_token(self) -> None:
        self._reject = True

    def fail_next_export(self, message: str) -> None:
        self._fail_export = message

    def break_slice(self, index: int) -> None:
        self._broken_slices.add(index)

    def calls(self, method: str, prefix: str) -> list[tuple[str, str, dict[str, list[str]], Any]]:
        return [r for r in self.requests if r[0] == method and r[1].startswith(prefix)]

    def export_bodies(self) -> list[dict[str, Any]]:
        return [r[3] for r in self.requests if r[0] == "POST" and r[1].endswith("/export-async")]

    # -- routing --------------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
              body: bytes) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/v2/storage"):
            return self._api(method, path, query, headers, body)
        if path.startswith("/files/"):
            return self._file(path, query)
        if path.startswith(f"/{self.bucket_name}/"):
            return self._s3(path, headers)
        return _json(404, {"error": f"no route {path}", "code": "notFound", "status": ERROR_STATUS})

    def _api(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
             body: bytes) -> tuple[int, dict[str, str], bytes]:
        if headers.get("x-storageapi-token") != self.token or self._reject:
            return _json(401, {"error": "Invalid access token", "code": "storage.tokenInvalid",
                               "status": ERROR_STATUS, "exceptionId": "exception-4f2a"})
        with self._lock:
            if self._rate_limited > 0:
                self._rate_limited -= 1
                extra = {"Retry-After": self._retry_after} if self._retry_after is not None else {}
                status, out, raw = _json(self._rate_status, {
                    "error": "Too many requests" if self._rate_status == 429 else "Internal Server Error",
                    "code": "tooManyRequests" if self._rate_status == 429 else "internalError",
                    "status": ERROR_STATUS})
                return status, {**out, **extra}, raw
        parts = [urllib.parse.unquote(p) for p in path.split("/")[3:]]
        if method == "GET" and parts == ["tokens", "verify"]:
            return _json(200, {"id": "98765", "description": "agnes reader", "isMasterToken": False,
                               "canReadAllFileUploads": True, "owner": {"id": 4321, "name": "Agnes Test Project"},
                               "bucketPermissions": {b: "read" for b in self._buckets()}})
        if method == "GET" and parts == ["buckets"]:
            return _json(200, [self._bucket(b) for b in self._buckets()])
        if method == "GET" and parts == ["tables"]:
            include = set((query.get("include") or [""])[0].split(","))
            return _json(200, [t.detail(include) for t in self.tables.values()])
        if method == "GET" and len(parts) == 3 and parts[0] == "buckets" and parts[2] == "tables":
            bucket = parts[1]
            if bucket not in self._buckets():
                return _json(404, {"error": f"Bucket {bucket} not found", "code": "storage.buckets.notFound",
                                   "status": ERROR_STATUS})
            include = set((query.get("include") or [""])[0].split(","))
            return _json(200, [t.detail(include) for t in self.tables.values() if t.bucket == bucket])
        if len(parts) >= 2 and parts[0] == "tables" and parts[1] in self.denied:
            return _json(403, {"error": "You don't have access to the resource.", "code": "accessDenied",
                               "status": ERROR_STATUS, "exceptionId": "exception-3d1e"})
        if method == "GET" and len(parts) == 2 and parts[0] == "tables":
            table = self.tables.get(parts[1])
            return _json(200, table.detail()) if table else _table_missing(parts[1])
        if method == "POST" and len(parts) == 3 and parts[0] == "tables" and parts[2] == "export-async":
            table = self.tables.get(parts[1])
            if table is None:
                return _table_missing(parts[1])
            return self._export(table, _params(headers, body))
        if method == "GET" and len(parts) == 2 and parts[0] == "jobs":
            return self._job(int(parts[1]))
        if method == "GET" and len(parts) == 2 and parts[0] == "files":
            return self._file_detail(int(parts[1]), query)
        return _json(404, {"error": f"no route {method} {path}", "code": "notFound", "status": ERROR_STATUS})

    def _buckets(self) -> list[str]:
        return sorted({t.bucket for t in self.tables.values()} | set(self.extra_buckets))

    def _bucket(self, bucket: str) -> dict[str, Any]:
        tables = [t for t in self.tables.values() if t.bucket == bucket]
        stage, name = bucket.split(".", 1)
        return {"uri": f"https://connection.keboola.com/v2/storage/buckets/{bucket}", "id": bucket, "name": name,
                "displayName": name.removeprefix("c-"), "stage": stage, "description": "", "tables":
                f"https://connection.keboola.com/v2/storage/buckets/{bucket}", "created": "2026-01-05T09:00:00+0100",
                "lastChangeDate": "2026-11-30T10:00:05+0100", "isReadOnly": False,
                "dataSizeBytes": sum(t.detail()["dataSizeBytes"] for t in tables),
                "rowsCount": sum(t.data.num_rows for t in tables), "isMaintenance": False, "backend": "snowflake",
                "sharing": None, "hasExternalSchema": False, "attributes": []}

    # -- exports --------------------------------------------------------------------------------

    def _export(self, table: KTable, params: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        columns = params.get("columns") or [c.name for c in table.columns]
        if isinstance(columns, str):
            columns = [c for c in columns.split(",") if c]
        unknown = [c for c in columns if c not in table.data.column_names]
        if unknown:
            return _json(400, {"error": f"Columns {', '.join(unknown)} not found in table",
                               "code": "storage.tables.validation.invalidColumns", "status": ERROR_STATUS})
        job_id = next(self._ids)
        file_id = next(self._ids)
        key = json.dumps([table.id, params], sort_keys=True, default=str)
        failure, self._fail_export = self._fail_export, None
        if failure is None:
            slices = self._cached.get(key) if self.cache_exports else None
            if slices is None:
                try:
                    slices = self._render(table, columns, params)
                except _BadRequest as exc:
                    return _json(400, {"error": str(exc), "code": "storage.tables.validation", "status": ERROR_STATUS})
                if self.cache_exports:
                    self._cached[key] = slices
            self.exports[file_id] = Export(file_id, slices, list(columns))
        job = {"id": job_id, "status": "waiting", "url": f"https://connection.keboola.com/v2/storage/jobs/{job_id}",
               "tableId": table.id, "operationName": "tableExport", "operationParams": params,
               "createdTime": "2026-12-02T10:00:00+0100", "startTime": None, "endTime": None, "runId": None,
               "results": None, "creatorToken": {"id": "98765", "description": "agnes reader"}, "metrics": {},
               "_polls": 0, "_file": file_id, "_failure": failure}
        self.jobs[job_id] = job
        return _json(202, _public(job))

    def _render(self, table: KTable, columns: list[str], params: dict[str, Any]) -> list[bytes]:
        data = table.data
        keep = pa.array([True] * data.num_rows)
        since = params.get("changedSince")
        if since:
            when = dt.datetime.fromisoformat(str(since).replace("Z", "+00:00"))
            stamps = table.imported_at or [dt.datetime.fromisoformat(table.last_import)] * data.num_rows
            keep = pc.and_(keep, pa.array([s >= when for s in stamps]))
        filters = list(params.get("whereFilters") or [])
        if params.get("whereColumn"):
            filters.append({"column": params["whereColumn"], "operator": params.get("whereOperator", "eq"),
                            "values": params.get("whereValues") or []})
        for f in filters:
            keep = pc.and_(keep, _where(data, f))
        data = data.filter(keep).select(columns)
        n = self.slices if self.sliced else 1
        per = -(-data.num_rows // n) if data.num_rows else 0
        out = []
        for i in range(n):
            part = data.slice(i * per, per) if per else data.slice(0, 0)
            text = _csv(part)
            if i == 0 and self.header_in_first_slice:
                text = (",".join(f'"{c}"' for c in columns) + "\n").encode() + text
            out.append(gzip.compress(text, compresslevel=1))
        return out

    def _job(self, job_id: int) -> tuple[int, dict[str, str], bytes]:
        job = self.jobs.get(job_id)
        if job is None:
            return _json(404, {"error": f"Job {job_id} not found", "code": "storage.jobs.notFound",
                               "status": ERROR_STATUS})
        job["_polls"] += 1
        if job["status"] == "waiting":
            job["status"], job["startTime"] = "processing", "2026-12-02T10:00:01+0100"
        elif job["status"] == "processing" and not self.hold_jobs:
            job["endTime"] = "2026-12-02T10:00:02+0100"
            if job["_failure"]:
                job["status"] = "error"
                job["error"] = {"code": "storage.tableExport.failed", "message": job["_failure"],
                                "exceptionId": "exception-9b1c"}
            else:
                job["status"] = "success"
                job["results"] = {"file": {"id": job["_file"]}, "cache": False}
        return _json(200, _public(job))

    def _file_detail(self, file_id: int, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        export = self.exports.get(file_id)
        if export is None:
            return _json(404, {"error": f"File {file_id} not found", "code": "storage.files.notFound",
                               "status": ERROR_STATUS})
        signature = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=" + "ab12" * 16
        sliced = self.sliced
        path = f"/files/{file_id}/manifest" if sliced else f"/files/{file_id}/slices/0.csv.gz"
        detail: dict[str, Any] = {
            "id": file_id, "created": "2026-12-02T10:00:02+0100", "isPublic": False, "isSliced": sliced,
            "isEncrypted": True, "name": f"export-{file_id}.csv.gz", "url": f"{self.url}{path}?{signature}",
            "provider": "aws", "region": self.region, "sizeBytes": sum(len(s) for s in export.slices),
            "tags": ["table-export"], "maxAgeDays": 15, "runId": None, "runIds": [],
            "creatorToken": {"id": "98765", "description": "agnes reader"},
            "s3Path": {"bucket": self.bucket_name, "key": f"exp-15/4321/table-exports/{file_id}.csv.gz"},
        }
        if (query.get("federationToken") or ["0"])[0] in ("1", "true"):
            detail["credentials"] = dict(self.credentials)
        return _json(200, detail)

    def _slice_urls(self, file_id: int) -> list[str]:
        export = self.exports[file_id]
        if self.s3_entries:
            return [f"s3://{self.bucket_name}/exp-15/4321/table-exports/{file_id}.csv.gz{i:04d}_part_00"
                    for i in range(len(export.slices))]
        signature = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=" + "cd34" * 16
        return [f"{self.url}/files/{file_id}/slices/{i}.csv.gz?{signature}" for i in range(len(export.slices))]

    def _file(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        match = re.fullmatch(r"/files/(\d+)/(manifest|slices/(\d+)\.csv\.gz)", path)
        if match is None or int(match.group(1)) not in self.exports or "X-Amz-Signature" not in query:
            return 403, {"Content-Type": "application/xml"}, b"<Error><Code>AccessDenied</Code></Error>"
        file_id = int(match.group(1))
        if match.group(2) == "manifest":
            return _json(200, {"entries": [{"url": u} for u in self._slice_urls(file_id)]})
        return self._slice(file_id, int(match.group(3)))

    def _s3(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        from agnes_core.connectors.keboola.files import sign_v4

        match = re.fullmatch(rf"/{self.bucket_name}/exp-15/4321/table-exports/(\d+)\.csv\.gz(\d{{4}})_part_00", path)
        if match is None:
            return 404, {"Content-Type": "application/xml"}, b"<Error><Code>NoSuchKey</Code></Error>"
        stamp = headers.get("x-amz-date", "")
        try:
            now = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            return 403, {"Content-Type": "application/xml"}, b"<Error><Code>AccessDenied</Code></Error>"
        expected = sign_v4("GET", headers.get("host", ""), path, self.region, self.credentials["AccessKeyId"],
                           self.s3_expected_secret or self.credentials["SecretAccessKey"],
                           self.credentials["SessionToken"], now)
        if headers.get("authorization") != expected["Authorization"] or \
                headers.get("x-amz-security-token") != self.credentials["SessionToken"]:
            return 403, {"Content-Type": "application/xml"}, b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
        return self._slice(int(match.group(1)), int(match.group(2)))

    def _slice(self, file_id: int, index: int) -> tuple[int, dict[str, str], bytes]:
        export = self.exports.get(file_id)
        if export is None or index >= len(export.slices):
            return 404, {"Content-Type": "application/xml"}, b"<Error><Code>NoSuchKey</Code></Error>"
        if index in self.stalled_slices:
            self.release.wait(timeout=60)
        body = export.slices[index]
        headers = {"Content-Type": "application/octet-stream"}
        if index in self._broken_slices:
            headers["X-Agnes-Cut"] = str(len(body))  # the handler sends half of it, then drops the connection
        return 200, headers, body


class _BadRequest(Exception):
    pass


def _where(data: pa.Table, f: dict[str, Any]) -> pa.Array:
    column = f.get("column")
    if column not in data.column_names:
        raise _BadRequest(f"Column {column} not found")
    operator = f.get("operator", "eq")
    values = f.get("values") or []
    if isinstance(values, str):
        values = [values]
    kind = str(f.get("dataType") or "").upper()
    col = data.column(column)
    if kind in ("INTEGER", "BIGINT"):
        col, values = pc.cast(col, pa.int64()), [int(v) for v in values]
    elif kind in ("DOUBLE", "REAL", "DECIMAL"):
        col, values = pc.cast(col, pa.float64()), [float(v) for v in values]
    else:  # untyped: Keboola compares the text (as exported)
        col = _as_text(col)
        values = [str(v) for v in values]
    ops = {"eq": pc.equal, "ne": pc.not_equal, "lt": pc.less, "le": pc.less_equal, "gt": pc.greater,
           "ge": pc.greater_equal}
    if operator not in ops:
        raise _BadRequest(f"Invalid operator {operator}")
    if operator in ("eq", "ne"):
        hit = pc.is_in(col, value_set=pa.array(values, type=col.type))
        hit = pc.fill_null(hit, False)
        return hit if operator == "eq" else pc.invert(hit)
    if len(values) != 1:
        raise _BadRequest(f"Operator {operator} takes one value")
    return pc.fill_null(ops[operator](col, pa.scalar(values[0], type=col.type)), False)


def _as_text(col: Any) -> Any:
    t = col.type
    if pa.types.is_timestamp(t):
        text = pc.strftime(col, format="%Y-%m-%d %H:%M:%S")
        return pc.binary_join_element_wise(text, " +0000", "") if t.tz else text
    if pa.types.is_boolean(t):
        return pc.if_else(col, "true", "false")
    return pc.cast(col, pa.string())


def _csv(table: pa.Table) -> bytes:
    """RFC CSV as Keboola exports it: every value quoted, NULL as an empty string, no header."""
    columns = [pc.fill_null(_as_text(c), "") for c in table.columns]
    text = pa.table(columns, names=table.column_names)
    out = io.BytesIO()
    pcsv.write_csv(text, out, write_options=pcsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    return out.getvalue()


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _table_missing(table_id: str) -> tuple[int, dict[str, str], bytes]:
    bucket = table_id.rsplit(".", 1)[0]
    return _json(404, {"error": f'The table "{table_id.rsplit(".", 1)[-1]}" was not found in the bucket "{bucket}" '
                       'in the project "4321"', "code": "storage.tables.notFound", "status": ERROR_STATUS,
                       "exceptionId": "exception-77ab"})


def _params(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """An export's parameters from a JSON or form body (``whereFilters[0][values][]=...``)."""
    if "json" in headers.get("content-type", ""):
        return dict(json.loads(body or b"{}"))
    out: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(body.decode(), keep_blank_values=True):
        match = re.fullmatch(r"whereFilters\[(\d+)\]\[(\w+)\](\[\])?", key)
        if match:
            filters = out.setdefault("whereFilters", [])
            i = int(match.group(1))
            while len(filters) <= i:
                filters.append({})
            if match.group(3):
                filters[i].setdefault(match.group(2), []).append(value)
            else:
                filters[i][match.group(2)] = value
        elif key.endswith("[]"):
            out.setdefault(key[:-2], []).append(value)
        else:
            out[key] = value
    return out


def _json(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _handler(server: KeboolaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        #: Headers and body go out in two writes: without TCP_NODELAY, Nagle and the client's delayed
        #: ACK hold every small answer 40 ms on a kept-alive connection (a real stack does not).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            query = urllib.parse.parse_qs(url.query)
            try:
                parsed: Any = json.loads(body) if body and "json" in headers.get("content-type", "") else \
                    (_params(headers, body) if body else None)
            except ValueError:
                parsed = None
            with server._lock:
                server.requests.append((self.command, url.path, query, parsed))
            try:
                status, out, payload = server.route(self.command, url.path, query, headers, body)
            except Exception as exc:  # noqa: BLE001 - a harness bug reaches the test as a 500, not a hang
                status, out, payload = _json(500, {"error": f"test server: {exc!r}", "code": "internal",
                                                   "status": ERROR_STATUS})
            cut = out.pop("X-Agnes-Cut", None)
            self.send_response(status)
            for name, value in out.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            if cut is not None:
                self.send_header("Connection", "close")
            self.end_headers()
            if cut is not None:
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        do_GET = do_POST = _serve

    return Handler


@contextlib.contextmanager
def keboola_server(**kwargs: Any) -> Any:
    server = KeboolaServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


# -- test data -------------------------------------------------------------------------------------

BUCKET = "in.c-shop"


def orders_table(rows: int = 100) -> KTable:
    """``in.c-shop.orders``: every Keboola basetype, described, keyed by ``id``; row *i* was
    imported at 2026-11-01 + *i* hours and last updated at 2026-11-01 + *i* hours - 5 minutes."""
    base = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    ids = list(range(1, rows + 1))
    data = pa.table({
        "id": pa.array(ids, pa.int64()),
        "customer": pa.array([f"cust-{i % 7}, \"vip\"" if i % 10 == 0 else f"cust-{i % 7}" for i in ids]),
        "amount": pa.array([None if i % 13 == 0 else i * 1.25 for i in ids], pa.float64()),
        "price": pa.array([f"{i}.{i % 100:02d}" for i in ids]).cast(pa.decimal128(12, 2)),
        "paid": pa.array([i % 2 == 0 for i in ids]),
        "ordered_on": pa.array([(base + dt.timedelta(days=i % 30)).date() for i in ids], pa.date32()),
        "updated_at": pa.array([(base + dt.timedelta(hours=i, minutes=-5)).replace(tzinfo=None) for i in ids],
                               pa.timestamp("us")),
        "shipped_at": pa.array([None if i % 3 == 0 else base + dt.timedelta(hours=i + 30) for i in ids],
                               pa.timestamp("us", tz="UTC")),
        "note": pa.array(["line one\nline two" if i == 5 else "" for i in ids]),
    })
    columns = [
        Column("id", "INTEGER", "NUMBER", "38,0", nullable=False, description="Order number"),
        Column("customer", "STRING", "VARCHAR", "255"),
        Column("amount", "FLOAT", "FLOAT"),
        Column("price", "NUMERIC", "NUMBER", "12,2"),
        Column("paid", "BOOLEAN", "BOOLEAN"),
        Column("ordered_on", "DATE", "DATE"),
        Column("updated_at", "TIMESTAMP", "TIMESTAMP_NTZ"),
        Column("shipped_at", "TIMESTAMP", "TIMESTAMP_TZ"),
        Column("note", provider="user"),  # no type: a string
    ]
    return KTable(BUCKET, "orders", columns, data, primary_key=["id"], description="Orders from the web shop",
                  imported_at=[base + dt.timedelta(hours=i) for i in ids])
