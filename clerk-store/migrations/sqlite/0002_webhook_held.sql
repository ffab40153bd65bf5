-- Webhook deliveries acknowledged (2xx) but applied only in part, held for an operator:
-- `clerk webhooks failed` lists them, `clerk webhooks retry <svix-id>` re-applies one.
-- The receipt of each is in clerk_webhook_events; payload is the held user as JSON.
CREATE TABLE IF NOT EXISTS clerk_webhook_held (
    svix_id     TEXT PRIMARY KEY NOT NULL,
    event_type  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    held_at     INTEGER NOT NULL,
    resolved_at INTEGER
);
