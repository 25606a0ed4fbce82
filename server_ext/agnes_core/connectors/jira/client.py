"""A small client of Jira Cloud's REST API v3 over ``requests``: basic auth (an account's email
and API token), bounded retries of 429 (honouring ``Retry-After``) and 5xx with exponential
back-off, and every failure turned into an AgnesError with a hint and without the token."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

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
        #: Calls made (GET/POST), retries included: tests and benchmarks read it.
        self.calls = 0

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
                    return response.json()
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

        Pages are asked for one after the other, in the caller's thread: a page cannot be asked
        for before the previous one's token is read, and fetching on a second thread while this
        one flattens made both slower (the fetching thread waits for the GIL at every read)."""
        body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": page_size}
        if expand:
            body["expand"] = expand
        while True:
            page = self.request("POST", "/rest/api/3/search/jql", body=body) or {}
            token = page.get("nextPageToken")
            yield list(page.get("issues") or ())
            if not token or page.get("isLast", False):
                return
            body = {**body, "nextPageToken": token}

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
