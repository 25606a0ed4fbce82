"""``agnes.sync()``: bring the workspace's ``data/`` in step with the sync manifest (the tables
of My Stack the user may read).

Each table is stored once, ``data/_shared/<id>.parquet``, and hard-linked into
``data/<package>/<id>.parquet`` for every package of the stack that holds it (``data/`` is
owned by sync). A download goes to ``data/_shared/.<id>.<md5>.part``, is resumed with a
``Range`` request after an interruption, and is verified against the manifest's md5 before it
is renamed into place: a ``*.parquet`` never holds unverified bytes.

One sync per workspace at a time: ``.sync.lock`` is held with ``flock`` for the whole sync, and
the kernel releases it when the process dies, so a killed sync never blocks the next one.
``sync_state.json`` is also written by on-demand downloads (``agnes.table``), so every
read-modify-write of it happens under a second, short lock (:func:`update_state`).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._client import current as _client
from ._display import badge, esc, html_table, human_bytes
from ._download import PART_RE, Downloads, run_downloads, sync_lock, update_state
from ._progress import Progress, byte_bar, step
from ._workspace import NAME_RE, Workspace, workspace
from .errors import AgnesError, ValidationError

if TYPE_CHECKING:

    from ._client import Client

PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MD5_RE = re.compile(r"^[0-9a-f]{32}$")


# -- the report ------------------------------------------------------------------------------------


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


@dataclass(repr=False)
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do). Lists hold table ids."""

    downloaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped_remote: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    bytes_downloaded: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    #: Bytes the downloads fetch in full (what a dry run would download).
    planned_bytes: int = 0
    #: Table id -> the manifest's size and packages, for the display.
    sizes: dict[str, int | None] = field(default_factory=dict)
    packages: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        present = len(self.downloaded) + len(self.unchanged)
        pending = f"{len(self.pending)} pending (not extracted yet), " if self.pending else ""
        if self.dry_run:
            text = (f"dry run, nothing changed: would sync {_n(present, 'table')}: {len(self.downloaded)} to "
                    f"download ({human_bytes(self.planned_bytes)}), {len(self.unchanged)} unchanged, "
                    f"{len(self.removed)} to remove, {len(self.skipped_remote)} remote skipped, {pending}"
                    f"{len(self.failed)} failed")
        else:
            text = (f"synced {_n(present, 'table')}: {len(self.downloaded)} downloaded "
                    f"({human_bytes(self.bytes_downloaded)}), {len(self.unchanged)} unchanged, "
                    f"{len(self.removed)} removed, {len(self.skipped_remote)} remote skipped, {pending}"
                    f"{len(self.failed)} failed in {self.seconds:.1f} s")
        if self.failed:
            text += ". Failed: " + "; ".join(f"{k}: {v}" for k, v in sorted(self.failed.items()))
        return text + "."

    def __repr__(self) -> str:
        return self.summary()

    def _rows(self) -> list[tuple[str, str, str]]:
        verbs = ("to download", "to remove") if self.dry_run else ("downloaded", "removed")
        out = [(t, verbs[0], "") for t in self.downloaded]
        out += [(t, "unchanged", "") for t in self.unchanged]
        out += [(t, verbs[1], "") for t in self.removed]
        out += [(t, "remote", "stays in the source: agnes.table(id) scans it") for t in self.skipped_remote]
        out += [(t, "pending", "not extracted on the server yet") for t in self.pending]
        out += [(t, "failed", msg) for t, msg in sorted(self.failed.items())]
        return out

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (what the workspace routes answer for a sync): the lists, the bytes,
        the summary line and one row per table as the notebook shows it."""
        return {
            "dry_run": self.dry_run, "downloaded": list(self.downloaded), "unchanged": list(self.unchanged),
            "removed": list(self.removed), "skipped_remote": list(self.skipped_remote), "pending": list(self.pending),
            "failed": dict(self.failed), "bytes_downloaded": self.bytes_downloaded,
            "planned_bytes": self.planned_bytes, "seconds": round(self.seconds, 3), "summary": self.summary(),
            "tables": [{"id": t, "outcome": outcome, "size_bytes": self.sizes.get(t),
                        "packages": list(self.packages.get(t, [])), "detail": detail}
                       for t, outcome, detail in self._rows()],
        }

    def _repr_html_(self) -> str:
        rows = [[f"<code>{esc(t)}</code>", badge(outcome), human_bytes(self.sizes.get(t)),
                 ", ".join(self.packages.get(t, [])), detail]
                for t, outcome, detail in self._rows()]
        table = html_table(["table", "outcome", "size", "packages", "detail"], rows,
                           raw_columns=frozenset({0, 1})) if rows else ""
        return f'<div class="agnes-sync"><p>{esc(self.summary())}</p>{table}</div>'


# -- planning --------------------------------------------------------------------------------------


@dataclass
class _Plan:
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    download: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped_remote: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: id -> the md5 recorded for it (None for a file no record names).
    remove: dict[str, str | None] = field(default_factory=dict)


def _has_size(path: Path, size: Any) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == size


def plan(tables: Iterable[dict[str, Any]], records: dict[str, dict[str, Any]], shared: Path,
         readable: Callable[[], set[str]]) -> _Plan:
    """Decide per table from the manifest and the recorded state, by size only (never hashing:
    a no-op sync of 1,000 tables is a thousand ``stat`` calls). ``readable`` (the ids of the
    catalog) is asked only when an on-demand download is not in the manifest."""
    p = _Plan()
    for entry in tables:
        tid = entry.get("id")
        if not isinstance(tid, str) or not NAME_RE.match(tid):
            p.failed[str(tid)] = "not a table id that can name a file"
            continue
        p.entries[tid] = entry
        md5 = entry.get("md5")
        if entry.get("query_mode") == "remote":
            p.skipped_remote.append(tid)
        elif not md5:
            p.pending.append(tid)
        elif not isinstance(md5, str) or not MD5_RE.match(md5):
            p.failed[tid] = f"the manifest's md5 {md5!r} is not an md5"
        else:
            known = records.get(tid)
            if known and known.get("md5") == md5 and _has_size(shared / f"{tid}.parquet", known.get("size_bytes")):
                p.unchanged.append(tid)
            else:
                p.download.append(entry)
    # Gone from the manifest (or remote now): sync's own tables go; on-demand downloads (and
    # files no record names) stay while the catalog still lists them as local.
    remote = set(p.skipped_remote)
    on_disk = {f.name[: -len(".parquet")] for f in shared.glob("*.parquet")}
    candidates = {t: records.get(t, {}).get("md5") for t in set(records) | on_disk
                  if (t not in p.entries or t in remote) and NAME_RE.match(t)}
    keep: set[str] | None = None
    for tid in sorted(candidates):
        record = records.get(tid)
        if tid in remote or (record is not None and record.get("origin") == "sync"):
            p.remove[tid] = candidates[tid]
            continue
        if keep is None:
            keep = readable()
        if tid not in keep:
            p.remove[tid] = candidates[tid]
    return p


def _readable_local(client: Client) -> set[str]:
    return {t["id"] for t in client.get("catalog")["tables"] if t.get("query_mode") != "remote"}


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, AgnesError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"


# -- package links ---------------------------------------------------------------------------------


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    """The same inode, or a copy made by :func:`shutil.copy2` (same size and mtime)."""
    return (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev) or (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def _link(src: Path, dst: Path) -> None:
    """Make ``dst`` the same file as ``src``: a hard link, else a copy; always by rename."""
    try:
        if _same_file(os.lstat(dst), os.stat(src)):
            return
    except FileNotFoundError:
        pass
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        try:
            os.link(src, tmp)
        except OSError:  # a file system without hard links
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _sync_links(data: Path, wanted: dict[str, list[str]]) -> dict[str, str]:
    """Link each table (id -> its packages) into ``data/<package>/``, remove links no longer
    wanted and empty package folders. Returns id -> error for tables that could not be linked."""
    errors: dict[str, str] = {}
    by_folder: dict[str, set[str]] = {}
    for tid, packages in wanted.items():
        for slug in packages:
            if not PACKAGE_RE.match(slug):
                errors[tid] = f"the package name {slug!r} cannot name a folder"
                continue
            by_folder.setdefault(slug, set()).add(tid)
            try:
                _link(data / "_shared" / f"{tid}.parquet", data / slug / f"{tid}.parquet")
            except OSError as exc:
                errors[tid] = f"could not link it into data/{slug}/: {_one_line(exc)}"
    for folder in data.iterdir():
        if not PACKAGE_RE.match(folder.name) or folder.is_symlink() or not folder.is_dir():
            continue
        keep = by_folder.get(folder.name, set())
        for item in folder.iterdir():
            stale_link = item.name.endswith(".parquet") and item.name[: -len(".parquet")] not in keep
            leftover = item.name.startswith(".") and item.name.endswith(".tmp")  # from a killed sync
            if (stale_link or leftover) and not item.is_dir():
                item.unlink(missing_ok=True)
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass
    return errors


# -- sync ------------------------------------------------------------------------------------------


def sync(dry_run: bool = False, progress: bool = True, workers: int = 4) -> SyncReport:
    """Bring ``data/`` in step with My Stack: download new and changed tables (in parallel,
    resumable, md5-verified), link them into their package folders, remove what left the stack."""
    if not isinstance(workers, int) or workers < 1:
        raise ValidationError(f"workers must be a positive integer, not {workers!r}", hint="e.g. workers=4")
    return run_sync(_client(), workspace(), dry_run, progress, workers)


def run_sync(client: Client, ws: Workspace, dry_run: bool = False, progress: Progress = True,
             workers: int = 4) -> SyncReport:
    """:func:`sync` of the workspace ``ws`` through ``client`` (whose user's stack it syncs);
    ``progress`` a bar or a callback (phases ``planning``, ``downloading``, ``linking``)."""
    started = time.monotonic()
    with sync_lock(ws):
        step(progress, "planning", "reading the sync manifest")
        manifest = client.get("sync/manifest")
        records: dict[str, dict[str, Any]] = ws.sync_state().get("tables", {})
        p = plan(manifest.get("tables", []), records, ws.shared, lambda: _readable_local(client))
        report = SyncReport(
            downloaded=[e["id"] for e in p.download], unchanged=list(p.unchanged), removed=sorted(p.remove),
            skipped_remote=list(p.skipped_remote), pending=list(p.pending), failed=dict(p.failed),
            dry_run=dry_run, planned_bytes=sum(int(e.get("size_bytes") or 0) for e in p.download),
            sizes={t: e.get("size_bytes") for t, e in p.entries.items()},
            packages={t: list(e.get("packages") or []) for t, e in p.entries.items()})
        if dry_run:
            report.seconds = time.monotonic() - started
            return report
        _apply(ws, client, p, report, progress, workers)
    ws.refresh_views()
    report.seconds = time.monotonic() - started
    return report


def _apply(ws: Workspace, client: Client, p: _Plan, report: SyncReport, progress: Progress, workers: int) -> None:
    # .part files of versions no longer wanted (a newer extract, a table gone from the stack).
    wanted_parts = {f".{e['id']}.{e['md5']}.part" for e in p.download}
    for item in ws.shared.iterdir():
        if PART_RE.match(item.name) and item.name not in wanted_parts and not item.is_dir():
            item.unlink(missing_ok=True)

    results: dict[str, Any] = {}
    if p.download:
        bar = byte_bar(progress, report.planned_bytes, "agnes sync", phase="downloading",
                       enabled=report.planned_bytes > 0)
        downloads = Downloads(client, ws.shared, bar)
        try:
            results = run_downloads(downloads, p.download, workers)
        finally:
            bar.done(not any(isinstance(r, BaseException) for r in results.values()))
        report.bytes_downloaded = downloads.bytes
    step(progress, "linking", "linking tables into their package folders")
    for tid, outcome in results.items():
        if isinstance(outcome, BaseException):
            report.failed[tid] = _one_line(outcome)
    report.downloaded = [e["id"] for e in p.download if not isinstance(results.get(e["id"]), BaseException)]

    # Links for every table of the manifest that has a file (an older version stays linked when
    # its new download failed; a pending table downloaded on demand is linked too).
    wanted = {tid: list(e.get("packages") or []) for tid, e in p.entries.items()
              if tid not in p.remove and (ws.shared / f"{tid}.parquet").is_file()}
    link_errors = _sync_links(ws.root / "data", wanted)
    for tid, message in link_errors.items():
        report.failed.setdefault(tid, message)
        for listed in (report.downloaded, report.unchanged):
            if tid in listed:
                listed.remove(tid)

    now = datetime.now(timezone.utc).isoformat()
    removed: list[str] = []

    def commit(tables: dict[str, Any]) -> None:
        for tid, md5 in p.remove.items():
            current = tables.get(tid)
            if (current or {}).get("md5") != md5:
                continue  # downloaded on demand meanwhile by another kernel: keep it
            (ws.shared / f"{tid}.parquet").unlink(missing_ok=True)
            tables.pop(tid, None)
            removed.append(tid)
        for tid in p.unchanged:
            entry = p.entries[tid]
            tables[tid] = {**tables.get(tid, {}), "rows": entry.get("rows"), "updated": entry.get("updated"),
                           "packages": list(entry.get("packages") or []), "origin": "sync"}
        for entry in p.download:
            tid = entry["id"]
            if isinstance(results.get(tid), int):
                tables[tid] = {"md5": entry["md5"], "size_bytes": results[tid], "rows": entry.get("rows"),
                               "updated": entry.get("updated"), "packages": list(entry.get("packages") or []),
                               "origin": "sync", "downloaded_at": now}

    update_state(ws, commit)
    report.removed = sorted(removed)


__all__ = ["SyncReport", "run_sync", "sync", "update_state"]
