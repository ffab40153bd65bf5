//! The example apps' configuration never shows a secret: one check both apps' tests run on
//! their own config type.

use std::collections::HashMap;

use crate::webhooks::TEST_SECRET;

/// Settings with a secret in every place one can hide: the secret key, the webhook signing
/// key, and passwords in `DATABASE_URL` and `REDIS_URL`.
#[must_use]
pub fn settings_with_secrets() -> HashMap<&'static str, String> {
    HashMap::from([
        ("CLERK_SECRET_KEY", "sk_test_TOPSECRET1".to_owned()),
        ("CLERK_WEBHOOK_SIGNING_KEY", TEST_SECRET.to_owned()),
        (
            "CLERK_PUBLISHABLE_KEY",
            crate::mint::publishable_key_for("clerk.example.test", false),
        ),
        ("CLERK_FRONTEND_HOSTS", "http://localhost:3000".to_owned()),
        (
            "DATABASE_URL",
            "postgres://app:DBPASS9@db:5432/prod".to_owned(),
        ),
        ("REDIS_URL", "redis://:REDISPASS7@cache:6379".to_owned()),
    ])
}

/// Panics unless `shown` (an app config's `Debug` of [`settings_with_secrets`], plain and
/// pretty) hides every secret and still names the servers.
///
/// # Panics
/// When a secret shows, or the hosts are gone.
pub fn assert_hides_secrets(shown: &str) {
    let webhook_key = TEST_SECRET.trim_start_matches("whsec_");
    for secret in ["TOPSECRET1", webhook_key, "DBPASS9", "REDISPASS7"] {
        assert!(!shown.contains(secret), "Debug shows {secret}: {shown}");
    }
    assert!(
        shown.contains("db:5432/prod") && shown.contains("cache:6379"),
        "Debug no longer names the servers: {shown}"
    );
}
