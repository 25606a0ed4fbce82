"""No source can hang a call: connect and statement timeouts by default, calls stopped in the
source at their deadline (their thread comes back), every call stopped at shutdown, and failing
extracts backed off. Against a TCP server that accepts and never answers, and the real
PostgreSQL the tests start, with a table locked by another session."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from agnes_core.connectors import TableRef, interrupt_all, live_calls
from agnes_core.connectors.postgres import PostgresConnector
from agnes_core.core import AgnesCore
from agnes_core.errors import SourceError, SourceTimeout
from agnes_core.extract.jobs import backoff, due_tables
from agnes_core.store.state import utcnow
from tests._hanging import HANG_DB, HANG_ENV, SILENT_ENV, SilentServer, hold_lock, make_hang_db
from tests._pg import PgCluster

pytestmark = pytest.mark.timeout(120)  # without the fix these calls hang for ever

@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentServer]:
    server = SilentServer()
    monkeypatch.setenv(SILENT_ENV, server.dsn)
    yield server
    server.close()


@pytest.fixture(scope="module")
def hang_dsn(pg_cluster: PgCluster) -> str:
    return make_hang_db(pg_cluster)


@pytest.fixture
def locked(hang_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``public.locked`` held ACCESS EXCLUSIVE by another session for the test: any read of it waits."""
    monkeypatch.setenv(HANG_ENV, hang_dsn)
    with hold_lock(hang_dsn):
        yield hang_dsn


def sessions(dsn: str, app_name: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT state, coalesce(wait_event_type, '') FROM pg_stat_activity "
                            "WHERE application_name = %s", [app_name]).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def poll(check, what: str, deadline_s: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)  # polling with a deadline
    raise AssertionError(f"{what} did not happen within {deadline_s} s")


def test_a_source_that_accepts_tcp_and_never_answers_fails_at_its_connect_timeout(silent: SilentServer) -> None:
    connector = PostgresConnector("silent", {"connect_timeout_seconds": 2}, {"dsn": SILENT_ENV})
    with pytest.raises(SourceTimeout) as err:
        connector.test()
    assert "did not answer within 2 s of connecting" in err.value.message
    assert err.value.details["connect_timeout_seconds"] == 2
    assert silent.accepted  # it did reach the server
    assert "never" not in err.value.message  # the password stays out


def test_every_session_has_a_statement_timeout_and_a_name_to_cancel_it_by(hang_dsn: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HANG_ENV, hang_dsn)
    connector = PostgresConnector("hang", {}, {"dsn": HANG_ENV})
    try:
        [(timeout, name)] = connector._pg_rows("SELECT current_setting('statement_timeout') AS t, "
                                               "current_setting('application_name') AS n")
    finally:
        connector.close()
    assert timeout == "5min"
    assert name == connector._app_name
    assert "connect_timeout=5" in connector._session_dsn()


def test_a_call_hung_on_a_lock_is_stopped_at_its_deadline_and_cancelled_in_postgres(locked: str) -> None:
    connector = PostgresConnector("hang", {}, {"dsn": HANG_ENV})
    connector.call_timeout_s = 1.5
    with pytest.raises(SourceTimeout) as err:
        connector.sample(TableRef("public", "locked"), 10)
    assert err.value.message == "postgres source 'hang' did not answer (sample) within 1.5 s; the call was stopped"
    # The statement was cancelled in PostgreSQL (not left waiting on the lock), and the call's
    # thread came back: nothing of it is still in flight.
    poll(lambda: not [s for s in sessions(locked, connector._app_name) if s[0] == "active"],
         "the cancel of the waiting statement")
    poll(lambda: not [c for c in live_calls() if c.connector is connector], "the end of the call's thread")
    assert not connector.spent


def test_metadata_of_a_hung_table_reports_the_timeout_instead_of_raising(locked: str) -> None:
    connector = PostgresConnector("hang", {}, {"dsn": HANG_ENV})
    connector.call_timeout_s = 1.0
    meta = connector.metadata(TableRef("public", "locked"))
    assert meta is not None
    assert meta.error == "postgres source 'hang' did not answer (metadata) within 1 s; the call was stopped"
    assert meta.rows is None


def test_a_connector_answers_again_after_a_stopped_call(locked: str) -> None:
    connector = PostgresConnector("hang", {}, {"dsn": HANG_ENV})
    connector.call_timeout_s = 1.0
    with pytest.raises(SourceTimeout):
        connector.sample(TableRef("public", "locked"), 5)
    assert connector.test()["database"] == HANG_DB  # a new connection; the catalog is not locked
    connector.close()


def test_shutdown_releases_a_call_hung_connecting_at_once(silent: SilentServer) -> None:
    connector = PostgresConnector("silent", {"connect_timeout_seconds": 60}, {"dsn": SILENT_ENV})
    connector.call_timeout_s = 120
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            connector.discover()
        except Exception as exc:  # noqa: BLE001 - what the caller saw is the point
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    poll(lambda: silent.accepted and [c for c in live_calls() if c.connector is connector], "the hung call")
    assert interrupt_all("shutdown") >= 1
    caller.join(10)
    assert not caller.is_alive(), "the caller was not released"
    [error] = outcome
    assert isinstance(error, SourceError)
    assert error.message == "postgres source 'silent': discover was stopped (shutdown)"
    assert connector.spent  # its thread waits for libpq's connect timeout; the connector is not reused


def test_an_extract_of_a_locked_table_fails_with_a_statement_timeout(tmp_path: Path, locked: str) -> None:
    core = AgnesCore(tmp_path / "data")
    try:
        core.registry.add_source({"name": "hang", "type": "postgres", "secrets": {"dsn": HANG_ENV},
                                  "options": {"statement_timeout_ms": 1500}})
        core.registry.register_table({"id": "locked", "source": "hang", "bucket": "public",
                                      "source_table": "locked", "query_mode": "local", "schedule": "every 1m"})
        run = core.extracts.run("locked")
        assert run["status"] == "failed"
        assert "canceling statement due to statement timeout (it ran longer than 1,500 ms)" in run["error"]
        # One quick retry, then the failing table waits longer and longer between attempts.
        now = utcnow()
        assert due_tables(core.registry, core.extracts, now) == ["locked"]
        second = core.extracts.run("locked")
        assert second["status"] == "failed"
        now = utcnow()
        assert due_tables(core.registry, core.extracts, now) == []
        assert due_tables(core.registry, core.extracts, now + backoff(2) + timedelta(seconds=1)) == ["locked"]
    finally:
        core.close()
    assert os.environ[HANG_ENV] not in run["error"]


def test_backoff_doubles_from_one_minute_up_to_an_hour() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(0), timedelta(minutes=1), timedelta(minutes=2),
                                                 timedelta(minutes=4)]
    assert backoff(40) == timedelta(hours=1)
