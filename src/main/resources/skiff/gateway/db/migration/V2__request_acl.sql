-- A private request's users and groups, so that a request resumed after a restart publishes with the same limits.
ALTER TABLE requests ADD COLUMN allowed_users VARCHAR(4000) NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN allowed_groups VARCHAR(4000) NOT NULL DEFAULT '';
