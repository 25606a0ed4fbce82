"""agnes.admin.console(): the MIME bundle JupyterLab renders as the admin console, its text and
HTML fallbacks (counts from the live server, escaped), and the one-line 403 a non-admin gets."""

from __future__ import annotations

import uuid

import pytest

import agnes_jupyter as agnes
from agnes_jupyter import _console, admin
from tests._live import LiveServer

MIME = "application/vnd.agnes.admin-console+json"


def _counts(server: LiveServer) -> dict[str, int]:
    return {"sources": len(server.get("agnes/v1/admin/sources")["sources"]),
            "tables": len(server.get("agnes/v1/admin/tables")["tables"]),
            "groups": len(server.get("agnes/v1/admin/groups")["groups"]),
            "packages": len(server.get("agnes/v1/admin/packages")["packages"])}


def test_the_bundle_names_the_screen_and_its_fallbacks_count_what_the_server_holds(connected: LiveServer) -> None:
    bundle = admin.console("tables")._repr_mimebundle_()
    assert bundle[MIME] == {"screen": "tables"}
    counts = _counts(connected)
    text = bundle["text/plain"]
    assert text.startswith("Agnes admin console (screen: tables): ")
    for label, n in counts.items():
        word = label if n != 1 else label[:-1]
        assert f"{n} {word}" in text
        assert f"<li>{label}: {n:,}</li>" in bundle["text/html"]


def test_without_a_screen_the_console_opens_on_its_first_tab(connected: LiveServer) -> None:
    bundle = agnes.admin.console()._repr_mimebundle_()
    assert bundle[MIME] == {"screen": None}
    assert "screen:" not in bundle["text/plain"]


def test_an_unknown_screen_is_refused_naming_the_screens() -> None:
    with pytest.raises(agnes.ValidationError) as err:
        admin.console("<b>nope</b>")
    assert err.value.details == {"field": "screen"}
    assert "sources, tables, access, curation, tokens, settings, audit, metadata" in (err.value.hint or "")


def test_the_html_fallback_escapes_what_the_server_said(monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = '<img src=x onerror="alert(1)">'

    class Refusing:
        def get(self, path: str) -> object:
            raise agnes.Forbidden(f"no {hostile}", hint=f"ask {hostile}", status=403)

    monkeypatch.setattr(_console, "current", lambda: Refusing())
    bundle = admin.console()._repr_mimebundle_()
    assert hostile not in bundle["text/html"]
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in bundle["text/html"]
    assert bundle["text/plain"] == f"Forbidden: no {hostile}\nhint: ask {hostile}"


def test_a_non_admin_gets_the_403_in_one_line_with_its_hint_and_no_console(
        connected: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    username = f"kt_console_{uuid.uuid4().hex[:8]}"
    admin.add_user(username)
    try:
        token = admin.issue_token(username, "console test")["token"]
        analyst = agnes.connect(connected.url, token, default=False)
        monkeypatch.setattr(agnes, "_default", analyst)
        bundle = admin.console("sources")._repr_mimebundle_()
        assert MIME not in bundle
        first, *rest = bundle["text/plain"].split("\n")
        assert first.startswith("Forbidden: ")
        assert len(rest) == 1
        assert rest[0].startswith("hint: ")
        assert "agnes-error" in bundle["text/html"]
    finally:
        monkeypatch.setattr(agnes, "_default", None)  # back to the server's own (admin) token
        admin.remove_user(username)
