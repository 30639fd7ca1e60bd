-- Invite codes (seeds: backend-PLAN stage 4, `invites.code` unique, `invited_user_id`
-- optional): an invite to whoever presents its code. It names its player once redeemed.

ALTER TABLE invites ALTER COLUMN invited_user_id DROP NOT NULL;
ALTER TABLE invites ADD COLUMN code text UNIQUE;
ALTER TABLE invites ADD CONSTRAINT invites_addressed
    CHECK (invited_user_id IS NOT NULL OR code IS NOT NULL);
