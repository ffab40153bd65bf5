//! The /admin login form (`application/x-www-form-urlencoded`) and the cross-site check of
//! the admin forms. A parsed form re-encodes to a body that parses the same, and its `Debug`
//! never shows the password.
//!
//! Input: the form body; its first three lines are also tried as `Sec-Fetch-Site`, `Origin`
//! and `Host` values.
#![no_main]

use admin_pages::{FormError, LoginForm, RequestOrigin, MAX_FORM_BYTES};
use libfuzzer_sys::fuzz_target;

fn filled(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    match LoginForm::parse(data) {
        Ok(form) => {
            assert!(data.len() <= MAX_FORM_BYTES);
            let body = format!(
                "username={}&password={}",
                encode(&form.username),
                encode(&form.password)
            );
            // (Escaping can make the body longer than the limit; only then may it be refused.)
            if body.len() <= MAX_FORM_BYTES {
                assert!(
                    LoginForm::parse(body.as_bytes()).as_ref() == Ok(&form),
                    "a re-encoded form parses differently"
                );
            }
            // `Debug` never depends on the password: the same text whatever the password is
            // (a substring search gave false alarms when the password was part of the rest of
            // the text, e.g. the username or the struct's own field names).
            let with = |password: &str| {
                format!(
                    "{:?}",
                    LoginForm {
                        username: form.username.clone(),
                        password: password.to_owned(),
                    }
                )
            };
            let shown = format!("{form:?}");
            assert!(
                shown == with("a") && shown == with("b"),
                "Debug depends on the password: {shown}"
            );
        }
        Err(FormError::TooLarge { size, limit }) => assert!(size > limit && size == data.len()),
        Err(err) => {
            let _ = err.to_string();
        }
    }
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let (site, origin, host) = (lines.next(), lines.next(), lines.next());
    let request = RequestOrigin {
        sec_fetch_site: filled(site),
        origin: filled(origin),
        host: filled(host),
    };
    let cross = request.is_cross_site();
    // Without Sec-Fetch-Site and Origin, nothing says the request is cross-site.
    if request.sec_fetch_site.is_none() && request.origin.is_none() {
        assert!(!cross);
    }
    // A same-origin Origin (scheme://host) is never cross-site.
    if let (None, Some(host)) = (request.sec_fetch_site, request.host) {
        let host = host.trim();
        if !host.is_empty() && !host.contains('/') {
            let same = RequestOrigin {
                sec_fetch_site: None,
                origin: Some(&format!("https://{host}")),
                host: Some(host),
            }
            .is_cross_site();
            assert!(!same, "https://{host} is cross-site to Host {host}");
        }
    }
});
