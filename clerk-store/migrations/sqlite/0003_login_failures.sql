-- Failed staff logins, counted by key for the login throttle (clerk_core::login_throttle):
-- `user:<lower-cased username>` and `addr:<client address>`, one row per failure at
-- `failed_at` (Unix milliseconds). Rows older than the throttle's window are deleted as new
-- failures are recorded; a successful login deletes its username's rows.
CREATE TABLE IF NOT EXISTS clerk_login_failures (
    login_key TEXT NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS clerk_login_failures_key_at
    ON clerk_login_failures (login_key, failed_at);
CREATE INDEX IF NOT EXISTS clerk_login_failures_at ON clerk_login_failures (failed_at);
