"""agnes.sync() against the live server: a fresh non-admin analyst, a data package granted to
their group, and a fresh workspace per test. Each test creates its own user, group, package and
grants (unique names) and removes them when it ends, since the live server is shared by the
whole session.

Every user has the demo's ``orders`` and ``customers`` in their stack already (the demo grants
its ``sales`` package to Everyone as required), so the tests package their own copies of them,
extracted once per module, to have tables that only their grants bring and take away."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import agnes_jupyter as agnes
from agnes_jupyter import _download, _sync
from agnes_jupyter._client import Client
from agnes_jupyter._workspace import workspace
from tests._live import LiveServer

EXTRACT_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def own(live_server: LiveServer) -> Iterator[SimpleNamespace]:
    """Copies of the demo's orders and customers under unique ids (``own.orders``,
    ``own.customers``), extracted once; nobody may read them but through the tests' grants."""
    owner = agnes.connect(live_server.url, live_server.token, default=False)
    made: dict[str, str] = {}
    try:
        for source_table in ("orders", "customers"):
            table_id = f"sync_{source_table}_{uuid.uuid4().hex[:8]}"
            owner.post("admin/tables", {"id": table_id, "source": "demo", "source_table": source_table,
                                        "query_mode": "local"})
            made[source_table] = table_id
            run = owner.post(f"admin/tables/{table_id}/extract")
            deadline = time.monotonic() + EXTRACT_TIMEOUT
            while run["status"] == "running" and time.monotonic() < deadline:
                time.sleep(0.2)  # polling the run with a deadline
                run = owner.get(f"admin/tables/{table_id}/runs/{run['run_id']}")
            assert run["status"] == "succeeded", run
        yield SimpleNamespace(**made)
    finally:
        for table_id in made.values():
            try:
                owner.delete(f"admin/tables/{table_id}")
            except agnes.AgnesError:
                pass
        owner.close()


@dataclass
class Analyst:
    """A non-admin user (the default client of the test) and what the test made for them."""

    name: str
    group: str
    token: str
    admin: Client
    client: Client
    grants: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)

    def grant(self, resource_type: str, resource_id: str, requirement: str = "required") -> str:
        grant = self.admin.post("admin/grants", {"group": self.group, "resource_type": resource_type,
                                                 "resource_id": resource_id, "requirement": requirement})
        self.grants.append(grant["id"])
        return str(grant["id"])

    def revoke(self, grant_id: str) -> None:
        self.admin.delete(f"admin/grants/{grant_id}")
        self.grants.remove(grant_id)

    def package(self, *tables: str) -> tuple[str, str]:
        """A prod package of ``tables`` granted ``required`` to the analyst's group: (slug, grant id)."""
        slug = f"sync-{uuid.uuid4().hex[:10]}"
        self.admin.post("admin/packages", {"slug": slug, "title": f"Sync test {slug}", "tables": list(tables),
                                           "lifecycle": "prod"})
        self.packages.append(slug)
        return slug, self.grant("package", slug)

    def register(self, source_table: str) -> str:
        """A new local table of the demo source, never extracted (no schedule)."""
        table_id = f"sync_pending_{uuid.uuid4().hex[:8]}"
        self.admin.post("admin/tables", {"id": table_id, "source": "demo", "source_table": source_table,
                                         "query_mode": "local"})
        self.tables.append(table_id)
        return table_id

    def manifest(self) -> dict[str, dict[str, Any]]:
        return {t["id"]: t for t in self.client.get("sync/manifest")["tables"]}

    def local(self) -> list[str]:
        """The ids of the manifest's extracted local tables: what a first sync downloads."""
        return sorted(t for t, e in self.manifest().items() if e["query_mode"] != "remote" and e["md5"])


@pytest.fixture
def ws(connected: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workspace"
    monkeypatch.setenv("AGNES_WORKSPACE", str(root))
    return root


@pytest.fixture
def analyst(connected: LiveServer, ws: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Analyst]:
    owner = agnes.connect(connected.url, connected.token, default=False)  # the server's owner: an admin
    unique = uuid.uuid4().hex[:10]
    name = group = f"sync_{unique}"
    owner.post("admin/users", {"username": name})
    owner.post("admin/groups", {"name": group})
    owner.post(f"admin/groups/{group}/members", {"username": name})
    token = owner.post(f"admin/users/{name}/tokens", {"name": "sync tests"})["token"]
    monkeypatch.setenv("AGNES_TOKEN", token)
    user = agnes.connect(connected.url, token)
    assert user.get("me")["is_admin"] is False
    who = Analyst(name, group, token, owner, user)
    try:
        yield who
    finally:
        cleanup = [f"admin/grants/{g}" for g in who.grants] + [f"admin/packages/{p}" for p in who.packages]
        cleanup += [f"admin/tables/{t}" for t in who.tables] + [f"admin/groups/{group}", f"admin/users/{name}"]
        for path in cleanup:
            try:
                owner.delete(path)
            except agnes.AgnesError:
                pass
        owner.close()


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` (but the lock file) with its size, mtime and inode."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.name != _download.LOCK_FILE:
            st = path.lstat()
            out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def parts(ws: Path) -> list[str]:
    return sorted(p.name for p in (ws / "data" / "_shared").glob(".*.part"))


def test_sync_downloads_the_stack_once_and_links_it_into_the_package_folders(
        analyst: Analyst, own: SimpleNamespace, ws: Path) -> None:
    slug, _ = analyst.package(own.orders, own.customers, "events")
    manifest = analyst.manifest()
    assert manifest[own.orders]["packages"] == [slug]
    local = analyst.local()
    assert {own.orders, own.customers} <= set(local)

    report = agnes.sync(progress=False)
    assert sorted(report.downloaded) == local
    assert report.skipped_remote == ["events"]
    assert (report.unchanged, report.removed, report.pending, report.failed) == ([], [], [], {})
    assert report.bytes_downloaded == sum(manifest[t]["size_bytes"] for t in local)
    assert repr(report).startswith(f"synced {len(local)} tables: {len(local)} downloaded (")
    assert "1 remote skipped, 0 failed" in repr(report)
    assert f"<code>{own.orders}</code>" in report._repr_html_()

    state = json.loads((ws / "sync_state.json").read_text())["tables"]
    for table_id in local:
        shared = ws / "data" / "_shared" / f"{table_id}.parquet"
        assert md5_of(shared) == manifest[table_id]["md5"]
        assert stat.S_IMODE(shared.stat().st_mode) == 0o444  # read-only: never edited behind sync's back
        for package in manifest[table_id]["packages"]:  # ours, and the demo's for its tables
            assert os.stat(ws / "data" / package / f"{table_id}.parquet").st_ino == os.stat(shared).st_ino
        record = state[table_id]
        assert (record["md5"], record["origin"]) == (manifest[table_id]["md5"], "sync")
        assert (record["size_bytes"], record["packages"]) == (shared.stat().st_size, manifest[table_id]["packages"])
    assert sorted(p.name for p in (ws / "data" / slug).iterdir()) == sorted(
        [f"{own.orders}.parquet", f"{own.customers}.parquet"])
    assert not (ws / "data" / "_shared" / "events.parquet").exists()
    assert parts(ws) == []

    stamp = (ws / "data" / "_shared" / f"{own.orders}.parquet").stat().st_mtime_ns
    assert agnes.table(own.orders).count().to_pyarrow().as_py() == manifest[own.orders]["rows"]
    assert (ws / "data" / "_shared" / f"{own.orders}.parquet").stat().st_mtime_ns == stamp  # the synced file


def test_a_second_sync_is_a_no_op_that_reads_no_file(analyst: Analyst, own: SimpleNamespace, ws: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    analyst.package(own.orders, own.customers)
    agnes.sync(progress=False)
    before = tree(ws / "data")
    hashed: list[Any] = []

    def counting_md5(*args: Any, **kwargs: Any) -> Any:
        hashed.append(args)
        return hashlib.md5(*args, **kwargs)

    monkeypatch.setattr(_download, "hashlib", SimpleNamespace(md5=counting_md5))
    report = agnes.sync(progress=False)
    assert sorted(report.unchanged) == analyst.local()
    assert (report.downloaded, report.removed, report.failed, report.bytes_downloaded) == ([], [], {}, 0)
    assert hashed == []
    assert tree(ws / "data") == before


def test_1000_unchanged_tables_are_planned_without_hashing_or_catalog_lookups(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    shared = data / "_shared"
    shared.mkdir(parents=True)
    tables, records = [], {}
    for i in range(1000):
        table_id, md5 = f"t{i:04d}", f"{i:032x}"
        (shared / f"{table_id}.parquet").write_bytes(b"x" * (i + 1))
        tables.append({"id": table_id, "query_mode": "local", "md5": md5, "size_bytes": i + 1,
                       "packages": ["pkg-a", "pkg-b"]})
        records[table_id] = {"md5": md5, "size_bytes": i + 1, "origin": "sync"}
    wanted = {t["id"]: t["packages"] for t in tables}
    assert _sync._sync_links(data, wanted) == {}
    monkeypatch.setattr(_download, "hashlib", None)  # any hashing would raise

    plan = _sync.plan(tables, records, shared, readable=lambda: pytest.fail("no catalog lookup needed"))
    assert _sync._sync_links(data, wanted) == {}  # links already right: nothing rewritten
    assert len(plan.unchanged) == 1000
    assert (plan.download, plan.remove) == ([], {})
    # (its speed is measured, not asserted: benchmarks/sync.py, no-op sync of 1,000 tables)


def test_revoking_the_grant_removes_files_links_and_views_on_the_next_sync(
        analyst: Analyst, own: SimpleNamespace, ws: Path) -> None:
    slug, grant = analyst.package(own.orders, own.customers)
    agnes.sync(progress=False)
    assert agnes.table(own.orders).count().to_pyarrow().as_py() > 0
    assert {own.orders, own.customers} <= set(workspace().con.list_tables())
    kept = sorted(set(analyst.local()) - {own.orders, own.customers})  # the demo's, required for Everyone

    analyst.revoke(grant)
    report = agnes.sync(progress=False)
    assert report.removed == sorted([own.orders, own.customers])
    assert (report.downloaded, sorted(report.unchanged)) == ([], kept)
    assert sorted(p.name for p in (ws / "data" / "_shared").iterdir()) == [f"{t}.parquet" for t in kept]
    assert not (ws / "data" / slug).exists()
    assert sorted(json.loads((ws / "sync_state.json").read_text())["tables"]) == kept
    assert not {own.orders, own.customers} & set(workspace().con.list_tables())


def _replace_spy(monkeypatch: pytest.MonkeyPatch, ws: Path, md5s: dict[str, str]) -> list[str]:
    """Checks every rename onto a ``*.parquet`` of ``data/_shared``: its bytes must already be
    the manifest's. Returns the log of those renames, each ``ok <name>`` or ``UNVERIFIED <name>``."""
    real_replace = os.replace
    log: list[str] = []

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        target = Path(dst)
        if target.parent == ws / "data" / "_shared" and target.suffix == ".parquet":
            verified = md5_of(Path(src)) == md5s.get(target.stem)
            log.append(f"{'ok' if verified else 'UNVERIFIED'} {target.name}")
        real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return log


def test_a_half_downloaded_part_is_resumed_with_a_range_request(
        analyst: Analyst, own: SimpleNamespace, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agnes.sync(progress=False)  # the tables everyone has: out of the way
    analyst.package(own.orders)
    entry = analyst.manifest()[own.orders]
    real = analyst.client.request("GET", f"sync/tables/{own.orders}/data").content
    assert hashlib.md5(real, usedforsecurity=False).hexdigest() == entry["md5"]
    half = len(real) // 2
    shared = workspace().shared
    (shared / f".{own.orders}.{entry['md5']}.part").write_bytes(real[:half])
    renames = _replace_spy(monkeypatch, ws, {own.orders: entry["md5"]})

    report = agnes.sync(progress=False)
    assert (report.downloaded, report.failed) == ([own.orders], {})
    assert report.bytes_downloaded == len(real) - half
    assert md5_of(shared / f"{own.orders}.parquet") == entry["md5"]
    assert renames == [f"ok {own.orders}.parquet"]
    assert parts(ws) == []
    audit = analyst.admin.get("admin/audit", user=analyst.name, action="sync.download", limit=1)["entries"]
    assert (audit[0]["resource"], audit[0]["details"]["range"]) == (f"table/{own.orders}", f"bytes={half}-")


def test_a_corrupt_part_is_downloaded_again_and_never_renamed_into_place(
        analyst: Analyst, own: SimpleNamespace, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agnes.sync(progress=False)
    analyst.package(own.orders)
    entry = analyst.manifest()[own.orders]
    size = entry["size_bytes"]
    half = size // 2
    shared = workspace().shared
    (shared / f".{own.orders}.{entry['md5']}.part").write_bytes(b"\0" * half)
    (shared / f".{own.orders}.{'0' * 32}.part").write_bytes(b"an older version")  # stale: removed
    renames = _replace_spy(monkeypatch, ws, {own.orders: entry["md5"]})

    report = agnes.sync(progress=False)
    assert (report.downloaded, report.failed) == ([own.orders], {})
    assert report.bytes_downloaded == (size - half) + size  # resumed, failed its md5, fetched whole
    assert md5_of(shared / f"{own.orders}.parquet") == entry["md5"]
    assert renames == [f"ok {own.orders}.parquet"]
    assert parts(ws) == []


def test_a_killed_sync_is_completed_by_the_next_one(
        analyst: Analyst, own: SimpleNamespace, ws: Path, connected: LiveServer) -> None:
    agnes.sync(progress=False)
    analyst.package(own.orders, own.customers)
    script = textwrap.dedent("""
        import os, signal
        import agnes_jupyter as agnes
        from agnes_jupyter import _download

        write = _download._write_chunk

        def write_then_die(fh, chunk):
            write(fh, chunk)
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        _download._write_chunk = write_then_die
        agnes.sync(progress=False)
    """)
    env = {**os.environ, "AGNES_SERVER_URL": connected.url, "AGNES_TOKEN": analyst.token,
           "AGNES_WORKSPACE": str(ws)}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    shared = ws / "data" / "_shared"
    left = {p.name: p.stat().st_size for p in shared.glob(".*.part")}
    assert left
    # the part being written when the process died has bytes; the other download may not have
    # received its first chunk yet (an empty part is continued like any other)
    assert any(size > 0 for size in left.values())
    assert not (shared / f"{own.orders}.parquet").exists()  # killed before anything was verified
    assert not (shared / f"{own.customers}.parquet").exists()

    report = agnes.sync(progress=False)  # the dead process's lock went with it
    manifest = analyst.manifest()
    assert sorted(report.downloaded) == sorted([own.orders, own.customers])
    assert report.bytes_downloaded == sum(manifest[t]["size_bytes"] for t in report.downloaded) \
        - sum(left.values())  # the parts were continued, not fetched again
    for table_id in report.downloaded:
        assert md5_of(shared / f"{table_id}.parquet") == manifest[table_id]["md5"]
    assert parts(ws) == []


def test_a_sync_running_elsewhere_makes_sync_raise_until_it_ends(
        analyst: Analyst, own: SimpleNamespace, ws: Path) -> None:
    analyst.package(own.orders)
    lock = workspace().root / _download.LOCK_FILE
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\n"
                               "from filelock import FileLock\n"
                               "with FileLock(sys.argv[1]):\n"
                               "    print('locked', flush=True)\n"
                               "    sys.stdin.read()\n", str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    with holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(agnes.Conflict, match="another sync is running in this workspace") as info:
            agnes.sync(progress=False)
        assert "agnes.sync() again" in (info.value.hint or "")
        assert list((ws / "data" / "_shared").iterdir()) == []
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    assert own.orders in agnes.sync(progress=False).downloaded


def test_dry_run_changes_nothing_on_disk(analyst: Analyst, own: SimpleNamespace, ws: Path) -> None:
    _, grant = analyst.package(own.orders, own.customers)
    workspace()
    before = tree(ws)
    report = agnes.sync(dry_run=True, progress=False)
    manifest = analyst.manifest()
    local = analyst.local()
    assert (sorted(report.downloaded), report.dry_run) == (local, True)
    assert report.planned_bytes == sum(manifest[t]["size_bytes"] for t in local)
    assert repr(report).startswith(f"dry run, nothing changed: would sync {len(local)} tables: "
                                   f"{len(local)} to download (")
    assert tree(ws) == before

    agnes.sync(progress=False)
    analyst.revoke(grant)
    before = tree(ws)
    report = agnes.sync(dry_run=True, progress=False)
    assert report.removed == sorted([own.orders, own.customers])
    assert tree(ws) == before


def test_a_pending_and_a_failing_table_do_not_stop_the_others(
        analyst: Analyst, own: SimpleNamespace, ws: Path) -> None:
    pending = analyst.register("orders")
    analyst.package(own.orders, own.customers, pending)
    manifest = analyst.manifest()
    assert (manifest[pending]["md5"], manifest[pending]["query_mode"]) == (None, "local")
    blocker = workspace().shared / f".{own.customers}.{manifest[own.customers]['md5']}.part"
    blocker.mkdir()  # a real failure: the download of this table cannot be written
    (blocker / "keep").write_text("not a download")

    report = agnes.sync(progress=False)
    assert report.pending == [pending]
    assert list(report.failed) == [own.customers]
    assert "IsADirectoryError" in report.failed[own.customers]
    assert sorted(report.downloaded) == sorted(set(analyst.local()) - {own.customers})
    assert f"{own.customers}: {report.failed[own.customers]}" in repr(report)
    assert "1 pending (not extracted yet), 1 failed" in repr(report)
    assert md5_of(ws / "data" / "_shared" / f"{own.orders}.parquet") == manifest[own.orders]["md5"]
    assert own.customers not in json.loads((ws / "sync_state.json").read_text())["tables"]

    (blocker / "keep").unlink()
    blocker.rmdir()
    again = agnes.sync(progress=False)
    assert (again.downloaded, again.failed, again.pending) == ([own.customers], {}, [pending])


def test_on_demand_tables_stay_while_readable_and_go_when_not(
        analyst: Analyst, own: SimpleNamespace, ws: Path) -> None:
    grant = analyst.grant("table", own.customers, requirement="available")  # readable, not in the stack
    analyst.package(own.orders)
    rows = agnes.table(own.customers).count().to_pyarrow().as_py()  # downloaded on demand
    assert rows > 0
    assert json.loads((ws / "sync_state.json").read_text())["tables"][own.customers]["origin"] == "on_demand"

    report = agnes.sync(progress=False)
    assert own.orders in report.downloaded
    assert report.removed == []
    assert (ws / "data" / "_shared" / f"{own.customers}.parquet").exists()
    assert json.loads((ws / "sync_state.json").read_text())["tables"][own.customers]["origin"] == "on_demand"

    analyst.revoke(grant)
    report = agnes.sync(progress=False)
    assert report.removed == [own.customers]
    assert own.orders in report.unchanged
    assert not (ws / "data" / "_shared" / f"{own.customers}.parquet").exists()
    assert own.customers not in json.loads((ws / "sync_state.json").read_text())["tables"]


def test_sync_magic_prints_the_dry_run_summary_and_a_held_lock_as_one_line(
        shell: InteractiveShell, analyst: Analyst, own: SimpleNamespace, ws: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    analyst.package(own.orders, own.customers, "events")
    local = analyst.local()
    shell.run_line_magic("agnes", "sync --dry-run")
    out = capsys.readouterr().out
    assert out.startswith(f"dry run, nothing changed: would sync {len(local)} tables: {len(local)} to download (")
    assert "1 remote skipped" in out
    assert list((ws / "data" / "_shared").iterdir()) == []

    with _sync.sync_lock(workspace()):
        failed = shell.run_cell("%agnes sync")  # the cell fails: Run All stops here
    assert isinstance(failed.error_in_exec, agnes.Conflict)
    assert failed.error_in_exec.one_line() == "Conflict: another sync is running in this workspace"
    assert failed.error_in_exec.hint == ("Wait for it to finish (in another kernel or terminal), then run "
                                         "agnes.sync() again. A sync that was killed releases the lock by itself.")
    shown = capsys.readouterr().out
    assert "Traceback" not in shown
    assert "hint: Wait for it to finish" in shown
