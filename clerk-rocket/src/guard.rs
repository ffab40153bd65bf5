//! Request guards over one authentication per request.
//!
//! The first guard that needs the session runs [`Authenticator::authenticate`] and caches the
//! [`AuthState`] in the request's local cache (`request.local_cache_async`); every later
//! guard of the same request reads it, so stacked guards verify once.
//!
//! [`Authenticator::authenticate`]: clerk_core::Authenticator::authenticate

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use clerk_core::authz::{PermissionName, Requirement, RoleName};
use clerk_core::extract::{cookie_from, find_token_from, ExtractError, FoundToken, SESSION_COOKIE};
use clerk_core::{ActiveOrganization, Auth, AuthDecision};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Ignite, Rocket, Sentinel};

use crate::rejection::fail;
use crate::session::{self, SessionDependency};
use crate::{ClerkRejection, ClerkState};

/// What the authenticator decided about the request. Cheap to clone.
///
/// As a guard it never fails once [`ClerkFairing`](crate::ClerkFairing) is attached (it is the
/// raw decision, for handlers that answer each case themselves).
#[derive(Debug, Clone)]
pub struct AuthState {
    decision: Arc<AuthDecision>,
    session: Option<SessionNote>,
}

/// What session mode adds to a signed-out decision: why the session could not serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionNote {
    /// The revalidation interval passed and no token came with the request (401).
    RevalidationRequired,
    /// The session store or the mirror failed (503).
    Unavailable(SessionDependency),
    /// The token's session was revoked or its user may not be served: nothing established
    /// (401 with the reason).
    Ended(clerk_core::session::EndReason),
}

impl AuthState {
    /// Wraps a decision.
    #[must_use]
    pub fn new(decision: Arc<AuthDecision>) -> Self {
        AuthState {
            decision,
            session: None,
        }
    }

    pub(crate) fn with_note(decision: AuthDecision, note: SessionNote) -> Self {
        AuthState {
            decision: Arc::new(decision),
            session: Some(note),
        }
    }

    /// Session mode's rejection, when the session (not the token) decided the request.
    fn session_rejection(&self) -> Option<ClerkRejection> {
        self.session.map(|note| match note {
            SessionNote::RevalidationRequired => ClerkRejection::SessionRevalidationRequired,
            SessionNote::Unavailable(which) => ClerkRejection::SessionUnavailable(which),
            SessionNote::Ended(reason) => ClerkRejection::SessionEnded(reason),
        })
    }

    /// The authenticator's decision.
    pub fn decision(&self) -> &AuthDecision {
        &self.decision
    }

    /// The session, when signed in.
    #[must_use]
    pub fn auth(&self) -> Option<&Arc<Auth>> {
        self.decision.auth()
    }

    /// The session, or the rejection a route requiring one answers with.
    ///
    /// # Errors
    /// 401 without a token or with a bad one, 503 when no signing key can be had.
    pub fn require(&self) -> Result<&Arc<Auth>, ClerkRejection> {
        if let Some(rejection) = self.session_rejection() {
            return Err(rejection);
        }
        match &*self.decision {
            AuthDecision::SignedIn(auth) => Ok(auth),
            AuthDecision::NoToken => Err(ClerkRejection::MissingToken),
            AuthDecision::Rejected(rejection) => {
                Err(ClerkRejection::InvalidToken(rejection.clone()))
            }
            AuthDecision::Unavailable(error) => Err(ClerkRejection::Unavailable(error.clone())),
        }
    }

    /// The request's state: authenticated on first use, then read from the request's cache.
    ///
    /// # Errors
    /// [`ClerkRejection::FairingMissing`] without [`ClerkFairing`](crate::ClerkFairing).
    pub async fn of<'r>(request: &'r Request<'_>) -> Result<&'r AuthState, ClerkRejection> {
        let cached: &Cached = request
            .local_cache_async(async {
                let cached = match request.rocket().state::<ClerkState>() {
                    Some(state) => match state.sessions() {
                        Some(mode) => Cached(Some(
                            session::authenticate(
                                request,
                                state.authenticator(),
                                state.config().cookie_auth,
                                mode,
                            )
                            .await,
                        )),
                        None => {
                            let found = find_credentials(request, state.config().cookie_auth);
                            let decision = state.authenticator().decide(found).await;
                            Cached(Some(AuthState::new(Arc::new(decision))))
                        }
                    },
                    None => Cached(None),
                };
                cached.logged()
            })
            .await;
        let state = cached.0.as_ref().ok_or(ClerkRejection::FairingMissing)?;
        Ok(state)
    }
}

/// The per-request cache entry (a private type, so nothing else can fill it).
struct Cached(Option<AuthState>);

impl Cached {
    /// Rocket 0.5 has no per-request span to run the handler in, so the guard logs the
    /// authenticated ids once per request as a debug event inside clerk-core's `clerk` span
    /// (user, session, org, actor; never the token).
    fn logged(self) -> Self {
        if let Some(auth) = self.0.as_ref().and_then(|state| state.decision().auth()) {
            let span = clerk_core::auth::request_span();
            auth.record_in(&span);
            span.in_scope(|| tracing::debug!("request authenticated"));
        }
        self
    }
}

/// The request's token read straight from Rocket's headers and cookie jar (no copy into an
/// `http::HeaderMap`: that copy was 1.5 % of a cached request's CPU, BENCHMARKS.md). The
/// cookie comes from the `Cookie` headers as sent, else from the jar (where the local test
/// client puts cookies without a header).
fn find_credentials<'r>(
    request: &'r Request<'_>,
    cookie_auth: bool,
) -> Result<Option<FoundToken<'r>>, ExtractError> {
    find_token_from(
        request.headers().get("Authorization").map(str::as_bytes),
        || {
            if !cookie_auth {
                return None;
            }
            cookie_from(request.headers().get("Cookie"), SESSION_COOKIE).or_else(|| {
                request
                    .cookies()
                    .get(SESSION_COOKIE)
                    .map(|cookie| cookie.value().trim_matches('"'))
            })
        },
    )
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

sentinel!(AuthState, ClerkAuth, OptionalClerkAuth, ActiveOrg);
sentinel!(RequireRole<R: RoleName>, RequirePermission<P: PermissionName>);

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

async fn required(request: &Request<'_>) -> Result<Arc<Auth>, ClerkRejection> {
    AuthState::of(request).await?.require().cloned()
}

/// A signed-in session: the verified [`Auth`].
///
/// Fails with 401 when the request has no token or a bad one, 503 when no signing key could
/// be had (see [`ClerkRejection`]).
///
/// For routes where signing in is optional use [`OptionalClerkAuth`], not
/// `Option<ClerkAuth>`: Rocket's `Option<T>` guard turns every failure into `None`, a 503
/// included, and an outage must never look like a signed-out user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkAuth(pub Arc<Auth>);

impl ClerkAuth {
    /// The session.
    #[must_use]
    pub fn auth(&self) -> &Arc<Auth> {
        &self.0
    }

    /// The session, by value.
    #[must_use]
    pub fn into_inner(self) -> Arc<Auth> {
        self.0
    }
}

impl Deref for ClerkAuth {
    type Target = Auth;

    fn deref(&self) -> &Auth {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClerkAuth {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match required(request).await {
            Ok(auth) => Outcome::Success(ClerkAuth(auth)),
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

impl Deref for OptionalClerkAuth {
    type Target = Option<ClerkAuth>;

    fn deref(&self) -> &Option<ClerkAuth> {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for OptionalClerkAuth {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        let state = match AuthState::of(request).await {
            Ok(state) => state,
            Err(rejection) => return fail(request, rejection),
        };
        match state.session_rejection() {
            // Signed out until a token revalidates the session.
            Some(ClerkRejection::SessionRevalidationRequired) | None => {}
            Some(failure) => return fail(request, failure),
        }
        match state.decision() {
            AuthDecision::SignedIn(auth) => {
                Outcome::Success(OptionalClerkAuth(Some(ClerkAuth(Arc::clone(auth)))))
            }
            AuthDecision::NoToken | AuthDecision::Rejected(_) => {
                Outcome::Success(OptionalClerkAuth(None))
            }
            AuthDecision::Unavailable(error) => {
                fail(request, ClerkRejection::Unavailable(error.clone()))
            }
        }
    }
}

/// The active organization of a signed-in session.
///
/// Fails with 403 `{"error":"no_active_organization"}` when the session has none, and like
/// [`ClerkAuth`] when not signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveOrg {
    org: ActiveOrganization,
    auth: Arc<Auth>,
}

impl ActiveOrg {
    /// The organization (id, slug, `org:`-prefixed role, permissions).
    #[must_use]
    pub fn org(&self) -> &ActiveOrganization {
        &self.org
    }

    /// The whole session.
    #[must_use]
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }
}

impl Deref for ActiveOrg {
    type Target = ActiveOrganization;

    fn deref(&self) -> &ActiveOrganization {
        &self.org
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ActiveOrg {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        let auth = match required(request).await {
            Ok(auth) => auth,
            Err(rejection) => return fail(request, rejection),
        };
        match auth.org.clone() {
            Some(org) => Outcome::Success(ActiveOrg { org, auth }),
            None => fail(request, ClerkRejection::NoActiveOrganization),
        }
    }
}

/// A signed-in session whose active organization role is `R` (see [`role!`](crate::role!)).
///
/// Fails with 403 `{"error":"forbidden","reason":"missing_role","required":R::NAME}` when the
/// role differs or there is no active organization, and like [`ClerkAuth`] when not signed in.
pub struct RequireRole<R> {
    auth: Arc<Auth>,
    _role: PhantomData<fn() -> R>,
}

/// A signed-in session whose active organization grants permission `P` (see
/// [`permission!`](crate::permission!)).
///
/// Fails with 403 `{"error":"forbidden","reason":"missing_permission","required":P::NAME}`
/// when the permission is absent or there is no active organization, and like [`ClerkAuth`]
/// when not signed in.
pub struct RequirePermission<P> {
    auth: Arc<Auth>,
    _permission: PhantomData<fn() -> P>,
}

macro_rules! requirement_common {
    ($ty:ident, $param:ident, $field:ident, $bound:ident, $check:ident, $rejection:ident) => {
        impl<$param> $ty<$param> {
            /// The session.
            #[must_use]
            pub fn auth(&self) -> &Arc<Auth> {
                &self.auth
            }

            /// The session, by value.
            #[must_use]
            pub fn into_inner(self) -> Arc<Auth> {
                self.auth
            }
        }

        impl<$param> Clone for $ty<$param> {
            fn clone(&self) -> Self {
                $ty {
                    auth: Arc::clone(&self.auth),
                    $field: PhantomData,
                }
            }
        }

        impl<$param: $bound> fmt::Debug for $ty<$param> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("required", &$param::NAME)
                    .field("auth", &self.auth)
                    .finish()
            }
        }

        impl<$param> Deref for $ty<$param> {
            type Target = Auth;

            fn deref(&self) -> &Auth {
                &self.auth
            }
        }

        #[rocket::async_trait]
        impl<'r, $param: $bound> FromRequest<'r> for $ty<$param> {
            type Error = ClerkRejection;

            async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
                let auth = match required(request).await {
                    Ok(auth) => auth,
                    Err(rejection) => return fail(request, rejection),
                };
                if !auth.$check($param::NAME) {
                    return fail(
                        request,
                        ClerkRejection::$rejection {
                            required: $param::NAME,
                        },
                    );
                }
                Outcome::Success($ty {
                    auth,
                    $field: PhantomData,
                })
            }
        }
    };
}

requirement_common!(RequireRole, R, _role, RoleName, has_role, MissingRole);
requirement_common!(
    RequirePermission,
    P,
    _permission,
    PermissionName,
    has_permission,
    MissingPermission
);

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
        let auth = match required(request).await {
            Ok(auth) => auth,
            Err(rejection) => return fail(request, rejection),
        };
        match Require::decide(auth) {
            Ok(granted) => Outcome::Success(granted),
            Err(failure) => fail(request, ClerkRejection::Forbidden(failure)),
        }
    }
}
