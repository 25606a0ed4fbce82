"""Pushed changes (the STREAM capability): ``POST agnes/v1/webhooks/{type}/{source}``.

This is the one route not authenticated by Jupyter: the source's service (Jira) cannot hold a
Jupyter token, so the request is authenticated by the signature it carries — an HMAC of the raw
body by a secret shared with the source (``@signed``, checked before anything else runs). No
cookie or token is read, so the route grants nothing else: it only applies the changes the signed
body describes, to the tables of the source in the URL. The body is bounded before it is read
whole (``Content-Length`` first, then as it streams in)."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from jupyter_server.auth.decorator import allow_unauthenticated
from tornado import web

from agnes_core.connectors import Capability, Connector
from agnes_core.errors import BadRequest, NotFound, PayloadTooLarge, SourceError, Unauthorized

from .base import AgnesHandler

T = TypeVar("T")

#: The largest webhook body read (Jira's issue events are a few tens of KB).
MAX_WEBHOOK_BYTES = 1024 * 1024
#: Headers a signed push carries its signature in (``sha256=<hex>``).
SIGNATURE_HEADERS = ("X-Hub-Signature", "X-Hub-Signature-256")
_HINT = "Configure the webhook in the source with the secret this source names in secrets.webhook_secret."

def signed(method: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Authenticate a verb by the source's signature of the raw body (instead of Jupyter's
    ``@web.authenticated``): a request without a signature is refused on the loop, and the verb's
    work runs through :meth:`WebhookHandler.verified`, which checks the signature before it, on
    the worker thread the work runs on (one hop off the loop per request, not two)."""

    @functools.wraps(method)
    async def signed(self: WebhookHandler, kind: str, source: str) -> None:
        self.require_signature(kind, source)
        await method(self, kind, source)

    return signed


@web.stream_request_body
class WebhookHandler(AgnesHandler):
    #: How the route is authenticated (tests/server/test_auth.py checks every route by it).
    authenticated_by = "signature"

    async def prepare(self) -> None:  # type: ignore[override]
        # Not Jupyter's prepare: no identity is looked up, no cookie or token is read.
        self._agnes_started = time.perf_counter()
        self.current_user = None
        self._jupyter_current_user = None
        self._body_parts: list[bytes] = []
        self._body_size = 0
        if not self.check_host():
            raise web.HTTPError(403)
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
            raise self._too_large(int(declared))
        # A body streamed without a length is cut off (the connection closed) far past the limit.
        self.request.connection.set_max_body_size(MAX_WEBHOOK_BYTES * 4)  # type: ignore[union-attr]

    def check_xsrf_cookie(self) -> None:
        """No cookie authenticates this route (a signature does), so there is no forgery to stop."""

    def data_received(self, chunk: bytes) -> None:
        self._body_size += len(chunk)
        if self._body_size <= MAX_WEBHOOK_BYTES:
            self._body_parts.append(chunk)

    @staticmethod
    def _too_large(size: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"the webhook body is {size:,} bytes; the limit is {MAX_WEBHOOK_BYTES:,}",
                               hint="Send fewer fields in the webhook (Jira: exclude the body's rendered fields).")

    @property
    def raw_body(self) -> bytes:
        if self._body_size > MAX_WEBHOOK_BYTES:
            raise self._too_large(self._body_size)
        return b"".join(self._body_parts)

    def require_signature(self, kind: str, source: str) -> None:
        """Refuse a request that carries no signature; keep what :meth:`verified` checks."""
        body = self.raw_body
        if not any(self.request.headers.get(h) for h in SIGNATURE_HEADERS):
            raise Unauthorized("the webhook carries no signature (X-Hub-Signature: sha256=<hex>)", hint=_HINT)
        self._signed = (kind, source, dict(self.request.headers.get_all()), body)

    def verified(self, work: Callable[..., T], *args: Any) -> T:
        """``work(connector, headers, body, *args)`` once the body's signature is checked (blocking:
        call it through ``self.blocking``); the connector is closed after it."""
        signed = getattr(self, "_signed", None)
        if signed is None:  # a verb without @signed: nothing runs
            raise Unauthorized("the webhook's signature was not checked", hint=_HINT)
        kind, source, headers, body = signed
        connector = self._authenticate(kind, source, headers, body)
        try:
            return work(connector, headers, body, *args)
        finally:
            connector.close()

    def _authenticate(self, kind: str, source: str, headers: dict[str, str], body: bytes) -> Connector:
        found = self.core.registry.sources_by_name().get(source)
        if found is None or found.type != kind:
            raise NotFound(f"no {kind} source named {source!r}",
                           hint="The webhook's URL names the source: agnes/v1/webhooks/<type>/<source>.",
                           details={"source": source})
        connector = self.core.connector(source)
        try:
            if Capability.STREAM not in connector.capabilities:
                raise BadRequest(f"{kind} sources do not take webhooks (no STREAM capability)",
                                 hint="Only streaming connectors (jira) have a webhook route.",
                                 details={"source": source})
            try:
                connector.authenticate_push(headers, body)
            except SourceError as exc:  # no secret to check with: refused, the reason logged here only
                self.log.warning("agnes: webhook for %s refused: %s", source, exc.message)
                raise Unauthorized("the webhook's signature cannot be checked: the source has no webhook secret",
                                   hint=_HINT) from None
        except BaseException:
            connector.close()
            raise
        return connector

    @allow_unauthenticated  # by Jupyter: @signed authenticates it
    @signed
    async def post(self, kind: str, source: str) -> None:
        self.write_json(await self.blocking(self.verified, _push, self.core.extracts.stream, source))


def _push(connector: Connector, headers: dict[str, str], body: bytes, stream: Any, source: str) -> dict[str, Any]:
    return stream.push(source, connector, headers, body)
