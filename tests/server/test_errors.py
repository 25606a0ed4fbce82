"""One error envelope, one code -> status table, 4xx for caller faults, no leaks on 500."""

from __future__ import annotations

from typing import Any

import pytest

from agnes_core.errors import STATUS_BY_CODE

from .conftest import assert_matches_openapi

ENVELOPE_KEYS = {"error", "message", "hint", "details"}


def _envelope(body: Any, code: str) -> None:
    assert set(body) == ENVELOPE_KEYS
    assert body["error"] == code
    assert isinstance(body["message"], str)
    assert body["message"]


async def test_unknown_table_is_404_not_found(api) -> None:
    status, body, _ = await api("GET", "tables/nope/schema")
    assert status == 404 == STATUS_BY_CODE["not_found"]
    _envelope(body, "not_found")
    assert body["details"] == {"table": "nope"}
    assert_matches_openapi("/tables/{id}/schema", "GET", status, body)


async def test_malformed_json_is_400_bad_request(api) -> None:
    status, body, _ = await api("POST", "admin/tables", raw_body=b'{"id": ')
    assert status == 400
    _envelope(body, "bad_request")
    assert "JSON" in body["message"]
    status, body, _ = await api("POST", "admin/tables", raw_body=b'["a list"]')
    assert status == 400
    _envelope(body, "bad_request")


async def test_unknown_route_under_the_namespace_is_a_json_404(api) -> None:
    status, body, response = await api("GET", "no/such/thing")
    assert status == 404
    assert response.headers["Content-Type"].startswith("application/json")
    _envelope(body, "not_found")


async def test_unsupported_method_is_405_in_the_envelope(api) -> None:
    status, body, _ = await api("DELETE", "catalog")
    assert status == 405
    _envelope(body, "method_not_allowed")


async def test_validation_error_names_the_field(api) -> None:
    status, body, _ = await api("POST", "admin/tables", {"id": "bad id", "source": "demo", "source_table": "x"})
    assert status == 400
    _envelope(body, "validation_error")
    assert body["details"]["field"] == "id"
    assert body["hint"]
    assert_matches_openapi("/admin/tables", "POST", status, body)


async def test_internal_errors_hide_their_text(api, jp_serverapp, monkeypatch: pytest.MonkeyPatch) -> None:
    app = jp_serverapp.extension_manager.extension_apps["agnes_server"]
    agnes = next(iter(app))

    def explode(table: Any) -> Any:
        raise RuntimeError("password=hunter2 leaked from a driver")

    monkeypatch.setattr(agnes.core.discovery, "schema", explode)
    status, body, _ = await api("GET", "tables/orders/schema")
    assert status == 500
    _envelope(body, "internal")
    assert "hunter2" not in str(body)
    assert body["details"]["reference"] in body["message"]
