"""The bigquery connector in the conformance suite, against the session's bqemulator (official
clients: REST for jobs and metadata, the Storage Read API over gRPC for reads)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from agnes_core.connectors import TableRef
from agnes_core.connectors.bigquery import BigQueryConnector
from tests._bigquery import Emulator

from .conformance import ConnectorConformance, Subject

ROWS = 100
#: A made-up key's private part: it must never show in an error, a log line or metadata.
FAKE_KEY_TEXT = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw-agnes-fake-key-" + "Zq9" * 8


def emulator_options(emulator: Emulator, **extra: Any) -> dict[str, Any]:
    return {"project": emulator.project, "endpoint": emulator.endpoint, "storage_endpoint": emulator.grpc_endpoint,
            "auth": "anonymous", **extra}


@pytest.fixture(scope="module")
def bq_dataset(bq_emulator: Emulator) -> Iterator[str]:
    """A dataset of its own: ``increments`` (ids 1..100), ``orders`` (described) and a view."""
    from google.cloud import bigquery

    dataset = f"conf_{uuid.uuid4().hex[:8]}"
    client = bq_emulator.client()
    client.create_dataset(f"{bq_emulator.project}.{dataset}")
    at = f"`{bq_emulator.project}.{dataset}"
    bq_emulator.execute(f"CREATE TABLE {at}.increments` AS SELECT x AS id, CONCAT('v', CAST(x AS STRING)) AS v "
                        f"FROM UNNEST(GENERATE_ARRAY(1, {ROWS})) AS x")
    rows = [("new", 1.5), ("paid", 2.0), ("sent", 3.25), ("paid", 4.0), ("new", 5.0), ("sent", 6.5)]
    bq_emulator.execute(f"CREATE TABLE {at}.orders` AS " + " UNION ALL ".join(
        f"SELECT '{status}' AS status, {amount} AS amount" for status, amount in rows))
    orders = client.get_table(f"{bq_emulator.project}.{dataset}.orders")
    orders.description = "Orders from the shop"
    orders.schema = [bigquery.SchemaField("status", "STRING"),
                     bigquery.SchemaField("amount", "FLOAT", description="Amount in EUR")]
    client.update_table(orders, ["description", "schema"])
    bq_emulator.execute(f"CREATE VIEW `{bq_emulator.project}.{dataset}.paid` AS "
                        f"SELECT * FROM `{bq_emulator.project}.{dataset}.orders` WHERE status = 'paid'")
    yield dataset
    bq_emulator.drop_dataset(dataset)


class TestBigQueryConformance(ConnectorConformance):
    @pytest.fixture
    def subject(self, bq_emulator: Emulator, bq_dataset: str, monkeypatch: pytest.MonkeyPatch) -> Subject:
        wrong_key = {"type": "service_account", "project_id": bq_emulator.project, "private_key_id": "k" * 40,
                     "private_key": f"-----BEGIN PRIVATE KEY-----\n{FAKE_KEY_TEXT}\n-----END PRIVATE KEY-----\n",
                     "client_email": "nobody@agnes-test.iam.gserviceaccount.com",
                     "token_uri": "https://oauth2.googleapis.com/token"}
        monkeypatch.setenv("AGNES_TEST_BQ_WRONG_KEY", json.dumps(wrong_key))
        options = emulator_options(bq_emulator)
        wrong = {**options, "auth": "key"}
        unreachable = {"project": bq_emulator.project, "endpoint": "http://127.0.0.1:9", "auth": "anonymous",
                       "retry_seconds": 1}
        return Subject(
            make=lambda: BigQueryConnector("bq", options),
            table=TableRef(bq_dataset, "increments"),
            rows=ROWS,
            columns=["id", "v"],
            incremental_key="id",
            incremental_after=90,
            newer_rows=10,
            missing=TableRef(bq_dataset, "no_such_table"),
            unreachable=lambda: BigQueryConnector("down", unreachable),
            scan_sql=f"SELECT status, count(*) AS n FROM `{bq_emulator.project}`.`{bq_dataset}`.`orders` "
                     "GROUP BY status",
            scan_rows=3,
            wrong_secret=lambda: BigQueryConnector("bqwrong", wrong, {"credentials": "AGNES_TEST_BQ_WRONG_KEY"}),
            secret_value=FAKE_KEY_TEXT,
            described=(TableRef(bq_dataset, "orders"), "Orders from the shop", "amount", "Amount in EUR"),
        )
