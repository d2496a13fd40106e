import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { Bus, TransportPermissionError, type Envelope, type Logger } from '../../core/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import { NATS_SERVER_BINARY, NatsServerProcess } from '../helpers/nats-server-process.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Each tenant's broker user may publish and subscribe only in its own space (`<tenant>.>`, its
 * dead letters `dlq.<tenant>.>`), read replies only on its own inbox prefix, and answer requests
 * it received (`allow_responses`), as SECURITY.md recommends.
 */
const permissionsOf = (tenant: string) => `{
  user: ${tenant}, password: ${tenant}-secret,
  permissions: {
    publish: { allow: ["${tenant}.>", "dlq.${tenant}.>"] },
    subscribe: { allow: ["${tenant}.>", "dlq.${tenant}.>", "_INBOX.${tenant}.>"] },
    allow_responses: true
  }
}`;
const CONFIG = `authorization { users: [ ${permissionsOf('acme')}, ${permissionsOf('globex')} ] }`;

/** Keeps what a transport reports at error level. */
class RecordingLogger implements Logger {
  readonly errors: Array<{ msg: string; err?: unknown }> = [];
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(msg: string, fields?: Record<string, unknown>): void { this.errors.push({ msg, err: fields?.err }); }
  child(): Logger { return this; }
}

describe('nats - tenant subject spaces under broker permissions', function () {
  this.timeout(20_000);
  let server: NatsServerProcess;
  const buses: Bus[] = [];

  before(async function () {
    if (!existsSync(NATS_SERVER_BINARY)) missingPrerequisite(this, `${NATS_SERVER_BINARY} is missing (this suite starts its own nats-server with users and permissions)`);
    server = await NatsServerProcess.start({ config: CONFIG });
  });
  after(async () => { await server?.stop(); });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  /** A Bus signed in as `tenant`'s broker user; `tenantSubjects` unless it plays an unchecked client. */
  const busOf = (tenant: string, options: { checked?: boolean; logger?: Logger } = {}) => {
    const transport = new NatsTransport({
      servers: server.url, user: tenant, pass: `${tenant}-secret`, inboxPrefix: `_INBOX.${tenant}`,
      reconnect: { maxAttempts: 0 }, logger: options.logger ?? silentLogger,
    });
    const bus = new Bus({
      service: `${tenant}-${buses.length}@test`, transport, metrics: false, logger: silentLogger, requestTimeoutMs: 10_000,
      ...(options.checked === false ? {} : { tenantSubjects: {} }),
    });
    buses.push(bus);
    return bus;
  };

  it('nats tenants - a publish inside the own space is received there', async () => {
    const acmeService = busOf('acme');
    const acmeClient = busOf('acme');
    const got: Envelope[] = [];
    await acmeService.subscribe('acme.orders', (m) => { got.push(m); });
    await acmeClient.publish('acme.orders', { n: 1 }, { headers: { tenant: 'acme' } });
    await waitFor(() => got.length === 1, { what: 'acme receives its own order' });
    expect(got[0]!.tenant).to.equal('acme');
    expect(got[0]!.data).to.deep.equal({ n: 1 });
    // And a request inside the space is answered (the reply goes back through allow_responses).
    await acmeService.subscribe('acme.ask', () => 'yes');
    expect((await acmeClient.request('acme.ask', {}, { headers: { tenant: 'acme' } })).data).to.equal('yes');
  });

  it('nats tenants - one tenant cannot subscribe to the other\'s space', async () => {
    const acme = busOf('acme');
    for (const pattern of ['globex.orders', 'globex.>', '>']) {
      const err = await acme.subscribe(pattern, () => {}).then(() => undefined, (e: unknown) => e);
      expect(err, pattern).to.be.instanceOf(TransportPermissionError);
      expect((err as TransportPermissionError).code).to.equal('SB_ERR_TRANSPORT_PERMISSION');
      expect((err as TransportPermissionError).details).to.include({ operation: 'subscribe', subject: pattern });
    }
    // The refusals do not harm the connection: its own space still works.
    const got: unknown[] = [];
    await acme.subscribe('acme.after', (m) => { got.push(m.data); });
    await acme.publish('acme.after', 1, { headers: { tenant: 'acme' } });
    await waitFor(() => got.length === 1, { what: 'acme still receives in its own space' });
  });

  it('nats tenants - one tenant cannot publish into the other\'s space: the refusal is reported and nothing arrives', async () => {
    const globex = busOf('globex');
    const got: unknown[] = [];
    await globex.subscribe('globex.orders', (m) => { got.push(m.data); });
    const logger = new RecordingLogger();
    const acme = busOf('acme', { logger });
    // The Bus' own check passes (tenant and subject agree); the broker is what stops acme.
    await acme.publish('globex.orders', 'forged', { headers: { tenant: 'globex' } });
    await waitFor(() => logger.errors.length > 0, { what: 'the refusal reported by the transport' });
    const reported = logger.errors[0]!.err as TransportPermissionError;
    expect(reported).to.be.instanceOf(TransportPermissionError);
    expect(reported.details).to.include({ operation: 'publish', subject: 'globex.orders' });
    // The server refused acme's publish before it answered the refusal, so had it been routed it
    // would be in globex's connection ahead of the marker globex publishes now.
    await globex.publish('globex.orders', 'marker', { headers: { tenant: 'globex' } });
    await waitFor(() => got.length >= 1, { what: 'the marker' });
    expect(got).to.deep.equal(['marker']);
    // A request into globex's space fails at once with the refusal, not after its 10 s timeout.
    await globex.subscribe('globex.ask', () => 'leaked');
    const started = Date.now();
    const err = await acme.request('globex.ask', {}, { headers: { tenant: 'globex' } }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransportPermissionError);
    expect(Date.now() - started).to.be.below(5000);
  });

  it('nats tenants - a reply inbox outside the tenant\'s permissions fails requests at once with TransportPermissionError', async () => {
    const service = busOf('acme');
    await service.subscribe('acme.ask', () => 'yes');
    // The default inbox prefix `_INBOX` is not acme's to read; `_INBOX.acme` is.
    const transport = new NatsTransport({ servers: server.url, user: 'acme', pass: 'acme-secret', reconnect: { maxAttempts: 0 }, logger: silentLogger });
    const client = new Bus({ service: 'acme-default-inbox@test', transport, metrics: false, logger: silentLogger, requestTimeoutMs: 10_000 });
    buses.push(client);
    const started = Date.now();
    const err = await client.request('acme.ask', {}, { headers: { tenant: 'acme' } }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransportPermissionError);
    expect(Date.now() - started).to.be.below(5000);
  });

  it('nats tenants - a tenant claimed inside another\'s space is dead-lettered by the checking Bus, never handled', async () => {
    const acmeService = busOf('acme');
    const handled: unknown[] = [];
    await acmeService.subscribe('acme.orders', (m) => { handled.push(m.data); });
    const dead: Envelope[] = [];
    await busOf('acme').subscribe('dlq.acme.>', (m) => { dead.push(m); });
    // A client holding acme's credentials may publish in acme's space, but claiming globex there is caught.
    const client = busOf('acme', { checked: false });
    await client.publish('acme.orders', 'claims globex', { headers: { tenant: 'globex' } });
    await client.publish('acme.orders', 'honest', { headers: { tenant: 'acme' } });
    await waitFor(() => handled.length === 1 && dead.length === 1, { what: 'one handled, one dead-lettered' });
    expect(handled).to.deep.equal(['honest']);
    expect(dead[0]!.dlqreason).to.equal('SB_ERR_TENANT_MISMATCH');
    expect(dead[0]!.tenant).to.equal('acme');
    expect(dead[0]!.dlqtenant).to.equal('globex');
    expect(dead[0]!.data).to.equal('claims globex');
  });
});
