"""A moto server on a free loopback port: the DynamoDB every test and benchmark talks to (no pytest needed)."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from vpbx.local.moto import SerializedMotoServer


@contextmanager
def running_moto_server() -> Iterator[str]:
    """Endpoint URL of a moto server started for the block; the caller provides (dummy) AWS credentials."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = SerializedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # atomic conditions, as DynamoDB
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
