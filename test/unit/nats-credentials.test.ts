import { expect } from 'chai';
import { nkeys } from 'nats';
import { transportFromUrl } from '../../core/index.js';
import { NatsTransport, natsOptionsFromUrl, resolveNatsOptions, type NatsTransportOptions } from '../../transports/nats/index.js';
import { parseCreds, userPublicKey } from '../../transports/nats/credentials.js';

interface KeyPair { getPublicKey(): string; getSeed(): Uint8Array }
const nk = nkeys as { createUser(): KeyPair; createAccount(): KeyPair };
const td = new TextDecoder();

/** A JWT-shaped string (header and claims are JSON; the signature is not checked client-side). */
const jwtFor = (sub: string) => [{ typ: 'JWT', alg: 'ed25519-nkey' }, { sub, nats: { type: 'user' } }, 'c2ln']
  .map((p) => (typeof p === 'string' ? p : Buffer.from(JSON.stringify(p)).toString('base64url'))).join('.');

const credsText = (jwt: string, seed: string, eol = '\n') => [
  '-----BEGIN NATS USER JWT-----', jwt, '------END NATS USER JWT------', '',
  '************************* IMPORTANT *************************', '',
  '-----BEGIN USER NKEY SEED-----', seed, '------END USER NKEY SEED------',
].join(eol);

/** [code, field] of the error `f` throws, or undefined. */
const failure = (f: () => unknown) => {
  try { f(); } catch (e) { return [(e as { code?: string }).code, (e as { details?: { field?: string } }).details?.field]; }
  return undefined;
};

describe('nats credentials and TLS options', () => {
  const user = nk.createUser();
  const seed = td.decode(user.getSeed());

  it('nats credentials - a user seed gives its public key; other keys name the field', () => {
    expect(userPublicKey(seed, 'nkeySeed')).to.equal(user.getPublicKey());
    expect(userPublicKey(`  ${seed}\n`, 'nkeySeed')).to.equal(user.getPublicKey());
    for (const bad of ['', 'SUnot-base32', user.getPublicKey(), td.decode(nk.createAccount().getSeed())]) {
      expect(failure(() => userPublicKey(bad, 'nkeySeed')), bad).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'nkeySeed']);
    }
  });

  it('nats credentials - reads nsc creds with LF, CRLF or no final newline', () => {
    const jwt = jwtFor(user.getPublicKey());
    for (const text of [credsText(jwt, seed) + '\n', credsText(jwt, seed, '\r\n'), credsText(jwt, seed)]) {
      expect(parseCreds(text, 'creds')).to.deep.equal({ jwt, seed });
    }
  });

  it('nats credentials - creds whose JWT is not one, or not for the seed, are refused naming the field', () => {
    expect(failure(() => parseCreds(credsText('abc', seed), 'credsFile'))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'credsFile']);
    expect(failure(() => parseCreds(credsText('a.b.c', seed), 'creds'))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'creds']);
    expect(failure(() => parseCreds(credsText(jwtFor(nk.createUser().getPublicKey()), seed), 'creds'))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'creds']);
    const accountSeed = td.decode(nk.createAccount().getSeed());
    expect(failure(() => parseCreds(credsText(jwtFor(user.getPublicKey()), accountSeed), 'creds'))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'creds']);
  });

  it('nats options - tls:// servers require TLS; tls: true means system CAs; false means not required', () => {
    expect(resolveNatsOptions({}).tls).to.equal(undefined);
    expect(resolveNatsOptions({ servers: 'tls://h:4222' }).tls).to.deep.equal({});
    expect(resolveNatsOptions({ servers: ['nats://a:4222', 'TLS://b:4222'] }).tls).to.deep.equal({});
    expect(resolveNatsOptions({ tls: true }).tls).to.deep.equal({});
    expect(resolveNatsOptions({ tls: false }).tls).to.equal(undefined);
    expect(resolveNatsOptions({ servers: 'tls://h', tls: { caFile: 'ca.pem' } }).tls).to.deep.equal({ caFile: 'ca.pem' });
    expect(resolveNatsOptions({ tls: { certFile: 'c.pem', keyFile: 'k.pem', handshakeFirst: true } }).tls)
      .to.deep.equal({ certFile: 'c.pem', keyFile: 'k.pem', handshakeFirst: true });
  });

  it('nats options - bad server, TLS and credential combinations are refused naming the field', () => {
    const cases: Array<[NatsTransportOptions, string]> = [
      [{ servers: 'ws://h:80' }, 'servers'],
      [{ servers: [''] }, 'servers'],
      [{ servers: 'tls://h:4222', tls: false }, 'tls'],
      [{ tls: 'yes' as unknown as boolean }, 'tls'],
      [{ tls: { certFile: 'c.pem' } }, 'tls.keyFile'],
      [{ tls: { keyFile: 'k.pem' } }, 'tls.certFile'],
      [{ tls: { caFile: '' } }, 'tls.caFile'],
      [{ token: '' }, 'token'],
      [{ nkeySeed: seed, creds: credsText(jwtFor(user.getPublicKey()), seed) }, 'creds'],
      [{ nkeySeed: seed, credsFile: 'u.creds' }, 'credsFile'],
      [{ creds: 'just some text' }, 'creds'],
      [{ nkeySeed: 'SUxyz' }, 'nkeySeed'],
    ];
    for (const [options, field] of cases) expect(failure(() => resolveNatsOptions(options)), JSON.stringify(options)).to.deep.equal(['SB_ERR_OPTIONS_INVALID', field]);
  });

  it('nats options - URL: tls:// scheme, TLS file paths and a creds file path', () => {
    expect(natsOptionsFromUrl(new URL('tls://h:4443'))).to.deep.equal({ servers: ['tls://h:4443'], tls: true });
    expect(natsOptionsFromUrl(new URL('tls://h?caFile=/etc/nats/ca.pem&certFile=/c.pem&keyFile=/k.pem&credsFile=/u.creds'))).to.deep.equal({
      servers: ['tls://h:4222'], credsFile: '/u.creds', tls: { caFile: '/etc/nats/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' },
    });
    expect(natsOptionsFromUrl(new URL('nats://h?caFile=/ca.pem')).tls).to.deep.equal({ caFile: '/ca.pem' });
  });

  it('nats options - transportFromUrl understands the tls:// scheme', async () => {
    const t = await transportFromUrl('tls://127.0.0.1:4443?caFile=/etc/nats/ca.pem');
    expect(t).to.be.instanceOf(NatsTransport);
    expect((t as NatsTransport).options.tls).to.deep.equal({ caFile: '/etc/nats/ca.pem' });
    expect((t as NatsTransport).options.servers).to.deep.equal(['tls://127.0.0.1:4443']);
  });
});
