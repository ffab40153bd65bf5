-- Failed staff logins, counted by key for the login throttle (clerk_core::login_throttle):
-- `user:<lower-cased username>` and `addr:<client address>`, one row per failure at
-- `failed_at` (Unix milliseconds). Rows older than the throttle's window are deleted as new
-- failures are recorded; a successful login deletes its username's rows. Keys compare
-- exactly (binary collation): `user:Ada` and `user:adà` are not `user:ada`.
CREATE TABLE IF NOT EXISTS clerk_login_failures (
    id        BIGINT AUTO_INCREMENT PRIMARY KEY,
    login_key VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    failed_at BIGINT NOT NULL,
    INDEX clerk_login_failures_key_at (login_key, failed_at),
    INDEX clerk_login_failures_at (failed_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
