"""`python -m vpbx.local [--port N] [--host H] [--dynamodb-endpoint URL]`: the same as `vpbx serve`."""

import argparse
import contextlib

from vpbx.local.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m vpbx.local", description="Run the vpbx API locally.")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dynamodb-endpoint", metavar="URL")
    parser.add_argument("--instances", type=int, metavar="N")
    parser.add_argument("--cors-origin", action="append", metavar="ORIGIN")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        serve(
            port=args.port,
            dynamodb_endpoint=args.dynamodb_endpoint,
            host=args.host,
            instances=args.instances,
            cors_origins=args.cors_origin,
        )


if __name__ == "__main__":
    main()
