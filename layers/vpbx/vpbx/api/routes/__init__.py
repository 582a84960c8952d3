"""One module per route family, each exposing `router = Router()`."""
