"""Test doubles for Jupyter's auth: a multi-user identity provider and a deny-all authorizer."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Dict, Unicode


class TokenUsersIdentityProvider(IdentityProvider):
    """Maps tokens to usernames, like a team server with several users. The server's own
    token (the one pytest-jupyter's jp_fetch sends) is ``server_token_user``."""

    users = Dict(Unicode(), config=True, help="token -> username")
    server_token_user = Unicode("alice", config=True)

    def get_user(self, handler: Any) -> User | None:
        token = self.get_token(handler)
        if not token:
            return None
        username = self.server_token_user if token == self.token else self.users.get(token)
        if username is None:
            return None
        handler._token_authenticated = True
        return User(username=username, name=username.title(), display_name=username.title())


class DenyAgnesAuthorizer(Authorizer):
    """Refuses every action on the 'agnes' resource; allows Jupyter's own."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource != "agnes"
