//! `MachineVerifier` against the test kit's mock Clerk: single-flight per credential, the
//! cache bound, negative answers, `forget`, and JWT forms through the JWKS.
#![cfg(feature = "reqwest")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use clerk_core::machine::{MachineError, MachineVerifier, TokenType};
use clerk_core::time::{Clock, SystemClock};
use clerk_core::{Authenticator, ClerkConfig, HttpClient};
use clerk_testkit::clock::ManualClock;
use clerk_testkit::mock::MachineGrant;
use clerk_testkit::MockClerk;

fn verifier(clerk: &MockClerk, clock: &ManualClock) -> MachineVerifier {
    let config = ClerkConfig::builder()
        .secret_key(clerk.secret_key())
        .publishable_key(clerk.publishable_key())
        .api_url(clerk.url())
        .frontend_host("https://app.example.com")
        .build()
        .unwrap();
    let http: Arc<dyn HttpClient> =
        Arc::new(clerk_core::reqwest_client::ReqwestClient::new(Duration::from_secs(10)).unwrap());
    let authenticator = Authenticator::builder(config.clone())
        .shared_http_client(Arc::clone(&http))
        .clock(clock.clone())
        .build()
        .unwrap();
    MachineVerifier::new(authenticator, &config, Some(http))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_credentials_make_one_verify_call() {
    let clerk = MockClerk::start().await;
    let clock = ManualClock::at(SystemClock.now());
    let verifier = verifier(&clerk, &clock);
    let key = clerk.issue_api_key(MachineGrant::new("user_1", ["read"]));
    clerk.set_machine_verify_delay(Duration::from_millis(300));
    let calls = (0..16).map(|_| verifier.verify(&key.token));
    let answers = futures_util::future::join_all(calls).await;
    assert!(answers
        .iter()
        .all(|a| a.as_ref().unwrap().subject == "user_1"));
    assert_eq!(clerk.machine_verify_requests(), 1);
    clerk.set_machine_verify_delay(Duration::ZERO);
    // Cached: no second call.
    verifier.verify(&key.token).await.unwrap();
    assert_eq!(clerk.machine_verify_requests(), 1);
    // Another credential is its own flight.
    let other = clerk.issue_api_key(MachineGrant::new("user_2", ["read"]));
    assert_eq!(
        verifier.verify(&other.token).await.unwrap().subject,
        "user_2"
    );
    assert_eq!(clerk.machine_verify_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_bound_expiry_and_forget_end_an_answer() {
    let clerk = MockClerk::start().await;
    let clock = ManualClock::at(SystemClock.now());
    let verifier = verifier(&clerk, &clock);
    let key = clerk.issue_api_key(MachineGrant::new("user_1", ["read"]));
    verifier.verify(&key.token).await.unwrap();
    // Revoked at Clerk: served from the cache within the bound…
    assert!(clerk.revoke_machine_credential(&key.id));
    verifier.verify(&key.token).await.unwrap();
    assert_eq!(clerk.machine_verify_requests(), 1);
    // …and refused once the bound (60 s) passes.
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        verifier.verify(&key.token).await.unwrap_err(),
        MachineError::NotFound(TokenType::ApiKey)
    );
    assert_eq!(clerk.machine_verify_requests(), 2);
    // The refusal is cached briefly (5 s), then asked again.
    verifier.verify(&key.token).await.unwrap_err();
    assert_eq!(clerk.machine_verify_requests(), 2);
    clock.advance(Duration::from_secs(6));
    verifier.verify(&key.token).await.unwrap_err();
    assert_eq!(clerk.machine_verify_requests(), 3);

    // forget ends a cached answer at once.
    let other = clerk.issue_m2m_token(MachineGrant::new("mch_1", ["mch_2"]));
    verifier.verify(&other.token).await.unwrap();
    clerk.revoke_machine_credential(&other.id);
    verifier.forget(&other.token);
    assert_eq!(
        verifier.verify(&other.token).await.unwrap_err().reason(),
        "token-invalid"
    );

    // A credential expiring in 10 s is not served from the cache past its expiry, although the
    // bound is 60 s.
    let clock = ManualClock::at(SystemClock.now());
    let verifier = self::verifier(&clerk, &clock);
    let short =
        clerk.issue_api_key(MachineGrant::new("user_3", ["x"]).ttl(Duration::from_secs(10)));
    verifier.verify(&short.token).await.unwrap();
    let before = clerk.machine_verify_requests();
    clock.advance(Duration::from_secs(11));
    // Past its expiry: asked again (and the parser refuses it even if Clerk said 200).
    verifier.verify(&short.token).await.unwrap_err();
    assert_eq!(clerk.machine_verify_requests(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_forms_verify_through_the_jwks_without_a_verify_call() {
    let clerk = MockClerk::start().await;
    let clock = ManualClock::at(SystemClock.now());
    let verifier = verifier(&clerk, &clock);
    let m2m = clerk.issue_m2m_token(MachineGrant::new("mch_jwt", ["a", "b"]).jwt());
    let auth = verifier.verify(&m2m.token).await.unwrap();
    assert_eq!(auth.token_type, TokenType::M2mToken);
    assert_eq!(auth.scopes, ["a", "b"]);
    let oauth = clerk.issue_oauth_token(MachineGrant::new("user_o", ["profile"]).jwt());
    let auth = verifier.verify(&oauth.token).await.unwrap();
    assert_eq!(auth.token_type, TokenType::OAuthToken);
    assert_eq!(auth.client_id.as_deref(), Some("mock_oauth_client"));
    assert_eq!(clerk.machine_verify_requests(), 0);
    let expired = clerk.issue_m2m_token(MachineGrant::new("mch_jwt", ["a"]).jwt().expired());
    assert_eq!(
        verifier.verify(&expired.token).await.unwrap_err().reason(),
        "token-verification-failed"
    );
    // Opaque OAuth tokens go to their endpoint.
    let opaque = clerk.issue_oauth_token(MachineGrant::new("user_o", ["profile"]));
    assert_eq!(
        verifier.verify(&opaque.token).await.unwrap().subject,
        "user_o"
    );
    assert_eq!(clerk.machine_verify_requests(), 1);
}
