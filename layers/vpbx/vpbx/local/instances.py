"""How the local gateway runs a function: in this process (tests) or in a pool of instance processes (`vpbx serve`).

Lambda runs one request at a time per instance and as many instances as there are concurrent requests. The pool
does the same: up to `max_instances` worker processes per function (vpbx.local.worker), each with its own module
state, started on demand and kept warm; a request waits only when all of its function's instances are busy. A
worker that dies answers its request with an error (the gateway's 502) and is replaced on the next request.
"""

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import IO, Any, Protocol

from vpbx.local.template import Function

DEFAULT_MAX_INSTANCES = 4


class FunctionError(Exception):
    """The function raised; the message is the exception's text (the authorizer's "Unauthorized" matters)."""


class Invoker(Protocol):
    def invoke(self, function: Function, event: dict[str, Any], request_id: str) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class FakeContext:
    """Just enough of LambdaContext for powertools."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:local"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class InProcess:
    """Every function imported into this process, one invocation at a time (powertools resolvers keep the current
    event in class attributes, so two requests in one process would see each other's). For in-process tests, where
    the repository and fault hooks live in the test's own process."""

    def __init__(self, load: Callable[[Function], ModuleType]) -> None:
        self._load = load
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.Lock()

    def invoke(self, function: Function, event: dict[str, Any], request_id: str) -> Any:
        with self._lock:
            module = self._modules.get(function.logical_id)
            if module is None:
                module = self._modules[function.logical_id] = self._load(function)
            handler = getattr(module, function.handler_name)
            return handler(event, FakeContext(function_name=function.logical_id, aws_request_id=request_id))

    def close(self) -> None:
        self._modules.clear()


class _Instance:
    def __init__(self, function: Function) -> None:
        command = [sys.executable, "-m", "vpbx.local.worker", str(function.module_file), function.logical_id]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, function.handler_name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self._stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        self._stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        self._read()  # {"ready": true} once the function module is loaded (the cold start)

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        self._stdin.write(json.dumps({"event": event, "request_id": request_id}) + "\n")
        self._stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise FunctionError(reply["error"])
        return reply["result"]

    def _read(self) -> dict[str, Any]:
        line = self._stdout.readline()
        if not line:
            raise RuntimeError(f"the instance (pid {self.process.pid}) exited with {self.process.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


class _Pool:
    def __init__(self, function: Function, max_instances: int) -> None:
        self.function = function
        self.max_instances = max_instances
        self.idle: list[_Instance] = []
        self.started = 0
        self.available = threading.Condition()

    def acquire(self) -> _Instance:
        with self.available:
            while not self.idle and self.started >= self.max_instances:
                self.available.wait()
            if self.idle:
                return self.idle.pop()
            self.started += 1
        try:
            return _Instance(self.function)  # a cold start, outside the lock: other instances keep serving
        except Exception:
            self._forget()
            raise

    def release(self, instance: _Instance, healthy: bool) -> None:
        if not healthy:
            instance.stop()
            self._forget()
            return
        with self.available:
            self.idle.append(instance)
            self.available.notify()

    def _forget(self) -> None:
        with self.available:
            self.started -= 1
            self.available.notify()


class ProcessPool:
    """Up to `max_instances` instance processes per function, started when first needed."""

    def __init__(self, max_instances: int = DEFAULT_MAX_INSTANCES) -> None:
        self.max_instances = max_instances
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()

    def invoke(self, function: Function, event: dict[str, Any], request_id: str) -> Any:
        pool = self._pool(function)
        instance = pool.acquire()
        healthy = False
        try:
            result = instance.invoke(event, request_id)
            healthy = True
            return result
        except FunctionError:
            healthy = True  # the function raised and answered; the instance lives on, as on Lambda
            raise
        finally:
            pool.release(instance, healthy)

    def warm(self, functions: list[Function]) -> None:
        """Start one instance of each function (in parallel) and wait for them: a server that says it is ready
        answers its first requests without a cold start."""
        starting = [threading.Thread(target=self._warm_one, args=(function,), daemon=True) for function in functions]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()

    def _warm_one(self, function: Function) -> None:
        pool = self._pool(function)
        with contextlib.suppress(Exception):  # the request that needs it will start it and report why it cannot
            pool.release(pool.acquire(), healthy=True)

    def close(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            with pool.available:
                idle, pool.idle = pool.idle, []
            for instance in idle:
                instance.stop()

    def _pool(self, function: Function) -> _Pool:
        with self._lock:
            pool = self._pools.get(function.logical_id)
            if pool is None:
                pool = self._pools[function.logical_id] = _Pool(function, self.max_instances)
            return pool
