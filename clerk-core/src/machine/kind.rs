//! Token types, the accepted set, and the pure classification of a presented credential,
//! decided exactly as `@clerk/backend`'s `isMachineToken` / `getMachineTokenType` decide.

use base64::Engine as _;
use serde_json::Value;

/// Prefix of Clerk's opaque machine-to-machine tokens.
pub const M2M_TOKEN_PREFIX: &str = "mt_";
/// Prefix of Clerk's opaque OAuth access tokens.
pub const OAUTH_TOKEN_PREFIX: &str = "oat_";
/// Prefix of Clerk's API keys.
pub const API_KEY_PREFIX: &str = "ak_";
/// The `sub` prefix of an M2M JWT (the machine's id).
pub const M2M_SUBJECT_PREFIX: &str = "mch_";
/// The header `typ` values of an OAuth access token JWT (RFC 9068).
pub const OAUTH_ACCESS_TOKEN_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];

/// The kind of credential, with Clerk's names (`@clerk/backend`'s `TokenType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TokenType {
    /// `session_token`: a Clerk session JWT.
    SessionToken,
    /// `api_key`: an `ak_…` API key.
    ApiKey,
    /// `m2m_token`: an `mt_…` token or a JWT whose `sub` starts with `mch_`.
    M2mToken,
    /// `oauth_token`: an `oat_…` token or a JWT with `typ` `at+jwt`.
    OAuthToken,
}

impl TokenType {
    /// Every type, in Clerk's order.
    pub const ALL: [TokenType; 4] = [
        TokenType::SessionToken,
        TokenType::ApiKey,
        TokenType::M2mToken,
        TokenType::OAuthToken,
    ];

    /// Clerk's name (`session_token`, `api_key`, `m2m_token`, `oauth_token`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenType::SessionToken => "session_token",
            TokenType::ApiKey => "api_key",
            TokenType::M2mToken => "m2m_token",
            TokenType::OAuthToken => "oauth_token",
        }
    }

    /// The type named `name` (Clerk's spelling).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        TokenType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether this is a machine credential (everything but a session token).
    #[must_use]
    pub const fn is_machine(self) -> bool {
        !matches!(self, TokenType::SessionToken)
    }

    const fn bit(self) -> u8 {
        match self {
            TokenType::SessionToken => 1,
            TokenType::ApiKey => 2,
            TokenType::M2mToken => 4,
            TokenType::OAuthToken => 8,
        }
    }
}

impl std::fmt::Display for TokenType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a route accepts: one type, several, or any (`acceptsToken` of Clerk's
/// `authenticateRequest`: a string, an array, or `'any'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptedTokens(u8);

impl AcceptedTokens {
    /// Every type (`'any'`).
    pub const ANY: AcceptedTokens = AcceptedTokens(0b1111);
    /// The three machine types.
    pub const ANY_MACHINE: AcceptedTokens = AcceptedTokens(0b1110);

    /// Exactly one type.
    #[must_use]
    pub const fn one(token_type: TokenType) -> Self {
        AcceptedTokens(token_type.bit())
    }

    /// Several types (an empty list accepts nothing, as Clerk's `[]`).
    #[must_use]
    pub const fn of(types: &[TokenType]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < types.len() {
            bits |= types[i].bit();
            i += 1;
        }
        AcceptedTokens(bits)
    }

    /// Whether `token_type` is accepted (`isTokenTypeAccepted`).
    #[must_use]
    pub const fn accepts(self, token_type: TokenType) -> bool {
        self.0 & token_type.bit() != 0
    }

    /// The accepted types, in Clerk's order.
    pub fn types(self) -> impl Iterator<Item = TokenType> {
        TokenType::ALL.into_iter().filter(move |t| self.accepts(*t))
    }
}

/// A marker type naming what a route accepts, for the adapters' `MachineAuth<A>`.
pub trait Accepts: Send + Sync + 'static {
    /// The accepted set.
    const ACCEPTED: AcceptedTokens;
}

macro_rules! accepts_marker {
    ($(#[$doc:meta])* $name:ident = $set:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl Accepts for $name {
            const ACCEPTED: AcceptedTokens = $set;
        }
    };
}

accepts_marker!(
    /// API keys only.
    ApiKeys = AcceptedTokens::one(TokenType::ApiKey)
);
accepts_marker!(
    /// M2M tokens only (opaque or JWT).
    M2mTokens = AcceptedTokens::one(TokenType::M2mToken)
);
accepts_marker!(
    /// OAuth access tokens only (opaque or JWT).
    OAuthTokens = AcceptedTokens::one(TokenType::OAuthToken)
);
accepts_marker!(
    /// API keys and M2M tokens (what the example apps' `GET /api/machine` accepts).
    ApiKeysOrM2m = AcceptedTokens::of(&[TokenType::ApiKey, TokenType::M2mToken])
);
accepts_marker!(
    /// Any machine credential (API key, M2M token, OAuth token).
    AnyMachine = AcceptedTokens::ANY_MACHINE
);
accepts_marker!(
    /// Any credential, session tokens included (Clerk's `'any'`).
    AnyToken = AcceptedTokens::ANY
);

/// A JWT-shaped token's decoded header and payload (`@clerk/backend`'s `decodeJwt`), before
/// any signature check: for classification only.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decoded {
    pub(crate) header: Value,
    pub(crate) payload: Value,
}

/// `^[a-zA-Z0-9\-_]+\.[a-zA-Z0-9\-_]+\.[a-zA-Z0-9\-_]+$` (Clerk's `isJwtFormat`).
#[must_use]
pub fn is_jwt_format(token: &str) -> bool {
    let mut parts = 0;
    for part in token.split('.') {
        parts += 1;
        if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    parts == 3
}

fn decode_json(segment: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .ok()?;
    // TextDecoder replaces invalid UTF-8 rather than failing.
    serde_json::from_str(&String::from_utf8_lossy(&bytes)).ok()
}

/// Clerk's `decodeJwt`: three dot-separated parts, the first two base64url JSON, the third
/// base64url. `None` where it reports an error.
pub(crate) fn decode(token: &str) -> Option<Decoded> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let header = decode_json(h)?;
    let payload = decode_json(p)?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()?;
    Some(Decoded { header, payload })
}

impl Decoded {
    pub(crate) fn typ(&self) -> Option<&Value> {
        self.header.get("typ")
    }

    pub(crate) fn is_oauth(&self) -> bool {
        self.typ()
            .and_then(Value::as_str)
            .is_some_and(|t| OAUTH_ACCESS_TOKEN_TYPES.contains(&t))
    }

    pub(crate) fn is_m2m(&self) -> bool {
        self.payload
            .get("sub")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with(M2M_SUBJECT_PREFIX))
    }
}

fn decoded_jwt(token: &str) -> Option<Decoded> {
    if is_jwt_format(token) {
        decode(token)
    } else {
        None
    }
}

/// Clerk's `isOAuthJwt`: JWT-shaped, decodable, header `typ` `at+jwt` or `application/at+jwt`.
#[must_use]
pub fn is_oauth_jwt(token: &str) -> bool {
    decoded_jwt(token).is_some_and(|d| d.is_oauth())
}

/// Clerk's `isM2MJwt`: JWT-shaped, decodable, `sub` a string starting with `mch_`.
#[must_use]
pub fn is_m2m_jwt(token: &str) -> bool {
    decoded_jwt(token).is_some_and(|d| d.is_m2m())
}

/// Clerk's `isMachineToken` and `getMachineTokenType` in one pass: the machine type of
/// `token`, or `None` when it is not a machine credential (a session token, or garbage, which
/// the session path judges).
///
/// The order is Clerk's: `mt_` or an M2M JWT first, then `oat_` or an OAuth JWT, then `ak_`.
///
/// ```
/// use clerk_core::machine::{classify, TokenType};
///
/// assert_eq!(classify("ak_live_abc"), Some(TokenType::ApiKey));
/// assert_eq!(classify("mt_0123"), Some(TokenType::M2mToken));
/// assert_eq!(classify("oat_0123"), Some(TokenType::OAuthToken));
/// assert_eq!(classify("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"), None); // a JWT of no machine kind
/// ```
#[must_use]
pub fn classify(token: &str) -> Option<TokenType> {
    if token.starts_with(M2M_TOKEN_PREFIX) {
        return Some(TokenType::M2mToken);
    }
    let decoded = decoded_jwt(token);
    if decoded.as_ref().is_some_and(Decoded::is_m2m) {
        return Some(TokenType::M2mToken);
    }
    if token.starts_with(OAUTH_TOKEN_PREFIX) || decoded.as_ref().is_some_and(Decoded::is_oauth) {
        return Some(TokenType::OAuthToken);
    }
    if token.starts_with(API_KEY_PREFIX) {
        return Some(TokenType::ApiKey);
    }
    None
}

/// What `authenticateRequest` parses a bearer token as: its machine type, else a session
/// token (`isTokenTypeInAcceptedArray`).
#[must_use]
pub fn token_type_of(token: &str) -> TokenType {
    classify(token).unwrap_or(TokenType::SessionToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, payload: &str) -> String {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", e(header), e(payload))
    }

    #[test]
    fn prefixes_and_jwt_forms_classify_in_clerks_order() {
        assert_eq!(classify("mt_x"), Some(TokenType::M2mToken));
        assert_eq!(classify("oat_x"), Some(TokenType::OAuthToken));
        assert_eq!(classify("ak_x"), Some(TokenType::ApiKey));
        assert_eq!(classify("sk_test_x"), None);
        assert_eq!(classify("MT_x"), None, "prefixes are case-sensitive");
        let m2m = jwt(r#"{"alg":"RS256"}"#, r#"{"sub":"mch_1"}"#);
        assert_eq!(classify(&m2m), Some(TokenType::M2mToken));
        let oauth = jwt(r#"{"alg":"RS256","typ":"at+jwt"}"#, r#"{"sub":"user_1"}"#);
        assert_eq!(classify(&oauth), Some(TokenType::OAuthToken));
        let app = jwt(r#"{"typ":"application/at+jwt"}"#, r#"{"sub":"user_1"}"#);
        assert_eq!(classify(&app), Some(TokenType::OAuthToken));
        // Both: the M2M test comes first.
        let both = jwt(r#"{"typ":"at+jwt"}"#, r#"{"sub":"mch_1"}"#);
        assert_eq!(classify(&both), Some(TokenType::M2mToken));
        // typ compared exactly; sub must be a string.
        assert_eq!(
            classify(&jwt(r#"{"typ":"AT+JWT"}"#, r#"{"sub":"u"}"#)),
            None
        );
        assert_eq!(classify(&jwt(r#"{}"#, r#"{"sub":["mch_1"]}"#)), None);
        let session = jwt(r#"{"alg":"RS256","typ":"JWT"}"#, r#"{"sub":"user_1"}"#);
        assert_eq!(classify(&session), None);
        assert_eq!(token_type_of(&session), TokenType::SessionToken);
    }

    #[test]
    fn jwt_format_is_clerks_regex() {
        assert!(is_jwt_format("a.b.c"));
        assert!(!is_jwt_format("a.b"));
        assert!(!is_jwt_format("a.b.c.d"));
        assert!(!is_jwt_format("a..c"));
        assert!(!is_jwt_format("a.b.c="), "padding is not in the regex");
        assert!(!is_jwt_format("a.b/.c"));
        // A padded M2M JWT is not JWT-shaped for Clerk, so it is no machine token.
        let padded = format!("{}=", jwt("{}", r#"{"sub":"mch_1"}"#));
        assert_eq!(classify(&padded), None);
    }

    #[test]
    fn accepted_sets() {
        assert!(AcceptedTokens::ANY.accepts(TokenType::SessionToken));
        assert!(!AcceptedTokens::ANY_MACHINE.accepts(TokenType::SessionToken));
        let set = ApiKeysOrM2m::ACCEPTED;
        assert!(set.accepts(TokenType::ApiKey) && set.accepts(TokenType::M2mToken));
        assert!(!set.accepts(TokenType::OAuthToken));
        assert_eq!(
            set.types().collect::<Vec<_>>(),
            [TokenType::ApiKey, TokenType::M2mToken]
        );
        assert_eq!(AcceptedTokens::of(&[]).types().count(), 0);
        assert_eq!(TokenType::from_name("m2m_token"), Some(TokenType::M2mToken));
    }
}
