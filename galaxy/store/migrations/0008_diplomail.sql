-- Diplomatic mail between the members of a game, translated per recipient.

CREATE TABLE diplomail_messages (
    message_id      uuid PRIMARY KEY,
    game_id         uuid NOT NULL REFERENCES games (game_id),
    sender_user_id  uuid NOT NULL REFERENCES accounts (user_id),
    sender_race     text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    body            text NOT NULL,
    language        text NOT NULL,  -- the sender's preferred language when sent
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX diplomail_messages_sent ON diplomail_messages (game_id, sender_user_id, created_at DESC);

CREATE TABLE diplomail_recipients (
    message_id          uuid NOT NULL REFERENCES diplomail_messages (message_id),
    recipient_user_id   uuid NOT NULL REFERENCES accounts (user_id),
    recipient_race      text NOT NULL,
    target_language     text NOT NULL,
    status              text NOT NULL CHECK (status IN ('translating', 'delivered')),
    translated_subject  text,
    translated_body     text,
    translation         text NOT NULL DEFAULT 'none'
                        CHECK (translation IN ('none', 'translated', 'failed')),
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    delivered_at        timestamptz,
    read_at             timestamptz,
    PRIMARY KEY (message_id, recipient_user_id)
);
CREATE INDEX diplomail_inbox ON diplomail_recipients (recipient_user_id, delivered_at DESC)
    WHERE status = 'delivered';
CREATE INDEX diplomail_translating ON diplomail_recipients (next_attempt_at)
    WHERE status = 'translating';
