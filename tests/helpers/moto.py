"""A moto server on a free loopback port: the DynamoDB every test and benchmark talks to (no pytest needed)."""

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.server import ThreadedMotoServer

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_write_lock = threading.RLock()


def _serialized(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            return write(*args, **kwargs)

    locked.__dict__["serialized"] = True
    return locked


def serialize_dynamodb_writes() -> None:
    """moto runs a transaction by copying the whole table, writing item by item and, on a failed condition, putting
    the copy back, with no lock: two concurrent transactions (the server answers each request on its own thread) can
    undo each other's committed writes, which DynamoDB never does. One lock over moto's writes restores isolation, so
    concurrency tests judge our conditions, not moto's races. Idempotent."""
    for name in _WRITES:
        write = getattr(DynamoDBBackend, name)
        if not getattr(write, "serialized", False):
            setattr(DynamoDBBackend, name, _serialized(write))


@contextmanager
def running_moto_server() -> Iterator[str]:
    """Endpoint URL of a moto server started for the block; the caller provides (dummy) AWS credentials."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    serialize_dynamodb_writes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
