//! The built `clerk` binary on PostgreSQL: each test in its own schema, passed to the binary
//! as `DATABASE_URL` (`TestSchema::database_url`, `options=-c search_path=<schema>`).
//!
//! Needs `CLERK_TEST_POSTGRES_URL`; without it every test prints a "skipping" line and passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clerk_testkit::postgres::test_url;
use common::{scenarios, Db};

macro_rules! on_postgres {
    ($($name:ident => $scenario:path),* $(,)?) => {$(
        #[test]
        fn $name() {
            let Some(url) = test_url(stringify!($name)) else { return };
            let db = Db::postgres(&url);
            $scenario(&db);
        }
    )*};
}

on_postgres! {
    migrate_on_postgres => scenarios::migrate_twice,
    sync_users_on_postgres_then_rerun_changes_nothing => scenarios::sync_users_then_rerun_changes_nothing,
    dry_run_on_postgres_writes_nothing => scenarios::dry_run_writes_nothing,
    deactivate_missing_on_postgres => scenarios::deactivate_missing,
    server_error_on_a_page_on_postgres => scenarios::server_error_on_a_page,
    createsuperuser_on_postgres => scenarios::createsuperuser,
}

/// The tables land in the test's schema, not in `public`: the URL really selects it.
#[test]
fn migrate_creates_the_tables_in_the_url_s_schema() {
    let Some(url) = test_url("migrate_creates_the_tables_in_the_url_s_schema") else {
        return;
    };
    let db = Db::postgres(&url);
    db.migrate();
    let Db::Postgres(schema) = &db else {
        unreachable!()
    };
    let in_schema = db.scalar(&format!(
        "SELECT count(*) FROM information_schema.tables \
         WHERE table_schema = '{}' AND table_name = 'clerk_users'",
        schema.name()
    ));
    assert_eq!(in_schema, 1);
}
