//! [`ClerkRejection`]: why a guard refused a request, the response it becomes, and the
//! [`catchers`] that give Rocket's error path the same answers.

use std::io::Cursor;
use std::sync::Mutex;

use clerk_core::flow::Misconfiguration;
pub use clerk_core::flow::Refusal;
use rocket::catcher::{self, Catcher};
use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde_json::{json, Value};

pub use clerk_core::rejection::SESSION_TOKEN_MISSING;

/// The message of the 500 answered when a guard runs without [`ClerkFairing`](crate::ClerkFairing)
/// (only possible when the [`Sentinel`](rocket::Sentinel) could not see the guard, for example
/// one called through `request.guard()`).
pub const FAIRING_MISSING_MESSAGE: &str = "ClerkFairing is not attached to this Rocket";

/// The message of the 500 answered when [`ClerkUser`](crate::ClerkUser) runs but the fairing
/// was given no store.
pub const STORE_MISSING_MESSAGE: &str =
    "ClerkFairing has no store (attach it with ClerkFairing::new().store(..))";

/// The message of the 500 answered when a session guard runs but session mode is off.
pub const SESSION_MODE_MISSING_MESSAGE: &str =
    "session mode is off (turn it on with ClerkFairing::sessions(..))";

pub(crate) const FAIRING_MISSING: Misconfiguration = Misconfiguration {
    reason: "clerk-fairing-missing",
    message: FAIRING_MISSING_MESSAGE,
};

pub(crate) const STORE_MISSING: Misconfiguration = Misconfiguration {
    reason: "user-provisioning-missing",
    message: STORE_MISSING_MESSAGE,
};

pub(crate) const SESSION_MODE_MISSING: Misconfiguration = Misconfiguration {
    reason: "session-mode-missing",
    message: SESSION_MODE_MISSING_MESSAGE,
};

clerk_core::__adapter_types!("Why a `clerk-rocket` guard refused a request: clerk-core's one [`Refusal`] type, as a [`Responder`]. Guards fail with it and [`catchers`] render it, with the same statuses, headers and JSON bodies as clerk-axum's (the table of [`Refusal`]):");

impl ClerkRejection {
    /// The 500 of a guard that runs without [`ClerkFairing`](crate::ClerkFairing).
    pub const FAIRING_MISSING: ClerkRejection =
        ClerkRejection(Refusal::Misconfigured(FAIRING_MISSING));
    /// The 500 of [`ClerkUser`](crate::ClerkUser) when the fairing has no store.
    pub const STORE_MISSING: ClerkRejection = ClerkRejection(Refusal::Misconfigured(STORE_MISSING));
    /// The 500 of a session guard when session mode is off.
    pub const SESSION_MODE_MISSING: ClerkRejection =
        ClerkRejection(Refusal::Misconfigured(SESSION_MODE_MISSING));

    /// The HTTP status this rejection answers with.
    #[must_use]
    pub fn status(&self) -> Status {
        Status::new(self.0.status())
    }

    /// The `WWW-Authenticate` challenge (RFC 6750: bare without credentials,
    /// `error="invalid_token"` for rejected ones), for the 401s.
    #[must_use]
    pub fn challenge(&self) -> Option<&'static str> {
        self.0.failure().challenge()
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Value {
        self.0.failure().body()
    }
}

/// A JSON response with `status` (and a `WWW-Authenticate` challenge).
pub(crate) fn json_response<'o>(
    status: Status,
    body: &Value,
    challenge: Option<&'static str>,
) -> Response<'o> {
    let text = body.to_string();
    let mut response = Response::build()
        .status(status)
        .header(ContentType::JSON)
        .sized_body(text.len(), Cursor::new(text))
        .finalize();
    if let Some(challenge) = challenge {
        response.set_header(Header::new("WWW-Authenticate", challenge));
    }
    response
}

impl<'r> Responder<'r, 'static> for ClerkRejection {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'static> {
        self.0.log();
        let mut response = json_response(self.status(), &self.body(), self.challenge());
        if let Some(seconds) = self.0.failure().retry_after() {
            response.set_header(Header::new("Retry-After", seconds.to_string()));
        }
        Ok(response)
    }
}

/// Where a failing guard leaves its rejection for the catcher (Rocket hands catchers the
/// status only).
struct Stash(Mutex<Option<ClerkRejection>>);

/// Records `rejection` for [`catchers`] and returns the guard outcome failing with it.
pub(crate) fn fail<T>(
    request: &Request<'_>,
    rejection: ClerkRejection,
) -> rocket::request::Outcome<T, ClerkRejection> {
    let stash = request.local_cache(|| Stash(Mutex::new(None)));
    if let Ok(mut slot) = stash.0.lock() {
        *slot = Some(rejection.clone());
    }
    rocket::request::Outcome::Error((rejection.status(), rejection))
}

/// The rejection a guard of this crate failed the request with, if any.
#[must_use]
pub fn stashed_rejection(request: &Request<'_>) -> Option<ClerkRejection> {
    let stash = request.local_cache(|| Stash(Mutex::new(None)));
    stash.0.lock().ok().and_then(|slot| slot.clone())
}

#[derive(Clone)]
struct RejectionCatcher;

#[rocket::async_trait]
impl catcher::Handler for RejectionCatcher {
    async fn handle<'r>(&self, status: Status, request: &'r Request<'_>) -> catcher::Result<'r> {
        // A session ended or established before the guard failed still tells the browser.
        crate::session::replay_cookie(request);
        match stashed_rejection(request) {
            Some(rejection) if rejection.status() == status => rejection.respond_to(request),
            // Not ours (another guard or the handler failed with this status).
            _ => Ok(json_response(status, &generic_body(status), None)),
        }
    }
}

/// `{"error": "<reason phrase in snake case>"}` for errors that are not this crate's.
fn generic_body(status: Status) -> Value {
    let phrase = status
        .reason_lossy()
        .to_ascii_lowercase()
        .replace([' ', '-'], "_");
    json!({ "error": phrase })
}

/// Catchers for 401, 403, 500 and 503 that answer a failed guard of this crate with its
/// [`ClerkRejection`] (status, `WWW-Authenticate`, JSON body), and other errors of those
/// statuses with `{"error":"<reason phrase>"}`. In session mode they also repeat the
/// request's session cookie change, which Rocket drops on its error path (an ended session's
/// cookie is removed even when the request then fails with 401). Register them at the root:
/// `rocket.register("/", clerk_rocket::catchers())`.
#[must_use]
pub fn catchers() -> Vec<Catcher> {
    [401, 403, 500, 503]
        .into_iter()
        .map(|code| {
            let mut catcher = Catcher::new(code, RejectionCatcher);
            catcher.name = Some(format!("clerk_rocket::catchers({code})").into());
            catcher
        })
        .collect()
}
