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
    """The kernel library mirrors the server's error table (it imports nothing from the server):
    each code a handler can answer with turns into a named exception, never a bare AgnesError."""
    from agnes_core.errors import STATUS_BY_CODE
    from agnes_jupyter.errors import _BY_CODE

    # Codes that only the server logs or that have no kernel-side use as their own class.
    generic = {"internal", "unavailable", "required_item", "not_available", "recipe_parameter"}
    missing = sorted(set(STATUS_BY_CODE) - set(_BY_CODE) - generic)
    assert missing == []
