//! The cases the adapters' requirement guards (`RequireFeature`, `RequirePlan`,
//! `RequireReverification`, `NotImpersonated`) must answer, written once for clerk-axum's and
//! clerk-rocket's tests.
//!
//! Each adapter's test mounts one route per entry of [`ROUTES`], guarded as the entry says and
//! answering 200 `ok`, then sends every [`case`](cases) and compares status and JSON body. The
//! expected bodies are written out here as Clerk answers them (the reverification body is
//! what `@clerk/shared`'s `reverificationError` builds), not computed with clerk-core.

use serde_json::{json, Value};

use crate::{TestKeyPair, TokenBuilder};

/// A route the adapters' tests mount, and the guard it takes.
#[derive(Debug, Clone, Copy)]
pub struct GuardedRoute {
    /// The path.
    pub path: &'static str,
    /// The guard, in words (the tests declare the marker types named here).
    pub guard: &'static str,
}

/// The routes: the markers are `feature!(Dashboard = "u:dashboard")`,
/// `plan!(Pro = "u:pro")`, the `Strict` preset, `reverification!(Within30 = SecondFactor, 30)`
/// and `NotImpersonated`.
pub const ROUTES: [GuardedRoute; 5] = [
    GuardedRoute {
        path: "/require/feature",
        guard: "RequireFeature<Dashboard>, Dashboard = \"u:dashboard\"",
    },
    GuardedRoute {
        path: "/require/plan",
        guard: "RequirePlan<Pro>, Pro = \"u:pro\"",
    },
    GuardedRoute {
        path: "/require/strict",
        guard: "RequireReverification<Strict>",
    },
    GuardedRoute {
        path: "/require/within-30",
        guard: "RequireReverification<Within30>, Within30 = SecondFactor, 30",
    },
    GuardedRoute {
        path: "/require/not-impersonated",
        guard: "NotImpersonated",
    },
];

/// One request and the answer it must get.
#[derive(Debug, Clone)]
pub struct RequirementCase {
    /// What the case shows.
    pub name: &'static str,
    /// The path (one of [`ROUTES`]).
    pub path: &'static str,
    /// The bearer token, if any.
    pub token: Option<String>,
    /// The expected status.
    pub status: u16,
    /// The expected JSON body (`None`: the 200 `ok` text).
    pub body: Option<Value>,
}

fn forbidden(reason: &str, required: &str) -> Option<Value> {
    Some(json!({ "error": "forbidden", "reason": reason, "required": required }))
}

fn reverification(metadata: Value) -> Option<Value> {
    Some(json!({
        "clerk_error": {
            "type": "forbidden",
            "reason": "reverification-error",
            "metadata": { "reverification": metadata },
        }
    }))
}

/// Every case, with tokens signed by `key` (which the adapter's authenticator must trust).
#[must_use]
pub fn cases(key: &TestKeyPair) -> Vec<RequirementCase> {
    let user = || TokenBuilder::v2(key).subject("user_requirements");
    let case = |name, path, token: TokenBuilder, status, body| RequirementCase {
        name,
        path,
        token: Some(token.sign()),
        status,
        body,
    };
    vec![
        case(
            "the user's feature",
            "/require/feature",
            user().features("u:dashboard,u:reports"),
            200,
            None,
        ),
        case(
            "another feature only",
            "/require/feature",
            user().features("u:reports"),
            403,
            forbidden("missing_feature", "u:dashboard"),
        ),
        case(
            "no features at all",
            "/require/feature",
            user(),
            403,
            forbidden("missing_feature", "u:dashboard"),
        ),
        case(
            "the user's plan",
            "/require/plan",
            user().plan("u:pro"),
            200,
            None,
        ),
        case(
            "another plan",
            "/require/plan",
            user().plan("u:free"),
            403,
            forbidden("missing_plan", "u:pro"),
        ),
        case(
            "second factor 5 minutes ago: strict passes",
            "/require/strict",
            user().factor_verification_age(5, 5),
            200,
            None,
        ),
        case(
            "second factor 30 minutes ago: strict refuses with Clerk's body",
            "/require/strict",
            user().factor_verification_age(30, 30),
            403,
            reverification(json!("strict")),
        ),
        case(
            "second factor 20 minutes ago: within 30 passes",
            "/require/within-30",
            user().factor_verification_age(20, 20),
            200,
            None,
        ),
        case(
            "second factor 45 minutes ago: within 30 refuses with level and minutes",
            "/require/within-30",
            user().factor_verification_age(45, 45),
            403,
            reverification(json!({ "level": "second_factor", "afterMinutes": 30 })),
        ),
        case(
            "an ordinary session",
            "/require/not-impersonated",
            user(),
            200,
            None,
        ),
        case(
            "an impersonation (act claim)",
            "/require/not-impersonated",
            user().actor(json!({ "sub": "user_support_agent" })),
            403,
            Some(json!({ "error": "forbidden", "reason": "impersonation_not_allowed" })),
        ),
        RequirementCase {
            name: "no token",
            path: "/require/feature",
            token: None,
            status: 401,
            body: Some(json!({ "error": "unauthenticated", "reason": "session-token-missing" })),
        },
    ]
}
