"""The keboola connector in the conformance suite, against the local Storage API server
(tests/_keboola.py): discovery, table details, async exports with sliced gzipped CSV."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from agnes_core.connectors import Capability, TableRef
from agnes_core.connectors.keboola import KeboolaConnector
from agnes_core.errors import NotSupported
from tests._keboola import BUCKET, Column, KeboolaServer, KTable, keboola_server, orders_table

from .conformance import ConnectorConformance, Subject

ROWS = 100
WRONG_TOKEN = "1234-99999-WrongTokenValue-agnes-Xq7Rt"
#: Options that keep the tests fast: retries and job polls start almost at once (still bounded).
FAST = {"backoff_s": 0.001, "job_poll_s": 0.001}


def increments() -> KTable:
    data = pa.table({"id": pa.array(range(1, ROWS + 1), pa.int64()), "v": [f"v{i}" for i in range(1, ROWS + 1)]})
    return KTable(BUCKET, "increments", [Column("id", "INTEGER", "NUMBER", "38,0"), Column("v", "STRING", "VARCHAR")],
                  data, primary_key=["id"])


@pytest.fixture(scope="module")
def kbc() -> Iterator[KeboolaServer]:
    with keboola_server(slices=4) as server:
        server.add_table(increments())
        server.add_table(orders_table())
        yield server


def kbc_options(server: KeboolaServer, **extra: Any) -> dict[str, Any]:
    return {"url": server.url, **FAST, **extra}


class TestKeboolaConformance(ConnectorConformance):
    @pytest.fixture
    def subject(self, kbc: KeboolaServer, monkeypatch: pytest.MonkeyPatch) -> Subject:
        monkeypatch.setenv("AGNES_TEST_KBC_TOKEN", kbc.token)
        monkeypatch.setenv("AGNES_TEST_KBC_WRONG", WRONG_TOKEN)
        options = kbc_options(kbc)
        return Subject(
            make=lambda: KeboolaConnector("kbc", options, {"token": "AGNES_TEST_KBC_TOKEN"}),
            table=TableRef(BUCKET, "increments"),
            rows=ROWS,
            columns=["id", "v"],
            incremental_key="id",
            incremental_after=90,
            newer_rows=10,
            missing=TableRef(BUCKET, "no_such_table"),
            unreachable=lambda: KeboolaConnector("down", {"url": "http://127.0.0.1:9", "retries": 0},
                                                 {"token": "AGNES_TEST_KBC_TOKEN"}),
            scan_sql="SELECT 1",
            scan_rows=1,
            wrong_secret=lambda: KeboolaConnector("kbcwrong", options, {"token": "AGNES_TEST_KBC_WRONG"}),
            secret_value=WRONG_TOKEN,
            described=(TableRef(BUCKET, "orders"), "Orders from the web shop", "id", "Order number"),
        )

    def test_a_scan_is_refused_saying_what_remote_keboola_would_need(self, connector: KeboolaConnector,
                                                                      subject: Subject) -> None:
        """Keboola declares no REMOTE (the suite checks the refusal): the refusal says what it would need."""
        assert Capability.REMOTE not in connector.capabilities
        with pytest.raises(NotSupported) as err:
            list(connector.scan(subject.scan_sql))
        assert err.value.details["capability"] == "remote"
        assert "DuckDB extension" in (err.value.hint or "")
        assert "query_mode local" in (err.value.hint or "")
