"""agnes_core is the domain core: it must not import tornado or anything jupyter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "server_ext" / "agnes_core"
KERNEL = Path(__file__).resolve().parents[2] / "agnes_jupyter"
FORBIDDEN_FOR_CORE = ("tornado", "jupyter_server", "jupyter_core", "jupyter_client", "jupyterlab", "traitlets",
                      "IPython", "ipykernel", "agnes_server", "agnes_jupyter")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_source_imports_no_tornado_or_jupyter() -> None:
    offenders = {str(p.relative_to(CORE)): sorted(_imports(p) & set(FORBIDDEN_FOR_CORE))
                 for p in CORE.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_core_module_loads_no_tornado_or_jupyter() -> None:
    modules = sorted("agnes_core." + ".".join(p.relative_to(CORE).with_suffix("").parts)
                     for p in CORE.rglob("*.py") if p.name != "__init__.py")
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_FOR_CORE!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_kernel_library_never_imports_the_server_side() -> None:
    offenders = {str(p.relative_to(KERNEL)): sorted(_imports(p) & {"agnes_core", "agnes_server", "tornado"})
                 for p in KERNEL.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_predicates_are_re_rendered_without_comments() -> None:
    from agnes_core.sqlsafe import safe_predicate

    assert safe_predicate("id > 90 -- and then some", "duckdb") == "id > 90"
    assert safe_predicate("lower(country) = 'cz' /* x */ AND amount > 1", "postgres") == \
        "LOWER(country) = 'cz' AND amount > 1"


def test_every_error_code_the_server_answers_with_has_its_kernel_exception() -> None:
    """The kernel library mirrors the server's one error table (it imports nothing from the
    server): each code turns into the exception of the same name, and nothing else differs."""
    from agnes_core.errors import ERRORS, STATUS_BY_CODE
    from agnes_jupyter.errors import _BY_CODE

    assert set(STATUS_BY_CODE) == set(ERRORS)
    differ = {code: (server.__name__, _BY_CODE[code].__name__ if code in _BY_CODE else None)
              for code, (server, _) in ERRORS.items()
              if code not in _BY_CODE or _BY_CODE[code].__name__ != server.__name__}
    assert differ == {}
    for code, (server, status) in ERRORS.items():
        assert server.code == code or code == "internal", code  # the class raises the code it is listed for
        assert 400 <= status < 600
    kernel_only = set(_BY_CODE) - set(ERRORS)
    assert kernel_only == {"snapshot_exists", "server_not_found", "query_error", "usage_error"}


def test_an_envelope_becomes_the_class_of_its_code_never_a_lookalike() -> None:
    from agnes_core.errors import AgnesError, QuotaExceeded, StoreVersionError, from_envelope

    internal = from_envelope({"error": "internal", "message": "boom"}, 500)
    assert type(internal) is AgnesError  # not StoreVersionError, which shares the code
    assert not isinstance(internal, StoreVersionError)
    assert type(from_envelope({"error": "quota_exceeded", "message": "x"}, 429)) is QuotaExceeded
