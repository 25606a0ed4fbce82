"""Stable identities for Agnes routes.

Jupyter's default token login gives every browser a random anonymous user, which
is useless for permissions. On Agnes routes only, this provider maps identities:

* personal mode (Jupyter's stock token/password login): everyone who passed
  Jupyter's login is the server's owner — the OS user, or ``AgnesApp.username`` —
  and the owner is admin;
* any other identity provider (JupyterHub's, or a custom one): its username as is;
* ``Authorization: token agnes_...`` (a personal access token): the token's user.

It wraps Jupyter's provider rather than replacing it, so Jupyter's own login keeps
working; and it is used by Agnes handlers only, so a personal access token can never
reach Jupyter's own APIs (kernels, files, terminals).
"""

from __future__ import annotations

import asyncio
import getpass
import inspect
import os
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider, User

from agnes_core.access.tokens import Tokens, looks_like_token

if TYPE_CHECKING:
    from tornado.web import RequestHandler

#: Providers whose users are anonymous per-browser ids (Jupyter's stock logins).
_PERSONAL_PROVIDERS = (IdentityProvider, PasswordIdentityProvider)


def os_username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return os.environ.get("USER") or "owner"


def os_display_name(username: str) -> str:
    try:
        import pwd

        gecos = pwd.getpwnam(username).pw_gecos.split(",")[0].strip()
        return gecos or username
    except (KeyError, ImportError):
        return username


def is_personal(provider: IdentityProvider) -> bool:
    return type(provider) in _PERSONAL_PROVIDERS


class AgnesIdentity:
    """Delegates authentication to Jupyter's provider and maps the user (see module doc).

    A plain delegating object, not an IdentityProvider subclass: every attribute it
    does not define (cookies, login handler, token, ...) is Jupyter's own.
    """

    def __init__(self, inner: IdentityProvider, owner: str, owner_display_name: str,
                 tokens: Tokens | None = None) -> None:
        self.inner = inner
        self.owner = owner
        self.owner_display_name = owner_display_name
        self.tokens = tokens

    @property
    def personal(self) -> bool:
        return is_personal(self.inner)

    async def get_user(self, handler: RequestHandler) -> User | None:
        pat = self._personal_access_token(handler)
        if pat is not None and self.tokens is not None:
            # Raises Unauthorized (401) for an invalid, revoked or expired token. It reads the
            # store (and records last use), so it runs on the Agnes app's worker threads.
            executor = getattr(getattr(handler, "agnes", None), "executor", None)
            username, token_id = await asyncio.get_running_loop().run_in_executor(
                executor, self.tokens.authenticate, pat, handler.request.remote_ip)
            handler._token_authenticated = True  # type: ignore[attr-defined]
            handler._agnes_token_id = token_id  # type: ignore[attr-defined]
            return User(username=username, name=username, display_name=username)
        user = self.inner.get_user(handler)
        if inspect.isawaitable(user):
            user = await user
        if user is None:
            return None
        if self.personal:
            return User(username=self.owner, name=self.owner_display_name,
                        display_name=self.owner_display_name)
        return user

    @staticmethod
    def _personal_access_token(handler: RequestHandler) -> str | None:
        header = handler.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() in ("token", "bearer") and looks_like_token(value):
            return value
        return None

    def is_token_authenticated(self, handler: RequestHandler) -> bool:
        return bool(self.inner.is_token_authenticated(handler)
                    or getattr(handler, "_token_authenticated", False))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
