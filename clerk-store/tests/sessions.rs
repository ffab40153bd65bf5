//! The one session-store conformance suite (`clerk_core::flow::records::conformance`: expiry,
//! eviction, the per-`sid` bound, concurrent saves) against every shared backend:
//! `SqlSessionStore` on SQLite (a temporary file), PostgreSQL (a schema of its own) and
//! MySQL/MariaDB (a database of its own), and `RedisSessionStore` (a key prefix of its own).
//!
//! PostgreSQL, MySQL and Redis need `CLERK_TEST_POSTGRES_URL`, `CLERK_TEST_MYSQL_URL` and
//! `CLERK_TEST_REDIS_URL`; without one, its tests print a "skipping" line and pass.
#![allow(clippy::unwrap_used)]

#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "redis"
))]
use clerk_core::flow::records::conformance;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
use clerk_core::flow::records::{SessionStore, StoredSession};
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
use clerk_core::time::UnixTime;

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use clerk_store::{sqlx, SqlSessionStore, SqliteStore};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fresh_url() -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("clerk-store-sessions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("sessions-{n}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        format!("sqlite://{}", path.display())
    }

    async fn fresh_store() -> SqliteStore {
        let store = SqliteStore::connect(&fresh_url()).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    async fn rows(store: &SqliteStore) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM clerk_sessions")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_sessions_pass_the_conformance_suite() {
        let store = fresh_store().await;
        conformance::run(&store.session_store(), "sqlite").await;
        assert_eq!(rows(&store).await, 0, "the suite cleans up after itself");
    }

    /// Two pools on one file (two instances): a session saved by one loads in the other.
    #[tokio::test]
    async fn a_session_saved_by_one_instance_loads_in_another() {
        let url = fresh_url();
        let a = SqliteStore::connect(&url).await.unwrap();
        a.migrate().await.unwrap();
        let b = SqliteStore::connect(&url).await.unwrap();
        let now = UnixTime::from_secs(1_000);
        let session = StoredSession::new(b"x".to_vec(), None, UnixTime::from_secs(2_000));
        a.session_store().save("s1", session, now).await.unwrap();
        let loaded = b.session_store().load("s1", now).await.unwrap();
        assert_eq!(loaded.as_deref(), Some(&b"x"[..]));
    }

    /// Expired rows do not accumulate: every `SWEEP_EVERY`th save deletes expired ones.
    #[tokio::test]
    async fn saves_sweep_expired_rows_opportunistically() {
        let store = fresh_store().await;
        let sessions = store.session_store();
        let early = UnixTime::from_secs(1_000);
        for n in 0..10 {
            let session = StoredSession::new(b"e".to_vec(), None, UnixTime::from_secs(1_500));
            sessions
                .save(&format!("e{n}"), session, early)
                .await
                .unwrap();
        }
        let later = UnixTime::from_secs(2_000);
        let fresh = SqlSessionStore::SWEEP_EVERY - 10;
        for n in 0..fresh {
            let session = StoredSession::new(b"f".to_vec(), None, UnixTime::from_secs(3_000));
            sessions
                .save(&format!("f{n}"), session, later)
                .await
                .unwrap();
        }
        assert_eq!(
            rows(&store).await,
            i64::try_from(fresh).unwrap(),
            "the expired rows were swept"
        );
        assert_eq!(sessions.sweep(later).await.unwrap(), 0);
        assert_eq!(
            sessions.sweep(UnixTime::from_secs(3_000)).await.unwrap(),
            fresh
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use clerk_store::sqlx::postgres::PgPoolOptions;
    use clerk_store::PostgresStore;
    use clerk_testkit::postgres::{test_url, TestSchema};

    async fn store_on(schema: &TestSchema) -> PostgresStore {
        PostgresStore::connect_with(
            PgPoolOptions::new().max_connections(5),
            schema.connect_options(),
        )
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_sessions_pass_the_conformance_suite() {
        let Some(url) = test_url("postgres_sessions_pass_the_conformance_suite") else {
            return;
        };
        let schema = TestSchema::create(&url).await;
        let store = store_on(&schema).await;
        store.migrate().await.unwrap();
        conformance::run(&store.session_store(), "pg").await;
        let left: i64 = clerk_store::sqlx::query_scalar("SELECT COUNT(*) FROM clerk_sessions")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(left, 0);
        store.pool().close().await;
    }

    /// Two pools (two instances) on one database: a session saved by one loads in the other.
    #[tokio::test]
    async fn a_session_saved_by_one_instance_loads_in_another() {
        let Some(url) = test_url("a_session_saved_by_one_instance_loads_in_another") else {
            return;
        };
        let schema = TestSchema::create(&url).await;
        let a = store_on(&schema).await;
        a.migrate().await.unwrap();
        let b = store_on(&schema).await;
        let now = UnixTime::from_secs(1_000);
        let session = StoredSession::new(b"x".to_vec(), None, UnixTime::from_secs(2_000));
        a.session_store().save("s1", session, now).await.unwrap();
        let loaded = b.session_store().load("s1", now).await.unwrap();
        assert_eq!(loaded.as_deref(), Some(&b"x"[..]));
        a.pool().close().await;
        b.pool().close().await;
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use clerk_store::sqlx::{self, Connection, MySqlConnection};
    use clerk_store::MySqlStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql_sessions_pass_the_conformance_suite() {
        let url = match std::env::var("CLERK_TEST_MYSQL_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                println!("mysql_sessions_pass_the_conformance_suite: skipping: CLERK_TEST_MYSQL_URL not set");
                return;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let database = format!("clerk_test_sessions_{}_{nanos}", std::process::id());
        let mut admin = MySqlConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
        let store = MySqlStore::connect(&format!("{base}/{database}"))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let sessions = store.session_store();
        conformance::run(&sessions, "mysql").await;
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clerk_sessions")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(left, 0);
        let locks = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM clerk_store_locks WHERE kind = 5")
                .fetch_one(store.pool())
                .await
                .unwrap()
        };
        assert_eq!(
            locks().await,
            0,
            "deleting a sid's last record frees its lock row"
        );
        // So does sweeping it.
        let now = UnixTime::from_secs(1_000);
        let session = StoredSession::new(
            b"x".to_vec(),
            Some("sess_x".into()),
            UnixTime::from_secs(1_500),
        );
        sessions.save("x", session, now).await.unwrap();
        assert_eq!(locks().await, 1);
        assert_eq!(sessions.sweep(UnixTime::from_secs(1_500)).await.unwrap(), 1);
        assert_eq!(
            locks().await,
            0,
            "sweeping a sid's last record frees its lock row"
        );
        store.pool().close().await;
        sqlx::query(&format!("DROP DATABASE {database}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
    }
}

#[cfg(feature = "redis")]
mod redis_store {
    use super::*;
    use clerk_store::RedisSessionStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_sessions_pass_the_conformance_suite() {
        let url = match std::env::var("CLERK_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                println!("redis_sessions_pass_the_conformance_suite: skipping: CLERK_TEST_REDIS_URL not set");
                return;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let prefix = format!("clerk-test:sessions:{}:{nanos}:", std::process::id());
        let store = RedisSessionStore::builder(&url)
            .prefix(&prefix)
            .build()
            .unwrap();
        conformance::run(&store, "redis").await;
        // Nothing is left but the order counter and (expiring) per-sid indexes.
        let mut connection = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let records: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}s:*"))
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(records.is_empty(), "{records:?}");
        let indexed: u64 = redis::cmd("ZCARD")
            .arg(format!("{prefix}exp"))
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(indexed, 0);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut connection)
            .await
            .unwrap();
        if !keys.is_empty() {
            let mut del = redis::cmd("DEL");
            for key in &keys {
                del.arg(key);
            }
            let () = del.query_async(&mut connection).await.unwrap();
        }
    }

    /// A hung Redis (accepts connections, never answers) costs one timeout, then the store
    /// backs off: later calls fail at once, so session-mode requests answer 503 quickly
    /// instead of each waiting a timeout (the failure the old per-store connection code had).
    #[tokio::test]
    async fn a_redis_that_never_answers_costs_one_timeout_then_fails_at_once() {
        use clerk_core::flow::records::SessionStore as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let _hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let timeout = std::time::Duration::from_millis(200);
        let store = RedisSessionStore::builder(format!("redis://{address}"))
            .timeout(timeout)
            .reconnect_backoff(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        let now = clerk_core::time::UnixTime::from_secs(1_700_000_000);
        let started = std::time::Instant::now();
        assert!(store.load("a", now).await.is_err());
        assert!(
            started.elapsed() >= timeout,
            "the first call waits the timeout"
        );
        let started = std::time::Instant::now();
        for _ in 0..20 {
            let error = store.load("a", now).await.unwrap_err();
            assert!(error.0.contains("not reconnecting"), "{error}");
        }
        assert!(
            started.elapsed() < timeout,
            "20 calls within the back-off took {:?}: each waited",
            started.elapsed()
        );
    }
}
