//! [`sync_users`].

use std::collections::HashSet;

use clerk_core::backend_api::{ApiError, BackendApi, UserOrder};
use clerk_core::model::{ClerkUserData, UserId};
use clerk_core::store::rules::{self, UserUpsert};
use clerk_core::store::{Change, Store, StoreError};

use super::{
    api_error, store_error, write_page, ObjectKind, Phase, Progress, SyncError, SyncOptions,
    SyncReport,
};

const LISTING: &str = "listing users";
const WRITING: &str = "writing users";

/// Mirrors every Clerk user into `store` (see the [module docs](super) for the rules):
/// `GET /v1/users` page by page, oldest first, each page one batch of
/// [`Change::UpsertUser`]; then, with [`SyncOptions::deactivate_missing`] and only after the
/// whole listing succeeded, tombstones the local users whose Clerk id is gone upstream
/// (each confirmed by a 404 from `GET /v1/users/{id}` first). Local (password) users are
/// never touched.
///
/// `progress` is called after every page and at phase changes.
///
/// # Errors
/// [`SyncError::Api`] when a request fails after the client's retries or a page is malformed
/// (that page writes nothing, and nothing is deactivated); [`SyncError::Store`] when a batch
/// fails (it wrote nothing). Pages written before the error stay written.
pub async fn sync_users<S: Store>(
    api: &BackendApi,
    store: &S,
    options: SyncOptions,
    mut progress: impl FnMut(Progress),
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    let mut pager = api
        .users_pager(UserOrder::CreatedAtAsc, options.page_size)
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
            report.pages += 1;
            break;
        };
        report.pages += 1;
        report.fetched += page.len() as u64;
        let changes: Vec<Change> = page
            .into_iter()
            .map(|user| {
                if options.deactivate_missing {
                    seen.insert(user.id.clone());
                }
                Change::UpsertUser {
                    data: ClerkUserData::from(user),
                    link: options.link,
                }
            })
            .collect();
        if options.dry_run {
            predict(store, &changes, &mut report)
                .await
                .map_err(store_error(WRITING, offset))?;
        } else {
            write_page(store, options.now, changes, &mut report, WRITING, offset).await?;
        }
        progress(Progress::new(
            ObjectKind::Users,
            Phase::Listing,
            None,
            &report,
        ));
    }
    // The listing ran to its end without an error: only now may missing users be deactivated.
    if options.deactivate_missing {
        progress(Progress::new(
            ObjectKind::Users,
            Phase::Deactivating,
            None,
            &report,
        ));
        deactivate_missing(api, store, &options, &seen, &mut report).await?;
    }
    progress(Progress::new(
        ObjectKind::Users,
        Phase::Finished,
        None,
        &report,
    ));
    Ok(report)
}

/// Counts what `changes` (user upserts) would do, reading the store only.
async fn predict<S: Store>(
    store: &S,
    changes: &[Change],
    report: &mut SyncReport,
) -> Result<(), StoreError> {
    for change in changes {
        let Change::UpsertUser { data, link } = change else {
            continue;
        };
        let existing = store.user_by_clerk_id(&data.clerk_id).await?;
        let email_holder = match &data.email {
            Some(email) => store.user_by_email(email).await?,
            None => None,
        };
        match rules::user_upsert(existing.as_ref(), email_holder.as_ref(), data, *link) {
            Ok(UserUpsert::Insert | UserUpsert::Link(_)) => report.created += 1,
            Ok(UserUpsert::Update(_)) => report.updated += 1,
            Ok(UserUpsert::Unchanged(_)) => report.unchanged += 1,
            Ok(UserUpsert::Gone(_)) => report.gone += 1,
            Err(StoreError::Conflict(_)) => report.conflict(data.clerk_id.clone()),
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Walks the local users by id and tombstones (or, in a dry run, counts) those holding a
/// Clerk id absent from `seen`, after confirming each is gone upstream.
async fn deactivate_missing<S: Store>(
    api: &BackendApi,
    store: &S,
    options: &SyncOptions,
    seen: &HashSet<String>,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    const CONTEXT: &str = "deactivating users missing upstream";
    let page_size = options.page_size as usize;
    let mut after: Option<UserId> = None;
    let mut scanned: u64 = 0;
    loop {
        let rows = store
            .list_users(after, page_size)
            .await
            .map_err(store_error(CONTEXT, scanned))?;
        let Some(last) = rows.last() else {
            break;
        };
        after = Some(last.id);
        let candidates: Vec<String> = rows
            .iter()
            .filter(|row| !row.is_deleted())
            .filter_map(|row| row.clerk_id.as_deref())
            .filter(|clerk_id| !seen.contains(*clerk_id))
            .map(str::to_owned)
            .collect();
        let mut changes = Vec::with_capacity(candidates.len());
        for clerk_id in candidates {
            match api.get_user(&clerk_id).await {
                Err(ApiError::NotFound { .. }) => changes.push(Change::DeleteUser {
                    clerk_id,
                    at: options.now,
                }),
                // Skipped by the offset paging (another user was deleted during the walk):
                // it exists, so it is upserted, not deactivated.
                Ok(user) => {
                    report.fetched += 1;
                    changes.push(Change::UpsertUser {
                        data: ClerkUserData::from(user),
                        link: options.link,
                    });
                }
                Err(error) => return Err(api_error(CONTEXT, 0)(error)),
            }
        }
        if options.dry_run {
            for change in &changes {
                if matches!(change, Change::DeleteUser { .. }) {
                    report.deactivated += 1;
                }
            }
            predict(store, &changes, report)
                .await
                .map_err(store_error(CONTEXT, scanned))?;
        } else {
            write_page(store, options.now, changes, report, CONTEXT, scanned).await?;
        }
        scanned += rows.len() as u64;
    }
    Ok(())
}
