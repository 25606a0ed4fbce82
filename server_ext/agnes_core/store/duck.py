"""One way to open DuckDB inside the server: quiet and offline.

No progress bar (DuckDB would draw it on the server's stdout during long queries) and
no automatic extension install or load (never reach for the network).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

BASE_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def connect(path: str | Path | None = None, *, read_only: bool = False, **config: Any) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path) if path is not None else ":memory:", read_only=read_only,
                         config={**BASE_CONFIG, **config})
    con.execute("SET enable_progress_bar = false")  # a session setting, not a connect-time one
    return con
