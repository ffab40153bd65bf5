-- The local mirror of Clerk (DESIGN §5). Column names are a public contract: add, never rename.
-- Instants are INTEGER milliseconds since the Unix epoch; JSON columns are TEXT.

CREATE TABLE IF NOT EXISTS clerk_users (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    clerk_id         TEXT UNIQUE,
    email            TEXT,
    email_verified   INTEGER NOT NULL DEFAULT 0,
    username         TEXT,
    first_name       TEXT,
    last_name        TEXT,
    image_url        TEXT,
    public_metadata  TEXT NOT NULL DEFAULT '{}',
    external_id      TEXT,
    banned           INTEGER NOT NULL DEFAULT 0,
    locked           INTEGER NOT NULL DEFAULT 0,
    is_active        INTEGER NOT NULL DEFAULT 1,
    is_staff         INTEGER NOT NULL DEFAULT 0,
    is_superuser     INTEGER NOT NULL DEFAULT 0,
    password_hash    TEXT,
    clerk_created_at INTEGER,
    clerk_updated_at INTEGER,
    last_sign_in_at  INTEGER,
    last_login       INTEGER,
    last_logout      INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    deleted_at       INTEGER
);
-- A deleted user releases its email; local usernames are unique among live local users.
CREATE UNIQUE INDEX IF NOT EXISTS clerk_users_live_email
    ON clerk_users (lower(email)) WHERE deleted_at IS NULL AND email IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS clerk_users_local_username
    ON clerk_users (username) WHERE clerk_id IS NULL AND deleted_at IS NULL AND username IS NOT NULL;

CREATE TABLE IF NOT EXISTS clerk_organizations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    clerk_id         TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    slug             TEXT,
    image_url        TEXT,
    public_metadata  TEXT NOT NULL DEFAULT '{}',
    members_count    INTEGER,
    clerk_created_at INTEGER,
    clerk_updated_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    deleted_at       INTEGER
);

CREATE TABLE IF NOT EXISTS clerk_organization_memberships (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    clerk_id              TEXT NOT NULL UNIQUE,
    organization_clerk_id TEXT NOT NULL,
    user_clerk_id         TEXT NOT NULL,
    role                  TEXT NOT NULL,
    permissions           TEXT NOT NULL DEFAULT '[]',
    clerk_created_at      INTEGER,
    clerk_updated_at      INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    deleted_at            INTEGER
);
CREATE INDEX IF NOT EXISTS clerk_organization_memberships_user
    ON clerk_organization_memberships (user_clerk_id);
CREATE INDEX IF NOT EXISTS clerk_organization_memberships_organization
    ON clerk_organization_memberships (organization_clerk_id);

CREATE TABLE IF NOT EXISTS clerk_organization_invitations (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    clerk_id              TEXT NOT NULL UNIQUE,
    organization_clerk_id TEXT NOT NULL,
    user_clerk_id         TEXT,
    email_address         TEXT NOT NULL,
    role                  TEXT NOT NULL,
    status                TEXT NOT NULL,
    clerk_created_at      INTEGER,
    clerk_updated_at      INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS clerk_webhook_events (
    svix_id      TEXT PRIMARY KEY NOT NULL,
    event_type   TEXT NOT NULL,
    processed_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS clerk_revoked_sessions (
    session_id    TEXT PRIMARY KEY NOT NULL,
    user_clerk_id TEXT,
    status        TEXT NOT NULL,
    revoked_at    INTEGER NOT NULL
);
