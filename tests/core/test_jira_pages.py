"""Jira's search pages: each page's request is sent before the caller has used the page before it
(a pipe of its own, over HTTP and HTTPS), and whatever the pipe cannot bring — an error status,
an untrusted certificate, a proxy in the way, a stop — goes through the retrying ``requests`` path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agnes_core.connectors.jira import tables as t
from agnes_core.connectors.jira.client import JiraClient
from agnes_core.errors import SourceError
from tests import _jira
from tests._jira import JiraSite, make_issue, serve
from tests._tls import self_signed

SEARCH = "/rest/api/3/search/jql"
FIELDS = list(t.SPECS["issues"].fields)


def client(site: JiraSite, **kw: object) -> JiraClient:
    return JiraClient(site.url, _jira.EMAIL, _jira.TOKEN, retry_base_s=0.001, retry_max_s=0.01, **kw)  # type: ignore[arg-type]


def keys(pages: Iterator[list[dict[str, object]]]) -> list[object]:
    return [issue["key"] for page in pages for issue in page]


@pytest.fixture
def site() -> Iterator[JiraSite]:
    with serve(JiraSite([make_issue(n) for n in range(250)])) as running:
        yield running


def test_the_next_page_is_asked_for_before_the_caller_has_used_this_one(site: JiraSite) -> None:
    c = client(site)
    pages = c.search("ORDER BY updated ASC, key ASC", FIELDS)
    first = next(pages)
    assert len(first) == 100
    # The caller holds page 1 and has asked for nothing more: page 2's request is already at Jira.
    assert site.wait_for(SEARCH, 2), "the second page was not asked for while the first was in use"
    rest = [issue["key"] for page in pages for issue in page]
    assert len(first) + len(rest) == 250
    assert (c.pipelined, c.calls) == (3, 3)
    bodies = [b for _, p, b in site.requests if p == SEARCH]
    assert "nextPageToken" not in bodies[0]
    assert all(b["nextPageToken"] for b in bodies[1:])


def test_pages_come_over_https_with_the_certificate_requests_would_trust(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed(tmp_path / "tls")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with serve(JiraSite([make_issue(n) for n in range(150)]), tls=(cert, key)) as secure:
        assert secure.url.startswith("https://")
        c = client(secure)
        found = keys(c.search("ORDER BY updated ASC", FIELDS))
    assert len(found) == 150
    assert c.pipelined == 2


def test_a_certificate_requests_would_not_trust_is_refused_and_nothing_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed(tmp_path / "tls")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with serve(JiraSite([make_issue(n) for n in range(150)]), tls=(cert, key)) as secure:
        c = client(secure, max_retries=0)
        with pytest.raises(SourceError, match="cannot reach") as err:
            keys(c.search("ORDER BY updated ASC", FIELDS))
        assert secure.requests == []  # no request got past the handshake, through either path
    assert c.pipelined == 0
    assert err.value.hint


def test_a_page_refused_in_the_pipe_is_asked_again_through_the_retrying_path(site: JiraSite) -> None:
    c = client(site)
    pages = c.search("ORDER BY updated ASC", FIELDS)
    first = next(pages)
    assert site.wait_for(SEARCH, 2)  # page 2's request has arrived (and was not failed)
    site.fail_next(503)  # page 3's request, sent as page 2 arrives
    rest = keys(pages)
    assert len(first) + len(rest) == 250
    assert len(set(rest)) == 150
    assert c.pipelined == 2  # pages 1 and 2; page 3 came through requests after the 503
    assert len([p for _, p, _ in site.requests if p == SEARCH]) == 4


def test_a_rate_limit_on_the_first_page_is_waited_out_and_the_rest_follow(site: JiraSite) -> None:
    site.fail_next(429, retry_after="0")
    c = client(site)
    assert len(keys(c.search("ORDER BY updated ASC", FIELDS))) == 250
    assert c.pipelined == 0


def test_a_proxy_for_the_site_keeps_pages_on_requests(site: JiraSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert client(site)._pipe() is None  # requests would go through the proxy: the pipe must not bypass it
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    pipe = client(site)._pipe()
    assert pipe is not None
    pipe.close()


def test_a_stop_ends_a_search_waiting_on_its_pipe(site: JiraSite) -> None:
    c = client(site)
    stalled = threading.Event()
    release = threading.Event()
    original = site.matching

    def slow(jql: str) -> list[_jira.Issue]:
        if len([p for _, p, _ in site.requests if p == SEARCH]) >= 2:
            stalled.set()
            release.wait(30)
        return original(jql)

    site.matching = slow  # type: ignore[method-assign]
    pages = c.search("ORDER BY updated ASC", FIELDS)
    next(pages)
    assert stalled.wait(30)
    stopper = threading.Timer(0, c.stop)
    stopper.start()
    try:
        with pytest.raises(SourceError, match="stopped"):
            next(pages)
    finally:
        release.set()
        stopper.join()
