-- Session records of the adapters (clerk_core::flow::records::SessionStore), so that every
-- instance sharing the database serves a session any of them established. `data` is the
-- adapter's serialized session (opaque here), `clerk_sid` the Clerk session it belongs to
-- (NULL for a record without one), `expires_at` when it ends (Unix milliseconds: never loaded
-- from then on, deleted by the sweeps). `seq` orders records as they were first saved: at most
-- 16 records exist per `clerk_sid`, and saving a new one deletes the lowest `seq`s beyond it.
CREATE TABLE IF NOT EXISTS clerk_sessions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    data       BLOB NOT NULL,
    clerk_sid  TEXT,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS clerk_sessions_sid_seq ON clerk_sessions (clerk_sid, seq);
CREATE INDEX IF NOT EXISTS clerk_sessions_expires_at ON clerk_sessions (expires_at);
