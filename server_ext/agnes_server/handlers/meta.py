"""``version``, ``me``, ``openapi.json`` and the JSON 404 for unknown Agnes routes."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from agnes_core.errors import NotFound

from .. import __version__
from ..openapi import openapi_document
from .base import AgnesHandler


class VersionHandler(AgnesHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json({"name": "agnes-jupyter", "version": __version__, "api": "v1"})


class MeHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        usage = await self.blocking(self.core.scans.usage, self.principal.username)  # today's bytes: the store
        self.write_json({**self.principal.to_json(), "usage": usage})


class OpenAPIHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        base_url = self.settings.get("base_url", "/")
        self.write_json(await self.blocking(openapi_document, base_url))  # a deep copy of a large document


class NotFoundHandler(AgnesHandler):
    """Unknown paths under agnes/v1 answer with the JSON envelope, not an HTML page."""

    def _missing(self, path: str) -> None:
        raise NotFound(f"no Agnes route {path!r}", hint="GET agnes/v1/openapi.json lists every route.",
                       details={"path": path})

    @web.authenticated
    @authorized
    def get(self, path: str) -> None:
        self._missing(path)

    @web.authenticated
    @authorized
    def post(self, path: str) -> None:
        self._missing(path)

    @web.authenticated
    @authorized
    def put(self, path: str) -> None:
        self._missing(path)

    @web.authenticated
    @authorized
    def patch(self, path: str) -> None:
        self._missing(path)

    @web.authenticated
    @authorized
    def delete(self, path: str) -> None:
        self._missing(path)
