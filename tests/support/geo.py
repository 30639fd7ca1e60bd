"""A tiny GeoIP2-Country database, written by the tests that need one."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

BRITAIN, SWEDEN = "81.2.69.10", "89.160.20.5"


def country_database(path: Path) -> Path:
    writer = MMDBWriter(ip_version=4, database_type="GeoIP2-Country")
    writer.insert_network(IPSet(["81.2.69.0/24"]), {"country": {"iso_code": "GB"}})
    writer.insert_network(IPSet(["89.160.20.0/24"]), {"country": {"iso_code": "SE"}})
    writer.to_db_file(str(path))
    return path
