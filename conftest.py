"""Root test configuration.

The notebooks under notebooks/ run under nbval in kernels nbval starts itself, so
they cannot use fixtures: when any notebook is collected, a live Jupyter server is
started before the first test and its URL and token are exported to the environment
those kernels inherit. Kernel and browser tests share the same server.

BigQuery: one emulator per session (``bq_emulator``, tests/_bigquery.py), started on first use;
``bq_payloads`` puts a fresh payload server in front of it for each test. When
notebooks/07-bigquery.ipynb is collected, the emulator is started and seeded before the first
test and a payload server in front of it (answering dry runs with recorded figures) is exported
as $AGNES_TEST_BIGQUERY_ENDPOINT for the notebook's kernel (the project and the Storage Read API's
host:port in $AGNES_TEST_BIGQUERY_PROJECT and $AGNES_TEST_BIGQUERY_STORAGE_ENDPOINT).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._bigquery import TOUR_ERROR_ENV, Emulator, PayloadServer, start_tour
from tests._live import LiveServer
from tests._pg import PgCluster, start_cluster
from tests._pgdata import SCHEMA_SQL
from tests._pgshop import DBNAME as SHOP_DB
from tests._pgshop import SCHEMA_SQL as SHOP_SQL

pytest_plugins = ["pytest_jupyter.jupyter_server"]

_LIVE_KEY = pytest.StashKey[LiveServer]()
_PG_KEY = pytest.StashKey[PgCluster]()
PG_DSN_ENV = "AGNES_TEST_PG_DSN"
SHOP_DSN_ENV = "AGNES_TEST_SHOP_DSN"
_SHOP_KEY = pytest.StashKey[str]()
_BQ_KEY = pytest.StashKey["Emulator | BaseException"]()
_BQ_TOUR_KEY = pytest.StashKey[PayloadServer]()


def _start_pg(config: pytest.Config) -> PgCluster:
    """One throwaway PostgreSQL cluster per session, loaded with tests/_pgdata.py."""
    cluster = config.stash.get(_PG_KEY, None)
    if cluster is None:
        cluster = start_cluster()
        cluster.psql(SCHEMA_SQL)
        config.stash[_PG_KEY] = cluster
        # Sources name this variable; the value (with its password) is never stored.
        os.environ[PG_DSN_ENV] = cluster.dsn
    return cluster


def _start_live(config: pytest.Config) -> LiveServer:
    server = config.stash.get(_LIVE_KEY, None)
    if server is None:
        _start_pg(config)  # the live server's admin notebook connects it as a source
        root = Path(tempfile.mkdtemp(prefix="agnes-live-"))
        server = LiveServer(root).start()
        config.stash[_LIVE_KEY] = server
        # Notebook kernels started by nbval inherit these.
        os.environ["AGNES_SERVER_URL"] = server.url
        os.environ["AGNES_TOKEN"] = server.token
        os.environ["AGNES_WORKSPACE"] = str(server.workspace)
    return server


def _start_bigquery(config: pytest.Config) -> Emulator:
    """The session's BigQuery emulator; a failure to start is kept and raised to every test that
    needs it (each fails with the reason, none is skipped)."""
    emulator = config.stash.get(_BQ_KEY, None)
    if emulator is None:
        try:
            emulator = Emulator().start()
        except BaseException as exc:  # noqa: BLE001 - kept, and raised to each test that needs it
            emulator = exc
        config.stash[_BQ_KEY] = emulator
    if isinstance(emulator, BaseException):
        raise RuntimeError(f"the BigQuery emulator could not start: {emulator}") from emulator
    return emulator


def _start_bigquery_tour(config: pytest.Config) -> None:
    """notebooks/07-bigquery.ipynb: its data in the emulator, and a payload server whose endpoint
    its kernel finds in $AGNES_TEST_BIGQUERY_ENDPOINT."""
    try:
        config.stash[_BQ_TOUR_KEY] = start_tour(_start_bigquery(config))
    except Exception as exc:  # noqa: BLE001 - the notebook's first cell fails with this reason
        os.environ[TOUR_ERROR_ENV] = str(exc)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running on the main
    thread while it is open, which the in-process server tests and nbval's kernels trip over."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(str(item.path).endswith(".ipynb") for item in session.items):
        _start_live(session.config)
    if any(item.path.name == "07-bigquery.ipynb" for item in session.items):
        _start_bigquery_tour(session.config)


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_LIVE_KEY, None)
    if server is not None:
        server.stop()
        if os.environ.get("AGNES_KEEP_LIVE_SERVER") != "1":
            shutil.rmtree(server.root, ignore_errors=True)
    cluster = config.stash.get(_PG_KEY, None)
    if cluster is not None:
        cluster.stop()
    tour = config.stash.get(_BQ_TOUR_KEY, None)
    if tour is not None:
        tour.stop()
    emulator = config.stash.get(_BQ_KEY, None)
    if isinstance(emulator, Emulator):
        emulator.stop()
        shutil.rmtree(emulator.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster(request: pytest.FixtureRequest) -> PgCluster:
    """The session's PostgreSQL cluster; its DSN is in $AGNES_TEST_PG_DSN."""
    return _start_pg(request.config)


@pytest.fixture(scope="session")
def shop_dsn(request: pytest.FixtureRequest) -> str:
    """The shop database (tests/_pgshop.py) in the session's cluster; its DSN is in
    $AGNES_TEST_SHOP_DSN (sources name the variable, never the value)."""
    dsn = request.config.stash.get(_SHOP_KEY, None)
    if dsn is None:
        cluster = _start_pg(request.config)
        cluster.psql(f"CREATE DATABASE {SHOP_DB}", dbname="postgres")
        cluster.psql(SHOP_SQL, dbname=SHOP_DB)
        dsn = cluster.dsn.replace(f"dbname={cluster.dbname}", f"dbname={SHOP_DB}")
        request.config.stash[_SHOP_KEY] = dsn
        os.environ[SHOP_DSN_ENV] = dsn
    return dsn


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> LiveServer:
    """A real JupyterLab + Agnes server on a demo data dir, shared by the session."""
    return _start_live(request.config)


@pytest.fixture(scope="session")
def bq_emulator(request: pytest.FixtureRequest) -> Emulator:
    """The session's BigQuery emulator (bqemulator on free ports); fails, never skips, when it cannot start."""
    return _start_bigquery(request.config)


@pytest.fixture
def bq_payloads(bq_emulator: Emulator) -> Iterator[PayloadServer]:
    """A payload server in front of the emulator for this test only (no override carries over)."""
    server = PayloadServer(bq_emulator).start()
    yield server
    server.stop()
