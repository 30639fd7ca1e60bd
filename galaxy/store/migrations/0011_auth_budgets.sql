-- Wrong login codes per address, across challenges: one row per wrong code,
-- counted over BACKEND_AUTH_WRONG_CODES_WINDOW under the address's advisory
-- lock, and pruned per address as new ones arrive.

CREATE TABLE auth_wrong_codes (
    email text NOT NULL,
    at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_wrong_codes_email ON auth_wrong_codes (email, at DESC);
