//! Claims v1 and v2 → [`Auth`].
//!
//! v1 carries `org_id`, `org_slug`, `org_role` (`org:admin`) and `org_permissions`.
//! v2 (`"v": 2`) nests the organization under `o` (`id`, `slg`, `rol` without prefix, `per`,
//! `fpm`) and lists features in `fea`. A v2 permission is `org:<feature>:<permission>` for
//! every org feature `f_i` and permission `p_j` whose bit `j` is set in the mask `fpm[i]`,
//! bits counted from the least significant (Clerk's `jwtPayloadParser`: the first permission
//! is bit 0). Clerk's docs example: `fea=o:dashboard,o:teams`, `per=manage,read`, `fpm=3,2`
//! gives `org:dashboard:manage`, `org:dashboard:read`, `org:teams:read`. The masks are
//! decimal strings of any width (beyond 2^64). The details where this follows Clerk's
//! JavaScript SDK, and where Clerk's SDKs disagree, are in the [`auth`](crate::auth) module.

use crate::auth::{
    prefix_with_org, split_by_scope, ActiveOrganization, Auth, FactorVerificationAge, RawClaims,
};
use crate::time::UnixTime;
use crate::verify::TokenError;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

/// Masks longer than this many decimal digits grant nothing rather than being expanded: a
/// bound on work. A token is at most [`MAX_TOKEN_BYTES`](crate::verify::MAX_TOKEN_BYTES)
/// long, so no real mask comes near it.
const MAX_MASK_DIGITS: usize = crate::verify::MAX_TOKEN_BYTES;

/// The claims the normalization reads, typed and borrowed from the payload where JSON allows;
/// claims whose shape varies stay `Value`s. Every other claim is skipped here and stays
/// available through [`Auth::claims`]. A claim of the wrong type fails this parse; then
/// [`diagnose`] finds which one, so the error names it.
#[derive(serde::Deserialize)]
struct Payload<'a> {
    #[serde(default, borrow)]
    sub: Option<Cow<'a, str>>,
    #[serde(default)]
    exp: Option<NumericDate>,
    #[serde(default)]
    iat: Option<NumericDate>,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(default)]
    v: Option<Value>,
    #[serde(default, borrow)]
    sid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    sts: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    iss: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    azp: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pla: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    fea: Option<Cow<'a, str>>,
    #[serde(default)]
    act: Option<Value>,
    #[serde(default)]
    fva: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default, borrow)]
    o: Option<OrgV2<'a>>,
    #[serde(default, borrow)]
    org_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    org_slug: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    org_role: Option<Cow<'a, str>>,
    #[serde(default)]
    org_permissions: Option<Value>,
}

#[derive(serde::Deserialize)]
struct OrgV2<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    slg: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    rol: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    per: Option<Cow<'a, str>>,
    #[serde(default)]
    fpm: Option<Value>,
}

/// A JWT NumericDate: integer or fractional seconds since the epoch.
struct NumericDate(UnixTime);

impl<'de> serde::Deserialize<'de> for NumericDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = NumericDate;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("seconds since the epoch")
            }
            fn visit_i64<E: serde::de::Error>(self, secs: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(UnixTime::from_secs(secs)))
            }
            fn visit_u64<E: serde::de::Error>(self, secs: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(UnixTime::from_secs(
                    i64::try_from(secs).unwrap_or(i64::MAX),
                )))
            }
            fn visit_f64<E: serde::de::Error>(self, secs: f64) -> Result<NumericDate, E> {
                if !secs.is_finite() {
                    return Err(E::custom("not a finite number"));
                }
                // Whole seconds, truncated toward zero, as Clerk's `Date.setUTCSeconds` reads
                // them; saturating float-to-int conversion is what we want for absurd values.
                #[allow(clippy::cast_possible_truncation)]
                Ok(NumericDate(UnixTime::from_secs(secs.trunc() as i64)))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// Builds the normalized [`Auth`] from a decoded, signature-checked payload (JSON bytes).
pub(crate) fn normalize(payload: Vec<u8>) -> Result<Auth, TokenError> {
    // The claims set is a JSON object (RFC 7519 §7.2; serde would read a struct from an array
    // too, by position) and JSON text is UTF-8 (RFC 8259 §8.1; serde_json does not check the
    // members it skips). `Auth::claims` parses the whole payload, so check both once here.
    let malformed = TokenError::Malformed("payload is not a JSON object of claims");
    let text = std::str::from_utf8(&payload).map_err(|_| malformed.clone())?;
    if !text.trim_start().starts_with('{') {
        // JSON that is not an object (an array, a string) Clerk's SDK reads as claims without
        // `sub`: `token-verification-failed`; text that is not JSON at all is `token-invalid`
        // (both from the oracle corpus).
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => TokenError::InvalidClaim("sub"),
            Err(_) => malformed,
        });
    }
    let parsed: Payload<'_> = serde_json::from_str(text).map_err(|_| diagnose(&payload))?;
    let user_id = match parsed.sub.as_deref() {
        Some(sub) if !sub.is_empty() => sub.to_owned(),
        _ => return Err(TokenError::InvalidClaim("sub")),
    };
    let expires_at = parsed
        .exp
        .as_ref()
        .map(|d| d.0)
        .ok_or(TokenError::InvalidClaim("exp"))?;
    let issued_at = parsed.iat.as_ref().map(|d| d.0);
    let not_before = parsed.nbf.as_ref().map(|d| d.0);
    // Clerk reads v2 claims only for `v: 2`, the number; any other `v` reads v1 claims.
    let version = if parsed.v.as_ref().and_then(Value::as_f64) == Some(2.0) {
        2
    } else {
        1
    };
    let split = split_by_scope(parsed.fea.as_deref().unwrap_or_default());
    let org = if version == 2 {
        match parsed.o.as_ref() {
            // Clerk's parser throws on a `fea` entry without a colon here: no session.
            Some(o) => {
                let (org_features, _) = split
                    .as_ref()
                    .map_err(|()| TokenError::InvalidClaim("fea"))?;
                org_v2(o, org_features)?
            }
            None => None,
        }
    } else {
        org_v1(&parsed)
    };
    let (org_features, user_features) = split
        .map(|(org, user)| {
            let owned = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
            (owned(org), owned(user))
        })
        .unwrap_or_default();
    // Clerk's `isValidFactorAge`: two numbers, each -1 or >= 0. The typed value holds whole
    // minutes; has() reads fractional ones from the claim as Clerk does.
    let factor_verification_age = match &parsed.fva {
        Some(Value::Array(ages)) if ages.len() == 2 => {
            let age = |v: &Value| v.as_i64().filter(|a| *a == -1 || *a >= 0);
            match (age(&ages[0]), age(&ages[1])) {
                (Some(first), Some(second)) => Some(FactorVerificationAge {
                    first_factor_minutes: first,
                    second_factor_minutes: second,
                }),
                _ => None,
            }
        }
        _ => None,
    };
    let owned = |c: &Option<Cow<'_, str>>| c.as_deref().map(str::to_owned);
    let auth = Auth {
        user_id,
        session_id: owned(&parsed.sid),
        session_status: owned(&parsed.sts),
        org,
        user_features,
        org_features,
        plan: owned(&parsed.pla),
        actor: parsed.act.filter(|v| !v.is_null()),
        factor_verification_age,
        issuer: owned(&parsed.iss),
        authorized_party: owned(&parsed.azp),
        audience: parsed.aud,
        issued_at,
        not_before,
        expires_at,
        claims_version: version,
        claims: Arc::new(RawClaims::new(payload)),
    };
    Ok(auth)
}

/// Names the claim that made the typed parse fail (the cold path of a malformed token).
fn diagnose(payload: &[u8]) -> TokenError {
    let Ok(value) = serde_json::from_slice::<Value>(payload) else {
        return TokenError::Malformed("payload is not JSON");
    };
    let Value::Object(claims) = value else {
        // Clerk reads `sub` from whatever the payload is, and finds no string there.
        return TokenError::InvalidClaim("sub");
    };
    let is =
        |name: &str, ok: fn(&Value) -> bool| claims.get(name).is_none_or(|v| v.is_null() || ok(v));
    for name in [
        "sub", "sid", "sts", "iss", "azp", "pla", "fea", "org_id", "org_slug", "org_role",
    ] {
        if !is(name, Value::is_string) {
            return TokenError::InvalidClaim(claim_name(name));
        }
    }
    for name in ["exp", "iat", "nbf"] {
        if !is(name, |v| v.as_f64().is_some_and(f64::is_finite)) {
            return TokenError::InvalidClaim(claim_name(name));
        }
    }
    if !is("o", Value::is_object) {
        return TokenError::InvalidClaim("o");
    }
    TokenError::InvalidClaim("o")
}

/// The `'static` name of a claim the verifier reads.
fn claim_name(name: &str) -> &'static str {
    const NAMES: [&str; 13] = [
        "sub", "sid", "sts", "iss", "azp", "pla", "fea", "org_id", "org_slug", "org_role", "exp",
        "iat", "nbf",
    ];
    NAMES.into_iter().find(|n| *n == name).unwrap_or("claims")
}

/// `parts` joined into one exactly-sized `String`: on the verify path, cheaper than `format!`.
fn concat_str(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

fn org_v1(claims: &Payload<'_>) -> Option<ActiveOrganization> {
    let id = claims.org_id.as_deref().filter(|s| !s.is_empty())?;
    let permissions = match &claims.org_permissions {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Some(ActiveOrganization {
        id: id.to_owned(),
        slug: claims.org_slug.as_deref().map(str::to_owned),
        role: claims
            .org_role
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(prefix_with_org),
        permissions,
    })
}

fn org_v2(o: &OrgV2<'_>, org_features: &[&str]) -> Result<Option<ActiveOrganization>, TokenError> {
    let Some(id) = o.id.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let mut permissions = Vec::new();
    // Clerk's `parsePermissions`: nothing unless both `per` and `fpm` are truthy; entries are
    // trimmed and keep their positions (an empty name or an unreadable mask included).
    let per = o.per.as_deref().filter(|p| !p.is_empty());
    let masks = match per {
        Some(_) => feature_masks(o.fpm.as_ref())?,
        None => None,
    };
    if let (Some(per), Some(masks)) = (per, masks) {
        let permission_names: Vec<&str> = per.split(',').map(str::trim).collect();
        for (feature, mask) in org_features.iter().zip(masks.iter()) {
            let Some(mask) = mask else { continue };
            for (index, name) in permission_names.iter().enumerate() {
                // The first permission is bit 0, the least significant.
                if mask.bit(index) {
                    permissions.push(concat_str(&["org:", feature, ":", name]));
                }
            }
        }
    }
    Ok(Some(ActiveOrganization {
        id: id.to_owned(),
        slug: o.slg.as_deref().map(str::to_owned),
        role: o
            .rol
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(prefix_with_org),
        permissions,
    }))
}

/// `fpm`: a comma-separated string of decimal masks, one per organization feature; `None`
/// when Clerk reads no permissions (absent, `null` or empty). An entry that is not a plain
/// decimal is `None` and grants nothing. Clerk's parser throws on a non-string `fpm` (a JSON
/// number): an invalid claim.
fn feature_masks(fpm: Option<&Value>) -> Result<Option<Vec<Option<BitMask>>>, TokenError> {
    match fpm {
        None | Some(Value::Null | Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Ok(None),
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(|m| BitMask::from_decimal(m.trim()).ok())
                .collect(),
        )),
        Some(_) => Err(TokenError::InvalidClaim("o.fpm")),
    }
}

/// An arbitrary-width bit mask, little-endian 64-bit limbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BitMask(Vec<u64>);

impl BitMask {
    /// Parses a non-negative decimal integer of any width.
    pub(crate) fn from_decimal(text: &str) -> Result<Self, TokenError> {
        if text.is_empty()
            || text.len() > MAX_MASK_DIGITS
            || !text.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(TokenError::InvalidClaim("o.fpm"));
        }
        let mut limbs: Vec<u64> = vec![0];
        for digit in text.bytes().map(|b| u64::from(b - b'0')) {
            // limbs = limbs * 10 + digit
            let mut carry = u128::from(digit);
            for limb in &mut limbs {
                let value = u128::from(*limb) * 10 + carry;
                *limb = value as u64; // low 64 bits, by design
                carry = value >> 64;
            }
            if carry > 0 {
                limbs.push(carry as u64);
            }
        }
        Ok(BitMask(limbs))
    }

    /// Whether bit `index` (0 = least significant) is set.
    pub(crate) fn bit(&self, index: usize) -> bool {
        self.0
            .get(index / 64)
            .is_some_and(|limb| limb >> (index % 64) & 1 == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn masks_wider_than_64_bits_keep_every_bit() {
        // 2^70 + 2^3 + 1
        let mask = BitMask::from_decimal("1180591620717411303433").unwrap();
        assert!(mask.bit(70) && mask.bit(3) && mask.bit(0));
        assert!(!mask.bit(69) && !mask.bit(1) && !mask.bit(200));
    }

    #[test]
    fn malformed_masks_are_errors_not_panics() {
        for bad in ["", "-1", "1e5", "12a", &"9".repeat(MAX_MASK_DIGITS + 1)] {
            assert_eq!(
                BitMask::from_decimal(bad),
                Err(TokenError::InvalidClaim("o.fpm")),
                "{bad:?}"
            );
        }
    }

    fn v2_permissions(fea: &str, per: &str, fpm: &str) -> Vec<String> {
        let auth = normalize(claims(json!({
            "sub": "user_1", "exp": 100, "v": 2, "fea": fea,
            "o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": per, "fpm": fpm}
        })))
        .unwrap();
        auth.org.unwrap().permissions
    }

    #[test]
    fn v2_permissions_follow_clerks_bit_order() {
        let auth = normalize(claims(json!({
            "sub": "user_1", "exp": 100, "v": 2, "fea": "o:reports,u:beta,o:billing",
            "o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "2,3"}
        })))
        .unwrap();
        let org = auth.org.unwrap();
        assert_eq!(org.role.as_deref(), Some("org:admin"));
        // `read` is bit 0 and `manage` bit 1: mask 2 is `manage`, mask 3 both.
        assert_eq!(
            org.permissions,
            [
                "org:reports:manage",
                "org:billing:read",
                "org:billing:manage"
            ]
        );
        assert_eq!(auth.user_features, ["beta"]);
    }

    #[test]
    fn clerks_docs_example() {
        // https://clerk.com/docs (session token v2): the first permission is the least
        // significant bit.
        assert_eq!(
            v2_permissions("o:dashboard,o:teams", "manage,read", "3,2"),
            [
                "org:dashboard:manage",
                "org:dashboard:read",
                "org:teams:read"
            ]
        );
    }

    #[test]
    fn nine_org_features_as_clerks_javascript_sdk_expands_them() {
        // Recorded from @clerk/shared 4.40.0's jwtPayloadParser (conformance/clerk-js,
        // case "nine features"): `u:beta` is not an organization feature, `ou:settings` is.
        let fea = "o:reports,o:billing,o:teams,u:beta,o:dashboard,o:invoices,o:members,\
                   ou:settings,o:audit,o:export";
        assert_eq!(
            v2_permissions(
                fea,
                "create,delete,imp,manage,read",
                "27,24,24,16,24,11,24,8,4"
            ),
            [
                "org:reports:create",
                "org:reports:delete",
                "org:reports:manage",
                "org:reports:read",
                "org:billing:manage",
                "org:billing:read",
                "org:teams:manage",
                "org:teams:read",
                "org:dashboard:read",
                "org:invoices:manage",
                "org:invoices:read",
                "org:members:create",
                "org:members:delete",
                "org:members:manage",
                "org:settings:manage",
                "org:settings:read",
                "org:audit:manage",
                "org:export:imp",
            ]
        );
    }

    #[test]
    fn a_mask_wider_than_64_bits() {
        let per: Vec<String> = (0..80).map(|i| format!("p{i}")).collect();
        // 2^70 + 2^64 + 2^63 + 1, and 2^79 (as the SDK reads them: case "mask wider than 64 bits").
        let mask = (1u128 << 70) | (1u128 << 64) | (1u128 << 63) | 1;
        let fpm = format!("{mask},{}", 1u128 << 79);
        assert_eq!(
            v2_permissions("o:wide,o:narrow", &per.join(","), &fpm),
            [
                "org:wide:p0",
                "org:wide:p63",
                "org:wide:p64",
                "org:wide:p70",
                "org:narrow:p79"
            ]
        );
    }

    #[test]
    fn odd_masks_and_names_keep_their_positions() {
        // An empty or non-decimal mask grants nothing for its feature only.
        assert_eq!(
            v2_permissions("o:a,o:b,o:c", "read,manage", "3,,2"),
            ["org:a:read", "org:a:manage", "org:c:manage"]
        );
        assert_eq!(
            v2_permissions("o:a,o:b", "read,manage", "-1,2"),
            ["org:b:manage"]
        );
        // An empty permission name keeps its bit, as in Clerk's parser.
        assert_eq!(
            v2_permissions("o:a", "read,,manage", "7"),
            ["org:a:read", "org:a:", "org:a:manage"]
        );
        // A bare number is not Clerk's format (its parser throws).
        let err = normalize(claims(json!({
            "sub": "u", "exp": 1, "v": 2, "fea": "o:a",
            "o": {"id": "org_1", "per": "read", "fpm": 3}
        })))
        .unwrap_err();
        assert_eq!(err, TokenError::InvalidClaim("o.fpm"));
    }

    #[test]
    fn org_without_role_or_permissions_invents_nothing() {
        let auth = normalize(claims(
            json!({"sub": "user_1", "exp": 100, "v": 2, "o": {"id": "org_1"}}),
        ))
        .unwrap();
        let org = auth.org.clone().unwrap();
        assert_eq!(org.role, None);
        assert!(org.permissions.is_empty());
        assert!(!auth.has_role("org:member"));
    }

    #[test]
    fn v1_role_is_prefixed_once() {
        let auth = normalize(claims(
            json!({"sub": "u", "exp": 1, "org_id": "org_1", "org_role": "admin"}),
        ))
        .unwrap();
        assert_eq!(auth.org.unwrap().role.as_deref(), Some("org:admin"));
        let auth = normalize(claims(
            json!({"sub": "u", "exp": 1, "org_id": "org_1", "org_role": "org:admin"}),
        ))
        .unwrap();
        assert!(
            auth.has_role("admin") && auth.has_role("org:admin") && !auth.has_role("org:member")
        );
    }

    #[test]
    fn a_claim_of_the_wrong_type_is_named() {
        let err = |v: Value| normalize(claims(v)).unwrap_err();
        assert_eq!(
            err(json!({"sub": "u", "exp": 1, "sid": 5})),
            TokenError::InvalidClaim("sid")
        );
        assert_eq!(
            err(json!({"sub": "u", "exp": 1, "nbf": "later"})),
            TokenError::InvalidClaim("nbf")
        );
        // Any `v` but the number 2 reads v1 claims, as Clerk's parser does.
        for v in [json!("2"), json!(3), json!(1)] {
            let auth = normalize(claims(json!({"sub": "u", "exp": 1, "v": v}))).unwrap();
            assert_eq!(auth.claims_version, 1);
        }
        assert_eq!(
            err(json!({"sub": "u", "exp": 1, "v": 2, "o": {"id": 7}})),
            TokenError::InvalidClaim("o")
        );
        assert_eq!(
            err(json!(["not", "an", "object"])),
            TokenError::InvalidClaim("sub")
        );
        // Fractional and null times are fine.
        let auth = normalize(claims(json!({"sub": "u", "exp": 1.5, "nbf": null}))).unwrap();
        assert_eq!(auth.expires_at, UnixTime::from_secs(1));
        assert_eq!(auth.not_before, None);
    }

    #[test]
    fn a_claims_set_that_is_not_an_object_is_malformed() {
        // Found by fuzz/token_signed: serde reads a struct from a JSON array too, so a signed
        // `["user_1", 100]` verified as user_1 while `Auth::claims()` was empty (RFC 7519 §7.2:
        // the claims set is a JSON object).
        for payload in [
            &br#"["user_1", 100]"#[..],
            b" \n[\"u\",1]",
            b"\"user_1\"",
            b"7",
        ] {
            assert_eq!(
                normalize(payload.to_vec()).unwrap_err(),
                TokenError::InvalidClaim("sub"),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
        let auth = normalize(b" \r\n\t{\"sub\":\"u\",\"exp\":1}".to_vec()).unwrap();
        assert_eq!(auth.claims()["sub"], "u");
    }

    #[test]
    fn a_claims_set_that_is_not_utf8_is_malformed() {
        // Found by fuzz/token_signed: serde_json skips an unknown member without checking its
        // UTF-8, so a signed payload with invalid UTF-8 there verified while `Auth::claims()`
        // (which parses the whole payload) silently came back empty.
        let payload = b"{\"sub\":\"user_1\",\"exp\":1,\"custom\":\"\xff\"}".to_vec();
        assert_eq!(
            normalize(payload).unwrap_err(),
            TokenError::Malformed("payload is not a JSON object of claims")
        );
    }

    #[test]
    fn required_claims_and_types() {
        assert_eq!(
            normalize(claims(json!({"exp": 1}))).unwrap_err(),
            TokenError::InvalidClaim("sub")
        );
        assert_eq!(
            normalize(claims(json!({"sub": "u"}))).unwrap_err(),
            TokenError::InvalidClaim("exp")
        );
        assert_eq!(
            normalize(claims(json!({"sub": "u", "exp": "soon"}))).unwrap_err(),
            TokenError::InvalidClaim("exp")
        );
        assert_eq!(
            normalize(claims(json!({"sub": 5, "exp": 1}))).unwrap_err(),
            TokenError::InvalidClaim("sub")
        );
    }

    mod v2_permissions {
        //! Property test of the v2 expansion `fea` × `o.per` × `o.fpm` against a reference model
        //! written from Clerk's documented rule: permission `per[j]` is granted for org feature
        //! `i` iff bit `j` of `fpm[i]`, counted from the **least** significant bit, is set; an
        //! `o:x` feature gives `org:x:<permission>`.

        use super::*;
        use proptest::prelude::*;

        /// The reference model, independent of the code under test.
        fn reference(features: &[(&str, String)], per: &[String], masks: &[u128]) -> Vec<String> {
            let org_features = features
                .iter()
                .filter(|(scope, _)| scope.contains('o'))
                .map(|(_, name)| name);
            let mut out = Vec::new();
            for (feature, mask) in org_features.zip(masks) {
                for (j, permission) in per.iter().enumerate() {
                    if j < 128 && (mask >> j) & 1 == 1 {
                        out.push(format!("org:{feature}:{permission}"));
                    }
                }
            }
            out
        }

        fn scope() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec!["o", "u", "ou", "uo"])
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn expansion_matches_the_documented_rule(
                features in prop::collection::vec((scope(), "[a-z][a-z0-9_]{0,7}"), 0..6),
                per in prop::collection::vec("[a-z][a-z0-9_]{0,7}", 0..100),
                masks in prop::collection::vec(any::<u128>(), 0..7),
            ) {
                let fea: Vec<String> = features.iter().map(|(s, n)| format!("{s}:{n}")).collect();
                let fpm: Vec<String> = masks.iter().map(u128::to_string).collect();
                let auth = normalize(claims(json!({
                    "sub": "user_1", "exp": 100, "v": 2, "fea": fea.join(","),
                    "o": {"id": "org_1", "rol": "admin", "per": per.join(","), "fpm": fpm.join(",")}
                })))
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                let org = auth.org.expect("o.id is set");
                prop_assert_eq!(org.permissions, reference(&features, &per, &masks));
            }
        }
    }
}
