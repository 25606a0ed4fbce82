from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from agnes_core.errors import StoreVersionError
from agnes_core.store.migrations import MIGRATIONS, Migration
from agnes_core.store.state import StateStore


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_store_is_created_at_the_latest_schema_version(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "system.duckdb")
    info = store.info()
    store.close()
    assert info.schema_version == MIGRATIONS[-1].version == info.code_version


def test_older_store_is_upgraded_in_place_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "system.duckdb"
    v1 = [Migration(1, "first", ("CREATE TABLE things (id INTEGER)",))]
    v2 = [*v1, Migration(2, "second", ("ALTER TABLE things ADD COLUMN label VARCHAR",))]
    old = StateStore(path, v1)
    with old.write() as cur:
        cur.execute("INSERT INTO things VALUES (7)")
    old.close()

    upgraded = StateStore(path, v2)
    assert upgraded.info().schema_version == 2
    assert upgraded.rows("SELECT id, label FROM things") == [{"id": 7, "label": None}]
    upgraded.close()


def test_real_migrations_upgrade_a_version_one_file(tmp_path: Path) -> None:
    path = tmp_path / "system.duckdb"
    StateStore(path, MIGRATIONS[:1]).close()
    store = StateStore(path)
    assert store.info().schema_version == MIGRATIONS[-1].version
    store.close()


def test_store_newer_than_the_code_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "system.duckdb"
    future = [*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "future", ("CREATE TABLE future (x INT)",))]
    StateStore(path, future).close()
    before = _digest(path)
    with pytest.raises(StoreVersionError) as err:
        StateStore(path)
    assert "newer agnes-jupyter" in (err.value.hint or "")
    assert str(MIGRATIONS[-1].version + 1) in err.value.message
    assert _digest(path) == before


def test_failed_migration_rolls_back_and_keeps_the_old_version(tmp_path: Path) -> None:
    path = tmp_path / "system.duckdb"
    v1 = [Migration(1, "first", ("CREATE TABLE things (id INTEGER)",))]
    StateStore(path, v1).close()
    broken = [*v1, Migration(2, "broken", ("CREATE TABLE more (x INT)", "THIS IS NOT SQL"))]
    with pytest.raises(duckdb.Error):
        StateStore(path, broken)
    store = StateStore(path, v1)
    assert store.info().schema_version == 1
    assert store.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'more'") == 0
    store.close()


def test_write_rolls_back_on_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "system.duckdb")
    def insert_then_fail() -> None:
        with store.write() as cur:
            cur.execute("INSERT INTO groups VALUES ('g', '', now()::TIMESTAMP)")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    assert store.scalar("SELECT count(*) FROM groups") == 0
    store.close()
