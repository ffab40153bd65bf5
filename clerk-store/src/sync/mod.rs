//! Sync: mirror Clerk's users, organizations and memberships into a [`Store`] from the
//! Backend API (what `clerk sync users` and `clerk sync organizations [--memberships]` run).
//!
//! - **Paging**: listings are walked `page_size` (500 by default, Clerk's maximum) at a time,
//!   oldest first (`order_by=created_at`), so offsets stay stable while objects are added.
//! - **One batch per page**: each page becomes one [`WriteBatch`] of upserts
//!   ([`Change::UpsertUser`], [`Change::UpsertOrganization`], [`Change::UpsertMembership`])
//!   applied all-or-nothing, through the same ordered-upsert rules as webhooks: data whose
//!   Clerk `updated_at` is not newer than the stored row's changes nothing. Hence re-running a
//!   sync changes nothing, a sync racing webhooks ends in the newest state, and an interrupted
//!   sync is resumed by simply running it again (pages already committed report `unchanged`).
//!   The one exception to "one batch": when a page's batch is refused for a uniqueness
//!   conflict (an email held by a local row, say), the page is re-applied change by change so
//!   one user cannot block the others; the refused ones are counted in
//!   [`SyncReport::conflicts`] and named (first [`MAX_CONFLICT_IDS`]) in
//!   [`SyncReport::conflicted_ids`].
//! - **Errors**: an API error (after the client's own retries of 429 and 5xx) or a malformed
//!   page stops the sync with a [`SyncError`] naming the endpoint and the listing offset; the
//!   failed page writes nothing (pages before it stay committed).
//! - **Dry run** ([`SyncOptions::dry_run`]): the same listing, but each object is compared
//!   with the store (reads only, the same [`rules`](clerk_core::store::rules)) and counted as
//!   it would be; nothing is written.
//! - **Deactivate missing** ([`SyncOptions::deactivate_missing`]): only after a complete,
//!   successful listing, local rows holding a Clerk id that the listing did not return are
//!   treated like a missed Clerk deletion — the store's tombstone ([`Change::DeleteUser`],
//!   [`Change::DeleteOrganization`], [`Change::DeleteMembership`]: inactive, `deleted_at`
//!   set, Clerk-owned fields and the email cleared; application-owned fields kept). Offset
//!   paging can skip an object when another one is deleted during the walk, so every
//!   candidate is first confirmed gone by a direct request (`GET /v1/users/{id}` answering
//!   404; for an organization, its memberships listing answering 404); a user that turns out
//!   to exist is upserted instead. Local (password) users, which have no Clerk id, are never
//!   touched.
//! - **Memory**: only the current page is held, plus — for `deactivate_missing` — the set of
//!   Clerk ids seen (a `HashSet<String>`; 100,000 ids take a few MB).
//! - **No clock reads**: the instant written as local `created_at`/`updated_at` (and as the
//!   deletion time of deactivated rows) is [`SyncOptions::new`]'s `now`; time the call
//!   yourself for a duration.
//!
//! ```no_run
//! # async fn run(api: clerk_core::backend_api::BackendApi, store: clerk_store::MemoryStore)
//! # -> Result<(), clerk_store::sync::SyncError> {
//! use clerk_core::time::UnixTime;
//! use clerk_store::sync::{sync_users, SyncOptions};
//!
//! let options = SyncOptions::new(UnixTime::from_secs(1_700_000_000)).deactivate_missing(true);
//! let report = sync_users(&api, &store, options, |p| eprintln!("{} users fetched", p.fetched)).await?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```

mod organizations;
mod report;
mod users;

pub use organizations::sync_organizations;
pub use report::{ObjectKind, OrganizationSyncReport, Phase, Progress, SyncReport};
pub use users::sync_users;

use clerk_core::backend_api::{ApiError, MAX_PAGE_LIMIT};
use clerk_core::store::{Change, Effect, LinkPolicy, Store, StoreError, WriteBatch};
use clerk_core::time::UnixTime;

/// How many conflicting Clerk ids a [`SyncReport`] names (the count is always complete).
pub const MAX_CONFLICT_IDS: usize = 100;

/// What a sync does besides upserting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncOptions {
    /// The instant written as local `created_at`/`updated_at` and as the deletion time of
    /// deactivated rows (the caller's clock: the sync never reads one).
    pub now: UnixTime,
    /// Report what would change without writing anything.
    pub dry_run: bool,
    /// After a complete, successful listing, deactivate (tombstone) local rows whose Clerk id
    /// no longer exists upstream.
    pub deactivate_missing: bool,
    /// Objects per request and per batch, `1..=500` (default 500).
    pub page_size: u32,
    /// Linking of new Clerk users to local rows holding their email ([`LinkPolicy::Never`]
    /// by default, as for webhooks).
    pub link: LinkPolicy,
}

impl SyncOptions {
    /// Upsert only, pages of 500, no linking, writing `now` as the local instant.
    #[must_use]
    pub fn new(now: UnixTime) -> Self {
        SyncOptions {
            now,
            dry_run: false,
            deactivate_missing: false,
            page_size: MAX_PAGE_LIMIT,
            link: LinkPolicy::Never,
        }
    }

    /// Sets [`SyncOptions::dry_run`].
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets [`SyncOptions::deactivate_missing`].
    #[must_use]
    pub fn deactivate_missing(mut self, deactivate_missing: bool) -> Self {
        self.deactivate_missing = deactivate_missing;
        self
    }

    /// Sets [`SyncOptions::page_size`] (checked when the sync starts).
    #[must_use]
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// Sets [`SyncOptions::link`].
    #[must_use]
    pub fn link(mut self, link: LinkPolicy) -> Self {
        self.link = link;
        self
    }
}

/// Why a sync stopped. Pages committed before the failure stay; running the sync again
/// resumes it (committed pages change nothing the second time).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A Backend API request failed (after the client's retries) or answered something that
    /// is not a valid page. The error names the endpoint; `offset` is the listing offset of
    /// the page asked for (0 for requests that are not a listing page).
    #[error("{context} at offset {offset}: {error}")]
    Api {
        /// What the sync was doing, e.g. `listing users` or `listing memberships of org_1`.
        context: String,
        /// The listing offset of the failed page.
        offset: u64,
        /// The API error (it names the endpoint and keeps Clerk's error body).
        error: ApiError,
    },
    /// The store refused or failed a batch; that batch wrote nothing.
    #[error("{context} at offset {offset}: {error}")]
    Store {
        /// What the sync was writing, e.g. `writing users`.
        context: String,
        /// The listing offset of the page whose batch failed.
        offset: u64,
        /// The store error ([`StoreError::is_retryable`] says whether a re-run may succeed).
        error: StoreError,
    },
}

impl SyncError {
    /// The API error, when the sync stopped on one.
    #[must_use]
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            SyncError::Api { error, .. } => Some(error),
            SyncError::Store { .. } => None,
        }
    }

    /// The store error, when the sync stopped on one.
    #[must_use]
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            SyncError::Store { error, .. } => Some(error),
            SyncError::Api { .. } => None,
        }
    }

    /// The listing offset of the page the sync stopped at.
    #[must_use]
    pub fn offset(&self) -> u64 {
        match self {
            SyncError::Api { offset, .. } | SyncError::Store { offset, .. } => *offset,
        }
    }
}

fn api_error(context: impl Into<String>, offset: u64) -> impl FnOnce(ApiError) -> SyncError {
    let context = context.into();
    move |error| SyncError::Api {
        context,
        offset,
        error,
    }
}

fn store_error(context: impl Into<String>, offset: u64) -> impl FnOnce(StoreError) -> SyncError {
    let context = context.into();
    move |error| SyncError::Store {
        context,
        offset,
        error,
    }
}

/// The Clerk id a change is about (for conflict reports).
fn change_id(change: &Change) -> String {
    match change {
        Change::UpsertUser { data, .. } => data.clerk_id.clone(),
        Change::UpsertOrganization(data) => data.clerk_id.clone(),
        Change::UpsertMembership(data) => data.clerk_id.clone(),
        Change::DeleteUser { clerk_id, .. }
        | Change::DeleteOrganization { clerk_id, .. }
        | Change::DeleteMembership { clerk_id, .. } => clerk_id.clone(),
        _ => String::new(),
    }
}

/// Applies one page's changes as one batch and counts the effects into `report`. A batch
/// refused for a uniqueness conflict is re-applied change by change, counting the refused
/// changes as conflicts.
async fn write_page<S: Store>(
    store: &S,
    now: UnixTime,
    changes: Vec<Change>,
    report: &mut SyncReport,
    context: &str,
    offset: u64,
) -> Result<(), SyncError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut batch = WriteBatch::new(now);
    batch.changes = changes;
    let changes = match store.apply(batch.clone()).await {
        Ok(outcome) => {
            for applied in outcome.applied() {
                report.count(applied.effect);
            }
            return Ok(());
        }
        Err(StoreError::Conflict(_)) => batch.changes,
        Err(error) => return Err(store_error(context, offset)(error)),
    };
    for change in changes {
        let id = change_id(&change);
        match store.apply(WriteBatch::single(now, change)).await {
            Ok(outcome) => {
                for applied in outcome.applied() {
                    report.count(applied.effect);
                }
            }
            Err(StoreError::Conflict(_)) => report.conflict(id),
            Err(error) => return Err(store_error(context, offset)(error)),
        }
    }
    Ok(())
}

impl SyncReport {
    fn count(&mut self, effect: Effect) {
        match effect {
            Effect::Created | Effect::Linked => self.created += 1,
            Effect::Updated => self.updated += 1,
            Effect::Deleted => self.deactivated += 1,
            Effect::Gone => self.gone += 1,
            _ => self.unchanged += 1,
        }
    }

    fn conflict(&mut self, id: String) {
        self.conflicts += 1;
        if self.conflicted_ids.len() < MAX_CONFLICT_IDS {
            self.conflicted_ids.push(id);
        }
    }
}
