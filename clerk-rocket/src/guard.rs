//! Request guards over one authentication per request.
//!
//! The first guard that needs the session runs [`Authenticator::authenticate`] and caches the
//! [`AuthState`] in the request's local cache (`request.local_cache_async`); every later
//! guard of the same request reads it, so stacked guards verify once.
//!
//! [`Authenticator::authenticate`]: clerk_core::Authenticator::authenticate

use std::sync::Arc;

use clerk_core::authz::{PermissionName, Requirement, RoleName};
use clerk_core::extract::{cookie_from, find_token_from, SESSION_COOKIE};
use clerk_core::flow::session::{FlowOutcome, StaffState};
use clerk_core::flow::{Refusal, RequestAuth};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Ignite, Rocket, Sentinel};

use crate::rejection::{fail, FAIRING_MISSING};
use crate::session;
use crate::{AuthState, ClerkRejection, ClerkState};

impl AuthState {
    /// The request's state: authenticated on first use, then read from the request's cache.
    ///
    /// # Errors
    /// A 500 without [`ClerkFairing`](crate::ClerkFairing).
    pub async fn of<'r>(request: &'r Request<'_>) -> Result<&'r AuthState, ClerkRejection> {
        Ok(&outcome(request).await?.0)
    }
}

/// The per-request cache entry (a private type, so nothing else can fill it): the request's
/// state and, under session mode, its local staff login.
struct Cached(Option<(AuthState, StaffState)>);

impl Cached {
    /// Rocket 0.5 has no per-request span to run the handler in, so the guard logs the
    /// authenticated ids once per request as a debug event inside clerk-core's `clerk` span
    /// (user, session, org, actor; never the token), when a `tracing` subscriber wants it.
    fn logged(self) -> Self {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return self;
        }
        if let Some(auth) = self.0.as_ref().and_then(|(state, _)| state.auth()) {
            let span = clerk_core::auth::request_span();
            auth.record_in(&span);
            span.in_scope(|| tracing::debug!("request authenticated"));
        }
        self
    }
}

/// The request's flow outcome, decided once per request.
pub(crate) async fn outcome<'r>(
    request: &'r Request<'_>,
) -> Result<&'r (AuthState, StaffState), ClerkRejection> {
    let cached: &Cached = request
        .local_cache_async(async {
            let Some(state) = request.rocket().state::<ClerkState>() else {
                return Cached(None);
            };
            let outcome = match state.sessions() {
                Some(flow) => session::authenticate(request, state, flow).await,
                None => {
                    let cookie_auth = state.config().cookie_auth;
                    let authenticator = state.authenticator();
                    let decision = match authenticator
                        .decide_request_now(authorization(request), || {
                            session_cookie(request, cookie_auth)
                        }) {
                        Some(decision) => decision,
                        None => {
                            let found = find_token_from(authorization(request), || {
                                session_cookie(request, cookie_auth)
                            });
                            authenticator.decide(found).await
                        }
                    };
                    let store = state.store().map(|store| &**store);
                    FlowOutcome {
                        auth: RequestAuth::stateless(decision, store).await,
                        staff: StaffState::None,
                    }
                }
            };
            Cached(Some((AuthState(outcome.auth), outcome.staff))).logged()
        })
        .await;
    cached
        .0
        .as_ref()
        .ok_or(ClerkRejection(Refusal::Misconfigured(FAIRING_MISSING)))
}

/// The request's `Authorization` values, read straight from Rocket's headers (no copy into
/// an `http::HeaderMap`: that copy was 1.5 % of a cached request's CPU, BENCHMARKS.md).
fn authorization<'r>(request: &'r Request<'_>) -> impl Iterator<Item = &'r [u8]> {
    request.headers().get("Authorization").map(str::as_bytes)
}

/// Clerk's `__session` cookie when cookie authentication is on: from the `Cookie` headers as
/// sent, else from the jar (where the local test client puts cookies without a header).
fn session_cookie<'r>(request: &'r Request<'_>, cookie_auth: bool) -> Option<&'r str> {
    if !cookie_auth {
        return None;
    }
    cookie_from(request.headers().get("Cookie"), SESSION_COOKIE).or_else(|| {
        request
            .cookies()
            .get(SESSION_COOKIE)
            .map(|cookie| cookie.value().trim_matches('"'))
    })
}

/// The request's credentials as the `http` headers the core reads: `Authorization` and
/// `Cookie` as sent, plus Clerk's `__session` cookie from Rocket's cookie jar when no header
/// carries it (the local test client fills the jar without a header).
pub(crate) fn credential_headers(request: &Request<'_>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for value in request.headers().get("Authorization") {
        // A malformed `Authorization` header still has to be seen as such: keep its bytes
        // whenever they can be a header value at all.
        if let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes()) {
            headers.append(http::header::AUTHORIZATION, value);
        }
    }
    for value in request.headers().get("Cookie") {
        if let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes()) {
            headers.append(http::header::COOKIE, value);
        }
    }
    let in_headers = clerk_core::extract::cookie(&headers, SESSION_COOKIE).is_some();
    if let Some(cookie) = request
        .cookies()
        .get(SESSION_COOKIE)
        .filter(|_| !in_headers)
    {
        let pair = format!("{SESSION_COOKIE}={}", cookie.value());
        if let Ok(value) = http::HeaderValue::from_str(&pair) {
            headers.append(http::header::COOKIE, value);
        }
    }
    headers
}

/// Every header of the request, for the webhook verifier.
pub(crate) fn all_headers(request: &Request<'_>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for header in request.headers().iter() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(header.name().as_str().as_bytes()),
            http::HeaderValue::from_bytes(header.value().as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

pub(crate) fn fairing_missing(rocket: &Rocket<Ignite>, guard: &str) -> bool {
    let missing = rocket.state::<ClerkState>().is_none();
    if missing {
        tracing::error!(
            "a route uses the `{guard}` guard but ClerkFairing is not attached: add `.attach(ClerkFairing::new())`"
        );
    }
    missing
}

macro_rules! sentinel {
    ($($ty:ident $(<$param:ident $(: $bound:ident)?>)?),+) => {$(
        impl$(<$param $(: $bound)?>)? Sentinel for $ty$(<$param>)? {
            fn abort(rocket: &Rocket<Ignite>) -> bool {
                fairing_missing(rocket, stringify!($ty))
            }
        }
    )+};
}

sentinel!(AuthState);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthState {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match AuthState::of(request).await {
            Ok(state) => Outcome::Success(state.clone()),
            Err(rejection) => fail(request, rejection),
        }
    }
}

async fn request_auth<'r>(request: &'r Request<'_>) -> Result<&'r RequestAuth, ClerkRejection> {
    Ok(AuthState::of(request).await?.request_auth())
}

/// A guard's outcome from a decision over the request's state (recorded for the catchers).
fn decided<T>(request: &Request<'_>, decision: Result<T, Refusal>) -> Outcome<T, ClerkRejection> {
    match decision {
        Ok(value) => Outcome::Success(value),
        Err(refusal) => fail(request, ClerkRejection(refusal)),
    }
}

clerk_core::__session_types!("For routes where signing in is optional use [`OptionalClerkAuth`], not `Option<ClerkAuth>`: Rocket's `Option<T>` guard turns every failure into `None`, a 503 included, and an outage must never look like a signed-out user.");

sentinel!(ClerkAuth, OptionalClerkAuth, ActiveOrg);
sentinel!(RequireRole<R: RoleName>, RequirePermission<P: PermissionName>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClerkAuth {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match request_auth(request).await {
            Ok(state) => decided(request, ClerkAuth::decide(state)),
            Err(rejection) => fail(request, rejection),
        }
    }
}

/// An optional session (`clerk-axum`'s `Option<ClerkAuth>`): `None` when signed out *or* when
/// the token was rejected (served as anonymous); fails with 503 when no signing key can be
/// had, so an outage never looks like a signed-out user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalClerkAuth(pub Option<ClerkAuth>);

impl OptionalClerkAuth {
    /// The session, if signed in.
    #[must_use]
    pub fn into_inner(self) -> Option<ClerkAuth> {
        self.0
    }
}

impl std::ops::Deref for OptionalClerkAuth {
    type Target = Option<ClerkAuth>;

    fn deref(&self) -> &Option<ClerkAuth> {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for OptionalClerkAuth {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match request_auth(request).await {
            Ok(state) => decided(
                request,
                ClerkAuth::decide_optional(state).map(OptionalClerkAuth),
            ),
            Err(rejection) => fail(request, rejection),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ActiveOrg {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match request_auth(request).await {
            Ok(state) => decided(request, ActiveOrg::decide(state)),
            Err(rejection) => fail(request, rejection),
        }
    }
}

#[rocket::async_trait]
impl<'r, R: RoleName> FromRequest<'r> for RequireRole<R> {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match request_auth(request).await {
            Ok(state) => decided(request, RequireRole::decide(state)),
            Err(rejection) => fail(request, rejection),
        }
    }
}

#[rocket::async_trait]
impl<'r, P: PermissionName> FromRequest<'r> for RequirePermission<P> {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match request_auth(request).await {
            Ok(state) => decided(request, RequirePermission::decide(state)),
            Err(rejection) => fail(request, rejection),
        }
    }
}

clerk_core::__require_type!("Fails with `Q`'s 403 (`missing_feature`, `missing_plan`, Clerk's `reverification-error` body, `impersonation_not_allowed`), and like [`ClerkAuth`] when not signed in.");

impl<Q: Requirement> Sentinel for Require<Q> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        fairing_missing(rocket, "Require")
    }
}

#[rocket::async_trait]
impl<'r, Q: Requirement> FromRequest<'r> for Require<Q> {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        let auth = match request_auth(request).await {
            Ok(state) => match state.require() {
                Ok(auth) => Arc::clone(auth),
                Err(refusal) => return fail(request, ClerkRejection(refusal)),
            },
            Err(rejection) => return fail(request, rejection),
        };
        decided(request, Require::decide(auth).map_err(Refusal::Forbidden))
    }
}
