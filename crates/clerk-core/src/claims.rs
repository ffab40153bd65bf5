//! Claims v1 and v2 → [`Auth`].
//!
//! v1 carries `org_id`, `org_slug`, `org_role` (`org:admin`) and `org_permissions`.
//! v2 (`"v": 2`) nests the organization under `o` (`id`, `slg`, `rol` without prefix, `per`,
//! `fpm`) and lists features in `fea`. A v2 permission is `org:<feature>:<permission>` for
//! every org feature `f_i` and permission `p_j` whose bit is set in the mask `fpm[i]`; the
//! masks are decimal integers read with the first permission as the most significant of
//! `per.len()` bits, and may be wider than 64 bits.

use crate::auth::{ActiveOrganization, Auth, FactorVerificationAge};
use crate::time::UnixTime;
use crate::verify::TokenError;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Masks longer than this many decimal digits (about 3,300 permission bits) are treated as
/// malformed rather than expanded: a bound on work, far above any real organization.
const MAX_MASK_DIGITS: usize = 1000;

/// Builds the normalized [`Auth`] from a decoded, signature-checked payload.
pub(crate) fn normalize(claims: Map<String, Value>) -> Result<Auth, TokenError> {
    let user_id = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(TokenError::InvalidClaim("sub")),
    };
    let expires_at = numeric_date(&claims, "exp")?.ok_or(TokenError::InvalidClaim("exp"))?;
    let issued_at = numeric_date(&claims, "iat")?;
    let not_before = numeric_date(&claims, "nbf")?;
    let version = match claims.get("v") {
        None => 1,
        Some(Value::Number(n)) if n.as_u64() == Some(1) => 1,
        Some(Value::Number(n)) if n.as_u64() == Some(2) => 2,
        Some(_) => return Err(TokenError::InvalidClaim("v")),
    };
    let (user_features, org_features) = split_features(str_claim(&claims, "fea"));
    let org = if version == 2 {
        org_v2(&claims, &org_features)?
    } else {
        org_v1(&claims)
    };
    let factor_verification_age = match claims.get("fva") {
        Some(Value::Array(ages)) if ages.len() == 2 => Some(FactorVerificationAge {
            first_factor_minutes: ages[0].as_i64().unwrap_or(-1),
            second_factor_minutes: ages[1].as_i64().unwrap_or(-1),
        }),
        _ => None,
    };
    Ok(Auth {
        user_id,
        session_id: string(&claims, "sid"),
        session_status: string(&claims, "sts"),
        org,
        user_features,
        org_features,
        plan: string(&claims, "pla"),
        actor: claims.get("act").filter(|v| !v.is_null()).cloned(),
        factor_verification_age,
        issuer: string(&claims, "iss"),
        authorized_party: string(&claims, "azp"),
        issued_at,
        not_before,
        expires_at,
        claims_version: version,
        claims: Arc::new(claims),
    })
}

fn str_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

fn string(claims: &Map<String, Value>, name: &str) -> Option<String> {
    str_claim(claims, name).map(str::to_owned)
}

/// A NumericDate: integer or fractional seconds. Present but not a number is an error.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<UnixTime>, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(secs) = n.as_i64() {
                Ok(Some(UnixTime::from_secs(secs)))
            } else if let Some(secs) = n.as_f64().filter(|f| f.is_finite()) {
                // Saturating float-to-int conversion is what we want for absurd values.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(UnixTime::from_millis((secs * 1000.0).floor() as i64)))
            } else {
                Err(TokenError::InvalidClaim(name))
            }
        }
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

fn with_org_prefix(role: &str) -> String {
    if role.starts_with("org:") {
        role.to_owned()
    } else {
        format!("org:{role}")
    }
}

fn org_v1(claims: &Map<String, Value>) -> Option<ActiveOrganization> {
    let id = str_claim(claims, "org_id").filter(|s| !s.is_empty())?;
    let permissions = match claims.get("org_permissions") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Some(ActiveOrganization {
        id: id.to_owned(),
        slug: string(claims, "org_slug"),
        role: str_claim(claims, "org_role")
            .filter(|r| !r.is_empty())
            .map(with_org_prefix),
        permissions,
    })
}

fn org_v2(
    claims: &Map<String, Value>,
    org_features: &[String],
) -> Result<Option<ActiveOrganization>, TokenError> {
    let Some(Value::Object(o)) = claims.get("o") else {
        return Ok(None);
    };
    let Some(id) = o
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let permission_names: Vec<&str> = o
        .get("per")
        .and_then(Value::as_str)
        .map(|per| {
            per.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let masks = feature_masks(o.get("fpm"))?;
    let mut permissions = Vec::new();
    for (feature, mask) in org_features.iter().zip(masks.iter()) {
        let width = permission_names.len();
        for (index, name) in permission_names.iter().enumerate() {
            // The first permission is the most significant of `width` bits.
            if mask.bit(width - 1 - index) {
                permissions.push(format!("org:{feature}:{name}"));
            }
        }
    }
    Ok(Some(ActiveOrganization {
        id: id.to_owned(),
        slug: o.get("slg").and_then(Value::as_str).map(str::to_owned),
        role: o
            .get("rol")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(with_org_prefix),
        permissions,
    }))
}

/// Splits `fea` (`o:reports,u:beta,ou:both`) into user and organization features by scope.
fn split_features(fea: Option<&str>) -> (Vec<String>, Vec<String>) {
    let mut user = Vec::new();
    let mut org = Vec::new();
    for entry in fea
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (scope, name) = entry.split_once(':').unwrap_or(("", entry));
        if scope.contains('u') {
            user.push(name.to_owned());
        }
        if scope.contains('o') {
            org.push(name.to_owned());
        }
    }
    (user, org)
}

/// `fpm`: a comma-separated list of decimal masks (or a bare JSON number).
fn feature_masks(fpm: Option<&Value>) -> Result<Vec<BitMask>, TokenError> {
    match fpm {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Number(n)) => Ok(vec![BitMask::from_decimal(&n.to_string())?]),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(BitMask::from_decimal)
            .collect(),
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

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
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

    #[test]
    fn v2_permissions_follow_clerks_bit_order() {
        let auth = normalize(claims(json!({
            "sub": "user_1", "exp": 100, "v": 2, "fea": "o:reports,u:beta,o:billing",
            "o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "2,3"}
        })))
        .unwrap();
        let org = auth.org.unwrap();
        assert_eq!(org.role.as_deref(), Some("org:admin"));
        assert_eq!(
            org.permissions,
            ["org:reports:read", "org:billing:read", "org:billing:manage"]
        );
        assert_eq!(auth.user_features, ["beta"]);
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
}
