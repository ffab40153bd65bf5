//! Cross-site request refusal for the `/admin` forms (login CSRF, forced logout).
//!
//! The session cookie is `SameSite=Lax`, so a cross-site POST never carries it, but a login
//! form needs no cookie to be abused: another site could sign a visitor in as the attacker.
//! Browsers say where a request comes from (`Sec-Fetch-Site`, else `Origin`), so the forms
//! refuse what a browser marks as coming from elsewhere. Clients that send neither header
//! (scripts, test suites, old browsers) are let through: they are not a browser being steered
//! by another site.

/// What the request's own headers say about where it came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestOrigin<'a> {
    /// `Sec-Fetch-Site`, when sent.
    pub sec_fetch_site: Option<&'a str>,
    /// `Origin`, when sent.
    pub origin: Option<&'a str>,
    /// `Host` (HTTP/1.1) or the `:authority`, when known.
    pub host: Option<&'a str>,
}

impl RequestOrigin<'_> {
    /// Whether a browser sent this request on another site's behalf: `Sec-Fetch-Site` other
    /// than `same-origin` or `none` (a typed address), else an `Origin` (including `null`)
    /// whose host and port are not the request's `Host`.
    #[must_use]
    pub fn is_cross_site(&self) -> bool {
        if let Some(site) = self.sec_fetch_site {
            let site = site.trim();
            return !(site.eq_ignore_ascii_case("same-origin")
                || site.eq_ignore_ascii_case("none"));
        }
        let Some(origin) = self.origin.map(str::trim) else {
            return false;
        };
        let authority = origin
            .split_once("://")
            .map(|(_, rest)| rest)
            .filter(|rest| !rest.is_empty() && !rest.contains('/'));
        match (authority, self.host.map(str::trim)) {
            (Some(authority), Some(host)) => !authority.eq_ignore_ascii_case(host),
            // `Origin: null` (sandboxed frames, some redirects), a malformed origin, or no
            // `Host` to compare with: nothing shows it is this site.
            _ => true,
        }
    }
}

/// The body of the 403 answered to a cross-site form post.
pub const CROSS_SITE_REFUSED: &str =
    "<!doctype html>\n<title>Forbidden</title>\n<p>Cross-site form submissions are refused.</p>\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn cross(site: Option<&str>, origin: Option<&str>, host: Option<&str>) -> bool {
        RequestOrigin {
            sec_fetch_site: site,
            origin,
            host,
        }
        .is_cross_site()
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        let host = Some("127.0.0.1:3000");
        assert!(!cross(Some("same-origin"), None, host));
        assert!(!cross(Some("none"), None, host));
        assert!(!cross(
            Some("Same-Origin"),
            Some("https://evil.example"),
            host
        ));
        assert!(cross(
            Some("cross-site"),
            Some("http://127.0.0.1:3000"),
            host
        ));
        assert!(
            cross(Some("same-site"), None, host),
            "a sibling subdomain is another origin"
        );
    }

    #[test]
    fn the_origin_must_name_this_host() {
        let host = Some("127.0.0.1:3000");
        assert!(!cross(None, Some("http://127.0.0.1:3000"), host));
        assert!(!cross(
            None,
            Some("https://Admin.Example.com"),
            Some("admin.example.com")
        ));
        assert!(cross(None, Some("https://evil.example"), host));
        assert!(
            cross(None, Some("http://127.0.0.1:3001"), host),
            "another port"
        );
        assert!(cross(None, Some("null"), host));
        assert!(
            cross(None, Some("http://127.0.0.1:3000/path"), host),
            "not an origin"
        );
        assert!(cross(None, Some("http://127.0.0.1:3000"), None));
    }

    #[test]
    fn clients_without_browser_headers_pass() {
        assert!(!cross(None, None, Some("127.0.0.1:3000")));
        assert!(!cross(None, None, None));
    }
}
