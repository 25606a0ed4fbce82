"""How ``jupyter agnes`` reaches the registry: a running server's API, or the store itself.

Both backends expose the same operations and return the API's JSON shapes.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from agnes_core.errors import AgnesError, AlreadyExists, from_envelope

from . import __version__
from .paths import RunningServer

T = TypeVar("T")


class Backend:
    data_dir: Path

    def describe(self) -> str:
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the store or the HTTP session."""


class LocalBackend(Backend):
    """Opens the state store directly (no server is running on this data dir)."""

    def __init__(self, data_dir: Path) -> None:
        from agnes_core.core import AgnesCore

        self.data_dir = data_dir
        self.core = AgnesCore(data_dir)
        self.actor = _os_user()

    def describe(self) -> str:
        return f"in {self.data_dir / 'system.duckdb'}"

    def _audit(self, action: str, resource: str, fn: Callable[[], T]) -> T:
        try:
            result = fn()
        except AgnesError as exc:
            self.core.audit.record(self.actor, action, resource, "error", status=exc.status, via="cli")
            raise
        self.core.audit.record(self.actor, action, resource, "ok", via="cli")
        return result

    def status(self) -> dict[str, Any]:
        info = self.core.store.info()
        return {"version": __version__, "data_dir": str(self.data_dir), "server": "not running",
                "schema_version": info.schema_version, "sources": len(self.core.registry.list_sources()),
                "tables": len(self.core.registry.list_tables())}

    # sources
    def list_sources(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.core.registry.list_sources()]

    def add_source(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("source.create", f"source/{body.get('name')}",
                           lambda: self.core.registry.add_source(body).to_json())

    def get_source(self, name: str) -> dict[str, Any]:
        return self.core.registry.get_source(name).to_json()

    def update_source(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("source.update", f"source/{name}",
                           lambda: self.core.registry.update_source(name, body, partial=True).to_json())

    def delete_source(self, name: str) -> None:
        self._audit("source.delete", f"source/{name}", lambda: self.core.registry.delete_source(name))

    def test_source(self, name: str) -> dict[str, Any]:
        return self.core.test_source(name)

    def discover_source(self, name: str) -> dict[str, Any]:
        return self.core.discover_source(name)

    # tables
    def list_tables(self) -> list[dict[str, Any]]:
        return [t.to_json() for t in self.core.registry.list_tables()]

    def register_table(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("table.create", f"table/{body.get('id')}",
                           lambda: self.core.registry.register_table(body).to_json())

    def get_table(self, table_id: str) -> dict[str, Any]:
        return self.core.registry.get_table(table_id).to_json()

    def update_table(self, table_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("table.update", f"table/{table_id}",
                           lambda: self.core.registry.update_table(table_id, body, partial=True).to_json())

    def delete_table(self, table_id: str) -> None:
        self._audit("table.delete", f"table/{table_id}", lambda: self.core.registry.delete_table(table_id))

    def extract_table(self, table_id: str) -> dict[str, Any]:
        return self.core.extracts.run(table_id, trigger="manual", actor=self.actor)

    def table_runs(self, table_id: str) -> dict[str, Any]:
        return {"table_id": table_id, "runs": self.core.extracts.runs(table_id),
                "schema_changes": self.core.extracts.schema_changes(table_id)}

    # access
    def list_users(self) -> list[dict[str, Any]]:
        return self.core.access.list_users()

    def add_user(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("user.create", f"user/{body.get('username')}",
                           lambda: self.core.access.create_user(body, self.actor))

    def set_user_active(self, username: str, active: bool) -> dict[str, Any]:
        return self._audit("user.update", f"user/{username}",
                           lambda: self.core.access.set_active(username, active, self.actor))

    def issue_token(self, username: str, body: dict[str, Any]) -> dict[str, Any]:
        self.core.access.get_user(username)
        return self.core.tokens.create(username, body, self.actor)

    def list_groups(self) -> list[dict[str, Any]]:
        return self.core.access.list_groups()

    def add_group(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("group.create", f"group/{body.get('name')}", lambda: self.core.access.create_group(body))

    def delete_group(self, name: str) -> None:
        self._audit("group.delete", f"group/{name}", lambda: self.core.access.delete_group(name))

    def add_member(self, group: str, username: str) -> dict[str, Any]:
        return self._audit("group.add_member", f"group/{group}",
                           lambda: self.core.access.add_member(group, {"username": username}))

    def remove_member(self, group: str, username: str) -> None:
        self._audit("group.remove_member", f"group/{group}", lambda: self.core.access.remove_member(group, username))

    def list_grants(self) -> list[dict[str, Any]]:
        return self.core.access.list_grants()

    def add_grant(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("grant.create", "grant", lambda: self.core.access.create_grant(
            body, self.actor, resource_exists=self.core.resource_exists))

    # packages and recipes
    def add_package(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("package.create", f"package/{body.get('slug')}",
                           lambda: self.core.packages.create(body, self.actor))

    def update_package(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("package.update", f"package/{slug}",
                           lambda: self.core.packages.update(slug, body, partial=True))

    def add_recipe(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("recipe.create", f"recipe/{body.get('slug')}",
                           lambda: self.core.recipes.create(body, self.actor))

    def update_recipe(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._audit("recipe.update", f"recipe/{slug}",
                           lambda: self.core.recipes.update(slug, body, partial=True))

    def delete_grant(self, grant_id: str) -> None:
        self._audit("grant.delete", f"grant/{grant_id}", lambda: self.core.access.delete_grant(grant_id))

    def close(self) -> None:
        self.core.close()


class ApiBackend(Backend):
    """Talks to the server that owns the data dir, with its token."""

    def __init__(self, data_dir: Path, server: RunningServer) -> None:
        import requests

        self.data_dir = data_dir
        self.server = server
        self._session = requests.Session()
        if server.token:
            self._session.headers["Authorization"] = f"token {server.token}"

    def describe(self) -> str:
        return f"through the running server {self.server.url} (pid {self.server.pid})"

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 120) -> Any:
        import requests

        try:
            response = self._session.request(method, self.server.api(path), json=body, timeout=timeout)
        except requests.ConnectionError:
            raise AgnesError(f"a server (pid {self.server.pid}) holds {self.data_dir} but does not answer at "
                             f"{self.server.url}",
                             hint="Wait for it to finish starting, or stop it and retry.", code="unavailable") from None
        if response.status_code >= 400:
            try:
                envelope = response.json()
            except ValueError:
                envelope = {"message": f"{response.status_code} from {path}"}
            raise from_envelope(envelope, response.status_code)
        return response.json() if response.content else None

    def status(self) -> dict[str, Any]:
        version = self._call("GET", "version")
        return {"version": __version__, "data_dir": str(self.data_dir),
                "server": f"running (pid {self.server.pid}) at {self.server.url}",
                "server_version": version["version"],
                "sources": len(self.list_sources()), "tables": len(self.list_tables())}

    # sources
    def list_sources(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "admin/sources")["sources"])

    def add_source(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "admin/sources", body))

    def get_source(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"admin/sources/{_q(name)}"))

    def update_source(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"admin/sources/{_q(name)}", body))

    def delete_source(self, name: str) -> None:
        self._call("DELETE", f"admin/sources/{_q(name)}")

    def test_source(self, name: str) -> dict[str, Any]:
        return dict(self._call("POST", f"admin/sources/{_q(name)}/test", {}))

    def discover_source(self, name: str) -> dict[str, Any]:
        return dict(self._call("POST", f"admin/sources/{_q(name)}/discover", {}))

    # tables
    def list_tables(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "admin/tables")["tables"])

    def register_table(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "admin/tables", body))

    def get_table(self, table_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"admin/tables/{_q(table_id)}"))

    def update_table(self, table_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"admin/tables/{_q(table_id)}", body))

    def delete_table(self, table_id: str) -> None:
        self._call("DELETE", f"admin/tables/{_q(table_id)}")

    def extract_table(self, table_id: str) -> dict[str, Any]:
        run = dict(self._call("POST", f"admin/tables/{_q(table_id)}/extract", {}))
        while run["status"] == "running":  # poll the run the server started
            time.sleep(0.5)
            run = dict(self._call("GET", f"admin/tables/{_q(table_id)}/runs/{run['run_id']}"))
        return run

    def table_runs(self, table_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"admin/tables/{_q(table_id)}/runs"))

    # access
    def list_users(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "admin/users")["users"])

    def add_user(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "admin/users", body))

    def set_user_active(self, username: str, active: bool) -> dict[str, Any]:
        return dict(self._call("PATCH", f"admin/users/{_q(username)}", {"is_active": active}))

    def issue_token(self, username: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", f"admin/users/{_q(username)}/tokens", body))

    def list_groups(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "admin/groups")["groups"])

    def add_group(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "admin/groups", body))

    def delete_group(self, name: str) -> None:
        self._call("DELETE", f"admin/groups/{_q(name)}")

    def add_member(self, group: str, username: str) -> dict[str, Any]:
        return dict(self._call("POST", f"admin/groups/{_q(group)}/members", {"username": username}))

    def remove_member(self, group: str, username: str) -> None:
        self._call("DELETE", f"admin/groups/{_q(group)}/members/{_q(username)}")

    def list_grants(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "admin/grants")["grants"])

    def add_grant(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "admin/grants", body))

    def add_package(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "admin/packages", body))

    def update_package(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"admin/packages/{_q(slug)}", body))

    def add_recipe(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "admin/recipes", body))

    def update_recipe(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"admin/recipes/{_q(slug)}", body))

    def delete_grant(self, grant_id: str) -> None:
        self._call("DELETE", f"admin/grants/{_q(grant_id)}")

    def close(self) -> None:
        self._session.close()


def _q(part: str) -> str:
    return quote(part, safe="")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


AnyBackend = LocalBackend | ApiBackend


def upsert_source(backend: AnyBackend, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return backend.add_source(body)
    except AlreadyExists:
        return backend.update_source(body["name"], {k: v for k, v in body.items() if k != "name"})


def upsert_table(backend: AnyBackend, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return backend.register_table(body)
    except AlreadyExists:
        return backend.update_table(body["id"], {k: v for k, v in body.items() if k != "id"})


def upsert_package(backend: AnyBackend, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return backend.add_package(body)
    except AlreadyExists:
        return backend.update_package(body["slug"], {k: v for k, v in body.items() if k != "slug"})


def upsert_recipe(backend: AnyBackend, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return backend.add_recipe(body)
    except AlreadyExists:
        return backend.update_recipe(body["slug"], {k: v for k, v in body.items() if k != "slug"})


def ensure_grant(backend: AnyBackend, body: dict[str, Any]) -> None:
    try:
        backend.add_grant(body)
    except AlreadyExists:
        pass
