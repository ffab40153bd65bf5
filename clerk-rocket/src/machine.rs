//! Machine credentials (API keys, M2M tokens, OAuth tokens): the [`MachineAuth<A>`] and
//! [`RequireScope<A, S>`] guards. The types and decisions are clerk-core's
//! ([`clerk_core::machine`]); this file is the `FromRequest` glue. The
//! [`MachineVerifier`] is [`ClerkState::machine_verifier`](crate::ClerkState::machine_verifier),
//! built by the fairing; without the fairing the launch aborts (a sentinel).
//!
//! ```
//! use clerk_rocket::machine::{ApiKeysOrM2m, MachineAuth};
//! use rocket::serde::json::{json, Value};
//!
//! #[rocket::get("/api/machine")]
//! fn machine(auth: MachineAuth<ApiKeysOrM2m>) -> Value {
//!     json!({
//!         "token_type": auth.token_type().as_str(),
//!         "subject": auth.subject(),
//!         "scopes": auth.scopes(),
//!     })
//! }
//! # let _ = rocket::routes![machine];
//! ```

pub use clerk_core::machine::{
    AcceptedTokens, Accepts, AnyMachine, AnyToken, ApiKeys, ApiKeysOrM2m, Credential, M2mTokens,
    MachineError, MachineVerifier, OAuthTokens, ScopeName, TokenType,
};
pub use clerk_core::scope;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Ignite, Rocket, Sentinel};

use crate::guard::fairing_missing;
use crate::rejection::fail;
use crate::{AuthState, ClerkRejection, ClerkState};

clerk_core::__machine_types!();

impl<A> Sentinel for MachineAuth<A> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        fairing_missing(rocket, "MachineAuth")
    }
}

impl<A, S> Sentinel for RequireScope<A, S> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        fairing_missing(rocket, "RequireScope")
    }
}

async fn decide<A: Accepts>(request: &Request<'_>) -> Result<MachineAuth<A>, ClerkRejection> {
    let session = if MachineAuth::<A>::needs_session() {
        Some(AuthState::of(request).await?.request_auth())
    } else {
        None
    };
    let verifier = request
        .rocket()
        .state::<ClerkState>()
        .map(ClerkState::machine_verifier);
    let authorization = request
        .headers()
        .get_one("Authorization")
        .map(str::as_bytes);
    Ok(MachineAuth::decide(verifier, authorization, session).await?)
}

#[rocket::async_trait]
impl<'r, A: Accepts> FromRequest<'r> for MachineAuth<A> {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match decide::<A>(request).await {
            Ok(auth) => Outcome::Success(auth),
            Err(rejection) => fail(request, rejection),
        }
    }
}

#[rocket::async_trait]
impl<'r, A: Accepts, S: ScopeName> FromRequest<'r> for RequireScope<A, S> {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match decide::<A>(request)
            .await
            .and_then(|inner| RequireScope::decide(inner).map_err(ClerkRejection))
        {
            Ok(auth) => Outcome::Success(auth),
            Err(rejection) => fail(request, rejection),
        }
    }
}
