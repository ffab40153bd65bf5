//! Conformance with the Svix vectors in `tests/fixtures/svix-vectors.json` (plus any extra files
//! named by `CLERK_SVIX_VECTORS`, which add cases and never replace these) and the large official
//! values O1–O5 (`tests/fixtures/svix-official-vectors.md`).
#![allow(clippy::disallowed_methods)] // Reading `CLERK_SVIX_VECTORS` is the point here.

use clerk_core::time::UnixTime;
use clerk_webhooks::{SecretError, VerifyError, Webhook};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

const IN_REPO_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/svix-vectors.json"
);

#[derive(Debug, Deserialize)]
struct Vector {
    id: String,
    secret: String,
    msg_id: String,
    timestamp: String,
    payload: String,
    signature_header: String,
    #[serde(default)]
    header_style: Option<String>,
    #[serde(default)]
    omit_headers: Vec<String>,
    now: serde_json::Number,
    expected_valid: bool,
    #[serde(default)]
    expected_error: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

/// The error kinds this crate can name, mapped from the vectors' vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NoMatchingSignature,
    TimestampTooOld,
    TimestampTooNew,
    InvalidTimestamp,
    MissingHeader,
    InvalidHeader,
    EmptySecret,
    InvalidSecret,
}

fn known_kind(name: &str) -> Option<Kind> {
    Some(match name {
        "InvalidSignature" | "NoMatchingSignature" => Kind::NoMatchingSignature,
        "TimestampTooOldError" | "TimestampTooOld" => Kind::TimestampTooOld,
        "FutureTimestampError" | "TimestampTooNew" => Kind::TimestampTooNew,
        "InvalidTimestamp" => Kind::InvalidTimestamp,
        "MissingHeader" => Kind::MissingHeader,
        "InvalidHeader" => Kind::InvalidHeader,
        "EmptySecret" => Kind::EmptySecret,
        "InvalidSecret" | "InvalidBase64" => Kind::InvalidSecret,
        _ => return None,
    })
}

fn verify_kind(e: &VerifyError) -> Option<Kind> {
    Some(match e {
        VerifyError::NoMatchingSignature => Kind::NoMatchingSignature,
        VerifyError::TimestampTooOld { .. } => Kind::TimestampTooOld,
        VerifyError::TimestampTooNew { .. } => Kind::TimestampTooNew,
        VerifyError::InvalidTimestamp => Kind::InvalidTimestamp,
        VerifyError::MissingHeader { .. } => Kind::MissingHeader,
        VerifyError::InvalidHeader { .. } => Kind::InvalidHeader,
        _ => return None,
    })
}

fn secret_kind(e: &SecretError) -> Option<Kind> {
    Some(match e {
        SecretError::EmptySecret { .. } | SecretError::NoSecrets => Kind::EmptySecret,
        SecretError::InvalidBase64 { .. } => Kind::InvalidSecret,
        _ => return None,
    })
}

fn now_of(n: &serde_json::Number) -> UnixTime {
    match n.as_i64() {
        Some(secs) => UnixTime::from_secs(secs),
        // Fractional seconds: keep millisecond precision.
        None => UnixTime::from_millis((n.as_f64().unwrap_or(0.0) * 1000.0).floor() as i64),
    }
}

fn headers_of(v: &Vector) -> Result<HeaderMap, String> {
    let family = match v.header_style.as_deref().unwrap_or("svix") {
        "svix" => "svix",
        "webhook" => "webhook",
        other => return Err(format!("unknown header_style {other:?}")),
    };
    let mut headers = HeaderMap::new();
    for (part, value) in [
        ("id", &v.msg_id),
        ("timestamp", &v.timestamp),
        ("signature", &v.signature_header),
    ] {
        if v.omit_headers.iter().any(|o| o == part) {
            continue;
        }
        let name = HeaderName::try_from(format!("{family}-{part}")).map_err(|e| e.to_string())?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|e| e.to_string())?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// Runs one vector; `Err` describes the mismatch.
fn check(v: &Vector) -> Result<(), String> {
    let expected = v.expected_error.as_deref().and_then(known_kind);
    let webhook = match Webhook::new(&v.secret) {
        Ok(webhook) => webhook,
        Err(e) => {
            if v.expected_valid {
                return Err(format!("constructor failed ({e}) but the vector is valid"));
            }
            // An entry whose secret cannot be constructed expects a constructor error.
            return match expected {
                Some(want) if secret_kind(&e) != Some(want) => {
                    Err(format!("constructor error {e:?}, expected {want:?}"))
                }
                _ => Ok(()),
            };
        }
    };
    let headers = headers_of(v)?;
    match (
        webhook.verify_at(&headers, v.payload.as_bytes(), now_of(&v.now)),
        v.expected_valid,
    ) {
        (Ok(verified), true) => {
            if verified.id() != v.msg_id {
                return Err(format!(
                    "verified id {:?}, expected {:?}",
                    verified.id(),
                    v.msg_id
                ));
            }
            Ok(())
        }
        (Ok(_), false) => Err(format!("verified, expected {:?}", v.expected_error)),
        (Err(e), true) => Err(format!("rejected with {e:?}, expected valid")),
        (Err(e), false) => match (expected, verify_kind(&e)) {
            (Some(want), got) if got != Some(want) => {
                Err(format!("rejected with {e:?}, expected {want:?}"))
            }
            _ => Ok(()),
        },
    }
}

fn load(path: &str) -> Vec<Vector> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let vectors: Vec<Vector> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
    assert!(!vectors.is_empty(), "{path} holds no vectors");
    vectors
}

/// The in-repo file always runs; `CLERK_SVIX_VECTORS` (paths separated by the platform's path
/// separator) adds more files of the same format.
fn vector_files() -> Vec<String> {
    let mut files = vec![IN_REPO_VECTORS.to_owned()];
    if let Some(extra) = std::env::var_os("CLERK_SVIX_VECTORS") {
        files.extend(std::env::split_paths(&extra).map(|p| p.display().to_string()));
    }
    files
}

#[test]
fn svix_vectors() {
    let mut failures = 0;
    let mut total = 0;
    for path in vector_files() {
        let vectors = load(&path);
        for v in &vectors {
            if let Err(why) = check(v) {
                failures += 1;
                println!("FAIL {path} {}: {why}", v.id);
            }
        }
        println!("{} vectors from {path}", vectors.len());
        total += vectors.len();
    }
    assert_eq!(
        failures, 0,
        "{failures} of {total} vectors failed (see the FAIL lines)"
    );
}

#[test]
fn in_repo_vectors_cover_valid_and_invalid_cases() {
    let vectors = load(IN_REPO_VECTORS);
    let official = vectors
        .iter()
        .filter(|v| v.source.as_deref() == Some("official"))
        .count();
    assert!(vectors.iter().any(|v| v.expected_valid));
    assert!(vectors.iter().any(|v| !v.expected_valid));
    assert!(
        official > 0,
        "the in-repo file carries Svix's official cases"
    );
}

const O1_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const O1_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const O1_TS: i64 = 1_614_265_330;

fn svix_headers(id: &str, ts: i64, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("svix-id", HeaderValue::try_from(id).expect("id"));
    h.insert(
        "svix-timestamp",
        HeaderValue::try_from(ts.to_string()).expect("ts"),
    );
    h.insert(
        "svix-signature",
        HeaderValue::try_from(signature).expect("sig"),
    );
    h
}

#[test]
fn official_values_sign_and_verify() {
    let a = |n: usize| vec![b'a'; n];
    let cases: [(&str, &str, i64, Vec<u8>, &str); 5] = [
        (
            "O1",
            O1_SECRET,
            O1_TS,
            br#"{"test": 2432232314}"#.to_vec(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        (
            "O2",
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#.to_vec(),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
        (
            "O3",
            O1_SECRET,
            O1_TS,
            a(1_048_576),
            "v1,txpEUxqWZJ5nteTnymUVa+7C4NHpBeXJ6CsBAW0c3/A=",
        ),
        (
            "O4",
            O1_SECRET,
            O1_TS,
            a(262_144),
            "v1,Mw4Pe2WgApuT7NSqnSq0PQPV9gbLdggCl9B865x5Xh0=",
        ),
        (
            "O5",
            O1_SECRET,
            O1_TS,
            a(262_143),
            "v1,NTItnqyWMoFhk2Bbe5V/BMdcFRWgcSQaTgqLHX7FC7c=",
        ),
    ];
    for (name, secret, ts, body, expected) in cases {
        let id = if name == "O2" {
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"
        } else {
            O1_ID
        };
        let webhook = Webhook::new(secret).expect("official secret");
        assert_eq!(webhook.sign(id, ts, &body), expected, "{name}: sign");
        let headers = svix_headers(id, ts, expected);
        let verified = webhook
            .verify_at(&headers, &body, UnixTime::from_secs(ts))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            (verified.id(), verified.timestamp()),
            (id, UnixTime::from_secs(ts)),
            "{name}"
        );
        assert_eq!(verified.body().len(), body.len(), "{name}");

        // One byte more or less must not verify.
        let mut longer = body.clone();
        longer.push(b'a');
        assert_eq!(
            webhook.verify_at(&headers, &longer, UnixTime::from_secs(ts)),
            Err(VerifyError::NoMatchingSignature),
            "{name}: longer body"
        );
    }
}

#[test]
fn official_decoys_never_verify() {
    let webhook = Webhook::new(O1_SECRET).expect("secret");
    let body = br#"{"test": 2432232314}"#;
    for decoy in [
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd",
        "v1,dawfeoifkpqwoekfpqoekf",
        "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
        "v1,",
        "v1,g0hM9",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        // The valid MAC without padding, with a space inside, or with a trailing comma.
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
        "v1, g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=,",
        "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "",
    ] {
        let headers = svix_headers(O1_ID, O1_TS, decoy);
        assert_eq!(
            webhook.verify_at(&headers, body, UnixTime::from_secs(O1_TS)),
            Err(VerifyError::NoMatchingSignature),
            "{decoy:?}"
        );
    }
}
