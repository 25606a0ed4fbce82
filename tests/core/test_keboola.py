"""The keboola connector against the local Storage API server (tests/_keboola.py): discovery and
types, metadata, async exports of sliced gzipped CSV, filters, incremental extracts, retries,
errors and redaction, and extracts through the runtime."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agnes_core.connectors import ReadOptions, TableRef
from agnes_core.connectors.keboola import KeboolaConnector
from agnes_core.connectors.keboola.files import SliceStream, decompressed, header_variants, sign_v4
from agnes_core.core import AgnesCore
from agnes_core.errors import AgnesError, NotFound, SourceError, ValidationError
from tests._keboola import BUCKET, KeboolaServer, keboola_server, orders_table

TOKEN_VAR = "AGNES_TEST_KBC_TOKEN"
FAST = {"backoff_s": 0.001, "job_poll_s": 0.001}
ORDERS = TableRef(BUCKET, "orders")


@pytest.fixture
def kbc(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeboolaServer]:
    with keboola_server(slices=3) as server:
        server.add_table(orders_table())
        monkeypatch.setenv(TOKEN_VAR, server.token)
        yield server


def connect(server: KeboolaServer, **options: Any) -> KeboolaConnector:
    return KeboolaConnector("kbc", {"url": server.url, **FAST, **options}, {"token": TOKEN_VAR})


def read_all(connector: KeboolaConnector, ref: TableRef = ORDERS, **options: Any) -> pa.Table:
    batches = list(connector.read(ref, ReadOptions(**options)))
    return pa.Table.from_batches(batches)


def everything(exc: AgnesError) -> str:
    return " ".join([exc.message, exc.hint or "", repr(exc.details), str(exc), repr(exc)])


# -- discovery, types, metadata -------------------------------------------------------------------


def test_discover_lists_every_table_with_columns_and_metadata_in_one_call(kbc: KeboolaServer) -> None:
    found = connect(kbc).discover()
    assert [(t.bucket, t.name, t.entity_type, t.description) for t in found] == [
        (BUCKET, "orders", "table", "Orders from the web shop")]
    (listing,) = kbc.requests
    assert (listing[1], listing[2]["include"]) == ("/v2/storage/tables", ["columns,metadata,columnMetadata"])


def test_discover_lists_the_named_buckets_one_by_one(kbc: KeboolaServer) -> None:
    kbc.add_table(dataclasses.replace(orders_table(), bucket="out.c-reports", name="daily"))
    found = connect(kbc, buckets=["out.c-reports"]).discover()
    assert [(t.bucket, t.name) for t in found] == [("out.c-reports", "daily")]
    assert [(r[1], r[2]["include"]) for r in kbc.requests] == [
        ("/v2/storage/buckets/out.c-reports/tables", ["columns,metadata,columnMetadata"])]


def test_column_types_come_from_keboola_datatype_metadata(kbc: KeboolaServer) -> None:
    schema = connect(kbc).schema(ORDERS)
    assert {f.name: f.type for f in schema} == {
        "id": pa.int64(), "customer": pa.string(), "amount": pa.float64(), "price": pa.decimal128(12, 2),
        "paid": pa.bool_(), "ordered_on": pa.date32(), "updated_at": pa.timestamp("us"),
        "shipped_at": pa.timestamp("us", tz="UTC"), "note": pa.string()}
    assert schema.field("id").metadata[b"description"] == b"Order number"
    assert schema.metadata[b"description"] == b"Orders from the web shop"
    assert schema.metadata[b"primary_key"] == b'["id"]'
    assert schema.metadata[b"keboola.lastImportDate"] == b"2026-11-30T10:00:00+0100"
    assert KeboolaConnector.column_type(schema.field("price")) == "NUMBER(12,2)"
    assert KeboolaConnector.column_type(schema.field("note")) == "VARCHAR"


def test_the_user_providers_type_wins_over_a_components(kbc: KeboolaServer) -> None:
    detail = kbc.tables[f"{BUCKET}.orders"].detail()
    detail["columnMetadata"]["note"] += [
        {"key": "KBC.datatype.basetype", "value": "INTEGER", "provider": "keboola.ex-db-mysql",
         "timestamp": "2026-11-01T00:00:00+0100"},
        {"key": "KBC.datatype.basetype", "value": "DATE", "provider": "user", "timestamp": "2026-06-01T00:00:00+0100"}]
    from agnes_core.connectors.keboola.types import arrow_schema

    assert arrow_schema(detail).field("note").type == pa.date32()


def test_a_typed_tables_definition_wins_over_column_metadata() -> None:
    from agnes_core.connectors.keboola.types import arrow_schema

    detail = {"columns": ["id", "total", "at"], "isTyped": True, "columnMetadata": {
        "id": [{"key": "KBC.datatype.basetype", "value": "STRING", "provider": "user", "timestamp": "2026"}]},
        "definition": {"primaryKeysNames": ["id"], "columns": [
            {"name": "id", "definition": {"type": "NUMBER", "nullable": False, "length": "38,0"},
             "basetype": "INTEGER"},
            {"name": "total", "definition": {"type": "NUMBER", "nullable": True, "length": "20,4"},
             "basetype": "NUMERIC"},
            {"name": "at", "definition": {"type": "TIMESTAMP_LTZ", "nullable": True}, "basetype": "TIMESTAMP"}]}}
    schema = arrow_schema(detail)
    assert [f.type for f in schema] == [pa.int64(), pa.decimal128(20, 4), pa.timestamp("us", tz="UTC")]
    assert KeboolaConnector.column_type(schema.field("total")) == "NUMBER(20,4)"


def test_metadata_comes_from_the_table_detail_without_an_export(kbc: KeboolaServer) -> None:
    meta = connect(kbc).metadata(ORDERS)
    assert meta is not None
    assert (meta.rows, meta.entity_type, meta.description, meta.error) == (
        100, "table", "Orders from the web shop", None)
    assert meta.size_bytes == kbc.tables[f"{BUCKET}.orders"].detail()["dataSizeBytes"]
    assert meta.known_columns[:2] == ["id", "customer"]
    assert kbc.export_bodies() == []
    assert [r[1] for r in kbc.calls("GET", "/v2/storage/tables/")] == [f"/v2/storage/tables/{BUCKET}.orders"]


def test_test_verifies_the_token_and_counts_buckets(kbc: KeboolaServer) -> None:
    assert connect(kbc).test() == {"url": kbc.url, "project": "Agnes Test Project", "project_id": 4321,
                                   "token": "agnes reader", "buckets": 1}


# -- exports ----------------------------------------------------------------------------------------


def test_a_sliced_export_is_read_slice_by_slice_into_typed_rows(kbc: KeboolaServer) -> None:
    table = read_all(connect(kbc))
    source = kbc.tables[f"{BUCKET}.orders"].data
    assert table.num_rows == 100
    expected = source.to_pylist()
    for row in expected:  # Keboola exports NULL and '' alike: an empty string stays a string
        row["note"] = row["note"] or ""
    assert table.to_pylist() == expected
    assert [b["gzip"] for b in kbc.export_bodies()] == [True]
    assert len(kbc.calls("GET", "/files/")) == 1 + 3  # the manifest, then every slice
    file_detail = kbc.calls("GET", "/v2/storage/files/")[0]
    assert file_detail[2]["federationToken"] == ["1"]


def test_a_header_in_the_first_slice_only_is_skipped(kbc: KeboolaServer) -> None:
    plain = read_all(connect(kbc))
    kbc.header_in_first_slice = True
    with_header = read_all(connect(kbc))
    assert with_header.equals(plain)


def test_slice_stream_finds_only_an_exact_header_line() -> None:
    header = header_variants(["id", "v"])
    body = gzip.compress(b'"id","v"\n"1","a"\n')
    stream = SliceStream(iter([body[:5], body[5:]]), header)
    assert (stream.header_skipped, stream.empty) == (True, False)
    assert decompressed(stream).read() == b'"id","v"\n"1","a"\n'  # replayed whole: the reader skips the row
    stream = SliceStream(iter([gzip.compress(b'"1","id"\n"2","v"\n')]), header)
    assert stream.header_skipped is False
    assert SliceStream(iter([gzip.compress(b'id,v\n')]), header).header_skipped is True  # unquoted names too
    assert SliceStream(iter([gzip.compress(b'"id","v"\n')])).header_skipped is False  # not the first slice


def test_slice_stream_reads_concatenated_gzip_members_and_refuses_a_truncated_one() -> None:
    body = gzip.compress(b"") + gzip.compress(b'"1"\n') + gzip.compress(b'"2"\n')
    stream = SliceStream(iter([body[:10], body[10:]]))
    assert stream.empty is False
    assert decompressed(stream).read() == b'"1"\n"2"\n'
    assert SliceStream(iter([gzip.compress(b"")])).empty is True
    assert SliceStream(iter([])).empty is True
    cut = gzip.compress(b'"1","x"\n' * 100_000)
    with pytest.raises(OSError, match="Truncated"):
        decompressed(SliceStream(iter([cut[: len(cut) // 2]]))).read()


def test_a_slice_larger_than_the_spool_goes_to_a_temporary_file_removed_after() -> None:
    body = gzip.compress(b"".join(b'"%d","v%d"\n' % (i, i) for i in range(50_000)))
    chunks = [body[i:i + 4096] for i in range(0, len(body), 4096)]
    stream = SliceStream(iter(chunks), spool_bytes=10_000)
    assert stream.spooled
    name = stream._file.name
    assert Path(name).exists()
    assert decompressed(stream).read().count(b"\n") == 50_000
    stream.close()
    assert not Path(name).exists()
    assert not SliceStream(iter(chunks)).spooled  # 64 MiB by default: this one stays in memory


def test_an_unsliced_export_is_one_file(kbc: KeboolaServer) -> None:
    kbc.sliced = False
    assert read_all(connect(kbc)).num_rows == 100
    assert len(kbc.calls("GET", "/files/")) == 1


def test_s3_slices_are_fetched_with_sigv4_from_the_files_credentials(kbc: KeboolaServer) -> None:
    kbc.s3_entries = True
    table = read_all(connect(kbc, object_endpoint=kbc.url))
    assert table.num_rows == 100
    assert len(kbc.calls("GET", f"/{kbc.bucket_name}/")) == 3


def test_an_unreachable_file_storage_is_named_without_the_signed_url(kbc: KeboolaServer) -> None:
    kbc.s3_entries = True
    with pytest.raises(SourceError) as err:
        read_all(connect(kbc, object_endpoint="http://127.0.0.1:9", retries=0))
    assert "file storage at 127.0.0.1:9" in err.value.message
    assert err.value.details["host"] == "127.0.0.1:9"
    for secret in kbc.credentials.values():
        assert secret not in everything(err.value)


def test_sigv4_matches_aws_documented_example() -> None:
    # "Example: GET Object" of the S3 API reference's Signature Version 4 examples.
    day = dt.datetime(2013, 5, 24, tzinfo=dt.timezone.utc)
    headers = sign_v4("GET", "examplebucket.s3.amazonaws.com", "/test.txt", "us-east-1", "AKIAIOSFODNN7EXAMPLE",
                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None, day, extra={"range": "bytes=0-9"})
    assert headers["Authorization"].endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


def test_refused_s3_credentials_fail_without_showing_them(kbc: KeboolaServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    kbc.s3_entries = True
    connector = connect(kbc, object_endpoint=kbc.url)
    real = dict(kbc.credentials)
    kbc.s3_expected_secret = "another/secret+key"  # the store checks signatures with another key
    with pytest.raises(SourceError) as err:
        read_all(connector)
    assert "403" in err.value.message
    for secret in (*real.values(), kbc.token):
        assert secret not in everything(err.value)
        assert secret not in caplog.text


def test_columns_are_exported_in_table_order_and_returned_as_asked(kbc: KeboolaServer) -> None:
    table = read_all(connect(kbc), columns=["paid", "id"])
    assert table.column_names == ["paid", "id"]
    assert kbc.export_bodies()[-1]["columns"] == ["id", "paid"]
    assert table.column("id").to_pylist() == list(range(1, 101))


def test_the_job_is_polled_until_success(kbc: KeboolaServer) -> None:
    read_all(connect(kbc))
    (job_id,) = kbc.jobs
    assert [r[1] for r in kbc.calls("GET", "/v2/storage/jobs/")] == [f"/v2/storage/jobs/{job_id}"] * 2
    assert kbc.jobs[job_id]["status"] == "success"


def test_a_failed_export_job_is_a_source_error_with_its_message(kbc: KeboolaServer) -> None:
    kbc.fail_next_export("Table export failed: warehouse suspended")
    with pytest.raises(SourceError) as err:
        read_all(connect(kbc))
    assert "warehouse suspended" in err.value.message
    assert err.value.details["error_code"] == "storage.tableExport.failed"
    assert err.value.hint


def test_a_slice_cut_off_mid_download_fails_the_read(kbc: KeboolaServer) -> None:
    kbc.break_slice(1)
    with pytest.raises(SourceError) as err:
        read_all(connect(kbc, retries=0))
    assert err.value.details["slice"] == 2
    assert "previous extract is kept" in (err.value.hint or "")


def test_slices_of_gcp_and_azure_stacks_are_fetched_with_their_credentials() -> None:
    from agnes_core.connectors.keboola.files import resolve

    detail = {"gcsCredentials": {"access_token": "ya29.gcs-token", "expires_in": 3599, "token_type": "Bearer"}}
    gs = resolve("gs://kbc-files/exp/123.csv.gz0000_part_00", detail, object_endpoint=None, source="kbc")
    assert gs.url == "https://storage.googleapis.com/storage/v1/b/kbc-files/o/exp%2F123.csv.gz0000_part_00?alt=media"
    assert gs.headers == {"Authorization": "Bearer ya29.gcs-token"}
    detail = {"absCredentials": {"SASConnectionString": "BlobEndpoint=https://acc.blob.core.windows.net;"
                                                        "SharedAccessSignature=sv=2023&sig=abc"}}
    blob = resolve("azure://acc.blob.core.windows.net/exp-15/123.csv.gz0000_part_00", detail, object_endpoint=None,
                   source="kbc")
    assert blob.url == "https://acc.blob.core.windows.net/exp-15/123.csv.gz0000_part_00?sv=2023&sig=abc"
    assert blob.where == "acc.blob.core.windows.net"
    with pytest.raises(SourceError) as err:
        resolve("ftp://x/y", detail, object_endpoint=None, source="kbc")
    assert err.value.hint


def test_interrupting_a_read_while_the_export_job_runs_ends_it(kbc: KeboolaServer) -> None:
    import threading
    import time

    kbc.hold_jobs = True
    connector = connect(kbc)
    failure: list[BaseException] = []

    def reading() -> None:
        try:
            read_all(connector)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            failure.append(exc)

    thread = threading.Thread(target=reading, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while len(kbc.calls("GET", "/v2/storage/jobs/")) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the server's log with a deadline, not synchronising by sleeping
    assert len(kbc.calls("GET", "/v2/storage/jobs/")) >= 3
    connector.interrupt()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(failure[0], SourceError)
    assert "stopped" in failure[0].message


# -- filters and incremental reads ------------------------------------------------------------------


def test_filters_become_where_filters(kbc: KeboolaServer) -> None:
    table = read_all(connect(kbc), filter="id >= 90 AND 95 > id AND customer NOT IN ('cust-1') AND paid = true")
    assert table.column("id").to_pylist() == [90, 94]  # 92 is cust-1
    assert kbc.export_bodies()[-1]["whereFilters"] == [
        {"column": "id", "operator": "ge", "values": ["90"], "dataType": "INTEGER"},
        {"column": "id", "operator": "lt", "values": ["95"], "dataType": "INTEGER"},
        {"column": "customer", "operator": "ne", "values": ["cust-1"]},
        {"column": "paid", "operator": "eq", "values": ["true"]}]


@pytest.mark.parametrize("bad", ["id > 5 OR id < 2", "upper(customer) = 'X'", "id = amount", "id BETWEEN 1 AND 3",
                                 "customer LIKE 'c%'"])
def test_filters_an_export_cannot_apply_are_refused(kbc: KeboolaServer, bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        read_all(connect(kbc), filter=bad)
    assert err.value.field == "filter"
    assert "whereFilters" not in str(kbc.export_bodies())
    assert err.value.hint


def test_an_incremental_read_by_a_timestamp_sends_changed_since_with_the_margin(kbc: KeboolaServer) -> None:
    mark = dt.datetime(2026, 11, 4, 0, 0)
    table = read_all(connect(kbc), incremental_key="updated_at", incremental_after=mark)
    assert table.column("id").to_pylist() == list(range(73, 101))
    body = kbc.export_bodies()[-1]
    assert body["changedSince"] == "2026-11-03T00:00:00+00:00"
    assert body["whereFilters"] == [{"column": "updated_at", "operator": "gt", "values": ["2026-11-04 00:00:00"]}]


def test_changed_since_is_not_sent_for_a_numeric_key_or_with_margin_minus_one(kbc: KeboolaServer) -> None:
    read_all(connect(kbc), incremental_key="id", incremental_after=50)
    read_all(connect(kbc, changed_since_margin_s=-1), incremental_key="updated_at",
             incremental_after=dt.datetime(2026, 11, 4))
    assert ["changedSince" in b for b in kbc.export_bodies()] == [False, False]


def test_rows_past_the_mark_are_checked_again_after_the_export(kbc: KeboolaServer) -> None:
    # A stack that ignores whereFilters (compares as text, say) must not hand the runtime older rows.
    kbc.slices = 1
    original = kbc._render
    kbc._render = lambda table, columns, params: original(table, columns, {})  # type: ignore[method-assign]
    table = read_all(connect(kbc), incremental_key="id", incremental_after=97)
    assert table.column("id").to_pylist() == [98, 99, 100]


# -- retries, errors, redaction --------------------------------------------------------------------


def test_429_with_retry_after_and_5xx_are_retried(kbc: KeboolaServer) -> None:
    kbc.rate_limit(2, status=429, retry_after="0")
    connector = connect(kbc)
    assert connector.schema(ORDERS).names[0] == "id"
    kbc.rate_limit(2, status=503, retry_after=None)
    assert connector.metadata(ORDERS).rows == 100  # type: ignore[union-attr]
    assert sum(1 for r in kbc.requests if r[1] == f"/v2/storage/tables/{BUCKET}.orders") == 6


def test_retry_after_is_capped_by_the_longest_back_off(kbc: KeboolaServer) -> None:
    kbc.rate_limit(1, status=429, retry_after="3600")
    connector = connect(kbc)
    connector.client().max_backoff_s = 0.01  # an hour asked for, a hundredth of a second waited
    assert connector.schema(ORDERS).names[0] == "id"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from email.utils import format_datetime

    from agnes_core.connectors.http import retry_after_seconds

    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    soon = format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=120), usegmt=True)
    assert 100 < (retry_after_seconds({"Retry-After": soon}) or 0) <= 120
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_retries_are_bounded_then_a_hint(kbc: KeboolaServer) -> None:
    kbc.rate_limit(100, status=429)
    with pytest.raises(SourceError) as err:
        connect(kbc, retries=2).schema(ORDERS)
    assert err.value.details["kind"] == "rate_limit"
    assert "try again" in (err.value.hint or "")
    assert sum(1 for r in kbc.requests if r[1].startswith("/v2/storage/tables/")) == 3


def test_an_invalid_token_names_the_variable_never_the_value(kbc: KeboolaServer,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    kbc.reject_token()
    connector = connect(kbc)
    for attempt in (connector.test, connector.discover, lambda: connector.schema(ORDERS), lambda: read_all(connector)):
        with pytest.raises(SourceError) as err:
            attempt()
        assert TOKEN_VAR in (err.value.hint or "")
        assert kbc.token not in everything(err.value)
    meta = connector.metadata(ORDERS)
    assert meta is not None
    assert meta.error
    assert kbc.token not in meta.error
    assert kbc.token not in caplog.text


def test_a_token_without_access_is_a_permission_error_naming_the_variable(kbc: KeboolaServer) -> None:
    kbc.denied.add(f"{BUCKET}.orders")
    with pytest.raises(SourceError) as err:
        connect(kbc).schema(ORDERS)
    assert err.value.details["kind"] == "permission"
    assert "don't have access" in err.value.message
    assert TOKEN_VAR in err.value.message
    assert TOKEN_VAR in (err.value.hint or "")
    assert kbc.token not in everything(err.value)


def test_a_missing_variable_is_named(kbc: KeboolaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_VAR)
    with pytest.raises(SourceError) as err:
        connect(kbc).test()
    assert TOKEN_VAR in err.value.message


def test_unknown_tables_and_buckets_are_not_found(kbc: KeboolaServer) -> None:
    with pytest.raises(NotFound) as err:
        connect(kbc).schema(TableRef(BUCKET, "nope"))
    assert err.value.hint
    with pytest.raises(NotFound):
        connect(kbc, buckets=["in.c-nope"]).discover()


@pytest.mark.parametrize(("options", "field"), [
    ({"url": "ftp://connection.keboola.com"}, "options.url"),
    ({"url": "https://connection.keboola.com/v2?x=1"}, "options.url"),
    ({"url": "https://connection.keboola.com", "buckets": ["in.c-ok", "bad bucket"]}, "options.buckets"),
    ({"url": "https://connection.keboola.com", "retries": -1}, "options.retries"),
    ({"url": "https://connection.keboola.com", "object_endpoint": "s3://x"}, "options.object_endpoint"),
])
def test_options_are_validated(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        KeboolaConnector("kbc", options, {"token": TOKEN_VAR})
    assert err.value.field == field


def test_bucket_and_table_ids_are_validated_before_any_call(kbc: KeboolaServer) -> None:
    connector = connect(kbc)
    for ref, field in ((TableRef(None, "orders"), "bucket"), (TableRef("in.c-shop/../x", "orders"), "bucket"),
                       (TableRef(BUCKET, "orders?x=1"), "source_table")):
        with pytest.raises(ValidationError) as err:
            connector.schema(ref)
        assert err.value.field == field
    assert kbc.requests == []


def test_buckets_option_takes_a_comma_separated_text() -> None:
    c = KeboolaConnector("kbc", {"url": "https://connection.keboola.com", "buckets": "in.c-a, out.c-b"},
                         {"token": TOKEN_VAR})
    assert c.options["buckets"] == ["in.c-a", "out.c-b"]


# -- through the extract runtime ---------------------------------------------------------------------


@pytest.fixture
def core(tmp_path: Path, kbc: KeboolaServer) -> Iterator[AgnesCore]:
    c = AgnesCore(tmp_path / "data")
    c.registry.add_source({"name": "kbc", "type": "keboola", "options": {"url": kbc.url, **FAST},
                           "secrets": {"token": TOKEN_VAR}})
    yield c
    c.close()


def test_an_extract_writes_typed_parquet(core: AgnesCore, kbc: KeboolaServer) -> None:
    core.registry.register_table({"id": "kbc_orders", "source": "kbc", "bucket": BUCKET, "source_table": "orders",
                                  "query_mode": "local", "primary_key": "id"})
    run = core.extracts.run("kbc_orders")
    assert (run["status"], run["rows"]) == ("succeeded", 100)
    path = core.extracts.sync_state("kbc_orders")["path"]  # type: ignore[index]
    schema = pq.read_schema(path)
    assert schema.field("price").type == pa.decimal128(12, 2)
    assert schema.field("shipped_at").type == pa.timestamp("us", tz="UTC")
    assert (schema.field("id").metadata or {})[b"description"] == b"Order number"


def test_the_catalog_says_when_the_data_last_changed_in_keboola(core: AgnesCore, kbc: KeboolaServer) -> None:
    from agnes_core.access.principals import Principal

    core.registry.register_table({"id": "kbc_orders", "source": "kbc", "bucket": BUCKET, "source_table": "orders",
                                  "query_mode": "local"})
    admin = Principal("ann", "Ann", frozenset({"Everyone"}), is_admin=True)
    (before,) = [e for e in core.catalog.entries(admin) if e["id"] == "kbc_orders"]
    assert before["source_changed_at"] is None  # not extracted yet: nothing said
    assert core.extracts.run("kbc_orders")["status"] == "succeeded"
    (entry,) = [e for e in core.catalog.entries(admin) if e["id"] == "kbc_orders"]
    # lastChangeDate "2026-11-30T10:00:05+0100" of the table detail, in UTC
    assert entry["source_changed_at"] == "2026-11-30T09:00:05.000Z"
    connector = core.connector("kbc")
    try:
        assert connector.metadata(TableRef(BUCKET, "orders")).changed_at == dt.datetime(
            2026, 11, 30, 9, 0, 5, tzinfo=dt.timezone.utc)
    finally:
        connector.close()


def test_incremental_extracts_upsert_by_primary_key(core: AgnesCore, kbc: KeboolaServer) -> None:
    core.registry.register_table({"id": "kbc_orders", "source": "kbc", "bucket": BUCKET, "source_table": "orders",
                                  "query_mode": "local", "primary_key": "id", "incremental_key": "updated_at"})
    first = core.extracts.run("kbc_orders")
    assert (first["rows_read"], first["rows"]) == (100, 100)
    source = kbc.tables[f"{BUCKET}.orders"]
    later = dt.datetime(2026, 11, 10)
    rows = source.data.to_pylist()
    rows[1].update(customer="changed", updated_at=later)  # id 2 changes
    rows.append({**rows[0], "id": 101, "customer": "new", "updated_at": later})
    source.data = pa.Table.from_pylist(rows, schema=source.data.schema)
    assert source.imported_at is not None
    source.imported_at[1] = later.replace(tzinfo=dt.timezone.utc)
    source.imported_at.append(later.replace(tzinfo=dt.timezone.utc))
    second = core.extracts.run("kbc_orders")
    assert (second["status"], second["rows_read"], second["rows"]) == ("succeeded", 2, 101)
    assert kbc.export_bodies()[-1]["changedSince"] == "2026-11-04T03:55:00+00:00"
    path = core.extracts.sync_state("kbc_orders")["path"]  # type: ignore[index]
    got = dict(duckdb.connect().execute(f"SELECT id, customer FROM read_parquet('{path}') WHERE id IN (1, 2, 101)")
               .fetchall())
    assert got == {1: "cust-1", 2: "changed", 101: "new"}


def test_a_failed_slice_leaves_the_previous_extract_and_no_partial_file(core: AgnesCore, kbc: KeboolaServer) -> None:
    core.registry.register_table({"id": "kbc_orders", "source": "kbc", "bucket": BUCKET, "source_table": "orders",
                                  "query_mode": "local"})
    assert core.extracts.run("kbc_orders")["status"] == "succeeded"
    before = core.extracts.sync_state("kbc_orders")
    assert before is not None
    folder = Path(before["path"]).parent
    files_before = sorted(p.name for p in folder.iterdir())
    kbc.break_slice(2)
    run = core.extracts.run("kbc_orders")
    assert run["status"] == "failed"
    assert "slice 3 of 3" in run["error"]
    assert kbc.token not in run["error"]
    assert core.extracts.sync_state("kbc_orders") == before
    assert sorted(p.name for p in folder.iterdir()) == files_before  # no temp file, no new file
    assert pq.read_table(before["path"]).num_rows == 100


def test_slices_are_read_at_most_parallel_slices_at_a_time(kbc: KeboolaServer) -> None:
    """Memory stays bounded: when the first batch arrives, only the slices allowed to run ahead
    were asked for (one with parallel_slices 1, at most two by default)."""
    def asked() -> list[str]:
        return [r[1].rsplit("/", 1)[1] for r in kbc.calls("GET", "/files/") if "/slices/" in r[1]]

    it = iter(connect(kbc, parallel_slices=1).read(ORDERS, ReadOptions(batch_size=10)))
    next(it)
    assert asked() == ["0.csv.gz"]
    assert sum(b.num_rows for b in it) == 90
    assert asked() == ["0.csv.gz", "1.csv.gz", "2.csv.gz"]
    kbc.requests.clear()
    it = iter(connect(kbc).read(ORDERS, ReadOptions(batch_size=10)))
    next(it)
    assert "0.csv.gz" in asked()
    assert set(asked()) <= {"0.csv.gz", "1.csv.gz"}
    assert sum(b.num_rows for b in it) == 90


def test_closing_a_read_early_stops_the_slice_threads(kbc: KeboolaServer) -> None:
    import threading

    it = connect(kbc).read(ORDERS, ReadOptions(batch_size=10))
    next(it)
    it.close()  # type: ignore[attr-defined]
    assert not [t for t in threading.enumerate() if t.name.startswith("agnes-keboola-slice") and t.is_alive()]


KILLED_EXTRACT = """
import sys
from agnes_core.core import AgnesCore
core = AgnesCore(sys.argv[1])
core.extracts.run("kbc_orders")
"""


def test_a_killed_extract_leaves_the_previous_one_readable_and_no_partial_file(
        tmp_path: Path, kbc: KeboolaServer) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    data = tmp_path / "data"
    core = AgnesCore(data)
    core.registry.add_source({"name": "kbc", "type": "keboola", "options": {"url": kbc.url, **FAST},
                              "secrets": {"token": TOKEN_VAR}})
    core.registry.register_table({"id": "kbc_orders", "source": "kbc", "bucket": BUCKET, "source_table": "orders",
                                  "query_mode": "local"})
    assert core.extracts.run("kbc_orders")["status"] == "succeeded"
    before = core.extracts.sync_state("kbc_orders")
    assert before is not None
    folder = Path(before["path"]).parent
    visible_before = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    core.close()

    kbc.requests.clear()
    kbc.stalled_slices.add(2)  # the third slice hangs: the extract is mid-stream when it is killed
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "server_ext"), str(root)])}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_EXTRACT, str(data)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not any(r[1].endswith("/slices/2.csv.gz") for r in list(kbc.requests)):
            assert proc.poll() is None, "the extract ended before it was killed"
            assert time.monotonic() < deadline, "the extract never reached its third slice"
            time.sleep(0.02)  # polling the server's log with a deadline
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        kbc.release.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)

    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == visible_before
    core = AgnesCore(data)
    try:
        assert core.extracts.sync_state("kbc_orders") == before
        assert pq.read_table(before["path"]).num_rows == 100
        (killed, _first) = core.extracts.runs("kbc_orders")
        assert killed["status"] == "failed"
        assert "interrupted" in killed["error"]
        kbc.stalled_slices.clear()
        assert core.extracts.run("kbc_orders")["status"] == "succeeded"
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # the dead run's temp file is gone
    finally:
        core.close()
