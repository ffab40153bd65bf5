//! Staff actions on one Clerk user (ban, unban, revoke every session), sent to Clerk's Backend
//! API. The local mirror is not written here: it changes when Clerk's webhook for the change
//! arrives (`user.updated`, `session.revoked`), exactly as for a change made in Clerk's
//! dashboard, so the page always shows what Clerk says.
//!
//! | request | answer |
//! |---|---|
//! | `GET /admin/users/{clerk_id}` | 200 [`user_page`] (the mirror's view of the user, the actions) |
//! | `GET /admin/users/{clerk_id}/{action}` | 200 [`confirm_page`]: what the action does, one button |
//! | `POST /admin/users/{clerk_id}/{action}` with `confirm={action}` | the call to Clerk; 303 `Location: /admin/users/{clerk_id}?done={action}` |
//! | the same without the matching `confirm` field | 400 [`confirm_page`], nothing sent |
//! | an id that is not a Clerk user id, an unknown action, a user not in the mirror | 404 |
//! | Clerk refuses or cannot be reached | 502 [`user_page`] with Clerk's message |

use std::fmt::Write as _;

use clerk_core::backend_api::{ApiError, BackendApi};
use clerk_core::model::User;

use crate::form::decode;
use crate::html::{escape, page};
use crate::{FormError, ADMIN_PATH, MAX_FORM_BYTES};

/// Where the per-user pages live: `/admin/users/{clerk_id}[/{action}]`.
pub const USERS_PATH: &str = "/admin/users";

/// What staff can do to a Clerk user from `/admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserAction {
    /// `POST /v1/users/{id}/ban`: Clerk signs the user out everywhere and refuses new sign-ins.
    Ban,
    /// `POST /v1/users/{id}/unban`.
    Unban,
    /// Every active session of the user revoked (`POST /v1/sessions/{id}/revoke` each).
    RevokeSessions,
}

impl UserAction {
    /// Every action, in the order the user page offers them.
    pub const ALL: [UserAction; 3] = [
        UserAction::Ban,
        UserAction::Unban,
        UserAction::RevokeSessions,
    ];

    /// The action's path segment (and `confirm` value).
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            UserAction::Ban => "ban",
            UserAction::Unban => "unban",
            UserAction::RevokeSessions => "revoke-sessions",
        }
    }

    /// The action named by a path segment.
    #[must_use]
    pub fn from_slug(slug: &str) -> Option<UserAction> {
        UserAction::ALL.into_iter().find(|a| a.slug() == slug)
    }

    /// The button's label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            UserAction::Ban => "Ban",
            UserAction::Unban => "Unban",
            UserAction::RevokeSessions => "Revoke all sessions",
        }
    }

    fn consequence(self) -> &'static str {
        match self {
            UserAction::Ban => {
                "Clerk ends every session of this user and refuses their sign-ins until they are unbanned."
            }
            UserAction::Unban => "The user may sign in again.",
            UserAction::RevokeSessions => {
                "Every active session of this user ends; they may sign in again."
            }
        }
    }

    /// Whether the action makes sense for `user` as the mirror shows it (the page offers only
    /// these; a stale mirror can still be overridden by posting the action).
    #[must_use]
    pub fn offered_for(self, user: &User) -> bool {
        match self {
            UserAction::Ban => !user.banned,
            UserAction::Unban => user.banned,
            UserAction::RevokeSessions => true,
        }
    }
}

/// Whether `id` has the shape of a Clerk user id (`user_` and letters or digits): anything
/// else is a 404 before the store or Clerk is asked, so a crafted path segment reaches neither.
#[must_use]
pub fn is_clerk_user_id(id: &str) -> bool {
    id.strip_prefix("user_").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// The path of `clerk_id`'s page (`clerk_id` already checked by [`is_clerk_user_id`]).
#[must_use]
pub fn user_path(clerk_id: &str) -> String {
    format!("{USERS_PATH}/{clerk_id}")
}

/// The `Location` after `action` on `clerk_id` was accepted by Clerk.
#[must_use]
pub fn done_location(clerk_id: &str, action: UserAction) -> String {
    format!("{}?done={}", user_path(clerk_id), action.slug())
}

/// Reads `done=<action>` from a query string (the notice after a redirect).
#[must_use]
pub fn done_action(query: Option<&str>) -> Option<UserAction> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("done="))
        .and_then(UserAction::from_slug)
}

/// Whether the confirmation form's body confirms `action` (`confirm=<action>`, exactly once).
///
/// # Errors
/// [`FormError`] for a body that is too large, badly escaped, not UTF-8 or repeats `confirm`.
pub fn confirms(body: &[u8], action: UserAction) -> Result<bool, FormError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(FormError::TooLarge {
            size: body.len(),
            limit: MAX_FORM_BYTES,
        });
    }
    let mut confirm = None;
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        if decode(name)? == "confirm" && confirm.replace(decode(value)?).is_some() {
            return Err(FormError::Repeated("confirm"));
        }
    }
    Ok(confirm.as_deref() == Some(action.slug()))
}

/// What Clerk answered to an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActionOutcome {
    /// Clerk banned the user.
    Banned,
    /// Clerk unbanned the user.
    Unbanned,
    /// Every active session listed was sent a revocation: `revoked` were revoked, `failed`
    /// refused (already ended meanwhile, or Clerk failed on them).
    SessionsRevoked {
        /// Sessions revoked.
        revoked: usize,
        /// Sessions whose revocation failed.
        failed: usize,
    },
}

/// Sends `action` on `clerk_id` to Clerk.
///
/// # Errors
/// Clerk's [`ApiError`] (the page shows its message; nothing local changed). For
/// [`UserAction::RevokeSessions`], sessions revoked before the failure stay revoked.
pub async fn perform(
    api: &BackendApi,
    clerk_id: &str,
    action: UserAction,
) -> Result<ActionOutcome, ApiError> {
    match action {
        UserAction::Ban => api.ban_user(clerk_id).await.map(|_| ActionOutcome::Banned),
        UserAction::Unban => api
            .unban_user(clerk_id)
            .await
            .map(|_| ActionOutcome::Unbanned),
        UserAction::RevokeSessions => {
            api.revoke_user_sessions(clerk_id)
                .await
                .map(|outcome| ActionOutcome::SessionsRevoked {
                    revoked: outcome.revoked.len(),
                    failed: outcome.failed.len(),
                })
        }
    }
}

fn notice_for(action: UserAction) -> &'static str {
    match action {
        UserAction::Ban => "Clerk accepted the ban.",
        UserAction::Unban => "Clerk accepted the unban.",
        UserAction::RevokeSessions => "Clerk revoked the user's active sessions.",
    }
}

/// What the user page says above the details.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Notice<'a> {
    /// After a redirect: Clerk accepted `action`; the mirror changes when its webhook arrives.
    Done(UserAction),
    /// Clerk refused or could not be reached (its message, escaped).
    Failed(&'a str),
}

/// The page of one Clerk user as the mirror shows it (email, Clerk id, name, banned, locked,
/// active) with a button per offered action (each leads to [`confirm_page`]).
#[must_use]
pub fn user_page(user: &User, notice: Option<Notice<'_>>) -> String {
    let clerk_id = user.clerk_id.as_deref().unwrap_or_default();
    let mut body = format!(
        "<p><a href=\"{ADMIN_PATH}\">Back to the admin page</a></p>\n<h1>User {}</h1>\n",
        escape(clerk_id)
    );
    match notice {
        Some(Notice::Done(action)) => {
            let _ = writeln!(
                body,
                "<p id=\"notice\">{} The values below are the local mirror's: they change when \
                 Clerk's webhook arrives (reload to see it).</p>",
                notice_for(action)
            );
        }
        Some(Notice::Failed(message)) => {
            let _ = writeln!(
                body,
                "<p class=\"error\" id=\"error\">Clerk did not accept it: {}</p>",
                escape(message)
            );
        }
        None => {}
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let _ = write!(
        body,
        "<table id=\"user\">\n<tr><th>Email</th><td>{}</td></tr>\n<tr><th>Name</th><td>{}</td></tr>\n\
         <tr><th>Banned</th><td id=\"banned\">{}</td></tr>\n<tr><th>Locked</th><td id=\"locked\">{}</td></tr>\n\
         <tr><th>May sign in</th><td id=\"active\">{}</td></tr>\n</table>\n",
        escape(user.email.as_deref().unwrap_or("—")),
        escape(&display_name(user)),
        yes_no(user.banned),
        yes_no(user.locked),
        yes_no(user.can_sign_in()),
    );
    for action in UserAction::ALL {
        if action.offered_for(user) {
            let _ = writeln!(
                body,
                "<form method=\"get\" action=\"{}/{}\"><button type=\"submit\" id=\"{}\">{}</button></form>",
                user_path(clerk_id),
                action.slug(),
                action.slug(),
                action.label()
            );
        }
    }
    page(&format!("User {clerk_id}"), &body)
}

/// The confirmation step of `action` on `user`: what it does, and one button that posts
/// `confirm={action}` to the same path.
#[must_use]
pub fn confirm_page(user: &User, action: UserAction) -> String {
    let clerk_id = user.clerk_id.as_deref().unwrap_or_default();
    let who = user.email.as_deref().unwrap_or(clerk_id);
    let body = format!(
        "<h1>{label}: {who}?</h1>\n<p>{consequence}</p>\n\
         <form method=\"post\" action=\"{path}/{slug}\">\
         <input type=\"hidden\" name=\"confirm\" value=\"{slug}\">\
         <button type=\"submit\" id=\"confirm\">{label}</button></form>\n\
         <p><a href=\"{path}\" id=\"cancel\">Cancel</a></p>\n",
        label = action.label(),
        who = escape(who),
        consequence = action.consequence(),
        path = user_path(clerk_id),
        slug = action.slug(),
    );
    page(&format!("{} {clerk_id}", action.label()), &body)
}

fn display_name(user: &User) -> String {
    let name: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if name.is_empty() {
        user.username.clone().unwrap_or_else(|| "—".to_owned())
    } else {
        name.join(" ")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clerk_core::model::{ClerkUserData, UserId};
    use clerk_core::time::UnixTime;

    fn user(banned: bool) -> User {
        let t = UnixTime::from_secs(1_700_000_000);
        let mut data = ClerkUserData::new("user_2abc", t, t);
        data.email = Some("<ada>@example.com".to_owned());
        data.banned = banned;
        User::from_clerk(UserId(1), &data, t)
    }

    #[test]
    fn only_clerk_user_ids_name_a_page() {
        assert!(is_clerk_user_id("user_2abcXYZ09"));
        for bad in [
            "",
            "user_",
            "org_1",
            "user_a/b",
            "user_a%2Fb",
            "user_a?x",
            "user_..",
            "USER_a",
        ] {
            assert!(!is_clerk_user_id(bad), "{bad}");
        }
        assert!(!is_clerk_user_id(&format!("user_{}", "a".repeat(65))));
    }

    #[test]
    fn actions_round_trip_their_slugs() {
        for action in UserAction::ALL {
            assert_eq!(UserAction::from_slug(action.slug()), Some(action));
        }
        assert_eq!(UserAction::from_slug("delete"), None);
        assert_eq!(
            done_action(Some("x=1&done=revoke-sessions")),
            Some(UserAction::RevokeSessions)
        );
        assert_eq!(done_action(Some("done=nope")), None);
        assert_eq!(done_action(None), None);
        assert_eq!(
            done_location("user_1", UserAction::Ban),
            "/admin/users/user_1?done=ban"
        );
    }

    #[test]
    fn only_the_matching_confirmation_confirms() {
        assert!(confirms(b"confirm=ban", UserAction::Ban).unwrap());
        assert!(confirms(b"x=1&confirm=revoke-sessions", UserAction::RevokeSessions).unwrap());
        assert!(!confirms(b"confirm=unban", UserAction::Ban).unwrap());
        assert!(!confirms(b"", UserAction::Ban).unwrap());
        assert!(!confirms(b"confirm", UserAction::Ban).unwrap());
        assert_eq!(
            confirms(b"confirm=ban&confirm=ban", UserAction::Ban),
            Err(FormError::Repeated("confirm"))
        );
        assert_eq!(
            confirms(b"confirm=%zz", UserAction::Ban),
            Err(FormError::BadEscape)
        );
        let big = vec![b'a'; MAX_FORM_BYTES + 1];
        assert!(matches!(
            confirms(&big, UserAction::Ban),
            Err(FormError::TooLarge { .. })
        ));
    }

    #[test]
    fn the_user_page_offers_what_fits_and_escapes() {
        let html = user_page(&user(false), Some(Notice::Failed("<script>")));
        assert!(html.contains("&lt;ada&gt;@example.com"), "{html}");
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains(r#"action="/admin/users/user_2abc/ban""#));
        assert!(!html.contains(r#"action="/admin/users/user_2abc/unban""#));
        assert!(html.contains(r#"<td id="banned">no</td>"#));
        let html = user_page(&user(true), Some(Notice::Done(UserAction::Ban)));
        assert!(html.contains(r#"action="/admin/users/user_2abc/unban""#));
        assert!(!html.contains(r#"action="/admin/users/user_2abc/ban""#));
        assert!(html.contains(r#"<td id="banned">yes</td>"#));
        assert!(html.contains("Clerk accepted the ban."));
    }

    #[test]
    fn the_confirmation_posts_its_own_action() {
        let html = confirm_page(&user(false), UserAction::RevokeSessions);
        assert!(html.contains(
            r#"<form method="post" action="/admin/users/user_2abc/revoke-sessions"><input type="hidden" name="confirm" value="revoke-sessions">"#
        ), "{html}");
        assert!(html.contains("&lt;ada&gt;@example.com"));
    }
}
