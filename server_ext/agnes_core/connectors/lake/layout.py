"""Where a lake table lives on disk, and what its layout says (files, Hive keys, sort order)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from agnes_core.connectors.base import TableRef
from agnes_core.errors import NotFound

HIVE_DIR_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
DUCKDB_SUFFIXES = (".duckdb", ".db")


@dataclass
class LakeLocation:
    """A resolved lake table.

    ``kind`` is ``file`` (one Parquet file), ``folder`` (Parquet files below a folder,
    Hive-partitioned when ``hive_keys`` is non-empty) or ``duckdb`` (a table or view in
    a DuckDB database file, ``db_schema``.``db_table``).
    """

    ref: TableRef
    kind: str
    path: Path
    files: list[Path] = field(default_factory=list)
    hive_keys: list[str] = field(default_factory=list)
    db_schema: str = "main"
    db_table: str = ""

    @property
    def glob(self) -> str:
        return str(self.path / "**" / "*.parquet") if self.kind == "folder" else str(self.path)


def _inside(root: Path, candidate: Path) -> bool:
    """Lexical containment: names are validated (no '/', no leading '.'), and a lake may
    legitimately symlink folders from elsewhere, so symlinks are not resolved here."""
    root_norm = os.path.normpath(root)
    return os.path.normpath(candidate).startswith(root_norm + os.sep)


def parquet_files(folder: Path) -> list[Path]:
    """Parquet files below ``folder``, in a stable order, skipping hidden/temporary files."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if name.endswith(".parquet") and not name.startswith((".", "_")):
                found.append(Path(dirpath) / name)
    return found


def hive_keys(folder: Path, files: list[Path]) -> list[str]:
    """Partition keys from a Hive layout (``key=value`` directories), outermost first."""
    if not files:
        return []
    rel = files[0].relative_to(folder).parts[:-1]
    keys: list[str] = []
    for part in rel:
        m = HIVE_DIR_RE.match(part)
        if not m:
            return []
        keys.append(m.group(1))
    return keys


def locate(root: Path, ref: TableRef) -> LakeLocation:
    """Resolve a table reference inside the lake root, or raise NotFound."""
    base = root / ref.bucket if ref.bucket else root
    if ref.bucket and base.is_file() and base.suffix in DUCKDB_SUFFIXES:
        schema, _, table = ref.name.rpartition(".")
        return LakeLocation(ref, "duckdb", base, db_schema=schema or "main", db_table=table)
    for candidate in (base / ref.name, base / f"{ref.name}.parquet"):
        if not _inside(root, candidate):
            continue
        if candidate.is_file() and candidate.suffix == ".parquet":
            return LakeLocation(ref, "file", candidate, files=[candidate])
        if candidate.is_dir():
            files = parquet_files(candidate)
            if files:
                return LakeLocation(ref, "folder", candidate, files=files,
                                    hive_keys=hive_keys(candidate, files))
    raise NotFound(
        f"no Parquet file or folder {ref.display()!r} in the lake at {root}",
        hint="Run discovery on the source to see what the lake holds.",
        details={"bucket": ref.bucket, "source_table": ref.name},
    )


def classify_folder(path: Path) -> str:
    """``table`` for a folder of Parquet files sharing one schema or a Hive layout,
    ``bucket`` for a folder of tables (files with different schemas, or sub-folders),
    ``empty`` when it holds no Parquet data at all."""
    try:
        entries = sorted(path.iterdir())
    except OSError:
        return "empty"
    files = [e for e in entries if e.is_file() and e.name.endswith(".parquet") and not e.name.startswith((".", "_"))]
    if files:
        import pyarrow.parquet as pq

        first = pq.read_schema(files[0])
        same = all(pq.read_schema(f).equals(first) for f in files[1:])
        return "table" if same else "bucket"
    hive_dirs = [e for e in entries if e.is_dir() and HIVE_DIR_RE.match(e.name)]
    if hive_dirs and parquet_files(hive_dirs[0]):
        return "table"
    return "bucket" if any(e.is_dir() for e in entries) else "empty"
