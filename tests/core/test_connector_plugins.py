"""A separate package adds a connector through the ``agnes.connectors`` entry-point group."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agnes_core.connectors import connector_class, connector_types
from agnes_core.core import AgnesCore
from agnes_core.errors import ValidationError

PLUGIN = '''
from agnes_core.connectors import Capability, Connector, DiscoveredTable
import pyarrow as pa

class NotesConnector(Connector):
    type = "notes"
    capabilities = frozenset({Capability.DISCOVER})
    dialect = "duckdb"

    def test(self):
        return {"notes": 1}

    def discover(self):
        return [DiscoveredTable(None, "notes", pa.schema([("text", pa.string())]))]
'''


def _install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str, code: str, entry: str):
    """A distribution as pip would leave it (a package and its dist-info with an ``agnes.connectors``
    entry point) on sys.path; the connector caches are cleared before and after."""
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text(code)
    dist = package.replace("_", "-")
    info = tmp_path / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[agnes.connectors]\n{entry}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    connector_types.cache_clear()
    connector_class.cache_clear()
    yield
    connector_types.cache_clear()
    connector_class.cache_clear()
    sys.modules.pop(package, None)


@pytest.fixture
def plugin_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An installed distribution declaring a 'notes' connector."""
    yield from _install(tmp_path, monkeypatch, "agnes_notes", PLUGIN, "notes = agnes_notes:NotesConnector")


def test_an_installed_package_adds_a_source_type(plugin_package: None, tmp_path: Path) -> None:
    assert connector_types()["notes"] == "agnes_notes:NotesConnector"
    core = AgnesCore(tmp_path / "data")
    try:
        core.registry.add_source({"name": "my_notes", "type": "notes"})
        assert core.test_source("my_notes") == {"source": "my_notes", "ok": True, "notes": 1}
        assert [t["source_table"] for t in core.discover_source("my_notes")["tables"]] == ["notes"]
        # It declared no READ or REMOTE, so no local or remote tables can use it.
        with pytest.raises(ValidationError) as err:
            core.registry.register_table({"id": "n", "source": "my_notes", "source_table": "notes"})
        assert err.value.field == "query_mode"
    finally:
        core.close()


def test_without_the_package_the_type_is_unknown() -> None:
    connector_types.cache_clear()
    connector_class.cache_clear()
    with pytest.raises(ValidationError) as err:
        connector_class("notes")
    assert "lake" in (err.value.hint or "")
    assert "postgres" in (err.value.hint or "")


MEMO = '''
import duckdb
import pyarrow as pa

from agnes_core.connectors import Capability, Connector, DiscoveredTable, ScanEstimate, TableMetadata

DATA = pa.table({"id": [1, 2, 3, 4], "who": ["ann", "bob", "cy", "di"], "score": [1.5, 2.5, 3.5, 4.5]})


class MemoConnector(Connector):
    """A source with a dialect of its own, known to the core only through this class."""

    type = "memo"
    capabilities = frozenset({Capability.DISCOVER, Capability.READ, Capability.REMOTE, Capability.METADATA,
                              Capability.ESTIMATE})
    dialect = "sqlite"
    type_names = {"int64": "INTEGER", "string": "TEXT", "float64": "REAL"}
    dialect_notes = {"identifier_quote": '"', "string_quote": "'", "notes": ["memo keeps four notes in memory"]}

    def test(self):
        return {"rows": DATA.num_rows}

    def discover(self):
        return [DiscoveredTable(None, "memos", DATA.schema)]

    def schema(self, ref):
        return DATA.schema

    def read(self, ref, options):
        table = DATA if options.columns is None else DATA.select(options.columns)
        yield from table.to_batches()

    def metadata(self, ref):
        return TableMetadata(rows=DATA.num_rows, size_bytes=DATA.nbytes, uncompressed_bytes=DATA.nbytes,
                             entity_type="table")

    def estimate(self, sql, reads):
        return ScanEstimate(scan_bytes=DATA.nbytes, rows_read=DATA.num_rows, method="memo: the whole table")

    def scan(self, sql, batch_size=65_536, tables=(), guard=None):
        con = duckdb.connect()
        con.register("memo_data", DATA)
        con.execute("CREATE TABLE main.memos AS SELECT * FROM memo_data")
        yield from con.execute(sql).to_arrow_reader(batch_size)

    def interrupt(self):
        pass
'''


@pytest.fixture
def memo_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A separate distribution whose connector has its own SQL dialect."""
    yield from _install(tmp_path, monkeypatch, "agnes_memo", MEMO, "memo = agnes_memo:MemoConnector")


def test_a_connector_from_another_distribution_reaches_catalog_schema_estimate_and_extract(
        memo_package: None, tmp_path: Path) -> None:
    """Nothing in the core names the memo source or its dialect: the class says it all."""
    from agnes_core.access.principals import Principal

    admin = Principal("admin", "Admin", frozenset({"Everyone"}), True)
    core = AgnesCore(tmp_path / "data")
    try:
        core.registry.add_source({"name": "notes", "type": "memo"})
        core.registry.register_table({"id": "memos", "source": "notes", "source_table": "memos",
                                      "query_mode": "remote"})
        core.registry.register_table({"id": "memos_local", "source": "notes", "source_table": "memos",
                                      "query_mode": "local"})
        by_id = {e["id"]: e for e in core.catalog.entries(admin)}
        assert by_id["memos"]["sql_flavor"] == "sqlite"  # the connector's dialect
        assert by_id["memos_local"]["sql_flavor"] == "duckdb"  # extracted: the analyst's DuckDB

        schema = core.discovery.schema(core.registry.get_table("memos"))
        assert [(c["name"], c["type"]) for c in schema["columns"]] == [
            ("id", "INTEGER"), ("who", "TEXT"), ("score", "REAL")]  # the connector's type names
        assert schema["dialect"]["notes"] == ["memo keeps four notes in memory"]

        estimate = core.scans.estimate(admin, {"sql": "SELECT who FROM memos WHERE score > 2"})
        assert (estimate["dialect"], estimate["method"]) == ("sqlite", "memo: the whole table")
        assert estimate["scan_bytes"] > 0

        run = core.extracts.run("memos_local")
        assert run["status"] == "succeeded"
        assert core.extracts.sync_state("memos_local")["rows"] == 4
    finally:
        core.close()
