//! Answers over real HTTP and the expectations the checks state on them.

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::Failure;

/// One response, read completely.
#[derive(Debug, Clone)]
pub struct Answer {
    /// What was asked (`GET /api/me (expired token)`), for messages.
    pub request: String,
    /// Response status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body as text (lossy).
    pub text: String,
}

impl Answer {
    pub(crate) async fn read(request: String, response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = match response.bytes().await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => format!("<body could not be read: {e}>"),
        };
        Answer {
            request,
            status,
            headers,
            text,
        }
    }

    /// The body as JSON, if it is JSON.
    #[must_use]
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.text).ok()
    }

    /// The value of header `name` (the first one), if present and text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn fail(&self, what: String) -> Failure {
        let mut body = self.text.clone();
        if body.len() > 2000 {
            let mut cut = 2000;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push('…');
        }
        Failure::new(format!(
            "{}: {what}\n  got status {} body {body}",
            self.request, self.status
        ))
    }

    /// The status is `status`.
    ///
    /// # Errors
    /// A [`Failure`] quoting the answer.
    pub fn status(&self, status: u16) -> Result<&Self, Failure> {
        if self.status == status {
            Ok(self)
        } else {
            Err(self.fail(format!("expected status {status}")))
        }
    }

    /// The body is exactly this JSON value.
    ///
    /// # Errors
    /// A [`Failure`] quoting the answer.
    pub fn json_is(&self, expected: &Value) -> Result<&Self, Failure> {
        match self.json() {
            Some(actual) if &actual == expected => Ok(self),
            _ => Err(self.fail(format!("expected body {expected}"))),
        }
    }

    /// Header `name` is exactly `value`.
    ///
    /// # Errors
    /// A [`Failure`] quoting the answer.
    pub fn header_is(&self, name: &str, value: &str) -> Result<&Self, Failure> {
        match self.header(name) {
            Some(actual) if actual == value => Ok(self),
            actual => Err(self.fail(format!("expected header {name}: {value}, got {actual:?}"))),
        }
    }

    /// Header `name` is absent.
    ///
    /// # Errors
    /// A [`Failure`] quoting the answer.
    pub fn header_absent(&self, name: &str) -> Result<&Self, Failure> {
        match self.header(name) {
            None => Ok(self),
            Some(actual) => Err(self.fail(format!("expected no {name} header, got {actual:?}"))),
        }
    }

    /// `Content-Type` starts with `media_type` (parameters such as `charset` may follow).
    ///
    /// # Errors
    /// A [`Failure`] quoting the answer.
    pub fn content_type(&self, media_type: &str) -> Result<&Self, Failure> {
        match self.header("content-type") {
            Some(actual) if actual.to_ascii_lowercase().starts_with(media_type) => Ok(self),
            actual => Err(self.fail(format!(
                "expected Content-Type {media_type}, got {actual:?}"
            ))),
        }
    }

    /// The body contains every one of `needles`.
    ///
    /// # Errors
    /// A [`Failure`] naming the first one missing.
    pub fn contains(&self, needles: &[&str]) -> Result<&Self, Failure> {
        match needles.iter().find(|n| !self.text.contains(**n)) {
            None => Ok(self),
            Some(missing) => Err(self.fail(format!("expected the body to contain {missing:?}"))),
        }
    }

    /// The body contains none of `needles`.
    ///
    /// # Errors
    /// A [`Failure`] naming the first one present.
    pub fn lacks(&self, needles: &[&str]) -> Result<&Self, Failure> {
        match needles.iter().find(|n| self.text.contains(**n)) {
            None => Ok(self),
            Some(present) => {
                Err(self.fail(format!("expected the body not to contain {present:?}")))
            }
        }
    }

    /// Every `Set-Cookie` of this answer is the session cookie as [design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)
    /// says: `__Host-clerk_session`, `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`, no
    /// `Domain` — on a loopback `Host` too (never decided from it) — and there is one.
    ///
    /// # Errors
    /// The first cookie that is not.
    pub fn session_cookie_is_hardened(&self) -> Result<&Self, Failure> {
        let cookies = self.set_cookies();
        if cookies.is_empty() {
            return Err(self.fail("a session cookie".to_owned()));
        }
        for cookie in &cookies {
            let mut parts = cookie.split(';').map(str::trim);
            let name = parts.next().and_then(|p| p.split_once('=')).map(|(n, _)| n);
            let attributes: Vec<String> = parts.map(str::to_ascii_lowercase).collect();
            let has = |a: &str| attributes.iter().any(|x| x == a);
            let ok = name == Some("__Host-clerk_session")
                && has("httponly")
                && has("samesite=lax")
                && has("path=/")
                && has("secure")
                && !attributes.iter().any(|x| x.starts_with("domain="));
            if !ok {
                return Err(self.fail(format!(
                    "Set-Cookie __Host-clerk_session=…; HttpOnly; SameSite=Lax; Path=/; Secure (no Domain), got {cookie:?}"
                )));
            }
        }
        Ok(self)
    }

    /// The `name=value` pairs of every `Set-Cookie` header.
    #[must_use]
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }
}

/// `application/x-www-form-urlencoded` encoding of `fields`.
pub(crate) fn form_encode(fields: &[(&str, &str)]) -> String {
    fn encode(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(char::from(byte));
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    }
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::form_encode;

    #[test]
    fn form_encoding_escapes_what_it_must() {
        assert_eq!(
            form_encode(&[("username", "a b"), ("password", "p&s=w%d/é")]),
            "username=a+b&password=p%26s%3Dw%25d%2F%C3%A9"
        );
    }
}
