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
//! property test, `crates/clerk-store/tests/convergence.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod processor_support;

use std::collections::BTreeMap;

use clerk_core::model::{Membership, Organization, User, UserId};
use clerk_core::store::Store;
use clerk_core::time::UnixTime;
use clerk_testkit::webhooks::bodies::{self, MembershipBody, OrganizationBody, UserBody};
use clerk_testkit::webhooks::WebhookSender;
use clerk_webhooks::processor::ProcessOutcome;
use http::HeaderMap;
use processor_support::*;
use proptest::prelude::*;
use serde_json::Value;

const T0: i64 = bodies::BASE_TIME_MS;

/// One user's history: versions (second address?, name), and whether it ends deleted.
#[derive(Debug, Clone)]
struct UserPlan {
    versions: Vec<(bool, u8)>,
    deleted: bool,
}

#[derive(Debug, Clone)]
struct Plan {
    users: Vec<UserPlan>,
    successor: bool,
    org_versions: u8,
    org_deleted: bool,
    memberships: Vec<(u8, bool)>,
}

fn plan() -> impl Strategy<Value = Plan> {
    let user = (
        prop::collection::vec((any::<bool>(), 0u8..4), 1..4),
        any::<bool>(),
    )
        .prop_map(|(versions, deleted)| UserPlan { versions, deleted });
    (
        prop::collection::vec(user, 3),
        any::<bool>(),
        1u8..4,
        any::<bool>(),
        prop::collection::vec((1u8..4, any::<bool>()), 3),
    )
        .prop_map(
            |(users, successor, org_versions, org_deleted, memberships)| Plan {
                users,
                successor,
                org_versions,
                org_deleted,
                memberships,
            },
        )
}

/// The event bodies of a plan, in Clerk's (time) order.
fn history(plan: &Plan) -> Vec<Value> {
    let mut out = Vec::new();
    let mut last_email_of_user0 = None;
    for (i, user) in plan.users.iter().enumerate() {
        let clerk_id = format!("user_{i}");
        let i = i64::try_from(i).unwrap();
        for (k, (second, name)) in user.versions.iter().enumerate() {
            let k = i64::try_from(k).unwrap();
            let email = format!("{}@u{i}.example", if *second { "b" } else { "a" });
            if i == 0 {
                last_email_of_user0 = Some(email.clone());
            }
            let event_type = if k == 0 {
                "user.created"
            } else {
                "user.updated"
            };
            out.push(
                UserBody::new(&clerk_id, &email)
                    .first_name(&format!("name{name}"))
                    .email_verified(k % 2 == 0)
                    .updated_at(T0 + 10 * (k + 1) + i)
                    .event(event_type),
            );
        }
        if user.deleted || (i == 0 && plan.successor) {
            out.push(bodies::user_deleted(&clerk_id));
        }
    }
    if plan.successor {
        // A re-sign-up with user_0's address after user_0 was deleted.
        let email = last_email_of_user0.unwrap();
        out.push(
            UserBody::new("user_next", &email)
                .created_at(T0 + 3_000)
                .updated_at(T0 + 3_000)
                .event("user.created"),
        );
    }
    for v in 0..i64::from(plan.org_versions) {
        out.push(
            OrganizationBody::new("org_0", &format!("Org v{v}"), "org")
                .updated_at(T0 + 100 + v)
                .event(if v == 0 {
                    "organization.created"
                } else {
                    "organization.updated"
                }),
        );
    }
    for (i, (versions, deleted)) in plan.memberships.iter().enumerate() {
        let user = format!("user_{i}");
        let id = format!("orgmem_{i}");
        for v in 0..i64::from(*versions) {
            let role = if v % 2 == 0 {
                "org:member"
            } else {
                "org:admin"
            };
            out.push(
                MembershipBody::new(&id, "org_0", &user, role)
                    .updated_at(T0 + 200 + v)
                    .event("organizationMembership.updated"),
            );
        }
        if *deleted {
            out.push(bodies::membership_deleted(&id, "org_0", &user));
        }
    }
    if plan.org_deleted {
        out.push(bodies::organization_deleted("org_0"));
    }
    out
}

type Signed = (String, HeaderMap, Vec<u8>);

fn sign_all(sender: &WebhookSender, events: &[Value]) -> Vec<Signed> {
    events
        .iter()
        .enumerate()
        .map(|(n, body)| signed_as(sender, &format!("msg_{n}"), body))
        .collect()
}

/// Delivers through a processor over `store` in the given order; a delivery answered 503
/// is delivered again after the others (Svix's retry). Panics on anything but 2xx/503, or
/// when a pass makes no progress. Returns the final state.
async fn deliver<S: Store>(store: S, deliveries: Vec<Signed>) -> View {
    let clock = clock();
    let p = processor(store, &clock);
    let ids: Vec<String> = deliveries.iter().map(|d| d.0.clone()).collect();
    let mut pending = deliveries;
    while !pending.is_empty() {
        let before = pending.len();
        let mut refused = Vec::new();
        for d in pending {
            match p.process(&d.1, &d.2).await {
                ProcessOutcome::Applied { .. }
                | ProcessOutcome::AlreadyProcessed { .. }
                | ProcessOutcome::Ignored { .. } => {}
                ProcessOutcome::Retry(_) => refused.push(d),
                other => panic!("delivery {}: {other:?}", d.0),
            }
        }
        assert!(
            refused.len() < before,
            "no progress: {} refused",
            refused.len()
        );
        pending = refused;
    }
    // Every delivery ends up in the ledger exactly once.
    for id in &ids {
        assert!(p.store().webhook_event(id).await.unwrap().is_some());
    }
    view(p.store()).await
}

#[derive(Debug, PartialEq)]
struct View {
    users: BTreeMap<String, User>,
    organization: Option<Organization>,
    memberships: BTreeMap<String, Vec<Membership>>,
}

fn t0() -> UnixTime {
    UnixTime::EPOCH
}

async fn view<S: Store>(store: &S) -> View {
    let mut users = BTreeMap::new();
    for mut u in store.list_users(None, 1000).await.unwrap() {
        u.id = UserId(0);
        u.created_at = t0();
        u.updated_at = t0();
        users.insert(u.clerk_id.clone().unwrap(), u);
    }
    let organization = store.organization("org_0").await.unwrap().map(|mut o| {
        o.created_at = t0();
        o.updated_at = t0();
        o
    });
    let mut memberships = BTreeMap::new();
    for clerk_id in users.keys() {
        let live: Vec<Membership> = store
            .memberships_of_user(clerk_id)
            .await
            .unwrap()
            .into_iter()
            .map(|mut m| {
                m.created_at = t0();
                m.updated_at = t0();
                m
            })
            .collect();
        memberships.insert(clerk_id.clone(), live);
    }
    View {
        users,
        organization,
        memberships,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn cases() -> impl Strategy<Value = (Plan, Vec<usize>, Vec<prop::sample::Index>)> {
    plan().prop_flat_map(|plan| {
        let n = history(&plan).len();
        (
            Just(plan),
            Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
            prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        )
    })
}

/// Delivers the plan's history in order to one fresh store and shuffled (with replays of
/// the same svix ids) to another, and compares the two.
fn converges<S, F, Fut>(
    make: F,
    plan: &Plan,
    order: &[usize],
    replays: &[prop::sample::Index],
) -> Result<(), TestCaseError>
where
    S: Store,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let clock = clock();
    let sender = sender(&clock);
    let in_order = sign_all(&sender, &history(plan));
    let mut shuffled: Vec<Signed> = order.iter().map(|&i| in_order[i].clone()).collect();
    let copies: Vec<Signed> = replays
        .iter()
        .map(|i| shuffled[i.index(shuffled.len())].clone())
        .collect();
    shuffled.extend(copies);
    let (expected, got) = runtime().block_on(async {
        let expected = deliver(make().await, in_order).await;
        let got = deliver(make().await, shuffled).await;
        (expected, got)
    });
    prop_assert_eq!(expected, got);
    Ok(())
}

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
