-- The local mirror of Clerk (DESIGN §5) on MySQL/MariaDB (InnoDB, utf8mb4). Text columns use a
-- non-binary collation (sqlx decodes binary-collated columns as bytes); exact comparisons and
-- orderings say `COLLATE utf8mb4_bin` in the queries. Column names are a public contract: add,
-- never rename. Instants are BIGINT milliseconds since the Unix epoch; JSON columns are TEXT.

CREATE TABLE IF NOT EXISTS clerk_users (
    id               BIGINT PRIMARY KEY AUTO_INCREMENT,
    clerk_id         VARCHAR(191) UNIQUE,
    email            VARCHAR(320),
    email_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    username         VARCHAR(191),
    first_name       TEXT,
    last_name        TEXT,
    image_url        TEXT,
    public_metadata  LONGTEXT NOT NULL,
    external_id      TEXT,
    banned           BOOLEAN NOT NULL DEFAULT FALSE,
    locked           BOOLEAN NOT NULL DEFAULT FALSE,
    is_active        BOOLEAN NOT NULL DEFAULT TRUE,
    is_staff         BOOLEAN NOT NULL DEFAULT FALSE,
    is_superuser     BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash    TEXT,
    clerk_created_at BIGINT,
    clerk_updated_at BIGINT,
    last_sign_in_at  BIGINT,
    last_login       BIGINT,
    last_logout      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted_at       BIGINT,
    -- A deleted user releases its email; local usernames are unique among live local users
    -- (MySQL has no partial indexes: unique generated columns, NULL when the rule does not apply).
    live_email       VARCHAR(320) AS (IF(deleted_at IS NULL, LOWER(email), NULL)) VIRTUAL,
    live_local_username VARCHAR(191)
        AS (IF(clerk_id IS NULL AND deleted_at IS NULL, username, NULL)) VIRTUAL,
    UNIQUE KEY clerk_users_live_email (live_email),
    UNIQUE KEY clerk_users_local_username (live_local_username)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS clerk_organizations (
    id               BIGINT PRIMARY KEY AUTO_INCREMENT,
    clerk_id         VARCHAR(191) NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    slug             TEXT,
    image_url        TEXT,
    public_metadata  LONGTEXT NOT NULL,
    members_count    BIGINT,
    clerk_created_at BIGINT,
    clerk_updated_at BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted_at       BIGINT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS clerk_organization_memberships (
    id                    BIGINT PRIMARY KEY AUTO_INCREMENT,
    clerk_id              VARCHAR(191) NOT NULL UNIQUE,
    organization_clerk_id VARCHAR(191) NOT NULL,
    user_clerk_id         VARCHAR(191) NOT NULL,
    role                  TEXT NOT NULL,
    permissions           LONGTEXT NOT NULL,
    clerk_created_at      BIGINT,
    clerk_updated_at      BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    deleted_at            BIGINT,
    KEY clerk_organization_memberships_user (user_clerk_id),
    KEY clerk_organization_memberships_organization (organization_clerk_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS clerk_organization_invitations (
    id                    BIGINT PRIMARY KEY AUTO_INCREMENT,
    clerk_id              VARCHAR(191) NOT NULL UNIQUE,
    organization_clerk_id VARCHAR(191) NOT NULL,
    user_clerk_id         VARCHAR(191),
    email_address         VARCHAR(320) NOT NULL,
    role                  TEXT NOT NULL,
    status                VARCHAR(64) NOT NULL,
    clerk_created_at      BIGINT,
    clerk_updated_at      BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS clerk_webhook_events (
    svix_id      VARCHAR(191) PRIMARY KEY NOT NULL,
    event_type   VARCHAR(191) NOT NULL,
    processed_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS clerk_revoked_sessions (
    session_id    VARCHAR(191) PRIMARY KEY NOT NULL,
    user_clerk_id VARCHAR(191),
    status        VARCHAR(64) NOT NULL,
    revoked_at    BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Transaction-scoped locks on Clerk ids (the row lock on `(kind, lock_key)` is held until the
-- batch's transaction ends), so two first deliveries of one object take turns.
CREATE TABLE IF NOT EXISTS clerk_store_locks (
    kind     TINYINT NOT NULL,
    lock_key VARCHAR(191) NOT NULL,
    PRIMARY KEY (kind, lock_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
