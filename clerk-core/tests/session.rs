//! The session-mode policy ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)) on real verified tokens and a hand-driven clock.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use clerk_core::keys::VerifyingKey;
use clerk_core::model::{ClerkUserData, User, UserId};
use clerk_core::session::{
    session_cookie_name, AfterRevalidation, EndReason, RevalidationPolicy, SessionDecision,
    SessionRecord, Standing, TokenIdentity,
};
use clerk_core::time::UnixTime;
use clerk_core::verify::{self, VerifyOptions};
use clerk_core::Auth;
use clerk_testkit::keys::TestKeyPair;
use clerk_testkit::mint::{OrgV2, TokenBuilder, DEFAULT_AUTHORIZED_PARTY, DEFAULT_ISSUER};

const T0: i64 = 1_750_000_000;

fn at(secs: i64) -> UnixTime {
    UnixTime::from_secs(T0 + secs)
}

fn token(sub: &str, sid: &str) -> TokenBuilder {
    TokenBuilder::v2(&TestKeyPair::fixed(0))
        .issued_at(at(0))
        .subject(sub)
        .session_id(sid)
}

fn verified(token: &str) -> Auth {
    let key = VerifyingKey::from_pem(&TestKeyPair::fixed(0).public_key_pem()).unwrap();
    let options = VerifyOptions::new(DEFAULT_ISSUER, [DEFAULT_AUTHORIZED_PARTY]);
    verify::verify(token, &key, &options, at(1)).unwrap()
}

fn policy() -> RevalidationPolicy {
    RevalidationPolicy::new(Duration::from_secs(300))
}

fn record() -> (SessionRecord, String) {
    let jwt = token("user_a", "sess_a").sign();
    (SessionRecord::establish(&verified(&jwt), at(0)), jwt)
}

#[test]
fn inside_the_window_the_session_serves_with_or_without_the_same_token() {
    let (record, jwt) = record();
    let same = TokenIdentity::peek(&jwt).unwrap();
    for now in [at(0), at(1), at(299)] {
        assert_eq!(
            policy().evaluate(&record, None, Standing::Good, now),
            SessionDecision::Serve
        );
        assert_eq!(
            policy().evaluate(&record, Some(&same), Standing::Good, now),
            SessionDecision::Serve
        );
    }
}

#[test]
fn at_and_after_the_interval_a_token_is_required_again() {
    let (record, _) = record();
    for now in [at(300), at(301), at(86_399)] {
        assert_eq!(
            policy().evaluate(&record, None, Standing::Good, now),
            SessionDecision::Revalidate
        );
    }
}

#[test]
fn an_idle_record_ends_whatever_token_comes() {
    let (record, jwt) = record();
    let same = TokenIdentity::peek(&jwt).unwrap();
    // CLERK_SESSION_IDLE_SECONDS defaults to a day.
    for now in [at(86_400), at(86_401), at(10 * 86_400)] {
        for presented in [None, Some(&same)] {
            assert_eq!(
                policy().evaluate(&record, presented, Standing::Good, now),
                SessionDecision::End(EndReason::Expired)
            );
        }
    }
    let short = policy().with_idle(Duration::from_secs(600));
    assert_eq!(
        short.evaluate(&record, None, Standing::Good, at(599)),
        SessionDecision::Revalidate
    );
    assert_eq!(
        short.evaluate(&record, None, Standing::Good, at(600)),
        SessionDecision::End(EndReason::Expired)
    );
}

#[test]
fn serving_touches_the_record_once_a_minute_and_that_keeps_it_alive() {
    let (record, _) = record();
    assert!(record.touched(at(59)).is_none(), "fresh: nothing to write");
    let touched = record.touched(at(60)).unwrap();
    assert_eq!(touched.last_seen, Some(at(60)));
    assert!(touched.touched(at(119)).is_none());
    let short = policy().with_idle(Duration::from_secs(600));
    // Idle counts from the last touch, not from the last verification.
    assert_eq!(short.expires_at(&touched), at(660));
    assert_ne!(
        short.evaluate(&touched, None, Standing::Good, at(650)),
        SessionDecision::End(EndReason::Expired)
    );
}

#[test]
fn a_clock_going_backwards_keeps_serving() {
    let (record, _) = record();
    assert_eq!(
        policy().evaluate(&record, None, Standing::Good, at(-60)),
        SessionDecision::Serve
    );
}

#[test]
fn a_token_for_another_user_or_session_ends_the_session() {
    let (record, _) = record();
    for other in [token("user_b", "sess_a"), token("user_a", "sess_b")] {
        let identity = TokenIdentity::peek(&other.sign()).unwrap();
        assert_eq!(
            policy().evaluate(&record, Some(&identity), Standing::Good, at(10)),
            SessionDecision::End(EndReason::IdentityChanged)
        );
    }
}

#[test]
fn revocation_and_deactivation_end_the_session_inside_the_window() {
    let (record, jwt) = record();
    let same = TokenIdentity::peek(&jwt).unwrap();
    let cases = [
        (Standing::SessionRevoked, EndReason::SessionRevoked),
        (Standing::UserDeleted, EndReason::UserDeleted),
        (Standing::UserBanned, EndReason::UserBanned),
        (Standing::UserInactive, EndReason::UserInactive),
    ];
    for (standing, reason) in cases {
        for presented in [None, Some(&same)] {
            assert_eq!(
                policy().evaluate(&record, presented, standing, at(1)),
                SessionDecision::End(reason),
                "{standing:?}"
            );
        }
    }
}

#[test]
fn revalidation_refreshes_the_same_identity_and_replaces_another() {
    let (record, _) = record();
    let again = verified(&token("user_a", "sess_a").sign());
    match policy().after_revalidation(&record, &again, at(400)) {
        AfterRevalidation::Refresh(fresh) => {
            assert_eq!(fresh.last_clerk_check, at(400));
            assert_eq!(
                policy().evaluate(&fresh, None, Standing::Good, at(650)),
                SessionDecision::Serve
            );
        }
        other => panic!("expected a refresh, got {other:?}"),
    }
    let other = verified(&token("user_b", "sess_b").sign());
    match policy().after_revalidation(&record, &other, at(400)) {
        AfterRevalidation::Replace(fresh) => assert_eq!(fresh.user_id, "user_b"),
        other => panic!("expected a replacement, got {other:?}"),
    }
}

fn in_org(role: &str) -> TokenBuilder {
    token("user_a", "sess_a").org_v2(OrgV2 {
        id: "org_1",
        slug: "acme",
        role,
        permissions: vec!["read"],
        feature_permission_masks: vec!["1"],
    })
}

/// An org switch or a demotion keeps `sub` and `sid`: the session must not answer from its
/// snapshot while the request's token says otherwise. A refreshed token with the same claims
/// (a new `iat`/`exp`, as Clerk's frontend sends every minute) still serves.
#[test]
fn a_token_of_the_same_session_with_another_org_context_is_verified_and_refreshes() {
    let admin = in_org("admin").sign();
    let record = SessionRecord::establish(&verified(&admin), at(0));
    let refreshed = in_org("admin").issued_at(at(-5)).sign();
    assert_ne!(refreshed, admin);
    assert_eq!(
        policy().evaluate(
            &record,
            TokenIdentity::peek(&refreshed).as_ref(),
            Standing::Good,
            at(31)
        ),
        SessionDecision::Serve
    );
    let demoted = in_org("member").issued_at(at(-5)).sign();
    let no_org = token("user_a", "sess_a").issued_at(at(-5)).sign();
    let other_org = token("user_a", "sess_a")
        .issued_at(at(-5))
        .org_v2(OrgV2 {
            id: "org_2",
            slug: "other",
            role: "admin",
            permissions: vec!["read"],
            feature_permission_masks: vec!["1"],
        })
        .sign();
    let with_feature = in_org("admin")
        .issued_at(at(-5))
        .claim("fea", "o:reports")
        .sign();
    for (what, jwt) in [
        ("demoted", &demoted),
        ("left the organization", &no_org),
        ("switched organization", &other_org),
        ("gained a feature", &with_feature),
    ] {
        let presented = TokenIdentity::peek(jwt).unwrap();
        assert_eq!(
            policy().evaluate(&record, Some(&presented), Standing::Good, at(31)),
            SessionDecision::Revalidate,
            "{what}"
        );
    }
    match policy().after_revalidation(&record, &verified(&demoted), at(31)) {
        AfterRevalidation::Refresh(fresh) => {
            let auth = fresh.auth().unwrap();
            assert!(!auth.has_role("org:admin"));
            assert!(auth.has_role("org:member"));
            let same = TokenIdentity::peek(&demoted).unwrap();
            assert_eq!(
                policy().evaluate(&fresh, Some(&same), Standing::Good, at(32)),
                SessionDecision::Serve
            );
        }
        other => panic!("expected a refresh, got {other:?}"),
    }
}

#[test]
fn the_record_round_trips_through_json_and_rebuilds_the_same_auth() {
    let jwt = token("user_a", "sess_a")
        .org_v2(OrgV2 {
            id: "org_1",
            slug: "acme",
            role: "admin",
            permissions: vec!["read"],
            feature_permission_masks: vec!["1"],
        })
        .claim("fea", "o:reports")
        .claim("email", "a@example.com")
        .sign();
    let auth = verified(&jwt);
    let record = SessionRecord::establish(&auth, at(0));
    assert_eq!(record.org_id.as_deref(), Some("org_1"));
    let json = serde_json::to_string(&record).unwrap();
    let back: SessionRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, record);
    let rebuilt = back.auth().unwrap();
    assert_eq!(rebuilt, auth);
    assert_eq!(rebuilt.claim("email"), auth.claim("email"));
    assert!(rebuilt.has_role("org:admin"));
}

#[test]
fn a_tampered_record_does_not_rebuild() {
    let (mut impostor, _) = record();
    impostor.user_id = "user_mallory".into();
    assert!(impostor.auth().is_err());
    let (mut garbled, _) = record();
    garbled.claims = "{not json".into();
    assert!(garbled.auth().is_err());
}

#[test]
fn debug_keeps_the_claims_out_of_logs() {
    let jwt = token("user_a", "sess_a")
        .claim("email", "secret@example.com")
        .sign();
    let record = SessionRecord::establish(&verified(&jwt), at(0));
    let shown = format!("{record:?}");
    assert!(shown.contains("user_a"));
    assert!(!shown.contains("secret@example.com"));
}

#[test]
fn peek_reads_sub_and_sid_and_refuses_non_tokens() {
    let identity = TokenIdentity::peek(&token("user_a", "sess_a").sign()).unwrap();
    assert_eq!(identity.user_id, "user_a");
    assert_eq!(identity.session_id.as_deref(), Some("sess_a"));
    for junk in ["", "a.b", "a.b.c.d", "x.!!!.y", "e30.e30.e30"] {
        assert_eq!(TokenIdentity::peek(junk), None, "{junk}");
    }
}

#[test]
fn standing_comes_from_the_revoked_set_and_the_user_row() {
    let data = ClerkUserData::new("user_a", at(0), at(0));
    let live = User::from_clerk(UserId(1), &data, at(0));
    assert_eq!(Standing::from_store(false, None), Standing::Good);
    assert_eq!(Standing::from_store(false, Some(&live)), Standing::Good);
    assert_eq!(
        Standing::from_store(true, Some(&live)),
        Standing::SessionRevoked
    );
    let mut banned = live.clone();
    banned.banned = true;
    assert_eq!(
        Standing::from_store(false, Some(&banned)),
        Standing::UserBanned
    );
    let mut inactive = live.clone();
    inactive.is_active = false;
    assert_eq!(
        Standing::from_store(false, Some(&inactive)),
        Standing::UserInactive
    );
    let deleted = User::tombstone(UserId(1), "user_a", at(5), at(5));
    assert_eq!(
        Standing::from_store(false, Some(&deleted)),
        Standing::UserDeleted
    );
}

#[test]
fn the_secure_cookie_carries_the_host_prefix() {
    assert_eq!(session_cookie_name(true), "__Host-clerk_session");
    assert_eq!(session_cookie_name(false), "clerk_session");
}

#[test]
fn staff_sessions_end_after_their_idle_and_absolute_lifetimes() {
    use clerk_core::session::{StaffDecision, StaffLifetime};
    let life = StaffLifetime::DEFAULT;
    assert_eq!(
        (life.idle, life.max),
        (Duration::from_secs(3600), Duration::from_secs(43_200))
    );
    let login = Some(at(0));
    assert_eq!(life.decide(login, None, at(59)), StaffDecision::Serve);
    assert_eq!(
        life.decide(login, None, at(60)),
        StaffDecision::ServeAndTouch
    );
    assert_eq!(
        life.decide(login, None, at(3599)),
        StaffDecision::ServeAndTouch
    );
    assert_eq!(
        life.decide(login, None, at(3600)),
        StaffDecision::Expired,
        "idle"
    );
    // Kept busy, it still ends at the absolute limit.
    let busy = Some(at(43_199));
    assert_eq!(life.decide(login, busy, at(43_199)), StaffDecision::Serve);
    assert_eq!(
        life.decide(login, busy, at(43_200)),
        StaffDecision::Expired,
        "max"
    );
    // A session without a recorded login time is ended; a clock going back serves.
    assert_eq!(life.decide(None, None, at(1)), StaffDecision::Expired);
    assert_eq!(
        life.decide(Some(at(100)), None, at(50)),
        StaffDecision::Serve
    );
}
