//! The processor-level convergence property (generator and checker), shared by
//! `processor_convergence.rs` (memory, SQLite) and `processor_postgres.rs` (PostgreSQL).
//!
//! A generated history of signed Clerk deliveries (user creates, updates with increasing
//! `updated_at`, deletes, a re-sign-up with a deleted user's address, organization and
//! membership versions and deletions, plus replays of the same svix id) is delivered through
//! `WebhookProcessor::process` in order to one fresh store and in a permutation to another;
//! both must end in the same state. A delivery answered 503 is redelivered after the others,
//! as Svix does; a delivery held for an email conflict (an address still held by a user whose
//! deletion has not arrived) is retried after all deliveries, as an operator would with
//! `clerk webhooks retry`, until no retry makes progress.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use clerk_core::model::{Membership, Organization, User, UserId};
use clerk_core::store::held::RetryError;
use clerk_core::store::Store;
use clerk_core::time::UnixTime;
use clerk_testkit::webhooks::bodies::{self, MembershipBody, OrganizationBody, UserBody};
use clerk_testkit::webhooks::WebhookSender;
use clerk_webhooks::processor::ProcessOutcome;
use http::HeaderMap;
use proptest::prelude::*;
use serde_json::Value;

use crate::processor_support::{clock, processor, sender, signed_as};

pub const T0: i64 = bodies::BASE_TIME_MS;

/// One user's history: versions (second address?, name), and whether it ends deleted.
#[derive(Debug, Clone)]
pub struct UserPlan {
    pub versions: Vec<(bool, u8)>,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub users: Vec<UserPlan>,
    pub successor: bool,
    pub org_versions: u8,
    pub org_deleted: bool,
    pub memberships: Vec<(u8, bool)>,
}

pub fn plan() -> impl Strategy<Value = Plan> {
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
pub fn history(plan: &Plan) -> Vec<Value> {
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

pub type Signed = (String, HeaderMap, Vec<u8>);

pub fn sign_all(sender: &WebhookSender, events: &[Value]) -> Vec<Signed> {
    events
        .iter()
        .enumerate()
        .map(|(n, body)| signed_as(sender, &format!("msg_{n}"), body))
        .collect()
}

/// Delivers through a processor over `store` in the given order; a delivery answered 503
/// is delivered again after the others (Svix's retry), and held deliveries are retried at the
/// end (the operator's). Panics on anything but 2xx/503, or when a pass makes no progress.
/// Returns the final state.
pub async fn deliver<S: Store>(store: S, deliveries: Vec<Signed>) -> View {
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
                | ProcessOutcome::Ignored { .. }
                | ProcessOutcome::Held { .. } => {}
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
    // The operator's retries, oldest hold first, while any makes progress.
    loop {
        let held = p.store().held_events(usize::MAX).await.unwrap();
        let mut progress = false;
        for h in &held {
            match p.retry_held(&h.svix_id).await {
                Ok(_) => progress = true,
                Err(RetryError::StillConflicts(_)) => {}
                Err(other) => panic!("retry {}: {other:?}", h.svix_id),
            }
        }
        if !progress {
            assert!(
                held.is_empty(),
                "holds left that no retry resolves: {held:?}"
            );
            break;
        }
    }
    // Every delivery ends up in the ledger exactly once.
    for id in &ids {
        assert!(p.store().webhook_event(id).await.unwrap().is_some());
    }
    view(p.store()).await
}

#[derive(Debug, PartialEq)]
pub struct View {
    pub users: BTreeMap<String, User>,
    pub organization: Option<Organization>,
    pub memberships: BTreeMap<String, Vec<Membership>>,
}

fn t0() -> UnixTime {
    UnixTime::EPOCH
}

pub async fn view<S: Store>(store: &S) -> View {
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

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn cases() -> impl Strategy<Value = (Plan, Vec<usize>, Vec<prop::sample::Index>)> {
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
pub fn converges<S, F, Fut>(
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
