"""Re-record the stored outputs of notebooks/*.ipynb against a fresh live server.

nbval (in the test suite) compares the cells marked ``# NBVAL_CHECK_OUTPUT`` with
these stored outputs, so run this after a change that alters what a notebook shows:

    .venv/bin/python scripts/record_notebooks.py [notebooks/01-quickstart.ipynb ...]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from tests._bigquery import Emulator, start_tour  # noqa: E402
from tests._live import LiveServer  # noqa: E402
from tests._pg import start_cluster  # noqa: E402
from tests._pgdata import SCHEMA_SQL  # noqa: E402


def main(paths: list[str]) -> int:
    notebooks = [Path(p).resolve() for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    cluster = start_cluster()
    cluster.psql(SCHEMA_SQL)
    os.environ["AGNES_TEST_PG_DSN"] = cluster.dsn  # as the test suite does (see conftest.py)
    root = Path(tempfile.mkdtemp(prefix="agnes-record-"))
    server = LiveServer(root).start()
    os.environ.update({"AGNES_SERVER_URL": server.url, "AGNES_TOKEN": server.token,
                       "AGNES_WORKSPACE": str(server.workspace)})
    # notebooks/07-bigquery.ipynb talks to the BigQuery emulator, as under the test suite.
    emulator: Emulator | None = None
    tour = None
    try:
        if any(p.name == "07-bigquery.ipynb" for p in notebooks):
            emulator = Emulator().start()
            tour = start_tour(emulator)
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}},
                           allow_errors=True, store_widget_state=False).execute()
            nbformat.write(nb, path)
            print(f"recorded {path.relative_to(ROOT)}")
    finally:
        if tour is not None:
            tour.stop()
        if emulator is not None:
            emulator.stop()
        server.stop()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
