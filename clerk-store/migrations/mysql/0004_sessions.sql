-- Session records of the adapters (clerk_core::flow::records::SessionStore), so that every
-- instance sharing the database serves a session any of them established. `data` is the
-- adapter's serialized session (opaque here), `clerk_sid` the Clerk session it belongs to
-- (NULL for a record without one), `expires_at` when it ends (Unix milliseconds: never loaded
-- from then on, deleted by the sweeps). `seq` orders records as they were first saved: at most
-- 16 records exist per `clerk_sid`, and saving a new one deletes the lowest `seq`s beyond it
-- (saves of one `clerk_sid` take turns on its row of `clerk_store_locks`, kind 5).
CREATE TABLE IF NOT EXISTS clerk_sessions (
    seq        BIGINT AUTO_INCREMENT PRIMARY KEY,
    id         VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    data       MEDIUMBLOB NOT NULL,
    clerk_sid  VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE KEY clerk_sessions_id (id),
    INDEX clerk_sessions_sid_seq (clerk_sid, seq),
    INDEX clerk_sessions_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
