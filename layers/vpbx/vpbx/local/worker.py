"""One Lambda instance of `vpbx serve`: a child process that loads one function and answers invocations in turn.

    python -m vpbx.local.worker <module_file> <name> <handler>

Invocations arrive as JSON lines on stdin ({"event", "request_id"}) and leave as JSON lines on the original stdout
({"result"} or {"error"}); the function's own logs go to stderr, which the server shares. Each process has its own
module state (powertools keeps the current event in class attributes), so instances run in parallel safely, as
Lambda's do. VPBX_LOCAL_PRELOAD names modules to import first (a test may use it to patch the storage layer).
"""

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from vpbx.local.instances import FakeContext
from vpbx.local.template import Function

PRELOAD_ENV = "VPBX_LOCAL_PRELOAD"


def main() -> None:
    module_file, name, handler_name = sys.argv[1:4]
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # print() and powertools' logger write to stdout
    for module in filter(None, os.environ.get(PRELOAD_ENV, "").split(",")):
        importlib.import_module(module)
    from vpbx.local.gateway import load_module

    path = Path(module_file)
    function = Function(logical_id=name, code_dir=path.parent, handler=f"{path.stem}.{handler_name}")
    handler = getattr(load_module(function), handler_name)
    replies.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        reply: dict[str, Any]
        try:
            reply = {
                "result": handler(
                    request["event"], FakeContext(function_name=name, aws_request_id=request["request_id"])
                )
            }
        except Exception as error:  # the gateway decides what an error means (authorizer: 401; function: 502)
            import traceback

            traceback.print_exc(file=sys.stderr)
            reply = {"error": str(error)}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
