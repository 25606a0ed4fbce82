"""Every handler is authenticated and authorised; admin routes refuse non-admins first."""

from __future__ import annotations

from typing import Any

import pytest
from jupyter_server.auth.decorator import authorized
from tornado import web

from agnes_server.handlers.base import AgnesHandler
from agnes_server.handlers.webhooks import WebhookHandler
from agnes_server.routes import ROUTES

from ._routes import admin_requests, all_requests, implemented
from .conftest import ALICE, BOB


def _qualname(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    return getattr(code, "co_qualname", "") if code else ""


def missing_auth(routes: list[tuple[str, type]]) -> list[str]:
    """Verbs not wrapped as ``@web.authenticated`` (outer) then ``@authorized`` (inner)."""
    missing = []
    for pattern, handler in routes:
        for verb in implemented(handler):
            method = getattr(handler, verb.lower())
            if getattr(handler, "authenticated_by", None) == "signature":
                # Webhooks: authenticated by the source's signature of the body (@signed), not Jupyter's.
                inner = getattr(method, "__wrapped__", None)
                if not (getattr(method, "__allow_unauthenticated", False) and inner is not None
                        and _qualname(inner).startswith("signed")):
                    missing.append(f"{verb} {pattern} ({handler.__name__})")
                continue
            outer_ok = _qualname(method).startswith("authenticated")
            inner = getattr(method, "__wrapped__", None)
            inner_ok = inner is not None and _qualname(inner).startswith("authorized")
            if not (outer_ok and inner_ok):
                missing.append(f"{verb} {pattern} ({handler.__name__})")
    return missing


def test_every_handler_verb_has_authenticated_then_authorized() -> None:
    assert missing_auth(ROUTES) == []


def test_the_decorator_check_reports_handlers_that_lack_them() -> None:
    class Bare(AgnesHandler):
        def get(self) -> None: ...

    class OnlyAuthenticated(AgnesHandler):
        @web.authenticated
        def post(self) -> None: ...

    class WrongOrder(AgnesHandler):
        @authorized
        @web.authenticated
        def delete(self) -> None: ...

    class UnsignedWebhook(WebhookHandler):
        async def post(self, kind: str, source: str) -> None: ...

    assert missing_auth([("a", Bare), ("b", OnlyAuthenticated), ("c", WrongOrder), ("d", UnsignedWebhook)]) == [
        "GET a (Bare)", "POST b (OnlyAuthenticated)", "DELETE c (WrongOrder)", "POST d (UnsignedWebhook)"]


async def test_unauthenticated_requests_get_401_on_every_route(api) -> None:
    for verb, path, _ in all_requests():
        status, body, _ = await api(verb, path, token="not-a-valid-token")
        assert status == 401, (verb, path, status, body)
        assert body["error"] == "unauthorized"


@pytest.fixture
def deny_agnes_config(jp_server_config: dict) -> dict:
    jp_server_config["ServerApp"]["authorizer_class"] = "tests.server._identity.DenyAgnesAuthorizer"
    return jp_server_config


class TestAuthorizerIsConsulted:
    @pytest.fixture
    def jp_server_config(self, deny_agnes_config: dict) -> dict:
        return deny_agnes_config

    async def test_a_denying_authorizer_gets_403_on_every_route(self, api) -> None:
        for verb, path, handler in all_requests():
            status, body, _ = await api(verb, path)
            if getattr(handler, "authenticated_by", None) == "signature":  # the authorizer plays no part
                assert (status, body["error"]) == (401, "unauthorized"), (verb, path, status, body)
                continue
            assert status == 403, (verb, path, status, body)
            assert body["error"] == "forbidden"


class TestAdminRoutes:
    @pytest.fixture
    def jp_server_config(self, multiuser_config: dict) -> dict:
        return multiuser_config

    async def test_non_admin_gets_403_on_every_admin_route_before_the_body_is_read(self, api) -> None:
        assert admin_requests(), "no admin routes found"
        for verb, path in admin_requests():
            status, body, _ = await api(verb, path, token=BOB, raw_body=b"{not json")
            assert status == 403, (verb, path, status, body)
            assert body["error"] == "forbidden"
            assert body["hint"]

    async def test_admin_by_config_reaches_admin_routes(self, api) -> None:
        status, body, _ = await api("GET", "admin/sources", token=ALICE)
        assert status == 200
        assert [s["name"] for s in body["sources"]] == ["demo"]
