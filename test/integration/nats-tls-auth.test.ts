import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { createEnvelope, type Envelope } from '../../core/index.js';
import { readsDirectly } from '../../transports/nats/direct-reads.js';
import { NatsTransport, type NatsTransportOptions } from '../../transports/nats/index.js';
import { missingPrerequisite, portOpen } from '../helpers/brokers.js';
import { makeTestCertificates, requireOpenssl, type TestCertificates } from '../helpers/tls-certs.js';
import { freePort, NATS_SERVER_BINARY } from '../helpers/nats-server-process.js';
import { expectSizedInOrder, mixedSizes, sizedBody } from '../helpers/sized-messages.js';
import { sleep, waitFor } from '../helpers/wait.js';

const te = new TextEncoder();
const td = new TextDecoder();

/** nats.js re-exports nkeys.js untyped; the part these tests use. */
interface KeyPair { getPublicKey(): string; getSeed(): Uint8Array; sign(data: Uint8Array): Uint8Array }
const nk = nkeys as { createUser(): KeyPair; createAccount(): KeyPair; createOperator(): KeyPair };

/** A nats-server started from a config file this test writes (TLS and auth blocks need one). */
class ConfiguredServer {
  private constructor(readonly port: number, private readonly child: ChildProcess) {}

  static async start(dir: string, config: string): Promise<ConfiguredServer> {
    const port = await freePort();
    const file = join(dir, `server-${port}.conf`);
    writeFileSync(file, `listen: "127.0.0.1:${port}"\n${config}\n`);
    const child = spawn(NATS_SERVER_BINARY, ['-c', file], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(port, '127.0.0.1', 200))) {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode} (bad config ${file}?)`);
      if (Date.now() > deadline) throw new Error(`nats-server on port ${port} did not come up`);
      await sleep(50); // polling: the process gives no other sign it is up
    }
    return new ConfiguredServer(port, child);
  }

  get url(): string { return `nats://127.0.0.1:${this.port}`; }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await new Promise<void>((resolve) => { this.child.once('exit', () => resolve()); this.child.kill('SIGTERM'); });
  }
}

/** Connects, subscribes, publishes one event and returns what the subscription received. */
async function roundTrip(options: NatsTransportOptions): Promise<Envelope> {
  const t = new NatsTransport({ reconnect: { maxAttempts: 0 }, connectTimeoutMs: 3000, ...options });
  try {
    await t.connect();
    const received = new Promise<Envelope>((resolve) => {
      void t.subscribe('secure.hello', async (m) => { resolve(m.envelope); m.ack(); }, { maxInFlight: 10 });
    });
    await t.connection!.flush();
    await t.publish('secure.hello', createEnvelope({ type: 'greeting', source: 'tls-auth-test', data: te.encode('hi'), datacontenttype: 'text/plain' }));
    return await Promise.race([received, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no delivery in 5 s')), 5000))]);
  } finally {
    await t.close();
  }
}

/** The error a connect attempt fails with (null when it connects). */
async function connectError(options: NatsTransportOptions): Promise<(Error & { code?: string; details?: Record<string, unknown> }) | null> {
  const t = new NatsTransport({ reconnect: { maxAttempts: 0 }, connectTimeoutMs: 3000, ...options });
  return t.connect().then(async () => { await t.close(); return null; }, (e) => e);
}

// --- decentralised (operator/JWT) auth, built the way nsc does, from nkeys -----------------------

const b64url = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');

/** A JWT signed with an nkey (`alg: ed25519-nkey`), the format nats-server verifies. */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('base64url');
  const signingInput = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signingInput}.${b64url(issuer.sign(te.encode(signingInput)))}`;
}

/** A `.creds` file's contents, as `nsc generate creds` writes it. */
function credsFile(userJwt: string, userSeed: string): string {
  return `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n`
    + '************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n'
    + `-----BEGIN USER NKEY SEED-----\n${userSeed}\n------END USER NKEY SEED------\n`;
}

describe('nats TLS and auth', function () {
  this.timeout(30_000);
  let dir: string;
  before(function () {
    if (!existsSync(NATS_SERVER_BINARY)) missingPrerequisite(this, `${NATS_SERVER_BINARY} is missing (these cases start their own nats-server)`);
    dir = mkdtempSync(join(tmpdir(), 'signalbus-nats-tls-'));
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  describe('TLS', () => {
    let certs: TestCertificates;
    let server: ConfiguredServer;
    let mutual: ConfiguredServer;
    before(async function () {
      requireOpenssl(this);
      certs = makeTestCertificates(dir);
      const tls = `cert_file: "${certs.serverCert}"\n  key_file: "${certs.serverKey}"\n  ca_file: "${certs.ca}"`;
      server = await ConfiguredServer.start(dir, `tls {\n  ${tls}\n  timeout: 2\n}`);
      mutual = await ConfiguredServer.start(dir, `tls {\n  ${tls}\n  verify: true\n  timeout: 2\n}`);
    });
    after(async () => { await server?.stop(); await mutual?.stop(); });

    it('nats tls - with the private CA in the TLS options a publish/subscribe round trip works', async () => {
      const env = await roundTrip({ servers: server.url, tls: { caFile: certs.ca } });
      expect(env.type).to.equal('greeting');
      expect(td.decode(env.data as Uint8Array)).to.equal('hi');
    });

    it('nats tls - the server\'s bytes are read directly over TLS as well (direct-reads.ts): 300 messages of 0-100 KB arrive whole and in order', async () => {
      const options: NatsTransportOptions = { servers: server.url, tls: { caFile: certs.ca }, reconnect: { maxAttempts: 0 }, connectTimeoutMs: 3000 };
      const [subT, pubT] = [new NatsTransport(options), new NatsTransport(options)];
      try {
        await Promise.all([subT.connect(), pubT.connect()]);
        expect(readsDirectly(subT.connection!), 'read directly').to.equal(true);
        const got: Envelope[] = [];
        await subT.subscribe('secure.bulk', async (m) => { got.push(m.envelope); m.ack(); }, { maxInFlight: 1000 });
        await subT.connection!.flush();
        const sizes = mixedSizes(300, 50, 100_000, 10);
        for (let i = 0; i < sizes.length; i++) {
          await pubT.publish('secure.bulk', createEnvelope({ id: `m-${i}`, type: 'bulk', source: 'tls-test', data: sizedBody(i, sizes[i]!), datacontenttype: 'application/octet-stream' }));
        }
        await waitFor(() => got.length >= sizes.length, { timeoutMs: 10_000, what: () => `${sizes.length} messages (got ${got.length})` });
        expectSizedInOrder(got, sizes, (i) => `m-${i}`);
      } finally {
        await Promise.all([subT.close(), pubT.close()]);
      }
    });

    it('nats tls - a tls:// URL scheme with the CA works too', async () => {
      const env = await roundTrip({ servers: `tls://127.0.0.1:${server.port}`, tls: { caFile: certs.ca } });
      expect(td.decode(env.data as Uint8Array)).to.equal('hi');
    });

    it('nats tls - without the CA the server certificate is refused with a TransportConnectError', async () => {
      for (const tls of [true, undefined] as const) {
        const err = await connectError({ servers: server.url, ...(tls ? { tls } : {}) });
        expect(err, `tls: ${tls}`).to.be.instanceOf(Error);
        expect(err?.code, `tls: ${tls}`).to.equal('SB_ERR_TRANSPORT_CONNECT');
      }
    });

    it('nats tls - mutual TLS: a client certificate signed by the CA connects, none is refused', async () => {
      const env = await roundTrip({
        servers: mutual.url, tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey },
      });
      expect(td.decode(env.data as Uint8Array)).to.equal('hi');
      const err = await connectError({ servers: mutual.url, tls: { caFile: certs.ca } });
      expect(err?.code).to.be.oneOf(['SB_ERR_TRANSPORT_CONNECT', 'SB_ERR_TRANSPORT_AUTH']);
    });

    it('nats tls - handshakeFirst: TLS before any protocol byte, for servers that wait for the client hello', async () => {
      // nats-server 2.9 (Debian's) has no handshake_first; a test-owned front that speaks TLS
      // before anything else and relays to the server behaves the same way on the wire. The server
      // behind it announces TLS (as a handshake-first server does) but takes the relay's plain bytes.
      const plain = await ConfiguredServer.start(dir, `tls {\n  cert_file: "${certs.serverCert}"\n  key_file: "${certs.serverKey}"\n}\nallow_non_tls: true`);
      const front: TlsServer = createTlsServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (clientSide) => {
        const serverSide = tcpConnect(plain.port, '127.0.0.1');
        clientSide.pipe(serverSide).pipe(clientSide);
        const close = () => { clientSide.destroy(); serverSide.destroy(); };
        clientSide.on('error', close); serverSide.on('error', close); clientSide.on('close', close); serverSide.on('close', close);
      });
      // nats.js leaves a socket open when the connect times out before INFO; closed here so the front can close.
      const accepted = new Set<Socket>();
      front.on('connection', (socket: Socket) => { accepted.add(socket); socket.on('close', () => accepted.delete(socket)); });
      await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
      const url = `nats://127.0.0.1:${(front.address() as AddressInfo).port}`;
      try {
        const env = await roundTrip({ servers: url, tls: { caFile: certs.ca, handshakeFirst: true } });
        expect(td.decode(env.data as Uint8Array)).to.equal('hi');
        // Without it the client waits for an INFO the front never sends before a TLS hello.
        const err = await connectError({ servers: url, connectTimeoutMs: 1000, tls: { caFile: certs.ca } });
        expect(err?.code).to.equal('SB_ERR_TRANSPORT_CONNECT');
      } finally {
        for (const socket of accepted) socket.destroy();
        await new Promise((r) => front.close(r));
        await plain.stop();
      }
    });

    it('nats tls - a CA file that does not exist is an OptionsInvalidError naming tls.caFile', async () => {
      const err = await connectError({ servers: server.url, tls: { caFile: join(dir, 'missing-ca.pem') } });
      expect(err?.code).to.equal('SB_ERR_OPTIONS_INVALID');
      expect(err?.details?.field).to.equal('tls.caFile');
    });
  });

  describe('NKey', () => {
    const user = nk.createUser();
    let server: ConfiguredServer;
    before(async () => { server = await ConfiguredServer.start(dir, `authorization {\n  users = [ { nkey: "${user.getPublicKey()}" } ]\n}`); });
    after(async () => { await server?.stop(); });

    it('nats nkey - the user seed in nkeySeed connects and a round trip works', async () => {
      const env = await roundTrip({ servers: server.url, nkeySeed: td.decode(user.getSeed()) });
      expect(td.decode(env.data as Uint8Array)).to.equal('hi');
    });

    it('nats nkey - the seed of another user is a TransportAuthError', async () => {
      const err = await connectError({ servers: server.url, nkeySeed: td.decode(nk.createUser().getSeed()) });
      expect(err?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
    });

    it('nats nkey - no credentials at all is a TransportAuthError', async () => {
      const err = await connectError({ servers: server.url });
      expect(err?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
    });

    it('nats nkey - a string that is not a user seed is an OptionsInvalidError naming nkeySeed', () => {
      for (const bad of ['not-a-seed', user.getPublicKey(), td.decode(nk.createAccount().getSeed())]) {
        expect(() => new NatsTransport({ nkeySeed: bad }), bad).to.throw().with.property('code', 'SB_ERR_OPTIONS_INVALID');
        try { new NatsTransport({ nkeySeed: bad }); } catch (e) { expect((e as { details?: { field?: string } }).details?.field).to.equal('nkeySeed'); }
      }
    });
  });

  describe('creds (operator/JWT)', () => {
    const operator = nk.createOperator();
    const account = nk.createAccount();
    const user = nk.createUser();
    let server: ConfiguredServer;
    before(async () => {
      const operatorJwt = natsJwt(operator, operator.getPublicKey(), 'test-operator', { type: 'operator' });
      const accountJwt = natsJwt(operator, account.getPublicKey(), 'test-account', {
        type: 'account', limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
      });
      writeFileSync(join(dir, 'operator.jwt'), operatorJwt);
      server = await ConfiguredServer.start(dir, `operator: "${join(dir, 'operator.jwt')}"\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: "${accountJwt}"\n}`);
    });
    after(async () => { await server?.stop(); });

    const userCreds = (signer: KeyPair) => credsFile(
      natsJwt(signer, user.getPublicKey(), 'test-user', { type: 'user', pub: {}, sub: {}, subs: -1, data: -1, payload: -1 }),
      td.decode(user.getSeed()),
    );

    it('nats creds - a user JWT signed by the account connects and a round trip works', async () => {
      const env = await roundTrip({ servers: server.url, creds: userCreds(account) });
      expect(td.decode(env.data as Uint8Array)).to.equal('hi');
    });

    it('nats creds - a user JWT signed by an unknown account is a TransportAuthError', async () => {
      const err = await connectError({ servers: server.url, creds: userCreds(nk.createAccount()) });
      expect(err?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
    });

    it('nats creds - contents that are not a creds file are an OptionsInvalidError naming creds', () => {
      for (const bad of ['', 'just some text', '-----BEGIN NATS USER JWT-----\nabc\n------END NATS USER JWT------\n']) {
        let err: { code?: string; details?: { field?: string } } | undefined;
        try { new NatsTransport({ creds: bad }); } catch (e) { err = e as typeof err; }
        expect(err?.code, JSON.stringify(bad)).to.equal('SB_ERR_OPTIONS_INVALID');
        expect(err?.details?.field).to.equal('creds');
      }
    });
  });
});
