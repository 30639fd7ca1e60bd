-- Engine versions: registering a version no longer rolls it out. An operator
-- marks one version the default, and new games without a version of their
-- own use it (issue 18 item 6). Exactly one default when the registry has any
-- enabled version; the default is always enabled, so disabling it is refused
-- until another version is the default.

ALTER TABLE engine_versions ADD COLUMN is_default boolean NOT NULL DEFAULT false;
ALTER TABLE engine_versions ADD CONSTRAINT engine_versions_default_enabled
    CHECK (enabled OR NOT is_default);
-- At most one row may be the default (a partial unique index on a constant).
CREATE UNIQUE INDEX engine_versions_one_default ON engine_versions ((true)) WHERE is_default;

-- An existing registry keeps what new games got before: the newest enabled
-- version (semantic order: the version's three numbers, compared as integers).
UPDATE engine_versions SET is_default = true
WHERE version = (
    SELECT version FROM engine_versions WHERE enabled
    ORDER BY string_to_array(version, '.')::int[] DESC
    LIMIT 1
);
