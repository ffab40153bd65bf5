//! The decisions of the per-user routes ([`crate::actions`]), once for both apps: each
//! returns an [`Answer`] the app turns into its framework's response after its own staff and
//! cross-site checks.

use clerk_core::backend_api::BackendApi;
use clerk_core::model::User;
use clerk_core::store::Store;

use crate::actions::{
    confirm_page, confirms, done_action, done_location, is_clerk_user_id, perform, user_page,
    Notice, UserAction,
};
use crate::html::page;

/// What a per-user route answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTML page with this status.
    Html(u16, String),
    /// 303 to this location.
    SeeOther(String),
}

fn not_found() -> Answer {
    Answer::Html(
        404,
        page(
            "Not found",
            "<h1>Not found</h1>\n<p>No such user or action.</p>\n",
        ),
    )
}

fn unavailable() -> Answer {
    Answer::Html(
        503,
        page(
            "Unavailable",
            "<p>The service is unavailable. Try again shortly.</p>\n",
        ),
    )
}

async fn find(store: &dyn Store, clerk_id: &str) -> Result<User, Answer> {
    if !is_clerk_user_id(clerk_id) {
        return Err(not_found());
    }
    match store.user_by_clerk_id(clerk_id).await {
        Ok(Some(user)) if !user.is_deleted() => Ok(user),
        Ok(_) => Err(not_found()),
        Err(error) => {
            tracing::warn!(%error, "admin user page: store failed");
            Err(unavailable())
        }
    }
}

/// `GET /admin/users/{clerk_id}` (`query`: the request's query string, for the notice after
/// an action).
pub async fn show_user(store: &dyn Store, clerk_id: &str, query: Option<&str>) -> Answer {
    match find(store, clerk_id).await {
        Ok(user) => Answer::Html(200, user_page(&user, done_action(query).map(Notice::Done))),
        Err(answer) => answer,
    }
}

/// `GET /admin/users/{clerk_id}/{action}`: the confirmation step.
pub async fn confirm_action(store: &dyn Store, clerk_id: &str, action: &str) -> Answer {
    let Some(action) = UserAction::from_slug(action) else {
        return not_found();
    };
    match find(store, clerk_id).await {
        Ok(user) => Answer::Html(200, confirm_page(&user, action)),
        Err(answer) => answer,
    }
}

/// `POST /admin/users/{clerk_id}/{action}` with the confirmation form's `body`: the call to
/// Clerk (`api`: `None` without `CLERK_SECRET_KEY`, a 503 that says so).
pub async fn run_action(
    store: &dyn Store,
    api: Option<&BackendApi>,
    clerk_id: &str,
    action: &str,
    body: &[u8],
) -> Answer {
    let Some(action) = UserAction::from_slug(action) else {
        return not_found();
    };
    let user = match find(store, clerk_id).await {
        Ok(user) => user,
        Err(answer) => return answer,
    };
    match confirms(body, action) {
        Ok(true) => {}
        // Not confirmed (a missing or different `confirm`, or an unreadable form): ask again.
        Ok(false) | Err(_) => return Answer::Html(400, confirm_page(&user, action)),
    }
    let Some(api) = api else {
        return Answer::Html(
            503,
            user_page(
                &user,
                Some(Notice::Failed("CLERK_SECRET_KEY is not set on this server")),
            ),
        );
    };
    match perform(api, clerk_id, action).await {
        Ok(outcome) => {
            tracing::info!(
                clerk_id,
                action = action.slug(),
                ?outcome,
                "staff action sent to Clerk"
            );
            Answer::SeeOther(done_location(clerk_id, action))
        }
        Err(error) => {
            tracing::warn!(clerk_id, action = action.slug(), %error, "staff action refused by Clerk");
            let message = error
                .clerk_body()
                .and_then(|body| body.errors.first())
                .map_or_else(|| error.to_string(), |e| e.message.clone());
            Answer::Html(502, user_page(&user, Some(Notice::Failed(&message))))
        }
    }
}
