from __future__ import annotations

from pathlib import Path

import pytest

from agnes_core.core import AgnesCore
from agnes_core.errors import AlreadyExists, Conflict, NotFound, ValidationError
from agnes_core.events import ChangeHub
from agnes_core.registry import Registry


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
        # Parameters have no value when the query runs (extract, schema, sample): refused, in any spelling.
        ({"id": "ok", "source": "demo", "query_mode": "materialized", "sql": "SELECT $day AS d"}, "sql"),
        ({"id": "ok", "source": "demo", "query_mode": "materialized", "sql": "SELECT * FROM orders WHERE id = ?"},
         "sql"),
        ({"id": "ok", "source": "demo", "query_mode": "materialized", "sql": "SELECT $1 AS first"}, "sql"),
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


def test_writes_update_the_snapshot_without_reloading_every_table(core: AgnesCore, demo_lake: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _lake(core, demo_lake)
    for tid in ("m", "b", "x"):
        core.registry.register_table({"id": tid, "source": "demo", "source_table": "orders"})
    assert [t.id for t in core.registry.list_tables()] == ["b", "m", "x"]
    queries: list[str] = []
    real_rows = core.store.rows

    def rows(sql: str, params: object = None) -> list[dict]:
        queries.append(sql)
        return real_rows(sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(core.store, "rows", rows)
    core.registry.register_table({"id": "a", "source": "demo", "source_table": "orders"})
    core.registry.register_table({"id": "z", "source": "demo", "source_table": "orders"})
    core.registry.update_table("m", {"description": "middle"}, partial=True)
    core.registry.delete_table("x")
    core.registry.update_source("demo", {"options": {"path": str(demo_lake), "batch_rows": 1000}}, partial=True)
    assert [t.id for t in core.registry.list_tables()] == ["a", "b", "m", "z"]  # still in id order
    assert core.registry.get_table("m").description == "middle"
    assert core.registry.get_source("demo").options["batch_rows"] == 1000
    assert not [q for q in queries if "FROM tables ORDER BY" in q or "FROM sources ORDER BY" in q]
    # what the snapshot says is what a fresh load from the store says
    fresh = Registry(core.store, ChangeHub())
    assert fresh.list_tables() == core.registry.list_tables()
    assert fresh.list_sources() == core.registry.list_sources()


def test_a_materialized_tables_schema_and_sample_run_its_query_wrapped_as_a_subquery(core: AgnesCore,
                                                                                     demo_lake: Path) -> None:
    _lake(core, demo_lake)
    sql = ("SELECT * FROM (VALUES (1, 'a) b -- c'), (2, 'a) b -- c'), (3, 'a) b -- c'), (4, 'x')) AS t(order_id, note) "
           "ORDER BY order_id -- a trailing comment")
    table = core.registry.register_table({"id": "mat_notes", "source": "demo", "query_mode": "materialized",
                                          "sql": sql})
    sample = core.discovery.sample(table, 3)
    assert sample["columns"] == ["order_id", "note"]
    assert [row["note"] for row in sample["rows"]] == ["a) b -- c"] * 3


def test_a_materialized_table_over_a_lakes_tables_has_a_schema_a_sample_and_an_extract(core: AgnesCore,
                                                                                       demo_lake: Path) -> None:
    _lake(core, demo_lake)
    sql = ("WITH big AS (SELECT customer_id, amount FROM orders WHERE amount > 0) "
           "SELECT c.country, count(*) AS n FROM big JOIN customers AS c USING (customer_id) GROUP BY c.country")
    table = core.registry.register_table({"id": "mat_by_country", "source": "demo", "query_mode": "materialized",
                                          "sql": sql})
    assert [c["name"] for c in core.discovery.schema(table)["columns"]] == ["country", "n"]
    assert core.discovery.sample(table, 2)["columns"] == ["country", "n"]
    run = core.extracts.run("mat_by_country")
    assert run["status"] == "succeeded"
    assert run["rows"] > 0
