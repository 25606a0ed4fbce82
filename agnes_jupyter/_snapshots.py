"""Snapshots: a gated scan's result kept in the workspace with its lineage; list, refresh, drop,
prune, and the workspace's disk use against its cap."""

from __future__ import annotations

import os
import re
import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._collection import Collection
from ._display import esc, human_age, human_bytes, human_count, tone_colour
from ._estimate import scan_request
from ._progress import Progress
from ._scans import _stream_to_parquet, admit
from ._workspace import Workspace, atomic_write_json, check_name, workspace
from .errors import NotFound, SnapshotExists, ValidationError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from ._client import Client

DEFAULT_DISK_CAP = 10 * 1024**3
DISK_CAP_ENV = "AGNES_DISK_CAP_BYTES"



def _content_hash(path: Path) -> tuple[int, str]:
    """(rows, an order-independent hash of every row), computed by DuckDB."""
    import duckdb

    con = duckdb.connect()
    try:
        row = con.execute("SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR FROM read_parquet(?) t",
                          [str(path)]).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), str(row[1])


def _snapshot_info(meta: dict[str, Any]) -> str:
    return f"{human_age(meta.get('created_at')).replace(' ago', '')} old, {meta.get('rows', 0):,} rows"


def snapshot(expr_or_sql: Any, name: str, confirm: bool | None = None, force: bool = False,
             progress: bool = True, max_age: str | timedelta | None = None) -> ir.Table:
    """Run a gated scan and keep its result as ``snapshots/<name>.parquet`` (with
    ``<name>.meta.json``); returns an ibis table over it in the workspace DuckDB.

    Re-running a notebook is safe: when ``name`` exists with the same query it is returned as it
    is (and refreshed when older than ``max_age``, e.g. ``"1d"``); a different query under the
    same name is refused unless ``force=True``."""
    ws = workspace()
    existing = check_target(ws, name)
    body = scan_request(expr_or_sql)
    if existing is not None and not force:
        if _same_request(existing.get("request"), body):
            age = datetime.now(timezone.utc) - datetime.fromisoformat(existing["created_at"])
            if max_age is None or age <= parse_age(max_age):
                print(f"snapshot {name!r} already holds this query ({_snapshot_info(existing)}): using it"
                      + ("" if max_age is not None else f"; agnes.refresh_snapshot({name!r}) runs it again"))
                return ws.con.table(name)
            print(f"snapshot {name!r} is {_snapshot_info(existing)}, older than max_age={max_age}: refreshing it")
        else:
            raise SnapshotExists(f"snapshot {name!r} already exists with a different query "
                                 f"({_snapshot_info(existing)})",
                                 hint=f"pass force=True (--force) to replace it, choose another name, or "
                                      f"agnes.refresh_snapshot({name!r}) to re-run its own query",
                                 details={"name": name})
    meta = _run_snapshot(ws, name, body, confirm, progress)
    _say(meta)
    return ws.con.table(name)


def check_target(ws: Workspace, name: Any) -> dict[str, Any] | None:
    """Whether ``name`` can hold a snapshot in ``ws``: a valid name that is not a synced table's.
    Returns the meta of the snapshot it holds already, if any."""
    check_name(name)
    if name in ws.shared_tables():
        raise ValidationError(f"{name!r} is the name of a synced table", hint="Choose another snapshot name.",
                              details={"field": "name"})
    return ws.snapshot_meta(name)


def _same_request(old: Any, new: dict[str, Any]) -> bool:
    def norm(body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        return {k: (" ".join(v.split()) if isinstance(v, str) else v) for k, v in body.items() if k != "confirm"}

    return bool(norm(old) == norm(new))


def _run_snapshot(ws: Workspace, name: str, body: dict[str, Any], confirm: bool | None,
                  progress: Progress, *, client: Client | None = None) -> dict[str, Any]:
    """Admit, scan and write ``snapshots/<name>.parquet`` with its meta; the meta. Each table's
    lineage keeps the metadata the scan was admitted on (freshness, refreshed_at, rows), so a
    later change of the table at its source can be told (see the workspace routes' ``stale``)."""
    target = ws.snapshot_path(name)
    confirmed = admit([body], confirm, client=client, progress=progress)
    record = _stream_to_parquet(body, target, confirmed, f"snapshot {name}", progress, client=client)
    est = record["estimate"]  # what the gate admitted the scan on (no second estimate)
    meta = {
        "name": name, "request": body, "sql": est["sql"], "dialect": est["dialect"], "source": est["source"],
        "tables": [{"id": t["id"], "freshness": t["freshness"], "refreshed_at": t["refreshed_at"],
                    "rows": t.get("rows")} for t in est["tables"]],
        "estimate": {"scan_bytes": est["scan_bytes"], "result_rows": est["result_rows"],
                     "result_bytes": est["result_bytes"], "compressed_bytes": est.get("compressed_bytes")},
        "actual": {"rows": record["rows"], "result_bytes": record["bytes"], "scanned_bytes": record["scanned_bytes"],
                   "scanned_bytes_origin": record.get("scanned_bytes_origin"), "duration_ms": record["duration_ms"],
                   "billed_bytes": record.get("billed_bytes"), "cache_hit": record.get("cache_hit"),
                   "source_job_id": record.get("source_job_id")},
        "rows": record["rows"], "file_bytes": target.stat().st_size, "truncated": bool(record["truncated"]),
        "truncated_reason": record.get("truncated_reason"), "scan_id": record["scan_id"],
        "created_at": datetime.now(timezone.utc).isoformat(),
    }
    atomic_write_json(ws.meta_path(name), meta)
    ws.refresh_views()
    return meta


def _say(meta: dict[str, Any]) -> None:
    actual = meta["actual"]
    amount = human_bytes(actual["scanned_bytes"])
    if actual.get("scanned_bytes_origin") == "billed":
        charged = f"billed {amount}" + (", answered from the source's query cache" if actual.get("cache_hit") else "")
    else:
        charged = f"scanned {amount}"
    line = f"snapshot {meta['name']!r}: {meta['rows']:,} rows, {human_bytes(meta['file_bytes'])} on disk ({charged})"
    print(line)
    if meta["truncated"]:
        text = (f"snapshot {meta['name']!r} is TRUNCATED at {meta['rows']:,} rows: the result reached "
                f"{meta['truncated_reason']}. Narrow the query to get every row.")
        print(text, file=sys.stderr)
        warnings.warn(text, stacklevel=3)


class SnapshotList(Collection[dict[str, Any]]):
    """Your snapshots: rows, size, age and the tables they came from."""

    noun = "snapshot"
    key = "name"
    headers = ("name", "rows", "size", "created", "tables", "")
    empty = "no snapshots yet — agnes.snapshot(expr, name=...) makes one"
    pandas_columns = ("name", "rows", "file_bytes", "created_at", "truncated", "sql")

    def __init__(self, metas: list[dict[str, Any]]) -> None:
        super().__init__(metas)
        self.metas = metas

    @property
    def names(self) -> list[str]:
        return self.ids

    def _rows(self) -> list[list[str]]:
        return [[m["name"], human_count(m["rows"]), human_bytes(m["file_bytes"]), human_age(m["created_at"]),
                 ", ".join(t["id"] for t in m["tables"]), "truncated" if m["truncated"] else ""]
                for m in self.metas]


def snapshots() -> SnapshotList:
    return SnapshotList(snapshot_metas(workspace()))


def snapshot_metas(ws: Workspace) -> list[dict[str, Any]]:
    """The meta of every snapshot in ``ws``, by name."""
    return [m for n in ws.snapshot_names() if (m := ws.snapshot_meta(n)) is not None]


class RefreshReport:
    def __init__(self, name: str, before: dict[str, Any], after: dict[str, Any], same: bool) -> None:
        self.name = name
        self.before = before
        self.after = after
        self._same = same

    @property
    def identical(self) -> bool:
        """Whether the new file holds exactly the old rows (an order-independent hash of every row)."""
        return self._same and self.before["rows"] == self.after["rows"]

    def __repr__(self) -> str:
        b, a = self.before, self.after
        same = "identical content" if self.identical else "content changed"
        return (f"snapshot {self.name!r} refreshed: {b['rows']:,} → {a['rows']:,} rows, "
                f"{human_bytes(b['file_bytes'])} → {human_bytes(a['file_bytes'])} ({same})")


def refresh_snapshot(name: str, confirm: bool | None = None, progress: bool = True) -> RefreshReport:
    """Run a snapshot's query again and replace it; says what changed."""
    report = run_refresh(workspace(), name, confirm, progress)
    if report.after["truncated"]:
        _say(report.after)
    return report


def existing_snapshot(ws: Workspace, name: Any) -> dict[str, Any]:
    """The meta of snapshot ``name`` in ``ws``, or NotFound."""
    meta = ws.snapshot_meta(check_name(name))
    if meta is None:
        raise NotFound(f"no snapshot {name!r}", hint="agnes.snapshots() lists them.", details={"name": name})
    return meta


def run_refresh(ws: Workspace, name: str, confirm: bool | None, progress: Progress, *,
                client: Client | None = None) -> RefreshReport:
    """Run snapshot ``name``'s own query again in ``ws`` and replace it; what changed."""
    before = existing_snapshot(ws, name)
    old_hash = _content_hash(ws.snapshot_path(name))[1] if ws.snapshot_path(name).exists() else None
    after = _run_snapshot(ws, name, before["request"], confirm, progress, client=client)
    return RefreshReport(name, before, after, same=old_hash == _content_hash(ws.snapshot_path(name))[1])


def drop_snapshot(name: str) -> None:
    remove_snapshot(workspace(), name)


def remove_snapshot(ws: Workspace, name: str) -> None:
    """Remove snapshot ``name`` from ``ws`` (NotFound when there is none)."""
    existing_snapshot(ws, name)
    ws.meta_path(name).unlink()  # first: without its meta the file is no longer a snapshot
    ws.snapshot_path(name).unlink(missing_ok=True)
    ws.refresh_views()


_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)


def parse_age(value: str | timedelta) -> timedelta:
    if isinstance(value, timedelta):
        return value
    m = _AGE_RE.match(str(value))
    if m is None:
        raise ValidationError(f"cannot read the age {value!r}", hint="e.g. '7d', '12h', '30m' or a timedelta")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2).lower()]
    return timedelta(seconds=float(m.group(1)) * unit)


def parse_size(value: str | int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE_RE.match(str(value))
    if m is None:
        raise ValidationError(f"cannot read the size {value!r}", hint="e.g. '1g', '500m', '2GiB' or bytes")
    return int(float(m.group(1)) * 1024 ** " kmgt".index((m.group(2) or " ").lower()))


class PruneReport:
    def __init__(self, removed: list[dict[str, Any]], dry_run: bool) -> None:
        self.removed = removed
        self.dry_run = dry_run

    @property
    def names(self) -> list[str]:
        return [m["name"] for m in self.removed]

    @property
    def freed_bytes(self) -> int:
        return sum(int(m["file_bytes"]) for m in self.removed)

    def __repr__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        if not self.removed:
            return "no snapshot matches"
        return f"{verb} {len(self.removed)} snapshot(s), {human_bytes(self.freed_bytes)}: {', '.join(self.names)}"


def prune_snapshots(older_than: str | timedelta | None = None, larger_than: str | int | None = None,
                    dry_run: bool = False) -> PruneReport:
    """Remove snapshots older than an age and/or larger than a size. With neither it refuses."""
    if older_than is None and larger_than is None:
        raise ValidationError("prune_snapshots needs older_than and/or larger_than",
                              hint="e.g. agnes.prune_snapshots(older_than='7d'); it never removes everything by "
                                   "default. agnes.drop_snapshot(name) removes one.")
    age = parse_age(older_than) if older_than is not None else None
    size = parse_size(larger_than) if larger_than is not None else None
    now = datetime.now(timezone.utc)
    chosen = []
    for meta in snapshots():
        created = datetime.fromisoformat(meta["created_at"])
        if age is not None and now - created <= age:
            continue
        if size is not None and meta["file_bytes"] <= size:
            continue
        chosen.append(meta)
    if not dry_run:
        for meta in chosen:
            drop_snapshot(meta["name"])
    return PruneReport(chosen, dry_run)


class DiskInfo:
    def __init__(self, root: Path, usage: dict[str, int], cap: int) -> None:
        self.root = root
        self.usage = usage
        self.cap = cap

    @property
    def used_bytes(self) -> int:
        return sum(self.usage.values())

    @property
    def over(self) -> bool:
        return self.used_bytes > self.cap

    def to_json(self) -> dict[str, Any]:
        return {"used_bytes": self.used_bytes, "cap_bytes": self.cap, "snapshots_bytes": self.usage["snapshots"],
                "data_bytes": self.usage["data"], "over": self.over}

    def __repr__(self) -> str:
        share = self.used_bytes / self.cap * 100 if self.cap else 0
        text = (f"workspace {self.root}: {human_bytes(self.used_bytes)} of {human_bytes(self.cap)} ({share:.0f}%) — "
                f"snapshots {human_bytes(self.usage['snapshots'])}, synced data {human_bytes(self.usage['data'])}")
        return text + ("\nOVER THE CAP: agnes.prune_snapshots(older_than='7d') frees space" if self.over else "")

    def _repr_html_(self) -> str:
        share = min(self.used_bytes / self.cap, 1.0) * 100 if self.cap else 0
        colour = tone_colour("error" if self.over else ("warn" if share > 80 else "success"))
        track = "var(--jp-layout-color3, rgba(128,128,128,.25))"
        return (f'<div class="agnes-disk"><b>Workspace disk</b> {esc(human_bytes(self.used_bytes))} of '
                f'{esc(human_bytes(self.cap))}'
                f'<div style="height:10px;width:320px;background:{track};border-radius:5px">'
                f'<div style="height:10px;width:{share:.1f}%;background:{colour};border-radius:5px"></div></div>'
                f'<small>snapshots {esc(human_bytes(self.usage["snapshots"]))}, synced data '
                f'{esc(human_bytes(self.usage["data"]))} — {esc(self.root)}</small></div>')


def disk_info(cap: int | str | None = None) -> DiskInfo:
    """Disk used by the workspace against a local cap (``$AGNES_DISK_CAP_BYTES``, default 10 GiB);
    warns when over."""
    info = workspace_disk(workspace(), cap)
    if info.over:
        warnings.warn(f"the Agnes workspace uses {human_bytes(info.used_bytes)}, over its {human_bytes(info.cap)} "
                      "cap; agnes.prune_snapshots(...) frees space", stacklevel=2)
    return info


def workspace_disk(ws: Workspace, cap: int | str | None = None) -> DiskInfo:
    """Disk used by ``ws`` against the cap (``$AGNES_DISK_CAP_BYTES``, default 10 GiB)."""
    limit = parse_size(cap if cap is not None else os.environ.get(DISK_CAP_ENV, DEFAULT_DISK_CAP))
    return DiskInfo(ws.root, ws.usage_bytes(), limit)
