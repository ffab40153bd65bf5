//! Finding the session token: `Authorization: Bearer` values (raw bytes, as any framework may
//! hand them over) and `Cookie` headers, through both the `HeaderMap` and the raw entry point.
//!
//! Input: lines; a line starting with `A` is an `Authorization` value, with `C` a `Cookie`
//! header, anything else is ignored.
#![no_main]

use clerk_core::extract::{
    cookie, cookie_from, find_token, find_token_from, ExtractError, TokenSource, SESSION_COOKIE,
};
use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut authorization: Vec<&[u8]> = Vec::new();
    let mut cookies: Vec<&[u8]> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        match line.split_first() {
            Some((b'A', value)) => authorization.push(value),
            Some((b'C', value)) => cookies.push(value),
            _ => {}
        }
    }
    let cookie_texts: Vec<&str> = cookies
        .iter()
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();

    let raw = find_token_from(authorization.iter().copied(), || {
        cookie_from(cookie_texts.iter().copied(), SESSION_COOKIE)
    });
    match (&raw, authorization.as_slice()) {
        (Err(ExtractError::MultipleAuthorizationHeaders), values) => assert!(values.len() > 1),
        (_, values) if values.len() > 1 => panic!("several Authorization values accepted: {raw:?}"),
        (Ok(Some(found)), [value]) => {
            assert_eq!(found.source, TokenSource::AuthorizationHeader);
            let token = found.token.as_bytes();
            assert!(!token.is_empty());
            assert!(
                token.iter().all(|&b| b.is_ascii_graphic()),
                "{:?}",
                found.token
            );
            assert!(
                value.windows(token.len()).any(|w| w == token),
                "token not taken from the header"
            );
            let text = std::str::from_utf8(value).expect("accepted value is ASCII");
            let scheme = text.trim_start().get(..6).expect("scheme");
            assert!(scheme.eq_ignore_ascii_case("bearer"), "scheme {scheme:?}");
        }
        (Ok(None), [_]) => panic!("an Authorization header was present but nothing was found"),
        (Ok(found), []) => {
            let expected =
                cookie_from(cookie_texts.iter().copied(), SESSION_COOKIE).filter(|t| !t.is_empty());
            assert_eq!(found.map(|f| f.token), expected);
            if let Some(found) = found {
                assert_eq!(found.source, TokenSource::SessionCookie);
                assert!(!found.token.contains(';'));
                assert!(cookie_texts.iter().any(|c| c.contains(found.token)));
            }
        }
        (Err(_), [_]) => {}
        (Err(err), []) => panic!("no Authorization header, yet {err:?}"),
        _ => unreachable!(),
    }

    // The same request as an `http::HeaderMap`: the same answer for the values it accepts.
    let mut map = HeaderMap::new();
    let mut accepted_auth = Vec::new();
    for value in &authorization {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            accepted_auth.push(*value);
            map.append(AUTHORIZATION, v);
        }
    }
    let mut accepted_cookies = Vec::new();
    for value in &cookies {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            if let Ok(text) = v.to_str() {
                accepted_cookies.push(text.to_owned());
            }
            map.append(COOKIE, v);
        }
    }
    let from_map = find_token(&map, true);
    let from_raw = find_token_from(accepted_auth.iter().copied(), || {
        cookie_from(accepted_cookies.iter().map(String::as_str), SESSION_COOKIE)
    });
    assert_eq!(from_map, from_raw, "HeaderMap and raw values disagree");
    assert_eq!(
        cookie(&map, SESSION_COOKIE),
        cookie_from(accepted_cookies.iter().map(String::as_str), SESSION_COOKIE)
    );
    // Cookies off: the header still counts, the cookie never does.
    let no_cookie = find_token(&map, false);
    if accepted_auth.is_empty() {
        assert_eq!(no_cookie, Ok(None));
    } else {
        assert_eq!(no_cookie, from_map);
    }
});
