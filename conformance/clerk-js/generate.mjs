// Records what Clerk's JavaScript SDK (@clerk/backend + @clerk/shared, pinned in package.json /
// package-lock.json) decides on a deterministic corpus of session-token claims and tokens.
//
//   node generate.mjs corpus.json      (see README.md; check.sh regenerates and diffs)
//
// Everything is deterministic: a seeded PRNG picks the claims, the clock is faked
// (Date.now), and RS256/384/512 (PKCS#1 v1.5) signatures with the repository's fixed test key
// are deterministic. Clerk's own functions decide: authenticateRequest (the request path, with
// a Bearer header and networkless jwtKey), verifyToken, signedInAuthObject (which builds the
// auth object with @clerk/shared's __experimental_JWTPayloadToAuthObjectProperties) and its
// has() (@clerk/shared's createCheckAuthorization).
import { createHmac, createPrivateKey, createPublicKey, createSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

process.env.CLERK_TELEMETRY_DISABLED = '1';
const here = dirname(fileURLToPath(import.meta.url));
const { createClerkClient, verifyToken } = await import('@clerk/backend');
const { signedInAuthObject, isMachineToken, verifyMachineAuthToken } = await import('@clerk/backend/internal');
const { reverificationError } = await import('@clerk/shared/authorization-errors');

const out = process.argv[2];
if (!out) {
  console.error('usage: node generate.mjs <corpus.json>');
  process.exit(2);
}

// --- fixed inputs -------------------------------------------------------------------------
const SEED = 0x5eed2026;
const NOW_MS = 1767225600000; // 2026-01-01T00:00:00Z
const NOW = NOW_MS / 1000;
const ISSUER = 'https://clerk.example.com';
const PARTY = 'https://app.example.com';
const PUBLISHABLE_KEY = 'pk_test_' + Buffer.from('clerk.example.com$').toString('base64');
const SECRET_KEY = 'sk_test_oracle';
const keyPath = (i) => join(here, '..', '..', 'clerk-testkit', 'keys', `fixed-${i}.pem`);
const PRIVATE = createPrivateKey(readFileSync(keyPath(0)));
const OTHER_PRIVATE = createPrivateKey(readFileSync(keyPath(1)));
const PUBLIC_PEM = createPublicKey(PRIVATE).export({ type: 'spki', format: 'pem' });
Date.now = () => NOW_MS;

const pkg = (name) =>
  JSON.parse(readFileSync(join(here, 'node_modules', ...name.split('/'), 'package.json'), 'utf8')).version;

// --- deterministic randomness -------------------------------------------------------------
let state = SEED >>> 0;
function rand() {
  // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const chance = (p) => rand() < p;
const WORDS = ['reports', 'billing', 'teams', 'dashboard', 'invoices', 'members', 'settings', 'audit',
  'export', 'api', 'beta', 'sso', 'analytics', 'projects', 'docs', 'support', 'labs', 'alpha', 'usage', 'keys'];
const PERMS = ['read', 'manage', 'create', 'delete', 'update', 'imp', 'view', 'write', 'admin', 'list'];
const ROLES = ['admin', 'member', 'billing_manager', 'viewer', 'owner'];
const name = (base, i) => (i < base.length ? base[i] : `${base[i % base.length]}_${Math.floor(i / base.length)}`);
const id = (prefix) => prefix + Array.from({ length: 10 }, () => pick('abcdefghijkmnpqrstuvwxyz0123456789')).join('');
function bigMask(width) {
  let m = 0n;
  for (let b = 0; b < width; b++) if (chance(0.4)) m |= 1n << BigInt(b);
  return m;
}

// --- tokens -------------------------------------------------------------------------------
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
function sign(header, payload, { key = PRIVATE, hash = 'RSA-SHA256' } = {}) {
  const input = `${b64(header)}.${b64(payload)}`;
  if (header.alg === 'none') return `${input}.`;
  if (header.alg === 'HS256') return `${input}.${createHmac('sha256', PUBLIC_PEM).update(input).digest('base64url')}`;
  const signer = createSign(hash);
  signer.update(input);
  return `${input}.${signer.sign(key).toString('base64url')}`;
}
const HEADER = { alg: 'RS256', kid: 'ins_oracle', typ: 'JWT' };
const envelope = (claims) => ({
  azp: PARTY, iss: ISSUER, exp: NOW + 60, iat: NOW - 10, nbf: NOW - 10, sub: id('user_'), sid: id('sess_'),
  ...claims,
});

// --- queries for has() ------------------------------------------------------------------
function featureForms(x) {
  return [x, `o:${x}`, `org:${x}`, `organization:${x}`, `u:${x}`, `user:${x}`, `ou:${x}`, `x:${x}`];
}
function queries(claims) {
  const qs = [];
  const o = claims.o && typeof claims.o === 'object' ? claims.o : {};
  const role = claims.v === 2 ? o.rol : claims.org_role;
  const roles = new Set(ROLES.slice(0, 2));
  if (typeof role === 'string') {
    roles.add(role);
    roles.add(role.replace(/^org:/, ''));
    roles.add(`org:${role}`);
  }
  for (const r of roles) qs.push({ role: r });
  qs.push({ role: `org:${pick(ROLES)}` });
  // permissions: every granted one (as the SDK computes it), in both spellings, and misses
  const perms = new Set();
  const feas = typeof claims.fea === 'string' ? claims.fea.split(',').map((f) => f.replace(/^[a-z]*:/, '')) : [];
  const pers = claims.v === 2 && typeof o.per === 'string' ? o.per.split(',') : PERMS.slice(0, 3);
  for (let i = 0; i < 6; i++) if (feas.length && pers.length) perms.add(`org:${pick(feas)}:${pick(pers)}`);
  if (Array.isArray(claims.org_permissions)) for (const p of claims.org_permissions.slice(0, 4)) if (typeof p === 'string') perms.add(p);
  perms.add(`org:${pick(WORDS)}:${pick(PERMS)}`);
  for (const p of [...perms]) {
    qs.push({ permission: p });
    if (chance(0.3)) qs.push({ permission: p.replace(/^org:/, '') });
  }
  // features and plans in every scoped form
  const feaNames = feas.slice(0, 3);
  feaNames.push(pick(WORDS));
  for (const f of feaNames) for (const form of featureForms(f)) if (chance(0.5)) qs.push({ feature: form });
  const plaNames = typeof claims.pla === 'string' ? claims.pla.split(',').map((p) => p.replace(/^[a-z]*:/, '')) : [];
  plaNames.push(pick(['free', 'pro', 'enterprise']));
  for (const p of plaNames) for (const form of featureForms(p)) if (chance(0.5)) qs.push({ plan: form });
  // reverification: presets, explicit levels and ages, invalid configurations
  for (const preset of ['strict_mfa', 'strict', 'moderate', 'lax']) qs.push({ reverification: preset });
  for (let i = 0; i < 3; i++) {
    qs.push({ reverification: { level: pick(['first_factor', 'second_factor', 'multi_factor']), afterMinutes: pick([1, 5, 10, 30, 60, 120, 1440]) } });
  }
  if (chance(0.2)) qs.push({ reverification: pick(['bogus', { level: 'bogus', afterMinutes: 10 }, { level: 'first_factor', afterMinutes: 0 }]) });
  // combined: every dimension must pass
  if (typeof role === 'string' && perms.size) qs.push({ role, permission: [...perms][0] });
  if (feaNames.length) qs.push({ feature: feaNames[0], reverification: 'lax' });
  return qs;
}

// --- random claim sets --------------------------------------------------------------------
function randomFva() {
  const age = () => pick([-1, 0, 1, 5, 9, 10, 11, 59, 60, 61, 1439, 1440, 5000]);
  return chance(0.85) ? [age(), age()] : pick([null, [3], [1.5, 2], ['1', 2], [-2, 5], 'x', [0, -1], [-1, -1]]);
}
function randomAct() {
  return pick([
    { sub: id('user_') },
    { sub: id('user_'), iss: 'https://dashboard.clerk.com', sid: id('sess_') },
    { sub: id('user_'), iss: 'https://dashboard.clerk.com', sid: id('sess_'), reason: 'support' },
    { iss: 'https://dashboard.clerk.com' },
    'user_admin',
  ]);
}
function randomCommon(claims) {
  if (chance(0.3)) claims.sts = pick(['active', 'active', 'pending', 'expired']);
  if (chance(0.6)) claims.fva = randomFva();
  if (chance(0.15)) claims.act = randomAct();
  if (chance(0.4)) claims.pla = pick(['u:free', 'o:pro', 'u:free,o:pro', 'o:enterprise', 'ou:pro']);
  if (chance(0.05)) delete claims.sid;
  return claims;
}
function randomV2() {
  const nPer = pick([0, 1, 2, 5, int(1, 20), int(20, 64), int(60, 100), 100]);
  const nFea = int(0, 20);
  const per = Array.from({ length: nPer }, (_, i) => name(PERMS, i));
  const fea = Array.from({ length: nFea }, (_, i) => `${pick(['o', 'o', 'u', 'ou', 'uo'])}:${name(WORDS, i)}`);
  const nOrg = fea.filter((f) => f.includes('o')).length;
  const nMask = pick([nOrg, nOrg, nOrg, Math.max(0, nOrg - 1), nOrg + 1]);
  const fpm = Array.from({ length: nMask }, () => {
    let m = bigMask(nPer + (chance(0.1) ? 8 : 0)).toString();
    if (chance(0.03)) m = `00${m}`;
    if (chance(0.03)) m = ` ${m}`;
    return m;
  });
  const o = { id: id('org_'), rol: pick(ROLES), slg: pick(WORDS), per: per.join(','), fpm: fpm.join(',') };
  if (chance(0.05)) delete o.rol;
  if (chance(0.05)) delete o.slg;
  if (chance(0.03)) delete o.id;
  const claims = { v: 2, fea: fea.join(',') };
  if (chance(0.85)) claims.o = o;
  return randomCommon(claims);
}
function randomV1() {
  const claims = {};
  if (chance(0.8)) {
    claims.org_id = id('org_');
    claims.org_slug = pick(WORDS);
    claims.org_role = pick([`org:${pick(ROLES)}`, `org:${pick(ROLES)}`, pick(ROLES)]);
    claims.org_permissions = Array.from({ length: int(0, 6) }, () => `org:${pick(WORDS)}:${pick(PERMS)}`);
    if (chance(0.05)) claims.org_permissions = 'org:reports:read';
  }
  if (chance(0.4)) claims.fea = Array.from({ length: int(1, 4) }, (_, i) => `${pick(['o', 'u', 'ou'])}:${name(WORDS, i)}`).join(',');
  return randomCommon(claims);
}

// --- the cases ----------------------------------------------------------------------------
const cases = [];
const add = (name, claims, { header = HEADER, payload, sign, tamper } = {}) =>
  cases.push({ name, header, payload: payload ?? envelope(claims), options: { sign, tamper } });

// Fixed vectors for the v2 permission bit order (the first permission is bit 0).
add('docs: fea=o:dashboard,o:teams per=manage,read fpm=3,2', {
  v: 2, fea: 'o:dashboard,o:teams', o: { id: 'org_docs', rol: 'admin', slg: 'acme', per: 'manage,read', fpm: '3,2' },
});
add('nine features: per=create,delete,imp,manage,read fpm=27,24,24,16,24,11,24,8,4', {
  v: 2,
  fea: 'o:reports,o:billing,o:teams,u:beta,o:dashboard,o:invoices,o:members,ou:settings,o:audit,o:export',
  o: { id: 'org_nine', rol: 'admin', slg: 'nine', per: 'create,delete,imp,manage,read', fpm: '27,24,24,16,24,11,24,8,4' },
});
{
  const per = Array.from({ length: 80 }, (_, i) => `p${i}`);
  const mask = (1n << 70n) | (1n << 64n) | (1n << 63n) | 1n;
  add('mask wider than 64 bits (bits 0, 63, 64, 70 of 80)', {
    v: 2, fea: 'o:wide,o:narrow', o: { id: 'org_wide', rol: 'member', per: per.join(','), fpm: `${mask},${1n << 79n}` },
  });
  const huge = (1n << 99n) | (1n << 53n) | (1n << 52n) | 7n;
  add('mask beyond 2^64 and beyond 2^53 (100 permissions)', {
    v: 2, fea: 'o:huge', o: { id: 'org_huge', rol: 'member', per: Array.from({ length: 100 }, (_, i) => `q${i}`).join(','), fpm: `${huge}` },
  });
}
// Odd claims Clerk's parser has opinions about.
const odd = [
  ['v2 fea entry without a colon', { v: 2, fea: 'o:a,bare', o: { id: 'org_1', rol: 'admin', per: 'read', fpm: '1,1' } }],
  ['v2 fea with an unknown scope', { v: 2, fea: 'x:a,o:b,user:c', o: { id: 'org_1', rol: 'admin', per: 'read', fpm: '1' } }],
  ['v2 fea with a trailing comma', { v: 2, fea: 'o:a,', o: { id: 'org_1', rol: 'admin', per: 'read', fpm: '1' } }],
  ['v1 fea entry without a colon', { org_id: 'org_1', org_role: 'org:admin', fea: 'bare,o:a' }],
  ['v2 fpm as a JSON number', { v: 2, fea: 'o:a', o: { id: 'org_1', rol: 'admin', per: 'read,manage', fpm: 3 } }],
  ['v2 fpm empty entry keeps positions', { v: 2, fea: 'o:a,o:b,o:c', o: { id: 'org_1', rol: 'admin', per: 'read,manage', fpm: '3,,2' } }],
  ['v2 fpm non-decimal entry', { v: 2, fea: 'o:a,o:b', o: { id: 'org_1', rol: 'admin', per: 'read,manage', fpm: 'x3,2' } }],
  ['v2 fpm negative entry', { v: 2, fea: 'o:a,o:b', o: { id: 'org_1', rol: 'admin', per: 'read,manage', fpm: '-1,2' } }],
  ['v2 per with an empty name', { v: 2, fea: 'o:a', o: { id: 'org_1', rol: 'admin', per: 'read,,manage', fpm: '7' } }],
  ['v2 per with spaces', { v: 2, fea: 'o:a', o: { id: 'org_1', rol: 'admin', per: ' read , manage', fpm: '3' } }],
  ['v2 fpm empty string', { v: 2, fea: 'o:a', o: { id: 'org_1', rol: 'admin', per: 'read', fpm: '' } }],
  ['v2 per missing', { v: 2, fea: 'o:a', o: { id: 'org_1', rol: 'admin', fpm: '1' } }],
  ['v2 rol already prefixed', { v: 2, o: { id: 'org_1', rol: 'org:admin' } }],
  ['v2 rol empty', { v: 2, o: { id: 'org_1', rol: '' } }],
  ['v2 o without id', { v: 2, fea: 'o:a', o: { rol: 'admin', per: 'read', fpm: '1' } }],
  ['v2 o is null', { v: 2, o: null }],
  ['v2 o is empty', { v: 2, o: {} }],
  ['v2 without o but org_id (v1 claims ignored)', { v: 2, org_id: 'org_1', org_role: 'org:admin' }],
  ['v "2" (a string) reads v1 claims', { v: '2', org_id: 'org_1', org_role: 'org:admin', o: { id: 'org_2', rol: 'member' } }],
  ['v 3 reads v1 claims', { v: 3, org_id: 'org_1', org_role: 'org:admin', org_permissions: ['org:a:read'] }],
  ['v 1 explicit', { v: 1, org_id: 'org_1', org_role: 'admin', org_slug: 'one' }],
  ['v1 org_role without org_id', { org_role: 'org:admin', org_permissions: ['org:a:read'] }],
  ['v1 org_id empty', { org_id: '', org_role: 'org:admin' }],
  ['v1 org_permissions unprefixed', { org_id: 'org_1', org_role: 'org:admin', org_permissions: ['a:read', 'org:b:read'] }],
  ['v1 org_permissions not an array', { org_id: 'org_1', org_role: 'org:admin', org_permissions: 'org:a:read' }],
  ['v1 org_role empty', { org_id: 'org_1', org_role: '' }],
  ['v1 org_role doubly prefixed', { org_id: 'org_1', org_role: 'org:org:admin' }],
  ['sts pending', { sts: 'pending' }],
  ['sts active', { sts: 'active' }],
  ['sts odd value', { sts: 'abandoned' }],
  ['fva never verified', { fva: [-1, -1] }],
  ['fva second factor only', { fva: [-1, 3] }],
  ['fva fractional', { fva: [0.5, 10.5] }],
  ['fva wrong length', { fva: [1, 2, 3] }],
  ['fva not numbers', { fva: ['1', '2'] }],
  ['fva below -1', { fva: [-2, 1] }],
  ['fva null', { fva: null }],
  ['act with sub', { act: { sub: 'user_admin' } }],
  ['act with sub, iss, sid and more', { act: { sub: 'user_admin', iss: 'https://dashboard.clerk.com', sid: 'sess_admin', extra: { n: 1 } } }],
  ['act without sub', { act: { iss: 'https://dashboard.clerk.com' } }],
  ['act a string', { act: 'user_admin' }],
  ['act null', { act: null }],
  ['act empty object', { act: {} }],
  ['pla user plan', { pla: 'u:free' }],
  ['pla org plan', { v: 2, pla: 'o:pro', o: { id: 'org_1', rol: 'admin' } }],
  ['pla without a scope', { pla: 'pro' }],
  ['pla empty', { pla: '' }],
  ['fea and pla both scopes', { fea: 'ou:sso,uo:api', pla: 'ou:pro' }],
  ['fea names with colons', { fea: 'o:a:b,u:c' }],
  ['fea with spaces', { fea: ' o:a , u:b ' }],
  ['sid missing', { sid: undefined }],
  ['many claims, nothing org', { fea: 'u:beta', pla: 'u:free', fva: [0, 0], sts: 'active' }],
];
for (const [n, c] of odd) add(`odd: ${n}`, c);

// Random claim sets.
for (let i = 0; i < 330; i++) add(`random v2 #${i}`, randomV2());
for (let i = 0; i < 120; i++) add(`random v1 #${i}`, randomV1());

// Token defects.
const base = () => ({ v: 2, fea: 'o:reports', o: { id: 'org_tok', rol: 'admin', slg: 'tok', per: 'read,manage', fpm: '1' } });
const defect = (n, payloadChanges, opts = {}) => {
  const claims = base();
  const payload = { ...envelope(claims), ...payloadChanges };
  for (const [k, v] of Object.entries(payloadChanges)) if (v === undefined) delete payload[k];
  add(`token: ${n}`, claims, { ...opts, payload });
};
defect('valid', {});
defect('expired', { exp: NOW - 60 });
defect('expired within the skew', { exp: NOW - 3 });
defect('expired exactly at the skew', { exp: NOW - 5 });
defect('fractional exp truncated into the past', { exp: NOW - 5 + 0.5 });
defect('fractional exp inside the skew', { exp: NOW - 4 + 0.5 });
defect('nbf in the future', { nbf: NOW + 60 });
defect('nbf within the skew', { nbf: NOW + 4 });
defect('nbf just past the skew', { nbf: NOW + 6 });
defect('iat in the future', { iat: NOW + 60 });
defect('iat within the skew', { iat: NOW + 5 });
defect('exp missing', { exp: undefined });
defect('exp a string', { exp: String(NOW + 60) });
defect('nbf a string', { nbf: 'soon' });
defect('iat missing', { iat: undefined });
defect('nbf missing', { nbf: undefined });
defect('sub missing', { sub: undefined });
defect('sub a number', { sub: 42 });
defect('sub empty', { sub: '' });
defect('sub mch_ (machine)', { sub: 'mch_123' });
defect('sid missing', { sid: undefined });
defect('wrong issuer', { iss: 'https://clerk.evil.com' });
defect('issuer missing', { iss: undefined });
defect('issuer with a trailing slash', { iss: `${ISSUER}/` });
defect('wrong azp', { azp: 'https://evil.example.com' });
defect('azp missing', { azp: undefined });
defect('azp with a trailing slash', { azp: `${PARTY}/` });
defect('sts pending', { sts: 'pending' });
defect('expired and wrong azp', { exp: NOW - 60, azp: 'https://evil.example.com' });
defect('expired and wrong issuer', { exp: NOW - 60, iss: 'https://clerk.evil.com' });
defect('wrong issuer and wrong azp', { iss: 'https://clerk.evil.com', azp: 'https://evil.example.com' });
defect('nbf future and expired', { nbf: NOW + 60, exp: NOW - 60 });
defect('pending and expired', { sts: 'pending', exp: NOW - 60 });
defect('typ at+jwt', {}, { header: { ...HEADER, typ: 'at+jwt' } });
defect('typ application/at+jwt', {}, { header: { ...HEADER, typ: 'application/at+jwt' } });
defect('typ lowercase jwt', {}, { header: { ...HEADER, typ: 'jwt' } });
defect('typ something else', {}, { header: { ...HEADER, typ: 'JOSE' } });
defect('typ missing', {}, { header: { alg: 'RS256', kid: 'ins_oracle' } });
defect('cat session token', {}, { header: { ...HEADER, cat: 'cl_B7d4PD111AAA' } });
defect('cat ignore', {}, { header: { ...HEADER, cat: 'cl_I7d4PD111III' } });
defect('cat JWT template', {}, { header: { ...HEADER, cat: 'cl_B7d4PD222AAA' } });
defect('cat M2M', {}, { header: { ...HEADER, cat: 'cl_B7d4PD333AAA' } });
defect('cat unknown', {}, { header: { ...HEADER, cat: 'cl_zzz' } });
defect('alg none', {}, { header: { ...HEADER, alg: 'none' } });
defect('alg HS256 keyed with the public key', {}, { header: { ...HEADER, alg: 'HS256' } });
defect('alg ES256 (not RSA)', {}, { header: { ...HEADER, alg: 'ES256' } });
defect('alg missing', {}, { header: { kid: 'ins_oracle', typ: 'JWT' } });
defect('alg RS384', {}, { header: { ...HEADER, alg: 'RS384' }, sign: { hash: 'RSA-SHA384' } });
defect('alg RS512', {}, { header: { ...HEADER, alg: 'RS512' }, sign: { hash: 'RSA-SHA512' } });
defect('header says RS512, signed RS256', {}, { header: { ...HEADER, alg: 'RS512' } });
defect('signed by another key', {}, { sign: { key: OTHER_PRIVATE } });
defect('unknown kid (networkless key ignores kid)', {}, { header: { ...HEADER, kid: 'ins_other' } });
defect('bad signature, expired', { exp: NOW - 60 }, { tamper: 'signature' });
defect('bad signature, mch_ subject', { sub: 'mch_123' }, { tamper: 'signature' });
defect('typ at+jwt and expired', { exp: NOW - 60 }, { header: { ...HEADER, typ: 'at+jwt' } });
defect('cat M2M and bad signature', {}, { header: { ...HEADER, cat: 'cl_B7d4PD333AAA' }, tamper: 'signature' });
defect('payload edited after signing', {}, { tamper: 'payload' });
defect('signature truncated', {}, { tamper: 'truncate' });
defect('two segments', {}, { tamper: 'segments' });
defect('payload not JSON', {}, { tamper: 'notjson' });
defect('payload a JSON array', {}, { tamper: 'array' });
for (let i = 0; i < 20; i++) {
  const claims = chance(0.5) ? randomV2() : randomV1();
  const payload = envelope(claims);
  const which = pick(['exp', 'nbf', 'iat', 'azp', 'iss', 'none']);
  if (which === 'exp') payload.exp = NOW + pick([-3600, -6, -5, -4, 0, 4, 3600]);
  if (which === 'nbf') payload.nbf = NOW + pick([-3600, 4, 5, 6, 3600]);
  if (which === 'iat') payload.iat = NOW + pick([-3600, 4, 5, 6, 3600]);
  if (which === 'azp') payload.azp = pick([PARTY, 'https://evil.example.com', `${PARTY}/`]);
  if (which === 'iss') payload.iss = pick([ISSUER, 'https://clerk.evil.com']);
  add(`random token #${i} (${which})`, claims, { payload });
}

// --- record the SDK's decisions -----------------------------------------------------------
function tokenFor(c) {
  const { header, payload } = c;
  const o = c.options ?? {};
  let token = sign(header, payload, o.sign);
  const [h, p, s] = token.split('.');
  switch (o.tamper) {
    case 'signature': token = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`; break;
    case 'payload': token = `${h}.${b64({ ...payload, sub: 'user_someone_else' })}.${s}`; break;
    case 'truncate': token = `${h}.${p}.${s.slice(0, 40)}`; break;
    case 'segments': token = `${h}.${p}`; break;
    case 'notjson': token = sign(header, 'not json', o.sign); break;
    case 'array': token = sign(header, ['user_1'], o.sign); break;
    default: break;
  }
  return token;
}
const plain = (v) => (v === undefined ? null : v);
function authObject(claims) {
  try {
    const a = signedInAuthObject({ secretKey: SECRET_KEY, apiUrl: 'https://api.clerk.com' }, 'token', claims);
    return {
      auth: {
        userId: plain(a.userId), sessionId: plain(a.sessionId), sessionStatus: plain(a.sessionStatus),
        orgId: plain(a.orgId), orgSlug: plain(a.orgSlug), orgRole: plain(a.orgRole),
        orgPermissions: plain(a.orgPermissions), factorVerificationAge: plain(a.factorVerificationAge),
        actor: plain(a.actor),
      },
      has: a.has,
    };
  } catch (e) {
    return { error: `${e.name}: ${e.message}` };
  }
}
const client = createClerkClient({ secretKey: SECRET_KEY, publishableKey: PUBLISHABLE_KEY, telemetry: { disabled: true } });
const options = { jwtKey: PUBLIC_PEM, authorizedParties: [PARTY], issuer: ISSUER };
const records = [];
for (const c of cases) {
  const token = tokenFor(c);
  const state = await client.authenticateRequest(
    new Request(`${PARTY}/protected`, { headers: { authorization: `Bearer ${token}` } }),
    { ...options, publishableKey: PUBLISHABLE_KEY, secretKey: SECRET_KEY },
  );
  let toAuth;
  let toAuthError = null;
  try {
    toAuth = state.toAuth();
  } catch (e) {
    toAuthError = `${e.name}: ${e.message}`;
  }
  let verify;
  try {
    await verifyToken(token, options);
    verify = { ok: true };
  } catch (e) {
    verify = { ok: false, reason: e.reason ?? `${e.name}: ${e.message}` };
  }
  // The auth object and has() come from the payload as signed (for a payload that is an object).
  const payload = c.payload;
  const built = authObject(payload);
  const record = {
    name: c.name,
    token,
    authenticate_request: {
      status: state.status,
      reason: state.reason ?? null,
      is_authenticated: toAuth?.isAuthenticated ?? false,
      session_status: plain(toAuth?.sessionStatus),
      to_auth_error: toAuthError,
    },
    verify_token: verify,
  };
  if (built.error) {
    record.auth_error = built.error;
  } else {
    record.auth = built.auth;
    record.has = queries(payload).map((query) => ({ query, result: built.has(query) }));
  }
  records.push(record);
}

// --- machine credentials ------------------------------------------------------------------
// Classification (isMachineToken; the type from authenticateRequest's accepted-set decision)
// and the networkless verification of the JWT forms (verifyMachineAuthToken with jwtKey).
// Opaque credentials never reach Clerk: their verify call goes to a closed loopback port and
// only the accepted-set decision before it is recorded.
const M2M_CAT = 'cl_B7d4PD333AAA';
const mHeader = (extra = {}) => ({ alg: 'RS256', kid: 'ins_oracle', ...extra });
const m2mPayload = (extra = {}) => ({ iss: ISSUER, sub: 'mch_oracle', jti: 'mt_oracle', iat: NOW - 10, nbf: NOW - 10, exp: NOW + 60, scopes: 'mch_a mch_b', ...extra });
const oauthPayload = (extra = {}) => ({ iss: ISSUER, sub: 'user_oracle', jti: 'oat_oracle', client_id: 'client_oracle', iat: NOW - 10, exp: NOW + 60, scope: 'read write', ...extra });
const machineCases = [];
const mAdd = (name, token) => machineCases.push({ name, token });
const mJwt = (name, header, payload, o = {}) => mAdd(name, o.raw ?? sign(header, payload, o.sign));
for (const t of ['ak_live_abc', 'ak_x', 'mt_abc', 'oat_abc', 'mt_', 'AK_abc', 'sk_test_abc', 'ak', 'mt', 'oat', 'not-a-token', '', 'ak_a.b.c', 'mt_a.b.c']) mAdd(`opaque ${JSON.stringify(t)}`, t);
mJwt('m2m jwt', mHeader({ typ: 'JWT', cat: M2M_CAT }), m2mPayload());
mJwt('m2m jwt without typ or cat', mHeader(), m2mPayload());
mJwt('m2m jwt with claims', mHeader({ cat: M2M_CAT }), m2mPayload({ org: 'org_1', tier: 2 }));
mJwt('m2m jwt scopes from aud', mHeader({ cat: M2M_CAT }), m2mPayload({ scopes: undefined, aud: ['mch_x', 'mch_y'] }));
mJwt('m2m jwt no scopes', mHeader({ cat: M2M_CAT }), m2mPayload({ scopes: undefined }));
mJwt('m2m jwt empty scopes', mHeader({ cat: M2M_CAT }), m2mPayload({ scopes: '' }));
mJwt('m2m jwt no jti', mHeader({ cat: M2M_CAT }), m2mPayload({ jti: undefined }));
mJwt('m2m jwt session category', mHeader({ cat: 'cl_B7d4PD111AAA' }), m2mPayload());
mJwt('m2m jwt template category', mHeader({ cat: 'cl_B7d4PD222AAA' }), m2mPayload());
mJwt('m2m jwt typ at+jwt', mHeader({ typ: 'at+jwt' }), m2mPayload());
mJwt('m2m jwt typ jwt lower', mHeader({ typ: 'jwt' }), m2mPayload());
mJwt('m2m jwt expired', mHeader({ cat: M2M_CAT }), m2mPayload({ exp: NOW - 6 }));
mJwt('m2m jwt expired within skew', mHeader({ cat: M2M_CAT }), m2mPayload({ exp: NOW - 4 }));
mJwt('m2m jwt exp at skew', mHeader({ cat: M2M_CAT }), m2mPayload({ exp: NOW - 5 }));
mJwt('m2m jwt fractional exp', mHeader({ cat: M2M_CAT }), m2mPayload({ exp: NOW - 4.5 }));
mJwt('m2m jwt no exp', mHeader({ cat: M2M_CAT }), m2mPayload({ exp: undefined }));
mJwt('m2m jwt string exp', mHeader({ cat: M2M_CAT }), m2mPayload({ exp: String(NOW + 60) }));
mJwt('m2m jwt nbf future', mHeader({ cat: M2M_CAT }), m2mPayload({ nbf: NOW + 60 }));
mJwt('m2m jwt iat future', mHeader({ cat: M2M_CAT }), m2mPayload({ iat: NOW + 60 }));
mJwt('m2m jwt wrong key', mHeader({ cat: M2M_CAT }), m2mPayload(), { sign: { key: OTHER_PRIVATE } });
mJwt('m2m jwt RS384', mHeader({ alg: 'RS384', cat: M2M_CAT }), m2mPayload(), { sign: { hash: 'RSA-SHA384' } });
mJwt('m2m jwt HS256', mHeader({ alg: 'HS256', cat: M2M_CAT }), m2mPayload());
mJwt('m2m jwt alg none', mHeader({ alg: 'none', cat: M2M_CAT }), m2mPayload());
mJwt('m2m jwt foreign issuer', mHeader({ cat: M2M_CAT }), m2mPayload({ iss: 'https://evil.example' }));
{
  const t = sign(mHeader({ cat: M2M_CAT }), m2mPayload());
  const [h, p, sg] = t.split('.');
  mAdd('m2m jwt tampered signature', `${h}.${p}.${sg.slice(0, 10)}${sg[10] === 'A' ? 'B' : 'A'}${sg.slice(11)}`);
  mAdd('m2m jwt padded', `${t}=`);
}
mJwt('oauth jwt', mHeader({ typ: 'at+jwt' }), oauthPayload());
mJwt('oauth jwt application typ', mHeader({ typ: 'application/at+jwt' }), oauthPayload());
mJwt('oauth jwt scp', mHeader({ typ: 'at+jwt' }), oauthPayload({ scp: ['a', 'b'] }));
mJwt('oauth jwt no scopes', mHeader({ typ: 'at+jwt' }), oauthPayload({ scope: undefined }));
mJwt('oauth jwt no client id', mHeader({ typ: 'at+jwt' }), oauthPayload({ client_id: undefined }));
mJwt('oauth jwt with m2m category', mHeader({ typ: 'at+jwt', cat: M2M_CAT }), oauthPayload());
mJwt('oauth jwt expired', mHeader({ typ: 'at+jwt' }), oauthPayload({ exp: NOW - 60 }));
mJwt('oauth jwt wrong key', mHeader({ typ: 'at+jwt' }), oauthPayload(), { sign: { key: OTHER_PRIVATE } });
mJwt('oauth jwt typ upper', mHeader({ typ: 'AT+JWT' }), oauthPayload());
mJwt('session jwt', HEADER, envelope({ v: 2 }));
mJwt('session jwt m2m category', { ...HEADER, cat: M2M_CAT }, envelope({ v: 2 }));
mJwt('jwt sub not a string', mHeader(), m2mPayload({ sub: ['mch_1'] }));
mAdd('jwt header not json', `${b64('nope')}.${b64(m2mPayload())}.c2ln`);
mAdd('jwt payload not json', `${b64(mHeader())}.${b64('nope')}.c2ln`);
const ACCEPTS = [['api_key'], ['m2m_token'], ['oauth_token'], ['api_key', 'm2m_token'], ['session_token', 'api_key']];
const unreachable = 'http://127.0.0.1:9';
const machineRecords = [];
for (const c of machineCases) {
  const { token } = c;
  const record = { name: c.name, token, is_machine_token: isMachineToken(token), accepts: [] };
  for (const acceptsToken of ACCEPTS) {
    // A single type goes in as a string, as applications pass it.
    const accepted = acceptsToken.length === 1 ? acceptsToken[0] : acceptsToken;
    let state;
    try {
      state = await client.authenticateRequest(
        new Request(`${PARTY}/api`, { headers: { authorization: `Bearer ${token}` } }),
        { ...options, apiUrl: unreachable, publishableKey: PUBLISHABLE_KEY, secretKey: SECRET_KEY, acceptsToken: accepted },
      );
      record.accepts.push({ accepts: acceptsToken, status: state.status, reason: state.reason ?? null, token_type: state.tokenType ?? null });
    } catch (e) {
      record.accepts.push({ accepts: acceptsToken, threw: `${e.name}: ${e.message}` });
    }
  }
  if (/^[a-zA-Z0-9\-_]+\.[a-zA-Z0-9\-_]+\.[a-zA-Z0-9\-_]+$/.test(token)) {
    try {
      const r = await verifyMachineAuthToken(token, { jwtKey: PUBLIC_PEM, secretKey: SECRET_KEY, apiUrl: unreachable });
      if (r.errors) {
        record.verify = { ok: false, token_type: r.tokenType, code: r.errors[0].code ?? null };
      } else {
        const d = r.data;
        record.verify = { ok: true, token_type: r.tokenType, id: d.id, subject: d.subject, scopes: d.scopes, claims: plain(d.claims), client_id: plain(d.clientId), expiration: d.expiration };
      }
    } catch (e) {
      record.verify = { threw: `${e.name}: ${e.message}` };
    }
  }
  machineRecords.push(record);
}
// The reverification refusal body of @clerk/shared (what Clerk's frontend SDK reads).
const reverificationBodies = [
  'strict_mfa', 'strict', 'moderate', 'lax',
].map((preset) => ({ preset, body: reverificationError(preset) }));
reverificationBodies.push({ level: 'second_factor', afterMinutes: 10, body: reverificationError({ level: 'second_factor', afterMinutes: 10 }) });

const corpus = {
  comment: 'Generated by conformance/clerk-js/generate.mjs; do not edit. Regenerate: see README.md.',
  sdk: { '@clerk/backend': pkg('@clerk/backend'), '@clerk/shared': pkg('@clerk/shared') },
  seed: SEED,
  now_ms: NOW_MS,
  issuer: ISSUER,
  authorized_parties: [PARTY],
  publishable_key: PUBLISHABLE_KEY,
  public_key_pem: PUBLIC_PEM,
  reverification_bodies: reverificationBodies,
  cases: records,
  machine_cases: machineRecords,
};
writeFileSync(out, `${JSON.stringify(corpus, null, 1)}\n`);
console.log(`wrote ${records.length} cases and ${machineRecords.length} machine cases to ${out}`);
