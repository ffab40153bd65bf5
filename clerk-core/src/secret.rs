//! Secrets as redacted newtypes.
//!
//! A secret's `Debug` and `Display` never show its value, so a stray `{:?}` in a log line or
//! an error message cannot leak it. The value is reachable only through an explicit
//! `expose_secret()`, which makes every use easy to find in review.

use std::fmt;

/// A string that must not appear in logs or errors.
///
/// Equality is constant-time in the length of the shorter value, so comparing secrets does
/// not leak how many leading bytes matched.
#[derive(Clone, Default)]
pub struct SecretString(Box<str>);

impl SecretString {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into().into_boxed_str())
    }

    /// The secret value. Call this only where the value is actually needed.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}
impl Eq for SecretString {}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString::new(value)
    }
}
impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        SecretString::new(value)
    }
}

/// Constant-time equality of two byte strings (length is not hidden).
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps the value. Validation happens in [`crate::config`], which knows the setting's name.
            #[must_use]
            pub fn new(value: impl Into<String>) -> Self {
                $name(SecretString::new(value))
            }

            /// The secret value. Call this only where the value is actually needed.
            #[must_use]
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_newtype!(
    /// A Clerk secret key (`sk_test_…` / `sk_live_…`), the Bearer credential for the Backend API.
    SecretKey
);

impl SecretKey {
    /// A SHA-256 fingerprint of the key: safe to use as a map key or to compare instances,
    /// never reversible to the key itself.
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 32] {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.expose_secret().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }
}

secret_newtype!(
    /// A webhook signing secret (`whsec_…`), as shown in Clerk's dashboard.
    WebhookSigningKey
);

secret_newtype!(
    /// A session token (a JWT) as presented by a client.
    SessionToken
);

/// `url` with any password removed, for `Debug`, logs and error messages.
///
/// Connection URLs (`postgres://user:pass@host/db`, `redis://:pass@host`) carry passwords in
/// their user-info part and sometimes in the query (`?password=…`). Both are replaced with
/// `[redacted]`; everything else is kept so an operator can still tell which server is meant.
///
/// ```
/// use clerk_core::secret::redact_url;
/// assert_eq!(
///     redact_url("postgres://app:hunter2@db.internal:5432/prod?sslmode=require&password=x"),
///     "postgres://app:[redacted]@db.internal:5432/prod?sslmode=require&password=[redacted]"
/// );
/// assert_eq!(redact_url("sqlite:clerk-app.db"), "sqlite:clerk-app.db");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    const REDACTED: &str = "[redacted]";
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match head.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            // The user-info ends at the last '@' before the path (passwords may contain '@').
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => {
                    let userinfo = &rest[..at];
                    match userinfo.split_once(':') {
                        Some((user, _password)) => {
                            out.push_str(user);
                            out.push(':');
                            out.push_str(REDACTED);
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push_str(&rest[at..]);
                }
                None => out.push_str(rest),
            }
        }
        None => out.push_str(head),
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_password_key(key) => format!("{key}={REDACTED}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

fn is_password_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password")
        || key == "pass"
        || key == "pwd"
        || key.contains("secret")
        || key.contains("token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_removes_passwords_and_keeps_the_rest() {
        let cases = [
            (
                "postgres://u:p%40ss@h:5432/d",
                "postgres://u:[redacted]@h:5432/d",
            ),
            (
                "mysql://root:s3cr3t@127.0.0.1:3306/test",
                "mysql://root:[redacted]@127.0.0.1:3306/test",
            ),
            (
                "redis://:hunter2@cache:6379/0",
                "redis://:[redacted]@cache:6379/0",
            ),
            ("postgres://u:a@b@h/d", "postgres://u:[redacted]@h/d"),
            ("postgres://u@h/d", "postgres://u@h/d"),
            (
                "postgres://h/d?user=u&password=pw",
                "postgres://h/d?user=u&password=[redacted]",
            ),
            ("sqlite:app.db?mode=rwc", "sqlite:app.db?mode=rwc"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }

    #[test]
    fn debug_never_shows_the_value() {
        let key = SecretKey::new("sk_test_abcdef");
        let shown = format!(
            "{key:?} {:?} {:?}",
            SecretString::new("hunter2"),
            SessionToken::new("eyJ.x.y")
        );
        assert!(!shown.contains("abcdef"));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("eyJ"));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn equality_compares_whole_values() {
        assert_eq!(SecretString::new("abc"), SecretString::new("abc"));
        assert_ne!(SecretString::new("abc"), SecretString::new("abd"));
        assert_ne!(SecretString::new("abc"), SecretString::new("abcd"));
    }

    #[test]
    fn fingerprints_differ_per_key() {
        assert_ne!(
            SecretKey::new("sk_test_a").fingerprint(),
            SecretKey::new("sk_test_b").fingerprint()
        );
        assert_eq!(
            SecretKey::new("sk_test_a").fingerprint(),
            SecretKey::new("sk_test_a").fingerprint()
        );
    }
}
