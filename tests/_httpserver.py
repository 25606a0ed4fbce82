"""The local HTTP server the tests' fake services (BigQuery payloads, Keboola, Jira) run on."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import Any


class ClosingServer(ThreadingHTTPServer):
    """A threading HTTP server on a free local port that closes its kept-alive connections when it
    stops (HTTP/1.1 handler threads otherwise wait on them, and their sockets outlive the server
    as unraisable ResourceWarnings in a later test)."""

    daemon_threads = True

    def __init__(self, handler: Any, address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
