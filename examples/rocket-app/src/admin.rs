//! `/admin` (hybrid mode, [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications)): the routes only. Pages, escaping and form parsing are
//! `admin-pages`' (shared with axum-app); sessions and the password check are clerk-rocket's
//! (`StaffSession`, `LocalStaff`).

use std::io::Cursor;

use admin_pages::{
    admin_page, login_page, AdminData, Answer, LoginForm, RequestOrigin, ADMIN_PATH, CONTENT_TYPE,
    CROSS_SITE_REFUSED, INVALID_CREDENTIALS, LOGIN_PATH, LOGOUT_PATH, MAX_FORM_BYTES,
    SECURITY_HEADERS, TOO_MANY_FAILED_LOGINS,
};
use clerk_rocket::session::staff::{LocalStaff, StaffLoginError, StaffSession};
use clerk_rocket::{ClerkRejection, ClerkState, Refusal};
use rocket::data::{Data, ToByteUnit};
use rocket::http::{Header, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::response::{self, Responder, Response};
use rocket::{get, post, routes, Request, Route, State};

/// The `/admin` routes (mounted at `/`).
pub(crate) fn routes() -> Vec<Route> {
    debug_assert_eq!(ADMIN_PATH, "/admin");
    debug_assert_eq!(LOGIN_PATH, "/admin/login");
    debug_assert_eq!(LOGOUT_PATH, "/admin/logout");
    routes![
        admin,
        login_form,
        login,
        logout,
        show_user,
        confirm_action,
        run_action
    ]
}

/// A fairing that puts [`SECURITY_HEADERS`] on every answer under `/admin`, whatever produced
/// it (a route, a guard's rejection through a catcher, a 404 or 405).
pub(crate) fn security_headers() -> rocket::fairing::AdHoc {
    rocket::fairing::AdHoc::on_response("/admin security headers", |request, response| {
        Box::pin(async move {
            let path = request.uri().path();
            if path == ADMIN_PATH || path.starts_with("/admin/") {
                for (name, value) in SECURITY_HEADERS {
                    response.set_header(Header::new(name, value));
                }
            }
        })
    })
}

/// An HTML page, a 303, or a guard's JSON rejection.
pub(crate) enum Page {
    Html(Status, String),
    SeeOther(&'static str),
    /// 303 to a computed location.
    Redirect(String),
    Rejection(ClerkRejection),
    /// 503 with `Retry-After` (seconds): too many staff logins at once.
    Busy(u64),
    /// 429 with `Retry-After` (seconds) and the login form: too many failed logins.
    Throttled(u64),
}

impl<'r> Responder<'r, 'static> for Page {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Page::Html(status, body) => Ok(Response::build()
                .status(status)
                .header(Header::new("Content-Type", CONTENT_TYPE))
                .sized_body(body.len(), Cursor::new(body))
                .finalize()),
            Page::SeeOther(location) => Ok(Response::build()
                .status(Status::SeeOther)
                .header(Header::new("Location", location))
                .finalize()),
            Page::Redirect(location) => Ok(Response::build()
                .status(Status::SeeOther)
                .header(Header::new("Location", location))
                .finalize()),
            Page::Rejection(rejection) => rejection.respond_to(request),
            Page::Busy(retry_after_secs) => {
                let mut response = unavailable().respond_to(request)?;
                response.set_header(Header::new("Retry-After", retry_after_secs.to_string()));
                Ok(response)
            }
            Page::Throttled(retry_after_secs) => {
                let page = login_page(Some(TOO_MANY_FAILED_LOGINS));
                let mut response = Page::Html(Status::TooManyRequests, page).respond_to(request)?;
                response.set_header(Header::new("Retry-After", retry_after_secs.to_string()));
                Ok(response)
            }
        }
    }
}

fn unavailable() -> Page {
    Page::Html(
        Status::ServiceUnavailable,
        "<!doctype html>\n<title>Unavailable</title>\n<p>The service is unavailable. Try again shortly.</p>\n"
            .to_owned(),
    )
}

/// No staff login → the login page; a store down (503) or session mode missing (500) is the
/// guard's JSON answer.
#[get("/admin")]
async fn admin(staff: Result<LocalStaff, ClerkRejection>, state: &State<ClerkState>) -> Page {
    let staff = match staff {
        Ok(staff) => staff,
        Err(ClerkRejection(Refusal::StaffLoginRequired)) => return Page::SeeOther(LOGIN_PATH),
        Err(other) => return Page::Rejection(other),
    };
    let Some(store) = state.store() else {
        return Page::Rejection(ClerkRejection::STORE_MISSING);
    };
    match AdminData::load(store.as_ref()).await {
        Ok(data) => {
            let name = staff.username.as_deref().unwrap_or("staff");
            Page::Html(Status::Ok, admin_page(name, &data))
        }
        Err(error) => {
            tracing::warn!(%error, "admin page: store failed");
            unavailable()
        }
    }
}

#[get("/admin/login")]
fn login_form() -> Page {
    Page::Html(Status::Ok, login_page(None))
}

/// Whether a browser posted the request from another site (login CSRF, forced logout): the
/// forms answer 403 then.
struct CrossSite(bool);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CrossSite {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let headers = request.headers();
        let origin = RequestOrigin {
            sec_fetch_site: headers.get_one("Sec-Fetch-Site"),
            origin: headers.get_one("Origin"),
            host: headers.get_one("Host"),
        };
        Outcome::Success(CrossSite(origin.is_cross_site()))
    }
}

fn cross_site_refused() -> Page {
    tracing::info!("cross-site post to /admin refused");
    Page::Html(Status::Forbidden, CROSS_SITE_REFUSED.to_owned())
}

#[post("/admin/login", data = "<body>")]
async fn login(cross_site: CrossSite, staff: StaffSession<'_>, body: Data<'_>) -> Page {
    if cross_site.0 {
        return cross_site_refused();
    }
    let bytes = match body.open((MAX_FORM_BYTES + 1).bytes()).into_bytes().await {
        Ok(bytes) => bytes.into_inner(),
        Err(error) => {
            return Page::Html(Status::BadRequest, login_page(Some(&error.to_string())));
        }
    };
    // LoginForm::parse refuses bodies over MAX_FORM_BYTES: reading one byte more shows it.
    let form = match LoginForm::parse(&bytes) {
        Ok(form) => form,
        Err(error) => return Page::Html(Status::BadRequest, login_page(Some(&error.to_string()))),
    };
    match staff.login(&form.username, &form.password).await {
        Ok(_) => Page::SeeOther(ADMIN_PATH),
        Err(StaffLoginError::Unavailable(_)) => unavailable(),
        // Too many password checks at once: nothing was checked; come back shortly.
        Err(StaffLoginError::Busy { retry_after }) => Page::Busy(retry_after.as_secs().max(1)),
        // Too many failures for this username or from this address: nothing was checked.
        Err(StaffLoginError::Throttled { retry_after }) => {
            Page::Throttled(retry_after.as_secs().max(1))
        }
        // Unknown user, wrong password, not staff, inactive: one message for all.
        Err(_) => Page::Html(Status::Unauthorized, login_page(Some(INVALID_CREDENTIALS))),
    }
}

#[post("/admin/logout")]
async fn logout(cross_site: CrossSite, staff: StaffSession<'_>) -> Page {
    if cross_site.0 {
        return cross_site_refused();
    }
    match staff.logout().await {
        Ok(()) => Page::SeeOther(LOGIN_PATH),
        Err(_) => unavailable(),
    }
}

impl From<Answer> for Page {
    fn from(answer: Answer) -> Page {
        match answer {
            Answer::Html(status, body) => Page::Html(Status::new(status), body),
            Answer::SeeOther(location) => Page::Redirect(location),
        }
    }
}

/// The staff login the per-user routes need: `Err` is what to answer instead (the login page
/// without one; the guard's JSON answer when the store or session mode failed).
fn staff_or_answer(
    staff: Result<LocalStaff, ClerkRejection>,
    state: &ClerkState,
) -> Result<&std::sync::Arc<dyn clerk_core::store::Store>, Page> {
    match staff {
        Ok(_) => state
            .store()
            .ok_or(Page::Rejection(ClerkRejection::STORE_MISSING)),
        Err(ClerkRejection(Refusal::StaffLoginRequired)) => Err(Page::SeeOther(LOGIN_PATH)),
        Err(other) => Err(Page::Rejection(other)),
    }
}

#[get("/admin/users/<clerk_id>")]
async fn show_user(
    staff: Result<LocalStaff, ClerkRejection>,
    clerk_id: &str,
    uri: &rocket::http::uri::Origin<'_>,
    state: &State<ClerkState>,
) -> Page {
    let store = match staff_or_answer(staff, state) {
        Ok(store) => store,
        Err(page) => return page,
    };
    let query = uri.query().map(|q| q.as_str());
    admin_pages::show_user(store.as_ref(), clerk_id, query)
        .await
        .into()
}

#[get("/admin/users/<clerk_id>/<action>")]
async fn confirm_action(
    staff: Result<LocalStaff, ClerkRejection>,
    clerk_id: &str,
    action: &str,
    state: &State<ClerkState>,
) -> Page {
    let store = match staff_or_answer(staff, state) {
        Ok(store) => store,
        Err(page) => return page,
    };
    admin_pages::confirm_action(store.as_ref(), clerk_id, action)
        .await
        .into()
}

#[post("/admin/users/<clerk_id>/<action>", data = "<body>")]
async fn run_action(
    cross_site: CrossSite,
    staff: Result<LocalStaff, ClerkRejection>,
    clerk_id: &str,
    action: &str,
    state: &State<ClerkState>,
    body: Data<'_>,
) -> Page {
    if cross_site.0 {
        return cross_site_refused();
    }
    let store = match staff_or_answer(staff, state) {
        Ok(store) => store,
        Err(page) => return page,
    };
    // One byte over the limit shows an oversized form (refused by `run_action`).
    let bytes = match body.open((MAX_FORM_BYTES + 1).bytes()).into_bytes().await {
        Ok(bytes) => bytes.into_inner(),
        Err(_) => Vec::new(),
    };
    admin_pages::run_action(
        store.as_ref(),
        state.backend_api(),
        clerk_id,
        action,
        &bytes,
    )
    .await
    .into()
}
