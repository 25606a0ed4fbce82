"""Concrete URLs and verbs for every route in agnes_server.routes.ROUTES."""

from __future__ import annotations

import re

from tornado import web

from agnes_server.routes import API, ROUTES

VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def implemented(handler: type[web.RequestHandler]) -> list[str]:
    return [v for v in VERBS if getattr(handler, v.lower()) is not getattr(web.RequestHandler, v.lower())]


def concrete(pattern: str) -> str:
    """A request path (relative to agnes/v1/) for a route pattern."""
    path = pattern[len(API) + 1:]
    path = path.replace(r"\.", ".").replace("(.*)", "no-such-route")
    return re.sub(r"\(\[\^/\]\+\)", "x", path)


def all_requests() -> list[tuple[str, str, type[web.RequestHandler]]]:
    return [(verb, concrete(pattern), handler) for pattern, handler in ROUTES for verb in implemented(handler)]


def admin_requests() -> list[tuple[str, str]]:
    return [(verb, path) for verb, path, handler in all_requests() if getattr(handler, "admin_only", False)]
