"""Stable identities for Agnes routes.

Jupyter's default token login gives every browser a random anonymous user, which
is useless for permissions. On Agnes routes only, this provider maps identities:

* personal mode (Jupyter's stock token/password login): everyone who passed
  Jupyter's login is the server's owner — the OS user, or ``AgnesApp.username`` —
  and the owner is admin;
* any other identity provider (JupyterHub's, or a custom one): its username as is;
* ``Authorization: token agnes_...`` (a personal access token): the token's user;
* ``Authorization: token agnes_inproc_...`` (an in-process token, :class:`InProcessTokens`):
  the user of the workspace job that holds it.

It wraps Jupyter's provider rather than replacing it, so Jupyter's own login keeps
working; and it is used by Agnes handlers only, so a personal access token can never
reach Jupyter's own APIs (kernels, files, terminals).
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import inspect
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider, User

from agnes_core.access.tokens import Tokens, looks_like_token
from agnes_core.errors import Unauthorized

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


@dataclass(frozen=True)
class _Grant:
    username: str
    display_name: str
    expires: float  # time.monotonic()
    paths: re.Pattern[str]


class InProcessTokens:
    """Tokens this server hands to its own in-process clients, so that their requests act as the
    user they work for.

    The workspace routes run the kernel library's sync and snapshot code in the server process,
    and that code talks HTTP to the Agnes API of this very server. Those requests must be the
    calling user's — the same RBAC, gate, budget and audit as the user's own kernel — and nobody
    else's: not the server token's (in a personal server that is the owner; in a shared one it is
    no user at all), and never a token the user could see. So each job gets a token that

    * exists only in this process's memory (a SHA-256 of it; never stored, returned or logged),
    * names one user, who is checked on every request like any other (an account deactivated
      meanwhile stops working at once: ``require_active``),
    * reaches only the routes the kernel code needs (``paths``), never Jupyter's own APIs (like
      every token Agnes reads) nor token minting (it counts as an access token),
    * is revoked when the job ends, and expires after ``ttl_s`` whatever happens.
    """

    PREFIX = "agnes_inproc_"

    def __init__(self) -> None:
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    def issue(self, username: str, display_name: str, paths: re.Pattern[str], ttl_s: float) -> str:
        """A new token for ``username``, valid for API paths (below ``agnes/v1/``) that ``paths`` matches."""
        token = self.PREFIX + secrets.token_urlsafe(32)
        grant = _Grant(username, display_name, time.monotonic() + ttl_s, paths)
        with self._lock:
            now = time.monotonic()
            for key in [k for k, g in self._grants.items() if g.expires <= now]:
                del self._grants[key]
            self._grants[_digest(token)] = grant
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._grants.pop(_digest(token), None)

    def resolve(self, token: str, api_path: str | None) -> _Grant:
        """The grant of a live token for this API path; Unauthorized otherwise."""
        with self._lock:
            grant = self._grants.get(_digest(token))
        if grant is None or grant.expires <= time.monotonic() or api_path is None \
                or not grant.paths.fullmatch(api_path):
            raise Unauthorized("invalid in-process token")
        return grant

    def __len__(self) -> int:
        with self._lock:
            return len(self._grants)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _api_path(path: str) -> str | None:
    """The part of a request path after ``/agnes/v1/`` (None for any other path)."""
    at = path.find("/agnes/v1/")
    return path[at + len("/agnes/v1/"):] if at >= 0 else None


class AgnesIdentity:
    """Delegates authentication to Jupyter's provider and maps the user (see module doc).

    A plain delegating object, not an IdentityProvider subclass: every attribute it
    does not define (cookies, login handler, token, ...) is Jupyter's own.
    """

    def __init__(self, inner: IdentityProvider, owner: str, owner_display_name: str,
                 tokens: Tokens | None = None, in_process: InProcessTokens | None = None) -> None:
        self.inner = inner
        self.owner = owner
        self.owner_display_name = owner_display_name
        self.tokens = tokens
        self.in_process = in_process

    @property
    def personal(self) -> bool:
        return is_personal(self.inner)

    async def get_user(self, handler: RequestHandler) -> User | None:
        pat = self._personal_access_token(handler)
        if pat is not None and pat.startswith(InProcessTokens.PREFIX):
            if self.in_process is None:
                raise Unauthorized("invalid in-process token")
            grant = self.in_process.resolve(pat, _api_path(handler.request.path))
            handler._token_authenticated = True  # type: ignore[attr-defined]
            handler._agnes_token_id = "in-process"  # type: ignore[attr-defined]
            return User(username=grant.username, name=grant.display_name, display_name=grant.display_name)
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
