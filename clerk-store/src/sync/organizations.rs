//! [`sync_organizations`] (and their memberships).

use std::collections::HashSet;

use clerk_core::backend_api::{ApiError, BackendApi, PageParams};
use clerk_core::model::{ClerkMembershipData, ClerkOrganizationData};
use clerk_core::store::rules::{self, Upsert};
use clerk_core::store::{Change, Store, StoreError};

use super::{
    api_error, store_error, write_page, ObjectKind, OrganizationSyncReport, Phase, Progress,
    SyncError, SyncOptions, SyncReport,
};

const LISTING: &str = "listing organizations";
const WRITING: &str = "writing organizations";

/// Mirrors every Clerk organization into `store` — `GET /v1/organizations` page by page,
/// oldest first, each page one batch of [`Change::UpsertOrganization`] — and, with
/// `with_memberships`, after each page of organizations the memberships of each of them
/// (`GET /v1/organizations/{id}/memberships`, one batch of [`Change::UpsertMembership`] per
/// page). An organization deleted between its listing and its memberships' (404) is skipped.
///
/// With [`SyncOptions::deactivate_missing`]: after an organization's complete membership
/// listing, its live local memberships that Clerk did not list are ended
/// ([`Change::DeleteMembership`]); after the complete organization listing, live local
/// organizations Clerk did not list, and confirmed gone (their memberships listing answers
/// 404), are tombstoned ([`Change::DeleteOrganization`], which also ends their memberships).
///
/// # Errors
/// As [`sync_users`](super::sync_users): [`SyncError::Api`] (nothing more is written, nothing
/// is deactivated after it) or [`SyncError::Store`].
pub async fn sync_organizations<S: Store>(
    api: &BackendApi,
    store: &S,
    options: SyncOptions,
    with_memberships: bool,
    mut progress: impl FnMut(Progress),
) -> Result<OrganizationSyncReport, SyncError> {
    let mut report = OrganizationSyncReport::default();
    let mut pager = api
        .organizations_pager(options.page_size)
        .map_err(api_error(LISTING, 0))?;
    let mut seen: HashSet<String> = HashSet::new();
    // A short page ends the listing without another request; an empty page is one.
    while !pager.is_done() {
        let offset = pager.offset();
        let Some(page) = pager
            .next_page()
            .await
            .map_err(api_error(LISTING, offset))?
        else {
            report.organizations.pages += 1;
            break;
        };
        report.organizations.pages += 1;
        report.organizations.fetched += page.len() as u64;
        let ids: Vec<String> = page.iter().map(|org| org.id.clone()).collect();
        if options.deactivate_missing {
            seen.extend(ids.iter().cloned());
        }
        let changes: Vec<Change> = page
            .into_iter()
            .map(|org| Change::UpsertOrganization(ClerkOrganizationData::from(org)))
            .collect();
        if options.dry_run {
            predict(store, &changes, &mut report.organizations)
                .await
                .map_err(store_error(WRITING, offset))?;
        } else {
            write_page(
                store,
                options.now,
                changes,
                &mut report.organizations,
                WRITING,
                offset,
            )
            .await?;
        }
        progress(Progress::new(
            ObjectKind::Organizations,
            Phase::Listing,
            pager.total_count(),
            &report.organizations,
        ));
        if with_memberships {
            for id in &ids {
                sync_memberships_of(api, store, &options, id, &mut report.memberships).await?;
                progress(Progress::new(
                    ObjectKind::Memberships,
                    Phase::Listing,
                    None,
                    &report.memberships,
                ));
            }
        }
    }
    let total = pager.total_count();
    if options.deactivate_missing {
        progress(Progress::new(
            ObjectKind::Organizations,
            Phase::Deactivating,
            total,
            &report.organizations,
        ));
        deactivate_missing_organizations(api, store, &options, &seen, &mut report.organizations)
            .await?;
    }
    progress(Progress::new(
        ObjectKind::Organizations,
        Phase::Finished,
        total,
        &report.organizations,
    ));
    Ok(report)
}

/// Syncs the memberships of one organization into `report`.
async fn sync_memberships_of<S: Store>(
    api: &BackendApi,
    store: &S,
    options: &SyncOptions,
    organization_id: &str,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let listing = format!("listing memberships of {organization_id}");
    let writing = format!("writing memberships of {organization_id}");
    let mut pager = api
        .memberships_pager(organization_id, options.page_size)
        .map_err(api_error(listing.as_str(), 0))?;
    let mut seen: HashSet<String> = HashSet::new();
    // A short page ends the listing without another request; an empty page is one.
    while !pager.is_done() {
        let offset = pager.offset();
        let page = match pager.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => {
                report.pages += 1;
                break;
            }
            // Deleted since it was listed: its `organization.deleted` (or the next sync's
            // deactivation) ends the memberships.
            Err(ApiError::NotFound { .. }) if offset == 0 => return Ok(()),
            Err(error) => return Err(api_error(listing.as_str(), offset)(error)),
        };
        report.pages += 1;
        report.fetched += page.len() as u64;
        let changes: Vec<Change> = page
            .into_iter()
            .map(|m| {
                if options.deactivate_missing {
                    seen.insert(m.id.clone());
                }
                Change::UpsertMembership(ClerkMembershipData::from(m))
            })
            .collect();
        if options.dry_run {
            predict(store, &changes, report)
                .await
                .map_err(store_error(writing.as_str(), offset))?;
        } else {
            write_page(store, options.now, changes, report, &writing, offset).await?;
        }
    }
    if !options.deactivate_missing {
        return Ok(());
    }
    // This organization's listing is complete: end the live memberships it did not list.
    let local = store
        .memberships_of_organization(organization_id)
        .await
        .map_err(store_error(writing.as_str(), 0))?;
    let changes: Vec<Change> = local
        .into_iter()
        .filter(|m| !m.is_deleted() && !seen.contains(&m.clerk_id))
        .map(|m| Change::DeleteMembership {
            clerk_id: m.clerk_id,
            organization_clerk_id: m.organization_clerk_id,
            user_clerk_id: m.user_clerk_id,
            at: options.now,
        })
        .collect();
    if options.dry_run {
        report.deactivated += changes.len() as u64;
        Ok(())
    } else {
        write_page(store, options.now, changes, report, &writing, 0).await
    }
}

/// Tombstones live local organizations absent from `seen` and confirmed gone upstream.
async fn deactivate_missing_organizations<S: Store>(
    api: &BackendApi,
    store: &S,
    options: &SyncOptions,
    seen: &HashSet<String>,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    const CONTEXT: &str = "deactivating organizations missing upstream";
    let page_size = options.page_size as usize;
    let probe = PageParams::first(1).map_err(api_error(CONTEXT, 0))?;
    let mut after: Option<String> = None;
    let mut scanned: u64 = 0;
    loop {
        let rows = store
            .list_organizations(after.as_deref(), page_size)
            .await
            .map_err(store_error(CONTEXT, scanned))?;
        let Some(last) = rows.last() else {
            break;
        };
        after = Some(last.clerk_id.clone());
        let mut changes = Vec::new();
        for row in rows
            .iter()
            .filter(|row| !row.is_deleted() && !seen.contains(&row.clerk_id))
        {
            // No `GET /v1/organizations/{id}` in the client: its memberships listing answers
            // 404 exactly when the organization does not exist.
            match api.list_memberships(&row.clerk_id, probe).await {
                Err(ApiError::NotFound { .. }) => changes.push(Change::DeleteOrganization {
                    clerk_id: row.clerk_id.clone(),
                    at: options.now,
                }),
                // Still there (skipped by the offset paging): left for the next sync.
                Ok(_) => {}
                Err(error) => return Err(api_error(CONTEXT, 0)(error)),
            }
        }
        if options.dry_run {
            report.deactivated += changes.len() as u64;
        } else {
            write_page(store, options.now, changes, report, CONTEXT, scanned).await?;
        }
        scanned += rows.len() as u64;
    }
    Ok(())
}

/// Counts what organization or membership upserts would do, reading the store only.
async fn predict<S: Store>(
    store: &S,
    changes: &[Change],
    report: &mut SyncReport,
) -> Result<(), StoreError> {
    for change in changes {
        let decision = match change {
            Change::UpsertOrganization(data) => {
                let existing = store.organization(&data.clerk_id).await?;
                rules::ordered_upsert(
                    existing.map(|o| (o.is_deleted(), o.clerk_updated_at)),
                    data.updated_at,
                )
            }
            Change::UpsertMembership(data) => {
                let organization_gone = store
                    .organization(&data.organization_clerk_id)
                    .await?
                    .is_some_and(|o| o.is_deleted());
                if organization_gone {
                    Upsert::Gone
                } else {
                    let existing = store.membership(&data.clerk_id).await?;
                    rules::ordered_upsert(
                        existing.map(|m| (m.is_deleted(), m.clerk_updated_at)),
                        data.updated_at,
                    )
                }
            }
            _ => continue,
        };
        match decision {
            Upsert::Insert => report.created += 1,
            Upsert::Update => report.updated += 1,
            Upsert::Unchanged => report.unchanged += 1,
            Upsert::Gone => report.gone += 1,
        }
    }
    Ok(())
}
