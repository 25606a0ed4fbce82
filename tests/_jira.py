"""A local HTTP server speaking Jira Cloud's REST API v3 as Atlassian documents it, for the tests
and the benchmark (started per test on a free port; the connector's real HTTP code paths run).

Endpoints (https://developer.atlassian.com/cloud/jira/platform/rest/v3/):

* ``POST /rest/api/3/search/jql`` — body ``{jql, fields, expand, maxResults, nextPageToken}``; the
  answer is ``{issues, nextPageToken?, isLast}`` with no ``total`` (the enhanced search). Issues
  carry the fields asked for; ``comment`` inline holds at most :data:`INLINE_COMMENTS` comments
  with ``total``, ``changelog`` (with ``expand=changelog``) at most :data:`INLINE_HISTORIES`
  histories with ``total`` — the rest come from the per-issue endpoints, as in Jira. JQL: the
  clauses the connector writes (``project in (...)``, ``updated >= "yyyy/MM/dd HH:mm"`` in the
  account's time zone, ``ORDER BY``); anything else is a 400 as Jira answers a JQL error.
* ``POST /rest/api/3/search/approximate-count`` — ``{count}``.
* ``GET /rest/api/3/field``, ``GET /rest/api/3/myself``.
* ``GET /rest/api/3/issue/{key}/comment`` and ``/changelog`` (``startAt``/``maxResults``/``total``),
  ``GET /rest/api/3/issue/{key}/remotelink`` (a JSON array).

Basic auth (email + API token) is checked on every call: a wrong one is a 401 with Jira's
``errorMessages``. ``fail_next`` makes the next calls answer 429 (with ``Retry-After``) or 5xx.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from tests._httpserver import ClosingServer

EMAIL = "robot@example.com"
TOKEN = "ATATT3xFfGF0-agnes-test-token-" + "Qx7" * 6
INLINE_COMMENTS = 5
INLINE_HISTORIES = 3
ZONE = "Europe/Prague"
BASE_TIME = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)

FIELDS = [
    {"id": "summary", "key": "summary", "name": "Summary", "custom": False, "schema": {"type": "string"}},
    {"id": "status", "key": "status", "name": "Status", "custom": False, "schema": {"type": "status"}},
    {"id": "customfield_10016", "key": "customfield_10016", "name": "Story point estimate", "custom": True,
     "schema": {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points", "customId": 10016}},
    {"id": "customfield_10020", "key": "customfield_10020", "name": "Sprint", "custom": True,
     "schema": {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint",
                "customId": 10020}},
    {"id": "customfield_10030", "key": "customfield_10030", "name": "Team (old)", "custom": True,
     "schema": {"type": "option", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select",
                "customId": 10030}},
    {"id": "customfield_10040", "key": "customfield_10040", "name": "Go-live", "custom": True,
     "schema": {"type": "datetime", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:datetime",
                "customId": 10040}},
    {"id": "customfield_10050", "key": "customfield_10050", "name": "Status", "custom": True,
     "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
                "customId": 10050}},
]
STATUSES = [("To Do", "To Do"), ("In Progress", "In Progress"), ("Done", "Done")]
PEOPLE = [("5b10a2844c20165700ede21g", "Ada Lovelace"), ("5b10ac8d82e05b22cc7d4ef5", "Grace Hopper"),
          ("712020:0e5b6d1c-5e42-4a4b-9d4a-2f1a3c5b7d9e", "Alan Turing")]


def jira_time(at: datetime) -> str:
    """Jira's time format: ``2026-03-01T10:00:00.000+0100`` (the site's zone)."""
    local = at.astimezone(ZoneInfo(ZONE))
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")


def user(i: int) -> dict[str, Any]:
    account, name = PEOPLE[i % len(PEOPLE)]
    return {"self": f"https://example.atlassian.net/rest/api/3/user?accountId={account}", "accountId": account,
            "displayName": name, "active": True, "timeZone": ZONE, "accountType": "atlassian"}


def adf(*paragraphs: str) -> dict[str, Any]:
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs]}


@dataclass
class Issue:
    """One issue as the fake site stores it (Jira's JSON is built from it per request)."""

    n: int
    project: str
    updated: datetime
    comments: list[dict[str, Any]] = field(default_factory=list)
    histories: list[dict[str, Any]] = field(default_factory=list)
    remote_links: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(10000 + self.n)

    @property
    def key(self) -> str:
        return f"{self.project}-{self.n}"


def make_issue(n: int, project: str = "ENG", *, comments: int = 2, histories: int = 2, rich: bool = True) -> Issue:
    created = BASE_TIME + timedelta(hours=n)
    updated = created + timedelta(minutes=30 + n % 7)
    status, category = STATUSES[n % 3]
    fields = {
        "project": {"id": "10000", "key": project, "name": f"{project.title()} project", "projectTypeKey": "software"},
        "issuetype": {"id": "10001", "name": ["Story", "Bug", "Task"][n % 3], "subtask": False},
        "summary": f"Issue number {n}",
        "description": adf(f"Steps to reproduce {n}.", "Expected: it works."),
        "status": {"id": str(n % 3 + 1), "name": status, "statusCategory": {"id": n % 3 + 2, "key": category,
                                                                              "name": category}},
        "priority": {"id": "3", "name": ["High", "Medium", "Low"][n % 3]},
        "resolution": {"id": "10000", "name": "Done"} if status == "Done" else None,
        "assignee": user(n) if n % 4 else None,
        "reporter": user(n + 1),
        "labels": ["backend", f"l{n % 5}"] if n % 2 else [],
        "components": [{"id": "10100", "name": "API"}],
        "fixVersions": [{"id": "10200", "name": "1.0", "released": False}] if n % 3 == 0 else [],
        "parent": {"id": "10000", "key": f"{project}-0", "fields": {"summary": "Epic"}} if n > 0 else None,
        "created": jira_time(created), "updated": jira_time(updated),
        "resolutiondate": jira_time(updated) if status == "Done" else None,
        "duedate": (created + timedelta(days=14)).date().isoformat(),
        "customfield_10016": float(n % 8) if n % 5 else None,
        "customfield_10020": [{"id": 1, "name": f"Sprint {n % 4 + 1}", "state": "active"}],
        "customfield_10030": {"self": "https://example.atlassian.net/rest/api/3/customFieldOption/1",
                              "value": ["Red", "Blue"][n % 2], "id": str(n % 2 + 1)},
        "customfield_10040": jira_time(created + timedelta(days=30)),
        "customfield_10050": f"legacy {n % 3}",
    }
    issue = Issue(n, project, updated, fields=fields)
    for c in range(comments):
        at = created + timedelta(minutes=c + 1)
        issue.comments.append({"self": f"https://example.atlassian.net/rest/api/3/issue/{issue.id}/comment",
                               "id": str(n * 100 + c), "author": user(c), "updateAuthor": user(c),
                               "body": adf(f"Comment {c} on {n}"), "created": jira_time(at),
                               "updated": jira_time(at), "jsdPublic": True})
    for h in range(histories):
        issue.histories.append({"id": str(n * 100 + h), "author": user(h), "created": jira_time(created + timedelta(
            minutes=h + 2)), "items": [
                {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1", "fromString": "To Do",
                 "to": "3", "toString": "In Progress"},
                {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee", "from": None, "fromString": None,
                 "to": PEOPLE[0][0], "toString": PEOPLE[0][1]}]})
    if rich:
        issue.attachments.append({"self": f"https://example.atlassian.net/rest/api/3/attachment/{n}", "id": str(n),
                                  "filename": f"screenshot-{n}.png", "author": user(n), "created": jira_time(created),
                                  "size": 1000 + n, "mimeType": "image/png",
                                  "content": f"https://example.atlassian.net/rest/api/3/attachment/content/{n}"})
        if n % 2 == 0 and n > 0:
            issue.links.append({"id": str(5000 + n),
                                "type": {"id": "10000", "name": "Blocks", "inward": "is blocked by",
                                         "outward": "blocks"},
                                "outwardIssue": {"id": str(10000 + n - 1), "key": f"{project}-{n - 1}",
                                                 "fields": {"status": {"name": "To Do"}}}})
        issue.remote_links.append({"id": 20000 + n, "self": "https://example.atlassian.net/rest/api/3/issue/x/remotelink/1",
                                   "globalId": f"github=pr-{n}", "relationship": "mentioned in",
                                   "application": {"type": "com.github", "name": "GitHub"},
                                   "object": {"url": f"https://github.com/acme/app/pull/{n}", "title": f"PR #{n}"}})
    return issue


class JiraSite:
    """The fake site's data and behaviour; :func:`serve` puts it on a port."""

    def __init__(self, issues: list[Issue] | None = None) -> None:
        self.issues: list[Issue] = list(issues or [])
        self.email, self.token = EMAIL, TOKEN
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, Any]] = []
        #: Notified as each request arrives (``wait_for``).
        self.arrived = threading.Condition(self.lock)
        self._failures: list[tuple[int, str | None]] = []
        self.url = ""

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self.lock:
            self._failures.extend([(status, retry_after)] * times)

    def wait_for(self, path: str, count: int, timeout: float = 30.0) -> bool:
        """Wait until ``count`` requests to ``path`` have arrived (False when they did not in time)."""
        with self.arrived:
            return self.arrived.wait_for(lambda: sum(1 for _, p, _ in self.requests if p == path) >= count, timeout)

    def paths(self, prefix: str = "") -> list[str]:
        return [p for _, p, _ in self.requests if p.startswith(prefix)]

    # -- building Jira's JSON ---------------------------------------------------------------------

    def issue_json(self, issue: Issue, wanted: list[str] | None, expand: str | None) -> dict[str, Any]:
        everything = {**issue.fields, "comment": self._comment_field(issue), "attachment": issue.attachments,
                      "issuelinks": issue.links}
        if wanted is None or "*all" in wanted or "*navigable" in wanted:
            fields = everything
        else:
            fields = {k: everything.get(k) for k in wanted if k in everything}
        out: dict[str, Any] = {"expand": "renderedFields,names,schema,operations,editmeta,changelog",
                               "id": issue.id, "self": f"{self.url}/rest/api/3/issue/{issue.id}", "key": issue.key,
                               "fields": fields}
        if expand and "changelog" in expand:
            out["changelog"] = {"startAt": 0, "maxResults": INLINE_HISTORIES, "total": len(issue.histories),
                                "histories": issue.histories[:INLINE_HISTORIES]}
        return out

    @staticmethod
    def _comment_field(issue: Issue) -> dict[str, Any]:
        return {"comments": issue.comments[:INLINE_COMMENTS], "self": "", "maxResults": INLINE_COMMENTS,
                "total": len(issue.comments), "startAt": 0}

    def matching(self, jql: str) -> list[Issue]:
        text = re.sub(r"(^|\s+)ORDER\s+BY\s+.*$", "", jql.strip(), flags=re.IGNORECASE)
        projects: set[str] | None = None
        since: datetime | None = None
        m = re.search(r'project\s+in\s+\(([^)]*)\)', text, re.IGNORECASE)
        if m:
            projects = {p.strip().strip('"') for p in m.group(1).split(",")}
            text = text.replace(m.group(0), "")
        m = re.search(r'updated\s*>=\s*"(\d{4}/\d{2}/\d{2} \d{2}:\d{2})"', text)
        if m:
            since = datetime.strptime(m.group(1), "%Y/%m/%d %H:%M").replace(tzinfo=ZoneInfo(ZONE))
            text = text.replace(m.group(0), "")
        if re.sub(r"\bAND\b|[\s()]", "", text):
            raise ValueError(f"Error in the JQL Query: cannot read {text.strip()!r}")
        found = [i for i in self.issues if (projects is None or i.project in projects)
                 and (since is None or i.updated >= since)]
        return sorted(found, key=lambda i: (i.updated, i.n))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response (headers and body): small writes on a kept-alive connection meet
    # delayed ACKs and cost 40 ms each.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    site: JiraSite

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        site = self.site
        body = self._body() if method == "POST" else None
        url = urlsplit(self.path)
        with site.lock:
            site.requests.append((method, url.path, body))
            failure = site._failures.pop(0) if site._failures else None
            site.arrived.notify_all()
        auth = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{site.email}:{site.token}".encode()).decode()
        if auth != expected:
            self._send(401, {"errorMessages": ["Client must be authenticated to access this resource."],
                             "errors": {}})
            return
        if failure is not None:
            status, retry_after = failure
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            if status == 429:
                self._send(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}}, headers)
            else:
                self._send(status, {"errorMessages": ["Internal server error"], "errors": {}}, headers)
            return
        try:
            self._route(method, url.path, parse_qs(url.query), body)
        except ValueError as exc:
            self._send(400, {"errorMessages": [str(exc)], "errors": {}})

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        site = self.site
        if method == "GET" and path == "/rest/api/3/myself":
            self._send(200, {**user(0), "emailAddress": site.email, "timeZone": ZONE, "locale": "en_US"})
        elif method == "GET" and path == "/rest/api/3/field":
            self._send(200, FIELDS)
        elif method == "POST" and path == "/rest/api/3/search/approximate-count":
            self._send(200, {"count": len(site.matching(body.get("jql", "")))})
        elif method == "POST" and path == "/rest/api/3/search/jql":
            self._search(body or {})
        elif m := re.fullmatch(r"/rest/api/3/issue/([^/]+)/(comment|changelog|remotelink)", path):
            key = unquote(m.group(1))
            issue = next((i for i in site.issues if key in (i.key, i.id)), None)
            if issue is None:
                self._send(404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                                 "errors": {}})
                return
            if m.group(2) == "remotelink":
                self._send(200, issue.remote_links)
                return
            start = int(query.get("startAt", ["0"])[0])
            size = min(int(query.get("maxResults", ["50"])[0]), 100)
            items = issue.comments if m.group(2) == "comment" else issue.histories
            page = items[start:start + size]
            if m.group(2) == "comment":
                self._send(200, {"startAt": start, "maxResults": size, "total": len(items), "comments": page})
            else:
                self._send(200, {"self": "", "startAt": start, "maxResults": size, "total": len(items),
                                 "isLast": start + len(page) >= len(items), "values": page})
        else:
            self._send(404, {"errorMessages": [f"No route for {method} {path}"], "errors": {}})

    def _search(self, body: dict[str, Any]) -> None:
        site = self.site
        found = site.matching(str(body.get("jql", "")))
        size = min(int(body.get("maxResults") or 50), 100)
        token = body.get("nextPageToken")
        start = int(base64.urlsafe_b64decode(token.encode()).decode().split(":")[1]) if token else 0
        page = found[start:start + size]
        out: dict[str, Any] = {"issues": [site.issue_json(i, body.get("fields"), body.get("expand")) for i in page]}
        if start + size < len(found):
            out["nextPageToken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode()
            out["isLast"] = False
        else:
            out["isLast"] = True
        self._send(200, out)


@contextmanager
def serve(site: JiraSite, tls: tuple[Path, Path] | None = None) -> Iterator[JiraSite]:
    """Run ``site`` on a free local port for the duration of the block (over HTTPS with ``tls``:
    a certificate and its key, e.g. from tests/_tls.py)."""
    handler = type("JiraHandler", (_Handler,), {"site": site})
    server = ClosingServer(handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    site.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-jira", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)


def webhook(event: str, issue: Issue, *, timestamp: int, comment: dict[str, Any] | None = None,
            changelog: dict[str, Any] | None = None, site_url: str = "https://example.atlassian.net") -> dict[str, Any]:
    """A webhook body as Jira Cloud sends it (``jira:issue_*`` carry the issue with all its fields;
    ``comment_*`` the comment and the issue's main fields)."""
    fields = {**issue.fields, "attachment": issue.attachments, "issuelinks": issue.links}
    if event.startswith("comment_"):
        fields = {k: issue.fields[k] for k in ("summary", "issuetype", "project", "assignee", "priority", "status")}
    payload: dict[str, Any] = {"timestamp": timestamp, "webhookEvent": event, "user": user(0),
                               "issue": {"id": issue.id, "self": f"{site_url}/rest/api/3/issue/{issue.id}",
                                         "key": issue.key, "fields": fields}}
    if event.startswith("jira:"):
        payload["issue_event_type_name"] = {"jira:issue_created": "issue_created",
                                            "jira:issue_updated": "issue_generic",
                                            "jira:issue_deleted": "issue_deleted"}[event]
    if comment is not None:
        payload["comment"] = comment
    if changelog is not None:
        payload["changelog"] = changelog
    return payload
