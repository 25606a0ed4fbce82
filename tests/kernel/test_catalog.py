from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

import agnes_jupyter as agnes
from tests._live import LiveServer


def test_catalog_lists_tables_with_rich_display_and_pandas(connected: LiveServer) -> None:
    cat = agnes.catalog()
    # the demo's tables (other tests may register tables of their own while this runs)
    assert {"customers", "events", "orders"} <= set(cat.ids)
    assert cat["events"]["query_mode"] == "remote"
    html = cat._repr_html_()
    assert "<table" in html
    assert "events" in html
    assert "remote" in html
    df = cat.to_pandas()
    assert sorted(df["id"]) == sorted(cat.ids)
    assert f"Agnes catalog: {len(cat)} table(s)" in repr(cat)


def test_catalog_filters(connected: LiveServer) -> None:
    assert agnes.catalog(mode="remote").ids == ["events"]
    assert agnes.catalog(search="signup").ids == ["customers"]


def test_html_display_escapes_user_text(connected: LiveServer) -> None:
    live = connected
    live.request("POST", "agnes/v1/admin/tables", {"id": "xss", "source": "demo", "source_table": "orders",
                                                   "description": "<script>alert(1)</script>"})
    try:
        html = agnes.catalog()._repr_html_()
        assert "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    finally:
        live.request("DELETE", "agnes/v1/admin/tables/xss")


def test_server_errors_raise_the_matching_exception(connected: LiveServer) -> None:
    with pytest.raises(agnes.NotFound) as err:
        agnes.client().get("tables/nope/schema")
    assert err.value.status == 404
    assert err.value._render_traceback_() == [
        "\x1b[0;31mNotFound\x1b[0m: no table 'nope'", "hint: agnes.catalog() lists the tables you may use."]


def test_magic_prints_the_catalog(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("agnes", "catalog")
    out = capsys.readouterr().out
    assert out.startswith(f"Agnes catalog: {len(agnes.catalog())} table(s)")
    assert "events" in out
    assert "remote" in out


def test_magic_json_and_filters(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    shell.run_line_magic("agnes", "catalog --mode remote --json")
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == ["events"]


def test_magic_errors_fail_the_cell_in_one_line_and_a_hint(shell: InteractiveShell,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shell.run_cell("%agnes catalog --mode sideways")
    assert isinstance(usage.error_in_exec, agnes.AgnesError)
    assert usage.error_in_exec.code == "usage_error"
    assert "invalid choice" in usage.error_in_exec.message
    shown = capsys.readouterr().out.strip().splitlines()
    assert len(shown) == 2
    assert shown[1].startswith("hint:")
    assert "invalid choice" in shown[0]
    monkeypatch.setattr(agnes, "_default", agnes._client.Client(agnes.client().server.__class__(
        "http://127.0.0.1:9/", "x", "test")))
    gone = shell.run_cell("%agnes catalog")
    assert isinstance(gone.error_in_exec, agnes.ServerNotFound)
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert "ServerNotFound" in lines[0]
    assert "could not reach" in lines[0]
    assert lines[1].startswith("hint: ")
    assert "Traceback" not in captured.out + captured.err


def test_uncaught_errors_in_cells_show_one_line_not_a_traceback(connected: LiveServer,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    ip = InteractiveShell.instance()
    try:
        result = ip.run_cell("import agnes_jupyter as agnes\nagnes.client().get('tables/nope/schema')")
        assert isinstance(result.error_in_exec, agnes.NotFound)
        out = capsys.readouterr()
        text = out.out + out.err
        assert "NotFound" in text
        assert "hint: agnes.catalog()" in text
        assert "Traceback" not in text
        assert "File " not in text
    finally:
        InteractiveShell.clear_instance()


def test_workspace_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from agnes_jupyter._workspace import workspace_dir

    monkeypatch.setenv("AGNES_WORKSPACE", str(tmp_path / "ws"))
    assert workspace_dir() == (tmp_path / "ws").resolve()
    monkeypatch.delenv("AGNES_WORKSPACE")
    assert workspace_dir().parts[-2:] == ("agnes", "workspace")
