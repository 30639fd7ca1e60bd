-- Games an operator creates (seeds: admin "create (public-game)") belong to no player:
-- owner_user_id is NULL, and operators drive them through the admin surface.

ALTER TABLE games ALTER COLUMN owner_user_id DROP NOT NULL;
ALTER TABLE games ADD CONSTRAINT games_house_public
    CHECK (owner_user_id IS NOT NULL OR visibility = 'public');
