//! The one-step warm path (`decide_request_now`, `decide_headers_now`) decides exactly as the
//! general path (`find_token_from` then `decide_now`) over many header shapes: the shortcut
//! looks a held token up by its bytes before checking them, and these cases are where that
//! could go wrong (a near-copy of a held token, another scheme, spacing, two headers, a
//! cookie, an expired or a never-seen token).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use clerk_core::extract::{find_token, find_token_from};
use clerk_core::time::UnixTime;
use clerk_core::{AuthDecision, Authenticator, ClerkConfig};
use clerk_testkit::keys::TestKeyPair;
use clerk_testkit::mint::{publishable_key_for, TokenBuilder, DEFAULT_AUTHORIZED_PARTY};
use clerk_testkit::offline::{jwks_client, run_ready};
use clerk_testkit::ManualClock;

const T0: i64 = 1_750_000_000;

fn authenticator(clock: &ManualClock, cookie_auth: bool) -> Authenticator {
    let config = ClerkConfig::builder()
        .secret_key("sk_test_warm")
        .publishable_key(publishable_key_for("clerk.mock.test", false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .cookie_auth(cookie_auth)
        .build()
        .unwrap();
    Authenticator::builder(config)
        .clock(clock.clone())
        .http_client(jwks_client(&[&TestKeyPair::fixed(0)]))
        .build()
        .unwrap()
}

fn token(subject: &str) -> String {
    TokenBuilder::v2(&TestKeyPair::fixed(0))
        .issuer("https://clerk.mock.test")
        .subject(subject)
        .issued_at(UnixTime::from_secs(T0))
        .sign()
}

/// What a decision says, comparable across the two paths.
fn summary(decision: Option<AuthDecision>) -> String {
    match decision {
        None => "waits for keys".to_owned(),
        Some(AuthDecision::SignedIn(auth)) => format!("signed in as {}", auth.user_id),
        Some(other) => format!("{other:?}"),
    }
}

/// Header shapes around a held token `held` and a valid token `fresh` never verified.
fn shapes(held: &str, fresh: &str) -> Vec<(String, Vec<Vec<u8>>, Option<String>)> {
    let mut flipped_middle = held.as_bytes().to_vec();
    let middle = flipped_middle.len() / 2;
    flipped_middle[middle] ^= 1;
    let mut flipped_last = held.as_bytes().to_vec();
    *flipped_last.last_mut().unwrap() ^= 1;
    let cookie = Some(held.to_owned());
    let one = |value: Vec<u8>| vec![value];
    let bearer = |token: &str| format!("Bearer {token}").into_bytes();
    vec![
        ("bearer held".into(), one(bearer(held)), None),
        (
            "bearer held, cookie too".into(),
            one(bearer(held)),
            cookie.clone(),
        ),
        ("bearer fresh".into(), one(bearer(fresh)), None),
        (
            "lower-case scheme".into(),
            one(format!("bearer {held}").into_bytes()),
            None,
        ),
        (
            "two spaces".into(),
            one(format!("Bearer  {held}").into_bytes()),
            None,
        ),
        (
            "trailing space".into(),
            one(format!("Bearer {held} ").into_bytes()),
            None,
        ),
        (
            "leading space".into(),
            one(format!(" Bearer {held}").into_bytes()),
            None,
        ),
        (
            "tab".into(),
            one(format!("Bearer\t{held}").into_bytes()),
            None,
        ),
        (
            "another scheme".into(),
            one(format!("Basic {held}").into_bytes()),
            None,
        ),
        ("no scheme".into(), one(held.as_bytes().to_vec()), None),
        ("scheme only".into(), one(b"Bearer ".to_vec()), None),
        ("empty".into(), one(Vec::new()), None),
        (
            "held, one byte more".into(),
            one(bearer(&format!("{held}x"))),
            None,
        ),
        (
            "held, one byte less".into(),
            one(bearer(&held[..held.len() - 1])),
            None,
        ),
        (
            "held, middle byte changed".into(),
            one([b"Bearer ".to_vec(), flipped_middle].concat()),
            None,
        ),
        (
            "held, last byte changed".into(),
            one([b"Bearer ".to_vec(), flipped_last].concat()),
            None,
        ),
        (
            "held with a space inside".into(),
            one(bearer(&held.replacen('.', ". ", 1))),
            None,
        ),
        (
            "non-ASCII after".into(),
            one([bearer(held), "é".as_bytes().to_vec()].concat()),
            None,
        ),
        (
            "two headers, both held".into(),
            vec![bearer(held), bearer(held)],
            None,
        ),
        (
            "two headers, held then fresh".into(),
            vec![bearer(held), bearer(fresh)],
            None,
        ),
        ("cookie only".into(), Vec::new(), cookie),
        ("nothing".into(), Vec::new(), None),
    ]
}

fn compare_all(authenticator: &Authenticator, held: &str, fresh: &str, when: &str) {
    for (name, values, cookie) in shapes(held, fresh) {
        let cookie_for = || cookie.as_deref().filter(|_| authenticator.cookie_auth());
        let quick =
            summary(authenticator.decide_request_now(values.iter().map(Vec::as_slice), cookie_for));
        let general = summary(authenticator.decide_now(find_token_from(
            values.iter().map(Vec::as_slice),
            cookie_for,
        )));
        assert_eq!(quick, general, "{when}: {name}");
    }
}

#[test]
fn the_shortcut_decides_as_the_general_path() {
    for cookie_auth in [false, true] {
        let clock = ManualClock::at(UnixTime::from_secs(T0));
        let authenticator = authenticator(&clock, cookie_auth);
        let held = token("user_held");
        let fresh = token("user_fresh");
        // Nothing held yet: the first look-up must fetch the keys.
        assert_eq!(
            summary(
                authenticator.decide_request_now([format!("Bearer {held}").as_bytes()], || None)
            ),
            "waits for keys"
        );
        run_ready(authenticator.verify(&held)).unwrap();
        compare_all(
            &authenticator,
            &held,
            &fresh,
            &format!("cookie_auth {cookie_auth}, held"),
        );
        assert_eq!(
            summary(
                authenticator.decide_request_now([format!("Bearer {held}").as_bytes()], || None)
            ),
            "signed in as user_held"
        );
        // Past the expiry the held entry must not be served by either path.
        clock.advance(Duration::from_secs(3600));
        compare_all(
            &authenticator,
            &held,
            &fresh,
            &format!("cookie_auth {cookie_auth}, expired"),
        );
        assert!(
            summary(
                authenticator.decide_request_now([format!("Bearer {held}").as_bytes()], || None)
            )
            .contains("Expired"),
            "an expired held token is refused"
        );
    }
}

#[test]
fn the_header_map_form_reads_the_same_headers() {
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let authenticator = authenticator(&clock, true);
    let held = token("user_held");
    run_ready(authenticator.verify(&held)).unwrap();
    let mut cases = Vec::new();
    let mut bearer = http::HeaderMap::new();
    bearer.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {held}").parse().unwrap(),
    );
    cases.push(bearer.clone());
    bearer.append(
        http::header::AUTHORIZATION,
        format!("Bearer {held}").parse().unwrap(),
    );
    cases.push(bearer);
    let mut cookie = http::HeaderMap::new();
    cookie.insert(
        http::header::COOKIE,
        format!("theme=dark; __session={held}").parse().unwrap(),
    );
    cases.push(cookie);
    cases.push(http::HeaderMap::new());
    for headers in cases {
        assert_eq!(
            summary(authenticator.decide_headers_now(&headers)),
            summary(authenticator.decide_now(find_token(&headers, true))),
            "{headers:?}"
        );
    }
}
