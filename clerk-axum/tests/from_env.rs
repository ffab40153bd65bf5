//! `ClerkLayer::from_env` (its own test binary: it changes the process environment).
#![cfg(feature = "reqwest")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use clerk_axum::{ClerkLayer, FromEnvError};
use clerk_testkit::mint::{self, DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_HOST};

const SETTINGS: &[&str] = &[
    "CLERK_SECRET_KEY",
    "CLERK_PUBLISHABLE_KEY",
    "CLERK_JWT_KEY",
    "CLERK_API_URL",
    "CLERK_FRONTEND_HOSTS",
    "CLERK_AUTH_PARTIES",
];

/// One test, so nothing else in this process reads the environment meanwhile.
#[test]
fn from_env_names_the_missing_setting_then_builds() {
    for name in SETTINGS {
        std::env::remove_var(name);
    }
    match ClerkLayer::from_env() {
        Err(FromEnvError::Config(error)) => {
            assert_eq!(error.setting(), "CLERK_SECRET_KEY");
            assert!(error.to_string().contains("CLERK_SECRET_KEY"), "{error}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }

    std::env::set_var("CLERK_SECRET_KEY", "sk_test_from_env");
    std::env::set_var(
        "CLERK_PUBLISHABLE_KEY",
        mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false),
    );
    std::env::set_var("CLERK_FRONTEND_HOSTS", DEFAULT_AUTHORIZED_PARTY);
    let layer = ClerkLayer::from_env().expect("a complete configuration");
    assert!(format!("{:?}", layer.authenticator()).contains("jwks"));
}
