//! [`SyncReport`], [`OrganizationSyncReport`] and [`Progress`].

use std::fmt;

/// What a sync did (or, in a dry run, would do) to one kind of object.
///
/// `fetched` counts objects received from Clerk; each is counted once more as `created`,
/// `updated`, `unchanged`, `gone` or `conflicts`. Time the call yourself for a duration:
/// the sync reads no clock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Objects received from the Backend API.
    pub fetched: u64,
    /// New local rows (users linked by email included).
    pub created: u64,
    /// Rows whose Clerk-owned fields were overwritten with newer data.
    pub updated: u64,
    /// Rows already holding data as new or newer (a re-run reports only these).
    pub unchanged: u64,
    /// Objects whose local row is a tombstone (deleted earlier): left alone.
    pub gone: u64,
    /// Objects refused by a uniqueness rule (an email held by another local row): not written.
    pub conflicts: u64,
    /// The Clerk ids of the first [`MAX_CONFLICT_IDS`](super::MAX_CONFLICT_IDS) conflicts.
    pub conflicted_ids: Vec<String>,
    /// Local rows deactivated (tombstoned) because their Clerk id no longer exists upstream.
    pub deactivated: u64,
    /// Listing pages received (the empty page that ends a listing included).
    pub pages: u64,
}

impl SyncReport {
    /// Whether the store changed (or, in a dry run, would change).
    #[must_use]
    pub fn changed(&self) -> bool {
        self.created + self.updated + self.deactivated > 0
    }
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fetched {}, created {}, updated {}, unchanged {}, gone {}, conflicts {}, deactivated {}, pages {}",
            self.fetched,
            self.created,
            self.updated,
            self.unchanged,
            self.gone,
            self.conflicts,
            self.deactivated,
            self.pages
        )
    }
}

/// What [`sync_organizations`](super::sync_organizations) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrganizationSyncReport {
    /// Organizations.
    pub organizations: SyncReport,
    /// Memberships (all zero unless memberships were synced).
    pub memberships: SyncReport,
}

impl fmt::Display for OrganizationSyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "organizations: {}; memberships: {}",
            self.organizations, self.memberships
        )
    }
}

/// Which kind of object a [`Progress`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectKind {
    /// Users.
    Users,
    /// Organizations.
    Organizations,
    /// Memberships (of all organizations, in the order of the organizations).
    Memberships,
}

/// Which part of a sync a [`Progress`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Walking the listing and writing its pages.
    Listing,
    /// Deactivating local rows missing upstream (after a complete listing).
    Deactivating,
    /// Done.
    Finished,
}

/// Reported to the progress callback after every page written (and at phase changes), for a
/// progress bar or log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// The kind of object.
    pub kind: ObjectKind,
    /// The phase.
    pub phase: Phase,
    /// Objects of this kind fetched so far.
    pub fetched: u64,
    /// The listing's `total_count`, for listings that send one (not users: call
    /// `BackendApi::count_users` for a progress bar's length).
    pub total: Option<u64>,
    /// The counts so far for this kind.
    pub report: SyncReport,
}

impl Progress {
    pub(crate) fn new(
        kind: ObjectKind,
        phase: Phase,
        total: Option<u64>,
        report: &SyncReport,
    ) -> Self {
        Progress {
            kind,
            phase,
            fetched: report.fetched,
            total,
            report: report.clone(),
        }
    }
}
