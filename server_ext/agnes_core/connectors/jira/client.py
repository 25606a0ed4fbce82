"""A small client of Jira Cloud's REST API v3 over ``requests``: basic auth (an account's email
and API token), bounded retries of 429 (honouring ``Retry-After``) and 5xx with exponential
back-off, and every failure turned into an AgnesError with a hint and without the token."""

from __future__ import annotations

import base64
import http.client
import logging
import os
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

import orjson
import requests

from agnes_core.connectors.http import retry_after_seconds
from agnes_core.errors import NotFound, SourceError

log = logging.getLogger(__name__)

#: ``maxResults`` of a search page (Jira caps pages that ask for many fields at 100).
PAGE_SIZE = 100
#: Comments and changelog pages fetched beyond what a search inlines.
CHILD_PAGE_SIZE = 100


class JiraClient:
    """One site, one account. ``retry_base_s`` is the first back-off (doubled per attempt) and
    ``retry_max_s`` caps every wait, ``Retry-After`` included, so tests can make both small."""

    def __init__(self, site: str, email: str, token: str, *, timeout_s: float = 60.0, max_retries: int = 5,
                 retry_base_s: float = 1.0, retry_max_s: float = 60.0,
                 redact: Callable[[str], str] = lambda text: text, source: str = "jira") -> None:
        self.site = site.rstrip("/")
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.redact = redact
        self.source = source
        self.session = requests.Session()
        self.session.auth = (email, token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "agnes-jupyter"})
        self._stopped = threading.Event()
        self._pipes: set[_Pipe] = set()
        self._pipes_lock = threading.Lock()
        #: Calls made (GET/POST), retries included: tests and benchmarks read it.
        self.calls = 0
        #: Search pages that came through a pipe (the rest came through ``request``).
        self.pipelined = 0

    # -- transport ----------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: dict[str, Any] | None = None, missing_ok: bool = False) -> Any:
        """One API call, retried while Jira says to wait (429) or fails on its side (5xx)."""
        url = f"{self.site}{path}"
        attempt = 0
        while True:
            if self._stopped.is_set():
                raise SourceError(f"jira source {self.source!r}: the call was stopped", hint="Try again.")
            self.calls += 1
            try:
                response = self.session.request(method, url, params=params, json=body,
                                                timeout=(min(10.0, self.timeout_s), self.timeout_s))
            except requests.RequestException as exc:
                if isinstance(exc, (requests.ConnectionError, requests.Timeout)) \
                        and attempt < min(2, self.max_retries):
                    attempt += 1
                    self._wait(self._backoff(attempt))
                    continue
                raise SourceError(
                    f"jira source {self.source!r}: cannot reach {self.site} ({type(exc).__name__})",
                    hint="Check the site option (https://<your-site>.atlassian.net) and the server's network.",
                    details={"source": self.source}) from None
            status = response.status_code
            if status < 300:
                if status == 204 or not response.content:
                    return None
                try:
                    return orjson.loads(response.content)
                except ValueError:
                    raise SourceError(f"jira source {self.source!r}: {path} did not answer JSON",
                                      hint="Check the site option: it must be the Jira Cloud site's URL.",
                                      details={"source": self.source, "status": status}) from None
            if (status == 429 or status >= 500) and attempt < self.max_retries:
                attempt += 1
                wait = retry_after_seconds(response.headers) if status == 429 else None
                self._wait(min(self.retry_max_s, wait if wait is not None else self._backoff(attempt)))
                continue
            if status == 404 and missing_ok:
                return None
            raise self._error(status, path, response)

    def _backoff(self, attempt: int) -> float:
        return min(self.retry_max_s, self.retry_base_s * (2 ** (attempt - 1)))

    def _wait(self, seconds: float) -> None:
        if self._stopped.wait(seconds):
            raise SourceError(f"jira source {self.source!r}: the call was stopped", hint="Try again.")

    def _error(self, status: int, path: str, response: requests.Response) -> SourceError | NotFound:
        messages: list[str] = []
        try:
            payload = response.json()
            if isinstance(payload, dict):
                messages = [str(m) for m in payload.get("errorMessages") or ()]
                messages += [f"{k}: {v}" for k, v in (payload.get("errors") or {}).items()]
        except ValueError:
            pass
        said = self.redact("; ".join(messages)[:300]) if messages else ""
        details = {"source": self.source, "status": status}
        where = path.split("?")[0]
        if status == 401:
            return SourceError(f"jira source {self.source!r}: Jira refused the credentials (401)",
                               hint="Check the environment variables holding the account's email and API token "
                                    "(id.atlassian.com > Security > API tokens); tokens expire.", details=details)
        if status == 403:
            return SourceError(f"jira source {self.source!r}: the account may not read {where} (403)",
                               hint="Give the account 'Browse projects' on the projects this source reads.",
                               details=details)
        if status == 404:
            return NotFound(f"jira source {self.source!r}: {where} was not found (404){': ' + said if said else ''}",
                            hint="Check the site and the projects option.", details=details)
        if status == 429 or status >= 500:
            return SourceError(
                f"jira source {self.source!r}: Jira answered {status} to {where} after {self.max_retries} retries",
                hint="Jira is rate-limiting or failing: try again later, or lower how often this source is extracted.",
                details=details)
        return SourceError(f"jira source {self.source!r}: Jira answered {status} to {where}"
                           f"{': ' + said if said else ''}",
                           hint="Check the source's jql and projects options.", details=details)

    def stop(self) -> None:
        """Stop from another thread: waits end at once, and no further call starts."""
        self._stopped.set()
        self.session.close()
        with self._pipes_lock:
            pipes = list(self._pipes)
        for pipe in pipes:  # a read in progress ends with an error, and the page is not asked again
            pipe.close()

    def close(self) -> None:
        self.session.close()

    # -- the API ------------------------------------------------------------------------------

    def myself(self) -> dict[str, Any]:
        return self.request("GET", "/rest/api/3/myself") or {}

    def fields(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/rest/api/3/field") or [])

    def approximate_count(self, jql: str) -> int:
        found = self.request("POST", "/rest/api/3/search/approximate-count", body={"jql": jql}) or {}
        return int(found.get("count", 0))

    def search(self, jql: str, fields: list[str], *, expand: str | None = None,
               page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Pages of issues, by ``nextPageToken`` until there is none (the API gives no total).

        A page cannot be asked for before the previous one's token is read, but it can be asked
        for before the previous one is used: the next page's request is sent (:class:`_Pipe`) as
        soon as the token is known, and read after the caller has flattened the page it was
        given, so Jira prepares one page while the caller works on the last — in the caller's
        thread, with no hand-over between threads. A page the pipe cannot bring (an error
        status, a broken connection, a proxy in the way) is asked for again through
        :meth:`request`, which retries and explains failures, and the rest follow that way."""
        path = "/rest/api/3/search/jql"
        body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": page_size}
        if expand:
            body["expand"] = expand
        pipe = self._pipe()
        try:
            sent = pipe is not None and pipe.send(path, body)
            while True:
                page = pipe.receive() if sent and pipe is not None else None
                if page is None:
                    if pipe is not None:
                        pipe.close()
                        pipe = None
                    page = self.request("POST", path, body=body) or {}
                token = page.get("nextPageToken")
                last = not token or page.get("isLast", False)
                if not last:
                    body = {**body, "nextPageToken": token}
                    sent = pipe is not None and pipe.send(path, body)
                yield list(page.get("issues") or ())
                if last:
                    return
        finally:
            if pipe is not None:
                pipe.close()

    def _pipe(self) -> _Pipe | None:
        """A connection of its own to the site for pipelined pages, or None where ``requests``
        must carry them (a proxy applies to the site, or the scheme is not http/https)."""
        if self._stopped.is_set():
            return None
        settings = self.session.merge_environment_settings(self.site, {}, None, None, None)
        proxies = settings.get("proxies") or {}
        parts = urlsplit(self.site)
        if parts.scheme not in ("http", "https") or not parts.hostname or proxies.get(parts.scheme) \
                or proxies.get("all"):
            return None
        email, token = self.session.auth  # type: ignore[misc]
        headers = {"Authorization": "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode(),
                   "Accept": "application/json", "Content-Type": "application/json", "User-Agent": "agnes-jupyter"}
        pipe = _Pipe(parts, headers, self.timeout_s, settings.get("verify", True), self)
        with self._pipes_lock:
            self._pipes.add(pipe)
        return pipe

    def _paged(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        start = 0
        while True:
            page = self.request("GET", path, params={"startAt": start, "maxResults": CHILD_PAGE_SIZE},
                                missing_ok=True)
            if not page:
                return
            items = list(page.get(key) or ())
            yield from items
            start += len(items)
            total = page.get("total")
            if not items or page.get("isLast") or (total is not None and start >= int(total)):
                return

    def comments(self, issue_key: str) -> Iterator[dict[str, Any]]:
        return self._paged(f"/rest/api/3/issue/{quote(issue_key)}/comment", "comments")

    def changelog(self, issue_key: str) -> Iterator[dict[str, Any]]:
        return self._paged(f"/rest/api/3/issue/{quote(issue_key)}/changelog", "values")

    def remote_links(self, issue_key: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/rest/api/3/issue/{quote(issue_key)}/remotelink", missing_ok=True) or [])


class _Pipe:
    """One kept-alive connection on which a request is sent before the caller reads its answer
    (``http.client``: sending and reading are separate calls). Only 200s with JSON come out of
    it; anything else — or a stop — closes it and :meth:`receive` answers None, for the caller
    to ask again through ``requests``. TLS trusts what ``requests`` would (its CA bundle, or
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, a file or a folder)."""

    def __init__(self, parts: SplitResult, headers: dict[str, str], timeout_s: float, verify: Any,
                 client: JiraClient) -> None:
        self.headers = headers
        self.client = client
        self.broken = False
        host, port = parts.hostname or "", parts.port
        if parts.scheme == "https":
            context = ssl.create_default_context()  # the session never turns verification off
            bundle = verify if isinstance(verify, str) else requests.utils.DEFAULT_CA_BUNDLE_PATH
            if bundle and os.path.isdir(bundle):
                context.load_verify_locations(capath=bundle)
            elif bundle:
                context.load_verify_locations(cafile=bundle)
            self.conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout_s,
                                                                                 context=context)
        else:
            self.conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        self.prefix = parts.path.rstrip("/")

    def send(self, path: str, body: dict[str, Any]) -> bool:
        if self.broken or self.client._stopped.is_set():
            return False
        try:
            self.client.calls += 1
            self.conn.request("POST", self.prefix + path, body=orjson.dumps(body), headers=self.headers)
            return True
        except (OSError, http.client.HTTPException):
            self.close()
            return False

    def receive(self) -> dict[str, Any] | None:
        if self.broken:
            return None
        try:
            response = self.conn.getresponse()
            data = response.read()
            if response.status != 200:
                self.close()
                return None
            page = orjson.loads(data)
        except (OSError, http.client.HTTPException, ValueError):
            self.close()
            return None
        if not isinstance(page, dict):
            self.close()
            return None
        self.client.pipelined += 1
        return page

    def close(self) -> None:
        self.broken = True
        self.conn.close()
        with self.client._pipes_lock:
            self.client._pipes.discard(self)
