"""Every Agnes route in one data list (relative to the server's base URL)."""

from __future__ import annotations

from typing import Any

from .handlers import admin, catalog, meta

API = "agnes/v1"
_ID = r"([^/]+)"

ROUTES: list[tuple[str, type[Any]]] = [
    (rf"{API}/version", meta.VersionHandler),
    (rf"{API}/me", meta.MeHandler),
    (rf"{API}/openapi\.json", meta.OpenAPIHandler),
    (rf"{API}/catalog", catalog.CatalogHandler),
    (rf"{API}/tables/{_ID}/schema", catalog.TableSchemaHandler),
    (rf"{API}/admin/sources", admin.SourcesHandler),
    (rf"{API}/admin/sources/{_ID}", admin.SourceHandler),
    (rf"{API}/admin/tables", admin.TablesHandler),
    (rf"{API}/admin/tables/{_ID}", admin.TableHandler),
    # Last: anything else under agnes/v1 gets the JSON 404 envelope.
    (rf"{API}/(.*)", meta.NotFoundHandler),
]
