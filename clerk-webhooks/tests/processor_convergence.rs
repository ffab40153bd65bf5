//! Property, at the processor level: any permutation of a generated history of signed Clerk
//! deliveries (user creates, updates with increasing `updated_at`, deletes, a re-sign-up
//! with a deleted user's address, organization and membership versions and deletions, plus
//! replays of the same svix id) delivered through `WebhookProcessor::process` converges to
//! the state the in-order history leaves.
//!
//! A delivery answered 503 (an email still held by a user whose deletion has not arrived)
//! is redelivered after the others, as Svix does. Sessions are left out: a login for a
//! user the mirror does not know yet is not kept (`Effect::NotFound`), so it is
//! order-dependent by design.
//!
//! Compared: every user by Clerk id (all fields but the local id and local timestamps), the
//! organization, and the live memberships of every user (as in clerk-store's store-level
//! property test, `clerk-store/tests/convergence.rs`). The generator and the checker
//! live in `common/convergence.rs`; `processor_postgres.rs` runs the same property on
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod processor_support;

use common::convergence::{cases, converges, deliver, history, runtime, sign_all, Plan, UserPlan};
use processor_support::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_delivery_order_converges_on_memory((plan, order, replays) in cases()) {
        converges(memory_store, &plan, &order, &replays)?;
    }
}

proptest! {
    // Each case opens two database files: fewer cases than the memory run.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn any_delivery_order_converges_on_sqlite((plan, order, replays) in cases()) {
        converges(sqlite_store, &plan, &order, &replays)?;
    }
}

/// The in-order history itself leaves what the plan says (so the property is not vacuous).
#[test]
fn in_order_history_reaches_the_planned_state() {
    let plan = Plan {
        users: vec![
            UserPlan {
                versions: vec![(false, 1), (true, 2)],
                deleted: false,
            },
            UserPlan {
                versions: vec![(false, 3)],
                deleted: true,
            },
            UserPlan {
                versions: vec![(true, 0)],
                deleted: false,
            },
        ],
        successor: true,
        org_versions: 2,
        org_deleted: false,
        memberships: vec![(2, false), (1, true), (1, false)],
    };
    let clock = clock();
    let sender = sender(&clock);
    let deliveries = sign_all(&sender, &history(&plan));
    let v = runtime().block_on(async { deliver(memory_store().await, deliveries).await });
    assert!(v.users["user_0"].is_deleted());
    assert!(v.users["user_1"].is_deleted());
    let next = &v.users["user_next"];
    assert!(next.is_active && next.email.as_deref() == Some("b@u0.example"));
    assert_eq!(v.users["user_2"].first_name.as_deref(), Some("name0"));
    assert_eq!(v.organization.as_ref().unwrap().name, "Org v1");
    assert_eq!(v.memberships["user_0"][0].role, "org:admin");
    assert!(v.memberships["user_1"].is_empty());
    assert_eq!(v.memberships["user_2"].len(), 1);
}
