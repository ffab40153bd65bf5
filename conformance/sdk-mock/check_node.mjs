// Clerk's official JavaScript SDK (@clerk/backend, @clerk/shared) as the judge of our mock Clerk.
//
// Usage: node check_node.mjs <mock API URL> <secret key> <publishable key> <users> <organizations>
//
// Every Backend API list and get the mock serves that @clerk/backend wraps is called through
// its client, so the answer goes through its resource classes (User.fromJSON, …); the parsed
// fields are compared with the raw JSON (plain fetch) and with the values the mock's generated
// data set is documented to hold. Errors must be ClerkAPIResponseErrors with Clerk's codes.
// Then verifyToken and authenticateRequest must accept tokens minted by the mock's
// POST /__mock/tokens, networkless (jwtKey) and through the mock's JWKS, and decode the org
// permissions the mock was asked to mint.
//
// Prints one `PASS <name>` or `FAIL <name>: <why>` line per check; exits 1 when any failed.

import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';

import { createClerkClient, verifyToken } from '@clerk/backend';
import { isClerkAPIResponseError } from '@clerk/shared/error';

const [apiUrl, secretKey, publishableKey] = process.argv.slice(2, 5).map((s) => s.replace(/\/$/, ''));
const USERS = Number(process.argv[5]);
const ORGS = Number(process.argv[6]);
const MEMBERS_PER_ORG = Math.min(3, USERS);
const EPOCH_MS = 1_700_000_000_000;
const AUTHORIZED_PARTY = 'http://localhost:3000';

const results = [];

async function check(name, fn) {
  try {
    await fn();
    console.log(`PASS node: ${name}`);
    results.push(true);
  } catch (e) {
    console.log(`FAIL node: ${name}: ${String(e?.stack ?? e).slice(0, 2000)}`);
    results.push(false);
  }
}

async function raw(path, key = secretKey) {
  const response = await fetch(`${apiUrl}/v1${path}`, { headers: { Authorization: `Bearer ${key}` } });
  return { status: response.status, body: await response.json() };
}

const userId = (n) => `user_gen_${String(n).padStart(8, '0')}`;
const orgId = (i) => `org_gen_${String(i).padStart(6, '0')}`;

function client(key = secretKey) {
  return createClerkClient({ secretKey: key, apiUrl, publishableKey, telemetry: { disabled: true } });
}

async function expectApiError(promise, status, code) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `no error; expected a ${status} ${code}`);
  assert.ok(isClerkAPIResponseError(error), `not a ClerkAPIResponseError: ${error}`);
  assert.equal(error.status, status, 'status');
  assert.equal(error.errors[0].code, code, 'errors[0].code');
  assert.ok(error.errors[0].message, 'errors[0].message');
  assert.ok(error.errors[0].longMessage, 'errors[0].longMessage');
  return error;
}

function checkUser(user, rawUser, n) {
  assert.equal(user.id, userId(n), 'id');
  assert.deepEqual(user.raw, rawUser, 'raw JSON the SDK kept vs plain fetch');
  assert.equal(user.username, `user${n}`, 'username');
  assert.equal(user.firstName, 'Gen', 'firstName');
  assert.equal(user.lastName, String(n), 'lastName');
  assert.equal(user.createdAt, EPOCH_MS + n * 1000, 'createdAt');
  assert.equal(user.updatedAt, EPOCH_MS + n * 1000 + 500, 'updatedAt');
  assert.equal(user.banned, false, 'banned');
  assert.equal(user.locked, false, 'locked');
  assert.equal(user.emailAddresses.length, 1, 'emailAddresses');
  const email = user.emailAddresses[0];
  assert.equal(email.emailAddress, `user${n}@example.test`, 'emailAddress');
  assert.equal(email.id, user.primaryEmailAddressId, 'primaryEmailAddressId');
  assert.equal(user.primaryEmailAddress?.emailAddress, `user${n}@example.test`, 'primaryEmailAddress');
  assert.equal(email.verification.status, 'verified', 'verification.status');
  assert.equal(email.verification.strategy, 'email_code', 'verification.strategy');
  assert.deepEqual(user.externalAccounts, [], 'externalAccounts');
  assert.deepEqual(user.enterpriseAccounts, [], 'enterpriseAccounts');
  assert.deepEqual(user.publicMetadata, {}, 'publicMetadata');
}

const sdk = client();

await check('users.getUserList (limit 500, +created_at) parses every user', async () => {
  const { data, totalCount } = await sdk.users.getUserList({ limit: 500, orderBy: '+created_at' });
  const { status, body } = await raw('/users?limit=500&order_by=%2Bcreated_at');
  assert.equal(status, 200);
  assert.equal(totalCount, USERS, 'totalCount');
  assert.equal(data.length, USERS, 'users listed');
  data.forEach((user, n) => checkUser(user, body[n], n));
});

await check("users.getUserList default paging is Clerk's (10, newest first)", async () => {
  const { data } = await sdk.users.getUserList();
  assert.equal(data.length, Math.min(10, USERS));
  assert.equal(data[0].id, userId(USERS - 1));
});

await check('users.getUserList offset pages through', async () => {
  const { data } = await sdk.users.getUserList({ limit: 2, offset: 3, orderBy: '+created_at' });
  assert.deepEqual(data.map((u) => u.id), [userId(3), userId(4)]);
});

await check('users.getCount', async () => {
  assert.equal(await sdk.users.getCount(), USERS);
});

await check('users.getUser parses the user', async () => {
  const n = Math.min(7, USERS - 1);
  checkUser(await sdk.users.getUser(userId(n)), (await raw(`/users/${userId(n)}`)).body, n);
});

await check('users.getUser of a missing user is a ClerkAPIResponseError 404 resource_not_found', async () => {
  await expectApiError(sdk.users.getUser('user_missing'), 404, 'resource_not_found');
});

await check('organizations.getOrganizationList (includeMembersCount) parses every organization', async () => {
  const { data, totalCount } = await sdk.organizations.getOrganizationList({
    includeMembersCount: true,
    orderBy: '+created_at',
    limit: 100,
  });
  const { body } = await raw('/organizations?include_members_count=true&order_by=%2Bcreated_at&limit=100');
  assert.equal(totalCount, ORGS, 'totalCount');
  data.forEach((org, i) => {
    assert.deepEqual(org.raw, body.data[i], 'raw JSON the SDK kept vs plain fetch');
    assert.equal(org.id, orgId(i), 'id');
    assert.equal(org.name, `Org ${i}`, 'name');
    assert.equal(org.slug, `org-${i}`, 'slug');
    assert.equal(org.membersCount, MEMBERS_PER_ORG, 'membersCount');
    assert.equal(org.createdAt, EPOCH_MS + i * 1000, 'createdAt');
    assert.equal(org.hasImage, false, 'hasImage');
  });
});

await check('organizations.getOrganization parses the organization', async () => {
  const i = ORGS - 1;
  const org = await sdk.organizations.getOrganization({ organizationId: orgId(i), includeMembersCount: true });
  assert.equal(org.name, `Org ${i}`);
  assert.equal(org.slug, `org-${i}`);
  assert.equal(org.membersCount, MEMBERS_PER_ORG);
  const bySlug = await raw(`/organizations/${orgId(i)}?include_members_count=true`);
  assert.deepEqual(org.raw, bySlug.body);
});

await check('organizations.getOrganization of a missing organization is a 404 resource_not_found', async () => {
  await expectApiError(sdk.organizations.getOrganization({ organizationId: 'org_missing' }), 404, 'resource_not_found');
});

await check('organizations.getOrganizationMembershipList parses every membership', async () => {
  for (let i = 0; i < ORGS; i++) {
    const { data, totalCount } = await sdk.organizations.getOrganizationMembershipList({
      organizationId: orgId(i),
      orderBy: '+created_at',
    });
    const { body } = await raw(`/organizations/${orgId(i)}/memberships?order_by=%2Bcreated_at`);
    assert.equal(totalCount, MEMBERS_PER_ORG, 'totalCount');
    data.forEach((m, j) => {
      const n = (i * MEMBERS_PER_ORG + j) % USERS;
      assert.deepEqual(m.raw, body.data[j], 'raw JSON the SDK kept vs plain fetch');
      assert.equal(m.id, `orgmem_gen_${String(i).padStart(6, '0')}_${String(j).padStart(4, '0')}`, 'id');
      assert.equal(m.role, j === 0 ? 'org:admin' : 'org:member', 'role');
      assert.equal(m.organization.id, orgId(i), 'organization.id');
      assert.equal(m.organization.name, `Org ${i}`, 'organization.name');
      assert.equal(m.publicUserData.userId, userId(n), 'publicUserData.userId');
      assert.equal(m.publicUserData.identifier, `user${n}@example.test`, 'publicUserData.identifier');
      assert.equal(m.publicUserData.firstName, 'Gen', 'publicUserData.firstName');
      assert.equal(m.publicUserData.lastName, String(n), 'publicUserData.lastName');
    });
  }
});

await check('organizations.getOrganizationInvitationList parses the invitations', async () => {
  for (let i = 0; i < ORGS; i++) {
    const { data, totalCount } = await sdk.organizations.getOrganizationInvitationList({ organizationId: orgId(i) });
    const { body } = await raw(`/organizations/${orgId(i)}/invitations`);
    assert.equal(totalCount, 1, 'totalCount');
    const inv = data[0];
    assert.deepEqual(inv.raw, body.data[0], 'raw JSON the SDK kept vs plain fetch');
    assert.equal(inv.id, `orginv_gen_${String(i).padStart(6, '0')}`, 'id');
    assert.equal(inv.emailAddress, `invitee${i}@example.test`, 'emailAddress');
    assert.equal(inv.role, 'org:member', 'role');
    assert.equal(inv.roleName, 'Member', 'roleName');
    assert.equal(inv.status, 'pending', 'status');
    assert.equal(inv.organizationId, orgId(i), 'organizationId');
  }
});

let jwks;
await check('jwks.getJwks', async () => {
  jwks = await sdk.jwks.getJwks();
  assert.deepEqual(jwks, (await raw('/jwks')).body);
  assert.ok(jwks.keys.length >= 1);
  for (const key of jwks.keys) {
    assert.equal(key.kty, 'RSA');
    assert.equal(key.alg, 'RS256');
    assert.equal(key.use, 'sig');
    assert.ok(key.kid);
  }
});

await check('users.getUserList limit=501 is a 422 form_param_value_invalid', async () => {
  const e = await expectApiError(sdk.users.getUserList({ limit: 501 }), 422, 'form_param_value_invalid');
  assert.equal(e.errors[0].message, 'is invalid');
});

await check('a wrong secret key is a ClerkAPIResponseError 401 clerk_key_invalid', async () => {
  await expectApiError(client('sk_test_notTheMockSecretKey').users.getCount(), 401, 'clerk_key_invalid');
  await expectApiError(client('sk_test_notTheMockSecretKey').jwks.getJwks(), 401, 'clerk_key_invalid');
});

// ---- tokens ------------------------------------------------------------------------------

async function mint(request) {
  const response = await fetch(`${apiUrl}/__mock/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  const body = await response.json();
  assert.equal(response.status, 200, `minting ${JSON.stringify(request)}: ${JSON.stringify(body)}`);
  return body.token;
}

const jwtKey = jwks
  ? createPublicKey({ key: jwks.keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
  : '';
const viaJwtKey = { jwtKey, authorizedParties: [AUTHORIZED_PARTY] };
const viaJwks = { secretKey, apiUrl, skipJwksCache: true, authorizedParties: [AUTHORIZED_PARTY] };

await check('verifyToken accepts a minted token networkless (jwtKey)', async () => {
  const token = await mint({ sub: userId(3) });
  const claims = await verifyToken(token, viaJwtKey);
  assert.equal(claims.sub, userId(3));
  assert.equal(claims.sid, 'sess_gen_00000003');
  assert.equal(claims.azp, AUTHORIZED_PARTY);
  assert.equal(claims.v, 2);
});

await check("verifyToken accepts a minted token through the mock's JWKS (secretKey + apiUrl)", async () => {
  const token = await mint({ sub: userId(4), sid: 'sess_jwks' });
  const claims = await verifyToken(token, viaJwks);
  assert.equal(claims.sub, userId(4));
  assert.equal(claims.sid, 'sess_jwks');
});

await check('verifyToken with a wrong secret key fails with reason secret-key-invalid', async () => {
  const token = await mint({ sub: userId(4) });
  let error;
  try {
    await verifyToken(token, { ...viaJwks, secretKey: 'sk_test_notTheMockSecretKey' });
  } catch (e) {
    error = e;
  }
  assert.ok(error, 'the token verified with a wrong secret key');
  assert.equal(error.reason, 'secret-key-invalid', `reason (${error.message})`);
});

await check('verifyToken refuses a minted token for another authorized party', async () => {
  const token = await mint({ sub: userId(4), azp: 'https://evil.example' });
  await assert.rejects(verifyToken(token, viaJwtKey));
});

async function authenticate(token, options) {
  const request = new Request(`${AUTHORIZED_PARTY}/dashboard`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const state = await client().authenticateRequest(request, { publishableKey, ...options });
  assert.equal(state.status, 'signed-in', `status (reason: ${state.reason}, message: ${state.message})`);
  assert.equal(state.isAuthenticated, true, 'isAuthenticated');
  return state.toAuth();
}

const ORG = { org_id: 'org_gen_000000', org_slug: 'org-0', org_role: 'org:admin' };

/** Mints with `permissions` and checks both verification modes decode exactly `expected`. */
async function permissionsRoundTrip(permissions, expected) {
  const token = await mint({ sub: userId(0), ...ORG, org_permissions: permissions });
  for (const [mode, options] of [
    ['jwtKey', { jwtKey }],
    ['JWKS', { secretKey, apiUrl, skipJwksCache: true }],
  ]) {
    const auth = await authenticate(token, { ...options, authorizedParties: [AUTHORIZED_PARTY] });
    assert.equal(auth.userId, userId(0), `${mode}: userId`);
    assert.equal(auth.orgId, ORG.org_id, `${mode}: orgId`);
    assert.equal(auth.orgSlug, ORG.org_slug, `${mode}: orgSlug`);
    assert.equal(auth.orgRole, 'org:admin', `${mode}: orgRole`);
    assert.deepEqual([...auth.orgPermissions].sort(), [...expected].sort(), `${mode}: orgPermissions`);
    for (const permission of expected) {
      assert.equal(auth.has({ permission }), true, `${mode}: has(${permission})`);
    }
    assert.equal(auth.has({ permission: 'org:nothing:here' }), false, `${mode}: has(unminted)`);
  }
}

await check('authenticateRequest signs in a minted token (jwtKey and JWKS) without an organization', async () => {
  const token = await mint({ sub: userId(2), sid: 'sess_auth' });
  for (const options of [{ jwtKey }, { secretKey, apiUrl, skipJwksCache: true }]) {
    const auth = await authenticate(token, { ...options, authorizedParties: [AUTHORIZED_PARTY] });
    assert.equal(auth.userId, userId(2));
    assert.equal(auth.sessionId, 'sess_auth');
    assert.equal(auth.orgId, undefined);
  }
});

await check('org permissions decode (one permission name across features: bit-order independent)', () =>
  permissionsRoundTrip(['org:reports:read', 'org:billing:read'], ['org:reports:read', 'org:billing:read']));

await check('org permissions decode (every feature has every permission: symmetric masks)', () =>
  permissionsRoundTrip(
    ['org:reports:read', 'org:reports:manage', 'org:billing:read', 'org:billing:manage'],
    ['org:reports:read', 'org:reports:manage', 'org:billing:read', 'org:billing:manage'],
  ));

await check('org permissions decode (one feature, one permission)', () =>
  permissionsRoundTrip(['org:sys_memberships:manage'], ['org:sys_memberships:manage']));

// Clerk's docs example: per=manage,read, fea=o:dashboard,o:teams, fpm=3,2: the first `per` name
// is the least significant bit of each `fpm` entry, so the masks are asymmetric and a minter
// with the bit order reversed fails here.
const asymmetric = ['org:dashboard:manage', 'org:dashboard:read', 'org:teams:read'];
await check('org permissions decode (asymmetric: the docs example per=manage,read, fpm=3,2)', () =>
  permissionsRoundTrip(asymmetric, asymmetric));

// --- machine credentials ----------------------------------------------------------------
async function issue(type, grant) {
  const response = await fetch(`${apiUrl}/__mock/machine`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type, ...grant }),
  });
  assert.equal(response.status, 200, 'POST /__mock/machine');
  return response.json();
}

async function revoke(id) {
  const response = await fetch(`${apiUrl}/__mock/machine/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  assert.equal(response.status, 200, 'POST /__mock/machine/revoke');
}

await check('apiKeys.verify parses the API key (APIKey.fromJSON); unknown and revoked keys are 404 resource_not_found', async () => {
  const issued = await issue('api_key', { subject: 'user_machine', scopes: ['read:a'], claims: { tier: 2 } });
  const key = await client().apiKeys.verify(issued.token);
  assert.match(key.constructor.name, /^_?APIKey$/, 'APIKey.fromJSON');
  assert.equal(key.id, issued.id);
  assert.equal(key.subject, 'user_machine');
  assert.deepEqual(key.scopes, ['read:a']);
  assert.deepEqual(key.claims, { tier: 2 });
  assert.equal(key.revoked, false);
  assert.equal(key.expired, false);
  await expectApiError(client().apiKeys.verify('ak_unknown'), 404, 'resource_not_found');
  const revoked = await issue('api_key', { subject: 'user_machine' });
  await revoke(revoked.id);
  await expectApiError(client().apiKeys.verify(revoked.token), 404, 'resource_not_found');
});

await check('m2m.verify parses the opaque M2M token (M2MToken.fromJSON); an unknown one is a 404', async () => {
  const issued = await issue('m2m_token', { subject: 'mch_machine', scopes: ['mch_other'], ttl_seconds: 3600 });
  const token = await client().m2m.verify({ token: issued.token });
  assert.match(token.constructor.name, /^_?M2MToken$/, 'M2MToken.fromJSON');
  assert.equal(token.subject, 'mch_machine');
  assert.deepEqual(token.scopes, ['mch_other']);
  assert.ok(token.expiration > Date.now(), 'expiration in milliseconds, in the future');
  await expectApiError(client().m2m.verify({ token: 'mt_unknown' }), 404, 'resource_not_found');
});

await check('idPOAuthAccessToken.verify parses the opaque OAuth token; an unknown one is a 404', async () => {
  const issued = await issue('oauth_token', { subject: 'user_oauth', scopes: ['profile'] });
  const token = await client().idPOAuthAccessToken.verify(issued.token);
  assert.match(token.constructor.name, /^_?IdPOAuthAccessToken$/, 'IdPOAuthAccessToken.fromJSON');
  assert.equal(token.subject, 'user_oauth');
  assert.equal(token.clientId, 'mock_oauth_client');
  assert.deepEqual(token.scopes, ['profile']);
  await expectApiError(client().idPOAuthAccessToken.verify('oat_unknown'), 404, 'resource_not_found');
});

async function machineState(token, acceptsToken) {
  const request = new Request(`${AUTHORIZED_PARTY}/api/machine`, { headers: { Authorization: `Bearer ${token}` } });
  return client().authenticateRequest(request, { publishableKey, secretKey, apiUrl, acceptsToken });
}

await check("authenticateRequest (acceptsToken api_key, m2m_token) signs in the mock's API keys, opaque M2M tokens and M2M JWTs (through its JWKS)", async () => {
  const accepts = ['api_key', 'm2m_token'];
  for (const [type, grant, expected] of [
    ['api_key', { subject: 'user_m' }, 'api_key'],
    ['m2m_token', { subject: 'mch_m' }, 'm2m_token'],
    ['m2m_token', { subject: 'mch_j', scopes: ['a', 'b'], jwt: true }, 'm2m_token'],
  ]) {
    const issued = await issue(type, grant);
    const state = await machineState(issued.token, accepts);
    assert.equal(state.status, 'signed-in', `${type}${grant.jwt ? ' JWT' : ''}: ${state.reason} ${state.message}`);
    assert.equal(state.tokenType, expected);
    assert.equal(state.toAuth().subject, grant.subject);
  }
});

await check('authenticateRequest refuses as the mock answers: unknown and revoked keys token-invalid, expired M2M JWT token-verification-failed, OAuth token-type-mismatch', async () => {
  const accepts = ['api_key', 'm2m_token'];
  assert.equal((await machineState('ak_unknown', accepts)).reason, 'token-invalid');
  const revoked = await issue('api_key', { subject: 'user_r' });
  await revoke(revoked.id);
  assert.equal((await machineState(revoked.token, accepts)).reason, 'token-invalid');
  const expired = await issue('m2m_token', { subject: 'mch_e', jwt: true, expired: true });
  assert.equal((await machineState(expired.token, accepts)).reason, 'token-verification-failed');
  const oauth = await issue('oauth_token', { subject: 'user_o', jwt: true });
  assert.equal((await machineState(oauth.token, accepts)).reason, 'token-type-mismatch');
  const oauthJwt = await machineState(oauth.token, 'oauth_token');
  assert.equal(oauthJwt.status, 'signed-in', `OAuth JWT on an OAuth route: ${oauthJwt.reason} ${oauthJwt.message}`);
});


const failed = results.filter((ok) => !ok).length;
console.log(`node: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
