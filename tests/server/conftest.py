from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from tornado.httpclient import HTTPResponse

from agnes_core.core import AgnesCore
from agnes_core.demo import demo_source, demo_tables, write_demo_lake
from agnes_server.openapi import openapi_document

from ._loopwatch import THRESHOLD_S, LoopWatch

ALICE, BOB = "alice-token", "bob-token"


# -- the event loop never blocks --------------------------------------------------------------

_WATCH = pytest.StashKey[LoopWatch]()
#: Across the session: loop holds outside a test's requests (start-up, shutdown) and uses of the
#: state store on the loop's thread, printed at the end of the run (see pytest_terminal_summary).
_ELSEWHERE: dict[str, list[str]] = {"held": [], "store": []}


@pytest.fixture(autouse=True)
def loop_watch(request: pytest.FixtureRequest) -> Iterator[LoopWatch]:
    """Times every callback of the server's event loop during the test; a request whose handler
    holds the loop longer than 50 ms, or uses the state store on the loop at all, fails the test
    (``pytest_runtest_call`` below), naming the handler and where it was. A test that blocks on
    purpose claims the records with ``take()`` / ``take_store_uses()``."""
    watch = LoopWatch()
    watch.install()
    request.node.stash[_WATCH] = watch
    try:
        yield watch
    finally:
        watch.uninstall()
        for held in watch.take():  # while the server started or stopped
            _ELSEWHERE["held"].append(f"{request.node.nodeid} (set-up/teardown): {held.describe()}")
        for where, count in watch.store_uses.items():
            _ELSEWHERE["store"].append(f"{where}  x{count}  [{request.node.nodeid}]")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    watch = item.stash.get(_WATCH, None)
    if watch is not None:
        for held in watch.take():
            _ELSEWHERE["held"].append(f"{item.nodeid} (set-up): {held.describe()}")
    result = yield
    held = watch.take() if watch is not None else []
    if held:
        pytest.fail(f"the event loop was held longer than {THRESHOLD_S * 1000:.0f} ms by our code "
                    f"({len(held)} time{'s' if len(held) > 1 else ''}): blocking work belongs in "
                    "self.blocking(...)\n  " + "\n  ".join(h.describe() for h in held), pytrace=False)
    uses = watch.take_store_uses() if watch is not None else {}
    if uses:
        pytest.fail("a request used the state store on the event loop's thread (fast this time, blocking all "
                    "the same): it belongs in self.blocking(...)\n  "
                    + "\n  ".join(f"{where}  x{n}" for where, n in uses.items()), pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (_ELSEWHERE["held"] or _ELSEWHERE["store"]):
        return
    terminalreporter.section("event loop: server code on the loop outside requests' verbs")
    for line in _ELSEWHERE["held"]:
        terminalreporter.line(line)
    if _ELSEWHERE["store"]:
        terminalreporter.line("state store used on the event loop's thread (fast this time; blocking all the same):")
        for line in sorted(set(_ELSEWHERE["store"])):
            terminalreporter.line("  " + line)


@pytest.fixture(scope="session")
def demo_lake_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_lake(tmp_path_factory.mktemp("server-lake") / "demo", rows=30_000, days=60).path


@pytest.fixture
def agnes_data_dir(tmp_path: Path, demo_lake_path: Path) -> Path:
    """A data dir with the demo source and tables registered (before the server opens it)."""
    data = tmp_path / "agnes-data"
    core = AgnesCore(data)
    core.registry.add_source(demo_source(demo_lake_path))
    for body in demo_tables():
        core.registry.register_table(body)
    core.close()
    return data


def _base_config(data_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"agnes_server": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "AgnesApp": {"data_dir": str(data_dir), "username": "owner", "publish_kernel_env": False},
    }


@pytest.fixture
def jp_server_config(agnes_data_dir: Path) -> dict[str, Any]:
    """Personal mode: Jupyter's own token login; every request is the owner."""
    return _base_config(agnes_data_dir)


@pytest.fixture
def multiuser_config(agnes_data_dir: Path) -> dict[str, Any]:
    """A team server: tokens map to alice (admin by config) and bob (not admin)."""
    config = _base_config(agnes_data_dir)
    config["ServerApp"]["identity_provider_class"] = "tests.server._identity.TokenUsersIdentityProvider"
    config["TokenUsersIdentityProvider"] = {"users": {ALICE: "alice", BOB: "bob"}}
    config["AgnesApp"]["admin_users"] = ["alice"]
    return config


Api = Callable[..., Awaitable[tuple[int, Any, HTTPResponse]]]


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    """``await api(method, path, body=None, token=None)`` -> (status, json, response); never raises on 4xx."""

    async def call(method: str, path: str, body: Any = None, token: str | None = None, raw_body: bytes | None = None,
                   params: dict[str, str] | None = None) -> tuple[int, Any, HTTPResponse]:
        headers = {"Authorization": f"token {token}"} if token else {}
        payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = b""
        response = await jp_fetch(*("agnes/v1/" + path).split("/"), method=method, body=payload, headers=headers,
                                  params=params, raise_error=False, allow_nonstandard_methods=True)
        data = json.loads(response.body) if response.body else None
        return response.code, data, response

    return call


SPEC_URI = "urn:agnes:openapi"


@functools.cache
def _openapi() -> tuple[dict[str, Any], Registry]:
    spec = openapi_document("/")
    return spec, Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def assert_matches_openapi(path_template: str, method: str, status: int, body: Any) -> None:
    """Validate a response against what the OpenAPI document says for that route and status."""
    spec, registry = _openapi()
    operation = spec["paths"][path_template][method.lower()]
    key = str(status) if str(status) in operation["responses"] else "default"
    assert key in operation["responses"], f"{method} {path_template} does not document {status}"
    pointer = ["paths", path_template, method.lower(), "responses", key]
    response = operation["responses"][key]
    if "$ref" in response:
        pointer = response["$ref"].lstrip("#/").split("/")
        response = spec["components"]["responses"][pointer[-1]]
    if "content" not in response:
        assert body is None, f"{method} {path_template} {status} documents no body"
        return
    pointer += ["content", "application/json", "schema"]
    ref = SPEC_URI + "#/" + "/".join(_escape(p) for p in pointer)
    jsonschema.Draft202012Validator({"$ref": ref}, registry=registry).validate(body)



def agnes_app(serverapp: Any) -> Any:
    """The AgnesApp of a pytest-jupyter server (its core, settings and running scans)."""
    from agnes_server.app import AgnesApp

    return next(ext for ext in serverapp.extension_manager.extension_apps["agnes_server"] if isinstance(ext, AgnesApp))


async def poll(check: Callable[[], Any], what: str, deadline_s: float = 30.0) -> Any:
    """Poll ``check()`` until it returns something truthy (with a deadline; not a sleep to synchronise)."""
    import asyncio
    import time

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {deadline_s} s")


@pytest.fixture
def isolated_kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start-up publishes AGNES_SERVER_URL/AGNES_TOKEN into os.environ; restore them after the test.

    ``setenv`` first so monkeypatch records the original (possibly absent) value.
    """
    for var in ("AGNES_SERVER_URL", "AGNES_TOKEN"):
        monkeypatch.setenv(var, "recorded")
        monkeypatch.delenv(var)
