"""What the services of versioned resources share: generated ids, walking a whole listing, version metadata."""

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from pydantic import Field

from vpbx.domain.base import LazyModel
from vpbx.store.models import Page
from vpbx.store.ports import MAX_PAGE_LIMIT

T = TypeVar("T")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def every(fetch: Callable[[int, str | None], Page[T]]) -> Iterator[T]:
    """All items of a paginated listing, page by page."""
    cursor: str | None = None
    while True:
        page = fetch(MAX_PAGE_LIMIT, cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


class VersionMeta(LazyModel):
    version: int = Field(description="Optimistic-locking version; the ETag carries it, send it back in If-Match")
    created_at: datetime
    updated_at: datetime
