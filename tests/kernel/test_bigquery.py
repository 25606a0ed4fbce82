"""A remote BigQuery table through the analyst's journey, against the session's emulator: the
server owner registers a bigquery source and a remote table; the analyst finds it in the
catalog, estimates a query (BigQuery's dry run), is asked to confirm, snapshots it and joins the
snapshot with a local demo table — all through the kernel library.

The emulator reports 0 bytes for every dry run, so the source points at a payload server in
front of it (tests/_bigquery.py) that answers dry runs with a recorded figure; the query itself,
its job and its rows are the emulator's."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import ibis
import pytest

import agnes_jupyter as agnes
from agnes_jupyter import admin
from tests._bigquery import Emulator, PayloadServer, tour_tickets
from tests._live import LiveServer

MIB = 1024**2
#: What BigQuery's dry run says the query reads (a column read in full: filters do not lower it).
DRY_RUN_BYTES = 300 * MIB
CONFIRM_ABOVE = 100 * MIB


@dataclass
class Journey:
    source: str
    dataset: str
    table_id: str
    payloads: PayloadServer
    workspace: Path


@pytest.fixture
def journey(connected: LiveServer, bq_emulator: Emulator, bq_payloads: PayloadServer, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Journey]:
    """A dataset of this test's own in the emulator, a bigquery source over it (through the payload
    server) and a remote table registered by the owner; all removed afterwards."""
    suffix = secrets.token_hex(3)
    dataset, source, table_id = f"kt_support_{suffix}", f"kt_bq_{suffix}", f"kt_tickets_{suffix}"
    workspace = tmp_path / "workspace"
    monkeypatch.setenv("AGNES_WORKSPACE", str(workspace))
    bq_emulator.load(dataset, "tickets", tour_tickets())
    try:
        admin.add_source(source, "bigquery", options={
            "project": bq_emulator.project, "location": "US", "endpoint": bq_payloads.endpoint,
            "storage_endpoint": bq_emulator.grpc_endpoint, "auth": "anonymous",
            "limits": {"scan_confirm_bytes": CONFIRM_ABOVE}})
        admin.register_table(table_id, source, "tickets", bucket=dataset, query_mode="remote",
                             description="Support tickets, in BigQuery")
        yield Journey(source, dataset, table_id, bq_payloads, workspace)
    finally:
        try:
            admin.remove_table(table_id)
        except agnes.NotFound:
            pass
        try:
            admin.remove_source(source)
        except agnes.NotFound:
            pass
        bq_emulator.drop_dataset(dataset)


def _sql(job: dict) -> str:
    return str(job.get("configuration", {}).get("query", {}).get("query") or job.get("query") or "")


def _queries_run(payloads: PayloadServer) -> list[dict]:
    """The queries sent to BigQuery that were not dry runs (jobs.insert or jobs.query bodies), leaving
    out the metadata refresher's reads of INFORMATION_SCHEMA, which read no table data."""
    return [j for j in payloads.jobs if not (j.get("configuration", {}).get("dryRun") or j.get("dryRun"))
            and not re.search(r"INFORMATION_SCHEMA|__TABLES__", _sql(j), re.IGNORECASE)]


def test_a_bigquery_table_goes_from_catalog_to_estimate_confirmation_snapshot_and_a_local_join(
        journey: Journey) -> None:
    # catalog: the analyst sees the remote table of the bigquery source
    entries = [t for t in agnes.catalog(source=journey.source).tables if t["id"] == journey.table_id]
    assert len(entries) == 1
    assert entries[0]["query_mode"] == "remote"

    # estimate: BigQuery's own dry run, priced at the source's on-demand price
    journey.payloads.dry_run_bytes(DRY_RUN_BYTES, "PRECISE")
    tickets = agnes.table(journey.table_id)
    expr = tickets.filter(tickets.channel != "phone").select("ticket_id", "customer_id", "channel", "minutes")
    est = agnes.estimate(expr)
    assert est.scan_bytes == DRY_RUN_BYTES
    assert est.verdict == "needs_confirmation"
    assert est["cost_usd"] == pytest.approx(DRY_RUN_BYTES / 1024**4 * 6.25, abs=1e-6)  # dollars, to 6 places
    assert any(j.get("configuration", {}).get("dryRun") for j in journey.payloads.jobs)
    assert _queries_run(journey.payloads) == []  # estimating ran nothing

    # confirmation: above the source's threshold nothing runs without it
    with pytest.raises(agnes.ConfirmationRequired):
        agnes.snapshot(expr, name="kt_bq_tickets")
    assert _queries_run(journey.payloads) == []

    # snapshot: confirmed, it runs one BigQuery job under the gate's byte limit
    snap = agnes.snapshot(expr, name="kt_bq_tickets", confirm=True, progress=False)
    ran = _queries_run(journey.payloads)
    assert len(ran) == 1
    job = ran[0]  # a jobs.insert body
    assert job["jobReference"]["jobId"].startswith("agnes_")
    assert int(job["configuration"]["query"]["maximumBytesBilled"]) >= DRY_RUN_BYTES
    assert {"agnes_user", "agnes_scan_id", "agnes_table"} <= set(job["configuration"]["labels"])
    reference = duckdb.connect()
    reference.register("tickets", tour_tickets())
    expected = reference.execute("SELECT count(*), sum(minutes) FROM tickets WHERE channel <> 'phone'").fetchone()
    assert expected is not None
    assert snap.count().to_pyarrow().as_py() == expected[0]
    assert snap.minutes.sum().to_pyarrow().as_py() == expected[1]
    assert (journey.workspace / "snapshots" / "kt_bq_tickets.parquet").exists()

    # join: the snapshot with the demo's local customers, in the workspace's DuckDB
    customers = agnes.table("customers")
    by_segment = (snap.join(customers, snap.customer_id == customers.customer_id)
                  .group_by("segment").agg(tickets=ibis._.count(), minutes=snap.minutes.sum())
                  .order_by("segment").to_pandas())
    reference.execute(f"CREATE VIEW customers AS SELECT * FROM read_parquet("
                      f"'{journey.workspace / 'data' / '_shared' / 'customers.parquet'}')")
    want = reference.execute("SELECT segment, count(*) AS tickets, sum(minutes) AS minutes FROM tickets "
                             "JOIN customers USING (customer_id) WHERE channel <> 'phone' "
                             "GROUP BY segment ORDER BY segment").df()
    assert by_segment["segment"].tolist() == want["segment"].tolist()
    assert by_segment["tickets"].tolist() == want["tickets"].tolist()
    assert by_segment["minutes"].tolist() == want["minutes"].tolist()
    assert sum(by_segment["tickets"]) == expected[0]  # every ticket's customer is a demo customer
