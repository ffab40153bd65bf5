//! The whole conformance suite against [`MemoryStore`], one test per case.
#![allow(clippy::unwrap_used)]

use clerk_store::MemoryStore;

async fn fresh_store() -> MemoryStore {
    MemoryStore::new()
}

clerk_core::store_conformance_tests!(fresh_store);

/// The suite also runs as one sequence, sharing nothing between cases.
#[tokio::test]
async fn run_all_cases_in_one_go() {
    clerk_core::store::conformance::run_all(fresh_store).await;
}

/// Clones share the data.
#[tokio::test]
async fn clones_share_state() {
    use clerk_core::model::ClerkUserData;
    use clerk_core::store::{Change, LinkPolicy, StoreWriter, UserStore, WriteBatch};
    use clerk_core::time::UnixTime;

    let a = MemoryStore::new();
    let b = a.clone();
    let now = UnixTime::from_secs(1);
    let data = ClerkUserData::new("user_1", now, now);
    let _ = a
        .apply(WriteBatch::single(
            now,
            Change::UpsertUser {
                data,
                link: LinkPolicy::Never,
            },
        ))
        .await
        .unwrap();
    assert!(b.user_by_clerk_id("user_1").await.unwrap().is_some());
}

/// The suite through a type-erased `Arc<dyn Store>`.
mod dyn_store {
    use std::sync::Arc;

    use clerk_core::store::Store;
    use clerk_store::MemoryStore;

    async fn fresh_store() -> Arc<dyn Store> {
        Arc::new(MemoryStore::new())
    }

    clerk_core::store_conformance_tests!(fresh_store);
}
