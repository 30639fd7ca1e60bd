"""Country lookups in a GeoLite2-format database (`BACKEND_GEOIP_DB_PATH`).

The reader memory-maps the file; a lookup is microseconds of CPU, so it runs
inline. Every failure is a None and a logged line: geo work never blocks or
fails a request.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import geoip2.database
import geoip2.errors
import structlog
from maxminddb import InvalidDatabaseError

log = structlog.get_logger("galaxy.geo")


class CountryLookup:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader = geoip2.database.Reader(str(path))

    def country(self, ip: str) -> str | None:
        """The ISO 3166-1 alpha-2 code for `ip`, or None (unknown, private, malformed)."""
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return None
        if not address.is_global:
            return None
        try:
            found = self._reader.country(str(address)).country.iso_code
        except geoip2.errors.AddressNotFoundError:
            return None
        return found.upper() if found else None

    def close(self) -> None:
        self._reader.close()


def open_lookup(path: Path | None) -> CountryLookup | None:
    if path is None:
        return None
    try:
        return CountryLookup(path)
    except (OSError, ValueError, InvalidDatabaseError) as error:
        log.exception("geo.database_unreadable", path=str(path), error=str(error))
        return None
