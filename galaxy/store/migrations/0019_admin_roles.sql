-- Admin roles (the operator console, issue 21): a `viewer` reads the admin
-- surface, an `operator` may also act on it. Accounts that existed before
-- roles could act, so they become operators; from then on an account that
-- names no role is a viewer (least privilege). The service always names one.

ALTER TABLE admin_accounts
    ADD COLUMN role text NOT NULL DEFAULT 'operator' CHECK (role IN ('viewer', 'operator'));
ALTER TABLE admin_accounts ALTER COLUMN role SET DEFAULT 'viewer';
