"""The admin flow for a Keboola source through the real Jupyter server, against the local Storage
API server: add the source by env-var names → test → discover → register → extract → catalog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._keboola import BUCKET, KeboolaServer, keboola_server, orders_table

from .conftest import assert_matches_openapi

TOKEN_VAR = "AGNES_TEST_KBC_ADMIN_TOKEN"


@pytest.fixture
def kbc(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeboolaServer]:
    with keboola_server(slices=3) as server:
        server.add_table(orders_table())
        monkeypatch.setenv(TOKEN_VAR, server.token)
        yield server


def _source(kbc: KeboolaServer) -> dict:
    return {"name": "kbc", "type": "keboola", "options": {"url": kbc.url, "backoff_s": 0.001, "job_poll_s": 0.001},
            "secrets": {"token": TOKEN_VAR}}


async def test_add_test_discover_register_extract_and_catalog(api, kbc: KeboolaServer) -> None:
    status, connectors, _ = await api("GET", "admin/connectors")
    assert_matches_openapi("/admin/connectors", "GET", status, connectors)
    keboola = next(c for c in connectors["connectors"] if c["type"] == "keboola")
    assert keboola["capabilities"] == ["discover", "metadata", "read"]
    assert [s["name"] for s in keboola["secrets"]] == ["token"]

    status, source, _ = await api("POST", "admin/sources", _source(kbc))
    assert status == 201
    assert source["secrets"] == {"token": TOKEN_VAR}
    assert kbc.token not in str(source)

    status, tested, _ = await api("POST", "admin/sources/kbc/test")
    assert status == 200
    assert_matches_openapi("/admin/sources/{name}/test", "POST", status, tested)
    assert (tested["ok"], tested["project"], tested["buckets"]) == (True, "Agnes Test Project", 1)

    status, found, _ = await api("POST", "admin/sources/kbc/discover")
    assert status == 200
    assert_matches_openapi("/admin/sources/{name}/discover", "POST", status, found)
    (orders,) = found["tables"]
    assert (orders["bucket"], orders["source_table"], orders["description"]) == (
        BUCKET, "orders", "Orders from the web shop")
    types = {c["name"]: c["arrow_type"] for c in orders["columns"]}
    assert (types["id"], types["price"], types["shipped_at"]) == ("int64", "decimal128(12, 2)",
                                                                  "timestamp[us, tz=UTC]")
    assert {c["name"]: c["type"] for c in orders["columns"]}["price"] == "NUMBER(12,2)"

    status, _, _ = await api("POST", "admin/tables", {"id": "kbc_orders", "source": "kbc", "bucket": BUCKET,
                                                      "source_table": "orders", "query_mode": "local",
                                                      "primary_key": "id", "incremental_key": "updated_at"})
    assert status == 201
    status, run, _ = await api("POST", "admin/tables/kbc_orders/extract", params={"wait": "true"})
    assert status == 200
    assert_matches_openapi("/admin/tables/{id}/extract", "POST", status, run)
    assert (run["status"], run["rows"]) == ("succeeded", 100)
    assert len(kbc.calls("GET", "/files/")) == 1 + 3  # the manifest and three slices

    status, catalog, _ = await api("GET", "catalog")
    assert status == 200
    entry = next(t for t in catalog["tables"] if t["id"] == "kbc_orders")
    assert entry["query_mode"] == "local"
    status, schema, _ = await api("GET", "tables/kbc_orders/schema")
    assert status == 200
    assert {c["name"] for c in schema["columns"]} >= {"id", "price", "shipped_at"}


async def test_a_rejected_token_is_an_envelope_naming_the_variable(api, kbc: KeboolaServer) -> None:
    await api("POST", "admin/sources", _source(kbc))
    kbc.reject_token()
    status, body, _ = await api("POST", "admin/sources/kbc/test")
    assert status >= 400
    assert body["error"] == "source_error"
    assert TOKEN_VAR in body["hint"]
    assert kbc.token not in str(body)


async def test_remote_keboola_tables_are_refused_at_registration(api, kbc: KeboolaServer) -> None:
    await api("POST", "admin/sources", _source(kbc))
    status, body, _ = await api("POST", "admin/tables", {"id": "kbc_remote", "source": "kbc", "bucket": BUCKET,
                                                         "source_table": "orders", "query_mode": "remote"})
    assert status == 400, body
    assert (body["error"], body["details"]["field"]) == ("validation_error", "query_mode")
    assert "read" in body["hint"]
