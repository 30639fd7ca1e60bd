"""The engine version registry: which image each semantic version runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from galaxy.domain.errors import Conflict, InvalidInput, NotFound
from galaxy.domain.semver import Version, parse_version
from galaxy.services.coherence import ENGINE_VERSIONS
from galaxy.store import invalidations
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
    """The registry, cached whole (it is a handful of rows) and written through after each
    commit. Registering a version does not roll it out: new games without a version of
    their own run the one an operator marked the default, which is always enabled.
    Another instance's change is re-read whole when its invalidation arrives."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._rows: dict[str, EngineVersionRow] = {}

    async def warm(self) -> None:
        rows = await self._db.run(queries.all_versions, name="engine_versions.warm")
        self._rows = {row.version: row for row in rows}

    async def reload(self, _versions: Sequence[str]) -> None:
        """Another instance changed these versions: a change may move the default flag of
        another row, and the registry is a handful of rows, so all is re-read."""
        await self.warm()

    async def _invalidate(self, conn: Connection, versions: Iterable[str]) -> None:
        await invalidations.send(conn, self._db.origin, ENGINE_VERSIONS, versions)

    def list(self) -> list[EngineVersionRow]:
        return sorted(self._rows.values(), key=lambda r: parse_version(r.version), reverse=True)

    def get(self, version: str) -> EngineVersionRow:
        row = self._rows.get(str(parse_version(version)))
        if row is None:
            raise NotFound(f"no engine version {version}", code="engine_version_not_found")
        return row

    def default(self) -> EngineVersionRow | None:
        return next((row for row in self._rows.values() if row.is_default), None)

    def resolve(self, version: str | None) -> EngineVersionRow:
        """The version a game asks for, or the default; it must exist and be enabled.

        A named version that is unknown or disabled is the caller's mistake (400), told
        at once where a game is created or patched, not when its engine starts. No
        default at all is the registry's state (409): an operator must mark one."""
        if version is None:
            row = self.default()
            if row is None:
                raise Conflict(
                    "no engine version is the default; an operator marks one with "
                    "POST /api/v1/admin/engine-versions/{version}/default",
                    code="no_default_engine_version",
                )
            return row
        found = self._rows.get(str(parse_version(version)))
        if found is None:
            raise InvalidInput(
                f"no engine version {version} is registered", code="unknown_engine_version"
            )
        if not found.enabled:
            raise InvalidInput(
                f"engine version {version} is disabled", code="engine_version_disabled"
            )
        return found

    async def create(
        self, version: Version, image_ref: str, notes: str = "", *, enabled: bool = True
    ) -> EngineVersionRow:
        async def insert(conn: Connection) -> EngineVersionRow:
            row = await queries.insert_version(
                conn, str(version), image_ref, notes, enabled=enabled
            )
            await self._invalidate(conn, [row.version])
            return row

        row = await self._db.run(insert, name="engine_versions.create")
        self._rows[row.version] = row
        log.info(
            "runtime.engine_version_added",
            version=row.version,
            image_ref=image_ref,
            enabled=enabled,
        )
        return row

    async def update(
        self,
        version: str,
        *,
        image_ref: str | None = None,
        notes: str | None = None,
        enabled: bool | None = None,
    ) -> EngineVersionRow:
        """Change what is given; None keeps the current value. The default version cannot
        be disabled (409): new games would have no engine; mark another one first."""
        current = self.get(version)

        async def write(conn: Connection) -> EngineVersionRow | None:
            if enabled is False:
                rows = {row.version: row for row in await queries.lock_versions(conn)}
                locked = rows.get(current.version)
                if locked is not None and locked.is_default:
                    raise Conflict(
                        f"engine version {current.version} is the default; mark another "
                        "version the default before disabling it",
                        code="engine_version_is_default",
                    )
            row = await queries.update_version(
                conn, current.version, image_ref=image_ref, notes=notes, enabled=enabled
            )
            await self._invalidate(conn, [current.version])
            return row

        row = returned(await self._db.run(write, name="engine_versions.update"))
        self._rows[row.version] = row
        if enabled is not None and enabled != current.enabled:
            log.info("runtime.engine_version_enabled", version=row.version, enabled=enabled)
        return row

    async def make_default(self, version: str) -> EngineVersionRow:
        """`version` (enabled) becomes the engine of new games without a version of their
        own; the previous default stays registered and enabled. Running games keep theirs."""
        wanted = self.get(version).version

        async def write(conn: Connection) -> list[EngineVersionRow]:
            rows = {row.version: row for row in await queries.lock_versions(conn)}
            target = rows.get(wanted)
            if target is None:
                raise NotFound(f"no engine version {version}", code="engine_version_not_found")
            if not target.enabled:
                raise Conflict(
                    f"engine version {wanted} is disabled; enable it before making it the default",
                    code="engine_version_disabled",
                )
            changed = await queries.make_default(conn, wanted)
            await self._invalidate(conn, [row.version for row in changed])
            return changed

        changed = await self._db.run(write, name="engine_versions.make_default")
        for row in changed:
            self._rows[row.version] = row
        log.info("runtime.engine_version_default", version=wanted)
        return self._rows[wanted]

    async def ensure_default(self, version: str, image_ref: str) -> None:
        """A fresh registry gets this build's engine as its default, so a first game can
        start at once. A registry with versions is the operators': it is left as it is."""
        if self._rows:
            return

        async def insert(conn: Connection) -> EngineVersionRow:
            await queries.lock_versions(conn)
            row = await queries.insert_version(
                conn,
                str(parse_version(version)),
                image_ref,
                "this build's engine (default)",
                is_default=True,
            )
            await self._invalidate(conn, [row.version])
            return row

        try:
            row = await self._db.run(insert, name="engine_versions.ensure_default")
        except Conflict:
            await self.warm()  # another instance booting on the same database was first
            return
        self._rows[row.version] = row
        log.info("runtime.engine_version_added", version=row.version, image_ref=image_ref)
