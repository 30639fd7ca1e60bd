"""Listings: a page of views (`?page=` listings) and a whole list of them (`{"items": [...]}`).

Generic in the item's view, so a page is as closed as its items: the listing's
schema in openapi.yaml is the closed `Page` with its `items` refined.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from galaxy.services.paging import Page

Row = TypeVar("Row")
Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class PageView(Generic[Item]):
    items: list[Item]
    page: int
    page_size: int
    total: int
    has_more: bool

    @classmethod
    def of(cls, page: Page[Row], item: Callable[[Row], Item]) -> PageView[Item]:
        """The page with each of its rows seen through `item` (a view's `of`)."""
        return PageView(
            items=[item(row) for row in page.items],
            page=page.page,
            page_size=page.page_size,
            total=page.total,
            has_more=page.has_more,
        )


@dataclass(frozen=True, slots=True)
class ItemsView(Generic[Item]):
    """An unpaged listing: every item at once (a delivery's attempts, the admins)."""

    items: list[Item]

    @classmethod
    def of(cls, rows: Iterable[Row], item: Callable[[Row], Item]) -> ItemsView[Item]:
        return ItemsView([item(row) for row in rows])
