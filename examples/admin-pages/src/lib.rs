//! The framework-agnostic parts of the example apps' `/admin` pages ([design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications), hybrid mode),
//! shared unchanged by `examples/axum-app` and `examples/rocket-app` so both answer the same
//! bytes:
//!
//! - [`login_page`]: the login form (`username`, `password`, `POST /admin/login`), with
//!   [`INVALID_CREDENTIALS`] after a refused login and [`TOO_MANY_FAILED_LOGINS`] after a
//!   throttled one;
//! - [`admin_page`]: the users table (email, Clerk id, name, active) and the organizations
//!   table (name, slug, members), read from the store by [`AdminData::load`];
//! - [`LoginForm::parse`]: the `application/x-www-form-urlencoded` body of the login form.
//!
//! Every value from the store or the request is HTML-escaped ([`escape`]): names and emails
//! come from Clerk users, who choose them. Password hashes are never rendered.
//!
//! The routes themselves — sessions, redirects, status codes — belong to each app:
//!
//! | request | answer |
//! |---|---|
//! | `GET /admin` with a staff session | 200 [`admin_page`] |
//! | `GET /admin` otherwise | 303 `Location: /admin/login` |
//! | `GET /admin/login` | 200 [`login_page`]`(None)` |
//! | `POST /admin/login`, staff credentials | 303 `Location: /admin` + session cookie |
//! | `POST /admin/login`, refused | 401 [`login_page`]`(Some(INVALID_CREDENTIALS))` |
//! | `POST /admin/login` after 5 failures for the username (or 20 from the address) in 15 minutes | 429 [`login_page`]`(Some(TOO_MANY_FAILED_LOGINS))` + `Retry-After`, no cookie, whatever the password |
//! | `POST /admin/login`, unparseable body | 400 [`login_page`] with the [`FormError`] |
//! | `POST /admin/logout` | 303 `Location: /admin/login`, session ended |
//! | `GET /admin/users/{clerk_id}` with a staff session | 200 [`user_page`]: the mirror's view of one Clerk user and the actions staff can send to Clerk ([`show_user`]) |
//! | `GET /admin/users/{clerk_id}/{ban,unban,revoke-sessions}` with a staff session | 200 [`confirm_page`], the confirmation step ([`confirm_action`]) |
//! | `POST` the same with `confirm={action}` | the call to Clerk's Backend API, then 303 to the user page, which shows the change once Clerk's webhook reached the mirror ([`run_action`]); without the confirmation 400, nothing sent |
//! | any of these without a staff session | 303 `Location: /admin/login`, nothing sent |
//! | any `POST` sent by a browser from another site ([`RequestOrigin::is_cross_site`]) | 403 [`CROSS_SITE_REFUSED`], nothing changed |
//!
//! Every one of these answers carries [`SECURITY_HEADERS`].
//!
//! # Quick start
//!
//! ```
//! use admin_pages::{login_page, LoginForm, INVALID_CREDENTIALS};
//!
//! let form = LoginForm::parse(b"username=ada&password=p%26ss+word")?;
//! assert_eq!(form.username, "ada");
//! assert_eq!(form.password, "p&ss word");
//!
//! let html = login_page(Some(INVALID_CREDENTIALS));
//! assert!(html.contains(r#"<form method="post" action="/admin/login">"#));
//! assert!(html.contains("Invalid username or password."));
//! # Ok::<(), admin_pages::FormError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod actions;
mod form;
mod html;
mod origin;
mod user_routes;

pub use actions::{
    confirm_page, confirms, done_action, done_location, is_clerk_user_id, perform, user_page,
    user_path, ActionOutcome, Notice, UserAction, USERS_PATH,
};

pub use form::{FormError, LoginForm, MAX_FORM_BYTES};
pub use html::{admin_page, escape, login_page};
pub use origin::{RequestOrigin, CROSS_SITE_REFUSED};
pub use user_routes::{confirm_action, run_action, show_user, Answer};

use clerk_core::model::{Organization, User};
use clerk_core::store::{Store, StoreError};

/// The message of a refused login, whatever the reason (unknown user, wrong password, not
/// staff, inactive): the page never tells which.
pub const INVALID_CREDENTIALS: &str = "Invalid username or password.";

/// The message of a throttled login (too many failures for the username or from the client
/// address, [`clerk_core::login_throttle`]), answered with 429 and `Retry-After`.
pub const TOO_MANY_FAILED_LOGINS: &str = "Too many failed logins. Try again later.";

/// The headers every `/admin` response carries, whatever its status ([design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications)):
/// no framing by any site (clickjacking of the login form), a policy that allows no script and
/// no resource from elsewhere (only the pages' own inline style), no referrer to other sites, and
/// no caching of pages that list users.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
];

/// `Content-Type` of every page.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// Path of the admin page.
pub const ADMIN_PATH: &str = "/admin";
/// Path of the login form (GET) and login (POST).
pub const LOGIN_PATH: &str = "/admin/login";
/// Path of the logout (POST).
pub const LOGOUT_PATH: &str = "/admin/logout";

/// How many users and organizations the page lists at most (the first by id).
pub const PAGE_LIMIT: usize = 500;

/// One organization row: the organization and its member count.
#[derive(Debug, Clone)]
pub struct OrganizationRow {
    /// The organization.
    pub organization: Organization,
    /// Clerk's `members_count` when it sent one, else the live memberships in the store.
    pub members: u64,
}

/// What [`admin_page`] shows.
#[derive(Debug, Clone, Default)]
pub struct AdminData {
    /// Users that are not deleted, ascending by local id (at most [`PAGE_LIMIT`]).
    pub users: Vec<User>,
    /// Whether more users exist than are listed.
    pub more_users: bool,
    /// Organizations that are not deleted, ascending by Clerk id (at most [`PAGE_LIMIT`]).
    pub organizations: Vec<OrganizationRow>,
    /// Whether more organizations exist than are listed.
    pub more_organizations: bool,
    /// Webhook deliveries held for an operator (`clerk webhooks failed` lists them).
    pub held_webhooks: u64,
}

impl AdminData {
    /// Reads the tables' rows from `store`: deleted users and organizations (tombstones) are
    /// left out.
    ///
    /// # Errors
    /// The store's error (the app answers 503).
    pub async fn load(store: &dyn Store) -> Result<AdminData, StoreError> {
        let mut data = AdminData::default();
        let mut after = None;
        'users: loop {
            let page = store.list_users(after, PAGE_LIMIT).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for user in page {
                if user.deleted_at.is_some() {
                    continue;
                }
                if data.users.len() == PAGE_LIMIT {
                    data.more_users = true;
                    break 'users;
                }
                data.users.push(user);
            }
        }
        let mut after: Option<String> = None;
        'orgs: loop {
            let page = store
                .list_organizations(after.as_deref(), PAGE_LIMIT)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.clerk_id.clone());
            for organization in page {
                if organization.deleted_at.is_some() {
                    continue;
                }
                if data.organizations.len() == PAGE_LIMIT {
                    data.more_organizations = true;
                    break 'orgs;
                }
                let members = match organization.members_count {
                    Some(count) => u64::try_from(count).unwrap_or(0),
                    None => store
                        .memberships_of_organization(&organization.clerk_id)
                        .await?
                        .len() as u64,
                };
                data.organizations.push(OrganizationRow {
                    organization,
                    members,
                });
            }
        }
        data.held_webhooks = store.count_held_events().await?;
        Ok(data)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clerk_core::model::{ClerkMembershipData, ClerkOrganizationData, ClerkUserData};
    use clerk_core::store::{Change, LinkPolicy, StoreWriter, WriteBatch};
    use clerk_core::time::UnixTime;
    use clerk_store::MemoryStore;

    #[tokio::test]
    async fn load_lists_live_rows_and_counts_members() {
        let store = MemoryStore::new();
        let t = UnixTime::from_secs(1_700_000_000);
        let mut batch = WriteBatch::new(t);
        for (id, email) in [("user_a", "a@example.com"), ("user_b", "b@example.com")] {
            let mut data = ClerkUserData::new(id, t, t);
            data.email = Some(email.to_owned());
            batch.push(Change::UpsertUser {
                data,
                link: LinkPolicy::default(),
            });
        }
        batch.push(Change::DeleteUser {
            clerk_id: "user_b".to_owned(),
            at: t,
        });
        batch.push(Change::UpsertOrganization(ClerkOrganizationData::new(
            "org_1", "Acme", t, t,
        )));
        let mut counted = ClerkOrganizationData::new("org_2", "Counted", t, t);
        counted.members_count = Some(7);
        batch.push(Change::UpsertOrganization(counted));
        batch.push(Change::UpsertMembership(ClerkMembershipData::new(
            "orgmem_1",
            "org_1",
            "user_a",
            "org:admin",
            t,
            t,
        )));
        let _ = store.apply(batch).await.unwrap();

        let data = AdminData::load(&store).await.unwrap();
        let emails: Vec<_> = data.users.iter().map(|u| u.email.as_deref()).collect();
        assert_eq!(
            emails,
            [Some("a@example.com")],
            "the deleted user is left out"
        );
        let orgs: Vec<_> = data
            .organizations
            .iter()
            .map(|r| (r.organization.name.as_str(), r.members))
            .collect();
        assert_eq!(orgs, [("Acme", 1), ("Counted", 7)]);
        assert!(!data.more_users && !data.more_organizations);
    }
}
