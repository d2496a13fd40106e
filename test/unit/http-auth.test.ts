import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { apiKeyPrincipal, checkSubjectAllowed, createAuthenticator, groupFor, mayRead } from '../../auth/authenticator.js';

const secret = 'a-test-secret-that-is-32-bytes-long!!';
const hs = (claims: Record<string, unknown>, exp: string | number = '1h') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(exp).sign(new TextEncoder().encode(secret));
const fail = (p: Promise<unknown>) => p.then(() => null, (e: { code?: string }) => e);

describe('http auth', () => {
  it('http auth - verifies an HS256 token and scopes its tenant', async () => {
    const auth = createAuthenticator({ jwt: { secret } });
    const r = await auth({ authorization: `Bearer ${await hs({ tenant: 'acme', sub: 'user-1' })}` });
    expect(r).to.deep.equal({ tenant: 'acme', principal: 'user-1', subjectPrefix: 'acme.' });
    checkSubjectAllowed(r, 'acme.orders');
    checkSubjectAllowed(r, 'acme.>');
    for (const s of ['globex.orders', '>', '*.orders', 'acme', 'acmex.orders']) {
      expect(() => checkSubjectAllowed(r, s), s).to.throw().with.property('code', 'SB_ERR_AUTH_FORBIDDEN');
    }
  });

  it('http auth - rejects expired, badly signed, malformed and missing tokens with 401', async () => {
    const auth = createAuthenticator({ jwt: { secret } });
    const expired = await hs({ tenant: 'acme' }, Math.floor(Date.now() / 1000) - 60);
    const other = await new SignJWT({ tenant: 'acme' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-of-thirty-two-bytes-xx'));
    for (const h of [`Bearer ${expired}`, `Bearer ${other}`, 'Bearer not.a.jwt', 'Basic dXNlcjpwYXNz']) {
      const e = await fail(auth({ authorization: h }));
      expect(e, h).to.have.property('code', 'SB_ERR_AUTH_UNAUTHORIZED');
      expect(e).to.have.property('status', 401);
    }
    expect(await fail(auth({}))).to.have.property('code', 'SB_ERR_AUTH_UNAUTHORIZED');
  });

  it('http auth - refuses a token without a tenant unless allowed, and a tenant that is not one token', async () => {
    const auth = createAuthenticator({ jwt: { secret } });
    expect(await fail(auth({ authorization: `Bearer ${await hs({ sub: 'ops' })}` }))).to.have.property('code', 'SB_ERR_AUTH_FORBIDDEN');
    expect(await fail(auth({ authorization: `Bearer ${await hs({ tenant: 'a.>' })}` }))).to.have.property('code', 'SB_ERR_AUTH_FORBIDDEN');
    const ops = createAuthenticator({ jwt: { secret }, allowUntenanted: true });
    expect(await ops({ authorization: `Bearer ${await hs({ sub: 'ops' })}` })).to.deep.equal({ principal: 'ops' });
  });

  it('http auth - verifies RS256 and ES256 public keys, a JWKS file and a custom claim and prefix', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = (k: typeof rsa.publicKey) => k.export({ type: 'spki', format: 'pem' }) as string;
    const rs = createAuthenticator({ jwt: { publicKey: pem(rsa.publicKey) }, tenantClaim: 'org', subjectPrefix: 'tenants.{tenant}.' });
    const t1 = await new SignJWT({ org: 'acme' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(rsa.privateKey);
    expect(await rs({ authorization: `Bearer ${t1}` })).to.deep.include({ tenant: 'acme', subjectPrefix: 'tenants.acme.' });
    const es = createAuthenticator({ jwt: { publicKey: pem(ec.publicKey) } });
    const t2 = await new SignJWT({ tenant: 'globex' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(ec.privateKey);
    expect(await es({ authorization: `Bearer ${t2}` })).to.deep.include({ tenant: 'globex' });
    // An ES256 token does not verify against the RSA key (no algorithm confusion).
    expect(await fail(rs({ authorization: `Bearer ${t2}` }))).to.have.property('code', 'SB_ERR_AUTH_UNAUTHORIZED');
    const dir = mkdtempSync(join(tmpdir(), 'sb-jwks-'));
    try {
      const file = join(dir, 'jwks.json');
      writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(ec.publicKey)), kid: 'k1', alg: 'ES256' }] }));
      const jw = createAuthenticator({ jwt: { jwksFile: file } });
      const t3 = await new SignJWT({ tenant: 'initech' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setExpirationTime('1h').sign(ec.privateKey);
      expect(await jw({ authorization: `Bearer ${t3}` })).to.deep.include({ tenant: 'initech' });
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('http auth - maps API keys to tenants and allows anonymous only when not required', async () => {
    const auth = createAuthenticator({ apiKeys: { 'key-acme-123': 'acme', 'key-ops-4567': { principal: 'ops' } } });
    expect(await auth({ 'x-api-key': 'key-acme-123' })).to.deep.include({ tenant: 'acme', subjectPrefix: 'acme.' });
    expect(await auth({ 'x-api-key': 'key-ops-4567' })).to.deep.equal({ principal: 'ops' });
    expect(await fail(auth({ 'x-api-key': 'nope-nope-nope' }))).to.have.property('code', 'SB_ERR_AUTH_UNAUTHORIZED');
    expect(await fail(auth({}))).to.have.property('code', 'SB_ERR_AUTH_UNAUTHORIZED');
    const open = createAuthenticator({ apiKeys: { 'key-acme-123': 'acme' }, required: false });
    expect(await open({})).to.deep.equal({ principal: 'anonymous' });
    expect(await createAuthenticator()({})).to.deep.equal({ principal: 'anonymous' });
  });

  it('http auth - gives every API key its own principal, a digest that never shows the key', async () => {
    const keys = ['sk_live_acme_0001', 'sk_live_acme_0002', 'sk_live_globex_02'];
    const auth = createAuthenticator({ apiKeys: { [keys[0]!]: 'acme', [keys[1]!]: 'acme', [keys[2]!]: 'globex' } });
    const principals = await Promise.all(keys.map(async (k) => (await auth({ 'x-api-key': k })).principal));
    expect(new Set(principals).size, principals.join()).to.equal(3);
    for (const [i, p] of principals.entries()) {
      expect(p).to.match(/^apikey:[0-9a-f]{16}$/);
      expect(p).to.equal(apiKeyPrincipal(keys[i]!));
      // Not even the key's head: 'sk_l' was once every key's principal.
      expect(p.slice('apikey:'.length)).to.not.include(keys[i]!.slice(0, 4));
    }
  });

  it('http auth - a token without sub is its tenant\'s principal, never one shared by every such token', async () => {
    const auth = createAuthenticator({ jwt: { secret }, allowUntenanted: true });
    const principal = async (claims: Record<string, unknown>) => (await auth({ authorization: `Bearer ${await hs(claims)}` })).principal;
    expect(await principal({ tenant: 'acme' })).to.equal('jwt:acme');
    expect(await principal({ tenant: 'globex' })).to.equal('jwt:globex');
    // Stable across refreshed tokens (a new iat/exp/jti), so a refresh gets no fresh budget.
    expect(await principal({ tenant: 'acme', jti: 'another' })).to.equal('jwt:acme');
    const operators = [await principal({ iss: 'issuer-a' }), await principal({ iss: 'issuer-b' })];
    for (const p of operators) expect(p).to.match(/^jwt:[0-9a-f]{16}$/);
    expect(operators[0]).to.not.equal(operators[1]);
    expect(await principal({ tenant: 'acme', sub: 'user-1' })).to.equal('user-1');
  });

  it('http auth - validates options naming the field', () => {
    for (const [o, field] of [
      [{ jwt: { secret: 'short' } }, 'jwt.secret'], [{ jwt: {} }, 'jwt'], [{ subjectPrefix: 'x.' }, 'subjectPrefix'],
      [{ apiKeys: { short: 'acme' } }, 'apiKeys[shor…]'], [{ required: true }, 'required'], [{ jwt: { publicKey: 'nope' } }, 'jwt.publicKey'],
    ] as const) {
      expect(() => createAuthenticator(o as never), field).to.throw().with.nested.property('details.field', field);
    }
  });

  it('http auth - a tenant reads only its own events and its groups are its own; an unscoped caller reads all', () => {
    const acme = { tenant: 'acme', principal: 'u' };
    expect(mayRead(acme, { tenant: 'acme' })).to.equal(true);
    expect(mayRead(acme, { tenant: 'globex' })).to.equal(false);
    expect(mayRead(acme, {}), 'an untenanted event is no tenant\'s').to.equal(false);
    expect(mayRead({ principal: 'operator' }, { tenant: 'globex' })).to.equal(true);
    expect(mayRead(undefined, {})).to.equal(true);
    expect(groupFor(acme, 'workers')).to.equal('acme.workers');
    expect(groupFor(acme, undefined)).to.equal(undefined);
    expect(groupFor({ principal: 'operator' }, 'workers')).to.equal('workers');
  });
});
