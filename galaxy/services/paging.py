"""Pages of admin listings: 1-based page numbers, a fixed page size."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from galaxy.domain.errors import InvalidInput
from galaxy.store.database import Connection, Database

PAGE_SIZE = 50
MAX_PAGE = 1_000_000

T = TypeVar("T")  # what a page lists: every listing names its row type


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total


def page_offset(page: int) -> int:
    """The row offset of a 1-based page; InvalidInput outside 1..1,000,000."""
    if page < 1 or page > MAX_PAGE:
        raise InvalidInput(f"page must be between 1 and {MAX_PAGE}", code="invalid_page")
    return (page - 1) * PAGE_SIZE


# A store verb's page: (conn, limit, offset) -> (rows, total).
ReadPage = Callable[[Connection, int, int], Awaitable[tuple[Sequence[T], int]]]


async def load_page(db: Database, page: int, read: ReadPage[T], *, name: str) -> Page[T]:
    """A 1-based page of what the store verb `read` lists, in one unit of work."""
    offset = page_offset(page)

    async def work(conn: Connection) -> tuple[Sequence[T], int]:
        return await read(conn, PAGE_SIZE, offset)

    items, total = await db.run(work, name=name)
    return Page(list(items), page, PAGE_SIZE, total)
