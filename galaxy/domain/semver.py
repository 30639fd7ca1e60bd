"""Semantic versions of the engine, and the one upgrade a running game may take."""

from __future__ import annotations

import re
from dataclasses import dataclass

from galaxy.domain.errors import Conflict, InvalidInput

_VERSION = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def parse_version(raw: object) -> Version:
    match = _VERSION.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidInput("a version is MAJOR.MINOR.PATCH, such as 1.4.2", code="invalid_version")
    return Version(*(int(part) for part in match.groups()))


def check_patch_upgrade(current: Version, target: Version) -> None:
    """A running game moves only to a later patch of its own major.minor line."""
    if (target.major, target.minor) != (current.major, current.minor):
        raise Conflict(
            f"{current} → {target} changes the major or minor version; stop the game and "
            "start it on the new version",
            code="not_a_patch_upgrade",
        )
    if target.patch <= current.patch:
        raise Conflict(f"{target} is not later than {current}", code="not_a_patch_upgrade")
