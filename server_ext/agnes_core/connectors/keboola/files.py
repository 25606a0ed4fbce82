"""Exported files: where their slices are and how to read them.

``GET /v2/storage/files/{id}?federationToken=1`` answers the file's ``url`` (a pre-signed link)
and, for the stack's object store, short-lived credentials. A sliced file's ``url`` is a manifest
``{"entries": [{"url": ...}, ...]}`` whose entries name the slices in the object store:

* ``https://…`` — a pre-signed link, fetched as it is;
* ``s3://bucket/key`` (AWS stacks) — a GET signed with AWS Signature V4 from the file's
  ``credentials`` (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``) in its ``region``;
* ``gs://bucket/key`` (GCP stacks) — the JSON API's media download with the file's
  ``gcsCredentials.access_token`` as a bearer token;
* ``azure://account.blob.core.windows.net/container/path`` (Azure stacks) — the blob URL with
  the SAS of ``absCredentials.SASConnectionString``.

``object_endpoint`` (an option) replaces the cloud's endpoint for S3 and GCS (a private endpoint,
a local test server); S3 is then addressed path-style.

The slices of an exported table are gzipped CSV in the requested column order. Keboola's own
clients (storage-api-php-client's ``TableExporter``, sapi-python-client's ``export_to_file``) write
the header line themselves from the table's columns: the slices carry none. The issue that asked
for this connector says the first slice carries it; :class:`SliceStream` therefore checks the
first line of the first slice and skips it when it is exactly the header — so both layouts read
the same, and no other slice is ever inspected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from agnes_core.errors import SourceError


@dataclass
class Slice:
    url: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """The host only: slice URLs carry signatures and are never put in a message."""
        return urlsplit(self.url).netloc


def file_secrets(detail: dict[str, Any]) -> list[str]:
    """Credential values of a file detail (redacted from every message)."""
    out = []
    creds = detail.get("credentials") or {}
    out += [str(creds.get(k)) for k in ("SecretAccessKey", "SessionToken", "AccessKeyId") if creds.get(k)]
    gcs = detail.get("gcsCredentials") or {}
    if gcs.get("access_token"):
        out.append(str(gcs["access_token"]))
    abs_ = detail.get("absCredentials") or {}
    if abs_.get("SASConnectionString"):
        out.append(str(abs_["SASConnectionString"]))
        sas = _sas(abs_)
        if sas:
            out.append(sas)
    return out


def resolve(entry_url: str, detail: dict[str, Any], *, object_endpoint: str | None, source: str) -> Slice:
    """How to GET one slice named by a manifest entry."""
    parts = urlsplit(entry_url)
    if parts.scheme in ("http", "https"):
        return Slice(entry_url)
    if parts.scheme == "s3":
        return _s3(parts.netloc, parts.path.lstrip("/"), detail, object_endpoint, source)
    if parts.scheme == "gs":
        token = (detail.get("gcsCredentials") or {}).get("access_token")
        if not token:
            raise _no_credentials(source, "gcsCredentials")
        base = (object_endpoint or "https://storage.googleapis.com").rstrip("/")
        url = f"{base}/storage/v1/b/{quote(parts.netloc, safe='')}/o/{quote(parts.path.lstrip('/'), safe='')}?alt=media"
        return Slice(url, {"Authorization": f"Bearer {token}"})
    if parts.scheme == "azure":
        sas = _sas(detail.get("absCredentials") or {})
        if not sas:
            raise _no_credentials(source, "absCredentials")
        return Slice(f"https://{parts.netloc}{parts.path}?{sas}")
    raise SourceError(f"keboola source {source!r}: the export names a slice in an unknown store ({parts.scheme!r})",
                      hint="This stack's file storage is not supported by the connector; tell the Agnes "
                      "maintainers which stack it is.", details={"source": source, "scheme": parts.scheme})


def _no_credentials(source: str, key: str) -> SourceError:
    return SourceError(f"keboola source {source!r}: the file detail has no {key} to download the export",
                       hint="The token may not read files: give it the files permission.",
                       details={"source": source})


def _sas(abs_credentials: dict[str, Any]) -> str | None:
    text = str(abs_credentials.get("SASConnectionString") or "")
    for part in text.split(";"):
        if part.startswith("SharedAccessSignature="):
            return part.split("=", 1)[1]
    return None


# -- AWS Signature Version 4 (a signed GET of one object) --------------------------------------

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _s3(bucket: str, key: str, detail: dict[str, Any], endpoint: str | None, source: str,
        now: dt.datetime | None = None) -> Slice:
    creds = detail.get("credentials") or {}
    if not (creds.get("AccessKeyId") and creds.get("SecretAccessKey")):
        raise _no_credentials(source, "credentials")
    region = str(detail.get("region") or "us-east-1")
    path_key = "/" + quote(key, safe="/-_.~")
    if endpoint:
        base = endpoint.rstrip("/")
        host = urlsplit(base).netloc
        path = f"{urlsplit(base).path}/{quote(bucket, safe='')}{path_key}"
        url = f"{urlsplit(base).scheme}://{host}{path}"
    else:
        host = f"{bucket}.s3.{region}.amazonaws.com"
        path = path_key
        url = f"https://{host}{path}"
    headers = sign_v4("GET", host, path, region, str(creds["AccessKeyId"]), str(creds["SecretAccessKey"]),
                      creds.get("SessionToken"), now or dt.datetime.now(dt.timezone.utc))
    return Slice(url, headers)


def sign_v4(method: str, host: str, path: str, region: str, access_key: str, secret_key: str,
            session_token: str | None, now: dt.datetime, service: str = "s3",
            extra: dict[str, str] | None = None) -> dict[str, str]:
    """The headers of an AWS SigV4-signed request without a query string or body (``extra``:
    more headers to send and sign, lower-case names)."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    headers = {"host": host, "x-amz-content-sha256": _EMPTY_SHA256, "x-amz-date": stamp, **(extra or {})}
    if session_token:
        headers["x-amz-security-token"] = str(session_token)
    names = sorted(headers)
    canonical = "\n".join([method, path, "", *(f"{n}:{headers[n].strip()}" for n in names), "",
                           ";".join(names), _EMPTY_SHA256])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {n: v for n, v in headers.items() if n != "host"}
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
                            f"Signature={signature}")
    return out


# -- reading one slice -------------------------------------------------------------------------


class SliceStream:
    """One gzipped slice, downloaded: its compressed bytes (in memory up to ``spool_bytes``, beyond
    that in a temporary file), then inflated and parsed by Arrow in C++ without calling back into
    Python — several slices can then parse side by side without fighting over the GIL.

    While it downloads, the slice's beginning is inflated here to look at its first line:
    ``header`` lists the header lines it may start with (the first slice only) and
    :attr:`header_skipped` says whether it does (the reader then skips one row); :attr:`empty`
    says the slice holds no data at all (Arrow refuses an empty CSV). Memory per slice is bounded
    by ``spool_bytes`` of compressed data plus what the CSV reader holds."""

    #: Inflate at most this much of a slice's beginning to find its first line.
    PEEK_LIMIT = 1 << 20
    #: Compressed bytes of one slice kept in memory; a larger slice goes to a temporary file.
    SPOOL_BYTES = 64 << 20

    def __init__(self, chunks: Iterator[bytes], header: tuple[bytes, ...] = (), *,
                 spool_bytes: int | None = None) -> None:
        self._chunks: list[bytes] = []
        self._file: Any = None
        self.size = 0
        self.header_skipped = False
        self.empty = False
        limit = self.SPOOL_BYTES if spool_bytes is None else spool_bytes
        self._inflate = zlib.decompressobj(wbits=31)
        self._text = b""
        self._want_line = bool(header)
        deciding = True
        try:
            for chunk in chunks:
                if deciding:
                    deciding = self._peek(chunk)
                self._keep(chunk, limit)
        except BaseException:
            self.close()
            raise
        self.empty = not self._text
        line, sep, _ = self._text.partition(b"\n")
        self.header_skipped = bool(sep and header and line.rstrip(b"\r") in header)

    def _peek(self, chunk: bytes) -> bool:
        """Inflate only as much of the slice's beginning as it takes to see its first line (the
        first slice) or its first byte (the others); True while that is not yet known."""
        data = chunk
        while data and self._undecided():
            if self._inflate.eof:  # concatenated gzip members: each is inflated in turn
                self._inflate = zlib.decompressobj(wbits=31)
            self._text += self._inflate.decompress(data, 64 << 10)
            data = self._inflate.unused_data if self._inflate.eof else self._inflate.unconsumed_tail
        return self._undecided()

    def _undecided(self) -> bool:
        if not self._text:
            return True
        return self._want_line and b"\n" not in self._text and len(self._text) < self.PEEK_LIMIT

    def _keep(self, chunk: bytes, limit: int) -> None:
        self.size += len(chunk)
        if self._file is None and self.size > limit:
            self._file = tempfile.NamedTemporaryFile(prefix="agnes-keboola-slice-", suffix=".gz")  # noqa: SIM115
            for kept in self._chunks:
                self._file.write(kept)
            self._chunks = []
        if self._file is not None:
            self._file.write(chunk)
        else:
            self._chunks.append(chunk)

    @property
    def spooled(self) -> bool:
        """The slice went to a temporary file (it was larger than ``spool_bytes``)."""
        return self._file is not None

    def open(self) -> Any:
        """The compressed bytes as an Arrow stream."""
        import pyarrow as pa

        if self._file is not None:
            self._file.flush()
            return pa.OSFile(self._file.name)
        return pa.BufferReader(b"".join(self._chunks))

    def close(self) -> None:
        """Forget the bytes (the temporary file is removed)."""
        self._chunks = []
        if self._file is not None:
            self._file.close()
            self._file = None


def decompressed(stream: SliceStream) -> Any:
    """Arrow's gzip stream over a slice (what the CSV reader reads)."""
    import pyarrow as pa

    return pa.CompressedInputStream(stream.open(), "gzip")


def header_line(columns: list[str]) -> bytes:
    """The header Keboola's clients write for ``columns`` (RFC format: every name quoted)."""
    return ",".join('"' + c.replace('"', '""') + '"' for c in columns).encode()


def header_variants(columns: list[str]) -> tuple[bytes, ...]:
    """The header lines a slice may start with: names quoted (RFC, as Keboola writes them) or bare."""
    return header_line(columns), ",".join(columns).encode()
