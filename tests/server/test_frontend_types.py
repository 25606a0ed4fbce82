"""The labextension's API types (labextension/src/schema.d.ts) are what `jlpm gen:api` writes from
the OpenAPI document the server serves, placeholders filled in (agnes_server.openapi)."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LABEXT = Path(__file__).resolve().parents[2] / "labextension"
COMMITTED = LABEXT / "src" / "schema.d.ts"

pytestmark = pytest.mark.frontend


def test_committed_api_types_match_the_served_openapi_document(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: install Node.js 20 or newer (the labextension is built from source)")
    if not (LABEXT / "node_modules" / "openapi-typescript").is_dir():
        pytest.fail("labextension/node_modules has no openapi-typescript: run `jlpm install` in labextension/ "
                    "(`pip install -e .` runs it when the extension needs a build)")
    out = tmp_path / "schema.d.ts"
    done = subprocess.run(
        [node, "scripts/gen-api.js", "--out", str(out)],
        cwd=LABEXT,
        env={**os.environ, "PYTHON": sys.executable, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"scripts/gen-api.js failed:\n{done.stdout}\n{done.stderr}"
    generated = out.read_text(encoding="utf-8")
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    if generated != committed:
        lines = difflib.unified_diff(committed.splitlines(keepends=True), generated.splitlines(keepends=True),
                                     "src/schema.d.ts (committed)", "src/schema.d.ts (generated)")
        diff = "".join(list(lines)[:80])
        pytest.fail("labextension/src/schema.d.ts does not match the OpenAPI document the server serves: "
                    f"run `jlpm gen:api` in labextension/ and commit the result.\n{diff}", pytrace=False)
