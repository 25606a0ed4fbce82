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
    assert kernel_only == {"server_not_found", "query_error", "usage_error"}


def test_an_envelope_becomes_the_class_of_its_code_never_a_lookalike() -> None:
    from agnes_core.errors import AgnesError, QuotaExceeded, StoreVersionError, from_envelope

    internal = from_envelope({"error": "internal", "message": "boom"}, 500)
    assert type(internal) is AgnesError  # not StoreVersionError, which shares the code
    assert not isinstance(internal, StoreVersionError)
    assert type(from_envelope({"error": "quota_exceeded", "message": "x"}, 429)) is QuotaExceeded


def test_the_core_has_no_import_circles_between_modules() -> None:
    """Nothing imports upward: a circle is allowed only inside one package (a connector's own
    modules), never between concerns (the registry and the validator used to be one)."""
    import ast
    from pathlib import Path

    import agnes_core

    root = Path(agnes_core.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for candidate in (target, *(f"{target}.{a.name}" for a in node.names)):
                if candidate in modules and candidate != name:
                    graph[name].add(candidate)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            if here == goal:
                return True
            if here not in seen:
                seen.add(here)
                todo.extend(graph[here])
        return False

    def package_of(module: str) -> str:
        """The sub-package a module belongs to (``agnes_core.connectors``), or the module itself."""
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) > 2 or modules[module].name == "__init__.py" else module

    circles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a]
                      if reaches(b, a) and package_of(a) != package_of(b)})
    assert circles == []
