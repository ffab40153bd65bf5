"""Clerk's official Python SDK (`clerk-backend-api`) as the judge of our mock Clerk.

Usage: python check_python.py <mock API URL> <secret key> <users> <organizations>

Every Backend API list and get the mock serves is called through the SDK, so its answer must
parse into the SDK's own pydantic models; the parsed fields are then compared with the raw JSON
(fetched with plain HTTP) and with the values the mock's generated data set is documented to
hold (clerk-testkit/src/mock/dataset.rs and backend.rs `generate_organizations`). Errors must
come back as the SDK's `ClerkErrors` with Clerk's codes.

Prints one `PASS <name>` or `FAIL <name>: <why>` line per check; exits 1 when any failed.
"""

from __future__ import annotations

import json
import sys
import traceback
import urllib.error
import urllib.request

from clerk_backend_api import Clerk, models

API_URL, SECRET_KEY = sys.argv[1].rstrip("/"), sys.argv[2]
USERS, ORGS = int(sys.argv[3]), int(sys.argv[4])
MEMBERS_PER_ORG = min(3, USERS)
EPOCH_MS = 1_700_000_000_000

results: list[tuple[str, bool]] = []


def check(name):
    """Runs the decorated function as one check; an exception or AssertionError fails it."""

    def run(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, none is fatal
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            print(f"FAIL python: {name}: {detail[:2000]}", flush=True)
            results.append((name, False))
        else:
            print(f"PASS python: {name}", flush=True)
            results.append((name, True))
        return fn

    return run


def raw(path: str, key: str = SECRET_KEY):
    """(status, JSON body) of GET <API_URL>/v1<path> with plain HTTP."""
    request = urllib.request.Request(
        f"{API_URL}/v1{path}", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def eq(actual, expected, what):
    assert actual == expected, f"{what}: got {actual!r}, expected {expected!r}"


# Fields the mock serves that the SDK's models do not declare: "object.field" -> True.
unknown_fields: dict[str, bool] = {}


def same_as_raw(parsed, raw_json, what: str):
    """What the SDK parsed, dumped back to JSON, must equal the raw JSON field for field.

    Every field the model was given (`exclude_unset`) must be in the raw JSON with the same
    value, recursively, so no field was coerced, dropped or defaulted. Raw fields the model does
    not declare are allowed (Clerk's models do not cover everything) and listed at the end.
    """

    def compare(dumped, raw_value, path):
        if isinstance(dumped, dict):
            assert isinstance(raw_value, dict), f"{path}: parsed an object from {raw_value!r}"
            for key, value in dumped.items():
                assert key in raw_value, f"{path}.{key}: parsed but not served"
                compare(value, raw_value[key], f"{path}.{key}")
            for key in raw_value.keys() - dumped.keys():
                unknown_fields[f"{what}.{key}"] = True
        elif isinstance(dumped, list):
            assert isinstance(raw_value, list), f"{path}: parsed a list from {raw_value!r}"
            eq(len(dumped), len(raw_value), f"{path} length")
            for i, (a, b) in enumerate(zip(dumped, raw_value)):
                compare(a, b, f"{path}[{i}]")
        else:
            eq(dumped, raw_value, path)

    compare(parsed.model_dump(mode="json", by_alias=True, exclude_unset=True), raw_json, what)


def clerk(key: str = SECRET_KEY) -> Clerk:
    return Clerk(bearer_auth=key, server_url=f"{API_URL}/v1")


def user_id(n: int) -> str:
    return f"user_gen_{n:08d}"


def expect_clerk_errors(call, status: int, code: str):
    """`call()` must fail with HTTP `status` and a body that parses into the SDK's Clerk error
    model with first error `code`.

    The SDK raises `ClerkErrors` for the statuses an operation declares in Clerk's OpenAPI
    spec and a bare `SDKError` (status and body) for the others (`users.count` declares no
    401, for example); the body of the latter is parsed with the same `ClerkErrorsData`
    model here.
    """
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
    assert data.errors[0].message, "errors[0].message is empty"
    assert data.errors[0].long_message, "errors[0].long_message is empty"
    return data


def check_user(sdk: models.User, raw_json: dict, n: int):
    """An SDK user against the raw JSON and generated user `n` of the data set."""
    same_as_raw(sdk, raw_json, "user")
    eq(sdk.id, raw_json["id"], "id vs raw")
    eq(sdk.id, user_id(n), "id")
    eq(sdk.object, models.UserObject.USER, "object")
    eq(sdk.username, f"user{n}", "username")
    eq(sdk.first_name, "Gen", "first_name")
    eq(sdk.last_name, str(n), "last_name")
    eq(sdk.created_at, EPOCH_MS + n * 1000, "created_at")
    eq(sdk.updated_at, EPOCH_MS + n * 1000 + 500, "updated_at")
    eq(sdk.created_at, raw_json["created_at"], "created_at vs raw")
    eq(sdk.banned, raw_json["banned"], "banned vs raw")
    eq(sdk.passkeys, [], "passkeys")
    eq(sdk.enterprise_accounts, [], "enterprise_accounts")
    eq(sdk.mfa_enabled_at, None, "mfa_enabled_at")
    eq(len(sdk.email_addresses), 1, "email_addresses")
    email = sdk.email_addresses[0]
    eq(email.email_address, f"user{n}@example.test", "email_address")
    eq(email.id, sdk.primary_email_address_id, "primary_email_address_id")
    eq(email.id, raw_json["email_addresses"][0]["id"], "email id vs raw")
    # The verification parsed into the SDK's OTP model, picked by its `object` tag.
    eq(type(email.verification).__name__, "Otp", "verification model")
    eq(email.verification.status.value, "verified", "verification.status")
    eq(str(email.verification.strategy.value), "email_code", "verification.strategy")
    eq(email.verification.object.value, "verification_otp", "verification.object")


sdk = clerk()


@check("users.list (limit=500, +created_at) parses every user into models.User")
def _():
    users = sdk.users.list(request={"limit": 500, "order_by": "+created_at"})
    status, raw_users = raw("/users?limit=500&order_by=%2Bcreated_at")
    eq(status, 200, "raw status")
    eq(len(users), USERS, "users listed")
    for n, (user, raw_user) in enumerate(zip(users, raw_users)):
        assert isinstance(user, models.User), type(user)
        check_user(user, raw_user, n)


@check("users.list default paging is Clerk's (10, newest first)")
def _():
    users = sdk.users.list()
    eq(len(users), min(10, USERS), "page size")
    eq(users[0].id, user_id(USERS - 1), "first id")


@check("users.list offset pages through")
def _():
    users = sdk.users.list(request={"limit": 2, "offset": 3, "order_by": "+created_at"})
    eq([u.id for u in users], [user_id(3), user_id(4)], "ids")


@check("users.count parses into models.TotalCount")
def _():
    count = sdk.users.count()
    assert isinstance(count, models.TotalCount), type(count)
    same_as_raw(count, raw("/users/count")[1], "total_count")
    eq(count.total_count, USERS, "total_count")
    eq(count.object.value, "total_count", "object")
    eq(raw("/users/count")[1]["total_count"], count.total_count, "vs raw")


@check("users.get parses into models.User")
def _():
    n = min(7, USERS - 1)
    user = sdk.users.get(user_id=user_id(n))
    check_user(user, raw(f"/users/{user_id(n)}")[1], n)


@check("users.get of a missing user is a 404 resource_not_found")
def _():
    expect_clerk_errors(lambda: sdk.users.get(user_id="user_missing"), 404, "resource_not_found")


@check("organizations.list (include_members_count) parses into models.Organizations")
def _():
    orgs = sdk.organizations.list(
        include_members_count=True, order_by="+created_at", limit=100
    )
    assert isinstance(orgs, models.Organizations), type(orgs)
    eq(orgs.total_count, ORGS, "total_count")
    status, raw_orgs = raw("/organizations?include_members_count=true&order_by=%2Bcreated_at&limit=100")
    eq(status, 200, "raw status")
    same_as_raw(orgs, raw_orgs, "organizations")
    for i, (org, raw_org) in enumerate(zip(orgs.data, raw_orgs["data"])):
        eq(org.id, f"org_gen_{i:06d}", "id")
        eq(org.id, raw_org["id"], "id vs raw")
        eq(org.name, f"Org {i}", "name")
        eq(org.slug, f"org-{i}", "slug")
        eq(org.members_count, MEMBERS_PER_ORG, "members_count")
        eq(org.created_at, EPOCH_MS + i * 1000, "created_at")
        eq(org.max_allowed_memberships, raw_org["max_allowed_memberships"], "max_allowed_memberships vs raw")
        eq(org.admin_delete_enabled, raw_org["admin_delete_enabled"], "admin_delete_enabled vs raw")


@check("organizations.get parses into models.Organization")
def _():
    i = ORGS - 1
    org = sdk.organizations.get(organization_id=f"org_gen_{i:06d}", include_members_count=True)
    assert isinstance(org, models.Organization), type(org)
    same_as_raw(
        org,
        raw(f"/organizations/org_gen_{i:06d}?include_members_count=true")[1],
        "organization",
    )
    eq(org.name, f"Org {i}", "name")
    eq(org.slug, f"org-{i}", "slug")
    eq(org.members_count, MEMBERS_PER_ORG, "members_count")
    eq(org.updated_at, raw(f"/organizations/org_gen_{i:06d}")[1]["updated_at"], "updated_at vs raw")


@check("organizations.get of a missing organization is a 404 resource_not_found")
def _():
    expect_clerk_errors(
        lambda: sdk.organizations.get(organization_id="org_missing"), 404, "resource_not_found"
    )


@check("organization_memberships.list parses into models.OrganizationMemberships")
def _():
    for i in range(ORGS):
        org_id = f"org_gen_{i:06d}"
        page = sdk.organization_memberships.list(organization_id=org_id, order_by="+created_at")
        assert isinstance(page, models.OrganizationMemberships), type(page)
        eq(page.total_count, MEMBERS_PER_ORG, "total_count")
        raw_page = raw(f"/organizations/{org_id}/memberships?order_by=%2Bcreated_at")[1]
        same_as_raw(page, raw_page, "memberships")
        for j, (m, raw_m) in enumerate(zip(page.data, raw_page["data"])):
            n = (i * MEMBERS_PER_ORG + j) % USERS
            eq(m.id, f"orgmem_gen_{i:06d}_{j:04d}", "id")
            eq(m.id, raw_m["id"], "id vs raw")
            eq(m.role, "org:admin" if j == 0 else "org:member", "role")
            eq(m.organization.id, org_id, "organization.id")
            eq(m.organization.slug, f"org-{i}", "organization.slug")
            eq(m.public_user_data.user_id, user_id(n), "public_user_data.user_id")
            eq(m.public_user_data.identifier, f"user{n}@example.test", "public_user_data.identifier")
            eq(m.public_user_data.first_name, "Gen", "public_user_data.first_name")
            eq(m.public_user_data.last_name, str(n), "public_user_data.last_name")
            eq(m.public_user_data.image_url, raw_m["public_user_data"]["image_url"], "image_url vs raw")


@check("organization_memberships.list of a missing organization is a 404 resource_not_found")
def _():
    expect_clerk_errors(
        lambda: sdk.organization_memberships.list(organization_id="org_missing"),
        404,
        "resource_not_found",
    )


@check("organization_invitations.get_all parses into models.OrganizationInvitationsWithPublicOrganizationData")
def _():
    page = sdk.organization_invitations.get_all(order_by="+created_at", limit=100)
    assert isinstance(page, models.OrganizationInvitationsWithPublicOrganizationData), type(page)
    eq(page.total_count, ORGS, "total_count")
    raw_page = raw("/organization_invitations?order_by=%2Bcreated_at&limit=100")[1]
    same_as_raw(page, raw_page, "organization_invitations")
    for i, (inv, raw_inv) in enumerate(zip(page.data, raw_page["data"])):
        eq(inv.id, f"orginv_gen_{i:06d}", "id")
        eq(inv.id, raw_inv["id"], "id vs raw")
        eq(inv.email_address, f"invitee{i}@example.test", "email_address")
        eq(inv.role, "org:member", "role")
        eq(inv.status, "pending", "status")
        eq(inv.organization_id, f"org_gen_{i:06d}", "organization_id")
        eq(inv.inviter_id, None, "inviter_id")
        eq(inv.public_organization_data.name, f"Org {i}", "public_organization_data.name")
        eq(inv.public_organization_data.slug, f"org-{i}", "public_organization_data.slug")


@check("organization_invitations.list (one organization) parses into models.OrganizationInvitations")
def _():
    org_id = f"org_gen_{ORGS - 1:06d}"
    page = sdk.organization_invitations.list(organization_id=org_id)
    assert isinstance(page, models.OrganizationInvitations), type(page)
    same_as_raw(page, raw(f"/organizations/{org_id}/invitations")[1], "invitations")
    eq(page.total_count, 1, "total_count")
    eq(page.data[0].id, f"orginv_gen_{ORGS - 1:06d}", "id")
    eq(page.data[0].role_name, raw(f"/organizations/{org_id}/invitations")[1]["data"][0]["role_name"], "role_name vs raw")


@check("jwks.get_jwks parses into models.Jwks")
def _():
    jwks = sdk.jwks.get_jwks()
    assert isinstance(jwks, models.Jwks), type(jwks)
    raw_keys = raw("/jwks")[1]["keys"]
    same_as_raw(jwks, raw("/jwks")[1], "jwks")
    eq(len(jwks.keys), len(raw_keys), "keys")
    for key, raw_key in zip(jwks.keys, raw_keys):
        eq(key.kid, raw_key["kid"], "kid")
        eq(key.kty, "RSA", "kty")
        eq(key.alg, "RS256", "alg")
        eq(key.use, "sig", "use")
        eq(key.n, raw_key["n"], "n")
        eq(key.e, raw_key["e"], "e")


@check("users.list limit=501 is a 422 form_param_value_invalid")
def _():
    data = expect_clerk_errors(
        lambda: sdk.users.list(request={"limit": 501}), 422, "form_param_value_invalid"
    )
    eq(data.errors[0].message, "is invalid", "message")


@check("organizations.list limit=501 is a 422 form_param_value_invalid")
def _():
    expect_clerk_errors(lambda: sdk.organizations.list(limit=501), 422, "form_param_value_invalid")


@check("a wrong secret key is a 401 clerk_key_invalid (users.list, users.count, jwks)")
def _():
    wrong = clerk("sk_test_notTheMockSecretKey")
    expect_clerk_errors(lambda: wrong.users.list(), 401, "clerk_key_invalid")
    expect_clerk_errors(lambda: wrong.users.count(), 401, "clerk_key_invalid")
    expect_clerk_errors(lambda: wrong.jwks.get_jwks(), 401, "clerk_key_invalid")
    status, body = raw("/users", key="sk_test_notTheMockSecretKey")
    eq(status, 401, "raw status")
    eq(body["errors"][0]["code"], "clerk_key_invalid", "raw code")


def issue(kind: str, **grant):
    """Issues a machine credential through the mock's test API (`POST /__mock/machine`)."""
    request = urllib.request.Request(
        f"{API_URL}/__mock/machine",
        data=json.dumps({"type": kind, **grant}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def raw_post(path: str, body: dict):
    request = urllib.request.Request(
        f"{API_URL}/v1{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {SECRET_KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def expect_verify_404(call, model):
    try:
        call()
    except model as e:
        eq(e.raw_response.status_code, 404, "HTTP status")
        eq(e.data.errors[0].code, "resource_not_found", "errors[0].code")
        assert e.data.errors[0].long_message, "errors[0].long_message is empty"
    else:
        raise AssertionError("no error raised; expected a 404")


@check("api_keys.verify_api_key parses into models.VerifyAPIKeyResponseBody; unknown and revoked keys are 404s")
def _():
    issued = issue("api_key", subject="user_machine", scopes=["read:a", "write:b"], claims={"tier": 2})
    parsed = sdk.api_keys.verify_api_key(secret=issued["token"])
    assert isinstance(parsed, models.VerifyAPIKeyResponseBody), type(parsed)
    eq(parsed.id, issued["id"], "id")
    eq(parsed.subject, "user_machine", "subject")
    eq(parsed.scopes, ["read:a", "write:b"], "scopes")
    eq(parsed.revoked, False, "revoked")
    status, body = raw_post("/api_keys/verify", {"secret": issued["token"]})
    eq(status, 200, "raw status")
    same_as_raw(parsed, body, "api key")
    expect_verify_404(
        lambda: sdk.api_keys.verify_api_key(secret="ak_unknown"),
        models.VerifyAPIKeyAPIKeysResponseResponseBody,
    )
    revoked = issue("api_key", subject="user_machine")
    urllib.request.urlopen(urllib.request.Request(
        f"{API_URL}/__mock/machine/revoke", data=json.dumps({"id": revoked["id"]}).encode(),
        headers={"Content-Type": "application/json"}, method="POST"), timeout=10)
    expect_verify_404(
        lambda: sdk.api_keys.verify_api_key(secret=revoked["token"]),
        models.VerifyAPIKeyAPIKeysResponseResponseBody,
    )


@check("m2m.verify_token parses into models.VerifyM2MTokenResponseBody; an unknown token is a 404")
def _():
    issued = issue("m2m_token", subject="mch_machine", scopes=["mch_other"], ttl_seconds=3600)
    parsed = sdk.m2m.verify_token(token=issued["token"])
    assert isinstance(parsed, models.VerifyM2MTokenResponseBody), type(parsed)
    eq(parsed.subject, "mch_machine", "subject")
    eq(parsed.scopes, ["mch_other"], "scopes")
    assert parsed.expiration and parsed.expiration > EPOCH_MS, parsed.expiration
    status, body = raw_post("/m2m_tokens/verify", {"token": issued["token"]})
    same_as_raw(parsed, body, "m2m token")
    expect_verify_404(
        lambda: sdk.m2m.verify_token(token="mt_unknown"),
        models.VerifyM2MTokenM2mResponseResponseBody,
    )
    expired = issue("m2m_token", subject="mch_machine", expired=True)
    expect_verify_404(
        lambda: sdk.m2m.verify_token(token=expired["token"]),
        models.VerifyM2MTokenM2mResponseResponseBody,
    )


@check("oauth_access_tokens.verify parses into the OAuth access token model; an unknown token is a 404")
def _():
    issued = issue("oauth_token", subject="user_oauth", scopes=["profile", "email"])
    parsed = sdk.oauth_access_tokens.verify(access_token=issued["token"])
    assert isinstance(parsed, models.ResponseBody1), type(parsed)
    eq(parsed.subject, "user_oauth", "subject")
    eq(parsed.scopes, ["profile", "email"], "scopes")
    eq(parsed.client_id, "mock_oauth_client", "client_id")
    expect_verify_404(
        lambda: sdk.oauth_access_tokens.verify(access_token="oat_unknown"),
        models.VerifyOAuthAccessTokenOauthAccessTokensResponseResponseBody,
    )


if unknown_fields:
    print(
        "INFO python: served fields the SDK's models do not declare (allowed): "
        + ", ".join(sorted(unknown_fields)),
        flush=True,
    )
failed = sum(1 for _, ok in results if not ok)
print(f"python: {len(results) - failed} passed, {failed} failed", flush=True)
sys.exit(1 if failed else 0)
