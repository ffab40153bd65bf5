// @clerk/backend performs the Backend API writes against our mock Clerk and parses the answers
// into its resource classes (docs/design.md §12): ban/unban, lock/unlock, user metadata (deep
// merge), update and delete a user, list and revoke a user's sessions, create/revoke/list
// application invitations, create/update/delete an organization, create/update/delete a
// membership; and Clerk's errors for a missing user and a duplicate membership.
//
// Usage: node writes_node.mjs <mock API URL> <secret key> <publishable key> <first user number>
// Runs on a mock of its own (run.sh starts one for the write checks): the users it writes are
// user_gen_<first> to user_gen_<first + 4>, so the Python write checks can share the mock.
//
// Prints one `PASS <name>` or `FAIL <name>: <why>` line per check; exits 1 when any failed.

import assert from 'node:assert/strict';

import { createClerkClient } from '@clerk/backend';
import { isClerkAPIResponseError } from '@clerk/shared/error';

const [apiUrl, secretKey, publishableKey] = process.argv.slice(2, 5).map((s) => s.replace(/\/$/, ''));
const FIRST = Number(process.argv[5]);
const userId = (k) => `user_gen_${String(FIRST + k).padStart(8, '0')}`;
const clerk = createClerkClient({ secretKey, apiUrl, publishableKey, telemetry: { disabled: true } });

const results = [];
async function check(name, fn) {
  try {
    await fn();
    console.log(`PASS node writes: ${name}`);
    results.push(true);
  } catch (e) {
    console.log(`FAIL node writes: ${name}: ${String(e?.stack ?? e).slice(0, 2000)}`);
    results.push(false);
  }
}

async function raw(path) {
  const response = await fetch(`${apiUrl}/v1${path}`, { headers: { Authorization: `Bearer ${secretKey}` } });
  return { status: response.status, body: await response.json() };
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
  return error;
}

await check('users.banUser / unbanUser parse into User with banned flipped', async () => {
  const banned = await clerk.users.banUser(userId(0));
  assert.equal(banned.id, userId(0));
  assert.equal(banned.banned, true);
  assert.ok(banned.updatedAt > 1_700_000_000_000 + 500, 'updatedAt moved');
  const raw0 = await raw(`/users/${userId(0)}`);
  assert.equal(raw0.body.banned, true, 'stored');
  const unbanned = await clerk.users.unbanUser(userId(0));
  assert.equal(unbanned.banned, false);
  assert.ok(unbanned.updatedAt > banned.updatedAt, 'updatedAt increases');
});

await check('users.lockUser / unlockUser parse into User with locked flipped', async () => {
  assert.equal((await clerk.users.lockUser(userId(1))).locked, true);
  assert.equal((await clerk.users.unlockUser(userId(1))).locked, false);
});

await check('users.updateUserMetadata deep-merges, null removes a key', async () => {
  await clerk.users.updateUserMetadata(userId(2), {
    publicMetadata: { plan: 'free', prefs: { theme: 'dark', lang: 'en' } },
    privateMetadata: { stripe: 'cus_1' },
  });
  const user = await clerk.users.updateUserMetadata(userId(2), {
    publicMetadata: { plan: 'pro', prefs: { lang: null } },
  });
  assert.deepEqual(user.publicMetadata, { plan: 'pro', prefs: { theme: 'dark' } });
  assert.deepEqual(user.privateMetadata, { stripe: 'cus_1' });
});

await check('users.updateUser sets fields and answers a User', async () => {
  const user = await clerk.users.updateUser(userId(3), { firstName: 'Ada', externalId: 'emp-7' });
  assert.equal(user.firstName, 'Ada');
  assert.equal(user.externalId, 'emp-7');
});

await check('users.banUser of a missing user is a 404 resource_not_found', () =>
  expectApiError(clerk.users.banUser('user_missing'), 404, 'resource_not_found'));

await check('sessions.getSessionList (paginated) and revokeSession parse into Session', async () => {
  const minted = [];
  for (let i = 0; i < 2; i++) {
    const response = await fetch(`${apiUrl}/__mock/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: userId(4) }),
    });
    assert.equal(response.status, 200);
    minted.push((await response.json()).id);
  }
  const list = await clerk.sessions.getSessionList({ userId: userId(4), status: 'active' });
  assert.equal(list.totalCount, 2);
  assert.deepEqual(list.data.map((s) => s.id).sort(), [...minted].sort());
  assert.ok(list.data.every((s) => s.userId === userId(4) && s.status === 'active'));
  const revoked = await clerk.sessions.revokeSession(minted[0]);
  assert.equal(revoked.id, minted[0]);
  assert.equal(revoked.status, 'revoked');
  assert.equal(revoked.userId, userId(4));
  const active = await clerk.sessions.getSessionList({ userId: userId(4), status: 'active' });
  assert.deepEqual(active.data.map((s) => s.id), [minted[1]]);
});

await check('invitations.createInvitation / revokeInvitation / getInvitationList parse into Invitation', async () => {
  const inv = await clerk.invitations.createInvitation({
    emailAddress: 'node-invitee@example.com',
    publicMetadata: { team: 'a' },
    expiresInDays: 7,
    notify: false,
  });
  assert.ok(inv.id.startsWith('inv_'), inv.id);
  assert.equal(inv.emailAddress, 'node-invitee@example.com');
  assert.equal(inv.status, 'pending');
  assert.deepEqual(inv.publicMetadata, { team: 'a' });
  await expectApiError(
    clerk.invitations.createInvitation({ emailAddress: 'node-invitee@example.com' }),
    422,
    'duplicate_record',
  );
  const revoked = await clerk.invitations.revokeInvitation(inv.id);
  assert.equal(revoked.status, 'revoked');
  assert.equal(revoked.revoked, true);
  const list = await clerk.invitations.getInvitationList({ status: 'revoked' });
  assert.ok(list.data.some((i) => i.id === inv.id), 'the revoked invitation is listed');
});

await check('organizations: create, update, memberships create/update/delete, delete', async () => {
  const org = await clerk.organizations.createOrganization({ name: 'Node Org', createdBy: userId(0) });
  assert.ok(org.id.startsWith('org_'), org.id);
  assert.equal(org.name, 'Node Org');
  assert.equal(org.slug, 'node-org');
  const member = await clerk.organizations.createOrganizationMembership({
    organizationId: org.id,
    userId: userId(1),
    role: 'org:member',
  });
  assert.equal(member.role, 'org:member');
  assert.equal(member.publicUserData.userId, userId(1));
  assert.equal(member.organization.id, org.id);
  await expectApiError(
    clerk.organizations.createOrganizationMembership({ organizationId: org.id, userId: userId(1), role: 'org:member' }),
    422,
    'already_a_member_in_organization',
  );
  const promoted = await clerk.organizations.updateOrganizationMembership({
    organizationId: org.id,
    userId: userId(1),
    role: 'org:admin',
  });
  assert.equal(promoted.role, 'org:admin');
  const renamed = await clerk.organizations.updateOrganization(org.id, { name: 'Node Org 2' });
  assert.equal(renamed.name, 'Node Org 2');
  const members = await clerk.organizations.getOrganizationMembershipList({ organizationId: org.id });
  assert.equal(members.totalCount, 2);
  const removed = await clerk.organizations.deleteOrganizationMembership({ organizationId: org.id, userId: userId(1) });
  assert.equal(removed.publicUserData.userId, userId(1));
  const deleted = await clerk.organizations.deleteOrganization(org.id);
  assert.equal(deleted.id, org.id);
  assert.equal(deleted.deleted, true);
  assert.equal(deleted.object, 'organization');
  await expectApiError(clerk.organizations.getOrganization({ organizationId: org.id }), 404, 'resource_not_found');
});

await check('users.deleteUser answers a DeletedObject; the user is gone', async () => {
  const deleted = await clerk.users.deleteUser(userId(3));
  assert.equal(deleted.id, userId(3));
  assert.equal(deleted.deleted, true);
  assert.equal(deleted.object, 'user');
  await expectApiError(clerk.users.getUser(userId(3)), 404, 'resource_not_found');
});

const failed = results.filter((ok) => !ok).length;
console.log(`node writes: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
