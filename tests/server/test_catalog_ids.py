"""GET catalog/ids: the ids GET catalog lists for the same filters (the panel's search-as-you-type),
no more — what a user may not read is not there either."""

from __future__ import annotations

import pytest

from .conftest import ALICE, BOB, assert_matches_openapi


@pytest.fixture
def jp_server_config(multiuser_config):
    return multiuser_config


@pytest.mark.parametrize("params", [{}, {"search": "session_id"}, {"search": "SIGNUP"}, {"mode": "local"},
                                    {"package": "nope"}, {"source": "demo", "search": "order"}])
async def test_the_ids_are_the_catalogs_for_the_same_filters(api, params: dict[str, str]) -> None:
    for token in (ALICE, BOB):
        status, body, _ = await api("GET", "catalog/ids", params=params, token=token)
        assert status == 200
        assert_matches_openapi("/catalog/ids", "GET", status, body)
        _, catalog, _ = await api("GET", "catalog", params=params, token=token)
        assert body["ids"] == [t["id"] for t in catalog["tables"]]
        assert body["count"] == catalog["count"]


async def test_a_user_without_grants_finds_no_ids_and_a_bad_mode_is_a_400(api) -> None:
    status, body, _ = await api("GET", "catalog/ids", params={"search": "SIGNUP"}, token=BOB)
    assert (status, body) == (200, {"ids": [], "count": 0})  # bob is granted nothing
    _, admin, _ = await api("GET", "catalog/ids", params={"search": "SIGNUP"}, token=ALICE)
    assert admin["ids"] == ["customers"]
    status, body, _ = await api("GET", "catalog/ids", params={"mode": "everything"}, token=ALICE)
    assert status == 400
    assert body["error"] == "validation_error"
