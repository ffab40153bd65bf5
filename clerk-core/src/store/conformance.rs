//! The conformance suite every store backend passes (feature `conformance`).
//!
//! Each case is an `async fn` taking a **fresh, empty** store and panicking (like a test) when
//! the store breaks a rule of the [store contract](super). The suite needs no runtime; a
//! backend's test file runs it under its own, one `#[test]` per case, with
//! [`store_conformance_tests!`](crate::store_conformance_tests):
//!
//! ```ignore
//! // tests/my_store.rs — needs `tokio` (macros, rt) as a dev-dependency.
//! async fn fresh_store() -> MyStore {
//!     MyStore::connect_fresh().await
//! }
//! clerk_core::store_conformance_tests!(fresh_store);
//! ```
//!
//! or all cases in one test with [`run_all`]. Case names are listed in [`CASES`].

use std::future::Future;

use futures_util::future::join_all;

use crate::model::{
    ClerkInvitationData, ClerkMembershipData, ClerkOrganizationData, ClerkUserData, HoldReason,
    Invitation, InvitationStatus, LocalUserPatch, Membership, NewLocalUser, Organization,
    RevokedSession, User, UserId,
};
use crate::store::{
    Applied, BatchOutcome, Change, Conflict, Effect, LinkPolicy, Store, StoreError, UserRef,
    WriteBatch,
};
use crate::time::UnixTime;

/// The instant the suite treats as "now" (2023-11-14), plus offsets.
fn t(offset_ms: i64) -> UnixTime {
    UnixTime::from_millis(1_700_000_000_000 + offset_ms)
}

async fn apply<S: Store>(store: &S, batch: WriteBatch) -> Vec<Applied> {
    match store.apply(batch).await {
        Ok(BatchOutcome::Applied(applied)) => applied,
        Ok(BatchOutcome::AlreadyProcessed(e)) => {
            panic!("batch unexpectedly reported as already processed: {e:?}")
        }
        Err(e) => panic!("apply failed: {e:?}"),
    }
}

async fn apply1<S: Store>(store: &S, now: UnixTime, change: Change) -> Applied {
    let applied = apply(store, WriteBatch::single(now, change)).await;
    assert_eq!(applied.len(), 1, "one change gives one result");
    applied[0]
}

async fn apply_err<S: Store>(store: &S, batch: WriteBatch) -> StoreError {
    match store.apply(batch).await {
        Ok(outcome) => panic!("expected an error, got {outcome:?}"),
        Err(e) => e,
    }
}

/// Applies `batch`, retrying (a few times) only on a retryable error — what the webhook
/// processor does through Svix. Racing first inserts must surface as retryable, never as a
/// lost update.
async fn apply_retrying<S: Store>(store: &S, batch: WriteBatch) -> BatchOutcome {
    let mut attempts = 0;
    loop {
        match store.apply(batch.clone()).await {
            Ok(outcome) => return outcome,
            Err(e) if e.is_retryable() && attempts < 20 => attempts += 1,
            Err(e) => panic!("apply failed after {attempts} retries: {e:?}"),
        }
    }
}

fn upsert(data: ClerkUserData) -> Change {
    Change::UpsertUser {
        data,
        link: LinkPolicy::Never,
    }
}

fn delete_user(clerk_id: &str, at: UnixTime) -> Change {
    Change::DeleteUser {
        clerk_id: clerk_id.into(),
        at,
    }
}

/// A fully populated user as Clerk would send it, version `v` (updated at `t(v)`).
fn full_user(clerk_id: &str, email: &str, v: i64) -> ClerkUserData {
    let mut d = ClerkUserData::new(clerk_id, t(-1000), t(v)).with_email(email, true);
    d.username = Some(format!("{clerk_id}-name"));
    d.first_name = Some(format!("First{v}"));
    d.last_name = Some("Last".into());
    d.image_url = Some(format!("https://img.example/{clerk_id}/{v}.png"));
    d.public_metadata = serde_json::json!({"plan": "pro", "v": v, "nested": {"a": [1, 2]}});
    d.external_id = Some(format!("ext-{clerk_id}"));
    d.banned = v % 2 == 1;
    d.locked = v % 3 == 1;
    d.last_sign_in_at = Some(t(v - 5));
    d
}

async fn by_clerk<S: Store>(store: &S, clerk_id: &str) -> User {
    store
        .user_by_clerk_id(clerk_id)
        .await
        .expect("user_by_clerk_id failed")
        .unwrap_or_else(|| panic!("no user with clerk id {clerk_id}"))
}

fn assert_mirrors(user: &User, data: &ClerkUserData) {
    assert_eq!(user.clerk_id.as_deref(), Some(data.clerk_id.as_str()));
    assert_eq!(user.email, data.email);
    assert_eq!(user.email_verified, data.email_verified);
    assert_eq!(user.username, data.username);
    assert_eq!(user.first_name, data.first_name);
    assert_eq!(user.last_name, data.last_name);
    assert_eq!(user.image_url, data.image_url);
    assert_eq!(user.public_metadata, data.public_metadata);
    assert_eq!(user.external_id, data.external_id);
    assert_eq!(user.banned, data.banned);
    assert_eq!(user.locked, data.locked);
    assert_eq!(user.last_sign_in_at, data.last_sign_in_at);
    assert_eq!(user.clerk_created_at, Some(data.created_at));
    assert_eq!(user.clerk_updated_at, Some(data.updated_at));
}

/// A delivery held for an operator is kept with its receipt, in the batch's transaction: a
/// failed batch keeps neither, a duplicate writes no second hold, and the held list is oldest
/// first, bounded, and counts only what is still held.
pub async fn held_delivery_is_kept_with_its_receipt<S: Store>(store: &S) {
    let full = full_user("user_held", "held@example.com", 2);
    let mut withheld = full.clone();
    withheld.email = None;
    withheld.email_verified = false;

    // A batch that fails holds nothing and records no receipt.
    let mut taken = NewLocalUser::new("taken");
    taken.email = Some("taken@example.com".into());
    apply1(store, t(0), Change::CreateLocalUser(taken)).await;
    let err = apply_err(
        store,
        WriteBatch::new(t(1))
            .with_receipt("msg_failed", "user.created")
            .with_hold(HoldReason::EmailConflict, full.clone())
            .with(upsert(
                ClerkUserData::new("user_x", t(0), t(1)).with_email("taken@example.com", true),
            )),
    )
    .await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "{err:?}"
    );
    assert!(store
        .webhook_event("msg_failed")
        .await
        .expect("store read")
        .is_none());
    assert!(store
        .held_event("msg_failed")
        .await
        .expect("store read")
        .is_none());
    assert_eq!(store.count_held_events().await.expect("store read"), 0);

    // Held with its receipt; the user written without the email.
    let applied = apply(
        store,
        WriteBatch::new(t(10))
            .with_receipt("msg_held_2", "user.created")
            .with_hold(HoldReason::EmailConflict, full.clone())
            .with(upsert(withheld.clone())),
    )
    .await;
    assert_eq!(applied[0].effect, Effect::Created);
    assert_eq!(by_clerk(store, "user_held").await.email, None);
    let receipt = store
        .webhook_event("msg_held_2")
        .await
        .expect("store read")
        .expect("receipt");
    assert_eq!(receipt.event_type, "user.created");
    let held = store
        .held_event("msg_held_2")
        .await
        .expect("store read")
        .expect("held");
    assert_eq!(held.svix_id, "msg_held_2");
    assert_eq!(held.event_type, "user.created");
    assert_eq!(held.reason, HoldReason::EmailConflict);
    assert_eq!(
        held.user, full,
        "the held user keeps every field, the email included"
    );
    assert_eq!(held.held_at, t(10));
    assert_eq!(held.resolved_at, None);

    // The same delivery again: already processed, no second hold, nothing changed.
    let again = store
        .apply(
            WriteBatch::new(t(20))
                .with_receipt("msg_held_2", "user.created")
                .with_hold(HoldReason::EmailConflict, full.clone())
                .with(upsert(withheld.clone())),
        )
        .await
        .expect("store read");
    assert!(
        matches!(again, BatchOutcome::AlreadyProcessed(_)),
        "{again:?}"
    );
    assert_eq!(
        store
            .held_event("msg_held_2")
            .await
            .expect("store read")
            .expect("held")
            .held_at,
        t(10)
    );

    // An earlier hold lists first; the limit bounds the list; the count is of all.
    apply(
        store,
        WriteBatch::new(t(5))
            .with_receipt("msg_held_1", "user.updated")
            .with_hold(
                HoldReason::EmailConflict,
                full_user("user_other", "o@example.com", 1),
            ),
    )
    .await;
    let listed: Vec<String> = store
        .held_events(10)
        .await
        .expect("store read")
        .into_iter()
        .map(|h| h.svix_id)
        .collect();
    assert_eq!(listed, ["msg_held_1", "msg_held_2"]);
    assert_eq!(store.held_events(1).await.expect("store read").len(), 1);
    assert_eq!(store.count_held_events().await.expect("store read"), 2);
}

/// [`Change::ReleaseHeld`] resolves a held delivery once: it leaves the held list and the
/// count, keeps its row with `resolved_at`, and a second release or an unknown id changes
/// nothing.
pub async fn held_delivery_is_released_once<S: Store>(store: &S) {
    let full = full_user("user_rel", "rel@example.com", 1);
    apply(
        store,
        WriteBatch::new(t(1))
            .with_receipt("msg_rel", "user.created")
            .with_hold(HoldReason::EmailConflict, full),
    )
    .await;
    let release = |svix_id: &str| Change::ReleaseHeld {
        svix_id: svix_id.into(),
    };
    assert_eq!(
        apply1(store, t(2), release("msg_rel")).await.effect,
        Effect::Updated
    );
    assert_eq!(
        apply1(store, t(3), release("msg_rel")).await.effect,
        Effect::Unchanged
    );
    assert_eq!(
        apply1(store, t(3), release("msg_unknown")).await.effect,
        Effect::NotFound
    );
    let held = store
        .held_event("msg_rel")
        .await
        .expect("store read")
        .expect("kept");
    assert_eq!(held.resolved_at, Some(t(2)));
    assert!(held.is_resolved());
    assert!(store.held_events(10).await.expect("store read").is_empty());
    assert_eq!(store.count_held_events().await.expect("store read"), 0);
}

/// [`Change::ReapplyUser`] writes data stamped equal to the stored row (the held delivery
/// wrote that stamp without its email) and still refuses a held email and older data.
pub async fn reapply_writes_an_equal_stamp<S: Store>(store: &S) {
    let full = full_user("user_re", "re@example.com", 4);
    let mut withheld = full.clone();
    withheld.email = None;
    withheld.email_verified = false;
    apply1(store, t(0), upsert(withheld)).await;
    let reapply = |data: ClerkUserData| Change::ReapplyUser {
        data,
        link: LinkPolicy::Never,
    };

    // The email held by another Clerk user whose own update has not arrived: still a
    // conflict, nothing written.
    apply1(
        store,
        t(1),
        upsert(full_user("user_holder", "re@example.com", 1)),
    )
    .await;
    let err = apply_err(store, WriteBatch::single(t(2), reapply(full.clone()))).await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "{err:?}"
    );
    assert_eq!(by_clerk(store, "user_re").await.email, None);

    // The holder's update arrives and frees it: the equal stamp is written, the email with it.
    apply1(
        store,
        t(3),
        upsert(full_user("user_holder", "moved@example.com", 2)),
    )
    .await;
    assert_eq!(
        apply1(store, t(4), reapply(full.clone())).await.effect,
        Effect::Updated
    );
    assert_mirrors(&by_clerk(store, "user_re").await, &full);

    // Older data than stored: unchanged.
    let older = full_user("user_re", "older@example.com", 3);
    assert_eq!(
        apply1(store, t(5), reapply(older)).await.effect,
        Effect::Unchanged
    );
    assert_eq!(
        by_clerk(store, "user_re").await.email.as_deref(),
        Some("re@example.com")
    );
}

/// The SQL tables and columns [design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage) makes a public contract (applications query them):
/// every SQL backend's tests check that each of these columns exists. Backends may add columns.
pub const CONTRACT_COLUMNS: &[(&str, &[&str])] = &[
    (
        "clerk_users",
        &[
            "id",
            "clerk_id",
            "email",
            "email_verified",
            "username",
            "first_name",
            "last_name",
            "image_url",
            "public_metadata",
            "external_id",
            "banned",
            "locked",
            "is_active",
            "is_staff",
            "is_superuser",
            "password_hash",
            "clerk_created_at",
            "clerk_updated_at",
            "last_sign_in_at",
            "last_login",
            "last_logout",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "clerk_organizations",
        &[
            "clerk_id",
            "name",
            "slug",
            "image_url",
            "public_metadata",
            "members_count",
            "clerk_created_at",
            "clerk_updated_at",
        ],
    ),
    (
        "clerk_organization_memberships",
        &["clerk_id", "organization_clerk_id", "user_clerk_id", "role"],
    ),
    (
        "clerk_organization_invitations",
        &[
            "clerk_id",
            "organization_clerk_id",
            "user_clerk_id",
            "role",
            "email_address",
            "status",
        ],
    ),
    (
        "clerk_webhook_events",
        &["svix_id", "event_type", "processed_at"],
    ),
    (
        "clerk_webhook_held",
        &[
            "svix_id",
            "event_type",
            "reason",
            "payload",
            "held_at",
            "resolved_at",
        ],
    ),
    ("clerk_revoked_sessions", &["session_id"]),
    ("clerk_login_failures", &["login_key", "failed_at"]),
];

/// Every user field survives a write and a read by each key.
pub async fn user_round_trip<S: Store>(store: &S) {
    let data = full_user("user_rt", "Ada@Example.com", 7);
    let applied = apply1(store, t(1), upsert(data.clone())).await;
    assert_eq!(applied.effect, Effect::Created);
    let id = applied.user_id.expect("a created user reports its id");

    let expected = User::from_clerk(id, &data, t(1));
    let got = store.user(id).await.expect("user failed");
    assert_eq!(got.as_ref(), Some(&expected), "read by id");
    assert_mirrors(&expected, &data);
    assert!(expected.is_active && !expected.is_staff && !expected.is_superuser);
    assert_eq!(
        by_clerk(store, "user_rt").await,
        expected,
        "read by clerk id"
    );
    let by_email = store
        .user_by_email("ada@EXAMPLE.com")
        .await
        .expect("user_by_email failed");
    assert_eq!(
        by_email.as_ref(),
        Some(&expected),
        "email lookup ignores ASCII case"
    );
    assert_eq!(
        store
            .user_by_email("nobody@example.com")
            .await
            .expect("user_by_email failed"),
        None
    );
    assert_eq!(
        store.user(UserId(id.0 + 1000)).await.expect("user failed"),
        None
    );
    assert_eq!(
        store
            .user_by_clerk_id("user_missing")
            .await
            .expect("user_by_clerk_id failed"),
        None
    );
    let listed = store.list_users(None, 10).await.expect("list_users failed");
    assert_eq!(listed, vec![expected.clone()]);

    // Null-ish data round-trips too.
    let sparse = ClerkUserData::new("user_sparse", t(-5), t(-4));
    let sparse_id = apply1(store, t(2), upsert(sparse.clone()))
        .await
        .user_id
        .expect("id");
    assert_ne!(sparse_id, id, "a new row gets a new id");
    let got = by_clerk(store, "user_sparse").await;
    assert_eq!(got, User::from_clerk(sparse_id, &sparse, t(2)));
}

/// Local users: creation, lookups by username and email, the patch of application-owned
/// fields, logins and logouts.
pub async fn local_user_round_trip<S: Store>(store: &S) {
    let mut new = NewLocalUser::new("admin");
    new.email = Some("admin@example.com".into());
    new.first_name = Some("Grace".into());
    new.last_name = Some("Hopper".into());
    new.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    new.is_staff = true;
    new.is_superuser = true;
    let applied = apply1(store, t(1), Change::CreateLocalUser(new.clone())).await;
    assert_eq!(applied.effect, Effect::Created);
    let id = applied.user_id.expect("id");
    let expected = User::from_local(id, &new, t(1));
    assert!(expected.is_local());
    assert_eq!(store.user(id).await.expect("user"), Some(expected.clone()));
    assert_eq!(
        store
            .local_user_by_username("admin")
            .await
            .expect("by username"),
        Some(expected.clone())
    );
    assert_eq!(
        store
            .local_user_by_username("Admin")
            .await
            .expect("by username"),
        None,
        "usernames are exact"
    );
    assert_eq!(
        store
            .user_by_email("ADMIN@example.com")
            .await
            .expect("by email"),
        Some(expected.clone())
    );

    let patch = LocalUserPatch::default().staff(false).password_hash(None);
    let applied = apply1(
        store,
        t(2),
        Change::UpdateLocalFields {
            id,
            patch: patch.clone(),
        },
    )
    .await;
    assert_eq!(applied, Applied::user(Effect::Updated, id));
    let applied = apply1(store, t(3), Change::UpdateLocalFields { id, patch }).await;
    assert_eq!(
        applied,
        Applied::user(Effect::Unchanged, id),
        "a repeated patch"
    );
    let got = store.user(id).await.expect("user").expect("row");
    assert!(!got.is_staff && got.is_superuser && got.password_hash.is_none());
    assert_eq!(got.updated_at, t(2));
    assert_eq!(got.created_at, t(1));

    let missing = UserId(id.0 + 1000);
    let patch = LocalUserPatch::default().active(false);
    assert_eq!(
        apply1(
            store,
            t(4),
            Change::UpdateLocalFields { id: missing, patch }
        )
        .await
        .effect,
        Effect::NotFound
    );

    let login = |at| Change::RecordLogin {
        user: UserRef::Id(id),
        at,
    };
    assert_eq!(
        apply1(store, t(5), login(t(5))).await.effect,
        Effect::Updated
    );
    assert_eq!(
        apply1(store, t(6), login(t(4))).await.effect,
        Effect::Unchanged,
        "an older login does not move last_login back"
    );
    let logout = Change::RecordLogout {
        user: UserRef::Id(id),
        at: t(7),
    };
    assert_eq!(apply1(store, t(7), logout).await.effect, Effect::Updated);
    let got = store.user(id).await.expect("user").expect("row");
    assert_eq!(got.last_login, Some(t(5)));
    assert_eq!(got.last_logout, Some(t(7)));
}

/// Organizations, memberships and invitations survive a write and a read.
pub async fn organization_round_trip<S: Store>(store: &S) {
    let mut org = ClerkOrganizationData::new("org_b", "Acme", t(-10), t(1));
    org.slug = Some("acme".into());
    org.image_url = Some("https://img.example/acme.png".into());
    org.public_metadata = serde_json::json!({"tier": 3});
    org.members_count = Some(2);
    let org_a = ClerkOrganizationData::new("org_a", "Alpha", t(-10), t(1));
    let applied = apply(
        store,
        WriteBatch::new(t(2))
            .with(Change::UpsertOrganization(org.clone()))
            .with(Change::UpsertOrganization(org_a.clone())),
    )
    .await;
    assert_eq!(
        applied,
        vec![Applied::new(Effect::Created), Applied::new(Effect::Created)]
    );
    let expected = Organization::from_clerk(&org, t(2));
    assert_eq!(
        store.organization("org_b").await.expect("organization"),
        Some(expected.clone())
    );
    assert_eq!(
        store.organization("org_x").await.expect("organization"),
        None
    );
    let all = store.list_organizations(None, 10).await.expect("list");
    assert_eq!(
        all.iter().map(|o| o.clerk_id.as_str()).collect::<Vec<_>>(),
        ["org_a", "org_b"]
    );
    let page = store
        .list_organizations(Some("org_a"), 10)
        .await
        .expect("list");
    assert_eq!(page, vec![expected]);
    assert!(store
        .list_organizations(None, 0)
        .await
        .expect("list")
        .is_empty());

    let mut m1 = ClerkMembershipData::new("orgmem_1", "org_b", "user_1", "org:admin", t(-5), t(1));
    m1.permissions = vec![
        "org:reports:read".into(),
        "org:sys_memberships:manage".into(),
    ];
    let m2 = ClerkMembershipData::new("orgmem_2", "org_a", "user_1", "org:member", t(-5), t(1));
    let m3 = ClerkMembershipData::new("orgmem_3", "org_b", "user_0", "org:member", t(-5), t(1));
    for m in [&m1, &m2, &m3] {
        let a = apply1(store, t(3), Change::UpsertMembership(m.clone())).await;
        assert_eq!(a.effect, Effect::Created);
    }
    let expected_m1 = Membership::from_clerk(&m1, t(3));
    assert_eq!(
        store.membership("orgmem_1").await.expect("membership"),
        Some(expected_m1.clone())
    );
    let of_user = store.memberships_of_user("user_1").await.expect("of user");
    assert_eq!(
        of_user
            .iter()
            .map(|m| m.clerk_id.as_str())
            .collect::<Vec<_>>(),
        ["orgmem_2", "orgmem_1"],
        "ordered by organization id"
    );
    let of_org = store
        .memberships_of_organization("org_b")
        .await
        .expect("of org");
    assert_eq!(
        of_org
            .iter()
            .map(|m| m.clerk_id.as_str())
            .collect::<Vec<_>>(),
        ["orgmem_3", "orgmem_1"],
        "ordered by user id"
    );
    assert_eq!(of_org[1], expected_m1);

    let mut inv = ClerkInvitationData::new(
        "orginv_1",
        "org_b",
        "new@example.com",
        "org:member",
        t(-1),
        t(1),
    );
    let applied = apply1(store, t(4), Change::UpsertInvitation(inv.clone())).await;
    assert_eq!(applied.effect, Effect::Created);
    assert_eq!(
        store.invitation("orginv_1").await.expect("invitation"),
        Some(Invitation::from_clerk(&inv, t(4)))
    );
    inv.status = InvitationStatus::Accepted;
    inv.user_clerk_id = Some("user_new".into());
    inv.updated_at = t(2);
    assert_eq!(
        apply1(store, t(5), Change::UpsertInvitation(inv.clone()))
            .await
            .effect,
        Effect::Updated
    );
    let got = store
        .invitation("orginv_1")
        .await
        .expect("invitation")
        .expect("row");
    assert_eq!(got.status, InvitationStatus::Accepted);
    assert_eq!(got.user_clerk_id.as_deref(), Some("user_new"));
    assert_eq!(got.created_at, t(4));
    assert_eq!(got.updated_at, t(5));
    inv.status = InvitationStatus::Other("bounced".into());
    inv.updated_at = t(3);
    apply1(store, t(6), Change::UpsertInvitation(inv)).await;
    let got = store
        .invitation("orginv_1")
        .await
        .expect("invitation")
        .expect("row");
    assert_eq!(got.status, InvitationStatus::Other("bounced".into()));
    assert_eq!(
        store.invitation("orginv_x").await.expect("invitation"),
        None
    );
}

/// The ledger: a receipt is recorded with its batch, a second delivery of the same svix id
/// writes nothing, an empty batch records only the receipt; revoked sessions round-trip.
pub async fn ledger_round_trip<S: Store>(store: &S) {
    let batch = WriteBatch::new(t(1))
        .with_receipt("msg_1", "user.created")
        .with(upsert(full_user("user_l", "l@example.com", 1)));
    let first = apply(store, batch).await;
    assert_eq!(first[0].effect, Effect::Created);
    let event = store
        .webhook_event("msg_1")
        .await
        .expect("webhook_event")
        .expect("recorded");
    assert_eq!(event.svix_id, "msg_1");
    assert_eq!(event.event_type, "user.created");
    assert_eq!(event.processed_at, t(1));

    // Replay with different content: nothing is applied, the first record stands.
    let replay = WriteBatch::new(t(5))
        .with_receipt("msg_1", "user.created")
        .with(upsert(full_user("user_l", "changed@example.com", 9)));
    match store.apply(replay).await.expect("replay") {
        BatchOutcome::AlreadyProcessed(e) => assert_eq!(e, event),
        other => panic!("expected AlreadyProcessed, got {other:?}"),
    }
    let user = by_clerk(store, "user_l").await;
    assert_eq!(
        user.clerk_updated_at,
        Some(t(1)),
        "a replayed delivery changes nothing"
    );
    assert_eq!(user.email.as_deref(), Some("l@example.com"));

    let ignored = WriteBatch::new(t(6)).with_receipt("msg_2", "email.created");
    assert_eq!(apply(store, ignored).await, Vec::<Applied>::new());
    assert_eq!(
        store
            .webhook_event("msg_2")
            .await
            .expect("webhook_event")
            .map(|e| e.event_type),
        Some("email.created".to_owned())
    );
    assert_eq!(
        store.webhook_event("msg_3").await.expect("webhook_event"),
        None
    );

    let revoked = RevokedSession::new("sess_1", Some("user_l".into()), "revoked", t(7));
    assert_eq!(
        apply1(store, t(7), Change::RevokeSession(revoked.clone()))
            .await
            .effect,
        Effect::Created
    );
    let again = RevokedSession::new("sess_1", None, "ended", t(8));
    assert_eq!(
        apply1(store, t(8), Change::RevokeSession(again))
            .await
            .effect,
        Effect::Unchanged
    );
    assert_eq!(
        store
            .revoked_session("sess_1")
            .await
            .expect("revoked_session"),
        Some(revoked),
        "the first report is kept"
    );
    let sparse = RevokedSession::new("sess_2", None, "ended", t(9));
    apply1(store, t(9), Change::RevokeSession(sparse.clone())).await;
    assert_eq!(
        store
            .revoked_session("sess_2")
            .await
            .expect("revoked_session"),
        Some(sparse)
    );
    assert_eq!(
        store
            .revoked_session("sess_x")
            .await
            .expect("revoked_session"),
        None
    );
}

/// One row per Clerk id, however often it is upserted.
pub async fn clerk_id_is_unique<S: Store>(store: &S) {
    let data = full_user("user_u", "u@example.com", 1);
    let id = apply1(store, t(1), upsert(data.clone())).await.user_id;
    let mut newer = data.clone();
    newer.updated_at = t(2);
    newer.email = Some("u2@example.com".into());
    let again = apply1(store, t(2), upsert(newer)).await;
    assert_eq!(again.effect, Effect::Updated);
    assert_eq!(again.user_id, id, "the same row");
    assert_eq!(store.list_users(None, 100).await.expect("list").len(), 1);
    assert_eq!(
        store
            .user_by_email("u@example.com")
            .await
            .expect("by email"),
        None,
        "the old address is released when the user changes it"
    );
    assert_eq!(
        store
            .user_by_email("u2@example.com")
            .await
            .expect("by email")
            .map(|u| u.id),
        id
    );

    let org = ClerkOrganizationData::new("org_u", "U", t(0), t(1));
    apply1(store, t(1), Change::UpsertOrganization(org.clone())).await;
    let mut org2 = org;
    org2.updated_at = t(2);
    assert_eq!(
        apply1(store, t(2), Change::UpsertOrganization(org2))
            .await
            .effect,
        Effect::Updated
    );
    assert_eq!(
        store
            .list_organizations(None, 10)
            .await
            .expect("list")
            .len(),
        1
    );
}

/// Emails are unique among users that are not deleted (ASCII case-insensitively), local
/// usernames among local users; a refused change writes nothing.
pub async fn email_and_username_are_unique<S: Store>(store: &S) {
    apply1(
        store,
        t(1),
        upsert(full_user("user_a", "same@example.com", 1)),
    )
    .await;

    let err = apply_err(
        store,
        WriteBatch::single(t(2), upsert(full_user("user_b", "SAME@example.com", 1))),
    )
    .await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "a second Clerk user with the address: {err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(
        store.user_by_clerk_id("user_b").await.expect("by clerk"),
        None
    );

    // An update moving another user onto a held address is refused too.
    apply1(store, t(3), upsert(full_user("user_c", "c@example.com", 1))).await;
    let err = apply_err(
        store,
        WriteBatch::single(t(4), upsert(full_user("user_c", "same@example.com", 2))),
    )
    .await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "{err:?}"
    );
    assert_eq!(
        by_clerk(store, "user_c").await.email.as_deref(),
        Some("c@example.com")
    );

    let mut local = NewLocalUser::new("ops");
    local.email = Some("Same@Example.com".into());
    let err = apply_err(
        store,
        WriteBatch::single(t(5), Change::CreateLocalUser(local)),
    )
    .await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "{err:?}"
    );

    apply1(
        store,
        t(6),
        Change::CreateLocalUser(NewLocalUser::new("ops")),
    )
    .await;
    let err = apply_err(
        store,
        WriteBatch::single(t(7), Change::CreateLocalUser(NewLocalUser::new("ops"))),
    )
    .await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Username)),
        "{err:?}"
    );
    // A Clerk user may share a local user's username: the namespaces differ.
    let mut clerk_ops = full_user("user_ops", "ops@example.com", 1);
    clerk_ops.username = Some("ops".into());
    assert_eq!(
        apply1(store, t(8), upsert(clerk_ops)).await.effect,
        Effect::Created
    );
    let found = store
        .local_user_by_username("ops")
        .await
        .expect("by username")
        .expect("the local user is still found");
    assert!(found.is_local(), "the local lookup finds the local user");

    let err = apply_err(
        store,
        WriteBatch::single(t(9), upsert(ClerkUserData::new("", t(0), t(0)))),
    )
    .await;
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

/// Clerk data not newer than the stored row changes nothing — for every type.
pub async fn ordering_by_updated_at<S: Store>(store: &S) {
    let v20 = full_user("user_o", "o@example.com", 20);
    apply1(store, t(1), upsert(v20.clone())).await;
    let v10 = full_user("user_o", "old@example.com", 10);
    assert_eq!(
        apply1(store, t(2), upsert(v10)).await.effect,
        Effect::Unchanged
    );
    let mut same_stamp = full_user("user_o", "same@example.com", 20);
    same_stamp.first_name = Some("Other".into());
    assert_eq!(
        apply1(store, t(3), upsert(same_stamp)).await.effect,
        Effect::Unchanged
    );
    let got = by_clerk(store, "user_o").await;
    assert_mirrors(&got, &v20);
    assert_eq!(
        got.updated_at,
        t(1),
        "an ignored update does not touch updated_at"
    );
    let v21 = full_user("user_o", "new@example.com", 21);
    assert_eq!(
        apply1(store, t(4), upsert(v21.clone())).await.effect,
        Effect::Updated
    );
    assert_mirrors(&by_clerk(store, "user_o").await, &v21);

    let org = |v: i64, name: &str| ClerkOrganizationData::new("org_o", name, t(0), t(v));
    apply1(store, t(1), Change::UpsertOrganization(org(20, "New"))).await;
    assert_eq!(
        apply1(store, t(2), Change::UpsertOrganization(org(10, "Old")))
            .await
            .effect,
        Effect::Unchanged
    );
    assert_eq!(
        store
            .organization("org_o")
            .await
            .expect("org")
            .map(|o| o.name),
        Some("New".to_owned())
    );

    let mem = |v: i64, role: &str| {
        ClerkMembershipData::new("orgmem_o", "org_o", "user_o", role, t(0), t(v))
    };
    apply1(store, t(1), Change::UpsertMembership(mem(20, "org:admin"))).await;
    assert_eq!(
        apply1(store, t(2), Change::UpsertMembership(mem(10, "org:member")))
            .await
            .effect,
        Effect::Unchanged
    );
    assert_eq!(
        store
            .membership("orgmem_o")
            .await
            .expect("membership")
            .map(|m| m.role),
        Some("org:admin".to_owned())
    );

    let inv = |v: i64, status| {
        let mut d = ClerkInvitationData::new(
            "orginv_o",
            "org_o",
            "i@example.com",
            "org:member",
            t(0),
            t(v),
        );
        d.status = status;
        d
    };
    apply1(
        store,
        t(1),
        Change::UpsertInvitation(inv(20, InvitationStatus::Accepted)),
    )
    .await;
    assert_eq!(
        apply1(
            store,
            t(2),
            Change::UpsertInvitation(inv(10, InvitationStatus::Pending))
        )
        .await
        .effect,
        Effect::Unchanged
    );
    assert_eq!(
        store
            .invitation("orginv_o")
            .await
            .expect("invitation")
            .map(|i| i.status),
        Some(InvitationStatus::Accepted)
    );
}

/// A deleted Clerk user is deactivated and releases its email; a re-sign-up with the same
/// address gets a fresh active row; the deleted row stays deleted.
pub async fn soft_delete_and_resignup<S: Store>(store: &S) {
    let old = apply1(
        store,
        t(1),
        upsert(full_user("user_old", "me@example.com", 1)),
    )
    .await;
    let old_id = old.user_id.expect("id");
    let patch = LocalUserPatch::default().staff(true);
    apply1(store, t(1), Change::UpdateLocalFields { id: old_id, patch }).await;
    let mut expected = by_clerk(store, "user_old").await;
    let deleted = apply1(store, t(2), delete_user("user_old", t(2))).await;
    assert_eq!(deleted, Applied::user(Effect::Deleted, old_id));
    let row = by_clerk(store, "user_old").await;
    assert!(!row.is_active && row.is_deleted() && !row.can_sign_in());
    expected.mark_deleted(t(2), t(2));
    assert_eq!(
        row, expected,
        "Clerk data cleared, application-owned fields kept"
    );
    assert!(row.is_staff && row.email.is_none());
    assert_eq!(
        store
            .user_by_email("me@example.com")
            .await
            .expect("by email"),
        None
    );

    let fresh = apply1(
        store,
        t(3),
        upsert(full_user("user_new", "ME@example.com", 2)),
    )
    .await;
    assert_eq!(fresh.effect, Effect::Created);
    let new_id = fresh.user_id.expect("id");
    assert_ne!(new_id, old_id, "a fresh row, not the deleted one");
    let new_row = by_clerk(store, "user_new").await;
    assert!(new_row.is_active && new_row.can_sign_in());
    assert_eq!(
        store
            .user_by_email("me@example.com")
            .await
            .expect("by email")
            .map(|u| u.id),
        Some(new_id)
    );

    // The deleted user stays deleted, whatever arrives later.
    assert_eq!(
        apply1(
            store,
            t(4),
            upsert(full_user("user_old", "other@example.com", 50))
        )
        .await,
        Applied::user(Effect::Gone, old_id)
    );
    assert_eq!(
        apply1(store, t(5), delete_user("user_old", t(5))).await,
        Applied::user(Effect::Gone, old_id)
    );
    let row = by_clerk(store, "user_old").await;
    assert!(!row.is_active && row.deleted_at == Some(t(2)));
    let reactivate = LocalUserPatch::default().active(true);
    assert_eq!(
        apply1(
            store,
            t(6),
            Change::UpdateLocalFields {
                id: old_id,
                patch: reactivate
            }
        )
        .await
        .effect,
        Effect::Gone
    );
    assert_eq!(
        apply1(
            store,
            t(7),
            Change::RecordLogin {
                user: UserRef::ClerkId("user_old".into()),
                at: t(7)
            }
        )
        .await
        .effect,
        Effect::Gone
    );
    assert_eq!(store.list_users(None, 10).await.expect("list").len(), 2);
}

/// `user.updated` arriving before `user.created`: the newer data wins either way.
pub async fn out_of_order_update_before_create<S: Store>(store: &S) {
    let created = full_user("user_ooo", "a@example.com", 1);
    let updated = full_user("user_ooo", "b@example.com", 2);
    assert_eq!(
        apply1(store, t(1), upsert(updated.clone())).await.effect,
        Effect::Created
    );
    assert_eq!(
        apply1(store, t(2), upsert(created)).await.effect,
        Effect::Unchanged
    );
    let row = by_clerk(store, "user_ooo").await;
    assert_mirrors(&row, &updated);
    assert_eq!(
        store
            .user_by_email("a@example.com")
            .await
            .expect("by email"),
        None
    );

    let m_new = ClerkMembershipData::new(
        "orgmem_ooo",
        "org_unknown",
        "user_ooo",
        "org:admin",
        t(0),
        t(2),
    );
    let m_old = ClerkMembershipData::new(
        "orgmem_ooo",
        "org_unknown",
        "user_ooo",
        "org:member",
        t(0),
        t(1),
    );
    assert_eq!(
        apply1(store, t(3), Change::UpsertMembership(m_new))
            .await
            .effect,
        Effect::Created,
        "a membership may arrive before its organization"
    );
    apply1(store, t(4), Change::UpsertMembership(m_old)).await;
    assert_eq!(
        store
            .membership("orgmem_ooo")
            .await
            .expect("membership")
            .map(|m| m.role),
        Some("org:admin".to_owned())
    );
}

/// `user.deleted` arriving before `user.created`/`user.updated`: a tombstone keeps the user
/// deleted and the address free.
pub async fn out_of_order_delete_before_update<S: Store>(store: &S) {
    let tomb = apply1(store, t(1), delete_user("user_dbu", t(1))).await;
    assert_eq!(tomb.effect, Effect::Deleted);
    let tomb_id = tomb.user_id.expect("a tombstone is a row");
    let late = apply1(
        store,
        t(2),
        upsert(full_user("user_dbu", "x@example.com", 5)),
    )
    .await;
    assert_eq!(late, Applied::user(Effect::Gone, tomb_id));
    let row = by_clerk(store, "user_dbu").await;
    assert!(row.is_deleted() && !row.is_active);
    assert_eq!(row.email, None, "a tombstone holds no data");
    assert_eq!(
        store
            .user_by_email("x@example.com")
            .await
            .expect("by email"),
        None
    );
    let other = apply1(store, t(3), upsert(full_user("user_x", "x@example.com", 1))).await;
    assert_eq!(other.effect, Effect::Created);

    let del_org = Change::DeleteOrganization {
        clerk_id: "org_dbu".into(),
        at: t(1),
    };
    assert_eq!(apply1(store, t(1), del_org).await.effect, Effect::Deleted);
    let late_org = ClerkOrganizationData::new("org_dbu", "Late", t(0), t(5));
    assert_eq!(
        apply1(store, t(2), Change::UpsertOrganization(late_org))
            .await
            .effect,
        Effect::Gone
    );
    assert!(store
        .organization("org_dbu")
        .await
        .expect("organization")
        .is_some_and(|o| o.is_deleted()));

    let del_mem = Change::DeleteMembership {
        clerk_id: "orgmem_dbu".into(),
        organization_clerk_id: "org_live".into(),
        user_clerk_id: "user_x".into(),
        at: t(1),
    };
    assert_eq!(apply1(store, t(1), del_mem).await.effect, Effect::Deleted);
    let late_mem =
        ClerkMembershipData::new("orgmem_dbu", "org_live", "user_x", "org:admin", t(0), t(5));
    assert_eq!(
        apply1(store, t(2), Change::UpsertMembership(late_mem))
            .await
            .effect,
        Effect::Gone
    );
    assert!(store
        .memberships_of_user("user_x")
        .await
        .expect("of user")
        .is_empty());
}

/// Applying the same batch again (without a receipt) leaves the same state.
pub async fn idempotent_repeated_upserts<S: Store>(store: &S) {
    let batch = WriteBatch::new(t(1))
        .with(upsert(full_user("user_i", "i@example.com", 3)))
        .with(Change::UpsertOrganization(ClerkOrganizationData::new(
            "org_i",
            "I",
            t(0),
            t(3),
        )))
        .with(Change::UpsertMembership(ClerkMembershipData::new(
            "orgmem_i",
            "org_i",
            "user_i",
            "org:admin",
            t(0),
            t(3),
        )))
        .with(Change::UpsertInvitation(ClerkInvitationData::new(
            "orginv_i",
            "org_i",
            "j@example.com",
            "org:member",
            t(0),
            t(3),
        )))
        .with(Change::RevokeSession(RevokedSession::new(
            "sess_i",
            None,
            "ended",
            t(1),
        )))
        .with(delete_user("user_gone", t(1)));
    let first = apply(store, batch.clone()).await;
    assert!(first.iter().all(|a| a.effect.changed()), "{first:?}");
    let users = store.list_users(None, 10).await.expect("list");
    let org = store.organization("org_i").await.expect("org");
    let mem = store.memberships_of_user("user_i").await.expect("of user");
    let inv = store.invitation("orginv_i").await.expect("inv");
    for round in 0..3 {
        let mut again = batch.clone();
        again.now = t(10 + round);
        let applied = apply(store, again).await;
        assert!(
            applied.iter().all(|a| !a.effect.changed()),
            "round {round}: {applied:?}"
        );
        assert_eq!(applied[0].user_id, first[0].user_id);
    }
    assert_eq!(store.list_users(None, 10).await.expect("list"), users);
    assert_eq!(store.organization("org_i").await.expect("org"), org);
    assert_eq!(
        store.memberships_of_user("user_i").await.expect("of user"),
        mem
    );
    assert_eq!(store.invitation("orginv_i").await.expect("inv"), inv);
}

/// A batch that fails part-way writes nothing, its receipt included; the same delivery
/// succeeds once the conflict is gone.
pub async fn batch_is_atomic<S: Store>(store: &S) {
    apply1(
        store,
        t(1),
        upsert(full_user("user_holder", "held@example.com", 1)),
    )
    .await;
    let batch = WriteBatch::new(t(2))
        .with_receipt("msg_atomic", "user.created")
        .with(Change::UpsertOrganization(ClerkOrganizationData::new(
            "org_atomic",
            "A",
            t(0),
            t(1),
        )))
        .with(upsert(full_user("user_first", "first@example.com", 1)))
        .with(upsert(full_user("user_newcomer", "held@example.com", 1)));
    let err = apply_err(store, batch.clone()).await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "{err:?}"
    );
    assert_eq!(
        store.webhook_event("msg_atomic").await.expect("ledger"),
        None
    );
    assert_eq!(store.organization("org_atomic").await.expect("org"), None);
    assert_eq!(
        store.user_by_clerk_id("user_first").await.expect("user"),
        None
    );
    assert_eq!(store.list_users(None, 10).await.expect("list").len(), 1);

    apply1(store, t(3), delete_user("user_holder", t(3))).await;
    let applied = apply(store, batch).await;
    assert_eq!(
        applied.iter().map(|a| a.effect).collect::<Vec<_>>(),
        [Effect::Created, Effect::Created, Effect::Created]
    );
    assert!(store
        .webhook_event("msg_atomic")
        .await
        .expect("ledger")
        .is_some());
}

/// Linking a new Clerk id to a local row by email happens only when asked, for a verified
/// address, and never onto staff, superusers or rows holding another Clerk id.
pub async fn linking_by_email_is_opt_in<S: Store>(store: &S) {
    let mut local = NewLocalUser::new("pat");
    local.email = Some("pat@example.com".into());
    local.password_hash = Some("$argon2id$pat".into());
    let local_id = apply1(store, t(1), Change::CreateLocalUser(local))
        .await
        .user_id
        .expect("id");
    let mut staff = NewLocalUser::new("boss");
    staff.email = Some("boss@example.com".into());
    staff.is_staff = true;
    apply1(store, t(1), Change::CreateLocalUser(staff)).await;

    let incoming = full_user("user_pat", "pat@example.com", 1);
    let err = apply_err(store, WriteBatch::single(t(2), upsert(incoming.clone()))).await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "off by default: {err:?}"
    );

    let link = |data: ClerkUserData| Change::UpsertUser {
        data,
        link: LinkPolicy::VerifiedEmail,
    };
    let mut unverified = incoming.clone();
    unverified.email_verified = false;
    let err = apply_err(store, WriteBatch::single(t(3), link(unverified))).await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "{err:?}"
    );
    let err = apply_err(
        store,
        WriteBatch::single(t(3), link(full_user("user_boss", "boss@example.com", 1))),
    )
    .await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "staff: {err:?}"
    );

    let linked = apply1(store, t(4), link(incoming.clone())).await;
    assert_eq!(linked, Applied::user(Effect::Linked, local_id));
    let row = by_clerk(store, "user_pat").await;
    assert_eq!(row.id, local_id);
    assert_mirrors(&row, &incoming);
    assert_eq!(
        row.password_hash.as_deref(),
        Some("$argon2id$pat"),
        "app-owned fields stay"
    );
    assert_eq!(row.created_at, t(1));
    assert_eq!(
        store
            .local_user_by_username("pat")
            .await
            .expect("by username"),
        None
    );

    let err = apply_err(
        store,
        WriteBatch::single(t(5), link(full_user("user_pat2", "pat@example.com", 1))),
    )
    .await;
    assert!(
        matches!(err, StoreError::Conflict(Conflict::Email)),
        "never onto a row with another Clerk id: {err:?}"
    );
}

/// Application-owned fields survive every Clerk update.
pub async fn app_owned_fields_survive_upserts<S: Store>(store: &S) {
    let id = apply1(
        store,
        t(1),
        upsert(full_user("user_app", "app@example.com", 1)),
    )
    .await
    .user_id
    .expect("id");
    let patch = LocalUserPatch::default()
        .staff(true)
        .superuser(true)
        .active(false);
    apply1(store, t(2), Change::UpdateLocalFields { id, patch }).await;
    apply1(
        store,
        t(3),
        Change::RecordLogin {
            user: UserRef::ClerkId("user_app".into()),
            at: t(3),
        },
    )
    .await;
    apply1(
        store,
        t(4),
        Change::RecordLogout {
            user: UserRef::ClerkId("user_app".into()),
            at: t(4),
        },
    )
    .await;
    for v in 2..5 {
        let applied = apply1(
            store,
            t(10 + v),
            upsert(full_user("user_app", "app@example.com", v)),
        )
        .await;
        assert_eq!(applied, Applied::user(Effect::Updated, id));
    }
    let row = store.user(id).await.expect("user").expect("row");
    assert!(row.is_staff && row.is_superuser && !row.is_active);
    assert_eq!(row.last_login, Some(t(3)));
    assert_eq!(row.last_logout, Some(t(4)));
    assert_eq!(row.created_at, t(1));
    assert_eq!(row.updated_at, t(14));
    assert_eq!(row.clerk_updated_at, Some(t(4)));
    assert_eq!(
        apply1(
            store,
            t(20),
            Change::RecordLogin {
                user: UserRef::ClerkId("user_nobody".into()),
                at: t(20)
            }
        )
        .await,
        Applied::new(Effect::NotFound)
    );
}

/// Deleting an organization ends its memberships and keeps it deleted.
pub async fn organization_deletion_ends_memberships<S: Store>(store: &S) {
    apply(
        store,
        WriteBatch::new(t(1))
            .with(Change::UpsertOrganization(ClerkOrganizationData::new(
                "org_d",
                "D",
                t(0),
                t(1),
            )))
            .with(Change::UpsertOrganization(ClerkOrganizationData::new(
                "org_k",
                "K",
                t(0),
                t(1),
            )))
            .with(Change::UpsertMembership(ClerkMembershipData::new(
                "orgmem_d1",
                "org_d",
                "user_1",
                "org:admin",
                t(0),
                t(1),
            )))
            .with(Change::UpsertMembership(ClerkMembershipData::new(
                "orgmem_k1",
                "org_k",
                "user_1",
                "org:member",
                t(0),
                t(1),
            ))),
    )
    .await;
    let del = Change::DeleteOrganization {
        clerk_id: "org_d".into(),
        at: t(5),
    };
    assert_eq!(
        apply1(store, t(5), del.clone()).await.effect,
        Effect::Deleted
    );
    assert_eq!(apply1(store, t(6), del).await.effect, Effect::Gone);
    let org = store
        .organization("org_d")
        .await
        .expect("org")
        .expect("row");
    assert_eq!(org.deleted_at, Some(t(5)));
    assert_eq!(org.name, "", "a deleted organization is a tombstone");
    assert_eq!(org.created_at, t(1));
    let left = store.memberships_of_user("user_1").await.expect("of user");
    assert_eq!(
        left.iter().map(|m| m.clerk_id.as_str()).collect::<Vec<_>>(),
        ["orgmem_k1"]
    );
    assert!(store
        .memberships_of_organization("org_d")
        .await
        .expect("of org")
        .is_empty());
    let ended = store
        .membership("orgmem_d1")
        .await
        .expect("membership")
        .expect("an ended membership keeps its row");
    let mut tomb = Membership::tombstone("orgmem_d1", "org_d", "user_1", t(5), t(5));
    tomb.created_at = t(1);
    assert_eq!(ended, tomb);
    let late = ClerkMembershipData::new("orgmem_d2", "org_d", "user_2", "org:member", t(0), t(9));
    assert_eq!(
        apply1(store, t(7), Change::UpsertMembership(late))
            .await
            .effect,
        Effect::Gone,
        "no new memberships in a deleted organization"
    );
    assert_eq!(
        store.membership("orgmem_d2").await.expect("membership"),
        None
    );
    let del_mem = Change::DeleteMembership {
        clerk_id: "orgmem_k1".into(),
        organization_clerk_id: "org_k".into(),
        user_clerk_id: "user_1".into(),
        at: t(8),
    };
    assert_eq!(
        apply1(store, t(8), del_mem.clone()).await.effect,
        Effect::Deleted
    );
    assert_eq!(apply1(store, t(9), del_mem).await.effect, Effect::Gone);
    assert!(store
        .memberships_of_user("user_1")
        .await
        .expect("of user")
        .is_empty());
}

/// Fifty updates of one user applied concurrently from eight interleaved streams in a
/// scrambled order converge to the newest.
pub async fn concurrent_updates_converge<S: Store>(store: &S) {
    let versions: Vec<i64> = (1..=50).map(|i| (i * 37) % 50 + 1).collect();
    let streams = (0..8).map(|s| {
        let mine: Vec<i64> = versions.iter().copied().skip(s).step_by(8).collect();
        async move {
            for v in mine {
                let batch = WriteBatch::single(
                    t(v),
                    upsert(full_user("user_c", &format!("c{v}@example.com"), v)),
                )
                .with_receipt(format!("msg_c{v}"), "user.updated");
                let outcome = apply_retrying(store, batch).await;
                assert!(
                    matches!(outcome, BatchOutcome::Applied(_)),
                    "version {v}: {outcome:?}"
                );
            }
        }
    });
    join_all(streams).await;
    let row = by_clerk(store, "user_c").await;
    assert_mirrors(&row, &full_user("user_c", "c50@example.com", 50));
    assert_eq!(store.list_users(None, 100).await.expect("list").len(), 1);
    for v in 1..=50 {
        assert!(
            store
                .webhook_event(&format!("msg_c{v}"))
                .await
                .expect("ledger")
                .is_some(),
            "delivery {v} recorded"
        );
    }
}

/// The same svix id applied concurrently is applied once.
pub async fn concurrent_duplicate_delivery_applies_once<S: Store>(store: &S) {
    let deliveries = (0..8).map(|i| {
        let batch = WriteBatch::new(t(i))
            .with_receipt("msg_dup", "session.created")
            .with(Change::RevokeSession(RevokedSession::new(
                format!("sess_dup{i}"),
                None,
                "revoked",
                t(i),
            )));
        store.apply(batch)
    });
    let outcomes = join_all(deliveries).await;
    let applied = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(BatchOutcome::Applied(_))))
        .count();
    let duplicates = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(BatchOutcome::AlreadyProcessed(_))))
        .count();
    assert_eq!(applied, 1, "{outcomes:?}");
    assert_eq!(duplicates + applied, 8, "{outcomes:?}");
    let mut revoked = 0;
    for i in 0..8 {
        if store
            .revoked_session(&format!("sess_dup{i}"))
            .await
            .expect("revoked_session")
            .is_some()
        {
            revoked += 1;
        }
    }
    assert_eq!(revoked, 1, "exactly one delivery's effect is stored");
}

/// `list_users` pages by id, stably.
pub async fn list_users_pages<S: Store>(store: &S) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let applied = apply1(
            store,
            t(i),
            upsert(full_user(
                &format!("user_p{i}"),
                &format!("p{i}@example.com"),
                1,
            )),
        )
        .await;
        ids.push(applied.user_id.expect("id"));
    }
    apply1(store, t(9), delete_user("user_p3", t(9))).await;
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_users(after, 3).await.expect("list");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page.iter().map(|u| u.id));
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        seen, sorted,
        "every user once, ascending, deleted ones included"
    );
}

/// Failed logins by key ([`LoginAttemptStore`](crate::store::LoginAttemptStore)): read back
/// newest first from `since` (inclusive) and bounded by `limit`, keys kept apart exactly
/// (case and accents included), repeats counted, a key cleared alone, and rows older than
/// `forget_before` forgotten whatever their key.
pub async fn login_failures_by_key<S: Store>(store: &S) {
    let far_past = t(-1_000_000_000);
    let recent = |key: &'static str, since: UnixTime, limit: usize| async move {
        store
            .recent_login_failures(key, since, limit)
            .await
            .expect("recent_login_failures")
    };
    let record = |keys: &'static [&'static str], at: UnixTime, forget_before: UnixTime| async move {
        store
            .record_login_failure(keys, at, forget_before)
            .await
            .expect("record_login_failure");
    };
    assert!(recent("user:ada", far_past, 10).await.is_empty());
    for at in [t(1000), t(0), t(2000)] {
        record(&["user:ada", "addr:192.0.2.1"], at, far_past).await;
    }
    assert_eq!(
        recent("user:ada", far_past, 10).await,
        vec![t(2000), t(1000), t(0)],
        "newest first"
    );
    assert_eq!(
        recent("user:ada", far_past, 2).await,
        vec![t(2000), t(1000)],
        "the newest `limit`"
    );
    assert_eq!(
        recent("user:ada", t(1000), 10).await,
        vec![t(2000), t(1000)],
        "`since` is inclusive"
    );
    assert_eq!(recent("addr:192.0.2.1", far_past, 10).await.len(), 3);
    record(&["user:ada"], t(2000), far_past).await;
    assert_eq!(
        recent("user:ada", far_past, 10).await,
        vec![t(2000), t(2000), t(1000), t(0)],
        "the same instant twice counts twice"
    );

    // Keys are compared exactly: another case or accent is another key.
    // 133 characters: the longest key `login_throttle::username_key` makes.
    const LONG: &str = "user:éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé";
    record(&["user:ADA", "user:adà", LONG], t(500), far_past).await;
    assert_eq!(recent("user:ada", far_past, 10).await.len(), 4);
    assert_eq!(recent("user:ADA", far_past, 10).await, vec![t(500)]);
    assert_eq!(recent("user:adà", far_past, 10).await, vec![t(500)]);
    assert_eq!(recent(LONG, far_past, 10).await, vec![t(500)]);
    assert!(recent("user:ad", far_past, 10).await.is_empty());

    store
        .clear_login_failures("user:ada")
        .await
        .expect("clear_login_failures");
    assert!(recent("user:ada", far_past, 10).await.is_empty());
    assert_eq!(
        recent("addr:192.0.2.1", far_past, 10).await.len(),
        3,
        "clearing one key leaves the others"
    );
    assert_eq!(recent("user:ADA", far_past, 10).await, vec![t(500)]);

    // Recording forgets every key's rows older than `forget_before`.
    record(&["user:grace"], t(10_000), t(1000)).await;
    assert_eq!(
        recent("addr:192.0.2.1", far_past, 10).await,
        vec![t(2000), t(1000)]
    );
    assert!(recent("user:ADA", far_past, 10).await.is_empty());
    assert!(recent(LONG, far_past, 10).await.is_empty());
    assert_eq!(recent("user:grace", far_past, 10).await, vec![t(10_000)]);
    store
        .clear_login_failures("user:nobody")
        .await
        .expect("clearing an unknown key is fine");
}

/// The case list, written once: calls `$callback!($($args)*; case, case, …)`. Used by
/// [`CASES`], [`run_all`] and [`store_conformance_tests!`](crate::store_conformance_tests).
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($callback:path; $($args:tt)*) => {
        $callback!($($args)*;
            user_round_trip,
            local_user_round_trip,
            organization_round_trip,
            ledger_round_trip,
            clerk_id_is_unique,
            email_and_username_are_unique,
            ordering_by_updated_at,
            soft_delete_and_resignup,
            out_of_order_update_before_create,
            out_of_order_delete_before_update,
            idempotent_repeated_upserts,
            batch_is_atomic,
            linking_by_email_is_opt_in,
            app_owned_fields_survive_upserts,
            organization_deletion_ends_memberships,
            concurrent_updates_converge,
            concurrent_duplicate_delivery_applies_once,
            list_users_pages,
            held_delivery_is_kept_with_its_receipt,
            held_delivery_is_released_once,
            reapply_writes_an_equal_stamp,
            login_failures_by_key
        );
    };
}

macro_rules! define_suite {
    (; $($case:ident),* $(,)?) => {
        /// The names of every case, in the order [`run_all`] runs them.
        pub const CASES: &[&str] = &[$(stringify!($case)),*];

        /// Runs every case, each against a fresh store from `make`.
        pub async fn run_all<S, F, Fut>(mut make: F)
        where
            S: Store,
            F: FnMut() -> Fut,
            Fut: Future<Output = S>,
        {
            $($case(&make().await).await;)*
        }
    };
}

crate::__store_conformance_cases!(define_suite;);

/// A store under test with whatever must be torn down after a case (a database, a schema),
/// for [`store_conformance_tests!`](crate::store_conformance_tests)'s `gated` form.
pub trait Fixture: Send {
    /// The store the cases run against.
    type Store: Store;

    /// The store.
    fn store(&self) -> &Self::Store;

    /// Tears down after a case that passed (the default just drops `self`).
    fn close(self) -> impl Future<Output = ()> + Send
    where
        Self: Sized,
    {
        async {}
    }
}

/// Generates one `#[tokio::test]` per conformance case. The calling crate needs `tokio` with
/// the `macros` and `rt` features as a dev-dependency.
///
/// - `store_conformance_tests!(fresh_store)`: each case against a fresh store from
///   `fresh_store` (a path to an `async fn() -> impl Store`).
/// - `store_conformance_tests!(gated fixture)`: for a backend that needs a service the
///   environment may not provide. `fixture` is a path to an
///   `async fn(case: &'static str) -> Option<impl Fixture>`; `None` skips the case (print
///   why), otherwise the case runs against [`Fixture::store`] and then [`Fixture::close`]
///   tears it down.
#[macro_export]
macro_rules! store_conformance_tests {
    (@plain $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make().await;
                $crate::store::conformance::$case(&store).await;
            }
        )*
    };
    (@gated $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(fixture) = $make(stringify!($case)).await else {
                    return;
                };
                $crate::store::conformance::$case(
                    $crate::store::conformance::Fixture::store(&fixture),
                )
                .await;
                $crate::store::conformance::Fixture::close(fixture).await;
            }
        )*
    };
    (gated $make:path) => {
        $crate::__store_conformance_cases!($crate::store_conformance_tests; @gated $make);
    };
    ($make:path) => {
        $crate::__store_conformance_cases!($crate::store_conformance_tests; @plain $make);
    };
}
