import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import amqp from 'amqplib';
import {
  createEnvelope, transportFromUrl, TransportAuthError, TransportConnectError, type Envelope, type SignalbusError,
} from '../../core/index.js';
import { AmqpTransport, type AmqpTransportOptions } from '../../transports/amqp/index.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import {
  makeForeignCertificates, makeTestCertificates, requireOpenssl, type ForeignCertificates, type TestCertificates,
} from '../helpers/tls-certs.js';
import { OwnRabbitNode, RABBITMQ_SERVER } from '../helpers/own-rabbitmq-node.js';

const td = new TextDecoder();
const te = new TextEncoder();

/** The socket under amqplib's connection (amqplib does not type it). */
const socketOf = (t: AmqpTransport) => (t.currentModel() as unknown as { connection: { stream: TLSSocket } }).connection.stream;

/** Subscribes with a group, publishes `count` events and resolves with what arrived, in order. */
async function roundTrip(t: AmqpTransport, subject: string, count: number): Promise<Envelope[]> {
  const received: Envelope[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => { done = r; });
  const sub = await t.subscribe(subject, async (m) => {
    received.push(m.envelope);
    await m.ack();
    if (received.length === count) done();
  }, { group: `tls-${randomUUID().slice(0, 6)}`, maxInFlight: 50 });
  for (let i = 0; i < count; i++) {
    await t.publish(subject, createEnvelope({ type: 'tls.hello', source: 'amqp-tls-test', data: te.encode(`m${i}`), datacontenttype: 'text/plain' }));
  }
  await Promise.race([all, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`only ${received.length}/${count} arrived in 5 s`)), 5000))]);
  await sub.unsubscribe();
  return received;
}

/** The error the first connect fails with, or null when it connects. */
async function connectError(options: AmqpTransportOptions): Promise<SignalbusError | null> {
  const t = new AmqpTransport({ connectTimeoutMs: 5000, ...options });
  const err = await t.connect().then(() => null, (e: SignalbusError) => e);
  await t.close();
  return err;
}

describe('amqp TLS (amqps://) against an own RabbitMQ node', function () {
  this.timeout(20_000);
  let dir: string | undefined;
  let certs: TestCertificates;
  /** A client certificate signed by a CA the brokers do not know. */
  let stranger: ForeignCertificates;
  /** TLS, verifies a client certificate when one is sent, does not require one. */
  let serverAuth: OwnRabbitNode | undefined;
  /** TLS that requires a client certificate signed by the CA (mutual TLS). */
  let mutual: OwnRabbitNode | undefined;
  const exchange = `sbtls-${randomUUID().slice(0, 8)}`;

  before(async function () {
    this.timeout(45_000);
    requireOpenssl(this);
    if (!existsSync(RABBITMQ_SERVER)) missingPrerequisite(this, `${RABBITMQ_SERVER} is missing (these cases start their own RabbitMQ node)`);
    dir = mkdtempSync(join(tmpdir(), 'signalbus-amqp-tls-'));
    certs = makeTestCertificates(dir, { caName: 'signalbus amqp test CA', serverAltNames: ['IP:127.0.0.1', 'DNS:localhost'] });
    stranger = makeForeignCertificates(join(dir, 'stranger'), 'stranger CA');
    const ssl = (requireClientCert: boolean) => [
      `ssl_options.cacertfile = ${certs.ca}`, `ssl_options.certfile = ${certs.serverCert}`, `ssl_options.keyfile = ${certs.serverKey}`,
      'ssl_options.verify = verify_peer', `ssl_options.fail_if_no_peer_cert = ${requireClientCert}`,
    ];
    // Both at once: a node takes ~5 s to boot here. If one fails, the other must not be left running.
    const started = await Promise.allSettled([
      OwnRabbitNode.start({ tls: true, config: ssl(false) }),
      OwnRabbitNode.start({ tls: true, config: ssl(true) }),
    ]);
    if (started[0].status === 'fulfilled') serverAuth = started[0].value;
    if (started[1].status === 'fulfilled') mutual = started[1].value;
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  });

  after(async function () {
    this.timeout(30_000);
    await Promise.all([serverAuth?.stop(), mutual?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (!serverAuth && !mutual) return;
    // Our nodes are gone and the machine's node (its own name, AMQP on 5672) is untouched.
    const names = OwnRabbitNode.registeredNames();
    for (const node of [serverAuth, mutual]) if (node) expect(names).to.not.include(node.nodeName.split('@')[0]);
    const machine = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    await machine.close();
  });

  it('amqps - an event reaches a subscriber through TLS, CA from the URL, durable mode with confirms', async () => {
    const url = `amqps://guest:guest@127.0.0.1:${serverAuth!.port}/?durable=1&exchange=${exchange}&caFile=${encodeURIComponent(certs.ca)}`;
    const t = await transportFromUrl(url) as AmqpTransport;
    try {
      expect(t).to.be.instanceOf(AmqpTransport);
      expect(t.durable).to.equal(true);
      await t.connect();
      const socket = socketOf(t);
      expect(socket.encrypted, 'the connection is TLS').to.equal(true);
      expect(socket.authorized, 'the broker certificate was verified').to.equal(true);
      expect(socket.getPeerCertificate().subject.CN).to.equal('server');
      const got = await roundTrip(t, 'secure.reading', 20);
      expect(got.map((e) => td.decode(e.data as Uint8Array))).to.deep.equal(Array.from({ length: 20 }, (_, i) => `m${i}`));
      expect(got[0]!.source).to.equal('amqp-tls-test');
    } finally {
      await t.close();
    }
  });

  it('amqps - a host name in the certificate works too (localhost, CA as a tls option)', async () => {
    const t = new AmqpTransport({ url: `amqps://guest:guest@localhost:${serverAuth!.port}`, exchange, tls: { ca: readFileSync(certs.ca) } });
    try {
      await t.connect();
      expect(socketOf(t).authorized).to.equal(true);
      expect(await roundTrip(t, 'secure.byname', 1)).to.have.length(1);
    } finally {
      await t.close();
    }
  });

  it('amqps - without the CA the broker certificate is refused: a TransportConnectError with the TLS code', async () => {
    const err = await connectError({ url: `amqps://guest:guest@127.0.0.1:${serverAuth!.port}`, exchange });
    expect(err).to.be.instanceOf(TransportConnectError);
    expect(err!.code).to.equal('SB_ERR_TRANSPORT_CONNECT');
    expect(err!.details?.tlsCode).to.equal('SELF_SIGNED_CERT_IN_CHAIN');
    expect(err!.message).to.not.include('guest:guest');
  });

  it('amqps - a certificate that does not name the host is refused even with the CA', async () => {
    const err = await connectError({ url: `amqps://guest:guest@127.0.0.1:${serverAuth!.port}`, exchange, tls: { caFile: certs.ca, servername: 'broker.example' } });
    expect(err).to.be.instanceOf(TransportConnectError);
    expect(err!.details?.tlsCode).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('amqps - to a plain AMQP port (the machine broker on 5672) is a TransportConnectError with the TLS code', async () => {
    const err = await connectError({ url: 'amqps://guest:guest@127.0.0.1:5672', exchange, tls: { caFile: certs.ca } });
    expect(err).to.be.instanceOf(TransportConnectError);
    expect(err!.details?.tlsCode).to.equal('ERR_SSL_WRONG_VERSION_NUMBER');
  });

  it('amqps - a wrong password over TLS is a TransportAuthError naming the user (and not showing the password)', async () => {
    const err = await connectError({ url: `amqps://guest:not-the-password@127.0.0.1:${serverAuth!.port}`, exchange, tls: { caFile: certs.ca } });
    expect(err).to.be.instanceOf(TransportAuthError);
    expect(err!.code).to.equal('SB_ERR_TRANSPORT_AUTH');
    expect(err!.details?.user).to.equal('guest');
    expect(err!.message).to.not.include('not-the-password');
    expect(JSON.stringify(err!.details)).to.not.include('not-the-password');
  });

  it('amqps mutual TLS - a broker that requires a client certificate refuses a client without one, with the TLS code', async () => {
    const err = await connectError({ url: `amqps://guest:guest@127.0.0.1:${mutual!.port}`, exchange, tls: { caFile: certs.ca } });
    expect(err).to.be.instanceOf(TransportConnectError);
    expect(err!.details?.tlsCode).to.match(/CERTIFICATE_REQUIRED/);
  });

  it('amqps mutual TLS - a client certificate the CA did not sign is refused, with the TLS code', async () => {
    const err = await connectError({
      url: `amqps://guest:guest@127.0.0.1:${mutual!.port}`, exchange, tls: { caFile: certs.ca, certFile: stranger.clientCert, keyFile: stranger.clientKey },
    });
    expect(err).to.be.instanceOf(TransportConnectError);
    expect(err!.details?.tlsCode).to.match(/^ERR_SSL_.*(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN)/);
  });

  it('amqps mutual TLS - with certFile and keyFile an event reaches a subscriber', async () => {
    const t = new AmqpTransport({ url: `amqps://guest:guest@127.0.0.1:${mutual!.port}`, exchange, durable: true, tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } });
    try {
      await t.connect();
      expect(socketOf(t).authorized).to.equal(true);
      const got = await roundTrip(t, 'secure.mutual', 5);
      expect(got.map((e) => td.decode(e.data as Uint8Array))).to.deep.equal(['m0', 'm1', 'm2', 'm3', 'm4']);
    } finally {
      await t.close();
    }
  });
});
