//! `TestSchema` against a real server: connections opened from `database_url()` or
//! `connect_options()` land in the schema, and dropping it drops the schema.
//!
//! Needs `CLERK_TEST_POSTGRES_URL`; without it every test prints a "skipping" line and passes.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clerk_testkit::postgres::{test_url, TestSchema};
use sqlx::postgres::PgConnection;
use sqlx::Connection;

async fn schema_exists(server_url: &str, name: &str) -> bool {
    let mut conn = PgConnection::connect(server_url).await.unwrap();
    let (exists,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)",
    )
    .bind(name)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    exists
}

async fn table_schema(server_url: &str, table: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(server_url).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT table_schema::TEXT FROM information_schema.tables WHERE table_name = $1",
    )
    .bind(table)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    rows.into_iter().map(|(s,)| s).collect()
}

#[tokio::test]
async fn database_url_sessions_create_tables_in_the_schema() {
    let Some(url) = test_url("database_url_sessions_create_tables_in_the_schema") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let name = schema.name().to_owned();
    assert!(schema_exists(&url, &name).await);

    let mut conn = PgConnection::connect(&schema.database_url()).await.unwrap();
    let (current,): (String,) = sqlx::query_as("SELECT current_schema()::TEXT")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(current, name);
    // An unqualified CREATE TABLE lands in the schema, not in `public`.
    let table = format!("t_{name}");
    sqlx::query(&format!("CREATE TABLE {table} (id INT)"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert_eq!(table_schema(&url, &table).await, vec![name.clone()]);

    drop(schema);
    assert!(
        !schema_exists(&url, &name).await,
        "schema {name} not dropped"
    );
    assert!(table_schema(&url, &table).await.is_empty());
}

#[tokio::test]
async fn connect_options_sessions_use_the_schema() {
    let Some(url) = test_url("connect_options_sessions_use_the_schema") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let mut conn = PgConnection::connect_with(&schema.connect_options())
        .await
        .unwrap();
    let (current,): (String,) = sqlx::query_as("SELECT current_schema()::TEXT")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert_eq!(current, schema.name());
    assert_eq!(schema.server_url(), url);
}

#[tokio::test]
async fn database_url_keeps_an_existing_query() {
    let Some(url) = test_url("database_url_keeps_an_existing_query") else {
        return;
    };
    // The server URL already carries a query: the option is appended with `&`.
    let with_query = if url.contains('?') {
        format!("{url}&application_name=testkit_query")
    } else {
        format!("{url}?application_name=testkit_query")
    };
    let schema = TestSchema::create(&with_query).await;
    let database_url = schema.database_url();
    assert_eq!(database_url.matches('?').count(), 1, "{database_url}");
    let mut conn = PgConnection::connect(&database_url).await.unwrap();
    let (current, app): (String, String) =
        sqlx::query_as("SELECT current_schema()::TEXT, current_setting('application_name')")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    assert_eq!(current, schema.name());
    assert_eq!(app, "testkit_query");
}

#[tokio::test]
async fn two_schemas_have_distinct_names() {
    let Some(url) = test_url("two_schemas_have_distinct_names") else {
        return;
    };
    let a = TestSchema::create(&url).await;
    let b = TestSchema::create(&url).await;
    assert_ne!(a.name(), b.name());
}
