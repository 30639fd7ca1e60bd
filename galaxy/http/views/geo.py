"""Views of the country counters (`/api/v1/admin/geo/*`)."""

from __future__ import annotations

from dataclasses import dataclass

from galaxy.http.views.base import time
from galaxy.store.geo import CountryCount


@dataclass(frozen=True, slots=True)
class CountryView:
    country: str  # ISO 3166-1 alpha-2
    count: int
    last_seen_at: str

    @classmethod
    def of(cls, row: CountryCount) -> CountryView:
        return cls(country=row.country, count=row.count, last_seen_at=time(row.last_seen_at))
