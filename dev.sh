#!/usr/bin/env bash
# Agnes for Jupyter: the two set-up commands.
#
#   ./dev.sh demo [jupyter lab args]   install the product with its demo extra (matplotlib), write the
#                                      demo lake, start JupyterLab on it
#   ./dev.sh test [pytest args]        install everything, then run every test (lint, types, core,
#                                      server, kernel, notebooks, browser)
#
# Needs Python >= 3.10 with venv, and Node.js >= 20 with npm (the JupyterLab extension is built
# from TypeScript during `pip install`). Debian packages the tests need (chromium, postgresql)
# are installed with apt-get when missing and this runs as root.
set -euo pipefail
cd "$(dirname "$0")"

VENV="${AGNES_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_tools() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.10 or newer"
  command -v node >/dev/null || die "node not found: install Node.js 20 or newer (the labextension is built from source)"
  command -v npm >/dev/null || die "npm not found: install npm with Node.js"
}

# install_python [extra]: the package, editable, with one extra (default: test, which has everything).
install_python() {
  local extra="${1:-test}"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  say "installing agnes-jupyter (editable, with the $extra extra; builds the JupyterLab extension)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[$extra]"
}

# The BigQuery emulator the tests start (bqemulator) pins an older sqlglot than the product's: it
# lives in a virtualenv of its own, so the tests run the product with the sqlglot it installs.
BQ_VENV="${AGNES_BQEMULATOR_VENV:-.venv-bqemulator}"
install_bqemulator() {
  if [ ! -x "$BQ_VENV/bin/python" ]; then
    say "creating the BigQuery emulator's virtualenv $BQ_VENV"
    "$PYTHON" -m venv "$BQ_VENV"
  fi
  # duckdb as the product pins it: the spatial extension the tests install is built for that version.
  local duckdb_pin
  duckdb_pin="$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)')"
  "$BQ_VENV/bin/python" -m pip install --quiet --upgrade pip
  "$BQ_VENV/bin/python" -m pip install --quiet "bqemulator>=1.4,<2" "duckdb==$duckdb_pin" numpy
}

# Debian packages for the tests; installed only where missing.
install_system_packages() {
  local missing=()
  command -v chromium >/dev/null || [ -n "${AGNES_CHROMIUM:-}" ] || missing+=(chromium)
  # The tests start throwaway PostgreSQL clusters from the server binaries (initdb, pg_ctl).
  command -v pg_ctl >/dev/null || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "missing system packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
  fi
}

cmd_demo() {
  need_tools
  install_python demo
  export PATH="$PWD/$VENV/bin:$PATH"
  say "writing the demo lake and registering it (jupyter agnes demo)"
  jupyter agnes demo
  local extra=()
  [ "$(id -u)" = 0 ] && extra+=(--allow-root)
  # Where the demo keeps its state (README: "Where the demo keeps its data, and starting over").
  python -c 'from agnes_server.paths import default_data_dir as d; from agnes_jupyter._workspace import workspace_dir as w
print(f"server data:    {d()}\nyour workspace: {w()}")' >&2
  say "starting JupyterLab: open the Agnes panel in the left sidebar"
  exec jupyter lab "${extra[@]}" "$@"
}

cmd_test() {
  need_tools
  install_system_packages
  install_python
  install_bqemulator
  export PATH="$PWD/$VENV/bin:$PATH"
  export AGNES_BQEMULATOR_PYTHON="${AGNES_BQEMULATOR_PYTHON:-$PWD/$BQ_VENV/bin/python}"
  say "ruff"
  ruff check .
  say "mypy"
  mypy
  say "pytest (core, server, kernel, notebooks, browser)"
  # pytest exits 5 when it collects no tests, which fails this script too.
  exec python -m pytest "$@"
}

case "${1:-}" in
  demo) shift; cmd_demo "$@" ;;
  test) shift; cmd_test "$@" ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
