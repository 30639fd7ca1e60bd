"""The engine version registry: which image each semantic version runs."""

from __future__ import annotations

import structlog

from galaxy.domain.errors import Conflict, InvalidInput, NotFound
from galaxy.domain.semver import Version, parse_version
from galaxy.store import runtime as queries
from galaxy.store.database import Connection, Database, returned
from galaxy.store.runtime import EngineVersionRow

log = structlog.get_logger("galaxy.runtime")

IMAGE_REF_MAX = 300


def check_image_ref(raw: object) -> str:
    if (
        not isinstance(raw, str)
        or not 1 <= len(raw) <= IMAGE_REF_MAX
        or any(c.isspace() for c in raw)
    ):
        raise InvalidInput(
            "image_ref must be an image reference such as galaxy-engine:1.0.0",
            code="invalid_image_ref",
        )
    return raw


class EngineVersions:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._rows: dict[str, EngineVersionRow] = {}

    async def warm(self) -> None:
        rows = await self._db.run(queries.all_versions, name="engine_versions.warm")
        self._rows = {row.version: row for row in rows}

    def list(self) -> list[EngineVersionRow]:
        return sorted(self._rows.values(), key=lambda r: parse_version(r.version), reverse=True)

    def get(self, version: str) -> EngineVersionRow:
        row = self._rows.get(str(parse_version(version)))
        if row is None:
            raise NotFound(f"no engine version {version}", code="engine_version_not_found")
        return row

    def resolve(self, version: str | None) -> EngineVersionRow:
        """The version a game asks for, or the newest enabled one; it must be enabled."""
        if version is None:
            enabled = [row for row in self.list() if row.enabled]
            if not enabled:
                raise Conflict("no engine version is enabled", code="no_engine_version")
            return enabled[0]
        row = self.get(version)
        if not row.enabled:
            raise Conflict(f"engine version {version} is disabled", code="engine_version_disabled")
        return row

    async def create(self, version: Version, image_ref: str, notes: str = "") -> EngineVersionRow:
        async def insert(conn: Connection) -> EngineVersionRow:
            return await queries.insert_version(conn, str(version), image_ref, notes)

        row = await self._db.run(insert, name="engine_versions.create")
        self._rows[row.version] = row
        log.info("runtime.engine_version_added", version=row.version, image_ref=image_ref)
        return row

    async def update(
        self,
        version: str,
        *,
        image_ref: str | None = None,
        notes: str | None = None,
        enabled: bool | None = None,
    ) -> EngineVersionRow:
        """Change what is given; None keeps the current value."""
        current = self.get(version)

        async def write(conn: Connection) -> EngineVersionRow | None:
            return await queries.update_version(
                conn, current.version, image_ref=image_ref, notes=notes, enabled=enabled
            )

        row = returned(await self._db.run(write, name="engine_versions.update"))
        self._rows[row.version] = row
        return row

    async def ensure_default(self, version: str, image_ref: str) -> None:
        """A fresh registry gets this build's engine, so a first game can start at once."""
        if not self._rows:
            await self.create(parse_version(version), image_ref, "this build's engine (default)")
