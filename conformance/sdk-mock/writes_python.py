"""Clerk's official Python SDK (`clerk-backend-api`) performs the Backend API writes against our
mock Clerk and parses the answers into its pydantic models (docs/design.md §12): ban/unban,
lock/unlock, user metadata (deep merge), update and delete a user, list and revoke a user's
sessions, create and revoke an application invitation, create/update/delete an organization,
create/update/delete a membership; and Clerk's errors for a missing user and a duplicate.

Usage: python writes_python.py <mock API URL> <secret key> <first user number>
Runs on a mock of its own (run.sh starts one for the write checks): the users it writes are
user_gen_<first> to user_gen_<first + 4>, so the Node write checks can share the mock.

Prints one `PASS <name>` or `FAIL <name>: <why>` line per check; exits 1 when any failed.
"""

from __future__ import annotations

import json
import sys
import traceback
import urllib.request

from clerk_backend_api import Clerk, models

API_URL, SECRET_KEY = sys.argv[1].rstrip("/"), sys.argv[2]
FIRST = int(sys.argv[3])
EPOCH_MS = 1_700_000_000_000

results: list[bool] = []


def check(name):
    def run(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, none is fatal
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            print(f"FAIL python writes: {name}: {detail[:2000]}", flush=True)
            results.append(False)
        else:
            print(f"PASS python writes: {name}", flush=True)
            results.append(True)
        return fn

    return run


def eq(actual, expected, what):
    assert actual == expected, f"{what}: got {actual!r}, expected {expected!r}"


def user_id(k: int) -> str:
    return f"user_gen_{FIRST + k:08d}"


def expect_clerk_errors(call, status: int, code: str):
    try:
        call()
    except models.ClerkErrors as e:
        got_status, data = e.raw_response.status_code, e.data
    except models.SDKError as e:
        got_status = e.status_code
        data = models.ClerkErrorsData.model_validate_json(e.body)
    else:
        raise AssertionError(f"no error raised; expected a {status} {code}")
    eq(got_status, status, "HTTP status")
    eq(data.errors[0].code, code, "errors[0].code")


def mint_session(uid: str) -> str:
    request = urllib.request.Request(
        f"{API_URL}/__mock/sessions",
        data=json.dumps({"user_id": uid}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["id"]


sdk = Clerk(bearer_auth=SECRET_KEY, server_url=f"{API_URL}/v1")


@check("users.ban / users.unban parse into models.User with banned flipped")
def _():
    banned = sdk.users.ban(user_id=user_id(0))
    assert isinstance(banned, models.User), type(banned)
    eq(banned.banned, True, "banned")
    assert banned.updated_at > EPOCH_MS + 500, "updated_at moved"
    unbanned = sdk.users.unban(user_id=user_id(0))
    eq(unbanned.banned, False, "banned after unban")
    assert unbanned.updated_at > banned.updated_at, "updated_at increases"


@check("users.lock / users.unlock parse into models.User with locked flipped")
def _():
    eq(sdk.users.lock(user_id=user_id(1)).locked, True, "locked")
    eq(sdk.users.unlock(user_id=user_id(1)).locked, False, "locked after unlock")


@check("users.update_metadata deep-merges; null removes a key")
def _():
    sdk.users.update_metadata(
        user_id=user_id(2),
        public_metadata={"plan": "free", "prefs": {"theme": "dark", "lang": "en"}},
        private_metadata={"stripe": "cus_1"},
    )
    user = sdk.users.update_metadata(
        user_id=user_id(2), public_metadata={"plan": "pro", "prefs": {"lang": None}}
    )
    eq(user.public_metadata, {"plan": "pro", "prefs": {"theme": "dark"}}, "public_metadata")
    eq(user.private_metadata, {"stripe": "cus_1"}, "private_metadata")


@check("users.update sets fields and parses into models.User")
def _():
    user = sdk.users.update(user_id=user_id(3), first_name="Ada", external_id="emp-7")
    eq(user.first_name, "Ada", "first_name")
    eq(user.external_id, "emp-7", "external_id")


@check("users.ban of a missing user is a 404 resource_not_found")
def _():
    expect_clerk_errors(lambda: sdk.users.ban(user_id="user_missing"), 404, "resource_not_found")


@check("sessions.list (user_id, status) and sessions.revoke parse into models.Session")
def _():
    minted = [mint_session(user_id(4)) for _ in range(2)]
    sessions = sdk.sessions.list(user_id=user_id(4), status="active")
    eq(sorted(s.id for s in sessions), sorted(minted), "listed ids")
    for s in sessions:
        assert isinstance(s, models.Session), type(s)
        eq(s.user_id, user_id(4), "user_id")
        eq(s.status.value, "active", "status")
    revoked = sdk.sessions.revoke(session_id=minted[0])
    assert isinstance(revoked, models.Session), type(revoked)
    eq(revoked.status.value, "revoked", "status after revoke")
    eq([s.id for s in sdk.sessions.list(user_id=user_id(4), status="active")], [minted[1]], "still active")


@check("invitations.create / invitations.revoke parse into models.Invitation and InvitationRevoked")
def _():
    inv = sdk.invitations.create(
        request={
            "email_address": "py-invitee@example.com",
            "public_metadata": {"team": "a"},
            "expires_in_days": 7,
            "notify": False,
        }
    )
    assert isinstance(inv, models.Invitation), type(inv)
    eq(inv.email_address, "py-invitee@example.com", "email_address")
    eq(inv.status.value, "pending", "status")
    eq(inv.public_metadata, {"team": "a"}, "public_metadata")
    eq(inv.expires_at - inv.created_at, 7 * 86_400_000, "expires_at")
    expect_clerk_errors(
        lambda: sdk.invitations.create(request={"email_address": "py-invitee@example.com"}),
        422,
        "duplicate_record",
    )
    revoked = sdk.invitations.revoke(invitation_id=inv.id)
    assert isinstance(revoked, models.InvitationRevoked), type(revoked)
    eq(revoked.status.value, "revoked", "status")
    listed = sdk.invitations.list(status="revoked")
    assert any(i.id == inv.id for i in listed), "the revoked invitation is listed"


@check("organizations and organization_memberships: create, update, delete")
def _():
    org = sdk.organizations.create(request={"name": "Py Org", "created_by": user_id(0)})
    assert isinstance(org, models.Organization), type(org)
    eq(org.name, "Py Org", "name")
    eq(org.slug, "py-org", "slug")
    m = sdk.organization_memberships.create(
        organization_id=org.id, user_id=user_id(1), role="org:member"
    )
    assert isinstance(m, models.OrganizationMembership), type(m)
    eq(m.role, "org:member", "role")
    eq(m.public_user_data.user_id, user_id(1), "public_user_data.user_id")
    expect_clerk_errors(
        lambda: sdk.organization_memberships.create(
            organization_id=org.id, user_id=user_id(1), role="org:member"
        ),
        422,
        "already_a_member_in_organization",
    )
    m = sdk.organization_memberships.update(
        organization_id=org.id, user_id=user_id(1), role="org:admin"
    )
    eq(m.role, "org:admin", "role after update")
    renamed = sdk.organizations.update(organization_id=org.id, name="Py Org 2")
    eq(renamed.name, "Py Org 2", "name after update")
    removed = sdk.organization_memberships.delete(organization_id=org.id, user_id=user_id(1))
    eq(removed.public_user_data.user_id, user_id(1), "removed member")
    deleted = sdk.organizations.delete(organization_id=org.id)
    assert isinstance(deleted, models.DeletedObject), type(deleted)
    eq((deleted.id, deleted.deleted, deleted.object), (org.id, True, "organization"), "deleted")
    expect_clerk_errors(
        lambda: sdk.organizations.get(organization_id=org.id), 404, "resource_not_found"
    )


@check("users.delete parses into models.DeletedObject; the user is gone")
def _():
    deleted = sdk.users.delete(user_id=user_id(3))
    assert isinstance(deleted, models.DeletedObject), type(deleted)
    eq((deleted.id, deleted.deleted, deleted.object), (user_id(3), True, "user"), "deleted")
    expect_clerk_errors(lambda: sdk.users.get(user_id=user_id(3)), 404, "resource_not_found")


failed = results.count(False)
print(f"python writes: {len(results) - failed} passed, {failed} failed", flush=True)
sys.exit(1 if failed else 0)
