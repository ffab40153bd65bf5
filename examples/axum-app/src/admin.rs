//! `/admin` (hybrid mode, [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications)): the routes only. Pages, escaping and form parsing are
//! `admin-pages`' (shared with `rocket-app`); sessions and the password check are
//! clerk-axum's (`StaffSession`, `LocalStaff`).

use std::sync::Arc;

use admin_pages::{
    admin_page, login_page, AdminData, Answer, LoginForm, RequestOrigin, ADMIN_PATH, CONTENT_TYPE,
    CROSS_SITE_REFUSED, INVALID_CREDENTIALS, LOGIN_PATH, LOGOUT_PATH, SECURITY_HEADERS,
    TOO_MANY_FAILED_LOGINS,
};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::header::{self, CONTENT_TYPE as CONTENT_TYPE_HEADER, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use clerk_axum::session::{LocalStaff, StaffLoginError, StaffSession};
use clerk_core::backend_api::BackendApi;
use clerk_core::store::Store;

/// The Backend API the user actions call (`None` without `CLERK_SECRET_KEY`).
#[derive(Clone)]
pub(crate) struct ClerkWrites(pub(crate) Option<BackendApi>);

/// The `/admin` routes. They need the app's session mode (a `ClerkLayer` with sessions inside
/// a session manager) and the store as an `Extension<Arc<dyn Store>>`.
pub(crate) fn routes(writes: ClerkWrites) -> Router {
    Router::new()
        .route(ADMIN_PATH, get(admin))
        .route(LOGIN_PATH, get(login_form).post(login))
        .route(LOGOUT_PATH, post(logout))
        .route("/admin/users/{clerk_id}", get(show_user))
        .route(
            "/admin/users/{clerk_id}/{action}",
            get(confirm_action).post(run_action),
        )
        .layer(Extension(writes))
        .layer(axum::middleware::map_response(with_security_headers))
}

fn answer(answer: Answer) -> Response {
    match answer {
        Answer::Html(status, body) => html(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        ),
        Answer::SeeOther(location) => Redirect::to(&location).into_response(),
    }
}

async fn show_user(
    staff: Option<LocalStaff>,
    Path(clerk_id): Path<String>,
    RawQuery(query): RawQuery,
    Extension(store): Extension<Arc<dyn Store>>,
) -> Response {
    if staff.is_none() {
        return Redirect::to(LOGIN_PATH).into_response();
    }
    answer(admin_pages::show_user(&*store, &clerk_id, query.as_deref()).await)
}

async fn confirm_action(
    staff: Option<LocalStaff>,
    Path((clerk_id, action)): Path<(String, String)>,
    Extension(store): Extension<Arc<dyn Store>>,
) -> Response {
    if staff.is_none() {
        return Redirect::to(LOGIN_PATH).into_response();
    }
    answer(admin_pages::confirm_action(&*store, &clerk_id, &action).await)
}

async fn run_action(
    staff: Option<LocalStaff>,
    Path((clerk_id, action)): Path<(String, String)>,
    Extension(store): Extension<Arc<dyn Store>>,
    Extension(writes): Extension<ClerkWrites>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse_cross_site(&headers) {
        return refused;
    }
    if staff.is_none() {
        return Redirect::to(LOGIN_PATH).into_response();
    }
    answer(admin_pages::run_action(&*store, writes.0.as_ref(), &clerk_id, &action, &body).await)
}

/// [`SECURITY_HEADERS`] on every `/admin` answer, the extractors' rejections included.
async fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE_HEADER, CONTENT_TYPE)], body).into_response()
}

fn unavailable() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        "<!doctype html>\n<title>Unavailable</title>\n<p>The service is unavailable. Try again shortly.</p>\n"
            .to_owned(),
    )
}

/// `Option<LocalStaff>`: no staff login → the login page; a store down (503) or session mode
/// missing (500) is the extractor's JSON answer.
async fn admin(staff: Option<LocalStaff>, Extension(store): Extension<Arc<dyn Store>>) -> Response {
    let Some(staff) = staff else {
        return Redirect::to(LOGIN_PATH).into_response();
    };
    match AdminData::load(&*store).await {
        Ok(data) => {
            let name = staff.username.as_deref().unwrap_or("staff");
            html(StatusCode::OK, admin_page(name, &data))
        }
        Err(error) => {
            tracing::warn!(%error, "admin page: store failed");
            unavailable()
        }
    }
}

async fn login_form() -> Response {
    html(StatusCode::OK, login_page(None))
}

/// A 403 when a browser posted one of the forms from another site (login CSRF, forced logout).
fn refuse_cross_site(headers: &HeaderMap) -> Option<Response> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = RequestOrigin {
        sec_fetch_site: text("sec-fetch-site"),
        origin: text(ORIGIN.as_str()),
        host: text(HOST.as_str()),
    };
    origin.is_cross_site().then(|| {
        tracing::info!("cross-site post to /admin refused");
        html(StatusCode::FORBIDDEN, CROSS_SITE_REFUSED.to_owned())
    })
}

async fn login(staff: StaffSession, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = refuse_cross_site(&headers) {
        return refused;
    }
    let form = match LoginForm::parse(&body) {
        Ok(form) => form,
        Err(error) => {
            return html(
                StatusCode::BAD_REQUEST,
                login_page(Some(&error.to_string())),
            )
        }
    };
    match staff.login(&form.username, &form.password).await {
        Ok(_) => Redirect::to(ADMIN_PATH).into_response(),
        Err(StaffLoginError::Unavailable(_)) => unavailable(),
        // Too many password checks at once: nothing was checked; come back shortly.
        Err(StaffLoginError::Busy { retry_after }) => {
            let mut response = unavailable();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.as_secs().max(1)),
            );
            response
        }
        // Too many failures for this username or from this address: nothing was checked.
        Err(StaffLoginError::Throttled { retry_after }) => {
            let mut response = html(
                StatusCode::TOO_MANY_REQUESTS,
                login_page(Some(TOO_MANY_FAILED_LOGINS)),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.as_secs().max(1)),
            );
            response
        }
        // Unknown user, wrong password, not staff, inactive: one message for all.
        Err(_) => html(
            StatusCode::UNAUTHORIZED,
            login_page(Some(INVALID_CREDENTIALS)),
        ),
    }
}

async fn logout(staff: StaffSession, headers: HeaderMap) -> Response {
    if let Some(refused) = refuse_cross_site(&headers) {
        return refused;
    }
    match staff.logout().await {
        Ok(()) => Redirect::to(LOGIN_PATH).into_response(),
        Err(_) => unavailable(),
    }
}
