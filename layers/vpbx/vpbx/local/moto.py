"""The embedded DynamoDB: moto's server, one request at a time.

moto's backends are plain Python objects without locks: two conditional writes (or transactions) arriving at once
can both pass their condition. DynamoDB evaluates each atomically, so moto must too, or concurrency tests would see
races DynamoDB never has. This is the only lock left in `vpbx serve`: the functions themselves run in parallel.
"""

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _OneAtATime:
    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


class SerializedMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer whose requests are handled one at a time (connections are still accepted in parallel)."""

    def _server_entry(self) -> None:
        app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()
