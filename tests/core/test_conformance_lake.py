from __future__ import annotations

from pathlib import Path

import pytest

from agnes_core.connectors import TableRef
from agnes_core.connectors.lake import LakeConnector

from .conformance import ConnectorConformance, Subject


class TestLakeConformance(ConnectorConformance):
    @pytest.fixture
    def subject(self, demo_lake: Path, tmp_path: Path) -> Subject:
        return Subject(
            make=lambda: LakeConnector("demo", {"path": str(demo_lake)}),
            table=TableRef(None, "orders"),
            rows=250_000,
            columns=["order_id", "amount"],
            incremental_key="order_id",
            incremental_after=249_000,
            newer_rows=1_000,
            missing=TableRef(None, "no_such_table"),
            unreachable=lambda: LakeConnector("gone", {"path": str(tmp_path / "missing")}),
            scan_sql="SELECT country, count(*) FROM read_parquet('" + str(demo_lake / "events/**/*.parquet")
            + "') GROUP BY 1",
            scan_rows=20,
            range_column="order_id",
            range=(1, 250_000),
            described=(TableRef(None, "orders"), "Orders placed in the shop, one row per order.", "amount",
                       "Order total in EUR, VAT included."),
        )
