//! Stores on a per-test PostgreSQL schema ([`clerk_testkit::postgres::TestSchema`], from
//! `CLERK_TEST_POSTGRES_URL`): tests run in parallel without seeing each other's rows.
#![allow(dead_code, unreachable_pub, unused_imports)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clerk_store::sqlx::postgres::PgPoolOptions;
use clerk_store::PostgresStore;
pub use clerk_testkit::postgres::{test_url, TestSchema, CLOSED_URL, URL_VAR};

/// A new store with its own pool of up to `connections` (another "process") on `schema`,
/// not migrated.
pub async fn store_with(schema: &TestSchema, connections: u32) -> PostgresStore {
    PostgresStore::connect_with(
        PgPoolOptions::new().max_connections(connections),
        schema.connect_options(),
    )
    .await
    .unwrap()
}

/// [`store_with`] 5 connections.
pub async fn store(schema: &TestSchema) -> PostgresStore {
    store_with(schema, 5).await
}

/// A new store on `schema`, migrated.
pub async fn migrated(schema: &TestSchema) -> PostgresStore {
    let store = store(schema).await;
    store.migrate().await.unwrap();
    store
}
