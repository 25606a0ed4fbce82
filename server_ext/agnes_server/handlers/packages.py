"""Data packages, recipes, My Stack and the sync manifest.

Admin routes (CRUD, soft delete, restore) are audited by ``AdminHandler``; the analyst routes
are RBAC-filtered in the core, and changes to a stack and every manifest fetch are audited here.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import AdminHandler, AgnesHandler


def _flag(handler: AgnesHandler, name: str) -> bool:
    return handler.get_query_argument(name, "false").lower() in ("1", "true", "yes")


# -- admin ---------------------------------------------------------------------------------------


class AdminPackagesHandler(AdminHandler):
    audit_kind = "package"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        include = _flag(self, "include_deleted")
        self.write_json({"packages": await self.blocking(self.core.packages.list_admin, include)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        pkg = await self.blocking(self.core.packages.create, body, self.principal.username)
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{pkg['slug']}")
        self.write_json(pkg, status=201)


class AdminPackageHandler(AdminHandler):
    audit_kind = "package"

    @web.authenticated
    @authorized
    async def get(self, slug: str) -> None:
        include_deleted = self.get_query_argument("include_deleted", "false") == "true"
        self.write_json(await self.blocking(lambda: self.core.packages.get_admin(slug,
                                                                                 include_deleted=include_deleted)))

    @web.authenticated
    @authorized
    async def put(self, slug: str) -> None:
        body = self.json_body()
        self.write_json(await self.blocking(lambda: self.core.packages.update(slug, body, partial=False)))

    @web.authenticated
    @authorized
    async def patch(self, slug: str) -> None:
        body = self.json_body()
        self.write_json(await self.blocking(lambda: self.core.packages.update(slug, body, partial=True)))

    @web.authenticated
    @authorized
    async def delete(self, slug: str) -> None:
        """Soft delete: the package (with ``deleted_at``) comes back so a UI can offer Undo."""
        self.write_json(await self.blocking(self.core.packages.delete, slug, self.principal.username))


class AdminPackageRestoreHandler(AdminHandler):
    audit_kind = "package"
    audit_verbs = {"POST": "restore"}

    @web.authenticated
    @authorized
    async def post(self, slug: str) -> None:
        self.write_json(await self.blocking(self.core.packages.restore, slug))


class AdminRecipesHandler(AdminHandler):
    audit_kind = "recipe"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        include = _flag(self, "include_deleted")
        self.write_json({"recipes": await self.blocking(self.core.recipes.list_admin, include)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        recipe = await self.blocking(self.core.recipes.create, body, self.principal.username)
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{recipe['slug']}")
        self.write_json(recipe, status=201)


class AdminRecipeHandler(AdminHandler):
    audit_kind = "recipe"

    @web.authenticated
    @authorized
    async def get(self, slug: str) -> None:
        include_deleted = self.get_query_argument("include_deleted", "false") == "true"
        self.write_json(await self.blocking(lambda: self.core.recipes.get_admin(slug, include_deleted=include_deleted)))

    @web.authenticated
    @authorized
    async def put(self, slug: str) -> None:
        body = self.json_body()
        self.write_json(await self.blocking(lambda: self.core.recipes.update(slug, body, partial=False)))

    @web.authenticated
    @authorized
    async def patch(self, slug: str) -> None:
        body = self.json_body()
        self.write_json(await self.blocking(lambda: self.core.recipes.update(slug, body, partial=True)))

    @web.authenticated
    @authorized
    async def delete(self, slug: str) -> None:
        self.write_json(await self.blocking(self.core.recipes.delete, slug, self.principal.username))


class AdminRecipeRestoreHandler(AdminHandler):
    audit_kind = "recipe"
    audit_verbs = {"POST": "restore"}

    @web.authenticated
    @authorized
    async def post(self, slug: str) -> None:
        self.write_json(await self.blocking(self.core.recipes.restore, slug))


# -- analysts ------------------------------------------------------------------------------------


class PackagesHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"packages": await self.blocking(self.core.packages.browse, self.principal)})


class PackageHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self, slug: str) -> None:
        self.write_json(await self.blocking(self.core.packages.get, self.principal, slug))


class StackHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        def stack() -> dict[str, Any]:
            return self.core.packages.stack(self.principal, self.core.recipes.visible(self.principal))

        self.write_json(await self.blocking(stack))


class StackItemHandler(AgnesHandler):
    """``PUT stack/{kind}/{id}`` adds to My Stack (403 if not granted); ``DELETE`` removes
    (400 ``required_item`` for what is granted as required)."""

    @web.authenticated
    @authorized
    async def put(self, kind: str, rid: str) -> None:
        def add() -> dict[str, Any]:
            def visible_recipe(slug: str) -> str | None:
                return next((r["slug"] for r in self.core.recipes.visible(self.principal) if r["slug"] == slug), None)

            self.core.packages.subscribe(self.principal, kind, rid, visible_recipe=visible_recipe)
            self.core.audit.record(self.principal.username, "stack.add", f"stack/{kind}/{rid}")
            return self.core.packages.stack(self.principal, self.core.recipes.visible(self.principal))

        self.write_json(await self.blocking(add))

    @web.authenticated
    @authorized
    async def delete(self, kind: str, rid: str) -> None:
        def remove() -> None:
            requirement = self.core.packages.requirement(self.principal, kind, rid)
            self.core.packages.unsubscribe(self.principal, kind, rid, requirement=requirement)
            self.core.audit.record(self.principal.username, "stack.remove", f"stack/{kind}/{rid}")

        await self.blocking(remove)
        self.set_status(204)
        self.finish()


class RecipesHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"recipes": await self.blocking(self.core.recipes.visible, self.principal)})


class RecipeHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self, slug: str) -> None:
        self.write_json(await self.blocking(self.core.recipes.get, self.principal, slug))


class RecipeRenderHandler(AgnesHandler):
    """``POST recipes/{slug}/render`` with ``{"params": {...}}``: the SQL with typed literals."""

    @web.authenticated
    @authorized
    async def post(self, slug: str) -> None:
        body = self.json_body()
        self.write_json(await self.blocking(self.core.recipes.render, self.principal, slug, body.get("params", {})))


class ManifestHandler(AgnesHandler):
    """``GET sync/manifest``: the tables of My Stack the user may read, md5 per table."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        def manifest() -> dict[str, Any]:
            out = self.core.packages.manifest(self.principal, self.core.recipes.visible(self.principal))
            self.core.audit.record(self.principal.username, "sync.manifest", "sync/manifest",
                                   tables=len(out["tables"]))
            return out

        self.write_json(await self.blocking(manifest))
