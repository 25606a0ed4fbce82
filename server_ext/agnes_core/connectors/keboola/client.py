"""A small Keboola Storage API client over ``requests``: the calls the connector makes, their
retries and their errors.

* Every call carries ``X-StorageApi-Token``; the token is never put in a message or a log line.
* 429 (honouring ``Retry-After``), 502/503/504 and 500 are retried with exponential back-off,
  ``retries`` times at most, starting at ``backoff_s`` (tests set it small), capped at
  ``max_backoff_s``; then the call fails with a hint.
* 401 (invalid or expired token) and 403 (the token lacks access) -> SourceError naming the
  environment variable, never its value; 404 -> NotFound.
* Asynchronous jobs (``POST …/export-async``) are polled at ``GET /v2/storage/jobs/{id}`` with
  bounded back-off until ``success`` or ``error``, within ``job_timeout_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from agnes_core.connectors.http import retry_after_seconds
from agnes_core.errors import NotFound, SourceError, SourceTimeout

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_RETRIES = 5
DEFAULT_BACKOFF_S = 0.5
DEFAULT_MAX_BACKOFF_S = 30.0
DEFAULT_JOB_TIMEOUT_S = 3600.0
#: Polling a job: first after this, doubling to at most JOB_POLL_MAX_S.
JOB_POLL_FIRST_S = 0.25
JOB_POLL_MAX_S = 5.0
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 120.0
USER_AGENT = "agnes-keboola-connector"


class Stopped(Exception):
    """The connector was told to stop (interrupt) while waiting."""


class StorageClient:
    """One Storage API stack (``url``) with one token. Thread-safe enough for one connector:
    a :class:`requests.Session` per client, ``stop()`` from any thread."""

    def __init__(self, url: str, token: str, *, source: str, env_var: str, retries: int = DEFAULT_RETRIES,
                 backoff_s: float = DEFAULT_BACKOFF_S, max_backoff_s: float = DEFAULT_MAX_BACKOFF_S,
                 job_timeout_s: float = DEFAULT_JOB_TIMEOUT_S,
                 redact: Callable[[str], str] = lambda s: s) -> None:
        self.url = url.rstrip("/")
        self.source = source
        self.env_var = env_var
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.job_timeout_s = job_timeout_s
        self.poll_first_s = JOB_POLL_FIRST_S
        self.poll_max_s = JOB_POLL_MAX_S
        self._redact = redact
        self._stop = threading.Event()
        self.session = requests.Session()
        self.session.headers.update({"X-StorageApi-Token": token, "User-Agent": USER_AGENT,
                                     "Accept": "application/json"})
        #: Object-store downloads (slices): no Storage API token on them.
        self.downloads = requests.Session()
        self.downloads.headers.update({"User-Agent": USER_AGENT})

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop waiting (back-off, job polling) and close the connections, from any thread."""
        self._stop.set()
        self.close()

    def close(self) -> None:
        self.session.close()
        self.downloads.close()

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(max(0.0, seconds)):
            raise Stopped()

    # -- calls ------------------------------------------------------------------------------

    def get(self, path: str, what: str, params: dict[str, Any] | None = None, **context: Any) -> Any:
        return self._call("GET", path, what, params=params, **context).json()

    def post(self, path: str, what: str, body: dict[str, Any], **context: Any) -> Any:
        return self._call("POST", path, what, json=body, **context).json()

    def _call(self, method: str, path: str, what: str, *, params: dict[str, Any] | None = None,
              json: Any = None, **context: Any) -> requests.Response:
        url = f"{self.url}{path}"
        response = self.send(lambda: self.session.request(method, url, params=params, json=json,
                                                          timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)), what)
        if response.status_code >= 400:
            raise self.error(response, what, **context)
        return response

    def send(self, request: Callable[[], requests.Response], what: str, host: str | None = None) -> requests.Response:
        """``request()`` with retries of 429/5xx and connection failures (bounded); ``host``: the
        file storage's host when the request goes there rather than to the Storage API."""
        delay = self.backoff_s
        attempt = 0
        while True:
            if self._stop.is_set():
                raise Stopped()
            try:
                response = request()
            except requests.RequestException as exc:
                if self._stop.is_set():
                    raise Stopped() from None
                if attempt >= self.retries and host is not None:
                    raise SourceError(
                        f"keboola source {self.source!r}: {what}: cannot reach the stack's file storage at {host} "
                        f"({type(exc).__name__})", hint="Check that the server can reach the stack's file storage "
                        "(or the source's object_endpoint option); the previous extract is kept.",
                        details={"source": self.source, "host": host}) from None
                if attempt >= self.retries:
                    raise SourceError(
                        f"keboola source {self.source!r}: {what}: cannot reach the Storage API at {self.url} "
                        f"({type(exc).__name__})",
                        hint="Check the source's url option (the stack's connection URL, e.g. "
                        "https://connection.keboola.com) and that the server can reach it.",
                        details={"source": self.source, "url": self.url}) from None
                log.info("keboola %s: %s failed (%s); retrying", self.source, what, type(exc).__name__)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    return response
                wait = retry_after_seconds(response.headers)
                log.info("keboola %s: %s answered %s; retrying", self.source, what, response.status_code)
                response.close()
                if wait is not None:
                    delay = max(delay, min(wait, self.max_backoff_s))
            self._sleep(min(delay, self.max_backoff_s))
            delay = min(delay * 2, self.max_backoff_s)
            attempt += 1

    def error(self, response: requests.Response, what: str, **context: Any) -> Exception:
        """The AgnesError for a failed Storage API answer (the API's own message, redacted)."""
        status = response.status_code
        message = _api_message(response)
        text = self._redact(f"keboola source {self.source!r}: {what}: {message}")[:600]
        details = {"source": self.source, "status": status, **context}
        if status == 401:
            return SourceError(
                f"keboola source {self.source!r}: {what}: the Storage API token was rejected (invalid or expired)",
                hint=f"Set a valid Storage API token in the server's environment variable {self.env_var} "
                "(secrets.token names it) and restart Jupyter; tokens are made under Users & Settings → API "
                "Tokens.", details={**details, "env_var": self.env_var, "kind": "auth"})
        if status == 403:
            return SourceError(
                f"keboola source {self.source!r}: {what}: the token in {self.env_var} may not do this: "
                + self._redact(message)[:300],
                hint="Give the token read access to the bucket (or all buckets) and to files, or use another "
                f"token in {self.env_var}.", details={**details, "env_var": self.env_var, "kind": "permission"})
        if status == 404:
            return NotFound(text, hint="Check the bucket and table ids (run discovery on the source to list "
                            "them).", details=details)
        if status in RETRY_STATUSES:
            return SourceError(
                f"{text} (after {self.retries} retries)",
                hint="The Storage API is rate-limiting or unavailable: try again in a few minutes, or lower how "
                "often this source's tables are extracted.", details={**details, "kind": "rate_limit"
                                                                      if status == 429 else "unavailable"})
        return SourceError(text, hint="Check the source's options and the table (an admin can test the source).",
                           details=details)

    # -- jobs -------------------------------------------------------------------------------

    def wait_job(self, job: dict[str, Any], what: str, **context: Any) -> dict[str, Any]:
        """Poll a Storage job until it ends; return it on ``success``, raise on ``error``."""
        deadline = time.monotonic() + self.job_timeout_s
        delay = self.poll_first_s
        job_id = job.get("id")
        while job.get("status") not in ("success", "error"):
            if time.monotonic() >= deadline:
                raise SourceTimeout(
                    f"keboola source {self.source!r}: {what}: the Storage job {job_id} did not finish within "
                    f"{self.job_timeout_s:g} s", hint="Keboola is busy or the table is large: try again later, or "
                    "raise the source's job_timeout_s option.", details={"source": self.source, "job_id": job_id,
                                                                        **context})
            self._sleep(delay)
            delay = min(delay * 2, self.poll_max_s)
            job = self.get(f"/v2/storage/jobs/{quote(str(job_id), safe='')}", f"{what} (job {job_id})", **context)
        if job["status"] == "error":
            error = job.get("error") or {}
            message = self._redact(str(error.get("message") or "the job failed"))[:500]
            raise SourceError(f"keboola source {self.source!r}: {what}: the Storage job {job_id} failed: {message}",
                              hint="Check the table in Keboola (its jobs list shows the failure); the previous "
                              "extract is kept.", details={"source": self.source, "job_id": job_id,
                                                          "error_code": error.get("code"), **context})
        return job

    # -- downloads --------------------------------------------------------------------------

    def open_download(self, url: str, what: str, headers: dict[str, str] | None = None) -> requests.Response:
        """A streamed GET of an object-store URL (a slice, a manifest); retried like API calls."""
        response = self.send(lambda: self.downloads.get(url, headers=headers, stream=True,
                                                        timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)), what,
                             host=urlsplit(url).netloc)
        if response.status_code >= 400:
            status = response.status_code
            response.close()
            raise SourceError(f"keboola source {self.source!r}: {what}: the file store answered HTTP {status}",
                              hint="The export's download links expire after a while: run the extract again. If "
                              "it persists, check that the server can reach the stack's file storage.",
                              details={"source": self.source, "status": status})
        return response


def _api_message(response: requests.Response) -> str:
    """The Storage API's error message (``{"error": "...", "code": ..., "exceptionId": ...}``)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        text = body.get("error") or body.get("message")
        if isinstance(text, dict):
            text = text.get("message")
        if text:
            return f"{text} (HTTP {response.status_code})"
    return f"HTTP {response.status_code}"


def iter_chunks(response: requests.Response, size: int = 4 << 20) -> Iterator[bytes]:
    """The raw (still compressed) body of a streamed response."""
    while True:
        chunk = response.raw.read(size, decode_content=False)
        if not chunk:
            return
        yield chunk
