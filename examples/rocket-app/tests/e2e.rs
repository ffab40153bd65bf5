//! End to end: the built `rocket-app` binary as a process, driven over real HTTP by the test
//! kit's black-box contract suite (`clerk_testkit::contract`, the same suite and the same tests
//! that drive `axum-app`), against a mock Clerk, on a SQLite file and on PostgreSQL (a schema of
//! its own; skipped with a message when `CLERK_TEST_POSTGRES_URL` is unset).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

clerk_testkit::contract_e2e_tests!("rocket-app", env!("CARGO_BIN_EXE_rocket-app"));
