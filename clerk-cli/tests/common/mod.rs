//! Shared by the CLI test binaries: the built `clerk` with a clean environment, a mock Clerk
//! on its own thread, databases (a temp SQLite file or a PG schema) and row counts.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use assert_cmd::Command;
use clerk_store::sqlx::{self, Connection};
use clerk_store::{is_postgres_url, AnyStore};
use clerk_testkit::mock::MockClerk;
use clerk_testkit::postgres::TestSchema;

/// Every setting the binary reads: removed so the developer's environment cannot leak in.
const SETTINGS: &[&str] = &[
    "DATABASE_URL",
    "CLERK_SECRET_KEY",
    "CLERK_PUBLISHABLE_KEY",
    "CLERK_JWT_KEY",
    "CLERK_API_URL",
    "CLERK_API_TIMEOUT_MS",
    "CLERK_FRONTEND_HOSTS",
    "CLERK_AUTH_PARTIES",
    "CLERK_WEBHOOK_SIGNING_KEY",
    "CLERK_SUPERUSER_PASSWORD",
];

/// The built `clerk` binary, with none of its settings inherited.
pub fn clerk() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clerk"));
    for name in SETTINGS {
        command.env_remove(name);
    }
    command
}

/// A mock Clerk serving `users` generated users, on a thread of its own (the binary talks
/// to it from another process while the test blocks).
pub fn mock_with_users(users: u32) -> MockClerk {
    let mock = MockClerk::builder().start_blocking();
    mock.generate_users(users);
    mock
}

/// `clerk` pointed at `mock` and at `db`.
pub fn clerk_for(mock: &MockClerk, db: &Db) -> Command {
    let mut command = clerk();
    command
        .env("CLERK_API_URL", mock.url())
        .env("CLERK_SECRET_KEY", mock.secret_key())
        .env("DATABASE_URL", db.url());
    command
}

/// A database for one test: a SQLite file in a fresh directory, or a PG schema.
pub enum Db {
    /// The directory (removed on drop) and the URL of `app.db` in it.
    Sqlite { dir: PathBuf, url: String },
    /// A schema of its own.
    Postgres(TestSchema),
}

impl Db {
    /// A fresh SQLite database named after the test.
    pub fn sqlite(test: &str) -> Db {
        let dir = std::env::temp_dir().join(format!("clerk-cli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("app.db").display());
        Db::Sqlite { dir, url }
    }

    /// A fresh PG schema on `server_url`.
    pub fn postgres(server_url: &str) -> Db {
        Db::Postgres(block_on(TestSchema::create(server_url)))
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> String {
        match self {
            Db::Sqlite { url, .. } => url.clone(),
            Db::Postgres(schema) => schema.database_url(),
        }
    }

    /// Runs `clerk migrate` on it and expects success.
    pub fn migrate(&self) {
        clerk()
            .args(["migrate", "--database-url", &self.url()])
            .assert()
            .success();
    }

    /// The single integer `sql` returns (a `count(*)`, say).
    pub fn scalar(&self, sql: &str) -> i64 {
        let url = self.url();
        let sql = sql.to_owned();
        block_on(async move {
            if is_postgres_url(&url) {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                n
            } else {
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                n
            }
        })
    }

    /// Rows in `clerk_users`.
    pub fn users(&self) -> i64 {
        self.scalar("SELECT count(*) FROM clerk_users")
    }

    /// The store, for reads through the store traits.
    pub fn store(&self) -> AnyStore {
        block_on(AnyStore::connect(&self.url())).unwrap()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Sqlite { dir, .. } = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs `future` on the test binary's one runtime (tests here are synchronous). One runtime
/// for all, not one per call: a store's connection pool keeps tasks on the runtime that
/// opened it, and a pool used after its runtime shut down fails ("being shutdown").
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap()
        })
        .block_on(future)
}

/// stdout of a finished command, as text.
pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of a finished command, as text.
pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
pub mod scenarios;
