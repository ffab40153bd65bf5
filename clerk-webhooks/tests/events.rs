//! Typed events: every catalogued type parses from a realistic body (the test kit's), unknown
//! types are kept, and bad bodies give clear errors.

use std::collections::BTreeSet;

use clerk_testkit::webhooks::bodies::{self, MembershipBody, UserBody};
use clerk_webhooks::{Event, EventData, ParseError, KNOWN_EVENT_TYPES};
use serde_json::json;

fn parse(value: &serde_json::Value) -> Event {
    Event::from_slice(&bodies::to_bytes(value)).unwrap_or_else(|e| panic!("{e}: {value}"))
}

#[test]
fn every_known_type_parses_from_a_realistic_body() {
    let samples = bodies::samples();
    let sampled: BTreeSet<&str> = samples.iter().map(|(t, _)| *t).collect();
    let known: BTreeSet<&str> = KNOWN_EVENT_TYPES.iter().copied().collect();
    assert_eq!(sampled, known, "the test kit has one sample per known type");
    assert_eq!(
        known.len(),
        KNOWN_EVENT_TYPES.len(),
        "no duplicates in the catalog"
    );

    for (event_type, body) in &samples {
        let event = parse(body);
        assert_eq!(event.event_type(), *event_type);
        assert!(
            !matches!(event.data, EventData::Unknown { .. }),
            "{event_type} parsed as Unknown"
        );
        assert_eq!(event.object, "event");
        assert_eq!(event.timestamp, body["timestamp"].as_i64(), "{event_type}");
        assert_eq!(event.instance_id.as_deref(), Some(bodies::INSTANCE_ID));
        let request = event
            .event_attributes
            .http_request
            .as_ref()
            .expect("http_request");
        assert_eq!(
            (request.client_ip.as_str(), request.user_agent.as_str()),
            (bodies::CLIENT_IP, bodies::USER_AGENT)
        );
        assert_eq!(
            event.data.object_id(),
            body["data"]["id"].as_str(),
            "{event_type}"
        );
    }
}

#[test]
fn user_fields_and_primary_email() {
    let body = UserBody::new("user_2aAda", "ada@example.com")
        .first_name("Ada")
        .last_name("Lovelace")
        .username("ada")
        .external_id("ext-42")
        .public_metadata(json!({"role": "admin"}))
        .banned(true)
        .last_sign_in_at(1_700_000_500_000)
        .extra_email("idn_other", "ada@work.example", false)
        .updated_at(1_700_000_900_000)
        .event("user.updated");
    let EventData::UserUpdated(user) = parse(&body).data else {
        panic!("not user.updated")
    };
    assert_eq!(user.id, "user_2aAda");
    assert_eq!(
        (user.first_name.as_deref(), user.last_name.as_deref()),
        (Some("Ada"), Some("Lovelace"))
    );
    assert_eq!(user.full_name().as_deref(), Some("Ada Lovelace"));
    assert_eq!(
        (user.username.as_deref(), user.external_id.as_deref()),
        (Some("ada"), Some("ext-42"))
    );
    assert_eq!(user.public_metadata.get("role"), Some(&json!("admin")));
    assert!(user.banned && !user.locked);
    assert_eq!(
        (user.last_sign_in_at, user.updated_at),
        (Some(1_700_000_500_000), 1_700_000_900_000)
    );
    assert_eq!(user.email_addresses.len(), 2);
    let primary = user.primary_email().expect("primary email");
    assert_eq!(
        (primary.id, primary.address, primary.verified),
        ("idn_2aAda", "ada@example.com", true)
    );
    assert_eq!(
        user.email_addresses[0]
            .verification
            .as_ref()
            .map(|v| v.strategy.as_str()),
        Some("email_code")
    );

    // Switching the primary to the unverified address reports it unverified.
    let body = UserBody::new("user_2aAda", "ada@example.com")
        .extra_email("idn_other", "ada@work.example", false)
        .primary_email_id("idn_other")
        .event("user.updated");
    let EventData::UserUpdated(user) = parse(&body).data else {
        panic!("not user.updated")
    };
    let primary = user.primary_email().expect("primary email");
    assert_eq!(
        (primary.address, primary.verified),
        ("ada@work.example", false)
    );

    // No email at all.
    let body = UserBody::new("user_2aPhone", "x@example.com")
        .no_email()
        .phone_number("idn_ph", "+15555550100")
        .event("user.created");
    let EventData::UserCreated(user) = parse(&body).data else {
        panic!("not user.created")
    };
    assert_eq!(user.primary_email(), None);
    assert_eq!(user.phone_numbers[0].phone_number, "+15555550100");
}

#[test]
fn user_deleted_gives_the_deleted_object() {
    let body = json!({
        "data": {"deleted": true, "id": "user_29wBMCtzATuFJut8jO2VNTVekS4", "object": "user"},
        "object": "event",
        "timestamp": 1_654_012_824_306_i64,
        "type": "user.deleted"
    });
    let EventData::UserDeleted(deleted) = parse(&body).data else {
        panic!("not user.deleted")
    };
    assert_eq!(
        (
            deleted.id.as_str(),
            deleted.object.as_str(),
            deleted.deleted
        ),
        ("user_29wBMCtzATuFJut8jO2VNTVekS4", "user", true)
    );
    assert_eq!(
        deleted,
        clerk_webhooks::DeletedObject::new("user_29wBMCtzATuFJut8jO2VNTVekS4", "user")
    );
}

#[test]
fn membership_carries_org_and_user() {
    let body = MembershipBody::new("orgmem_1", "org_1", "user_1", "org:admin")
        .member("ada@example.com", Some("Ada"), None)
        .updated_at(1_700_000_777_000)
        .event("organizationMembership.updated");
    let EventData::OrganizationMembershipUpdated(m) = parse(&body).data else {
        panic!("wrong variant")
    };
    assert_eq!(
        (
            m.organization.id.as_str(),
            m.public_user_data.user_id.as_str()
        ),
        ("org_1", "user_1")
    );
    assert_eq!(m.role, "org:admin");
    assert!(m
        .permissions
        .iter()
        .any(|p| p == "org:sys_memberships:manage"));
    assert_eq!(m.public_user_data.identifier, "ada@example.com");
    assert_eq!(
        (
            m.public_user_data.first_name.as_deref(),
            m.public_user_data.last_name.as_deref()
        ),
        (Some("Ada"), None)
    );
    assert_eq!(m.organization.slug.as_deref(), Some("acme"));
    assert_eq!(m.updated_at, 1_700_000_777_000);
}

#[test]
fn invitations_sessions_and_the_rest_keep_their_fields() {
    let e = parse(&bodies::invitation_accepted(
        "orginv_1",
        "org_1",
        "bob@example.com",
        "user_bob",
    ));
    let EventData::OrganizationInvitationAccepted(inv) = e.data else {
        panic!("wrong variant")
    };
    assert_eq!(
        (
            inv.status.as_str(),
            inv.user_id.as_deref(),
            inv.organization_id.as_str()
        ),
        ("accepted", Some("user_bob"), "org_1")
    );
    assert_eq!(
        (inv.email_address.as_str(), inv.role.as_str()),
        ("bob@example.com", "org:member")
    );

    let e = parse(&bodies::session_revoked("sess_1", "user_1"));
    let EventData::SessionRevoked(s) = e.data else {
        panic!("wrong variant")
    };
    assert_eq!(
        (s.user_id.as_str(), s.status.as_str()),
        ("user_1", "revoked")
    );
    assert!(s.is_terminated() && s.expire_at > s.created_at && !s.client_id.is_empty());
    let EventData::SessionPending(s) = parse(&bodies::session_pending("sess_2", "user_1")).data
    else {
        panic!()
    };
    assert!(!s.is_terminated());

    let EventData::OrganizationUpdated(org) = parse(&bodies::organization_updated(
        "org_1", "Acme Inc", "acme", 5,
    ))
    .data
    else {
        panic!()
    };
    assert_eq!(
        (org.name.as_str(), org.members_count, org.updated_at),
        ("Acme Inc", Some(1), 5)
    );
    let EventData::RoleCreated(role) = parse(&bodies::role_created("role_1", "org:auditor")).data
    else {
        panic!()
    };
    assert_eq!(
        (role.key.as_str(), role.permissions[0].key.as_str()),
        ("org:auditor", "org:reports:read")
    );
    let EventData::WaitlistEntryUpdated(w) = parse(&bodies::waitlist_entry_updated(
        "wle_1",
        "c@example.com",
        "invited",
    ))
    .data
    else {
        panic!()
    };
    assert_eq!(
        (w.status.as_str(), w.invitation.map(|i| i.status)),
        ("invited", Some("pending".to_owned()))
    );
    let EventData::OrganizationDomainUpdated(d) = parse(&bodies::domain_updated(
        "orgdmn_1",
        "org_1",
        "acme.example",
        9,
    ))
    .data
    else {
        panic!()
    };
    assert_eq!(
        d.verification.map(|v| v.status),
        Some("verified".to_owned())
    );
    let EventData::EmailCreated(mail) =
        parse(&bodies::email_created("ema_1", "ada@example.com")).data
    else {
        panic!()
    };
    assert_eq!(
        (mail.to_email_address.as_str(), mail.delivered_by_clerk),
        ("ada@example.com", true)
    );
    let EventData::SmsCreated(sms) = parse(&bodies::sms_created("sms_1", "+15555550100")).data
    else {
        panic!()
    };
    assert_eq!(sms.to_phone_number, "+15555550100");
}

#[test]
fn unknown_types_become_unknown() {
    let body = json!({"type": "subscription.created", "object": "event", "data": {"id": "csub_1", "status": "active"}});
    let event = parse(&body);
    assert_eq!(event.event_type(), "subscription.created");
    assert_eq!(event.data.object_id(), Some("csub_1"));
    let EventData::Unknown { event_type, raw } = event.data else {
        panic!("not Unknown")
    };
    assert_eq!(
        (event_type.as_str(), &raw),
        ("subscription.created", &body["data"])
    );

    // No data at all, and no envelope extras: still fine for an unknown type.
    let event = parse(&json!({"type": "something.new"}));
    assert!(matches!(event.data, EventData::Unknown { ref raw, .. } if raw.is_null()));
    assert_eq!(
        (
            event.timestamp,
            event.instance_id,
            event.event_attributes.http_request
        ),
        (None, None, None)
    );
}

#[test]
fn bodies_that_are_not_events_are_clear_errors() {
    for body in [
        &b"not json"[..],
        b"",
        b"[1,2]",
        b"{\"data\":{}}",
        b"{\"type\":5}",
        b"{\"type\":\"user.created\",\"data\":{}} trailing",
    ] {
        match Event::from_slice(body) {
            Err(ParseError::InvalidEnvelope { message }) => assert!(!message.is_empty()),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
        }
    }
    let err = Event::from_slice(b"not json").expect_err("invalid");
    assert!(
        err.to_string()
            .starts_with("webhook body is not a Clerk event: expected"),
        "{err}"
    );
    assert_eq!(err.event_type(), None);
}

#[test]
fn a_known_type_with_the_wrong_data_names_the_type() {
    // Missing id.
    let err = Event::from_slice(br#"{"type":"user.created","data":{"first_name":"Ada"}}"#)
        .expect_err("no id");
    assert_eq!(err.event_type(), Some("user.created"));
    assert!(
        err.to_string().contains("`user.created`")
            && err.to_string().contains("missing field `id`"),
        "{err}"
    );
    // Missing data.
    let err = Event::from_slice(br#"{"type":"session.ended"}"#).expect_err("no data");
    assert_eq!(
        err,
        ParseError::InvalidData {
            event_type: "session.ended".into(),
            message: "missing `data`".into()
        }
    );
    // Wrong type of a field: serde's message, with the value redacted.
    let err = Event::from_slice(
        br#"{"type":"user.updated","data":{"id":"user_1","updated_at":"ada@example.com"}}"#,
    )
    .expect_err("string timestamp");
    let text = err.to_string();
    assert!(
        text.contains("`user.updated`") && text.contains("invalid type: string"),
        "{text}"
    );
    assert!(!text.contains("ada@example.com"), "{text}");
    // Membership without its organization.
    let err = Event::from_slice(br#"{"type":"organizationMembership.created","data":{"id":"orgmem_1","public_user_data":{}}}"#)
        .expect_err("no organization");
    assert!(
        err.to_string().contains("missing field `organization`"),
        "{err}"
    );
}

#[test]
fn nulls_and_missing_fields_default_and_unknown_fields_are_ignored() {
    let body = br#"{"type":"user.created","data":{
        "id":"user_min","email_addresses":null,"public_metadata":null,"banned":null,
        "image_url":null,"created_at":null,"brand_new_field":{"x":[1,2,3]},
        "first_name":null}}"#;
    let EventData::UserCreated(user) = Event::from_slice(body).expect("minimal user").data else {
        panic!()
    };
    assert_eq!(user.id, "user_min");
    assert!(user.email_addresses.is_empty() && user.public_metadata.is_empty());
    assert!(
        !user.banned
            && user.image_url.is_empty()
            && user.created_at == 0
            && user.first_name.is_none()
    );
    assert_eq!(user.primary_email(), None);

    let body = br#"{"type":"organization.created","data":{"id":"org_min","slug":null,"public_metadata":null},"event_attributes":null,"object":null}"#;
    let event = Event::from_slice(body).expect("minimal org");
    let EventData::OrganizationCreated(org) = event.data else {
        panic!()
    };
    assert_eq!(
        (org.id.as_str(), org.slug, org.members_count),
        ("org_min", None, None)
    );
}

#[test]
fn models_round_trip_through_serde() {
    for (event_type, body) in bodies::samples() {
        let event = parse(&body);
        let reserialized = match &event.data {
            EventData::UserCreated(u) => serde_json::to_value(u),
            EventData::OrganizationMembershipCreated(m) => serde_json::to_value(m),
            EventData::SessionCreated(s) => serde_json::to_value(s),
            _ => continue,
        }
        .expect("serialize");
        let again = json!({"type": event_type, "data": reserialized});
        assert_eq!(parse(&again).data, event.data, "{event_type}");
    }
}
