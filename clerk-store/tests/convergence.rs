//! Property: any permutation of a delivery history (creates, updates with increasing
//! `updated_at`, deletes, replays of the same svix id) converges to the state the in-order
//! history leaves — at the store level, with the webhook processor's retry of conflicts
//! (Svix redelivers a refused event later) simulated by a retry queue.
//!
//! Compared: every user by Clerk id (all fields but the local id and local timestamps),
//! every organization, and the live memberships of every user. Tombstones of memberships
//! ended by their organization's deletion may differ in detail (which deletion came first);
//! their live set does not.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use clerk_core::model::{
    ClerkMembershipData, ClerkOrganizationData, ClerkUserData, Membership, Organization, User,
    UserId,
};
use clerk_core::store::{BatchOutcome, Change, LinkPolicy, Store, StoreError, WriteBatch};
use clerk_core::time::UnixTime;
use clerk_store::MemoryStore;
use proptest::prelude::*;

fn t(ms: i64) -> UnixTime {
    UnixTime::from_millis(ms)
}

#[derive(Debug, Clone)]
struct Delivery {
    svix_id: String,
    event_type: &'static str,
    change: Change,
}

/// One user's history: versions (email choice, name), and whether it ends deleted.
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

/// The deliveries of a plan, in Clerk's (time) order.
fn history(plan: &Plan) -> Vec<Delivery> {
    let mut out = Vec::new();
    let mut n = 0;
    let mut push = |out: &mut Vec<Delivery>, event_type, change| {
        n += 1;
        out.push(Delivery {
            svix_id: format!("msg_{n}"),
            event_type,
            change,
        });
    };
    let mut last_email_of_user0 = None;
    for (i, user) in plan.users.iter().enumerate() {
        let clerk_id = format!("user_{i}");
        for (k, (second, name)) in user.versions.iter().enumerate() {
            let k = i64::try_from(k).unwrap();
            let email = format!("{}@u{i}.example", if *second { "b" } else { "a" });
            if i == 0 {
                last_email_of_user0 = Some(email.clone());
            }
            let mut data = ClerkUserData::new(&clerk_id, t(1), t(10 * (k + 1) + i as i64))
                .with_email(email, k % 2 == 0);
            data.first_name = Some(format!("name{name}"));
            let event_type = if k == 0 {
                "user.created"
            } else {
                "user.updated"
            };
            let change = Change::UpsertUser {
                data,
                link: LinkPolicy::Never,
            };
            push(&mut out, event_type, change);
        }
        if user.deleted || (i == 0 && plan.successor) {
            let change = Change::DeleteUser {
                clerk_id: clerk_id.clone(),
                at: t(1000 + i as i64),
            };
            push(&mut out, "user.deleted", change);
        }
    }
    if plan.successor {
        // A re-sign-up with user_0's address after user_0 was deleted.
        let email = last_email_of_user0.unwrap();
        let data = ClerkUserData::new("user_next", t(3000), t(3000)).with_email(email, true);
        let change = Change::UpsertUser {
            data,
            link: LinkPolicy::Never,
        };
        push(&mut out, "user.created", change);
    }
    for v in 0..i64::from(plan.org_versions) {
        let data = ClerkOrganizationData::new("org_0", format!("Org v{v}"), t(1), t(100 + v));
        push(
            &mut out,
            "organization.updated",
            Change::UpsertOrganization(data),
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
            let data = ClerkMembershipData::new(&id, "org_0", &user, role, t(1), t(200 + v));
            push(
                &mut out,
                "organizationMembership.updated",
                Change::UpsertMembership(data),
            );
        }
        if *deleted {
            let change = Change::DeleteMembership {
                clerk_id: id,
                organization_clerk_id: "org_0".into(),
                user_clerk_id: user,
                at: t(500 + i as i64),
            };
            push(&mut out, "organizationMembership.deleted", change);
        }
    }
    if plan.org_deleted {
        let change = Change::DeleteOrganization {
            clerk_id: "org_0".into(),
            at: t(2000),
        };
        push(&mut out, "organization.deleted", change);
    }
    out
}

/// Applies deliveries in the given order; a refused one (conflict) is retried after the
/// others, as Svix would redeliver it. Panics when a pass makes no progress.
async fn deliver<S: Store>(store: &S, deliveries: Vec<Delivery>) {
    let mut pending = deliveries;
    let mut step = 0;
    while !pending.is_empty() {
        let mut refused = Vec::new();
        let before = pending.len();
        for d in pending {
            step += 1;
            let batch = WriteBatch::single(t(100_000 + step), d.change.clone())
                .with_receipt(d.svix_id.clone(), d.event_type);
            match store.apply(batch).await {
                Ok(BatchOutcome::Applied(_) | BatchOutcome::AlreadyProcessed(_)) => {}
                Err(StoreError::Conflict(_)) => refused.push(d),
                Err(e) => panic!("delivery {}: {e:?}", d.svix_id),
            }
        }
        assert!(
            refused.len() < before,
            "no progress; refused for good: {refused:?}"
        );
        pending = refused;
    }
}

#[derive(Debug, PartialEq)]
struct View {
    users: BTreeMap<String, User>,
    organization: Option<Organization>,
    memberships: BTreeMap<String, Vec<Membership>>,
}

async fn view<S: Store>(store: &S) -> View {
    let mut users = BTreeMap::new();
    for mut u in store.list_users(None, 1000).await.unwrap() {
        u.id = UserId(0);
        u.created_at = t(0);
        u.updated_at = t(0);
        users.insert(u.clerk_id.clone().unwrap(), u);
    }
    let organization = store.organization("org_0").await.unwrap().map(|mut o| {
        o.created_at = t(0);
        o.updated_at = t(0);
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
                m.created_at = t(0);
                m.updated_at = t(0);
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

fn with_replays(mut deliveries: Vec<Delivery>, replays: &[prop::sample::Index]) -> Vec<Delivery> {
    let copies: Vec<Delivery> = replays
        .iter()
        .map(|i| deliveries[i.index(deliveries.len())].clone())
        .collect();
    deliveries.extend(copies);
    deliveries
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

/// Delivers the plan's history in order to one fresh store and shuffled (with replays) to
/// another, and compares the two.
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
    let in_order = history(plan);
    let shuffled: Vec<Delivery> = order.iter().map(|&i| in_order[i].clone()).collect();
    let shuffled = with_replays(shuffled, replays);
    let (expected, got) = runtime().block_on(async {
        let a = make().await;
        deliver(&a, in_order.clone()).await;
        let b = make().await;
        deliver(&b, shuffled).await;
        (view(&a).await, view(&b).await)
    });
    prop_assert_eq!(expected, got);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_delivery_order_converges_on_memory((plan, order, replays) in cases()) {
        converges(|| async { MemoryStore::new() }, &plan, &order, &replays)?;
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use clerk_store::SqliteStore;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    async fn fresh() -> SqliteStore {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("clerk-store-prop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("p{}.db", NEXT.fetch_add(1, Ordering::Relaxed)));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    proptest! {
        // Each case opens two database files: fewer cases than the memory run.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn any_delivery_order_converges_on_sqlite((plan, order, replays) in cases()) {
            converges(fresh, &plan, &order, &replays)?;
        }
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
    let rt = runtime();
    let v = rt.block_on(async {
        let store = MemoryStore::new();
        deliver(&store, history(&plan)).await;
        view(&store).await
    });
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
