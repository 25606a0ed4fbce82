"""The caller's own personal access tokens."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from agnes_core.errors import Forbidden, NotFound

from .base import AgnesHandler


class TokensHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"tokens": await self.blocking(self.core.tokens.list, self.principal.username)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Create a token; its value is in this response only (it is stored as a hash)."""
        if self.via_access_token:
            raise Forbidden("an access token cannot mint another token",
                            hint="Create tokens from a logged-in JupyterLab session.")
        body, user = self.json_body(), self.principal.username
        token = await self.blocking(self.core.tokens.create, user, body, user)
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{token['id']}")
        self.write_json(token, status=201)


class TokenHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def delete(self, token_id: str) -> None:
        """Revoke one of your tokens (admins may revoke any)."""
        token = await self.blocking(self.core.tokens.get, token_id)
        if token["username"] != self.principal.username and not self.principal.is_admin:
            # Exactly what an id that does not exist gets: nothing says the token is someone else's.
            raise NotFound(f"no token {token_id!r}", details={"token": token_id})
        await self.blocking(self.core.tokens.revoke, token_id, self.principal.username)
        self.set_status(204)
        self.finish()
