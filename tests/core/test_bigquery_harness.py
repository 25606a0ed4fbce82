"""The BigQuery test harness itself (tests/_bigquery.py), through the official client library:
the emulator starts, loads and queries; the payload server answers its overrides with the
documented payloads and forwards everything else to the emulator unchanged."""

from __future__ import annotations

import json
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from google.api_core import exceptions
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_RETRY

from tests._bigquery import Emulator, EmulatorError, PayloadServer, bytes_billed_message

#: The library's own retry policy, with short delays so a retried test does not wait seconds.
FAST_RETRY = DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05)


@pytest.fixture
def dataset(bq_emulator: Emulator) -> Iterator[str]:
    """A dataset of this test's own, with an ``items`` table (5 rows); dropped afterwards."""
    name = f"harness_{secrets.token_hex(4)}"
    bq_emulator.load(name, "items", pa.table({"id": [1, 2, 3, 4, 5], "kind": ["a", "b", "a", "c", "a"],
                                              "price": [1.5, 2.0, 2.5, 3.0, 3.5]}))
    yield name
    bq_emulator.drop_dataset(name)


def _reason(exc: exceptions.GoogleAPICallError) -> str:
    return str(exc.errors[0]["reason"]) if exc.errors else ""


# --- the emulator -----------------------------------------------------------------------------------


def test_emulator_loads_an_arrow_table_and_answers_queries_over_it(bq_emulator: Emulator, dataset: str) -> None:
    client = bq_emulator.client()
    rows = list(client.query_and_wait(
        f"SELECT kind, count(*) AS n, sum(price) AS total FROM `{bq_emulator.project}.{dataset}.items` "
        "GROUP BY kind ORDER BY kind"))
    assert [(r["kind"], r["n"], r["total"]) for r in rows] == [("a", 3, 7.5), ("b", 1, 2.0), ("c", 1, 3.0)]
    table = client.get_table(f"{bq_emulator.project}.{dataset}.items")
    assert table.table_type == "TABLE"
    assert [(f.name, f.field_type) for f in table.schema] == [("id", "INT64"), ("kind", "STRING"),
                                                              ("price", "FLOAT64")]
    assert [r["id"] for r in client.list_rows(table)] == [1, 2, 3, 4, 5]


def test_emulator_runs_ddl_and_reports_a_view_as_a_view(bq_emulator: Emulator, dataset: str) -> None:
    view = f"{bq_emulator.project}.{dataset}.cheap"
    bq_emulator.execute(f"CREATE VIEW `{view}` AS SELECT id FROM `{bq_emulator.project}.{dataset}.items` "
                        "WHERE price < 2.2")
    client = bq_emulator.client()
    assert client.get_table(view).table_type == "VIEW"
    assert sorted(r["id"] for r in client.query_and_wait(f"SELECT id FROM `{view}`")) == [1, 2]


def test_emulator_is_found_at_its_endpoint_by_a_client_of_its_own(bq_emulator: Emulator) -> None:
    with urllib.request.urlopen(f"{bq_emulator.endpoint}/readyz", timeout=10) as resp:
        assert json.loads(resp.read())["status"] == "ok"
    assert bq_emulator.endpoint.startswith("http://127.0.0.1:")
    assert bq_emulator.client().project == bq_emulator.project


def test_an_emulator_that_cannot_start_fails_with_its_reason(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        emulator = Emulator(root=tmp_path, rest_port=taken.getsockname()[1])
        with pytest.raises(EmulatorError, match="bqemulator exited with") as info:
            emulator.start()
    assert "address already in use" in str(info.value).lower()  # the emulator's log, in the message
    assert emulator.proc is not None
    assert emulator.proc.poll() is not None


# --- the payload server: forwarding ------------------------------------------------------------------


def test_payload_server_forwards_what_it_does_not_override_and_records_each_call(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    client = bq_payloads.client()
    table = client.get_table(f"{bq_emulator.project}.{dataset}.items")
    assert table.num_rows == 5
    rows = client.query_and_wait(f"SELECT max(id) AS top FROM `{bq_emulator.project}.{dataset}.items`")
    assert [r["top"] for r in rows] == [5]
    path = f"/bigquery/v2/projects/{bq_emulator.project}/datasets/{dataset}/tables/items"
    assert ("GET", path) in bq_payloads.requests
    assert any(m == "POST" and p.startswith(f"/bigquery/v2/projects/{bq_emulator.project}/")
               for m, p in bq_payloads.requests)
    assert bq_payloads.jobs[-1]["query"].startswith("SELECT max(id)")


def test_payload_server_forwards_errors_of_the_emulator_unchanged(
        bq_emulator: Emulator, bq_payloads: PayloadServer) -> None:
    with pytest.raises(exceptions.NotFound):
        bq_payloads.client().get_table(f"{bq_emulator.project}.no_such_dataset_{secrets.token_hex(3)}.t")


# --- dry runs -----------------------------------------------------------------------------------------


def test_dry_run_reports_the_set_bytes_and_accuracy_and_the_emulator_its_own_otherwise(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    client = bq_payloads.client()
    sql = f"SELECT kind FROM `{bq_emulator.project}.{dataset}.items`"
    config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
    assert client.query(sql, job_config=config).total_bytes_processed == 0  # the emulator's figure
    bq_payloads.dry_run_bytes(123_456_789, "UPPER_BOUND")
    job = client.query(sql, job_config=config)
    assert job.total_bytes_processed == 123_456_789
    assert job.total_bytes_billed == 0
    assert job.cache_hit is False
    stats = job._properties["statistics"]
    assert stats["totalBytesProcessed"] == "123456789"  # int64 as a JSON string, as documented
    assert stats["query"]["totalBytesProcessedAccuracy"] == "UPPER_BOUND"
    sent = bq_payloads.jobs[-1]["configuration"]
    assert sent["dryRun"] is True
    assert sent["query"]["useQueryCache"] is False


def test_dry_run_of_a_bad_query_is_still_refused_by_the_emulator(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.dry_run_bytes(1_000)
    with pytest.raises(exceptions.GoogleAPICallError):
        bq_payloads.client().query(f"SELECT no_such_column FROM `{bq_emulator.project}.{dataset}.items`",
                                   job_config=bigquery.QueryJobConfig(dry_run=True))


def test_dry_run_accuracy_must_be_a_documented_value(bq_payloads: PayloadServer) -> None:
    with pytest.raises(ValueError, match="totalBytesProcessedAccuracy"):
        bq_payloads.dry_run_bytes(1, "ROUGHLY")


# --- TABLE_STORAGE and __TABLES__ ----------------------------------------------------------------------

STORAGE_ROWS = [
    {"table_schema": "shop", "table_name": "orders", "table_type": "BASE TABLE", "total_rows": 1_000,
     "total_logical_bytes": 64_000, "total_physical_bytes": 21_000, "deleted": False},
    {"table_schema": "shop", "table_name": "lines", "table_type": "BASE TABLE", "total_rows": 5_000,
     "total_logical_bytes": 320_000, "total_physical_bytes": None, "deleted": False},
]


def test_table_storage_query_answers_the_rows_through_jobs_query(
        bq_emulator: Emulator, bq_payloads: PayloadServer) -> None:
    bq_payloads.table_storage(STORAGE_ROWS)
    rows = list(bq_payloads.client().query_and_wait(
        f"SELECT * FROM `{bq_emulator.project}.region-us.INFORMATION_SCHEMA.TABLE_STORAGE` "
        "WHERE table_schema = 'shop'"))
    assert [dict(r.items()) for r in rows] == STORAGE_ROWS


def test_table_storage_query_answers_the_rows_through_a_job_and_its_results(
        bq_emulator: Emulator, bq_payloads: PayloadServer) -> None:
    bq_payloads.table_storage(STORAGE_ROWS)
    job = bq_payloads.client().query("SELECT * FROM `region-us`.INFORMATION_SCHEMA.TABLE_STORAGE")
    result = job.result()
    assert [(r["table_name"], r["total_rows"]) for r in result] == [("orders", 1_000), ("lines", 5_000)]
    assert job.total_bytes_billed == 0
    arrow = bq_payloads.client().query(
        "SELECT * FROM `region-us`.INFORMATION_SCHEMA.TABLE_STORAGE").to_arrow(create_bqstorage_client=False)
    assert arrow.column("total_logical_bytes").to_pylist() == [64_000, 320_000]


def test_tables_fallback_can_be_answered_alone_while_table_storage_fails_in_the_emulator(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    tables_rows = [{"project_id": bq_emulator.project, "dataset_id": dataset, "table_id": "items",
                    "row_count": 5, "size_bytes": 120, "type": 1}]
    bq_payloads.table_storage(tables_rows, views=("__TABLES__",))
    client = bq_payloads.client()
    with pytest.raises(exceptions.GoogleAPICallError):
        client.query_and_wait("SELECT * FROM `region-us`.INFORMATION_SCHEMA.TABLE_STORAGE")
    rows = client.query_and_wait(f"SELECT * FROM `{bq_emulator.project}.{dataset}.__TABLES__`")
    assert [dict(r.items()) for r in rows] == tables_rows


def test_without_the_override_table_storage_is_the_emulators_error(
        bq_emulator: Emulator, bq_payloads: PayloadServer) -> None:
    with pytest.raises(exceptions.GoogleAPICallError):
        bq_payloads.client().query_and_wait("SELECT * FROM `region-us`.INFORMATION_SCHEMA.TABLE_STORAGE")


# --- the billing limit ----------------------------------------------------------------------------------


def test_refused_for_bytes_billed_through_jobs_query_is_the_documented_400(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.refuse_for_bytes_billed(limit=1_000_000, needed=10_485_760)
    config = bigquery.QueryJobConfig(maximum_bytes_billed=1_000_000)
    with pytest.raises(exceptions.BadRequest) as info:
        bq_payloads.client().query_and_wait(f"SELECT * FROM `{bq_emulator.project}.{dataset}.items`",
                                            job_config=config)
    assert _reason(info.value) == "bytesBilledLimitExceeded"
    assert "Query exceeded limit for bytes billed: 1000000. 10485760 or higher required." in info.value.message
    assert bq_payloads.jobs[-1]["maximumBytesBilled"] == "1000000"


def test_refused_for_bytes_billed_through_jobs_insert_fails_the_job(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.refuse_for_bytes_billed(limit=2_048, needed=10_485_760)
    config = bigquery.QueryJobConfig(maximum_bytes_billed=2_048, labels={"agnes_user": "ann"})
    job = bq_payloads.client().query(f"SELECT * FROM `{bq_emulator.project}.{dataset}.items`", job_config=config,
                                     job_id_prefix="agnes_")
    # The library maps a job's errorResult by its reason; it has no entry for this one, so the
    # exception class is its default (500) — the reason and message are what identify it.
    with pytest.raises(exceptions.GoogleAPICallError) as info:
        job.result()
    assert _reason(info.value) == "bytesBilledLimitExceeded"
    assert bytes_billed_message(2_048, 10_485_760) in info.value.message
    assert job.error_result is not None
    assert job.error_result["reason"] == "bytesBilledLimitExceeded"
    sent = bq_payloads.jobs[-1]
    assert sent["jobReference"]["jobId"].startswith("agnes_")
    assert sent["configuration"]["query"]["maximumBytesBilled"] == "2048"
    assert sent["configuration"]["labels"] == {"agnes_user": "ann"}


def test_dry_runs_are_not_refused_for_bytes_billed(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.refuse_for_bytes_billed(limit=1, needed=10_485_760)
    job = bq_payloads.client().query(f"SELECT id FROM `{bq_emulator.project}.{dataset}.items`",
                                     job_config=bigquery.QueryJobConfig(dry_run=True))
    assert job.state == "DONE"
    assert job.error_result is None


# --- rate limits ---------------------------------------------------------------------------------------


def test_rate_limited_calls_answer_403_rate_limit_exceeded_then_pass_through(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.rate_limit(1)
    client = bq_payloads.client()
    with pytest.raises(exceptions.Forbidden) as info:
        client.get_dataset(f"{bq_emulator.project}.{dataset}", retry=None)
    assert _reason(info.value) == "rateLimitExceeded"
    assert info.value.errors[0]["domain"] == "usageLimits"
    assert client.get_dataset(f"{bq_emulator.project}.{dataset}", retry=None).dataset_id == dataset


def test_the_client_library_retries_rate_limits_and_the_server_counts_the_round_trips(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.rate_limit(2, status=429)
    client = bq_payloads.client()
    assert client.get_dataset(f"{bq_emulator.project}.{dataset}", retry=FAST_RETRY).dataset_id == dataset
    path = f"/bigquery/v2/projects/{bq_emulator.project}/datasets/{dataset}"
    assert bq_payloads.requests.count(("GET", path)) == 3


# --- tokens --------------------------------------------------------------------------------------------


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def test_metadata_server_hands_out_a_fresh_token_only_with_the_metadata_flavor_header(
        bq_payloads: PayloadServer) -> None:
    url = f"http://{bq_payloads.metadata_host}/computeMetadata/v1/instance/service-accounts/default/token"
    status, _, _ = _get(url, {})
    assert status == 403
    assert bq_payloads.metadata_tokens == []
    bq_payloads.metadata_expires_in = 120
    status, headers, body = _get(url, {"Metadata-Flavor": "Google"})
    first: dict[str, Any] = json.loads(body)
    assert status == 200
    assert headers["Metadata-Flavor"] == "Google"
    assert first == {"access_token": bq_payloads.metadata_tokens[0], "expires_in": 120, "token_type": "Bearer"}
    second = json.loads(_get(url, {"Metadata-Flavor": "Google"})[2])
    assert second["access_token"] != first["access_token"]
    assert bq_payloads.metadata_tokens == [first["access_token"], second["access_token"]]


def test_google_auth_compute_engine_credentials_refresh_from_the_fake_metadata_server(
        bq_payloads: PayloadServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth.transport.requests
    from google.auth import compute_engine
    from google.auth.compute_engine import _metadata

    # google-auth reads $GCE_METADATA_HOST once, when it is imported: set what it read.
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", bq_payloads.metadata_host)
    credentials = compute_engine.Credentials()  # type: ignore[no-untyped-call]
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token == bq_payloads.metadata_tokens[-1]
    assert credentials.expiry is not None


def test_a_rejected_token_is_answered_401_auth_error_and_others_pass(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.reject_token("ya29.expired")
    url = f"{bq_payloads.endpoint}/bigquery/v2/projects/{bq_emulator.project}/datasets/{dataset}"
    status, _, body = _get(url, {"Authorization": "Bearer ya29.expired"})
    assert status == 401
    error = json.loads(body)["error"]
    assert (error["code"], error["status"], error["errors"][0]["reason"]) == (401, "UNAUTHENTICATED", "authError")
    assert _get(url, {"Authorization": "Bearer ya29.fresh"})[0] == 200
    assert bq_payloads.bearer_tokens == ["ya29.expired", "ya29.fresh"]


def test_every_token_refused_answers_401_to_fresh_tokens_too(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    bq_payloads.reject_every_token()
    url = f"{bq_payloads.endpoint}/bigquery/v2/projects/{bq_emulator.project}/datasets/{dataset}"
    for token in ("ya29.old", f"ya29.{secrets.token_hex(4)}"):
        status, _, body = _get(url, {"Authorization": f"Bearer {token}"})
        assert (status, json.loads(body)["error"]["errors"][0]["reason"]) == (401, "authError")


def test_a_denied_table_refuses_queries_naming_it_or_its_view_with_access_denied(
        bq_emulator: Emulator, bq_payloads: PayloadServer, dataset: str) -> None:
    at = f"`{bq_emulator.project}.{dataset}"
    bq_emulator.execute(f"CREATE TABLE {at}.secret` AS SELECT 1 AS id")
    bq_emulator.execute(f"CREATE VIEW {at}.open_view` AS SELECT id FROM {at}.secret`")
    bq_payloads.deny_table(dataset, "secret", through=(f"{dataset}.open_view",))
    client = bq_payloads.client()
    for sql in (f"SELECT id FROM {at}.secret`", f"SELECT id FROM {at}.open_view`"):
        with pytest.raises(exceptions.Forbidden) as err:
            client.query(sql, api_method="QUERY").result()
        assert _reason(err.value) == "accessDenied"
        assert f"Access Denied: Table {bq_emulator.project}:{dataset}.secret" in err.value.message
    bq_emulator.execute(f"CREATE TABLE {at}.public` AS SELECT 2 AS id")
    assert [r.id for r in client.query(f"SELECT id FROM {at}.public`").result()] == [2]
