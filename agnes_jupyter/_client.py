"""The HTTP client of the Agnes API. Every error becomes the matching exception."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._connection import ServerInfo, find_server
from .errors import AgnesError, ServerNotFound, from_envelope

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0


def retry_policy() -> Any:
    """urllib3's retries for what is safe to repeat: idempotent requests (never POST, so never a
    scan) after a refused connection or a 502/503/504 from a proxy, with a short doubling back-off.
    A server that stays away still fails fast with :class:`ServerNotFound`."""
    from urllib3.util.retry import Retry

    return Retry(total=3, connect=3, read=0, status=2, backoff_factor=0.2,
                 status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE"}),
                 raise_on_status=False, respect_retry_after_header=True)


class Client:
    """A connection to one Agnes server. Create it with :func:`agnes_jupyter.connect`."""

    def __init__(self, server: ServerInfo, timeout: float = DEFAULT_TIMEOUT) -> None:
        import requests

        self.server = server
        self.timeout = timeout
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(max_retries=retry_policy())
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        if server.token:
            self._session.headers["Authorization"] = f"token {server.token}"
        self._session.headers["User-Agent"] = "agnes-jupyter-kernel"

    @property
    def url(self) -> str:
        return self.server.url

    def __repr__(self) -> str:  # never shows the token
        return f"<agnes Client {self.server.url} (found via {self.server.how})>"

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json: Any = None, stream: bool = False, timeout: float | tuple[float, float] | None = None,
                headers: dict[str, str] | None = None) -> requests.Response:
        import requests

        url = self.server.api(path)
        try:
            response = self._session.request(
                method, url, params={k: v for k, v in (params or {}).items() if v is not None},
                json=json, stream=stream, timeout=timeout or self.timeout, headers=headers,
            )
        except requests.ConnectionError as exc:
            raise ServerNotFound(
                f"could not reach the Jupyter server at {self.server.url}",
                hint="Is JupyterLab still running? Restart the kernel after restarting the server.",
                details={"url": self.server.url, "reason": type(exc).__name__},
            ) from None
        except requests.Timeout:
            raise AgnesError(f"the Agnes server did not answer {method} {path} in time ({timeout or self.timeout} s)",
                             hint="Try again; if it persists, check the server log.", code="timeout") from None
        if response.status_code >= 400:
            raise self._error(response, path)
        return response

    def _error(self, response: requests.Response, path: str) -> AgnesError:
        envelope: Any = None
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if isinstance(envelope, dict) and "error" in envelope and "message" in envelope:
            return from_envelope(envelope, response.status_code)
        if response.status_code == 404:
            return ServerNotFound(
                f"the Jupyter server at {self.server.url} does not run the Agnes extension",
                hint="Install agnes-jupyter in the server's environment, check 'jupyter server extension list', "
                "and restart the server.",
            )
        if response.status_code in (401, 403):
            return from_envelope({"error": "unauthorized", "message": "the Jupyter server refused the token",
                                  "hint": "Set AGNES_TOKEN to the server's token (see 'jupyter server list')."},
                                 response.status_code)
        return AgnesError(f"{response.status_code} {response.reason} from {path}", status=response.status_code)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        response = self.request("POST", path, params=params, json=body if body is not None else {})
        return response.json() if response.content else None

    def put(self, path: str, body: Any = None) -> Any:
        response = self.request("PUT", path, json=body if body is not None else {})
        return response.json() if response.content else None

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def close(self) -> None:
        self._session.close()


def current() -> Client:
    """The kernel's default client (connecting on first use): the one accessor every module uses."""
    import agnes_jupyter

    return agnes_jupyter.client()


def open_client(url: str | None = None, token: str | None = None) -> Client:
    """Find the server, check it runs Agnes, and return a client."""
    client = Client(find_server(url, token))
    info = client.get("version")
    import agnes_jupyter

    mine = str(agnes_jupyter.__version__)
    if info.get("version") != mine and not mine.startswith("0.0.0"):
        log.warning("agnes: the server runs agnes-jupyter %s but this kernel has %s; restart the kernel "
                    "after upgrading", info.get("version"), mine)
    return client
