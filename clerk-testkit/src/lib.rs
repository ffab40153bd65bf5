//! Test kit for Clerk integrations: everything a test needs to exercise Clerk session-token
//! verification offline.
//!
//! - [`keys`]: RSA-2048 [`TestKeyPair`]s — random, or fixed ones committed with the crate —
//!   their JWKs, PEM/DER public keys, and RS256/384/512 signatures.
//! - [`mint`]: a [`TokenBuilder`] for Clerk session tokens (claims v1 and v2) where every header
//!   field and claim can be overridden or removed, plus attack helpers (HS256 confusion,
//!   `alg: none`, raw signatures, arbitrary parts) and publishable keys.
//! - [`clock`]: a [`ManualClock`] implementing [`clerk_core::time::Clock`] that tests move by hand.
//! - [`mock`]: [`MockClerk`], a mock Clerk Backend API on loopback (`GET /v1/jwks`, and users,
//!   organizations, memberships and invitations over a seeded or generated in-memory data set,
//!   with Clerk's paging and an optional rate limit) with runtime fault injection, key rotation
//!   and request counters, plus `POST /__mock/tokens` minting session tokens its JWKS verifies
//!   (for local development: `clerk mock` serves it).
//! - [`contract`] (feature `contract`): the black-box suite of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) that runs an example
//!   app's binary as a process ([`contract::AppProcess`]) and drives it over real HTTP.
//! - [`postgres`] (feature `postgres`): [`postgres::TestSchema`], a PostgreSQL schema of its own
//!   per test, by connect options or by URL.
//! - [`runtime`]: [`runtime::other_tasks_ran_during`], showing whether code blocks its runtime.
//!
//! # Quick start
//!
//! ```
//! use std::time::Duration;
//! use clerk_core::time::{Clock, UnixTime};
//! use clerk_testkit::{ManualClock, MockClerk, OrgV2, TestKeyPair, TokenBuilder};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() {
//!     // A mock Clerk on 127.0.0.1:<free port>, serving fixed test key 0 as its JWKS.
//!     let clerk = MockClerk::builder()
//!         .secret_key("sk_test_quickstart")
//!         .keys(vec![TestKeyPair::fixed(0)])
//!         .frontend_host("clerk.example.test")
//!         .start()
//!         .await;
//!     // Configure the code under test with these:
//!     let _api_url = clerk.url(); // CLERK_API_URL
//!     let _secret = clerk.secret_key(); // CLERK_SECRET_KEY
//!     assert!(clerk.publishable_key().starts_with("pk_test_")); // CLERK_PUBLISHABLE_KEY
//!
//!     // Time under the test's control.
//!     let clock = ManualClock::at(UnixTime::from_secs(1_700_000_000));
//!
//!     // A v2 session token the mock's keys verify.
//!     let token = clerk
//!         .token_v2()
//!         .subject("user_1")
//!         .session_id("sess_1")
//!         .authorized_party("http://localhost:3000")
//!         .issued_at(clock.now())
//!         .expires_in(Duration::from_secs(60))
//!         .org_v2(OrgV2 {
//!             id: "org_1",
//!             slug: "acme",
//!             role: "admin",
//!             permissions: vec!["read", "manage"],
//!             feature_permission_masks: vec!["3"],
//!         })
//!         .features("o:reports")
//!         .sign();
//!     let decoded = clerk_testkit::mint::decode_unverified(&token).expect("a well-formed token");
//!     assert_eq!(decoded.claims["iss"], "https://clerk.example.test");
//!     assert_eq!(decoded.header["kid"], TestKeyPair::fixed(0).kid());
//!
//!     // Later, a minute passes and Clerk rotates its keys.
//!     clock.advance(Duration::from_secs(61));
//!     clerk.rotate_keys(vec![TestKeyPair::fixed(1)]);
//!     clerk.shutdown().await;
//! }
//! ```
//!
//! Everything here is for tests: keys are not secret, and the mock is not hardened.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
#[cfg(feature = "contract")]
pub mod contract;
pub mod keys;
pub mod mint;
pub mod mock;
pub mod offline;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod requirements;
pub mod runtime;
pub mod standing;
pub mod webhooks;

pub use clock::ManualClock;
pub use keys::{Alg, TestKeyPair};
pub use mint::{OrgV2, TokenBuilder};
pub use mock::{Fault, MockClerk};
