//! Finding the session token in a request.
//!
//! `Authorization: Bearer <token>` (scheme case-insensitive) wins. Without that header, the
//! `__session` cookie is used when cookie authentication is enabled (browsers on the same
//! site send it). A header that is present but malformed is an error, never a silent
//! fall-through to the cookie: a client that meant to send a token should learn it did not.

use http::header::{AUTHORIZATION, COOKIE};
use http::HeaderMap;

/// The cookie Clerk's frontend SDKs set with the session token.
pub const SESSION_COOKIE: &str = "__session";

/// Where the token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer`.
    AuthorizationHeader,
    /// The `__session` cookie.
    SessionCookie,
}

/// A token found in a request, borrowed from the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundToken<'a> {
    /// The token text.
    pub token: &'a str,
    /// Where it came from.
    pub source: TokenSource,
}

/// The `Authorization` header is present but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// More than one `Authorization` header.
    #[error("more than one Authorization header")]
    MultipleAuthorizationHeaders,
    /// Not `Bearer <token>`.
    #[error("Authorization header is not `Bearer <token>`")]
    NotBearer,
    /// `Bearer` with nothing after it.
    #[error("Authorization header has an empty bearer token")]
    EmptyToken,
    /// Not visible ASCII.
    #[error("Authorization header is not valid ASCII")]
    NotAscii,
}

/// Finds the session token: the bearer header, else (when `cookies` is true) `__session`.
/// `Ok(None)` means the request carries no token at all (signed out).
pub fn find_token(
    headers: &HeaderMap,
    cookies: bool,
) -> Result<Option<FoundToken<'_>>, ExtractError> {
    find_token_from(
        headers.get_all(AUTHORIZATION).iter().map(|v| v.as_bytes()),
        || cookies.then(|| cookie(headers, SESSION_COOKIE)).flatten(),
    )
}

/// [`find_token`] for frameworks whose headers are not an [`http::HeaderMap`]: the raw values
/// of every `Authorization` header, and the `__session` cookie's value, asked for only when
/// no `Authorization` header is present (return `None` when cookie authentication is off).
///
/// ```
/// use clerk_core::extract::{find_token_from, TokenSource};
///
/// let found = find_token_from([&b"Bearer abc.def.ghi"[..]], || None).unwrap().unwrap();
/// assert_eq!((found.token, found.source), ("abc.def.ghi", TokenSource::AuthorizationHeader));
/// assert_eq!(find_token_from([], || Some("a.b.c")).unwrap().unwrap().source, TokenSource::SessionCookie);
/// ```
///
/// # Errors
/// [`ExtractError`] when an `Authorization` header is present but unusable; the cookie is
/// then not consulted.
pub fn find_token_from<'a>(
    authorization: impl IntoIterator<Item = &'a [u8]>,
    session_cookie: impl FnOnce() -> Option<&'a str>,
) -> Result<Option<FoundToken<'a>>, ExtractError> {
    let mut values = authorization.into_iter();
    if let Some(value) = values.next() {
        if values.next().is_some() {
            return Err(ExtractError::MultipleAuthorizationHeaders);
        }
        if let Some(token) = plain_bearer(value) {
            return Ok(Some(FoundToken {
                token,
                source: TokenSource::AuthorizationHeader,
            }));
        }
        let text = visible_ascii(value).ok_or(ExtractError::NotAscii)?;
        let (scheme, rest) =
            text.trim()
                .split_once(' ')
                .ok_or(if text.trim().eq_ignore_ascii_case("bearer") {
                    ExtractError::EmptyToken
                } else {
                    ExtractError::NotBearer
                })?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ExtractError::NotBearer);
        }
        let token = rest.trim();
        if token.is_empty() {
            return Err(ExtractError::EmptyToken);
        }
        // Only visible ASCII and tabs got this far, so a space or a tab is the only whitespace
        // left. One branch-free pass (vectorized): a char-by-char `char::is_whitespace` scan
        // was ~6 % of a cached request's CPU, two `memchr` scans ~1,500 instructions
        // (BENCHMARKS.md, "Axum adapter under load").
        let spaced = token.as_bytes().iter().fold(0u8, |spaced, &b| {
            spaced | u8::from(b == b' ') | u8::from(b == b'\t')
        });
        if spaced != 0 {
            return Err(ExtractError::NotBearer);
        }
        return Ok(Some(FoundToken {
            token,
            source: TokenSource::AuthorizationHeader,
        }));
    }
    Ok(session_cookie()
        .filter(|t| !t.is_empty())
        .map(|token| FoundToken {
            token,
            source: TokenSource::SessionCookie,
        }))
}

/// The token of the usual header, `Bearer <token>` with one space and nothing around it, in
/// one pass over the token; `None` for any other shape, which the general rules above then
/// decide. What this accepts they accept with the same token (every byte is visible ASCII,
/// so there is no whitespace to trim and the only space is the one after the scheme): it
/// only skips their passes over the value (~2,100 instructions for a ~600-byte token, now
/// ~600, BENCHMARKS.md).
fn plain_bearer(value: &[u8]) -> Option<&str> {
    let (scheme, token) = value.split_at_checked(7)?;
    if !scheme[..6].eq_ignore_ascii_case(b"bearer") || scheme[6] != b' ' || token.is_empty() {
        return None;
    }
    // Branch-free (vectorized): any byte outside `!`..=`~` sets a bit. (An explicit
    // 16-lane version compiled to ~5 instructions a byte; this fold to under one.)
    let outside = token.iter().fold(0u8, |outside, &b| {
        outside | u8::from(b.wrapping_sub(b'!') > b'~' - b'!')
    });
    if outside != 0 {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// The header value as text when it is visible ASCII or tabs (what
/// [`http::HeaderValue::to_str`] accepts), whichever framework parsed it.
fn visible_ascii(value: &[u8]) -> Option<&str> {
    // Branch-free over the whole value so the compiler can use vector instructions: a
    // byte-at-a-time early-exit loop was ~3,000 instructions per ~600-byte token
    // (bench/load/instructions.sh).
    let invalid = value.iter().fold(false, |invalid, &b| {
        invalid | ((b < b' ' && b != b'\t') | (b > b'~'))
    });
    if invalid {
        return None;
    }
    // Every byte is ASCII now, so this cannot fail.
    std::str::from_utf8(value).ok()
}

/// The value of the cookie `name` across all `Cookie` headers (HTTP/2 may split them).
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_from(
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        name,
    )
}

/// [`cookie`] over the text of every `Cookie` header, for frameworks whose headers are not an
/// [`http::HeaderMap`].
pub fn cookie_from<'a>(
    cookie_headers: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_wins_over_the_cookie() {
        let h = headers(&[
            ("authorization", "bEaReR abc.def.ghi"),
            ("cookie", "__session=cookie.tok.en"),
        ]);
        let found = find_token(&h, true).unwrap().unwrap();
        assert_eq!(found.token, "abc.def.ghi");
        assert_eq!(found.source, TokenSource::AuthorizationHeader);
    }

    #[test]
    fn cookie_is_used_only_when_enabled() {
        let h = headers(&[
            ("cookie", "theme=dark; __session=a.b.c"),
            ("cookie", "other=1"),
        ]);
        assert_eq!(
            find_token(&h, true).unwrap().unwrap().source,
            TokenSource::SessionCookie
        );
        assert_eq!(find_token(&h, false).unwrap(), None);
        assert_eq!(
            find_token(&headers(&[("cookie", "__session_other=x")]), true).unwrap(),
            None
        );
    }

    #[test]
    fn malformed_headers_are_errors_not_fall_throughs() {
        let cookie = ("cookie", "__session=a.b.c");
        assert_eq!(
            find_token(&headers(&[("authorization", "Basic Zm9v"), cookie]), true),
            Err(ExtractError::NotBearer)
        );
        assert_eq!(
            find_token(&headers(&[("authorization", "Bearer "), cookie]), true),
            Err(ExtractError::EmptyToken)
        );
        assert_eq!(
            find_token(&headers(&[("authorization", "Bearer"), cookie]), true),
            Err(ExtractError::EmptyToken)
        );
        assert_eq!(
            find_token(&headers(&[("authorization", "Bearer a b")]), true),
            Err(ExtractError::NotBearer)
        );
        assert_eq!(
            find_token(&headers(&[("authorization", "Bearer a\tb")]), true),
            Err(ExtractError::NotBearer)
        );
        assert_eq!(
            find_token(
                &headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]),
                true
            ),
            Err(ExtractError::MultipleAuthorizationHeaders)
        );
    }

    /// The one-pass shortcut for `Bearer <token>` agrees with the general rules on every
    /// shape near it (the general rules alone decide the rest).
    #[test]
    fn the_plain_bearer_shortcut_agrees_with_the_general_rules() {
        fn general(raw: &[u8]) -> Option<&str> {
            let text = visible_ascii(raw)?;
            let (scheme, rest) = text.trim().split_once(' ')?;
            let token = rest.trim();
            (scheme.eq_ignore_ascii_case("bearer")
                && !token.is_empty()
                && !token.contains([' ', '\t']))
            .then_some(token)
        }
        let mut shapes: Vec<Vec<u8>> = [
            &b"Bearer a.b.c"[..],
            b"bearer a.b.c",
            b"BEARER ~!",
            b"Bearer  a.b.c",
            b"Bearer a.b.c ",
            b" Bearer a.b.c",
            b"Bearer\ta.b.c",
            b"Bearer a b",
            b"Bearer a\tb",
            b"Bearer ",
            b"Bearer",
            b"Bearera.b.c",
            b"Basic a.b.c",
            b"Bearer a\x7f",
            b"Bearer a\x80",
            b"Bearer caf\xc3\xa9",
            b"Bearer a\x1f",
            b"Bearer a\0",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        // Every byte value at the start, the middle and the end of a long token.
        for b in 0..=255u8 {
            for at in [0, 20, 39] {
                let mut raw = b"Bearer ".to_vec();
                let mut token = vec![b'x'; 40];
                token[at] = b;
                raw.extend(token);
                shapes.push(raw);
            }
        }
        for raw in &shapes {
            let fast = plain_bearer(raw);
            if let Some(token) = fast {
                assert_eq!(Some(token), general(raw), "{raw:?}");
            }
            assert_eq!(
                find_token_from([&raw[..]], || None)
                    .ok()
                    .flatten()
                    .map(|f| f.token),
                general(raw),
                "{raw:?}"
            );
        }
        // The shortcut takes the usual shape itself (else it saves nothing).
        assert_eq!(plain_bearer(b"Bearer a.b.c"), Some("a.b.c"));
        assert_eq!(plain_bearer(b"Bearer a\x7f"), None);
        assert_eq!(plain_bearer(b"Bearer a b"), None);
    }

    #[test]
    fn raw_values_get_the_same_rules_as_a_header_map() {
        // Frameworks hand over bytes `HeaderValue::to_str` would refuse: the result is the same.
        for raw in [
            &b"Bearer caf\xc3\xa9"[..],
            b"Bearer a\x7fb",
            b"Bearer a\x01b",
        ] {
            assert_eq!(
                find_token_from([raw], || Some("a.b.c")),
                Err(ExtractError::NotAscii),
                "{raw:?}"
            );
        }
        let cookie_asked = std::cell::Cell::new(false);
        let found = find_token_from([&b"bearer  x.y.z\t"[..]], || {
            cookie_asked.set(true);
            Some("a.b.c")
        });
        assert_eq!(found.unwrap().unwrap().token, "x.y.z");
        assert!(
            !cookie_asked.get(),
            "the cookie is not read when the header is present"
        );
        assert_eq!(find_token_from([], || Some("")), Ok(None));
        assert_eq!(find_token_from([], || None), Ok(None));
    }
}
