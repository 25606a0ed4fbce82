"""Scans on a team server: records are private to their user, reads need grants."""

from __future__ import annotations

import json

import pytest

from .conftest import ALICE, BOB

ONE_DAY = "SELECT country, amount FROM events WHERE event_date = DATE '2026-01-05'"


@pytest.fixture
def jp_server_config(multiuser_config):
    return multiuser_config


async def test_scan_records_are_private_and_reads_need_grants(api, jp_fetch) -> None:
    response = await jp_fetch("agnes", "v1", "scans", method="POST", body=json.dumps({"sql": ONE_DAY}),
                              headers={"Authorization": f"token {ALICE}"})
    assert response.code == 200
    scan_id = response.headers["X-Agnes-Scan-Id"]
    status, _, _ = await api("GET", f"scans/{scan_id}", token=BOB)
    assert status == 404
    status, body, _ = await api("POST", "scans/estimate", {"sql": ONE_DAY}, token=BOB)
    assert (status, body["details"]["kind"]) == (400, "unregistered_table")  # as if it did not exist
