"""The connector conformance suite: every connector must pass it.

A connector's test module subclasses :class:`ConnectorConformance` and provides a
``subject`` fixture describing one of its tables and how to make it fail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest

from agnes_core.connectors import Capability, Connector, ReadOptions, TableRef
from agnes_core.connectors.base import ENTITY_TYPES, RANGE_ORIGINS
from agnes_core.errors import AgnesError, NotSupported, ValidationError
from agnes_core.ids import PHYSICAL_NAME_RE

_METHOD_FOR = {
    Capability.DISCOVER: "discover",
    Capability.READ: "read",
    Capability.REMOTE: "scan",
    Capability.METADATA: "metadata",
    Capability.STATS: "column_stats",
}


@dataclass
class Subject:
    make: Callable[[], Connector]
    table: TableRef
    rows: int
    columns: list[str]
    incremental_key: str
    incremental_after: Any
    newer_rows: int
    missing: TableRef
    unreachable: Callable[[], Connector]
    scan_sql: str
    scan_rows: int
    #: For connectors with secrets: one configured with a secret whose source rejects it,
    #: and the secret's value, which must never leak.
    wrong_secret: Callable[[], Connector] | None = None
    secret_value: str | None = None
    #: A column of ``table`` with no nulls whose (min, max) the source's metadata knows (STATS).
    range_column: str | None = None
    range: tuple[Any, Any] | None = None
    #: A table the source describes: (table, its description, a column, that column's description).
    described: tuple[TableRef, str, str, str] | None = None


def _all_errors(exc: AgnesError) -> str:
    return " ".join([exc.message, exc.hint or "", repr(exc.details), str(exc), repr(exc)])


class ConnectorConformance:
    """Behaviour every connector shares. Subclasses provide the ``subject`` fixture."""

    @pytest.fixture
    def connector(self, subject: Subject):
        c = subject.make()
        yield c
        c.close()

    def test_declared_capabilities_are_implemented(self, connector: Connector) -> None:
        for capability, method in _METHOD_FOR.items():
            overridden = getattr(type(connector), method) is not getattr(Connector, method)
            assert overridden == (capability in connector.capabilities), (capability, method)

    def test_discover_returns_valid_schemas(self, connector: Connector, subject: Subject) -> None:
        found = connector.discover()
        assert found, "discover() found nothing"
        assert len({(t.bucket, t.name) for t in found}) == len(found), "duplicate tables"
        for table in found:
            assert PHYSICAL_NAME_RE.match(table.name)
            assert table.bucket is None or PHYSICAL_NAME_RE.match(table.bucket)
            assert isinstance(table.schema, pa.Schema)
            assert len(table.schema) > 0
            assert len(set(table.schema.names)) == len(table.schema.names)
            assert table.entity_type in ENTITY_TYPES
        assert subject.table in {t.ref for t in found}

    def test_read_batches_match_the_schema(self, connector: Connector, subject: Subject) -> None:
        schema = connector.schema(subject.table)
        batches = list(connector.read(subject.table, ReadOptions()))
        assert sum(b.num_rows for b in batches) == subject.rows
        for batch in batches:
            assert batch.schema.names == schema.names
            assert [f.type for f in batch.schema] == [f.type for f in schema]

    def test_read_honours_batch_size_and_projection(self, connector: Connector, subject: Subject) -> None:
        size = max(1, subject.rows // 5)
        batches = list(connector.read(subject.table, ReadOptions(columns=subject.columns, batch_size=size)))
        assert len(batches) >= 3
        assert all(b.num_rows <= size for b in batches)
        assert all(b.schema.names == subject.columns for b in batches)
        assert sum(b.num_rows for b in batches) == subject.rows

    def test_incremental_read_returns_only_newer_rows(self, connector: Connector, subject: Subject) -> None:
        options = ReadOptions(incremental_key=subject.incremental_key, incremental_after=subject.incremental_after)
        batches = list(connector.read(subject.table, options))
        assert sum(b.num_rows for b in batches) == subject.newer_rows
        for batch in batches:
            values = batch.column(subject.incremental_key).to_pylist()
            assert all(v > subject.incremental_after for v in values)

    def test_an_empty_read_still_yields_the_schema(self, connector: Connector, subject: Subject) -> None:
        values = [v for b in connector.read(subject.table, ReadOptions(columns=[subject.incremental_key]))
                  for v in b.column(0).to_pylist() if v is not None]
        options = ReadOptions(incremental_key=subject.incremental_key, incremental_after=max(values))
        batches = list(connector.read(subject.table, options))
        assert batches
        assert sum(b.num_rows for b in batches) == 0
        assert batches[0].schema.names == connector.schema(subject.table).names

    def test_unknown_columns_are_a_validation_error(self, connector: Connector, subject: Subject) -> None:
        with pytest.raises(ValidationError) as err:
            list(connector.read(subject.table, ReadOptions(columns=["no_such_column"])))
        assert err.value.hint

    def test_filters_are_parsed_never_pasted(self, connector: Connector, subject: Subject) -> None:
        for bad in ("1=1; DROP TABLE x", f"{subject.incremental_key} IN (SELECT 1)", "read_csv('/etc/passwd') IS NULL",
                    "getenv('HOME') IS NOT NULL", "pg_read_file('/etc/passwd') IS NULL"):
            with pytest.raises(ValidationError) as err:
                list(connector.read(subject.table, ReadOptions(filter=bad)))
            assert err.value.field == "filter", bad
        rows = sum(b.num_rows for b in connector.read(
            subject.table, ReadOptions(filter=f"{subject.incremental_key} > {subject.incremental_after} -- tail")))
        assert rows == subject.newer_rows

    def test_missing_table_is_an_agnes_error_with_a_hint(self, connector: Connector, subject: Subject) -> None:
        with pytest.raises(AgnesError) as err:
            connector.schema(subject.missing)
        assert err.value.code == "not_found"
        assert err.value.hint

    def test_unreachable_source_is_a_source_error_with_a_hint(self, subject: Subject) -> None:
        connector = subject.unreachable()
        try:
            with pytest.raises(AgnesError) as err:
                connector.test()
            assert err.value.code == "source_error"
            assert err.value.hint
        finally:
            connector.close()

    def test_scan_runs_sql_in_the_source(self, connector: Connector, subject: Subject) -> None:
        if Capability.REMOTE not in connector.capabilities:
            with pytest.raises(NotSupported):  # undeclared: refused, never attempted
                connector.scan(subject.scan_sql)
            return
        batches = list(connector.scan(subject.scan_sql))
        assert sum(b.num_rows for b in batches) == subject.scan_rows

    def test_metadata_is_best_effort(self, connector: Connector, subject: Subject) -> None:
        meta = connector.metadata(subject.table)
        assert meta is not None
        assert (meta.rows, meta.error) == (subject.rows, None)
        missing = connector.metadata(subject.missing)  # never raises: the failure comes back with its reason
        assert missing is not None
        assert missing.error

    def test_column_stats_come_from_metadata_alone(self, connector: Connector, subject: Subject) -> None:
        if Capability.STATS not in connector.capabilities:
            with pytest.raises(NotSupported):  # undeclared: refused, never guessed
                connector.column_stats(subject.table)
            return
        assert subject.range_column is not None, "a STATS connector's subject names a column and its range"
        stats = connector.column_stats(subject.table)
        found = stats[subject.range_column]
        assert (found.min, found.max) == subject.range
        assert found.null_count == 0
        assert found.origin in RANGE_ORIGINS
        assert found.approximate == (found.origin == "pg_stats")
        json.dumps({name: s.to_json() for name, s in stats.items()})  # JSON-safe as it is
        assert set(stats) <= set(connector.schema(subject.table).names)
        with pytest.raises(AgnesError) as err:
            connector.column_stats(subject.missing)
        assert err.value.hint

    def test_descriptions_come_from_the_source(self, connector: Connector, subject: Subject) -> None:
        if subject.described is None:
            pytest.fail("every connector here reads descriptions; give the subject a described table")
        table, text, column, column_text = subject.described
        schema = connector.schema(table)
        assert (schema.metadata or {}).get(b"description", b"").decode() == text
        assert (schema.field(column).metadata or {}).get(b"description", b"").decode() == column_text
        if Capability.METADATA in connector.capabilities:
            meta = connector.metadata(table)
            assert meta is not None
            assert meta.description == text
            if meta.size_bytes is not None:  # a source that knows sizes knows the uncompressed one
                assert meta.uncompressed_bytes is not None
                assert meta.uncompressed_bytes > 0

    def test_secrets_never_leak(self, subject: Subject, caplog: pytest.LogCaptureFixture) -> None:
        connector = subject.make()
        if not connector.secret_names:
            # No secrets at all: configuring one is refused, so none can leak.
            with pytest.raises(ValidationError):
                type(connector)(connector.name, connector.options, {"dsn": "SOME_VAR"})
            return
        assert subject.wrong_secret is not None, "the subject must provide a connector with a rejected secret"
        assert subject.secret_value, "the subject must provide the secret value to look for"
        caplog.set_level(logging.DEBUG)
        broken = subject.wrong_secret()
        failures: list[AgnesError] = []
        attempts = [broken.test, broken.discover, lambda: broken.schema(subject.table),
                    lambda: list(broken.read(subject.table, ReadOptions()))]
        if Capability.REMOTE in broken.capabilities:
            attempts.append(lambda: list(broken.scan("SELECT 1")))
        if Capability.STATS in broken.capabilities:
            attempts.append(lambda: broken.column_stats(subject.table))
        for attempt in attempts:
            try:
                attempt()
            except AgnesError as exc:
                failures.append(exc)
        meta = broken.metadata(subject.table)
        broken.close()
        assert meta is not None, "a failing provider reports why, without raising"
        assert meta.error
        assert subject.secret_value not in meta.error
        assert len(failures) == len(attempts), "every operation with a rejected secret must fail with an AgnesError"
        for exc in failures:
            assert subject.secret_value not in _all_errors(exc)
            assert exc.hint
        assert subject.secret_value not in caplog.text
