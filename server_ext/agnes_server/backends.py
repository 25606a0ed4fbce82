"""How ``jupyter agnes`` reaches the registry: a running server's API, or the store itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agnes_core.errors import AgnesError, AlreadyExists, from_envelope

from . import __version__
from .paths import RunningServer


class Backend:
    """The operations the CLI needs; both backends return the API's JSON shapes."""

    data_dir: Path

    def describe(self) -> str:
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        raise NotImplementedError

    def list_sources(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def add_source(self, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def get_source(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def update_source(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def delete_source(self, name: str) -> None:
        raise NotImplementedError

    def list_tables(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def register_table(self, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def get_table(self, table_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def update_table(self, table_id: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def delete_table(self, table_id: str) -> None:
        raise NotImplementedError

    # Idempotent helpers used by `demo`.
    def upsert_source(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.add_source(body)
        except AlreadyExists:
            return self.update_source(body["name"], {k: v for k, v in body.items() if k != "name"})

    def upsert_table(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.register_table(body)
        except AlreadyExists:
            return self.update_table(body["id"], {k: v for k, v in body.items() if k != "id"})

    def close(self) -> None:
        """Release the store or the HTTP session."""


class LocalBackend(Backend):
    """Opens the state store directly (no server is running on this data dir)."""

    def __init__(self, data_dir: Path) -> None:
        from agnes_core.core import AgnesCore

        self.data_dir = data_dir
        self.core = AgnesCore(data_dir)

    def describe(self) -> str:
        return f"in {self.data_dir / 'system.duckdb'}"

    def status(self) -> dict[str, Any]:
        info = self.core.store.info()
        return {"version": __version__, "data_dir": str(self.data_dir), "server": "not running",
                "schema_version": info.schema_version, "sources": len(self.core.registry.list_sources()),
                "tables": len(self.core.registry.list_tables())}

    def list_sources(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.core.registry.list_sources()]

    def add_source(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.core.registry.add_source(body).to_json()

    def get_source(self, name: str) -> dict[str, Any]:
        return self.core.registry.get_source(name).to_json()

    def update_source(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.core.registry.update_source(name, body, partial=True).to_json()

    def delete_source(self, name: str) -> None:
        self.core.registry.delete_source(name)

    def list_tables(self) -> list[dict[str, Any]]:
        return [t.to_json() for t in self.core.registry.list_tables()]

    def register_table(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.core.registry.register_table(body).to_json()

    def get_table(self, table_id: str) -> dict[str, Any]:
        return self.core.registry.get_table(table_id).to_json()

    def update_table(self, table_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.core.registry.update_table(table_id, body, partial=True).to_json()

    def delete_table(self, table_id: str) -> None:
        self.core.registry.delete_table(table_id)

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

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        import requests

        try:
            response = self._session.request(method, self.server.api(path), json=body, timeout=120)
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

    def list_sources(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "admin/sources")["sources"])

    def add_source(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "admin/sources", body))

    def get_source(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"admin/sources/{name}"))

    def update_source(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"admin/sources/{name}", body))

    def delete_source(self, name: str) -> None:
        self._call("DELETE", f"admin/sources/{name}")

    def list_tables(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "admin/tables")["tables"])

    def register_table(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "admin/tables", body))

    def get_table(self, table_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"admin/tables/{table_id}"))

    def update_table(self, table_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"admin/tables/{table_id}", body))

    def delete_table(self, table_id: str) -> None:
        self._call("DELETE", f"admin/tables/{table_id}")

    def close(self) -> None:
        self._session.close()
