"""The labextension's own checks, run by `./dev.sh test`: eslint and prettier (`jlpm lint:check`) and
its unit tests (`jlpm test`, vitest) in labextension/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LABEXT = Path(__file__).resolve().parents[1] / "labextension"

pytestmark = pytest.mark.frontend


def jlpm(script: str) -> None:
    """Run ``jlpm <script>`` in labextension/; fail the test with its output when it fails."""
    # jlpm comes with jupyter-builder (a dependency of jupyterlab), next to this interpreter.
    exe = shutil.which("jlpm", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if exe is None:
        pytest.fail("jlpm not found: it comes with jupyterlab; run `./dev.sh test` or `pip install -e '.[test]'`")
    bin_dir = LABEXT / "node_modules" / ".bin"
    missing = [tool for tool in ("eslint", "prettier", "vitest") if not (bin_dir / tool).exists()]
    if missing:
        pytest.fail(f"labextension/node_modules lacks {', '.join(missing)}: run `jlpm install` in labextension/ "
                    "(`pip install -e .` runs it when the extension needs a build)")
    done = subprocess.run([exe, script], cwd=LABEXT, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0", "CI": "1"})
    if done.returncode != 0:
        pytest.fail(f"`jlpm {script}` in labextension/ exited with {done.returncode}:\n{done.stdout}\n{done.stderr}",
                    pytrace=False)


def test_the_labextension_passes_eslint_and_prettier() -> None:
    jlpm("lint:check")


def test_the_labextension_unit_tests_pass() -> None:
    jlpm("test")
