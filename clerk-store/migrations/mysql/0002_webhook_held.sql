-- Webhook deliveries acknowledged (2xx) but applied only in part, held for an operator:
-- `clerk webhooks failed` lists them, `clerk webhooks retry <svix-id>` re-applies one.
-- The receipt of each is in clerk_webhook_events; payload is the held user as JSON.
CREATE TABLE IF NOT EXISTS clerk_webhook_held (
    svix_id     VARCHAR(191) PRIMARY KEY NOT NULL,
    event_type  VARCHAR(191) NOT NULL,
    reason      VARCHAR(191) NOT NULL,
    payload     LONGTEXT NOT NULL,
    held_at     BIGINT NOT NULL,
    resolved_at BIGINT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
