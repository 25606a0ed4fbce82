"""The analyst's local workspace: synced tables, snapshots and a local DuckDB."""

from __future__ import annotations

import os
from pathlib import Path

WORKSPACE_ENV = "AGNES_WORKSPACE"


def workspace_dir() -> Path:
    """``$AGNES_WORKSPACE`` if set, else ``<user data dir>/agnes/workspace``."""
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("agnes", appauthor=False)) / "workspace"
