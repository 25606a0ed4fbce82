"""The bigquery connector against the session's emulator, through a payload server for what the
emulator does not reproduce (dry-run bytes and accuracy, TABLE_STORAGE, billing-limit and
rate-limit errors, the GCE metadata server, rejected tokens): see tests/_bigquery.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from agnes_core.connectors import ReadOptions, ScanGuard, TableRead, TableRef
from agnes_core.connectors.bigquery import BigQueryConnector
from agnes_core.connectors.bigquery import auth as bq_auth
from agnes_core.connectors.bigquery.connector import DEFAULT_MAX_BYTES_BILLED, SAMPLE_VIEW_MAX_BYTES
from agnes_core.errors import NotFound, ScanCancelled, ScanTooLarge, SourceError, ValidationError
from agnes_core.gate.limits import TIB
from tests._bigquery import Emulator, PayloadServer

ROWS = 50


@pytest.fixture(scope="module")
def dataset(bq_emulator: Emulator) -> Iterator[str]:
    """``events`` (a table of 50 rows) and ``recent`` (a view over it) in a dataset of their own."""
    name = f"bqt_{uuid.uuid4().hex[:8]}"
    bq_emulator.client().create_dataset(f"{bq_emulator.project}.{name}")
    at = f"`{bq_emulator.project}.{name}"
    bq_emulator.execute(f"CREATE TABLE {at}.events` AS SELECT x AS id, CONCAT('e', CAST(x AS STRING)) AS kind "
                        f"FROM UNNEST(GENERATE_ARRAY(1, {ROWS})) AS x")
    bq_emulator.execute(f"CREATE VIEW {at}.recent` AS SELECT id, kind FROM {at}.events` WHERE id > 40")
    yield name
    bq_emulator.drop_dataset(name)


def options(server: PayloadServer, **extra: Any) -> dict[str, Any]:
    """Through the payload server (REST; samples and reads of tables then use tabledata.list)."""
    return {"project": server.emulator.project, "endpoint": server.endpoint, "auth": "anonymous", **extra}


def query_jobs(server: PayloadServer) -> list[dict[str, Any]]:
    """The query jobs' configurations the server saw (jobs.insert bodies)."""
    return [j["configuration"] for j in server.jobs if "configuration" in j and "query" in j["configuration"]]


# -- credentials ---------------------------------------------------------------------------------


def test_anonymous_access_needs_an_emulator_endpoint() -> None:
    with pytest.raises(ValidationError) as err:
        BigQueryConnector("bq", {"project": "my-project", "auth": "anonymous"})
    assert err.value.field == "options.auth"
    assert err.value.hint


def test_no_credentials_names_every_path_tried(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("GCE_METADATA_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    connector = BigQueryConnector("bq", {"project": "my-project", "auth": "auto"})
    with pytest.raises(SourceError) as err:
        connector.test()
    assert "GCE metadata server" in err.value.message
    assert "application default credentials" in err.value.message
    assert "secrets.credentials" in (err.value.hint or "")


def _service_account_key() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "agnes-test", "private_key_id": uuid.uuid4().hex,
            "private_key": pem, "client_email": "agnes@agnes-test.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": "http://127.0.0.1:9/token"}


def test_a_key_named_by_an_env_var_comes_first_and_is_redacted(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Any) -> None:
    from google.oauth2 import service_account

    key = _service_account_key()
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key))
    monkeypatch.setenv("AGNES_TEST_BQ_KEY_JSON", json.dumps(key))
    monkeypatch.setenv("AGNES_TEST_BQ_KEY_PATH", str(path))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # would be next: never reached
    for var in ("AGNES_TEST_BQ_KEY_JSON", "AGNES_TEST_BQ_KEY_PATH"):
        connector = BigQueryConnector("bq", {"project": "agnes-test"}, {"credentials": var})
        credentials = connector._credentials()
        assert isinstance(credentials, service_account.Credentials)
        assert connector._how == f"key from ${var}"
    connector = BigQueryConnector("bq", {"project": "agnes-test"}, {"credentials": "AGNES_TEST_BQ_KEY_JSON"})
    leaked = f"boom: {key['private_key']} id={key['private_key_id']}"
    shown = connector.redact(leaked)
    assert key["private_key_id"] not in shown
    assert all(line not in shown for line in key["private_key"].splitlines() if len(line) > 16)


def test_a_broken_key_is_named_without_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGNES_TEST_BQ_BAD_KEY", '{"type": "service_account", "private_key": "s3cr3t-k3y-text"}')
    connector = BigQueryConnector("bq", {"project": "agnes-test"}, {"credentials": "AGNES_TEST_BQ_BAD_KEY"})
    with pytest.raises(SourceError) as err:
        connector.test()
    assert "$AGNES_TEST_BQ_BAD_KEY" in err.value.message
    assert "s3cr3t-k3y-text" not in f"{err.value.message} {err.value.hint} {err.value.details}"


def test_metadata_server_token_is_cached_until_near_expiry(bq_payloads: PayloadServer) -> None:
    opts = {"project": bq_payloads.emulator.project, "endpoint": bq_payloads.endpoint,
            "metadata_host": bq_payloads.metadata_host}
    first = BigQueryConnector("bq", opts)
    assert first.test()["credentials"] == f"GCE metadata server at {bq_payloads.metadata_host}"
    second = BigQueryConnector("bq", opts)
    second.test()
    assert len(bq_payloads.metadata_tokens) == 1, "a fresh token is reused by every connector"
    assert set(bq_payloads.bearer_tokens) == {bq_payloads.metadata_tokens[0]}
    # Near its expiry (the cached token's refresh time passed), a new token is fetched before use.
    cached = bq_auth._TOKENS[bq_payloads.metadata_host]
    bq_auth._TOKENS[bq_payloads.metadata_host] = dataclasses.replace(cached, refresh_at=bq_auth._utcnow())
    BigQueryConnector("bq", opts).test()
    BigQueryConnector("bq", opts).test()
    assert len(bq_payloads.metadata_tokens) == 2
    assert bq_payloads.bearer_tokens[-1] == bq_payloads.metadata_tokens[-1]


def test_a_short_lived_token_is_refreshed_at_half_its_life(bq_payloads: PayloadServer) -> None:
    bq_payloads.metadata_expires_in = 120
    token = bq_auth.metadata_token(bq_payloads.metadata_host)
    assert 55 <= (token.refresh_at - bq_auth._utcnow()).total_seconds() <= 60
    assert bq_auth.metadata_token(bq_payloads.metadata_host) is token


def test_a_rejected_token_is_refreshed_once(bq_payloads: PayloadServer) -> None:
    opts = {"project": bq_payloads.emulator.project, "endpoint": bq_payloads.endpoint,
            "metadata_host": bq_payloads.metadata_host}
    BigQueryConnector("bq", opts).test()
    expired = bq_payloads.metadata_tokens[0]
    bq_payloads.reject_token(expired)
    BigQueryConnector("bq", opts).test()
    assert len(bq_payloads.metadata_tokens) == 2
    assert bq_payloads.bearer_tokens[-1] == bq_payloads.metadata_tokens[1]


def test_a_token_refused_again_mid_extract_is_a_clear_error(bq_payloads: PayloadServer, dataset: str,
                                                            tmp_path: Any) -> None:
    from agnes_core.core import AgnesCore

    core = AgnesCore(tmp_path / "data")
    try:
        core.registry.add_source({"name": "bqauth", "type": "bigquery", "options": {
            "project": bq_payloads.emulator.project, "endpoint": bq_payloads.endpoint,
            "metadata_host": bq_payloads.metadata_host}})
        core.registry.register_table({"id": "bq_auth_events", "source": "bqauth", "bucket": dataset,
                                      "source_table": "events"})
        good = core.extracts.run("bq_auth_events")
        assert good["status"] == "succeeded", good
        files = sorted((tmp_path / "data").rglob("*.parquet"))
        minted = len(bq_payloads.metadata_tokens)
        bq_payloads.reject_every_token()  # the account was revoked: the refreshed token is refused too
        failed = core.extracts.run("bq_auth_events")
        assert failed["status"] == "failed"
        assert "credentials were rejected after one refresh (GCE metadata server at" in failed["error"]
        assert "ya29." not in failed["error"]
        assert 1 <= len(bq_payloads.metadata_tokens) - minted <= 2, "refreshed, not fetched in a loop"
        # Nothing half-written: the last good extract is still what readers see, and no temp file is left.
        assert sorted((tmp_path / "data").rglob("*.parquet")) == files
        assert not [p for p in (tmp_path / "data").rglob(".*.tmp")]
        assert core.extracts.runs("bq_auth_events")[0]["status"] == "failed"
        assert core.extracts.runs("bq_auth_events")[1]["status"] == "succeeded"
    finally:
        core.close()


def test_metadata_server_failure_names_the_host(bq_payloads: PayloadServer) -> None:
    connector = BigQueryConnector("bq", {"project": "agnes-test", "auth": "metadata_server",
                                         "metadata_host": "127.0.0.1:9"})
    with pytest.raises(SourceError) as err:
        connector.test()
    assert "127.0.0.1:9" in err.value.message
    assert err.value.hint


def test_tokens_never_show_in_errors(bq_payloads: PayloadServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    opts = {"project": bq_payloads.emulator.project, "endpoint": bq_payloads.endpoint,
            "metadata_host": bq_payloads.metadata_host}
    connector = BigQueryConnector("bq", opts)
    connector.test()
    token = bq_payloads.metadata_tokens[0]
    assert token not in connector.redact(f"Invalid Credentials for {token}")
    meta = connector.metadata(TableRef("no_such_dataset", "t"))
    assert meta is not None
    assert meta.error
    assert token not in meta.error
    assert token not in caplog.text


# -- estimates and jobs --------------------------------------------------------------------------


def test_estimate_is_a_dry_run_with_accuracy_cost_and_tables(bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.dry_run_bytes(3 * TIB, "UPPER_BOUND")
    connector = BigQueryConnector("bq", options(bq_payloads, price_per_tib_usd=5.0))
    ref = TableRef(dataset, "events")
    est = connector.estimate(f"SELECT kind FROM `{dataset}`.`events`", [TableRead(ref, {"kind"}, [[]])])
    assert est.scan_bytes == 3 * TIB
    assert est.method == "BigQuery dry run (upper_bound)"
    assert {"table": f"{dataset}.events", "referenced": True} in est.tables
    figures = next(t for t in est.tables if t["table"] == "(query)")
    assert (figures["accuracy"], figures["cost_usd"]) == ("UPPER_BOUND", 15.0)
    (job,) = query_jobs(bq_payloads)
    assert job["dryRun"] is True
    assert job["query"]["useQueryCache"] is False


def test_a_failed_dry_run_refuses_the_query(bq_payloads: PayloadServer, dataset: str) -> None:
    connector = BigQueryConnector("bq", options(bq_payloads))
    with pytest.raises(ValidationError) as err:
        connector.estimate(f"SELECT no_such_column FROM `{dataset}`.`events`", [])
    assert err.value.hint
    assert all(job.get("dryRun") for job in query_jobs(bq_payloads)), "nothing but the dry run was sent"


def test_every_job_carries_the_cap_labels_and_prefix(bq_payloads: PayloadServer, dataset: str) -> None:
    connector = BigQueryConnector("bq", options(bq_payloads, maximum_bytes_billed=8 * 1024**3))
    ref = TableRef(dataset, "events")
    guard = ScanGuard("scan123", 60.0, username="Ann.Analyst@Example.com", max_bytes=2 * 1024**3)
    rows = sum(b.num_rows for b in connector.scan(f"SELECT * FROM `{dataset}`.`events`", tables=[ref], guard=guard))
    assert rows == ROWS
    list(connector.read(TableRef(dataset, "recent"), ReadOptions()))  # a view: read through a query job
    scan_job, view_job = [j for j in bq_payloads.jobs if not j["configuration"].get("dryRun")]
    assert scan_job["configuration"]["query"]["maximumBytesBilled"] == str(2 * 1024**3)
    assert scan_job["configuration"]["labels"] == {"agnes_source": "bq", "agnes_user": "ann_analyst_example_com",
                                                   "agnes_scan_id": "scan123", "agnes_table": "events"}
    assert scan_job["jobReference"]["jobId"].startswith("agnes_scan123_")
    assert view_job["configuration"]["query"]["maximumBytesBilled"] == str(8 * 1024**3)
    assert view_job["configuration"]["labels"]["agnes_table"] == "recent"
    assert view_job["jobReference"]["jobId"].startswith("agnes_")
    assert connector.job_statistics is not None
    assert set(connector.job_statistics) >= {"bytes_processed", "bytes_billed", "cache_hit"}


def test_the_default_cap_is_the_gates_per_scan_cap(bq_payloads: PayloadServer, dataset: str) -> None:
    connector = BigQueryConnector("bq", options(bq_payloads))
    list(connector.scan(f"SELECT 1 AS one FROM `{dataset}`.`events` LIMIT 1"))
    (job,) = query_jobs(bq_payloads)
    assert job["query"]["maximumBytesBilled"] == str(DEFAULT_MAX_BYTES_BILLED)
    limited = BigQueryConnector("bq", options(bq_payloads, limits={"scan_max_bytes": 1234567}))
    list(limited.scan(f"SELECT 1 AS one FROM `{dataset}`.`events` LIMIT 1"))
    assert query_jobs(bq_payloads)[-1]["query"]["maximumBytesBilled"] == "1234567"


def test_a_job_over_its_byte_limit_is_scan_too_large(bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.refuse_for_bytes_billed(1_000_000, 10_485_760)
    connector = BigQueryConnector("bq", options(bq_payloads, maximum_bytes_billed=1_000_000))
    with pytest.raises(ScanTooLarge) as err:
        list(connector.scan(f"SELECT * FROM `{dataset}`.`events`"))
    assert err.value.code == "scan_too_large"
    assert err.value.status == 400
    assert (err.value.details["maximum_bytes_billed"], err.value.details["bytes_needed"]) == (1_000_000, 10_485_760)
    assert err.value.hint


def test_rate_limits_are_retried_with_back_off(bq_payloads: PayloadServer) -> None:
    bq_payloads.rate_limit(2)
    connector = BigQueryConnector("bq", options(bq_payloads))
    connector.test()
    listed = [r for r in bq_payloads.requests if r[0] == "GET" and r[1].endswith("/datasets")]
    assert len(listed) == 3


def test_a_rate_limit_that_lasts_ends_with_a_hint(bq_payloads: PayloadServer) -> None:
    bq_payloads.rate_limit(10_000, status=429)
    connector = BigQueryConnector("bq", options(bq_payloads, retry_seconds=1))
    with pytest.raises(SourceError) as err:
        connector.test()
    assert err.value.details["kind"] == "rate_limit"
    assert "Try again" in (err.value.hint or "")
    assert sum(1 for r in bq_payloads.requests if r[1].endswith("/datasets")) > 1


def test_cancelling_cancels_the_job(bq_payloads: PayloadServer, dataset: str) -> None:
    connector = BigQueryConnector("bq", options(bq_payloads))
    batches = connector.scan(f"SELECT * FROM `{dataset}`.`events`", guard=ScanGuard("cancelme", 60.0))
    connector.interrupt()
    with pytest.raises(ScanCancelled):
        list(batches)
    assert len(query_jobs(bq_payloads)) == 1
    cancels = [path for method, path in bq_payloads.requests if method == "POST" and path.endswith("/cancel")]
    assert len(cancels) == 1
    assert "agnes_cancelme_" in cancels[0]


# -- previews, views and tables, discovery -----------------------------------------------------------


def test_a_table_preview_runs_no_job(bq_payloads: PayloadServer, bq_emulator: Emulator, dataset: str) -> None:
    rest = BigQueryConnector("bq", options(bq_payloads))
    sample = rest.sample(TableRef(dataset, "events"), 5)
    assert sample.num_rows == 5
    assert sample.schema.names == ["id", "kind"]
    assert any(path.endswith("/tables/events/data") for _, path in bq_payloads.requests)
    storage = BigQueryConnector("bq", options(bq_payloads, storage_endpoint=bq_emulator.grpc_endpoint))
    assert storage.sample(TableRef(dataset, "events"), 7).num_rows == 7
    assert bq_payloads.jobs == []


def test_a_view_preview_dry_runs_first_under_a_small_cap(bq_payloads: PayloadServer, dataset: str) -> None:
    connector = BigQueryConnector("bq", options(bq_payloads))
    sample = connector.sample(TableRef(dataset, "recent"), 3)
    assert sample.num_rows == 3
    assert b"dry run" in (sample.schema.metadata or {}).get(b"agnes_sample", b"")
    dry, run = query_jobs(bq_payloads)
    assert dry["dryRun"] is True
    assert "dryRun" not in run or not run["dryRun"]
    assert run["query"]["maximumBytesBilled"] == str(SAMPLE_VIEW_MAX_BYTES)


def test_a_view_preview_over_the_cap_is_refused_before_running(bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.dry_run_bytes(SAMPLE_VIEW_MAX_BYTES + 1)
    connector = BigQueryConnector("bq", options(bq_payloads))
    with pytest.raises(ScanTooLarge) as err:
        connector.sample(TableRef(dataset, "recent"), 3)
    assert err.value.hint
    assert all(job.get("dryRun") for job in query_jobs(bq_payloads))


def test_views_and_tables_are_told_apart(bq_payloads: PayloadServer, dataset: str) -> None:
    connector = BigQueryConnector("bq", options(bq_payloads, datasets=[dataset]))
    found = {t.name: t.entity_type for t in connector.discover()}
    assert found == {"events": "table", "recent": "view"}
    table = connector.metadata(TableRef(dataset, "events"))
    view = connector.metadata(TableRef(dataset, "recent"))
    assert table is not None
    assert view is not None
    assert (table.entity_type, table.rows) == ("table", ROWS)
    assert (view.entity_type, view.rows) == ("view", None)


def test_a_tables_read_pushes_projection_and_filter_to_the_storage_api(bq_payloads: PayloadServer,
                                                                        bq_emulator: Emulator, dataset: str) -> None:
    connector = BigQueryConnector("bq", options(bq_payloads, storage_endpoint=bq_emulator.grpc_endpoint))
    batches = list(connector.read(TableRef(dataset, "events"), ReadOptions(columns=["kind"], filter="id <= 5")))
    assert sum(b.num_rows for b in batches) == 5
    assert all(b.schema.names == ["kind"] for b in batches)
    assert bq_payloads.jobs == [], "a table is read through a read session, not a query job"


# -- metadata ------------------------------------------------------------------------------------


def test_metadata_is_one_query_per_dataset(bq_payloads: PayloadServer) -> None:
    ds = f"meta_{uuid.uuid4().hex[:8]}"
    rows = [{"table_name": f"t{i}", "table_type": "BASE TABLE", "total_rows": 1000 * i,
             "total_logical_bytes": 8000 * i, "total_physical_bytes": 3000 * i,
             "description": '"Daily events"' if i == 1 else None,
             "partition_columns": "event_date" if i == 1 else None, "clustering_columns": "country,kind" if i == 1
             else None, "column_names": "event_date,country,kind", "partitions": 30 if i == 1 else None,
             "min_partition": "20260101" if i == 1 else None, "max_partition": "20260130" if i == 1 else None,
             "last_modified": dt.datetime(2026, 11, 30, 8, i, tzinfo=dt.timezone.utc)}
            for i in range(1, 4)]
    bq_payloads.table_storage(rows)
    connector = BigQueryConnector("bq", options(bq_payloads))
    metas = [connector.metadata(TableRef(ds, f"t{i}")) for i in range(1, 4)]
    storage_jobs = [j for j in query_jobs(bq_payloads) if "TABLE_STORAGE" in j["query"]["query"]]
    assert len(storage_jobs) == 1
    assert "`region-us`.INFORMATION_SCHEMA.TABLE_STORAGE" in storage_jobs[0]["query"]["query"]
    assert not [p for _, p in bq_payloads.requests if f"/datasets/{ds}/tables/" in p], "no tables.get"
    first = metas[0]
    assert first is not None
    assert (first.rows, first.size_bytes, first.uncompressed_bytes) == (1000, 3000, 8000)
    assert (first.partition_by, first.clustered_by) == (["event_date"], ["country", "kind"])
    assert (first.entity_type, first.description) == ("partitioned_table", "Daily events")
    assert first.examples == {"event_date": "20260130"}
    assert first.changed_at == dt.datetime(2026, 11, 30, 8, 1, tzinfo=dt.timezone.utc)  # storage_last_modified_time
    assert [m.rows for m in metas if m is not None] == [1000, 2000, 3000]


def test_metadata_falls_back_to_tables_get(bq_payloads: PayloadServer, dataset: str) -> None:
    connector = BigQueryConnector(f"bq_{uuid.uuid4().hex[:6]}", options(bq_payloads))
    meta = connector.metadata(TableRef(dataset, "events"))
    assert meta is not None
    assert meta.error is None
    assert meta.rows == ROWS
    assert meta.known_columns == ["id", "kind"]
    table = bq_payloads.emulator.client().get_table(f"{bq_payloads.emulator.project}.{dataset}.events")
    assert table.modified is not None, "the emulator reports lastModifiedTime"
    assert meta.changed_at == table.modified
    assert connector.schema(TableRef(dataset, "events")).metadata[b"agnes.source_changed_at"] == (
        table.modified.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds").encode())
    queries = [j["query"]["query"] for j in query_jobs(bq_payloads)]
    assert any("TABLE_STORAGE" in q for q in queries)
    assert any("__TABLES__" in q for q in queries)


def test_metadata_uses_tables_sizes_when_table_storage_is_missing(bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.table_storage([{"table_name": "events", "type": 1, "row_count": ROWS, "size_bytes": 4096}],
                              views=("__TABLES__",))
    meta = BigQueryConnector(f"bq_{uuid.uuid4().hex[:6]}", options(bq_payloads)).metadata(TableRef(dataset, "events"))
    assert meta is not None
    assert (meta.rows, meta.size_bytes) == (ROWS, 4096)


# -- errors --------------------------------------------------------------------------------------


def test_unknown_project_dataset_and_table_are_not_found(bq_payloads: PayloadServer, dataset: str) -> None:
    connector = BigQueryConnector("bq", options(bq_payloads))
    for ref in (TableRef(dataset, "no_such_table"), TableRef("no_such_dataset", "events")):
        with pytest.raises(NotFound) as err:
            connector.schema(ref)
        assert err.value.hint
    other = BigQueryConnector("bq", options(bq_payloads, project="no-such-project"))
    with pytest.raises(NotFound):
        other.schema(TableRef(dataset, "events"))


def test_a_view_over_a_table_the_account_cannot_read_is_a_permission_error(bq_payloads: PayloadServer,
                                                                           dataset: str) -> None:
    bq_payloads.deny_table(dataset, "events", through=(f"{dataset}.recent",))
    connector = BigQueryConnector("bq", options(bq_payloads))
    with pytest.raises(SourceError) as sampled:
        connector.sample(TableRef(dataset, "recent"), 3)  # the view's preview: its dry run is refused
    assert not [j for j in query_jobs(bq_payloads) if not j.get("dryRun")], "no query ran after the refused dry run"
    with pytest.raises(SourceError) as scanned:
        list(connector.scan(f"SELECT id FROM `{dataset}`.`recent`"))
    for err in (sampled.value, scanned.value):
        assert err.details["kind"] == "permission"
        assert f"{dataset}.events" in err.message
        assert "permission denied" in err.message
        assert "roles/bigquery.dataViewer" in (err.hint or "")


def test_a_query_error_is_a_validation_error_with_a_hint(bq_payloads: PayloadServer, dataset: str) -> None:
    connector = BigQueryConnector("bq", options(bq_payloads))
    with pytest.raises(ValidationError) as err:
        list(connector.scan(f"SELECT no_such_column FROM `{dataset}`.`events`"))
    assert "GoogleSQL" in (err.value.hint or "")


# -- through the gate ----------------------------------------------------------------------------


@pytest.fixture
def gated(bq_payloads: PayloadServer, dataset: str, tmp_path: Any) -> Iterator[Any]:
    """A core with source ``bqgate`` (through the payload server), remote table ``bq_events``, a
    50,000-byte daily budget and dry runs of 2,000 bytes."""
    import dataclasses as dc

    from agnes_core.core import AgnesCore
    from agnes_core.gate.limits import Limits

    core = AgnesCore(tmp_path / "data")
    try:
        core.registry.add_source({"name": "bqgate", "type": "bigquery", "options": options(bq_payloads)})
        core.registry.register_table({"id": "bq_events", "source": "bqgate", "bucket": dataset,
                                      "source_table": "events", "query_mode": "remote"})
        core.settings.limits = dc.replace(Limits(), daily_scan_bytes_per_user=50_000, scan_confirm_bytes=40_000)
        bq_payloads.dry_run_bytes(2_000)
        yield core
    finally:
        core.close()



def _ann() -> Any:
    from agnes_core.access.principals import Principal

    return Principal("ann", "Ann", frozenset({"Everyone"}), is_admin=True)


def _run_scan(core: Any, sql: str) -> tuple[str, int]:
    run = core.scans.start(_ann(), {"sql": sql})
    run.open()
    rows = 0
    while (batch := run.next_batch()) is not None:
        rows += batch.num_rows
    run.finish("succeeded")
    return run.scan_id, rows


def test_a_gated_scan_bills_at_most_the_budget_left(bq_payloads: PayloadServer, gated: Any) -> None:
    est = gated.scans.estimate(_ann(), {"sql": "SELECT kind FROM bq_events"})
    assert (est["scan_bytes"], est["method"]) == (2_000, "BigQuery dry run (precise)")
    _, rows = _run_scan(gated, "SELECT kind FROM bq_events")
    assert rows == ROWS
    (job,) = [j for j in query_jobs(bq_payloads) if not j.get("dryRun")]
    assert job["query"]["maximumBytesBilled"] == "50000"  # the budget left, under the 5 GiB cap
    assert job["labels"]["agnes_user"] == "ann"
    assert job["labels"]["agnes_table"] == "events"


def test_the_budget_is_charged_with_the_bytes_billed(bq_payloads: PayloadServer, gated: Any) -> None:
    bq_payloads.job_billing(processed=1_500, billed=10_485_760)  # BigQuery bills at least 10 MB a table
    scan_id, _ = _run_scan(gated, "SELECT kind FROM bq_events")
    record = gated.scans.get(_ann(), scan_id)
    assert (record["estimated_bytes"], record["processed_bytes"], record["billed_bytes"]) == (2_000, 1_500, 10_485_760)
    assert (record["scanned_bytes"], record["scanned_bytes_origin"], record["cache_hit"]) == (10_485_760, "billed",
                                                                                             False)
    assert record["source_job_id"].startswith(f"agnes_{scan_id}_")
    assert gated.scans.used_today("ann") == 10_485_760  # the 2,000 reserved, corrected to what was billed
    (entry,) = [e for e in gated.audit.entries(action="scan.run") if e["resource"] == f"scan/{scan_id}"]
    assert (entry["details"]["billed_bytes"], entry["details"]["scanned_bytes_origin"]) == (10_485_760, "billed")


def test_a_cache_hit_gives_the_reservation_back(bq_payloads: PayloadServer, gated: Any) -> None:
    bq_payloads.job_billing(processed=0, billed=0, cache_hit=True)
    scan_id, rows = _run_scan(gated, "SELECT kind FROM bq_events")
    record = gated.scans.get(_ann(), scan_id)
    assert rows == ROWS
    assert (record["scanned_bytes"], record["billed_bytes"], record["cache_hit"]) == (0, 0, True)
    assert gated.scans.used_today("ann") == 0


def test_without_job_statistics_the_estimate_is_charged(gated: Any) -> None:
    scan_id, _ = _run_scan(gated, "SELECT kind FROM bq_events")  # the emulator reports no billed bytes
    record = gated.scans.get(_ann(), scan_id)
    assert (record["scanned_bytes"], record["scanned_bytes_origin"], record["billed_bytes"]) == (2_000, "estimate",
                                                                                                 None)
    assert record["source_job_id"].startswith("agnes_")
    assert gated.scans.used_today("ann") == 2_000
