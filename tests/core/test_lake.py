from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from agnes_core.connectors import Capability, ReadOptions, TableRef, connector_class, connector_types
from agnes_core.connectors.lake import LakeConnector
from agnes_core.errors import NotFound, SourceError, ValidationError


def test_lake_is_registered_through_the_entry_point_group() -> None:
    assert connector_types()["lake"] == "agnes_core.connectors.lake:LakeConnector"
    assert connector_class("lake") is LakeConnector


def test_lake_requires_a_path() -> None:
    with pytest.raises(ValidationError) as err:
        LakeConnector("x", {})
    assert err.value.field == "options.path"


def test_discover_finds_files_hive_folders_and_duckdb_tables(tmp_path: Path, demo_lake: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "sales").mkdir(parents=True)
    for name in ("orders.parquet", "customers.parquet"):
        (lake / "sales" / name).write_bytes((demo_lake / name).read_bytes())
    (lake / "events").symlink_to(demo_lake / "events")
    con = duckdb.connect(str(lake / "warehouse.duckdb"))
    con.execute("CREATE TABLE kpis AS SELECT 1 AS id, 'a' AS name")
    con.execute("CREATE VIEW kpi_names AS SELECT name FROM kpis")
    con.close()

    found = {(t.bucket, t.name): t for t in LakeConnector("lake", {"path": str(lake)}).discover()}
    assert set(found) == {("sales", "orders"), ("sales", "customers"), (None, "events"),
                          ("warehouse.duckdb", "kpis"), ("warehouse.duckdb", "kpi_names")}
    assert found[(None, "events")].entity_type == "partitioned_table"
    assert "event_date" in found[(None, "events")].schema.names
    assert found[("warehouse.duckdb", "kpi_names")].entity_type == "view"
    assert isinstance(found[("sales", "orders")].schema, pa.Schema)


def test_schema_of_hive_table_includes_the_partition_column_as_date(demo_lake: Path) -> None:
    schema = LakeConnector("demo", {"path": str(demo_lake)}).schema(TableRef(None, "events"))
    assert schema.field("event_date").type == pa.date32()
    assert schema.field("country").type == pa.string()


def test_read_honours_projection_and_batch_size(demo_lake: Path) -> None:
    lake = LakeConnector("demo", {"path": str(demo_lake)})
    batches = list(lake.read(TableRef(None, "orders"), ReadOptions(columns=["order_id", "amount"], batch_size=4096)))
    assert all(b.num_rows <= 4096 for b in batches)
    assert sum(b.num_rows for b in batches) == 250_000
    assert batches[0].schema.names == ["order_id", "amount"]


def test_read_rejects_unknown_columns(demo_lake: Path) -> None:
    lake = LakeConnector("demo", {"path": str(demo_lake)})
    with pytest.raises(ValidationError):
        list(lake.read(TableRef(None, "orders"), ReadOptions(columns=["nope"])))


def test_missing_table_and_missing_lake_are_clear_errors(tmp_path: Path, demo_lake: Path) -> None:
    with pytest.raises(NotFound):
        LakeConnector("demo", {"path": str(demo_lake)}).schema(TableRef(None, "nope"))
    with pytest.raises(SourceError) as err:
        LakeConnector("gone", {"path": str(tmp_path / "missing")}).test()
    assert "does not exist" in err.value.message


def test_metadata_reports_rows_bytes_partitions_and_sort_order(demo_lake: Path) -> None:
    lake = LakeConnector("demo", {"path": str(demo_lake)})
    assert Capability.METADATA in lake.capabilities
    meta = lake.metadata(TableRef(None, "events"))
    assert meta is not None
    assert meta.rows == 60_000
    assert meta.size_bytes == sum(p.stat().st_size for p in (demo_lake / "events").rglob("*.parquet"))
    assert meta.partition_by == ["event_date"]
    assert meta.clustered_by == ["country"]
    assert meta.entity_type == "partitioned_table"


def test_metadata_never_raises(tmp_path: Path) -> None:
    meta = LakeConnector("gone", {"path": str(tmp_path / "missing")}).metadata(TableRef(None, "x"))
    assert meta is not None
    assert "does not exist" in (meta.error or "")


def _scratch_catalogs() -> set[str]:
    from agnes_core.connectors.lake import connector as lake_module

    names: set[str] = set()
    for db in lake_module._SHARED.values():
        cur = db.cursor()
        try:
            names |= {r[0] for r in cur.execute("SELECT database_name FROM duckdb_databases()").fetchall()
                      if r[0].startswith("agnes_scan_")}
        finally:
            cur.close()
    return names


def test_scans_of_two_lakes_sharing_a_duckdb_see_their_own_tables(tmp_path: Path) -> None:
    """Two sources with a table of the same physical name (main.events) scanned at once, batches
    drawn alternately: each scan reads its own lake, and no scratch catalog outlives its scan."""
    lakes = []
    for n, rows in ((1, 3), (2, 5)):
        folder = tmp_path / f"lake{n}" / "events"
        folder.mkdir(parents=True)
        con = duckdb.connect()
        con.execute(f"COPY (SELECT {n} AS lake, i FROM range({rows}) t(i)) "
                    f"TO '{folder / 'part.parquet'}' (FORMAT parquet)")
        con.close()
        lakes.append(LakeConnector(f"lake{n}", {"path": str(tmp_path / f"lake{n}")}))
    ref = TableRef(None, "events")
    one = iter(lakes[0].scan("SELECT lake, i FROM main.events ORDER BY i", batch_size=1, tables=[ref]))
    two = iter(lakes[1].scan("SELECT lake, i FROM main.events ORDER BY i", batch_size=1, tables=[ref]))
    first_one, first_two = next(one), next(two)  # both open at once
    got_one = [first_one, *one]
    got_two = [first_two, *two]
    assert pa.Table.from_batches(got_one).to_pydict() == {"lake": [1] * 3, "i": [0, 1, 2]}
    assert pa.Table.from_batches(got_two).to_pydict() == {"lake": [2] * 5, "i": [0, 1, 2, 3, 4]}
    assert _scratch_catalogs() == set()

    cancelled = lakes[1].scan("SELECT i FROM main.events", batch_size=1, tables=[ref])
    next(iter(cancelled))
    cancelled.close()  # a scan stopped early (client gone) releases its catalog too
    assert _scratch_catalogs() == set()


def test_the_newest_file_says_when_a_table_last_changed_and_extracts_carry_it_to_the_catalog(tmp_path: Path) -> None:
    import datetime as dt
    import os

    import pyarrow.parquet as pq

    from agnes_core.access.principals import Principal
    from agnes_core.core import AgnesCore

    lake = tmp_path / "lake"
    (lake / "sales").mkdir(parents=True)
    for i, when in enumerate((1_780_000_000, 1_790_000_000)):  # 2026-05-28 and 2026-09-21, UTC
        path = lake / "sales" / f"part-{i}.parquet"
        pq.write_table(pa.table({"id": [i]}), path)
        os.utime(path, (when, when))
    newest = dt.datetime.fromtimestamp(1_790_000_000, dt.timezone.utc)
    connector = LakeConnector("lk", {"path": str(lake)})
    meta = connector.metadata(TableRef(None, "sales"))
    assert meta is not None
    assert meta.changed_at == newest
    core = AgnesCore(tmp_path / "data")
    try:
        core.registry.add_source({"name": "lk", "type": "lake", "options": {"path": str(lake)}})
        core.registry.register_table({"id": "sales", "source": "lk", "source_table": "sales"})
        assert core.extracts.run("sales")["status"] == "succeeded"
        admin = Principal("ann", "Ann", frozenset({"Everyone"}), is_admin=True)
        (entry,) = [e for e in core.catalog.entries(admin) if e["id"] == "sales"]
        assert entry["source_changed_at"] == "2026-09-21T14:13:20.000Z"
    finally:
        core.close()
