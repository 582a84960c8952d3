"""Application services: what a route does, independent of HTTP (routes parse, services decide, repositories store)."""
