"""GET sync/tables/{id}/data: the extract's Parquet with ETag/304, single ranges, and clear refusals."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .conftest import agnes_app


async def fetch(jp_fetch, table: str, headers: dict[str, str] | None = None) -> Any:
    return await jp_fetch("agnes", "v1", "sync", "tables", table, "data", headers=headers or {}, raise_error=False)


async def test_table_data_etag_range_and_refusals(api, jp_serverapp, jp_fetch) -> None:
    status, body, _ = await api("GET", "sync/tables/orders/data")
    assert (status, body["error"]) == (404, "not_found")  # not extracted yet
    assert "extract" in body["hint"]
    core = agnes_app(jp_serverapp).core
    await asyncio.get_running_loop().run_in_executor(None, core.extracts.execute, core.extracts.start("orders"))

    full = await fetch(jp_fetch, "orders")
    assert full.code == 200
    md5 = hashlib.md5(full.body, usedforsecurity=False).hexdigest()
    assert full.headers["ETag"] == f'"{md5}"'
    assert pq.read_table(pa.BufferReader(full.body)).num_rows == int(full.headers["X-Agnes-Rows"]) > 0

    same = await fetch(jp_fetch, "orders", {"If-None-Match": f'"{md5}"'})
    assert (same.code, same.body) == (304, b"")
    part = await fetch(jp_fetch, "orders", {"Range": "bytes=100-"})
    assert part.code == 206
    assert part.body == full.body[100:]
    assert part.headers["Content-Range"] == f"bytes 100-{len(full.body) - 1}/{len(full.body)}"
    tail = await fetch(jp_fetch, "orders", {"Range": "bytes=-8"})
    assert tail.body == full.body[-8:]  # ends with the Parquet magic
    outside = await fetch(jp_fetch, "orders", {"Range": f"bytes={len(full.body)}-"})
    assert outside.code == 416
    assert outside.headers["Content-Range"] == f"bytes */{len(full.body)}"

    status, body, _ = await api("GET", "sync/tables/events/data")
    assert (status, body["error"]) == (409, "not_remote")
    status, body, _ = await api("GET", "sync/tables/nope/data")
    assert status == 404
