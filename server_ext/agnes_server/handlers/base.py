"""The base of every Agnes handler: identity, the one error envelope, JSON in and out."""

from __future__ import annotations

import functools
import inspect
import json
import sys
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.ioloop import IOLoop

from agnes_core.access.principals import Principal
from agnes_core.errors import AgnesError, BadRequest, Forbidden, ValidationError

if TYPE_CHECKING:
    from agnes_core.core import AgnesCore

    from ..app import AgnesApp

T = TypeVar("T")

_CODE_BY_STATUS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 416: "range_not_satisfiable", 429: "quota_exceeded",
}
#: The largest JSON request body any Agnes route reads (a scan's SQL is limited far below this).
MAX_JSON_BODY_BYTES = 2 * 1024 * 1024
#: How deeply a JSON request body may nest (no route reads more than a few levels).
MAX_JSON_DEPTH = 32
_HINTS = {
    "unauthorized": "Log in to Jupyter, or send 'Authorization: token <token>'.",
    "forbidden": "Ask an Agnes admin for access.",
    "not_found": "Check the URL; GET agnes/v1/openapi.json lists every route.",
    "method_not_allowed": "GET agnes/v1/openapi.json lists the methods of each route.",
}


class AgnesHandler(ExtensionHandlerMixin, APIHandler):
    """Authenticated JSON handler; subclasses decorate every verb with
    ``@web.authenticated`` and ``@authorized`` (a test enforces it)."""

    auth_resource = "agnes"
    #: Admin routes set this; the check runs before any work or cache read.
    admin_only = False

    def initialize(self, name: str, *args: Any, **kwargs: Any) -> None:
        super().initialize(name, *args, **kwargs)
        # Agnes routes read JSON bodies only. Tornado would parse a form body before authentication
        # and refuse a malformed one there, unaudited and without a user; skipped, such a body is
        # refused by json_body() after authentication like any other bad body.
        self.request._parse_body = _no_form_parsing  # type: ignore[method-assign]

    @property
    def agnes(self) -> AgnesApp:
        return self.extensionapp  # type: ignore[return-value]

    @property
    def core(self) -> AgnesCore:
        return self.agnes.core

    @property
    def identity_provider(self) -> Any:
        """Jupyter's provider wrapped with Agnes's identity mapping (Agnes routes only)."""
        return self.agnes.identity

    async def prepare(self) -> None:  # type: ignore[override]
        self._agnes_started = time.perf_counter()
        await super().prepare()
        user = self.current_user
        if self._finished or user is None or self.request.method == "OPTIONS":
            return
        # Building a principal may write to the store (a user's first request) and reads their
        # groups: off the loop, once per request; every later use is the resolved value.
        self._principal = await self.blocking(self.agnes.principal_for, user.username,
                                              user.display_name or user.name)
        self.core.access.require_active(self._principal)
        if self.admin_only and not self.principal.is_admin:
            raise Forbidden(
                "this route is for Agnes admins",
                hint="Ask an admin to add you to the Admin group or to AgnesApp.admin_users.",
                details={"username": self.principal.username},
            )
        # Jupyter's authorizer first (as @authorized would), so a refused caller learns nothing of
        # what a well-formed request looks like; then the request against the document.
        action = HTTP_METHOD_TO_AUTH_ACTION.get(self.request.method or "", "")
        if action:
            allowed = self.authorizer.is_authorized(self, self.current_user, action, self.auth_resource)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if not allowed:
                raise web.HTTPError(403)
        try:
            self._check_request()
        except AgnesError as exc:
            await self.on_refused(exc)
            raise

    def _check_request(self) -> None:
        """The request against the OpenAPI document: parameters and JSON body (see validation.py)."""
        path = self.request.path
        at = path.find("/agnes/v1/")
        if at < 0:
            return
        found = self.agnes.requests.operation(self.request.method or "", path[at + len("/agnes/v1"):])
        if found is None:
            return
        op, raw_args = found
        path_args = {k: unquote(v) for k, v in raw_args.items()}
        query: dict[str, list[str]] = {}
        for name, values in self.request.query_arguments.items():
            try:
                query[name] = [v.decode("utf-8") for v in values]
            except UnicodeDecodeError:
                raise BadRequest(f"the query argument {name} is not UTF-8 text",
                                 details={"field": name}) from None
        self.agnes.requests.check(op, path_args, query, bool(self.request.body), self.json_body)

    async def on_refused(self, exc: AgnesError) -> None:
        """Called when a request is refused before its handler runs (scan routes audit it)."""

    _principal: Principal | None = None

    @property
    def principal(self) -> Principal:
        """Who is asking; resolved off the loop in ``prepare`` before any verb runs."""
        found = self._principal
        if found is None:
            user = self.current_user
            if user is None:
                raise web.HTTPError(403)
            # Only reached if something reads the principal before prepare() resolved it; the
            # loop-blocking test harness would name such a caller.
            found = self._principal = self.agnes.principal_for(user.username, user.display_name or user.name)
        return found

    # -- request and response helpers ---------------------------------------------------

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, or a 4xx envelope saying what is wrong with it: too
        large, not JSON, nested too deeply, or holding text that is not valid Unicode."""
        cached = getattr(self, "_json_cache", None)
        if cached is not None:
            return cached
        raw = self.request.body
        if not raw:
            return {}
        if len(raw) > MAX_JSON_BODY_BYTES:
            raise AgnesError(f"the request body is {len(raw):,} bytes; the limit is {MAX_JSON_BODY_BYTES:,}",
                             code="payload_too_large", hint="Send less: scan SQL is limited to far less than this.")
        try:
            body = json.loads(raw)
        except RecursionError:
            raise BadRequest("the request body nests too deeply to be read",
                             hint=f"JSON bodies nest at most {MAX_JSON_DEPTH} levels.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc}",
                             hint="Send a JSON object with Content-Type: application/json.") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object", hint="Wrap the values in {...}.")
        check_json_text(body)
        self._json_cache: dict[str, Any] = body
        return body

    def int_arg(self, name: str, default: int, lo: int, hi: int) -> int:
        """A whole-number query argument within [lo, hi], or a 400 naming it."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
        if value is None or not lo <= value <= hi:
            raise ValidationError(name, f"{name} must be a whole number from {lo} to {hi}; got {raw[:40]!r}",
                                  limit=hi)
        return value

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(payload, default=str))

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (DuckDB, the state store, files, source clients) off the event loop.

        The loop only awaits: anything that may touch the store — even a read that an in-memory
        snapshot answers most of the time, since the snapshot is reloaded after every change — goes
        through here (the server tests fail a request that holds the loop, tests/server/_loopwatch.py).
        """
        return await IOLoop.current().run_in_executor(self.agnes.executor, functools.partial(fn, *args))

    async def scanning(self, fn: Callable[..., T], *args: Any) -> T:
        """Run scan work (validation, estimates, reading the source) on the scans' own threads."""
        return await IOLoop.current().run_in_executor(self.agnes.scan_executor, functools.partial(fn, *args))

    # -- the one error mapping ----------------------------------------------------------

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, AgnesError):
            # Expected: no traceback in the log, just what happened.
            self.log.info("agnes: %s %s -> %s %s", self.request.method, self.request.path, e.code, e.message)
            if not self._finished:
                self.send_error(e.status, exc_info=sys.exc_info())
            return
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, AgnesError):
            status, envelope = exc.status, exc.envelope()
        elif isinstance(exc, web.HTTPError) or exc is None:
            status = status_code
            if status == 403 and self.current_user is None:
                status = 401  # unauthenticated, not unauthorised
            code = _CODE_BY_STATUS.get(status, "internal" if status >= 500 else "bad_request")
            message = (exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else None) \
                or self._reason_for(status)
            envelope = {"error": code, "message": message, "hint": _HINTS.get(code), "details": {}}
        else:
            status = 500
            ref = uuid.uuid4().hex[:8]
            self.log.error("agnes: internal error %s on %s %s", ref, self.request.method, self.request.path)
            envelope = {"error": "internal", "message": f"internal error (reference {ref})",
                        "hint": "The Jupyter server log has the details under this reference.",
                        "details": {"reference": ref}}
        self.clear_header("Content-Type")
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        if status == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        if status == 416 and isinstance(envelope.get("details"), dict) and "size" in envelope["details"]:
            self.set_header("Content-Range", f"bytes */{int(envelope['details']['size'])}")
        self.finish(json.dumps(envelope, default=str))

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP methods this route implements (for ``Allow`` on a 405)."""
        base = web.RequestHandler
        return [m for m in cls.SUPPORTED_METHODS if m != "OPTIONS"
                and getattr(cls, m.lower(), None) is not getattr(base, m.lower(), None)]

    def _reason_for(self, status: int) -> str:
        from http.client import responses

        return {401: "authentication required", 403: "forbidden", 404: "no such route"}.get(
            status, responses.get(status, "error"))


    def finish(self, chunk: Any = None) -> Any:
        """Adds ``Server-Timing: app;dur=<ms>`` (time spent in the server) when headers are not out yet."""
        started = getattr(self, "_agnes_started", None)
        if started is not None and not self._headers_written:
            self.set_header("Server-Timing", f"app;dur={(time.perf_counter() - started) * 1000:.3f}")
        return super().finish(chunk)

    @property
    def via_access_token(self) -> bool:
        """True when this request authenticated with a personal access token."""
        return getattr(self, "_agnes_token_id", None) is not None


class EventStreamMixin:
    """Server-Sent Events for a handler: ``begin_events()`` sends the headers and ``retry:``, then
    ``send_event()`` an event with a JSON payload and ``keep_alive()`` a comment while idle."""

    #: What a client waits before reconnecting (the ``retry:`` field), in milliseconds.
    sse_retry_ms = 3000

    def begin_events(self: Any) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        self.write(f"retry: {self.sse_retry_ms}\n\n")

    async def send_event(self: Any, event: str, data: Any) -> None:
        self.write(f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n")
        await self.flush()

    async def keep_alive(self: Any) -> None:
        self.write(": keep-alive\n\n")
        await self.flush()


def _no_form_parsing() -> None:
    """Stands in for tornado's form-body parsing on Agnes routes (see ``initialize``)."""


def check_json_text(value: Any) -> None:
    """Refuse JSON nested deeper than ``MAX_JSON_DEPTH`` or holding strings that are not valid
    text (an unpaired surrogate, which no store or log can hold), naming where."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"the request body nests more than {MAX_JSON_DEPTH} levels deep (at {where or 'top'})",
                             details={"field": where})
        if isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, where)
                stack.append((child, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"{where or 'the request body'} holds an unpaired surrogate at character {exc.start} "
                         "(not valid Unicode text)", details={"field": where}) from None


class AdminHandler(AgnesHandler):
    """Admin routes: admin only, and every change (POST/PUT/PATCH/DELETE) is audited with
    the user, the action, the resource and how it ended."""

    admin_only = True
    #: ``table``, ``source``, ``grant``... ; the audit action is ``<kind>.<verb>``.
    audit_kind = ""
    audit_verbs: dict[str, str] = {"POST": "create", "PUT": "replace", "PATCH": "update", "DELETE": "delete"}

    _created: dict[str, Any] | None = None

    def write_json(self, payload: Any, status: int = 200) -> None:
        if status == 201 and isinstance(payload, dict):
            self._created = payload  # names the resource in the audit entry
        super().write_json(payload, status)

    def audit_resource(self) -> str:
        """``<kind>/<id>``: the id from the path, else of what was created, else from the body."""
        if self.path_args:
            return f"{self.audit_kind}/{self.path_args[0]}"
        sources: list[Any] = [self._created]
        try:
            sources.append(json.loads(self.request.body or b"{}"))
        except ValueError:
            pass
        for found in sources:
            if isinstance(found, dict):
                key = next((found[k] for k in ("id", "name", "username", "slug") if found.get(k)), None)
                if key:
                    return f"{self.audit_kind}/{key}"
        return self.audit_kind

    #: Extra fields of this request's audit entry, set by the handler (e.g. a batch's count and ids);
    #: ``audit_skip`` leaves a request that changed nothing (a dry run) out of the log.
    audit_details: dict[str, Any] | None = None
    audit_skip = False

    def on_finish(self) -> None:
        verb = self.audit_verbs.get(self.request.method or "")
        if not verb or not self.audit_kind or self.audit_skip:
            return
        try:
            # The attribute, not the property: a request refused before authentication finished
            # has none, and the property would call the deprecated get_current_user().
            user = getattr(self, "_current_user", None)
            if user is None:
                return
            status = self.get_status()
            # on_finish cannot await: the entry goes to the audit's writer thread, and reads of the
            # audit log wait for it (Audit.entries), so no reader misses it.
            self.core.audit.record_later(
                user.username, f"{self.audit_kind}.{verb}", self.audit_resource(),
                "ok" if status < 400 else "error", status=status, path=self.request.path,
                **(self.audit_details or {}))
        except Exception:  # auditing must never break the response that already went out
            self.log.exception("agnes: could not write the audit log")
