from __future__ import annotations

import os

import pytest

from agnes_core.connectors import TableRef
from agnes_core.connectors.postgres import PostgresConnector
from tests._pg import PgCluster
from tests._pgdata import INCREMENTS_ROWS

from .conformance import ConnectorConformance, Subject


class TestPostgresConformance(ConnectorConformance):
    @pytest.fixture
    def subject(self, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch) -> Subject:
        wrong = pg_cluster.dsn.replace(pg_cluster.password, "Wr0ng-Passw0rd-xyz")
        monkeypatch.setenv("AGNES_TEST_PG_WRONG", wrong)
        monkeypatch.setenv("AGNES_TEST_PG_DOWN", "host=127.0.0.1 port=9 user=x password=down-secret dbname=y "
                                                 "connect_timeout=3")
        return Subject(
            make=lambda: PostgresConnector("pg", {}, {"dsn": "AGNES_TEST_PG_DSN"}),
            table=TableRef("public", "increments"),
            rows=INCREMENTS_ROWS,
            columns=["id", "v"],
            incremental_key="id",
            incremental_after=90,
            newer_rows=10,
            missing=TableRef("public", "no_such_table"),
            unreachable=lambda: PostgresConnector("down", {}, {"dsn": "AGNES_TEST_PG_DOWN"}),
            scan_sql="SELECT status, count(*) FROM sales.orders GROUP BY status",
            scan_rows=3,
            wrong_secret=lambda: PostgresConnector("pgwrong", {}, {"dsn": "AGNES_TEST_PG_WRONG"}),
            secret_value="Wr0ng-Passw0rd-xyz",
            range_column="id",
            range=(1, INCREMENTS_ROWS),
            described=(TableRef("sales", "orders"), "Orders from the shop", "amount", "Amount in EUR"),
        )


def test_dsn_env_var_is_required(pg_cluster: PgCluster) -> None:
    assert os.environ["AGNES_TEST_PG_DSN"] == pg_cluster.dsn
