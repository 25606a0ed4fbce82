from __future__ import annotations

from pathlib import Path

import pytest

from agnes_core.core import AgnesCore
from agnes_core.demo import write_demo_lake


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small deterministic demo lake, written once per session."""
    return write_demo_lake(tmp_path_factory.mktemp("lake") / "demo", rows=60_000, days=60).path


@pytest.fixture
def core(tmp_path: Path):
    c = AgnesCore(tmp_path / "data")
    yield c
    c.close()
