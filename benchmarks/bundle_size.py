"""The size of the JupyterLab extension's production bundle.

Runs `jlpm build:prod` in labextension/ (tsc, then jupyter-builder/rspack in production mode, so
minified), then sums the JavaScript files it wrote to server_ext/agnes_server/labextension/static
(the remote entry, the extension's chunks and its style chunk; source maps are not counted).

Target: <= 1 MB minified. The shared JupyterLab packages (@jupyterlab/*, @lumino/*, react...) are
not in these files: the build marks them `import: false` in its module-federation config and
JupyterLab provides them at runtime. What is counted is our code and whatever non-shared
dependency it pulls in. Baseline in the same run: the same files gzip-compressed (what a browser
downloads from a server that compresses).

    python benchmarks/bundle_size.py [--no-build]   (--no-build: measure the last build as it is)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import ROOT, verdict

LABEXT = ROOT / "labextension"
OUT = ROOT / "server_ext" / "agnes_server" / "labextension"
TARGET_BYTES = 1_000_000


def build() -> float:
    """`jlpm build:prod` in labextension/; returns its wall time in seconds."""
    jlpm = shutil.which("jlpm", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if jlpm is None:
        raise SystemExit("jlpm not found: it comes with jupyterlab (pip install -e '.[test]')")
    start = time.perf_counter()
    done = subprocess.run([jlpm, "build:prod"], cwd=LABEXT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"jlpm build:prod failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return time.perf_counter() - start


def build_mode() -> str:
    """jupyter-builder logs its config (build_log.json) only in development mode; a production
    build empties the output directory first, so no log means a production build."""
    log = OUT / "build_log.json"
    return str(json.loads(log.read_text())[0].get("mode", "development")) if log.exists() else "production"


def third_party(static: Path) -> list[str]:
    """The third-party packages a production build carries (its third-party-licenses.json)."""
    licenses = static / "third-party-licenses.json"
    if not licenses.exists():
        return []
    return [f"{p.get('name')} {p.get('versionInfo')}" for p in json.loads(licenses.read_text()).get("packages", [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="measure the last build instead of building")
    args = parser.parse_args()

    seconds = None if args.no_build else build()
    package = json.loads((OUT / "package.json").read_text())
    mode = build_mode()
    static = OUT / "static"
    chunks = sorted(p for p in static.glob("*.js") if p.is_file())
    if not chunks:
        raise SystemExit(f"no JavaScript in {static}: build the extension first (jlpm build:prod)")

    print(f"labextension {package['name']} {package['version']}, {mode} build in {static.relative_to(ROOT)}"
          + (f" (jlpm build:prod took {seconds:.1f} s)" if seconds is not None else " (not rebuilt)"))
    total = total_gz = 0
    for chunk in chunks:
        data = chunk.read_bytes()
        gz = len(gzip.compress(data, 9))
        total += len(data)
        total_gz += gz
        print(f"  {chunk.name:48} {len(data) / 1000:8.1f} KB   gzip {gz / 1000:7.1f} KB")
    ok = total <= TARGET_BYTES
    label = f"total minified JS ({len(chunks)} files)"
    print(f"  {label:48} {total / 1000:8.1f} KB   gzip {total_gz / 1000:7.1f} KB"
          f"   (target <= {TARGET_BYTES / 1000:.0f} KB minified)  {verdict(ok)}")
    if mode != "production":
        print("  note: this is a development build (not minified); run without --no-build for the real figure")
    print("not counted: the shared packages JupyterLab provides at runtime (@jupyterlab/*, @lumino/*, react, ...);")
    print("  the build marks them `import: false` in its module federation config, so they are not bundled")
    bundled = third_party(static)
    if bundled:
        print(f"third-party code in the bundle: {', '.join(bundled)}")


if __name__ == "__main__":
    main()
