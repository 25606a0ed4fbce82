"""STREAM: pushed changes (Jira webhooks) applied to extracted tables as month-partitioned delta
files, visible through the extract's views at once, compacted into the next run's file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from agnes_core.core import AgnesCore
from agnes_core.errors import NotFound
from agnes_core.extract import stream as stream_mod
from agnes_core.extract.stream import StreamRuntime
from tests import _jira
from tests._jira import Issue, JiraSite, make_issue, serve

ENV = {"AGNES_T_JIRA_EMAIL": _jira.EMAIL, "AGNES_T_JIRA_TOKEN": _jira.TOKEN}
TABLES = ("issues", "comments", "attachments", "issue_links")


@pytest.fixture
def site() -> Iterator[JiraSite]:
    with serve(JiraSite([make_issue(n) for n in range(30)])) as running:
        yield running


@pytest.fixture
def core(tmp_path: Path, site: JiraSite, monkeypatch: pytest.MonkeyPatch) -> Iterator[AgnesCore]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    c = AgnesCore(tmp_path / "data")
    c.registry.add_source({"name": "jira", "type": "jira",
                           "options": {"site": site.url, "retry_base_seconds": 0.001},
                           "secrets": {"email": "AGNES_T_JIRA_EMAIL", "api_token": "AGNES_T_JIRA_TOKEN"}})
    for name in TABLES:
        c.registry.register_table({"id": f"jira_{name}", "source": "jira", "source_table": name,
                                   "query_mode": "local"})
        assert c.extracts.run(f"jira_{name}")["status"] == "succeeded"
    yield c
    c.close()


def at(minutes: int) -> datetime:
    return datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc) + timedelta(minutes=minutes)


def changed(n: int, minutes: int, status: str = "Done") -> Issue:
    """Issue ``n`` as a later edit leaves it (its status and ``updated`` changed)."""
    issue = make_issue(n)
    issue.fields["status"] = {"id": "3", "name": status, "statusCategory": {"key": "done", "name": "Done"}}
    issue.fields["updated"] = _jira.jira_time(at(minutes))
    return issue


def push(core: AgnesCore, payload: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    connector = core.connector("jira")
    try:
        return core.extracts.stream.push("jira", connector, headers or {}, json.dumps(payload).encode())
    finally:
        connector.close()


def ms(minutes: int) -> int:
    return int(at(minutes).timestamp() * 1000)


def query(core: AgnesCore, sql: str, db: str = "extract") -> list[tuple[Any, ...]]:
    path = core.data_dir / "extracts" / "jira" / "extract.duckdb" if db == "extract" \
        else core.data_dir / "analytics.duckdb"
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def deltas(core: AgnesCore, table: str = "jira_issues") -> list[Path]:
    folder = core.data_dir / "extracts" / "jira" / "stream" / table
    return sorted(p for p in folder.rglob("*.parquet") if p.parent.name != "0000-00")


def test_an_update_is_visible_through_the_extract_views_at_once(core: AgnesCore) -> None:
    result = push(core, _jira.webhook("jira:issue_updated", changed(4, 10), timestamp=ms(10)))
    assert result["applied"] >= 1
    assert "jira_issues" in result["tables"]
    assert query(core, "SELECT status FROM jira_issues WHERE key = 'ENG-4'") == [("Done",)]
    assert query(core, "SELECT count(*) FROM jira_issues") == [(30,)]
    assert query(core, "SELECT status FROM jira_issues WHERE key = 'ENG-4'", db="analytics") == [("Done",)]
    files = deltas(core)
    assert [p.parent.name for p in files] == ["2026-06"]  # month partition of the row's version
    assert not list((core.data_dir / "extracts").rglob("*.tmp"))


def test_a_replayed_event_is_applied_once(core: AgnesCore) -> None:
    payload = _jira.webhook("jira:issue_updated", changed(4, 10), timestamp=ms(10))
    headers = {"X-Atlassian-Webhook-Identifier": "evt-1"}
    first = push(core, payload, headers)
    again = push(core, payload, headers)
    assert first["applied"] >= 1
    assert (again["applied"], again["duplicates"]) == (0, len(first["tables"]))
    assert len(deltas(core)) == 1


def test_an_event_older_than_the_row_is_ignored(core: AgnesCore) -> None:
    push(core, _jira.webhook("jira:issue_updated", changed(4, 20, "Done"), timestamp=ms(20)))
    late = push(core, _jira.webhook("jira:issue_updated", changed(4, 10, "In Progress"), timestamp=ms(10)))
    assert late["applied"] == 0
    assert late["stale"] >= 1
    assert query(core, "SELECT status FROM jira_issues WHERE key = 'ENG-4'") == [("Done",)]


def test_an_event_older_than_the_extracted_row_is_ignored(core: AgnesCore) -> None:
    old = make_issue(4)
    old.fields["status"] = {"id": "9", "name": "Reopened"}
    old.fields["updated"] = _jira.jira_time(_jira.BASE_TIME)  # before what the extract read
    result = push(core, _jira.webhook("jira:issue_updated", old, timestamp=ms(1)))
    assert result["applied"] == 0
    assert query(core, "SELECT status FROM jira_issues WHERE key = 'ENG-4'") == [("In Progress",)]


def test_a_deleted_issue_leaves_every_table(core: AgnesCore) -> None:
    before = query(core, "SELECT count(*) FROM jira_issue_links WHERE issue_key = 'ENG-6'")
    assert before == [(1,)]
    push(core, _jira.webhook("jira:issue_deleted", make_issue(6), timestamp=ms(30)))
    assert query(core, "SELECT count(*) FROM jira_issues WHERE key = 'ENG-6'") == [(0,)]
    assert query(core, "SELECT count(*) FROM jira_issues") == [(29,)]
    assert query(core, "SELECT count(*) FROM jira_attachments WHERE issue_key = 'ENG-6'") == [(0,)]
    assert query(core, "SELECT count(*) FROM jira_issue_links WHERE issue_key = 'ENG-6'") == [(0,)]
    assert query(core, "SELECT count(*) FROM jira_comments WHERE issue_key = 'ENG-6'") == [(0,)]


def test_a_removed_link_is_deleted_and_a_new_attachment_added(core: AgnesCore) -> None:
    issue = changed(6, 15)
    issue.links = []
    issue.attachments.append({**issue.attachments[0], "id": "99006", "filename": "log.txt"})
    push(core, _jira.webhook("jira:issue_updated", issue, timestamp=ms(15)))
    assert query(core, "SELECT count(*) FROM jira_issue_links WHERE issue_key = 'ENG-6'") == [(0,)]
    assert query(core, "SELECT filename FROM jira_attachments WHERE issue_key = 'ENG-6' ORDER BY id") == [
        ("screenshot-6.png",), ("log.txt",)]


def test_comments_are_created_edited_and_deleted(core: AgnesCore) -> None:
    issue = make_issue(2)
    comment = {"id": "777", "author": _jira.user(1), "body": _jira.adf("New finding"),
               "created": _jira.jira_time(at(1)), "updated": _jira.jira_time(at(1))}
    push(core, _jira.webhook("comment_created", issue, timestamp=ms(1), comment=comment))
    assert query(core, "SELECT body, author FROM jira_comments WHERE id = 777") == [("New finding", "Grace Hopper")]
    edited = {**comment, "body": _jira.adf("Edited finding"), "updated": _jira.jira_time(at(5))}
    push(core, _jira.webhook("comment_updated", issue, timestamp=ms(5), comment=edited))
    assert query(core, "SELECT body FROM jira_comments WHERE id = 777") == [("Edited finding",)]
    push(core, _jira.webhook("comment_deleted", issue, timestamp=ms(6), comment={"id": "777"}))
    assert query(core, "SELECT count(*) FROM jira_comments WHERE id = 777") == [(0,)]
    push(core, _jira.webhook("comment_deleted", issue, timestamp=ms(7), comment={"id": "200"}))
    assert query(core, "SELECT count(*) FROM jira_comments WHERE issue_key = 'ENG-2'") == [(1,)]


def test_the_next_run_compacts_deltas_into_its_file(core: AgnesCore, site: JiraSite) -> None:
    push(core, _jira.webhook("jira:issue_updated", changed(4, 10), timestamp=ms(10)))
    push(core, _jira.webhook("jira:issue_deleted", make_issue(6), timestamp=ms(30)))
    newer = changed(5, 40, "Blocked")  # the source moved on past what its webhook said
    site.issues[5] = newer
    push(core, _jira.webhook("jira:issue_updated", changed(5, 35, "Done"), timestamp=ms(35)))
    run = core.extracts.run("jira_issues")
    assert run["status"] == "succeeded"
    main = core.extracts.sync_state("jira_issues")["path"]
    con = duckdb.connect()
    rows = dict(con.execute(f"SELECT key, status FROM read_parquet('{main}')").fetchall())
    con.close()
    assert (rows["ENG-4"], rows["ENG-5"], "ENG-6" in rows) == ("Done", "Blocked", False)
    assert run["rows"] == 29
    assert deltas(core) != []  # the merged generation stays for readers of the previous extract
    assert query(core, "SELECT count(*) FROM jira_issues") == [(29,)]
    push(core, _jira.webhook("jira:issue_updated", changed(7, 50), timestamp=ms(50)))
    assert core.extracts.run("jira_issues")["status"] == "succeeded"
    assert len(deltas(core)) == 1  # older generations are gone; the last merged one is kept
    assert query(core, "SELECT status FROM jira_issues WHERE key = 'ENG-7'") == [("Done",)]


def test_a_change_of_an_unregistered_table_is_not_found(core: AgnesCore) -> None:
    core.registry.delete_table("jira_comments")
    with pytest.raises(NotFound) as err:
        push(core, _jira.webhook("comment_created", make_issue(2), timestamp=ms(1),
                                 comment={"id": "5", "created": _jira.jira_time(at(1))}))
    assert err.value.hint


def test_a_crash_between_write_and_rename_leaves_readable_tables_and_no_partial_file(
        core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(tmp: Path, target: Path) -> None:
        raise OSError("disk vanished")

    monkeypatch.setattr(stream_mod, "_rename", crash)
    with pytest.raises(OSError, match="disk vanished"):
        push(core, _jira.webhook("jira:issue_updated", changed(4, 10), timestamp=ms(10)))
    assert not list((core.data_dir / "extracts").rglob("*.tmp"))
    assert deltas(core) == []
    assert query(core, "SELECT status FROM jira_issues WHERE key = 'ENG-4'") == [("In Progress",)]
    monkeypatch.undo()
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    push(core, _jira.webhook("jira:issue_updated", changed(4, 10), timestamp=ms(10)))
    assert query(core, "SELECT status FROM jira_issues WHERE key = 'ENG-4'") == [("Done",)]


def test_concurrent_pushes_are_all_applied(core: AgnesCore) -> None:
    errors: list[BaseException] = []

    def send(worker: int) -> None:
        try:
            for i in range(10):
                n = (worker * 10 + i) % 30
                push(core, _jira.webhook("comment_created", make_issue(n), timestamp=ms(i),
                                         comment={"id": str(90000 + worker * 100 + i), "body": _jira.adf("x"),
                                                  "created": _jira.jira_time(at(i))}))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert query(core, "SELECT count(*) FROM jira_comments WHERE id >= 90000") == [(40,)]
    live = _state(core, "jira_comments")["live"]
    files = [str(p) for p in deltas(core, "jira_comments") if p.parent.parent.name in {f"g{g}" for g in live}]
    seqs = duckdb.connect().execute(  # (a fold's file repeats the deltas it replaces, same seq and all)
        f"SELECT count(DISTINCT (_agnes_seq, id)), count(DISTINCT _agnes_seq) FROM read_parquet({files})").fetchone()
    assert seqs == (40, 40)  # one delta per comment, each with its own place in the order


def _state(core: AgnesCore, table: str) -> dict[str, Any]:
    return json.loads((core.data_dir / "extracts" / "jira" / "stream" / table / "stream.json").read_text())


def test_many_small_delta_files_are_folded_and_readers_keep_seeing_every_change(
        core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_mod, "FOLD_AT", 3)
    monkeypatch.setattr(stream_mod, "FOLD_EVERY_S", 0.0)
    monkeypatch.setattr(stream_mod, "RETIRE_AFTER_S", 0.0)  # replaced generations go at the next write
    for i in range(8):
        push(core, _jira.webhook("jira:issue_updated", changed(i, 10 + i, f"S{i}"), timestamp=ms(10 + i)))
        core.extracts.stream.settle()  # folds run on their own thread
    state = _state(core, "jira_issues")
    assert state["live"][0] > 1  # folded into a new generation, which the views read
    assert state["write"] == state["live"][-1]
    live_files = [p for p in deltas(core) if p.parent.parent.name == f"g{state['live'][0]}"]
    assert len(live_files) < 8
    assert any("-fold-" in p.name for p in live_files)
    assert query(core, "SELECT key, status FROM jira_issues WHERE status LIKE 'S%' ORDER BY id") == [
        (f"ENG-{i}", f"S{i}") for i in range(8)]
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'S%'", db="analytics") == [(8,)]
    gens = {p.name for p in (core.data_dir / "extracts" / "jira" / "stream" / "jira_issues").glob("g*")}
    assert len(gens) <= 2  # the live generation, and at most the one it replaced
    assert core.extracts.run("jira_issues")["status"] == "succeeded"
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'S%'") == [(8,)]


def test_files_a_fold_replaced_are_deleted_only_once_readers_had_time_to_open_them(
        core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_mod, "FOLD_AT", 2)
    monkeypatch.setattr(stream_mod, "RETIRE_AFTER_S", 3600.0)
    for i in range(2):
        push(core, _jira.webhook("jira:issue_updated", changed(i, 10 + i, f"S{i}"), timestamp=ms(10 + i)))
    core.extracts.stream.settle()
    replaced = [p for p in deltas(core) if "-fold-" not in p.name]
    assert len(replaced) == 2  # folded, and kept for a reader that listed them before the fold
    monkeypatch.setattr(stream_mod, "FOLD_AT", 100)  # no second fold: only the grace time deletes them
    push(core, _jira.webhook("jira:issue_updated", changed(2, 12, "S2"), timestamp=ms(12)))
    assert all(p.exists() for p in replaced)  # not yet: the grace time has not passed
    monkeypatch.setattr(stream_mod, "RETIRE_AFTER_S", 0.0)
    push(core, _jira.webhook("jira:issue_updated", changed(3, 13, "S3"), timestamp=ms(13)))
    assert not any(p.exists() for p in replaced)
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'S%'") == [(4,)]


def test_replays_are_recognised_after_a_restart(core: AgnesCore, tmp_path: Path) -> None:
    payload = _jira.webhook("comment_created", make_issue(2), timestamp=ms(1),
                            comment={"id": "4242", "body": _jira.adf("once"), "created": _jira.jira_time(at(1))})
    headers = {"X-Atlassian-Webhook-Identifier": "evt-restart"}
    assert push(core, payload, headers)["applied"] == 1
    core.close()
    again = AgnesCore(tmp_path / "data")
    try:
        assert push(again, payload, headers)["duplicates"] == 1
        assert query(again, "SELECT count(*) FROM jira_comments WHERE id = 4242") == [(1,)]
    finally:
        again.close()


def test_a_large_main_extract_is_looked_up_in_the_file(core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_mod, "INDEX_ROWS", 10)  # the main extract (30 rows) is not indexed in memory
    old = make_issue(4)
    old.fields["status"] = {"id": "9", "name": "Reopened"}
    old.fields["updated"] = _jira.jira_time(_jira.BASE_TIME)
    assert push(core, _jira.webhook("jira:issue_updated", old, timestamp=ms(1)))["applied"] == 0
    assert push(core, _jira.webhook("jira:issue_updated", changed(4, 10), timestamp=ms(10)))["stale"] == 0
    assert query(core, "SELECT status FROM jira_issues WHERE key = 'ENG-4'") == [("Done",)]


def test_a_sync_gets_the_extract_with_pushed_rows_and_the_extract_itself_when_that_fails(
        core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    state = core.extracts.sync_state("jira_issues")
    assert state is not None
    assert core.extracts.synced_state("jira_issues") == state  # nothing pushed: the extract itself
    before = dict(zip(*pq.read_table(state["path"], columns=["key", "status"]).to_pydict().values(), strict=True))
    assert before["ENG-4"] != "Done"
    push(core, _jira.webhook("jira:issue_updated", changed(4, 30), timestamp=ms(30)))
    synced = core.extracts.synced_state("jira_issues")
    assert synced is not None
    assert synced["path"] != state["path"]
    statuses = dict(zip(*pq.read_table(synced["path"], columns=["key", "status"]).to_pydict().values(), strict=True))
    assert statuses["ENG-4"] == "Done"

    def broken(table_id: str, st: dict[str, Any]) -> dict[str, Any]:
        raise OSError("disk full")

    monkeypatch.setattr(core.extracts.stream, "synced", broken)
    assert core.extracts.synced_state("jira_issues") == state  # the changes come with the next run instead


def test_writes_go_on_while_a_fold_runs_and_the_next_run_merges_after_it(
        core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_mod, "FOLD_AT", 2)
    started, release = threading.Event(), threading.Event()
    order: list[str] = []
    fold_files = StreamRuntime._fold_files

    def held_fold(self: StreamRuntime, ts: Any, files: list[Path], generation: int) -> int:
        if ts.table.id != "jira_issues":  # the webhook changes other tables too: their folds pass
            return fold_files(self, ts, files, generation)
        started.set()
        assert release.wait(30)
        written = fold_files(self, ts, files, generation)
        order.append("fold")
        return written

    merge = stream_mod._merge

    def recorded_merge(folder: Path, *args: Any) -> Any:
        if folder.name == "jira_issues":
            order.append("merge")
        return merge(folder, *args)

    monkeypatch.setattr(StreamRuntime, "_fold_files", held_fold)
    monkeypatch.setattr(stream_mod, "_merge", recorded_merge)
    for i in range(2):
        push(core, _jira.webhook("jira:issue_updated", changed(i, 10 + i, f"S{i}"), timestamp=ms(10 + i)))
    assert started.wait(30), "no fold started"
    for i in range(2, 6):  # the fold is held: pushes are not
        push(core, _jira.webhook("jira:issue_updated", changed(i, 10 + i, f"S{i}"), timestamp=ms(10 + i)))
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'S%'") == [(6,)]
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(core.extracts.run("jira_issues")))
    runner.start()
    release.set()
    runner.join(60)
    assert result.get("status") == "succeeded", result
    assert order == ["fold", "merge"]  # the run's merge never overlaps a fold
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'S%'") == [(6,)]


def test_files_a_fold_replaced_go_after_their_grace_time_without_another_push(
        core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_mod, "FOLD_AT", 2)
    monkeypatch.setattr(stream_mod, "RETIRE_AFTER_S", 0.2)
    replaced: list[Path] = []
    fold_files = StreamRuntime._fold_files

    def recorded(self: StreamRuntime, ts: Any, files: list[Path], generation: int) -> int:
        if ts.table.id == "jira_issues":
            replaced.extend(files)
        return fold_files(self, ts, files, generation)

    monkeypatch.setattr(StreamRuntime, "_fold_files", recorded)
    for i in range(2):
        push(core, _jira.webhook("jira:issue_updated", changed(i, 10 + i, f"S{i}"), timestamp=ms(10 + i)))
    core.extracts.stream.settle()
    assert len(replaced) == 2
    with core.extracts.stream.lock("jira"):
        timer = core.extracts.stream._tables["jira_issues"].expiry
    if timer is not None:  # else it has run already
        timer.join(30)  # the burst is over: nothing else is pushed
    assert not any(p.exists() for p in replaced)
    assert [p for p in deltas(core) if "-fold-" in p.name]
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'S%'") == [(2,)]


def test_readers_of_the_views_never_miss_a_file_while_pushes_and_folds_go_on(
        core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_mod, "FOLD_AT", 2)
    monkeypatch.setattr(stream_mod, "FOLD_EVERY_S", 0.0)
    monkeypatch.setattr(stream_mod, "RETIRE_AFTER_S", 0.5)  # far longer than a read of a few files
    done = threading.Event()
    reads: list[int] = []
    errors: list[BaseException] = []

    main = core.extracts.sync_state("jira_issues")["path"]

    def reader(through_view: bool) -> None:
        # One reads the view in extract.duckdb; the other what a view holds, built afresh each
        # time (two DuckDB instances of one file in one process would meet DuckDB's own cache).
        while not done.is_set():
            try:
                if through_view:
                    reads.append(query(core, "SELECT count(*) FROM jira_issues")[0][0])
                else:
                    con = duckdb.connect()
                    try:
                        sql = stream_mod.overlay_sql("jira_issues", main)
                        reads.append(con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0])
                    finally:
                        con.close()
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
                return

    def sender(worker: int) -> None:
        try:
            for i in range(40):
                n = worker * 40 + i
                body = _jira.webhook("jira:issue_updated", changed(n % 30, 100 + n, f"R{n}"), timestamp=ms(100 + n))
                push(core, body)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    readers = [threading.Thread(target=reader, args=(v,)) for v in (True, False)]
    senders = [threading.Thread(target=sender, args=(w,)) for w in range(3)]
    for th in readers + senders:
        th.start()
    for th in senders:
        th.join()
    core.extracts.stream.settle()
    done.set()
    for th in readers:
        th.join()
    assert errors == []
    assert reads
    assert set(reads) == {30}  # every read saw the whole table, never a missing file
    generations = _state(core, "jira_issues")["live"][0]
    assert generations > 1, "no fold ran while the readers read"
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'R%'") == [(30,)]


def test_a_fold_that_fails_midway_leaves_every_change_readable_and_the_next_fold_finishes(
        core: AgnesCore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(stream_mod, "FOLD_AT", 2)
    monkeypatch.setattr(stream_mod, "FOLD_EVERY_S", 0.0)
    fold_files = StreamRuntime._fold_files

    def broken(self: StreamRuntime, ts: Any, files: list[Path], generation: int) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(StreamRuntime, "_fold_files", broken)
    for i in range(2):
        push(core, _jira.webhook("jira:issue_updated", changed(i, 10 + i, f"S{i}"), timestamp=ms(10 + i)))
    core.extracts.stream.settle()
    assert "folding the pushed changes of jira_issues failed" in caplog.text
    assert len(_state(core, "jira_issues")["live"]) == 2  # the new generation joined, nothing moved
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'S%'") == [(2,)]
    assert not list((core.data_dir / "extracts").rglob("*.tmp"))
    monkeypatch.setattr(StreamRuntime, "_fold_files", fold_files)
    push(core, _jira.webhook("jira:issue_updated", changed(2, 12, "S2"), timestamp=ms(12)))
    core.extracts.stream.settle()
    state = _state(core, "jira_issues")
    assert len(state["live"]) == 1
    assert state["write"] == state["live"][0]
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'S%'") == [(3,)]
    assert core.extracts.run("jira_issues")["status"] == "succeeded"
    assert query(core, "SELECT count(*) FROM jira_issues WHERE status LIKE 'S%'") == [(3,)]


def test_a_file_linked_into_a_new_generation_is_copied_whole_where_links_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "g1" / "2026-06" / "000000000001-aa.parquet"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"PAR1 delta PAR1")

    def refused(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(stream_mod.os, "link", refused)
    target = tmp_path / "g2" / "2026-06" / source.name
    stream_mod._link(source, target)
    assert target.read_bytes() == source.read_bytes()
    assert not list(target.parent.glob(".*.tmp"))
