//! The stateless-standing scenario, written once for clerk-axum's and clerk-rocket's tests:
//! on the stateless path (no session mode) with a mirror, a revoked `sid` and a banned user are
//! refused at the next request, not when the token expires ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)).
//!
//! Each adapter's test wires an app with `store` and `clock` and a route answering 200 for a
//! signed-in request, and passes [`run`] a `call` that sends `Authorization: Bearer <token>`
//! there and returns the status and the JSON body.

use std::future::Future;

use clerk_core::model::{ClerkUserData, RevokedSession};
use clerk_core::store::{Change, LinkPolicy, Store, WriteBatch};
use clerk_core::time::Clock;
use serde_json::Value;

use crate::{ManualClock, TestKeyPair, TokenBuilder};

/// Runs the scenario; panics (as a test does) at the first answer that is not Clerk's.
///
/// # Panics
/// When the app serves a revoked session or a banned user, or refuses a session it should
/// serve, or the store refuses a write.
pub async fn run<F, Fut>(store: &dyn Store, clock: &ManualClock, key: &TestKeyPair, call: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = (u16, Value)>,
{
    let token = |sub: &str, sid: &str| {
        TokenBuilder::v2(key)
            .subject(sub)
            .session_id(sid)
            .issued_now_by(clock)
            .sign()
    };
    let (status, body) = call(token("user_1", "sess_1")).await;
    assert_eq!(status, 200, "before the revocation: {body}");

    let now = clock.now();
    let revoked = RevokedSession::new("sess_1", Some("user_1".into()), "revoked", now);
    let _ = store
        .apply(WriteBatch::single(now, Change::RevokeSession(revoked)))
        .await
        .expect("the store records the revocation");
    let (status, body) = call(token("user_1", "sess_1")).await;
    assert_eq!(status, 401, "a revoked sid is refused at once: {body}");
    assert_eq!(body["reason"], "session-revoked", "{body}");

    // Another session of the same user is fine; a banned user is refused in every session.
    let (status, body) = call(token("user_1", "sess_2")).await;
    assert_eq!(status, 200, "another session of the user: {body}");
    let mut data = ClerkUserData::new("user_1", now, now);
    data.banned = true;
    let change = Change::UpsertUser {
        data,
        link: LinkPolicy::Never,
    };
    let _ = store
        .apply(WriteBatch::single(now, change))
        .await
        .expect("the store records the ban");
    let (status, body) = call(token("user_1", "sess_2")).await;
    assert_eq!(status, 401, "a banned user is refused at once: {body}");
    assert_eq!(body["reason"], "user-banned", "{body}");
}
