"""``agnes.table()`` downloads a local table the way sync does: read-only, md5-verified, resumed
with a Range request after a cut, and not fetched again while unchanged."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import IO, Any

import pytest
import requests

import agnes_jupyter as agnes
from agnes_jupyter import _download
from tests._live import LiveServer


@pytest.fixture
def ws(connected: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workspace"
    monkeypatch.setenv("AGNES_WORKSPACE", str(root))
    return root


def test_an_on_demand_download_is_read_only_and_recorded(ws: Path) -> None:
    agnes.table("customers")
    path = ws / "data" / "_shared" / "customers.parquet"
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    state = json.loads((ws / "sync_state.json").read_text())["tables"]["customers"]
    assert state["origin"] == "on_demand"
    assert len(state["md5"]) == 32  # the md5 the server sent, checked


def test_a_cut_download_resumes_with_a_range_request(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    client = agnes.client()
    original = client.request

    def request(method: str, path: str, **kwargs: Any) -> Any:
        calls.append({"path": path, "headers": dict(kwargs.get("headers") or {})})
        return original(method, path, **kwargs)

    monkeypatch.setattr(client, "request", request)
    monkeypatch.setattr(_download, "CHUNK", 4096)
    write = _download._write_chunk
    state = {"written": 0, "cut": False}

    def write_then_cut(fh: IO[bytes], chunk: bytes) -> None:
        write(fh, chunk)
        state["written"] += len(chunk)
        if state["written"] > 8192 and not state["cut"]:
            state["cut"] = True
            raise requests.ConnectionError("the connection was cut")

    monkeypatch.setattr(_download, "_write_chunk", write_then_cut)
    monkeypatch.setattr(_download, "BACKOFF_SECONDS", 0.0)
    table = agnes.table("orders")
    assert state["cut"]
    ranges = [c["headers"].get("Range") for c in calls if c["path"].endswith("/data")]
    assert ranges[0] is None
    assert ranges[1] is not None
    assert ranges[1].startswith("bytes=")
    assert int(ranges[1][len("bytes="):-1]) > 0
    assert int(table.count().execute()) > 0  # the resumed file is whole (its md5 was checked)
    calls.clear()
    agnes.table("orders")
    assert [c["path"] for c in calls if c["path"].endswith("/data")] == ["sync/tables/orders/data"]  # a 304
