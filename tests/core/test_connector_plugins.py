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


@pytest.fixture
def plugin_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An installed distribution (as pip would leave it) declaring a 'notes' connector."""
    (tmp_path / "agnes_notes").mkdir()
    (tmp_path / "agnes_notes" / "__init__.py").write_text(PLUGIN)
    info = tmp_path / "agnes_notes-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agnes-notes\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[agnes.connectors]\nnotes = agnes_notes:NotesConnector\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    connector_types.cache_clear()
    connector_class.cache_clear()
    yield
    connector_types.cache_clear()
    connector_class.cache_clear()
    sys.modules.pop("agnes_notes", None)


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
