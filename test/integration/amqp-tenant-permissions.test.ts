import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { Bus, TransportPermissionError, type Envelope } from '../../core/index.js';
import { AmqpTransport } from '../../transports/amqp/index.js';
import { missingPrerequisite, requireBroker } from '../helpers/brokers.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

const RABBITMQCTL = '/usr/sbin/rabbitmqctl';
const run = promisify(execFile);
const ctl = (...args: string[]) => run(RABBITMQCTL, args, { timeout: 30_000 });

/**
 * RabbitMQ topic permissions (SECURITY.md): each tenant's user may publish only under its own
 * prefix on the exchange, and bind only its own subjects and the dead letters. The users are made
 * with rabbitmqctl for this suite and deleted after it; the shared broker is never restarted.
 */
describe('amqp - tenant subject spaces under RabbitMQ topic permissions', function () {
  this.timeout(60_000);
  const tag = randomUUID().slice(0, 8);
  const exchange = `sbperm-${tag}`;
  const users = ['acme', 'globex'].map((t) => ({ tenant: t, name: `sbperm-${t}-${tag}`, password: `${t}-secret` }));
  const transports: AmqpTransport[] = [];
  const buses: Bus[] = [];

  before(async function () {
    await requireBroker(this, 'rabbitmq');
    if (!existsSync(RABBITMQCTL)) missingPrerequisite(this, `${RABBITMQCTL} is missing (this suite makes RabbitMQ users with topic permissions)`);
    for (const u of users) {
      await ctl('add_user', u.name, u.password);
      // Objects: this suite's exchanges and queues only; topics: as SECURITY.md says, its own prefix and its own dead letters.
      const objects = `^(${exchange}.*|amq\\.gen.*)$`;
      await ctl('set_permissions', '-p', '/', u.name, objects, objects, objects);
      const own = `^(dlq\\.)?${u.tenant}\\.`;
      await ctl('set_topic_permissions', '-p', '/', u.name, exchange, own, own);
    }
  });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });
  after(async () => {
    const admin = new AmqpTransport({ url: 'amqp://guest:guest@127.0.0.1:5672', exchange });
    await admin.connect();
    await admin.deleteTopology().catch(() => {});
    await admin.close();
    for (const u of users) await ctl('delete_user', u.name).catch(() => {});
  });

  const busOf = (tenant: string) => {
    // The dead-letter binding narrowed to the tenant's own: the default `dlq.#` is not the tenant's to bind.
    const transport = new AmqpTransport({
      url: `amqp://sbperm-${tenant}-${tag}:${tenant}-secret@127.0.0.1:5672`, exchange, durable: true, deadLetterBinding: `dlq.${tenant}.#`, logger: silentLogger,
    });
    transports.push(transport);
    const bus = new Bus({ service: `${tenant}-${buses.length}@test`, transport, metrics: false, logger: silentLogger, tenantSubjects: {} });
    buses.push(bus);
    return bus;
  };

  it('amqp tenants - a publish into the other\'s space is refused with TransportPermissionError, once, while its own publishes around it arrive', async () => {
    const acme = busOf('acme');
    const globex = busOf('globex');
    const got: Envelope[] = [];
    await globex.subscribe('globex.orders', (m) => { got.push(m); });
    await acme.start();
    // The refused publish closes the channel: the publishes in flight with it must still arrive (re-sent), not fail with it.
    const before = acme.publish('acme.audit', 'before', { headers: { tenant: 'acme' } });
    const refused = acme.publish('globex.orders', 'forged', { headers: { tenant: 'globex' } }).then(() => undefined, (e: unknown) => e);
    const after = acme.publish('acme.audit', 'after', { headers: { tenant: 'acme' } });
    const err = await refused;
    expect(err).to.be.instanceOf(TransportPermissionError);
    expect((err as TransportPermissionError).details).to.include({ operation: 'publishing to', subject: 'globex.orders', resource: 'topic' });
    await Promise.all([before, after]);
    await globex.publish('globex.orders', 'own', { headers: { tenant: 'globex' } });
    await waitFor(() => got.length >= 1, { what: 'globex receives its own order' });
    expect(got.map((m) => m.data)).to.deep.equal(['own']);
  });

  it('amqp tenants - a subscription reaching into the other\'s space is refused with TransportPermissionError', async () => {
    const acme = busOf('acme');
    const err = await acme.subscribe('globex.>', () => {}).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransportPermissionError);
    expect((err as TransportPermissionError).code).to.equal('SB_ERR_TRANSPORT_PERMISSION');
    expect((err as TransportPermissionError).details).to.include({ operation: 'subscribing to', subject: 'globex.>' });
    // The transport stays usable: its own space still works.
    const got: unknown[] = [];
    await acme.subscribe('acme.orders', (m) => { got.push(m.data); });
    await acme.publish('acme.orders', 1, { headers: { tenant: 'acme' } });
    await waitFor(() => got.length === 1, { what: 'acme\'s own order' });
  });

  it('amqp tenants - the default dead-letter binding (dlq.#) is refused at connect with TransportPermissionError naming it, not as wrong credentials', async () => {
    const transport = new AmqpTransport({ url: `amqp://sbperm-acme-${tag}:acme-secret@127.0.0.1:5672`, exchange, logger: silentLogger });
    try {
      const err = await transport.connect().then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(TransportPermissionError);
      expect((err as Error).message).to.include("'dlq.#'");
    } finally {
      await transport.close();
    }
  });

  it('amqp tenants - a request into the other\'s space fails with TransportPermissionError at once, not a timeout', async () => {
    const acme = busOf('acme');
    await acme.start();
    const started = Date.now();
    const err = await acme.request('globex.quote', {}, { timeoutMs: 10_000, headers: { tenant: 'globex' } }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransportPermissionError);
    expect(Date.now() - started).to.be.below(5000);
  });
});
