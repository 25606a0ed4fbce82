from __future__ import annotations

import re

from openapi_spec_validator import validate

from agnes_server import __version__
from agnes_server.routes import API, ROUTES

from .conftest import assert_matches_openapi


async def test_version_reports_the_package_version(api) -> None:
    status, body, _ = await api("GET", "version")
    assert status == 200
    assert body == {"name": "agnes-jupyter", "version": __version__, "api": "v1"}
    assert_matches_openapi("/version", "GET", status, body)


async def test_me_in_personal_mode_is_the_owner_and_admin(api) -> None:
    status, body, _ = await api("GET", "me")
    assert status == 200
    assert_matches_openapi("/me", "GET", status, body)
    usage = body.pop("usage")
    assert body == {"username": "owner", "display_name": "owner", "groups": ["Everyone"], "is_admin": True}
    assert (usage["scanned_bytes"], usage["running_scans"]) == (0, 0)


async def test_openapi_document_is_valid_and_served_under_the_base_url(api, jp_base_url: str) -> None:
    status, body, _ = await api("GET", "openapi.json")
    assert status == 200
    validate(body)  # a valid OpenAPI 3.1 document
    assert body["openapi"].startswith("3.1")
    assert body["servers"] == [{"url": jp_base_url.rstrip("/") + "/agnes/v1"}]
    assert body["info"]["version"] == __version__


def _template(pattern: str) -> str:
    path = "/" + pattern[len(API) + 1:].replace(r"\.", ".")
    names = iter(["id", "name"])
    return re.sub(r"\(\[\^/\]\+\)", lambda _: "{" + next(names) + "}", path)


async def test_every_route_is_documented_and_every_documented_path_exists(api) -> None:
    _, spec, _ = await api("GET", "openapi.json")
    documented = set(spec["paths"])
    routed = {_template(p) for p, _ in ROUTES if not p.endswith("(.*)")}
    normalise = lambda p: re.sub(r"\{[^}]+\}", "{}", p)  # noqa: E731
    assert {normalise(p) for p in routed} == {normalise(p) for p in documented}
