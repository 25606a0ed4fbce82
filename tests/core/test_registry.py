from __future__ import annotations

from pathlib import Path

import pytest

from agnes_core.core import AgnesCore
from agnes_core.errors import AlreadyExists, Conflict, NotFound, ValidationError


def _lake(core: AgnesCore, path: Path, name: str = "demo") -> None:
    core.registry.add_source({"name": name, "type": "lake", "options": {"path": str(path)}})


def test_source_secrets_are_env_var_names_not_values(core: AgnesCore) -> None:
    with pytest.raises(ValidationError) as err:
        core.registry.add_source({"name": "x", "type": "lake", "options": {"path": "/tmp"},
                                  "secrets": {"dsn": "postgres://u:p@h/db"}})
    assert err.value.field == "secrets.dsn"


def test_unknown_source_type_names_the_field(core: AgnesCore) -> None:
    with pytest.raises(ValidationError) as err:
        core.registry.add_source({"name": "x", "type": "oracle"})
    assert err.value.field == "type"
    assert "lake" in (err.value.hint or "")


def test_duplicate_source_is_a_conflict(core: AgnesCore, demo_lake: Path) -> None:
    _lake(core, demo_lake)
    with pytest.raises(AlreadyExists):
        _lake(core, demo_lake)


def test_register_table_validates_ids_and_names(core: AgnesCore, demo_lake: Path) -> None:
    _lake(core, demo_lake)
    bad = [
        ({"id": "1abc", "source": "demo", "source_table": "orders"}, "id"),
        ({"id": "a-b", "source": "demo", "source_table": "orders"}, "id"),
        ({"id": "ok", "source": "demo", "source_table": "../etc/passwd"}, "source_table"),
        ({"id": "ok", "source": "demo", "source_table": "orders", "bucket": "a/b"}, "bucket"),
        ({"id": "ok", "source": "demo", "source_table": "orders", "query_mode": "cached"}, "query_mode"),
        ({"id": "ok", "source": "demo", "source_table": "orders", "schedule": "sometimes"}, "schedule"),
        ({"id": "ok", "source": "demo", "source_table": "orders", "sql": "SELECT 1"}, "sql"),
        ({"id": "ok", "source": "demo", "query_mode": "materialized"}, "sql"),
        ({"id": "ok", "source": "demo", "query_mode": "materialized", "sql": "DELETE FROM orders"}, "sql"),
        ({"id": "ok", "source": "demo", "query_mode": "materialized", "sql": "SELECT 1 INTO copy"}, "sql"),
        ({"id": "ok", "source": "demo", "query_mode": "materialized", "sql": "SELECT 1; SELECT 2"}, "sql"),
        ({"id": "ok", "source": "demo", "source_table": "orders", "surprise": 1}, "surprise"),
        ({"id": "x" * 65, "source": "demo", "source_table": "orders"}, "id"),
    ]
    for body, field in bad:
        with pytest.raises(ValidationError) as err:
            core.registry.register_table(body)
        assert err.value.field == field, body
    with pytest.raises(NotFound) as missing:  # well-formed, naming a source that does not exist
        core.registry.register_table({"id": "ok", "source": "nope", "source_table": "orders"})
    assert missing.value.details["field"] == "source"


def test_register_get_update_delete_table(core: AgnesCore, demo_lake: Path) -> None:
    _lake(core, demo_lake)
    table = core.registry.register_table({"id": "orders", "source": "demo", "source_table": "orders",
                                          "primary_key": "order_id", "schedule": "every 6h"})
    assert table.primary_key == ["order_id"]
    assert table.name == "orders"
    assert table.query_mode == "local"
    with pytest.raises(AlreadyExists):
        core.registry.register_table({"id": "orders", "source": "demo", "source_table": "orders"})
    patched = core.registry.update_table("orders", {"description": "All orders"}, partial=True)
    assert patched.description == "All orders"
    assert patched.schedule == "every 6h"
    replaced = core.registry.update_table("orders", {"source": "demo", "source_table": "orders"}, partial=False)
    assert replaced.schedule is None
    assert replaced.description == ""
    core.registry.delete_table("orders")
    with pytest.raises(NotFound):
        core.registry.get_table("orders")


def test_source_with_tables_cannot_be_deleted(core: AgnesCore, demo_lake: Path) -> None:
    _lake(core, demo_lake)
    core.registry.register_table({"id": "orders", "source": "demo", "source_table": "orders"})
    with pytest.raises(Conflict) as err:
        core.registry.delete_source("demo")
    assert err.value.details["tables"] == ["orders"]


def test_changes_are_published_with_the_table_ids(core: AgnesCore, demo_lake: Path) -> None:
    seen = []
    core.hub.subscribe(seen.append)
    _lake(core, demo_lake)
    core.registry.register_table({"id": "orders", "source": "demo", "source_table": "orders"})
    core.registry.delete_table("orders")
    assert [(c.kind, c.action, sorted(c.ids)) for c in seen] == [
        ("source", "create", []), ("table", "create", ["orders"]), ("table", "delete", ["orders"])]
