-- The lobby: games and their enrollment, and the race-name directory
-- (seeds: backend-PLAN stage 5.4).

CREATE TABLE games (
    game_id             uuid PRIMARY KEY,
    owner_user_id       uuid NOT NULL REFERENCES accounts (user_id),
    name                text NOT NULL,
    description         text NOT NULL DEFAULT '',
    visibility          text NOT NULL CHECK (visibility IN ('public', 'private')),
    status              text NOT NULL DEFAULT 'draft' CHECK (status IN (
                            'draft', 'enrollment_open', 'ready_to_start', 'starting', 'running',
                            'paused', 'finished', 'cancelled', 'start_failed')),
    status_reason       text,
    min_players         integer NOT NULL CHECK (min_players >= 1),
    max_players         integer NOT NULL CHECK (max_players >= min_players),
    auto_approve        boolean NOT NULL DEFAULT false,
    enrollment_deadline timestamptz,
    turn_schedule       text NOT NULL,
    engine_version      text,
    current_turn        integer NOT NULL DEFAULT 0,
    runtime_status      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz
);
CREATE INDEX games_listing ON games (visibility, status, created_at DESC);
CREATE INDEX games_owner ON games (owner_user_id);
CREATE INDEX games_enrollment_deadline ON games (enrollment_deadline)
    WHERE status = 'enrollment_open';

CREATE TABLE applications (
    application_id    uuid PRIMARY KEY,
    game_id           uuid NOT NULL REFERENCES games (game_id),
    applicant_user_id uuid NOT NULL REFERENCES accounts (user_id),
    race_name         text NOT NULL,
    message           text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'approved', 'rejected', 'released')),
    reason            text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    decided_at        timestamptz
);
-- One live application per user and game.
CREATE UNIQUE INDEX applications_live ON applications (game_id, applicant_user_id)
    WHERE status IN ('pending', 'approved');
CREATE INDEX applications_user ON applications (applicant_user_id, created_at DESC);

CREATE TABLE invites (
    invite_id       uuid PRIMARY KEY,
    game_id         uuid NOT NULL REFERENCES games (game_id),
    inviter_user_id uuid NOT NULL REFERENCES accounts (user_id),
    invited_user_id uuid NOT NULL REFERENCES accounts (user_id),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'redeemed', 'declined', 'revoked', 'expired',
                                      'released')),
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz
);
CREATE UNIQUE INDEX invites_live ON invites (game_id, invited_user_id) WHERE status = 'pending';
CREATE INDEX invites_user ON invites (invited_user_id, created_at DESC);
CREATE INDEX invites_expiry ON invites (expires_at) WHERE status = 'pending';

CREATE TABLE memberships (
    membership_id      uuid PRIMARY KEY,
    game_id            uuid NOT NULL REFERENCES games (game_id),
    user_id            uuid NOT NULL REFERENCES accounts (user_id),
    race_name          text NOT NULL,
    status             text NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active', 'removed', 'blocked', 'released')),
    reason             text,
    joined_at          timestamptz NOT NULL DEFAULT now(),
    left_at            timestamptz,
    initial_planets    integer,
    initial_population double precision,
    max_planets        integer,
    max_population     double precision,
    CONSTRAINT memberships_once UNIQUE (game_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id, joined_at DESC);

-- The race-name directory: one live entry per canonical key, whatever its tier.
CREATE TABLE race_names (
    name_id       uuid PRIMARY KEY,
    name          text NOT NULL,
    canonical     text NOT NULL,
    status        text NOT NULL CHECK (status IN ('registered', 'reservation',
                                                  'pending_registration', 'released')),
    owner_user_id uuid NOT NULL REFERENCES accounts (user_id),
    game_id       uuid REFERENCES games (game_id),
    expires_at    timestamptz,
    registered_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX race_names_live ON race_names (canonical)
    WHERE status IN ('registered', 'reservation', 'pending_registration');
CREATE INDEX race_names_owner ON race_names (owner_user_id, status);
CREATE INDEX race_names_pending_expiry ON race_names (expires_at)
    WHERE status = 'pending_registration';
