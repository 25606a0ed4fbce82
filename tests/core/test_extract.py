"""The extract runtime: Parquet, extract.duckdb, atomic swap, sync state, evolution, increments."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agnes_core.core import AgnesCore
from agnes_core.extract.incremental import decode_value
from tests._pg import PgCluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lake(tmp_path: Path, demo_lake: Path) -> Path:
    """A private lake: the demo files plus a DuckDB database and a file we can rewrite."""
    lake = tmp_path / "lake"
    lake.mkdir()
    for name in ("orders.parquet", "customers.parquet"):
        os.link(demo_lake / name, lake / name)
    (lake / "events").symlink_to(demo_lake / "events")
    con = duckdb.connect(str(lake / "shop.duckdb"))
    con.execute("CREATE TABLE items AS SELECT i AS id, 'v' || i AS v FROM range(1, 101) t(i)")
    con.close()
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}), lake / "evolving.parquet")
    return lake


@pytest.fixture
def core(tmp_path: Path, lake: Path):
    c = AgnesCore(tmp_path / "data")
    c.registry.add_source({"name": "demo", "type": "lake", "options": {"path": str(lake)}})
    yield c
    c.close()


def register(core: AgnesCore, **body: object) -> None:
    core.registry.register_table({"source": "demo", **body})


def meta(core: AgnesCore, source: str = "demo") -> dict[str, dict]:
    core.extracts.flush()  # registry changes reach the file through a background writer
    con = duckdb.connect(str(core.data_dir / "extracts" / source / "extract.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT * FROM _meta").fetchall()
        names = [d[0] for d in con.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in rows}
    finally:
        con.close()


def count_view(core: AgnesCore, table_id: str, source: str = "demo") -> int:
    core.extracts.flush()  # registry changes reach the file through a background writer
    con = duckdb.connect(str(core.data_dir / "extracts" / source / "extract.duckdb"), read_only=True)
    try:
        got = con.execute(f'SELECT count(*) FROM "{table_id}"').fetchone()
        return int(got[0]) if got else -1
    finally:
        con.close()


def test_extract_writes_parquet_meta_views_sync_state_and_master_view(core: AgnesCore) -> None:
    register(core, id="orders", source_table="orders", description="Orders")
    run = core.extracts.run("orders")
    assert run["status"] == "succeeded"
    assert run["rows"] == 250_000
    assert run["rows_read"] == 250_000
    state = core.extracts.sync_state("orders")
    assert state is not None
    path = Path(state["path"])
    assert path.parent == core.data_dir / "extracts" / "demo" / "data" / "orders"
    assert state["md5"] == hashlib.md5(path.read_bytes()).hexdigest()
    assert state["size_bytes"] == path.stat().st_size
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    m = meta(core)["orders"]
    assert (m["rows"], m["query_mode"], m["md5"], m["description"]) == (250_000, "local", state["md5"], "Orders")
    assert [c["name"] for c in json.loads(m["schema_json"])][:2] == ["order_id", "customer_id"]
    assert count_view(core, "orders") == 250_000
    analytics = duckdb.connect(str(core.data_dir / "analytics.duckdb"), read_only=True)
    assert analytics.execute('SELECT count(*) FROM "orders"').fetchone() == (250_000,)
    analytics.close()


def test_remote_tables_stay_in_meta_with_their_own_mode(core: AgnesCore) -> None:
    register(core, id="orders", source_table="orders")
    register(core, id="events", source_table="events", query_mode="remote")
    core.extracts.run("orders")
    entries = meta(core)
    assert entries["events"]["query_mode"] == "remote"
    assert entries["events"]["rows"] is None
    assert entries["orders"]["query_mode"] == "local"


def test_a_failing_table_does_not_stop_the_others(core: AgnesCore) -> None:
    register(core, id="orders", source_table="orders")
    register(core, id="broken", source_table="no_such_file")
    bad = core.extracts.run("broken")
    good = core.extracts.run("orders")
    assert bad["status"] == "failed"
    assert "no_such_file" in bad["error"]
    assert good["status"] == "succeeded"
    assert meta(core)["broken"]["rows"] is None
    assert core.extracts.runs("broken")[0]["error"] == bad["error"]
    assert core.audit.entries(resource="table/broken", action="extract.fail")


def test_schema_changes_are_recorded_and_audited(core: AgnesCore, lake: Path) -> None:
    register(core, id="evolving", source_table="evolving")
    assert core.extracts.run("evolving")["schema_changes"] is None
    pq.write_table(pa.table({"a": ["1", "2"], "c": [1.5, 2.5]}), lake / "evolving.parquet")
    run = core.extracts.run("evolving")
    assert run["schema_changes"] == {"added": ["c"], "removed": ["b"],
                                     "type_changed": [{"name": "a", "from": "int64", "to": "string"}]}
    history = core.extracts.schema_changes("evolving")
    assert history[0]["added"] == ["c"]
    assert history[0]["run_id"] == run["run_id"]
    audit = core.audit.entries(resource="table/evolving", action="table.schema_change")
    assert audit
    assert audit[0]["details"]["removed"] == ["b"]


def test_incremental_reads_only_newer_rows_and_advances_the_mark(core: AgnesCore, lake: Path) -> None:
    register(core, id="items", bucket="shop.duckdb", source_table="items", incremental_key="id", primary_key="id")
    first = core.extracts.run("items")
    assert (first["rows_read"], first["rows"], first["incremental_to"]) == (100, 100, "100")
    con = duckdb.connect(str(lake / "shop.duckdb"))
    con.execute("INSERT INTO items SELECT i, 'v' || i FROM range(101, 111) t(i)")
    con.close()
    second = core.extracts.run("items")
    assert (second["rows_read"], second["rows"]) == (10, 110)
    assert (second["incremental_from"], second["incremental_to"]) == ("100", "110")
    assert count_view(core, "items") == 110
    third = core.extracts.run("items")  # nothing new
    assert (third["rows_read"], third["rows"], third["incremental_to"]) == (0, 110, "110")


def test_a_failed_incremental_run_does_not_advance_the_mark(core: AgnesCore, lake: Path) -> None:
    register(core, id="items", bucket="shop.duckdb", source_table="items", incremental_key="id")
    core.extracts.run("items")
    before = core.store.row("SELECT high_water FROM extract_state WHERE table_id = 'items'")
    assert before is not None
    assert decode_value(before["high_water"]) == 100
    (lake / "shop.duckdb").rename(lake / "shop.duckdb.gone")
    assert core.extracts.run("items")["status"] == "failed"
    after = core.store.row("SELECT high_water FROM extract_state WHERE table_id = 'items'")
    assert after == before
    assert count_view(core, "items") == 100


def test_incremental_upsert_by_primary_key(core: AgnesCore, lake: Path) -> None:
    con = duckdb.connect(str(lake / "shop.duckdb"))
    con.execute("CREATE TABLE versions AS SELECT i AS id, i AS version, 'a' AS state FROM range(1, 6) t(i)")
    con.close()
    register(core, id="versions", bucket="shop.duckdb", source_table="versions", incremental_key="version",
             primary_key="id")
    core.extracts.run("versions")
    con = duckdb.connect(str(lake / "shop.duckdb"))
    con.execute("UPDATE versions SET version = 10, state = 'b' WHERE id = 2")
    con.close()
    run = core.extracts.run("versions")
    assert (run["rows_read"], run["rows"]) == (1, 5)
    path = core.extracts.sync_state("versions")["path"]  # type: ignore[index]
    rows = dict(duckdb.connect().execute(f"SELECT id, state FROM read_parquet('{path}')").fetchall())
    assert rows == {1: "a", 2: "b", 3: "a", 4: "a", 5: "a"}


def test_materialized_table_runs_its_sql_on_the_source(core: AgnesCore, lake: Path) -> None:
    sql = f"SELECT country, count(*) AS events FROM read_parquet('{lake}/events/**/*.parquet') GROUP BY country"
    register(core, id="events_by_country", query_mode="materialized", sql=sql, schedule="every 1d")
    run = core.extracts.run("events_by_country")
    assert run["status"] == "succeeded"
    assert run["rows"] == 20
    assert meta(core)["events_by_country"]["query_mode"] == "materialized"
    assert count_view(core, "events_by_country") == 20


def test_remote_tables_cannot_be_extracted(core: AgnesCore) -> None:
    from agnes_core.errors import Conflict

    register(core, id="events", source_table="events", query_mode="remote")
    with pytest.raises(Conflict):  # the table's mode, not the request, is in the way
        core.extracts.run("events")


def test_single_flight_per_table(core: AgnesCore) -> None:
    from agnes_core.errors import AlreadyRunning

    register(core, id="orders", source_table="orders")
    state = core.extracts.start("orders")
    with pytest.raises(AlreadyRunning) as err:
        core.extracts.start("orders")
    assert err.value.details["run_id"] == state.run_id
    core.extracts.execute(state)
    assert core.extracts.start("orders").run_id != state.run_id


def test_older_generations_are_collected_keeping_the_previous_one(core: AgnesCore) -> None:
    register(core, id="orders", source_table="orders")
    runs = [core.extracts.run("orders")["run_id"] for _ in range(3)]
    folder = core.data_dir / "extracts" / "demo" / "data" / "orders"
    assert sorted(p.stem for p in folder.glob("*.parquet")) == sorted(runs[1:])


def test_a_failure_at_the_swap_leaves_the_previous_extract_intact(core: AgnesCore,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    register(core, id="orders", source_table="orders")
    core.extracts.run("orders")
    before = core.extracts.sync_state("orders")
    real_replace = os.replace

    def crash_on_swap(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        if str(dst).endswith("extract.duckdb"):
            raise OSError("simulated crash while swapping extract.duckdb")
        real_replace(src, dst)

    monkeypatch.setattr("agnes_core.extract.extractdb.os.replace", crash_on_swap)
    run = core.extracts.run("orders")
    assert run["status"] == "failed"
    assert "simulated crash" in run["error"]
    assert core.extracts.sync_state("orders") == before
    assert count_view(core, "orders") == 250_000
    assert meta(core)["orders"]["md5"] == before["md5"]  # type: ignore[index]


CRASHER = """
import sys, time
from pathlib import Path
from agnes_core.core import AgnesCore
from agnes_core.connectors.lake import LakeConnector

real_read = LakeConnector.read
def slow_read(self, ref, options):
    for i, batch in enumerate(real_read(self, ref, options)):
        yield batch
        if i == 1:
            Path(sys.argv[2]).write_text("reading")
            time.sleep(600)  # the parent kills us here, mid-extract
LakeConnector.read = slow_read
core = AgnesCore(sys.argv[1])
core.extracts.run("orders")
"""


def test_a_killed_extract_leaves_the_previous_extract_intact(core: AgnesCore, tmp_path: Path) -> None:
    register(core, id="orders", source_table="orders")
    core.extracts.run("orders")
    before = core.extracts.sync_state("orders")
    extract_db = core.data_dir / "extracts" / "demo" / "extract.duckdb"
    extract_bytes = extract_db.read_bytes()
    core.store.close()  # the child process needs the store (DuckDB allows one writer process)
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server_ext")}
    child = subprocess.Popen([sys.executable, "-c", CRASHER, str(core.data_dir), str(ready)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert child.poll() is None, child.stdout.read().decode() if child.stdout else ""
        assert time.monotonic() < deadline, "the child never reached the middle of its extract"
        time.sleep(0.05)  # polling for the child's signal, with a deadline
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    if child.stdout is not None:
        child.stdout.close()

    assert extract_db.read_bytes() == extract_bytes
    after = AgnesCore(core.data_dir)
    try:
        assert after.extracts.sync_state("orders") == before
        assert count_view(after, "orders") == 250_000
        leftovers = list((core.data_dir / "extracts" / "demo" / "data" / "orders").glob(".*.tmp"))
        assert leftovers, "the killed run should have left its temp file behind"
        run = after.extracts.run("orders")  # the next run succeeds and cleans up
        assert run["status"] == "succeeded"
        assert not list((core.data_dir / "extracts" / "demo" / "data" / "orders").glob(".*.tmp"))
        killed = after.extracts.runs("orders")[1]
        assert killed["status"] == "failed"
        assert killed["error"].startswith("interrupted")
    finally:
        after.close()


def test_postgres_local_incremental_and_materialized_extracts(tmp_path: Path, pg_cluster: PgCluster) -> None:
    core = AgnesCore(tmp_path / "data")
    try:
        core.registry.add_source({"name": "pg", "type": "postgres", "secrets": {"dsn": "AGNES_TEST_PG_DSN"}})
        core.registry.register_table({"id": "pg_orders", "source": "pg", "bucket": "sales", "source_table": "orders"})
        core.registry.register_table({"id": "pg_increments", "source": "pg", "bucket": "public",
                                      "source_table": "increments", "incremental_key": "updated_at",
                                      "primary_key": "id"})
        core.registry.register_table({"id": "pg_status", "source": "pg", "query_mode": "materialized",
                                      "sql": "SELECT status, count(*) AS n FROM sales.orders GROUP BY status"})
        assert core.extracts.run("pg_orders")["rows"] == 1000
        assert core.extracts.run("pg_status")["rows"] == 3
        first = core.extracts.run("pg_increments")
        assert first["rows"] == 100
        pg_cluster.psql("INSERT INTO public.increments SELECT i, 'n' || i, TIMESTAMPTZ '2026-02-01 00:00:00+00' "
                        "+ i * INTERVAL '1 minute' FROM generate_series(101, 105) i")
        try:
            second = core.extracts.run("pg_increments")
            assert (second["rows_read"], second["rows"]) == (5, 105)
        finally:
            pg_cluster.psql("DELETE FROM public.increments WHERE id > 100")
        types = {c["name"]: c["type"] for c in json.loads(meta(core, "pg")["pg_orders"]["schema_json"])}
        assert types["amount"] == "decimal128(12, 2)"
    finally:
        core.close()


def view_sql(core: AgnesCore, source: str = "demo") -> dict[str, str]:
    core.extracts.flush()  # registry changes reach the file through a background writer
    con = duckdb.connect(str(core.data_dir / "extracts" / source / "extract.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
    finally:
        con.close()


def no_full_rebuilds(core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every full build of an extract.duckdb from now on."""
    builds: list[str] = []
    real = core.extracts.db.build

    def spy(source: str, override: dict | None = None) -> Path:
        builds.append(source)
        return real(source, override)

    monkeypatch.setattr(core.extracts.db, "build", spy)
    return builds


def test_registering_a_table_changes_only_its_entry_in_extract_duckdb(core: AgnesCore,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    register(core, id="orders", source_table="orders")
    register(core, id="customers", source_table="customers")
    core.extracts.run("orders")
    core.extracts.run("customers")
    views_before = view_sql(core)
    builds = no_full_rebuilds(core, monkeypatch)

    register(core, id="events", source_table="events", query_mode="remote")
    register(core, id="orders_copy", source_table="orders", description="a copy")
    entries = meta(core)
    assert set(entries) == {"orders", "customers", "events", "orders_copy"}
    assert (entries["events"]["query_mode"], entries["events"]["rows"]) == ("remote", None)
    assert (entries["orders_copy"]["description"], entries["orders_copy"]["path"]) == ("a copy", None)
    assert view_sql(core) == views_before  # the other tables' views are untouched

    core.registry.update_table("customers", {"description": "People"}, partial=True)
    assert meta(core)["customers"]["description"] == "People"
    assert count_view(core, "customers") == 50_000
    core.registry.delete_table("orders_copy")
    core.registry.delete_table("events")
    assert set(meta(core)) == {"orders", "customers"}
    assert builds == []  # every change above updated the file table by table


def test_an_extract_replaces_only_its_own_view(core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    register(core, id="orders", source_table="orders")
    register(core, id="customers", source_table="customers")
    core.extracts.run("orders")
    core.extracts.run("customers")
    before = view_sql(core)
    builds = no_full_rebuilds(core, monkeypatch)
    run = core.extracts.run("orders")
    after = view_sql(core)
    assert builds == []
    assert after["customers"] == before["customers"]
    assert after["orders"] != before["orders"]
    assert run["run_id"] in after["orders"]
    assert meta(core)["orders"]["md5"] == core.extracts.sync_state("orders")["md5"]  # type: ignore[index]


def test_deleting_an_extracted_table_drops_its_view_meta_row_and_files(core: AgnesCore) -> None:
    register(core, id="orders", source_table="orders")
    register(core, id="customers", source_table="customers")
    core.extracts.run("orders")
    core.extracts.run("customers")
    core.registry.delete_table("orders")
    assert set(meta(core)) == {"customers"}
    assert set(view_sql(core)) == {"customers"}
    assert core.extracts.sync_state("orders") is None
    assert not (core.data_dir / "extracts" / "demo" / "data" / "orders").exists()
    assert count_view(core, "customers") == 50_000


def test_a_table_moved_to_another_source_leaves_the_first_ones_extract(core: AgnesCore, lake: Path) -> None:
    core.registry.add_source({"name": "other", "type": "lake", "options": {"path": str(lake)}})
    register(core, id="orders", source_table="orders")
    register(core, id="customers", source_table="customers")
    core.registry.register_table({"id": "items", "source": "other", "source_table": "orders"})
    core.extracts.run("orders")
    core.extracts.run("items")
    core.registry.update_table("customers", {"source": "other"}, partial=True)
    assert set(meta(core)) == {"orders"}
    assert set(meta(core, "other")) == {"items", "customers"}


def test_a_missing_extract_duckdb_is_rebuilt_whole_on_the_next_extract(core: AgnesCore) -> None:
    register(core, id="orders", source_table="orders")
    register(core, id="customers", source_table="customers")
    core.extracts.run("orders")
    (core.data_dir / "extracts" / "demo" / "extract.duckdb").unlink()
    core.extracts.run("customers")
    assert set(meta(core)) == {"orders", "customers"}
    assert count_view(core, "orders") == 250_000


def test_registrations_do_not_write_extract_duckdb_in_the_request(core: AgnesCore,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst of registrations is written by the background writer, one rewrite per source."""
    import threading

    register(core, id="orders", source_table="orders")
    core.extracts.run("orders")
    core.extracts.flush()
    writes: list[tuple[str, set[str], str]] = []
    update = core.extracts.db.update_now

    def recording(source: str, ids: set[str] | frozenset[str]) -> object:
        writes.append((source, set(ids), threading.current_thread().name))
        return update(source, ids)

    monkeypatch.setattr(core.extracts.db, "update_now", recording)
    gate = threading.Event()
    original_drain = core.extracts.db._drain

    def held_drain() -> None:
        gate.wait(30)  # the writer starts only when the test lets it: the requests below are done by then
        original_drain()

    monkeypatch.setattr(core.extracts.db, "_drain", held_drain)
    for i in range(5):
        register(core, id=f"copy_{i}", source_table="orders")
    assert writes == []  # nothing was written inside the registrations
    gate.set()
    core.extracts.flush()
    assert all(name.startswith("agnes-extract-db") for _, _, name in writes)
    assert len(writes) <= 2  # coalesced: the first change's write and one for the rest, not five
    assert {f"copy_{i}" for i in range(5)} <= set(meta(core))
