//! The local mirror's data model: users, organizations, memberships, invitations, the
//! processed-webhook ledger and the revoked-session set.
//!
//! Two kinds of types live here:
//!
//! - **Stored rows** ([`User`], [`Organization`], [`Membership`], [`Invitation`],
//!   [`WebhookEvent`], [`RevokedSession`]): what a store returns. Their field names are the
//!   column names of the SQL tables (`clerk_users`, `clerk_organizations`,
//!   `clerk_organization_memberships`, `clerk_organization_invitations`,
//!   `clerk_webhook_events`, `clerk_revoked_sessions`), which are a public contract.
//! - **Clerk inputs** ([`ClerkUserData`], [`ClerkOrganizationData`], [`ClerkMembershipData`],
//!   [`ClerkInvitationData`]): what Clerk told us (a webhook or a Backend API read). They carry
//!   only Clerk-owned fields, so an upsert *cannot* overwrite an application-owned column
//!   (`is_active`, `is_staff`, `is_superuser`, `password_hash`, `last_login`, `last_logout`,
//!   the local `created_at`) — the type system keeps that promise, not each backend.
//!
//! Applications that need their own fields (Django's `AbstractClerkUser` subclass with a
//! `company` field) keep them in their own table keyed by [`User::id`] (or add columns to
//! `clerk_users`, which the SQL backends never write wholesale): no upsert ever replaces a row.
//!
//! Stored rows are plain structs (not `#[non_exhaustive]`) so that a backend in another
//! crate, yours included, can build them from its rows. Inputs are `#[non_exhaustive]`: build
//! them with their `new` constructors and assign the public fields.
//!
//! All instants are [`UnixTime`] (milliseconds since the epoch), as Clerk sends them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::UnixTime;

/// The local id of a user row (`clerk_users.id`), assigned by the store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A user row of `clerk_users`: a mirrored Clerk user, or a local (password) user.
///
/// Clerk-owned fields are written only from [`ClerkUserData`]; application-owned fields
/// (`is_active`, `is_staff`, `is_superuser`, `password_hash`, `last_login`, `last_logout`) only
/// by the application's own changes. `Debug` redacts `password_hash`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Local id (`id`).
    pub id: UserId,
    /// Clerk user id (`user_…`); `None` for local users. Unique across all rows, deleted
    /// ones included: Clerk never reuses an id.
    pub clerk_id: Option<String>,
    /// Primary email address. Unique (ASCII case-insensitively) among rows that are not
    /// deleted; a deleted user's row no longer has one.
    pub email: Option<String>,
    /// Whether Clerk verified the primary email address.
    pub email_verified: bool,
    /// Username, when the Clerk instance uses them (or a local user's login name).
    pub username: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Profile image URL.
    pub image_url: Option<String>,
    /// Clerk `public_metadata` (JSON), `{}` when Clerk sent none.
    pub public_metadata: serde_json::Value,
    /// The application's own id for this user as set in Clerk (`external_id`).
    pub external_id: Option<String>,
    /// Banned in Clerk.
    pub banned: bool,
    /// Locked in Clerk (too many failed sign-ins).
    pub locked: bool,
    /// Application-owned: may sign in. A deleted Clerk user is deactivated.
    pub is_active: bool,
    /// Application-owned: may use the admin.
    pub is_staff: bool,
    /// Application-owned: has every permission.
    pub is_superuser: bool,
    /// Application-owned: PHC string (argon2) of a local user's password; `None` for Clerk users.
    pub password_hash: Option<String>,
    /// When the user was created in Clerk.
    pub clerk_created_at: Option<UnixTime>,
    /// Clerk's `updated_at` of the data stored; orders upserts (older data changes nothing).
    pub clerk_updated_at: Option<UnixTime>,
    /// Clerk's `last_sign_in_at`.
    pub last_sign_in_at: Option<UnixTime>,
    /// Application-owned: last session start seen (Clerk `session.created` or a local login).
    pub last_login: Option<UnixTime>,
    /// Application-owned: last session end seen.
    pub last_logout: Option<UnixTime>,
    /// When the row was created locally.
    pub created_at: UnixTime,
    /// When the row last changed locally.
    pub updated_at: UnixTime,
    /// When Clerk deleted the user (`user.deleted`); such a row is inactive, its Clerk data is
    /// cleared (see [`User::mark_deleted`]), and no later Clerk data changes it again. (An
    /// added column, `deleted_at`.)
    pub deleted_at: Option<UnixTime>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("clerk_id", &self.clerk_id)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("username", &self.username)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("image_url", &self.image_url)
            .field("public_metadata", &self.public_metadata)
            .field("external_id", &self.external_id)
            .field("banned", &self.banned)
            .field("locked", &self.locked)
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("clerk_created_at", &self.clerk_created_at)
            .field("clerk_updated_at", &self.clerk_updated_at)
            .field("last_sign_in_at", &self.last_sign_in_at)
            .field("last_login", &self.last_login)
            .field("last_logout", &self.last_logout)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("deleted_at", &self.deleted_at)
            .finish()
    }
}

impl User {
    /// A new row mirroring `data`, active, with no application privileges.
    #[must_use]
    pub fn from_clerk(id: UserId, data: &ClerkUserData, now: UnixTime) -> Self {
        let mut user = User::blank(id, now);
        user.clerk_id = Some(data.clerk_id.clone());
        user.is_active = true;
        user.apply_clerk(data, now);
        user
    }

    /// A new local (password) user.
    #[must_use]
    pub fn from_local(id: UserId, new: &NewLocalUser, now: UnixTime) -> Self {
        let mut user = User::blank(id, now);
        user.email = new.email.clone();
        user.username = Some(new.username.clone());
        user.first_name = new.first_name.clone();
        user.last_name = new.last_name.clone();
        user.password_hash = new.password_hash.clone();
        user.is_active = true;
        user.is_staff = new.is_staff;
        user.is_superuser = new.is_superuser;
        user
    }

    /// The row left by a `user.deleted` for a Clerk id never seen before: inactive, deleted,
    /// without data. It keeps a late `user.created` from resurrecting the user.
    #[must_use]
    pub fn tombstone(id: UserId, clerk_id: &str, deleted_at: UnixTime, now: UnixTime) -> Self {
        let mut user = User::blank(id, now);
        user.clerk_id = Some(clerk_id.to_owned());
        user.deleted_at = Some(deleted_at);
        user
    }

    fn blank(id: UserId, now: UnixTime) -> Self {
        User {
            id,
            clerk_id: None,
            email: None,
            email_verified: false,
            username: None,
            first_name: None,
            last_name: None,
            image_url: None,
            public_metadata: serde_json::Value::Object(serde_json::Map::new()),
            external_id: None,
            banned: false,
            locked: false,
            is_active: false,
            is_staff: false,
            is_superuser: false,
            password_hash: None,
            clerk_created_at: None,
            clerk_updated_at: None,
            last_sign_in_at: None,
            last_login: None,
            last_logout: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }

    /// Overwrites the Clerk-owned fields with `data` (and `updated_at` with `now`); leaves
    /// every application-owned field and `clerk_id` as they are. Does not check ordering: see
    /// [`crate::store::rules`].
    pub fn apply_clerk(&mut self, data: &ClerkUserData, now: UnixTime) {
        self.email = data.email.clone();
        self.email_verified = data.email_verified;
        self.username = data.username.clone();
        self.first_name = data.first_name.clone();
        self.last_name = data.last_name.clone();
        self.image_url = data.image_url.clone();
        self.public_metadata = data.public_metadata.clone();
        self.external_id = data.external_id.clone();
        self.banned = data.banned;
        self.locked = data.locked;
        self.clerk_created_at = Some(data.created_at);
        self.clerk_updated_at = Some(data.updated_at);
        self.last_sign_in_at = data.last_sign_in_at;
        self.updated_at = now;
    }

    /// Turns the row into the tombstone of a Clerk deletion: `is_active = false`,
    /// `deleted_at = at`, and every Clerk-owned field cleared — the email is released and no
    /// personal data Clerk sent is kept. `id`, `clerk_id` and the other application-owned
    /// fields stay. The result is the same whether the deletion arrives before or after the
    /// user's other events (a [`User::tombstone`] has exactly these values).
    pub fn mark_deleted(&mut self, at: UnixTime, now: UnixTime) {
        self.email = None;
        self.email_verified = false;
        self.username = None;
        self.first_name = None;
        self.last_name = None;
        self.image_url = None;
        self.public_metadata = serde_json::Value::Object(serde_json::Map::new());
        self.external_id = None;
        self.banned = false;
        self.locked = false;
        self.clerk_created_at = None;
        self.clerk_updated_at = None;
        self.last_sign_in_at = None;
        self.is_active = false;
        self.deleted_at = Some(at);
        self.updated_at = now;
    }

    /// A local user: no Clerk id.
    #[must_use]
    pub fn is_local(&self) -> bool {
        self.clerk_id.is_none()
    }

    /// Deleted in Clerk.
    #[must_use]
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// May use the application: active, not deleted, not banned, not locked.
    #[must_use]
    pub fn can_sign_in(&self) -> bool {
        self.is_active && !self.is_deleted() && !self.banned && !self.locked
    }

    /// "First Last", either part alone, or `None` (blank parts count as absent), like
    /// Clerk's `fullName`.
    #[must_use]
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// Compares two emails the way the uniqueness rule does: ASCII case-insensitively (the same
/// as SQL `lower()` in SQLite and PostgreSQL's C-locale behaviour for ASCII addresses).
#[must_use]
pub fn same_email(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// What Clerk says about a user: the Clerk-owned fields of a [`User`].
///
/// Built by the webhook processor from `user.created`/`user.updated` and by sync or
/// just-in-time fetches from the Backend API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClerkUserData {
    /// Clerk user id (`user_…`); must not be empty.
    pub clerk_id: String,
    /// Primary email address.
    pub email: Option<String>,
    /// Whether the primary email address is verified.
    pub email_verified: bool,
    /// Username.
    pub username: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Profile image URL.
    pub image_url: Option<String>,
    /// `public_metadata`.
    pub public_metadata: serde_json::Value,
    /// `external_id`.
    pub external_id: Option<String>,
    /// `banned`.
    pub banned: bool,
    /// `locked`.
    pub locked: bool,
    /// `last_sign_in_at`.
    pub last_sign_in_at: Option<UnixTime>,
    /// Clerk `created_at`.
    pub created_at: UnixTime,
    /// Clerk `updated_at`: orders upserts.
    pub updated_at: UnixTime,
}

impl ClerkUserData {
    /// Data with only an id and timestamps; set the other (public) fields directly.
    #[must_use]
    pub fn new(clerk_id: impl Into<String>, created_at: UnixTime, updated_at: UnixTime) -> Self {
        ClerkUserData {
            clerk_id: clerk_id.into(),
            email: None,
            email_verified: false,
            username: None,
            first_name: None,
            last_name: None,
            image_url: None,
            public_metadata: serde_json::Value::Object(serde_json::Map::new()),
            external_id: None,
            banned: false,
            locked: false,
            last_sign_in_at: None,
            created_at,
            updated_at,
        }
    }

    /// Sets the primary email and its verification status.
    #[must_use]
    pub fn with_email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.email = Some(email.into());
        self.email_verified = verified;
        self
    }
}

/// A local (password) user to create, for hybrid mode (`clerk createsuperuser`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewLocalUser {
    /// Login name; unique among local users that are not deleted.
    pub username: String,
    /// Email; unique among users that are not deleted.
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// PHC string (argon2). Hashing is the caller's job; the store never sees a password.
    pub password_hash: Option<String>,
    /// May use the admin.
    pub is_staff: bool,
    /// Has every permission.
    pub is_superuser: bool,
}

impl NewLocalUser {
    /// A local user with a username and nothing else.
    #[must_use]
    pub fn new(username: impl Into<String>) -> Self {
        NewLocalUser {
            username: username.into(),
            email: None,
            first_name: None,
            last_name: None,
            password_hash: None,
            is_staff: false,
            is_superuser: false,
        }
    }
}

impl fmt::Debug for NewLocalUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewLocalUser")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .finish()
    }
}

/// Changes to application-owned user fields; `None` leaves a field as it is.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocalUserPatch {
    /// New `is_active`.
    pub is_active: Option<bool>,
    /// New `is_staff`.
    pub is_staff: Option<bool>,
    /// New `is_superuser`.
    pub is_superuser: Option<bool>,
    /// New `password_hash` (`Some(None)` removes it).
    pub password_hash: Option<Option<String>>,
}

impl LocalUserPatch {
    /// Sets `is_active`.
    #[must_use]
    pub fn active(mut self, value: bool) -> Self {
        self.is_active = Some(value);
        self
    }

    /// Sets `is_staff`.
    #[must_use]
    pub fn staff(mut self, value: bool) -> Self {
        self.is_staff = Some(value);
        self
    }

    /// Sets `is_superuser`.
    #[must_use]
    pub fn superuser(mut self, value: bool) -> Self {
        self.is_superuser = Some(value);
        self
    }

    /// Sets (`Some`) or removes (`None`) `password_hash`.
    #[must_use]
    pub fn password_hash(mut self, hash: Option<String>) -> Self {
        self.password_hash = Some(hash);
        self
    }

    /// Applies the patch; returns whether anything changed (and then sets `updated_at`).
    pub fn apply_to(&self, user: &mut User, now: UnixTime) -> bool {
        let mut changed = false;
        let mut set = |field: &mut bool, value: Option<bool>| {
            if let Some(v) = value {
                changed |= *field != v;
                *field = v;
            }
        };
        set(&mut user.is_active, self.is_active);
        set(&mut user.is_staff, self.is_staff);
        set(&mut user.is_superuser, self.is_superuser);
        if let Some(hash) = &self.password_hash {
            changed |= user.password_hash != *hash;
            user.password_hash.clone_from(hash);
        }
        if changed {
            user.updated_at = now;
        }
        changed
    }
}

impl fmt::Debug for LocalUserPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalUserPatch")
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .field(
                "password_hash",
                &self
                    .password_hash
                    .as_ref()
                    .map(|h| h.as_ref().map(|_| "<redacted>")),
            )
            .finish()
    }
}

/// An organization row of `clerk_organizations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// Clerk organization id (`org_…`); unique.
    pub clerk_id: String,
    /// Name.
    pub name: String,
    /// Slug. Not unique locally: Clerk moves slugs between organizations and the events
    /// may arrive in any order.
    pub slug: Option<String>,
    /// Logo URL.
    pub image_url: Option<String>,
    /// `public_metadata`.
    pub public_metadata: serde_json::Value,
    /// Member count, when Clerk sent it.
    pub members_count: Option<i64>,
    /// Clerk `created_at`.
    pub clerk_created_at: Option<UnixTime>,
    /// Clerk `updated_at`: orders upserts.
    pub clerk_updated_at: Option<UnixTime>,
    /// Local creation time.
    pub created_at: UnixTime,
    /// Local last change.
    pub updated_at: UnixTime,
    /// When Clerk deleted the organization (added column).
    pub deleted_at: Option<UnixTime>,
}

impl Organization {
    /// A new row mirroring `data`.
    #[must_use]
    pub fn from_clerk(data: &ClerkOrganizationData, now: UnixTime) -> Self {
        let mut org = Organization::tombstone(&data.clerk_id, now, now);
        org.deleted_at = None;
        org.apply_clerk(data, now);
        org
    }

    /// The row a deletion leaves for an organization never seen before.
    #[must_use]
    pub fn tombstone(clerk_id: &str, deleted_at: UnixTime, now: UnixTime) -> Self {
        Organization {
            clerk_id: clerk_id.to_owned(),
            name: String::new(),
            slug: None,
            image_url: None,
            public_metadata: serde_json::Value::Object(serde_json::Map::new()),
            members_count: None,
            clerk_created_at: None,
            clerk_updated_at: None,
            created_at: now,
            updated_at: now,
            deleted_at: Some(deleted_at),
        }
    }

    /// Turns the row into the tombstone of a Clerk deletion: `deleted_at = at` and every
    /// Clerk-owned field cleared, the same state a deletion of an unknown id leaves.
    pub fn mark_deleted(&mut self, at: UnixTime, now: UnixTime) {
        let created_at = self.created_at;
        *self = Organization::tombstone(&self.clerk_id, at, now);
        self.created_at = created_at;
    }

    /// Overwrites the Clerk-owned fields with `data`.
    pub fn apply_clerk(&mut self, data: &ClerkOrganizationData, now: UnixTime) {
        self.name.clone_from(&data.name);
        self.slug.clone_from(&data.slug);
        self.image_url.clone_from(&data.image_url);
        self.public_metadata.clone_from(&data.public_metadata);
        self.members_count = data.members_count;
        self.clerk_created_at = Some(data.created_at);
        self.clerk_updated_at = Some(data.updated_at);
        self.updated_at = now;
    }

    /// Deleted in Clerk.
    #[must_use]
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// What Clerk says about an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClerkOrganizationData {
    /// Clerk id (`org_…`).
    pub clerk_id: String,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: Option<String>,
    /// Logo URL.
    pub image_url: Option<String>,
    /// `public_metadata`.
    pub public_metadata: serde_json::Value,
    /// Member count, when sent.
    pub members_count: Option<i64>,
    /// Clerk `created_at`.
    pub created_at: UnixTime,
    /// Clerk `updated_at`.
    pub updated_at: UnixTime,
}

impl ClerkOrganizationData {
    /// Data with an id, a name and timestamps.
    #[must_use]
    pub fn new(
        clerk_id: impl Into<String>,
        name: impl Into<String>,
        created_at: UnixTime,
        updated_at: UnixTime,
    ) -> Self {
        ClerkOrganizationData {
            clerk_id: clerk_id.into(),
            name: name.into(),
            slug: None,
            image_url: None,
            public_metadata: serde_json::Value::Object(serde_json::Map::new()),
            members_count: None,
            created_at,
            updated_at,
        }
    }
}

/// A membership row of `clerk_organization_memberships` (organization × user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Clerk id (`orgmem_…`); unique.
    pub clerk_id: String,
    /// The organization's Clerk id (`organization_clerk_id`).
    pub organization_clerk_id: String,
    /// The user's Clerk id (`user_clerk_id`).
    pub user_clerk_id: String,
    /// Role key, `org:`-prefixed (`org:admin`).
    pub role: String,
    /// Permission keys (`org:reports:read`), stored as a JSON array.
    pub permissions: Vec<String>,
    /// Clerk `created_at`.
    pub clerk_created_at: Option<UnixTime>,
    /// Clerk `updated_at`: orders upserts.
    pub clerk_updated_at: Option<UnixTime>,
    /// Local creation time.
    pub created_at: UnixTime,
    /// Local last change.
    pub updated_at: UnixTime,
    /// When the membership ended (its own deletion or its organization's).
    pub deleted_at: Option<UnixTime>,
}

impl Membership {
    /// A new row mirroring `data`.
    #[must_use]
    pub fn from_clerk(data: &ClerkMembershipData, now: UnixTime) -> Self {
        let mut m = Membership {
            clerk_id: data.clerk_id.clone(),
            organization_clerk_id: data.organization_clerk_id.clone(),
            user_clerk_id: data.user_clerk_id.clone(),
            role: String::new(),
            permissions: Vec::new(),
            clerk_created_at: None,
            clerk_updated_at: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        m.apply_clerk(data, now);
        m
    }

    /// The row a deletion leaves for a membership never seen before.
    #[must_use]
    pub fn tombstone(
        clerk_id: &str,
        organization_clerk_id: &str,
        user_clerk_id: &str,
        deleted_at: UnixTime,
        now: UnixTime,
    ) -> Self {
        Membership {
            clerk_id: clerk_id.to_owned(),
            organization_clerk_id: organization_clerk_id.to_owned(),
            user_clerk_id: user_clerk_id.to_owned(),
            role: String::new(),
            permissions: Vec::new(),
            clerk_created_at: None,
            clerk_updated_at: None,
            created_at: now,
            updated_at: now,
            deleted_at: Some(deleted_at),
        }
    }

    /// Turns the row into the tombstone of a deletion (its own or its organization's):
    /// `deleted_at = at`, role, permissions and Clerk timestamps cleared; the organization
    /// and user ids stay.
    pub fn mark_deleted(&mut self, at: UnixTime, now: UnixTime) {
        self.role.clear();
        self.permissions.clear();
        self.clerk_created_at = None;
        self.clerk_updated_at = None;
        self.deleted_at = Some(at);
        self.updated_at = now;
    }

    /// Overwrites the Clerk-owned fields with `data`.
    pub fn apply_clerk(&mut self, data: &ClerkMembershipData, now: UnixTime) {
        self.organization_clerk_id
            .clone_from(&data.organization_clerk_id);
        self.user_clerk_id.clone_from(&data.user_clerk_id);
        self.role.clone_from(&data.role);
        self.permissions.clone_from(&data.permissions);
        self.clerk_created_at = Some(data.created_at);
        self.clerk_updated_at = Some(data.updated_at);
        self.updated_at = now;
    }

    /// Ended.
    #[must_use]
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// What Clerk says about a membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClerkMembershipData {
    /// Clerk id (`orgmem_…`).
    pub clerk_id: String,
    /// The organization's Clerk id.
    pub organization_clerk_id: String,
    /// The user's Clerk id.
    pub user_clerk_id: String,
    /// Role key.
    pub role: String,
    /// Permission keys.
    pub permissions: Vec<String>,
    /// Clerk `created_at`.
    pub created_at: UnixTime,
    /// Clerk `updated_at`.
    pub updated_at: UnixTime,
}

impl ClerkMembershipData {
    /// Data for a membership of `user_clerk_id` in `organization_clerk_id` with `role`.
    #[must_use]
    pub fn new(
        clerk_id: impl Into<String>,
        organization_clerk_id: impl Into<String>,
        user_clerk_id: impl Into<String>,
        role: impl Into<String>,
        created_at: UnixTime,
        updated_at: UnixTime,
    ) -> Self {
        ClerkMembershipData {
            clerk_id: clerk_id.into(),
            organization_clerk_id: organization_clerk_id.into(),
            user_clerk_id: user_clerk_id.into(),
            role: role.into(),
            permissions: Vec::new(),
            created_at,
            updated_at,
        }
    }
}

/// The status of an organization invitation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvitationStatus {
    /// `pending`.
    Pending,
    /// `accepted`.
    Accepted,
    /// `revoked`.
    Revoked,
    /// `expired`.
    Expired,
    /// A status this version does not know, kept verbatim.
    Other(String),
}

impl InvitationStatus {
    /// The wire and column spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Revoked => "revoked",
            InvitationStatus::Expired => "expired",
            InvitationStatus::Other(s) => s,
        }
    }

    /// Parses the wire spelling; unknown statuses become [`InvitationStatus::Other`].
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => InvitationStatus::Pending,
            "accepted" => InvitationStatus::Accepted,
            "revoked" => InvitationStatus::Revoked,
            "expired" => InvitationStatus::Expired,
            other => InvitationStatus::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for InvitationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for InvitationStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InvitationStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(InvitationStatus::parse(&s))
    }
}

/// An invitation row of `clerk_organization_invitations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Clerk id (`orginv_…`); unique.
    pub clerk_id: String,
    /// The organization's Clerk id.
    pub organization_clerk_id: String,
    /// The invited user's Clerk id, when Clerk knows it (after acceptance).
    pub user_clerk_id: Option<String>,
    /// The invited address (`email_address`).
    pub email_address: String,
    /// Role key offered.
    pub role: String,
    /// Status.
    pub status: InvitationStatus,
    /// Clerk `created_at`.
    pub clerk_created_at: Option<UnixTime>,
    /// Clerk `updated_at`: orders upserts.
    pub clerk_updated_at: Option<UnixTime>,
    /// Local creation time.
    pub created_at: UnixTime,
    /// Local last change.
    pub updated_at: UnixTime,
}

impl Invitation {
    /// A new row mirroring `data`.
    #[must_use]
    pub fn from_clerk(data: &ClerkInvitationData, now: UnixTime) -> Self {
        let mut inv = Invitation {
            clerk_id: data.clerk_id.clone(),
            organization_clerk_id: String::new(),
            user_clerk_id: None,
            email_address: String::new(),
            role: String::new(),
            status: InvitationStatus::Pending,
            clerk_created_at: None,
            clerk_updated_at: None,
            created_at: now,
            updated_at: now,
        };
        inv.apply_clerk(data, now);
        inv
    }

    /// Overwrites the Clerk-owned fields with `data`.
    pub fn apply_clerk(&mut self, data: &ClerkInvitationData, now: UnixTime) {
        self.organization_clerk_id
            .clone_from(&data.organization_clerk_id);
        self.user_clerk_id.clone_from(&data.user_clerk_id);
        self.email_address.clone_from(&data.email_address);
        self.role.clone_from(&data.role);
        self.status.clone_from(&data.status);
        self.clerk_created_at = Some(data.created_at);
        self.clerk_updated_at = Some(data.updated_at);
        self.updated_at = now;
    }
}

/// What Clerk says about an invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClerkInvitationData {
    /// Clerk id (`orginv_…`).
    pub clerk_id: String,
    /// The organization's Clerk id.
    pub organization_clerk_id: String,
    /// The invited user's Clerk id, when known.
    pub user_clerk_id: Option<String>,
    /// Invited address.
    pub email_address: String,
    /// Role key offered.
    pub role: String,
    /// Status.
    pub status: InvitationStatus,
    /// Clerk `created_at`.
    pub created_at: UnixTime,
    /// Clerk `updated_at`.
    pub updated_at: UnixTime,
}

impl ClerkInvitationData {
    /// A pending invitation of `email_address` to `organization_clerk_id` as `role`.
    #[must_use]
    pub fn new(
        clerk_id: impl Into<String>,
        organization_clerk_id: impl Into<String>,
        email_address: impl Into<String>,
        role: impl Into<String>,
        created_at: UnixTime,
        updated_at: UnixTime,
    ) -> Self {
        ClerkInvitationData {
            clerk_id: clerk_id.into(),
            organization_clerk_id: organization_clerk_id.into(),
            user_clerk_id: None,
            email_address: email_address.into(),
            role: role.into(),
            status: InvitationStatus::Pending,
            created_at,
            updated_at,
        }
    }
}

/// Why a webhook delivery was held instead of applied in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HoldReason {
    /// The user's email is held by another live row that may not be linked (a local
    /// account, or a Clerk user whose own update has not arrived): the user was written
    /// without it.
    EmailConflict,
}

impl HoldReason {
    /// The stable name stored in the ledger and shown by `clerk webhooks failed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::EmailConflict => "email_conflict",
        }
    }

    /// The reason named `name` ([`HoldReason::as_str`]).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "email_conflict" => Some(HoldReason::EmailConflict),
            _ => None,
        }
    }
}

impl std::fmt::Display for HoldReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A webhook delivery acknowledged but held for an operator: a row of
/// `clerk_webhook_held`. It was answered 2xx (so Svix stops retrying), its receipt is in the
/// ledger, and what could not be applied is kept here until `clerk webhooks retry` re-applies
/// it ([`Change::ReleaseHeld`](crate::store::Change::ReleaseHeld)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HeldEvent {
    /// The delivery's svix id (its receipt is in `clerk_webhook_events`).
    pub svix_id: String,
    /// The Clerk event type, e.g. `user.created`.
    pub event_type: String,
    /// Why it was held.
    pub reason: HoldReason,
    /// What Clerk said about the user, in full (the email included): what a retry applies.
    pub user: ClerkUserData,
    /// When it was held (the batch's `now`).
    pub held_at: UnixTime,
    /// When a retry applied it; `None` while it is held.
    pub resolved_at: Option<UnixTime>,
}

impl HeldEvent {
    /// A held delivery, not yet resolved.
    #[must_use]
    pub fn new(
        svix_id: impl Into<String>,
        event_type: impl Into<String>,
        reason: HoldReason,
        user: ClerkUserData,
        held_at: UnixTime,
    ) -> Self {
        HeldEvent {
            svix_id: svix_id.into(),
            event_type: event_type.into(),
            reason,
            user,
            held_at,
            resolved_at: None,
        }
    }

    /// Whether a retry has applied it.
    #[must_use]
    pub fn is_resolved(&self) -> bool {
        self.resolved_at.is_some()
    }
}

/// A processed webhook delivery: a row of `clerk_webhook_events`, the dedup ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The `svix-id` (or `webhook-id`) header: unique.
    pub svix_id: String,
    /// The Clerk event type, e.g. `user.updated`.
    pub event_type: String,
    /// When it was applied (the batch's `now`).
    pub processed_at: UnixTime,
}

impl WebhookEvent {
    /// A ledger entry.
    #[must_use]
    pub fn new(
        svix_id: impl Into<String>,
        event_type: impl Into<String>,
        processed_at: UnixTime,
    ) -> Self {
        WebhookEvent {
            svix_id: svix_id.into(),
            event_type: event_type.into(),
            processed_at,
        }
    }
}

/// A Clerk session reported ended, removed or revoked: a row of `clerk_revoked_sessions`.
///
/// Session-mode adapters end such a session at its next request ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RevokedSession {
    /// Clerk session id (`sess_…`); unique.
    pub session_id: String,
    /// The session's user, when known.
    pub user_clerk_id: Option<String>,
    /// Clerk's session status: `ended`, `removed` or `revoked`.
    pub status: String,
    /// When Clerk reported it.
    pub revoked_at: UnixTime,
}

impl RevokedSession {
    /// A revoked-session entry.
    #[must_use]
    pub fn new(
        session_id: impl Into<String>,
        user_clerk_id: Option<String>,
        status: impl Into<String>,
        revoked_at: UnixTime,
    ) -> Self {
        RevokedSession {
            session_id: session_id.into(),
            user_clerk_id,
            status: status.into(),
            revoked_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> UnixTime {
        UnixTime::from_millis(ms)
    }

    #[test]
    fn clerk_data_never_touches_app_owned_fields() {
        let data = ClerkUserData::new("user_1", t(1), t(2)).with_email("a@example.com", true);
        let mut user = User::from_clerk(UserId(7), &data, t(10));
        user.is_staff = true;
        user.is_superuser = true;
        user.is_active = false;
        user.password_hash = Some("$argon2id$x".into());
        user.last_login = Some(t(5));
        let mut newer = data.clone();
        newer.updated_at = t(3);
        newer.first_name = Some("Ada".into());
        user.apply_clerk(&newer, t(20));
        assert!(user.is_staff && user.is_superuser && !user.is_active);
        assert_eq!(user.password_hash.as_deref(), Some("$argon2id$x"));
        assert_eq!(user.last_login, Some(t(5)));
        assert_eq!(user.created_at, t(10));
        assert_eq!(user.updated_at, t(20));
        assert_eq!(user.first_name.as_deref(), Some("Ada"));
        assert_eq!(user.clerk_updated_at, Some(t(3)));
    }

    #[test]
    fn deletion_leaves_the_same_row_in_any_order() {
        let data = ClerkUserData::new("user_1", t(1), t(2)).with_email("a@example.com", true);
        let mut seen = User::from_clerk(UserId(3), &data, t(0));
        seen.is_staff = true;
        seen.last_login = Some(t(1));
        seen.mark_deleted(t(5), t(6));
        let mut unseen = User::tombstone(UserId(3), "user_1", t(5), t(0));
        unseen.updated_at = t(6);
        unseen.is_staff = true;
        unseen.last_login = Some(t(1));
        assert_eq!(seen, unseen);
        assert!(seen.email.is_none() && !seen.is_active && seen.is_staff);

        let mut org =
            Organization::from_clerk(&ClerkOrganizationData::new("org_1", "O", t(1), t(2)), t(0));
        org.mark_deleted(t(5), t(6));
        let mut org_tomb = Organization::tombstone("org_1", t(5), t(6));
        org_tomb.created_at = t(0);
        assert_eq!(org, org_tomb);

        let data = ClerkMembershipData::new("m_1", "org_1", "user_1", "org:admin", t(1), t(2));
        let mut m = Membership::from_clerk(&data, t(0));
        m.mark_deleted(t(5), t(6));
        let mut m_tomb = Membership::tombstone("m_1", "org_1", "user_1", t(5), t(6));
        m_tomb.created_at = t(0);
        assert_eq!(m, m_tomb);
    }

    #[test]
    fn debug_redacts_password_hash() {
        let mut new = NewLocalUser::new("admin");
        new.password_hash = Some("$argon2id$secret".into());
        let user = User::from_local(UserId(1), &new, t(0));
        assert!(!format!("{user:?}").contains("secret"));
        assert!(!format!("{new:?}").contains("secret"));
        let patch = LocalUserPatch {
            password_hash: Some(Some("$argon2id$secret".into())),
            ..LocalUserPatch::default()
        };
        assert!(!format!("{patch:?}").contains("secret"));
    }

    #[test]
    fn full_name_joins_present_parts() {
        let mut user = User::from_local(UserId(1), &NewLocalUser::new("u"), t(0));
        assert_eq!(user.full_name(), None);
        user.last_name = Some("Lovelace".into());
        assert_eq!(user.full_name().as_deref(), Some("Lovelace"));
        user.first_name = Some("Ada".into());
        assert_eq!(user.full_name().as_deref(), Some("Ada Lovelace"));
        user.first_name = Some(" ".into());
        user.last_name = None;
        assert_eq!(user.full_name(), None, "blank parts are absent");
    }

    #[test]
    fn invitation_status_round_trips_unknown_values() {
        for s in ["pending", "accepted", "revoked", "expired", "bounced"] {
            let status = InvitationStatus::parse(s);
            assert_eq!(status.as_str(), s);
            let json = serde_json::to_string(&status).unwrap_or_default();
            assert_eq!(json, format!("\"{s}\""));
        }
        assert_eq!(
            InvitationStatus::parse("bounced"),
            InvitationStatus::Other("bounced".into())
        );
    }

    #[test]
    fn patch_reports_whether_anything_changed() {
        let mut user = User::from_local(UserId(1), &NewLocalUser::new("u"), t(0));
        let patch = LocalUserPatch {
            is_active: Some(true),
            ..LocalUserPatch::default()
        };
        assert!(!patch.apply_to(&mut user, t(5)));
        assert_eq!(user.updated_at, t(0));
        let patch = LocalUserPatch {
            is_staff: Some(true),
            ..LocalUserPatch::default()
        };
        assert!(patch.apply_to(&mut user, t(5)));
        assert!(user.is_staff);
        assert_eq!(user.updated_at, t(5));
    }
}
