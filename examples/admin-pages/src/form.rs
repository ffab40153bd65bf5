//! The login form's `application/x-www-form-urlencoded` body.

use std::fmt;

/// Largest login form body accepted (a username and a password fit many times over).
pub const MAX_FORM_BYTES: usize = 8 * 1024;

/// The login form's fields. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// `username` (empty when absent).
    pub username: String,
    /// `password` (empty when absent).
    pub password: String,
}

impl fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why a login form body could not be read. The message is safe to show: it never
/// contains the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// The body is larger than [`MAX_FORM_BYTES`].
    #[error("the form is too large ({size} bytes, at most {limit})")]
    TooLarge {
        /// The body's size.
        size: usize,
        /// [`MAX_FORM_BYTES`].
        limit: usize,
    },
    /// A `%` not followed by two hex digits.
    #[error("the form has an invalid percent-escape")]
    BadEscape,
    /// A field is not UTF-8 once decoded.
    #[error("the form is not UTF-8")]
    NotUtf8,
    /// A field appears twice.
    #[error("the form field {0} appears more than once")]
    Repeated(&'static str),
}

impl LoginForm {
    /// Parses `username=…&password=…` (`+` is a space, `%XX` a byte; other fields are
    /// ignored; a missing field is empty).
    ///
    /// # Errors
    /// [`FormError`] for a body that is too large, badly escaped, not UTF-8, or repeats a
    /// field.
    pub fn parse(body: &[u8]) -> Result<LoginForm, FormError> {
        if body.len() > MAX_FORM_BYTES {
            return Err(FormError::TooLarge {
                size: body.len(),
                limit: MAX_FORM_BYTES,
            });
        }
        let mut username = None;
        let mut password = None;
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let (slot, field) = match decode(name)?.as_str() {
                "username" => (&mut username, "username"),
                "password" => (&mut password, "password"),
                _ => continue,
            };
            if slot.replace(decode(value)?).is_some() {
                return Err(FormError::Repeated(field));
            }
        }
        Ok(LoginForm {
            username: username.unwrap_or_default(),
            password: password.unwrap_or_default(),
        })
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let (Some(hi), Some(lo)) = (bytes.next().and_then(hex), bytes.next().and_then(hex))
                else {
                    return Err(FormError::BadEscape);
                };
                out.push(hi << 4 | lo);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_decoded() {
        let form = LoginForm::parse(
            b"csrf=x&username=ada%40example.com&password=correct+horse+%26+battery%3Dstaple%25",
        )
        .unwrap();
        assert_eq!(form.username, "ada@example.com");
        assert_eq!(form.password, "correct horse & battery=staple%");
        let form = LoginForm::parse("username=J%C3%BCrgen".as_bytes()).unwrap();
        assert_eq!(form.username, "Jürgen");
        assert_eq!(form.password, "");
    }

    #[test]
    fn missing_and_empty_fields_are_empty() {
        assert_eq!(
            LoginForm::parse(b"").unwrap(),
            LoginForm {
                username: String::new(),
                password: String::new()
            }
        );
        let form = LoginForm::parse(b"username&password=").unwrap();
        assert_eq!((form.username.as_str(), form.password.as_str()), ("", ""));
    }

    #[test]
    fn bad_bodies_are_errors() {
        assert_eq!(LoginForm::parse(b"username=%zz"), Err(FormError::BadEscape));
        assert_eq!(LoginForm::parse(b"username=%4"), Err(FormError::BadEscape));
        assert_eq!(LoginForm::parse(b"password=%ff"), Err(FormError::NotUtf8));
        assert_eq!(
            LoginForm::parse(b"username=a&username=b"),
            Err(FormError::Repeated("username"))
        );
        let big = vec![b'a'; MAX_FORM_BYTES + 1];
        assert_eq!(
            LoginForm::parse(&big),
            Err(FormError::TooLarge {
                size: MAX_FORM_BYTES + 1,
                limit: MAX_FORM_BYTES
            })
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let form = LoginForm::parse(b"username=ada&password=hunter2hunter2").unwrap();
        let shown = format!("{form:?}");
        assert!(
            shown.contains("ada") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
