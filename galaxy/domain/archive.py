"""How archived reports are kept: the engine's JSON, compressed.

zlib at level 6 takes a typical report (~20 KB of JSON) to about an eighth
for well under a millisecond, and inflating it is faster still. A report read
from the archive is the same JSON value a player would have read from the
engine.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

LEVEL = 6


def report_text(report: Mapping[str, Any]) -> str:
    """A report as the compact JSON text the archive keeps and the players are answered."""
    return json.dumps(report, separators=(",", ":"), ensure_ascii=False)


def pack(report: Mapping[str, Any]) -> bytes:
    return zlib.compress(report_text(report).encode("utf-8"), LEVEL)


def unpack_bytes(body: bytes) -> bytes:
    """The report's JSON text as UTF-8 bytes, for answering without decoding or parsing it."""
    return zlib.decompress(body)


def unpack_text(body: bytes) -> str:
    """The report's JSON text."""
    return unpack_bytes(body).decode("utf-8")


def unpack(body: bytes) -> dict[str, Any]:
    value = json.loads(unpack_text(body))
    if not isinstance(value, dict):
        raise TypeError("an archived report is a JSON object")
    return value
